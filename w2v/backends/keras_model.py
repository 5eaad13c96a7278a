"""The keras backend's model: a keras.Model whose training step uses the closed-form
gradients of w2v/heads.py (skip-gram or CBOW; negative sampling and/or hierarchical
softmax), handed to the optimizer as sparse rows.

>>> model = Word2VecModel(vocab_size=len(vocab), dim=100, seed=1)    # skip-gram, 5 negatives
>>> model.compile(optimizer=SparseSGD(LinearDecay(0.025, 0.0001, total_steps)))
>>> model.fit(dataset_of_examples, epochs=5, steps_per_epoch=steps)

An example batch is one (B, W) int32 tensor (w2v.batches.ExampleBatches.example_width):
skip-gram rows [center, context, K negatives], CBOW rows [center, 2·window context slots
(−1 where none), K negatives]. No GradientTape runs in training: `train_step` gathers the
rows the batch touches, calls w2v.heads for the loss and its derivatives, and hands the
optimizer `tf.IndexedSlices` gradients, so only those rows are ever written. With
hierarchical softmax the model holds the Huffman tree (each word's padded path) and the
output table has the tree's V − 1 inner nodes after the V words' rows.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from w2v import heads, sgns
from w2v.optimizers.base import merge_rows


DROP, MARK, ZERO = "drop", "mark", "zero"  # how a step sends padding rows: padding_for


def _rows(gradients) -> tf.Tensor:
    """Rows a list of tf.IndexedSlices holds, as float32 (a metric's input)."""
    return tf.cast(sum(tf.size(g.indices) for g in gradients), tf.float32)


@keras.saving.register_keras_serializable(package="w2v")
class Word2VecModel(keras.Model):
    """Input (V, d) and output (V, or V + V − 1 with a tree, d) float32 tables.

    Initialised as word2vec does: input vectors uniform in ±0.5/dim, output vectors zero.
    cbow: CBOW (the mean, or with cbow_mean off the sum, of the context rows predicts the
    center) instead of skip-gram (the center's row predicts the context); negative: noise
    words per example (0: none); tree: w2v.vocab.HuffmanTree for hierarchical softmax, or
    None. `call(examples)` returns the (B, T) logits of the examples' targets.
    """

    def __init__(self, vocab_size: int, dim: int, seed: int = 1, cbow: bool = False,
                 cbow_mean: bool = True, negative: int = 5, tree=None, window: int = 5,
                 **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.dim, self.seed = int(vocab_size), int(dim), int(seed)
        self.cbow, self.cbow_mean, self.negative = bool(cbow), bool(cbow_mean), int(negative)
        self.window = int(window)
        bound = 0.5 / self.dim
        self.input_vectors = self.add_weight(
            shape=(self.vocab_size, self.dim), name="input_vectors",
            initializer=keras.initializers.RandomUniform(-bound, bound, seed=self.seed))
        self.tree = tree
        output_rows = self.vocab_size + (self.vocab_size - 1 if tree is not None else 0)
        self.output_vectors = self.add_weight(
            shape=(output_rows, self.dim), name="output_vectors", initializer="zeros")
        if tree is not None:  # (V, L) paths, padded: points (as output rows), labels, mask
            points, codes, mask = tree.padded()
            self.tree_rows = tf.constant(points + self.vocab_size, tf.int32)
            self.tree_labels = tf.constant(1.0 - codes.astype(np.float32))
            self.tree_mask = tf.constant(mask)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        # under a strategy with several replicas: rows each replica sends per step, as
        # the step made them and after merging duplicates (w2v.scaleout.tf_distribute)
        self.rows_tracker = keras.metrics.Mean(name="rows")
        self.unmerged_rows_tracker = keras.metrics.Mean(name="unmerged_rows")
        self.built = True  # every weight exists now: saving (ModelCheckpoint) needs no call first

    @property
    def plain(self) -> bool:
        """Skip-gram with negative sampling alone: every example has the same targets'
        shape and no padding, the fast path (XLA-compilable)."""
        return not self.cbow and self.tree is None

    def padding_for(self, optimizer, distributed: bool = False) -> str:
        """How a step sends `optimizer` its padding rows (CBOW's empty slots, short tree
        paths): MARK, as index −1 with zero values, to an optimizer that buffers steps in
        fixed shapes and drops them itself (SoftBatch: `static_rows`); ZERO, as row 0 with
        zero values, to one that a zero row leaves unchanged (plain SGD:
        `zero_rows_change_nothing`; not under a strategy, whose all-reduce would carry
        them); else DROP, left out (a dynamic shape)."""
        if getattr(optimizer, "static_rows", False):
            return MARK
        if getattr(optimizer, "zero_rows_change_nothing", False) and not distributed:
            return ZERO
        return DROP

    def compiles_with(self, optimizer) -> bool:
        """Whether XLA can compile the step for `optimizer` (which must compile too): every
        shape is static unless padding is dropped. Skip-gram with negatives has none."""
        return self.plain or self.padding_for(optimizer) != DROP

    def parts(self, examples):
        """The batch as (input ids (B, C), input mask (B, C), target ids (B, T), labels
        (B, T), target mask (B, T)): C = 1 (skip-gram) or 2·window (CBOW); T = 1 + K noise
        targets and/or the L nodes of a tree's paths."""
        examples = tf.convert_to_tensor(examples, dtype=tf.int32)
        batch = tf.shape(examples)[0]
        if self.cbow:
            slots = examples[:, 1:1 + 2 * self.window]
            input_mask = tf.cast(slots >= 0, tf.float32)
            input_ids = tf.maximum(slots, 0)
            word = examples[:, 0]
            noise = examples[:, 1 + 2 * self.window:]
        else:
            input_ids, input_mask = examples[:, :1], tf.ones([batch, 1])
            word, noise = examples[:, 1], examples[:, 2:]
        ids, labels, masks = [], [], []
        if self.negative > 0:
            ids.append(tf.concat([word[:, None], noise], axis=1))
            y = heads.negative_sampling_labels(1 + self.negative)
            labels.append(tf.broadcast_to(y, [batch, 1 + self.negative]))
            masks.append(tf.ones([batch, 1 + self.negative]))
        if self.tree is not None:
            ids.append(tf.gather(self.tree_rows, word))
            labels.append(tf.gather(self.tree_labels, word))
            masks.append(tf.gather(self.tree_mask, word))
        return (input_ids, input_mask, tf.concat(ids, 1), tf.concat(labels, 1),
                tf.concat(masks, 1))

    def loss_and_gradients(self, input_rows, input_mask, target_rows, labels, target_mask):
        """(loss (B,), per input slot gradient (B, C, d), per target gradient (B, T, d)) for
        gathered rows: w2v.heads; a CBOW context row gets word2vec.c's step (∂loss/∂h)."""
        if self.cbow:
            h = heads.cbow_input(input_rows, input_mask, self.cbow_mean)
        else:
            h = input_rows[:, 0]
        loss, grad_h, grad_targets = heads.binary_loss_and_gradients(h, target_rows, labels,
                                                                     target_mask)
        grad_inputs = (heads.cbow_context_step(grad_h, input_mask) if self.cbow
                       else grad_h[:, None, :])
        return loss, grad_inputs, grad_targets

    def gather(self, examples):
        """Skip-gram with negative sampling: the rows a batch touches, input (B, d) of the
        centers and output (B, 1 + K, d)."""
        examples = tf.convert_to_tensor(examples, dtype=tf.int32)
        # .value is the tf.Variable itself: gathering from it reads only the rows asked
        # for, where gathering from the Keras wrapper first copies the whole table.
        return (tf.gather(self.input_vectors.value, examples[:, 0]),
                tf.gather(self.output_vectors.value, examples[:, 1:]))

    def call(self, examples):
        if self.plain:
            return sgns.scores(*self.gather(examples))
        input_ids, input_mask, target_ids, _, _ = self.parts(examples)
        rows = tf.gather(self.input_vectors.value, input_ids)
        h = (heads.cbow_input(rows, input_mask, self.cbow_mean) if self.cbow else rows[:, 0])
        return heads.scores(h, tf.gather(self.output_vectors.value, target_ids))

    def sparse_gradients(self, examples, padding: str = DROP):
        """(per-example loss (B,), [IndexedSlices for input_vectors, for output_vectors]);
        padding (CBOW's empty slots, short tree paths) left out (DROP), or every slot kept
        with padding as index −1 (MARK) or as row 0 (ZERO), with zero values: see
        `padding_for`."""
        examples = tf.convert_to_tensor(examples, dtype=tf.int32)
        if self.plain:
            input_rows, target_rows = self.gather(examples)
            loss, grad_input, grad_targets = sgns.loss_and_gradients(input_rows, target_rows)
            return loss, [self._slices(self.input_vectors, grad_input, examples[:, 0]),
                          self._slices(self.output_vectors, grad_targets, examples[:, 1:])]
        input_ids, input_mask, target_ids, labels, target_mask = self.parts(examples)
        loss, grad_inputs, grad_targets = self.loss_and_gradients(
            tf.gather(self.input_vectors.value, input_ids), input_mask,
            tf.gather(self.output_vectors.value, target_ids), labels, target_mask)
        return loss, [
            self._slices(self.input_vectors, grad_inputs, input_ids, input_mask, padding),
            self._slices(self.output_vectors, grad_targets, target_ids, target_mask, padding)]

    def _slices(self, table, values, ids, mask=None, padding=DROP):
        """tf.IndexedSlices of (..., d) `values` at rows `ids` of `table`, the entries where
        `mask` is 0 sent as `padding` says (sparse_gradients)."""
        values, ids = tf.reshape(values, [-1, self.dim]), tf.reshape(ids, [-1])
        if mask is not None:
            keep = tf.reshape(mask, [-1]) > 0
            if padding == DROP:
                values, ids = tf.boolean_mask(values, keep), tf.boolean_mask(ids, keep)
            else:
                values = tf.where(keep[:, None], values, 0.0)
                ids = tf.where(keep, ids, -1 if padding == MARK else 0)
        return tf.IndexedSlices(values, ids, tf.shape(table.value, tf.int64))

    @property
    def tables(self):
        """[input_vectors, output_vectors]: the variables a step updates, in this order."""
        return [self.input_vectors, self.output_vectors]

    def row_problem(self, examples):
        """The batch as a small dense problem over the rows it touches.

        Returns ([input rows (n_in,), output rows (n_out,)] int32 unique indices, and
        gradient_fn([p_in (n_in, d), p_out (n_out, d)]) -> (loss (B,), [g_in, g_out]) with
        each row's gradient summed over its occurrences). Multi-stage optimizers call
        gradient_fn at staged parameters without touching the tables. (Padding slots point
        at a real row with a zero gradient: the row is staged and written back unchanged.)
        """
        input_ids, input_mask, target_ids, labels, target_mask = self.parts(examples)
        in_rows, in_local = tf.unique(tf.reshape(input_ids, [-1]))
        out_rows, out_local = tf.unique(tf.reshape(target_ids, [-1]))
        in_local = tf.reshape(in_local, tf.shape(input_ids))
        out_local = tf.reshape(out_local, tf.shape(target_ids))

        def gradient_fn(params):
            p_in, p_out = params
            loss, g_in, g_out = self.loss_and_gradients(
                tf.gather(p_in, in_local), input_mask, tf.gather(p_out, out_local), labels,
                target_mask)
            g_in = tf.math.unsorted_segment_sum(tf.reshape(g_in, [-1, self.dim]),
                                                tf.reshape(in_local, [-1]), tf.shape(in_rows)[0])
            g_out = tf.math.unsorted_segment_sum(tf.reshape(g_out, [-1, self.dim]),
                                                 tf.reshape(out_local, [-1]),
                                                 tf.shape(out_rows)[0])
            return loss, [g_in, g_out]

        return [in_rows, out_rows], gradient_fn

    def example_loss(self, examples):
        """(B,) loss of each example at the tables as they are (soft batch reports it)."""
        input_ids, input_mask, target_ids, labels, target_mask = self.parts(examples)
        loss, _, _ = self.loss_and_gradients(
            tf.gather(self.input_vectors.value, input_ids), input_mask,
            tf.gather(self.output_vectors.value, target_ids), labels, target_mask)
        return loss

    def train_step(self, examples):
        """One step on a (B, W) batch, or S steps one after another on a (S, B, W) block of
        batches. The keras backend hands it a span's batches as one block: in-graph, as one
        XLA loop, the steps then cost one call instead of S (Keras's steps_per_execution
        makes one compiled call per step)."""
        if len(examples.shape) == 2:
            return self._one_step(examples)

        def body(i):
            self._one_step(examples[i])
            return (i + 1,)

        tf.while_loop(lambda i: i < tf.shape(examples)[0], body, (tf.constant(0),))
        return {"loss": self.loss_tracker.result()}

    def _one_step(self, examples):
        replicas = tf.distribute.get_replica_context()
        distributed = replicas is not None and replicas.num_replicas_in_sync > 1
        if getattr(self.optimizer, "wants_examples", False):
            loss = self.optimizer.apply_examples(self, examples)  # multi-stage: see runge_kutta
        else:
            loss, grads = self.sparse_gradients(
                examples, self.padding_for(self.optimizer, distributed))
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
                "cbow": self.cbow, "cbow_mean": self.cbow_mean, "negative": self.negative,
                "window": self.window, "name": self.name}


SkipGram = Word2VecModel  # the default configuration, skip-gram with negative sampling
