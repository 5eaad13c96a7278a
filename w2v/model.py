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

    def train_step(self, examples):
        loss, grads = self.sparse_gradients(examples)
        self.optimizer.apply(grads, [self.input_vectors, self.output_vectors])
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    @property
    def metrics(self):
        return [self.loss_tracker]

    def get_config(self):
        return {"vocab_size": self.vocab_size, "dim": self.dim, "seed": self.seed,
                "name": self.name}
