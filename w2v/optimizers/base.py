"""The base of w2v's Keras optimizers: sparse gradients stay sparse.

A gradient that arrives as `tf.IndexedSlices` (rows + their indices) is applied with
`assign_sub`, which here is a bare `scatter_sub`: only the rows a batch touches are
written, and a row listed several times receives the sum of its entries.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def scale(gradient, factor):
    """gradient · factor, keeping a tf.IndexedSlices sparse (ops.multiply would densify it)."""
    if isinstance(gradient, tf.IndexedSlices):
        return tf.IndexedSlices(gradient.values * factor, gradient.indices, gradient.dense_shape)
    return gradient * factor


class SparseOptimizer(keras.optimizers.Optimizer):
    """Base of our optimizers: `assign_sub`/`assign_add` of a tf.IndexedSlices is a bare scatter.

    Keras hands an IndexedSlices to `tf.Variable.scatter_sub`, which also returns the
    updated variable: inside a tf.function that read still runs, a copy of the whole
    (V, d) table every step (measured: 470 ms for V = 10^6, d = 100, against 18 ms for the
    scatter alone). The raw scatter op writes the rows and reads nothing back.
    """

    def assign_sub(self, variable, value):
        if isinstance(value, tf.IndexedSlices):
            tf.raw_ops.ResourceScatterSub(resource=resource_handle(variable), indices=value.indices,
                                          updates=value.values)
        else:
            super().assign_sub(variable, value)

    def assign_add(self, variable, value):
        if isinstance(value, tf.IndexedSlices):
            tf.raw_ops.ResourceScatterAdd(resource=resource_handle(variable), indices=value.indices,
                                          updates=value.values)
        else:
            super().assign_add(variable, value)

    def assign(self, variable, value):
        """Write rows: the indices of an IndexedSlices must be unique (see merge_rows)."""
        if isinstance(value, tf.IndexedSlices):
            tf.raw_ops.ResourceScatterUpdate(resource=resource_handle(variable), indices=value.indices,
                                             updates=value.values)
        else:
            super().assign(variable, value)

    # XLA compiles the step when every op has a static shape; merge_rows (tf.unique) has not.
    jit_compatible = True
    # whether a row sent with a zero gradient is left exactly as it is (plain SGD: w − 0);
    # an optimizer with per-row state would count the row as touched. Where it holds, a
    # wrapper may send padding as row 0 with zeros, keeping shapes static (SoftBatch).
    zero_rows_change_nothing = False


def merge_rows(gradient: tf.IndexedSlices) -> tf.IndexedSlices:
    """The same gradient with each row index once, its entries summed (unique + segment sum).

    Optimizers with per-row state (momentum, Adagrad) need this: a row listed twice must
    update its state once, with the sum.
    """
    rows, position = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, position, tf.shape(rows)[0])
    return tf.IndexedSlices(values, rows, gradient.dense_shape)


def resource_handle(variable):
    """The resource handle of a Keras variable or of the tf.Variable inside it."""
    return variable.handle
