"""SkipGram: a Keras model whose training step uses the closed-form SGNS gradients.

>>> model = SkipGram(vocab_size=len(vocab), dim=100, seed=1)
>>> model.compile(optimizer=SparseSGD(LinearDecay(0.025, 0.0001, total_steps)))
>>> model.fit(dataset_of_examples, epochs=5, steps_per_epoch=steps)

An example batch is one (B, 2 + K) int32 tensor, rows [center, context, K negatives].
No GradientTape runs in training: `train_step` gathers the rows the batch touches, calls
w2v.sgns for the loss and its derivatives, and hands the optimizer `tf.IndexedSlices`
gradients, so only those rows are ever written.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from w2v import sgns
from w2v.optimizers.base import merge_rows


def _rows(gradients) -> tf.Tensor:
    """Rows a list of tf.IndexedSlices holds, as float32 (a metric's input)."""
    return tf.cast(sum(tf.size(g.indices) for g in gradients), tf.float32)


@keras.saving.register_keras_serializable(package="w2v")
class SkipGram(keras.Model):
    """Input and output embedding tables, both (vocab_size, dim) float32.

    Initialised as word2vec does: input vectors uniform in ±0.5/dim, output vectors zero.
    `call(examples)` returns the (B, 1 + K) logits s = w_center · u_target.
    """

    def __init__(self, vocab_size: int, dim: int, seed: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.dim, self.seed = int(vocab_size), int(dim), int(seed)
        bound = 0.5 / self.dim
        self.input_vectors = self.add_weight(
            shape=(self.vocab_size, self.dim), name="input_vectors",
            initializer=keras.initializers.RandomUniform(-bound, bound, seed=self.seed))
        self.output_vectors = self.add_weight(
            shape=(self.vocab_size, self.dim), name="output_vectors", initializer="zeros")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        # under a strategy with several replicas: rows each replica sends per step, as
        # the step made them and after merging duplicates (w2v.distributed)
        self.rows_tracker = keras.metrics.Mean(name="rows")
        self.unmerged_rows_tracker = keras.metrics.Mean(name="unmerged_rows")
        self.built = True  # every weight exists now: saving (ModelCheckpoint) needs no call first

    def gather(self, examples):
        """Rows a batch touches: input (B, d) of the centers, output (B, 1 + K, d)."""
        examples = tf.convert_to_tensor(examples, dtype=tf.int32)
        # .value is the tf.Variable itself: gathering from it reads only the rows asked
        # for, where gathering from the Keras wrapper first copies the whole table.
        return (tf.gather(self.input_vectors.value, examples[:, 0]),
                tf.gather(self.output_vectors.value, examples[:, 1:]))

    def call(self, examples):
        return sgns.scores(*self.gather(examples))

    def sparse_gradients(self, examples):
        """(per-example loss (B,), [IndexedSlices for input_vectors, for output_vectors])."""
        examples = tf.convert_to_tensor(examples, dtype=tf.int32)
        input_rows, target_rows = self.gather(examples)
        loss, grad_input, grad_targets = sgns.loss_and_gradients(input_rows, target_rows)
        shape = tf.constant([self.vocab_size, self.dim], dtype=tf.int64)
        grads = [
            tf.IndexedSlices(grad_input, examples[:, 0], shape),
            tf.IndexedSlices(tf.reshape(grad_targets, [-1, self.dim]),
                             tf.reshape(examples[:, 1:], [-1]), shape),
        ]
        return loss, grads

    @property
    def tables(self):
        """[input_vectors, output_vectors]: the variables a step updates, in this order."""
        return [self.input_vectors, self.output_vectors]

    def row_problem(self, examples):
        """The batch as a small dense problem over the rows it touches.

        Returns ([input rows (n_in,), output rows (n_out,)] int32 unique indices, and
        gradient_fn([p_in (n_in, d), p_out (n_out, d)]) -> (loss (B,), [g_in, g_out]) with
        each row's gradient summed over its occurrences). Multi-stage optimizers call
        gradient_fn at staged parameters without touching the tables.
        """
        examples = tf.convert_to_tensor(examples, dtype=tf.int32)
        in_rows, in_local = tf.unique(examples[:, 0])
        out_rows, out_local = tf.unique(tf.reshape(examples[:, 1:], [-1]))
        out_local_2d = tf.reshape(out_local, tf.shape(examples[:, 1:]))

        def gradient_fn(params):
            p_in, p_out = params
            loss, g_w, g_u = sgns.loss_and_gradients(tf.gather(p_in, in_local),
                                                     tf.gather(p_out, out_local_2d))
            g_in = tf.math.unsorted_segment_sum(g_w, in_local, tf.shape(in_rows)[0])
            g_out = tf.math.unsorted_segment_sum(tf.reshape(g_u, [-1, self.dim]), out_local,
                                                 tf.shape(out_rows)[0])
            return loss, [g_in, g_out]

        return [in_rows, out_rows], gradient_fn

    def train_step(self, examples):
        replicas = tf.distribute.get_replica_context()
        distributed = replicas is not None and replicas.num_replicas_in_sync > 1
        if getattr(self.optimizer, "wants_examples", False):
            loss = self.optimizer.apply_examples(self, examples)  # multi-stage: see runge_kutta
        else:
            loss, grads = self.sparse_gradients(examples)
            if distributed:  # fewer rows on the wire: the all-reduce all-gathers them
                self.unmerged_rows_tracker.update_state(_rows(grads))
                grads = [merge_rows(g) for g in grads]
                self.rows_tracker.update_state(_rows(grads))
            self.optimizer.apply(grads, self.tables)
        self.loss_tracker.update_state(loss)
        if not distributed:
            return {"loss": self.loss_tracker.result()}
        # shape (1,): MultiWorkerMirroredStrategy's log reduction refuses scalars
        return {m.name: tf.reshape(m.result(), [1]) for m in self.metrics}

    @property
    def metrics(self):
        return [self.loss_tracker, self.rows_tracker, self.unmerged_rows_tracker]

    def get_config(self):
        return {"vocab_size": self.vocab_size, "dim": self.dim, "seed": self.seed,
                "name": self.name}
