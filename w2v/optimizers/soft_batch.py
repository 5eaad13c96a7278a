"""Soft batch: k steps' sparse gradients accumulated, applied as one update."""

from __future__ import annotations

import keras
import tensorflow as tf

from w2v.optimizers.base import SparseOptimizer, resource_handle


@keras.saving.register_keras_serializable(package="w2v")
class SoftBatch(SparseOptimizer):
    """Accumulate `steps_per_update` steps of sparse gradients, then apply them once.

    A large effective batch on a small device, in the spirit of optax.MultiSteps: wraps any
    of our optimizers. Each step's tf.IndexedSlices rows are copied into a buffer; on every
    k-th step the inner optimizer applies all k steps' rows as one gradient (repeated rows
    add up, or are merged by optimizers with per-row state). The inner optimizer's
    iteration count, and so its learning-rate schedule, advances once per update.

    Memory: k × (rows per step) × d floats per table: the rows touched in k batches, never
    a dense (V, d) accumulator (a dense gradient, which our models never produce, would get
    a dense buffer). With plain SGD, k steps of batch B equal one step on the concatenated
    k·B batch exactly: the gradients are all taken at the same parameters.

    Around plain SGD it compiles under XLA (`jit_compatible`): a step's padding rows go to
    the inner optimizer as row 0 with zero gradients rather than being dropped, so every
    shape is static.

    A multi-stage inner optimizer (Runge–Kutta) needs the gradient function, not gradients:
    then the k batches' examples are buffered (int32, tiny) and the inner optimizer steps
    once on their concatenation.
    """

    static_rows = True  # each step's rows go into fixed-size buffers: padding stays, as row −1

    def __init__(self, optimizer, steps_per_update=2, name="soft_batch", **kwargs):
        if int(steps_per_update) < 1:
            raise ValueError(f"steps_per_update must be at least 1, got {steps_per_update}")
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        self.inner = optimizer
        self.steps_per_update = int(steps_per_update)
        self._buffers = None

    @property
    def jit_compatible(self):
        """XLA compiles it around an inner optimizer that it compiles and that a zero row
        leaves unchanged (plain SGD): padding then goes to it as row 0 with zeros, so every
        shape is static. Otherwise padding is dropped (boolean_mask: a dynamic shape)."""
        return self.inner.jit_compatible and self.inner.zero_rows_change_nothing

    @property
    def wants_examples(self):
        return getattr(self.inner, "wants_examples", False)

    def _get_current_learning_rate(self):
        return self.inner._get_current_learning_rate()

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.inner.build(variables)
        self.pending = self.add_variable((), initializer="zeros", dtype="int64", name="pending")

    def _buffer_like(self, value, name):
        """A (k · n, ...) buffer for one step's (n, ...) rows (shapes known at first call)."""
        shape = (self.steps_per_update * value.shape[0],) + tuple(value.shape[1:])
        return self.add_variable(shape, initializer="zeros", dtype=value.dtype, name=name)

    def _store(self, buffer, value):
        """Write one step's rows into slot `pending` of `buffer`."""
        n = value.shape[0]
        slots = tf.cast(self.pending.value, tf.int32) * n + tf.range(n)
        tf.raw_ops.ResourceScatterUpdate(resource=resource_handle(buffer), indices=slots, updates=value)

    def _every_kth(self, update):
        """Count this step; on the k-th, run `update` and start a new accumulation."""
        self.pending.assign_add(1)

        def now():
            update()
            self.pending.assign(0)
            return tf.constant(True)

        tf.cond(self.pending.value >= self.steps_per_update, now, lambda: tf.constant(False))
        self._iterations.assign_add(1)

    def apply(self, grads, trainable_variables=None):
        variables = list(trainable_variables or self._trainable_variables)
        if not self.built:
            self.build(variables)
        if self._buffers is None:
            self._buffers = [
                (self._buffer_like(g.values, "rows"), self._buffer_like(g.indices, "indices"))
                if isinstance(g, tf.IndexedSlices) else (self._buffer_like_dense(v), None)
                for g, v in zip(grads, variables)]
        for g, (values, indices) in zip(grads, self._buffers):
            if indices is None:
                self.assign_add(values, g)
            else:
                self._store(values, g.values)
                self._store(indices, g.indices)

        def update():
            accumulated = [_real_rows(tf.IndexedSlices(values.value, indices.value, g.dense_shape),
                                      static=self.jit_compatible)
                           if indices is not None else values.value
                           for g, (values, indices) in zip(grads, self._buffers)]
            self.inner.apply(accumulated, variables)
            for _, (values, indices) in zip(grads, self._buffers):
                if indices is None:
                    values.assign(tf.zeros_like(values.value))

        self._every_kth(update)

    def _buffer_like_dense(self, variable):
        return self.add_variable(variable.shape, initializer="zeros", dtype=variable.dtype,
                                 name="dense_accumulator")

    def apply_examples(self, model, examples):
        """Buffer the batch; on every k-th step, the inner optimizer steps on all k batches."""
        if not self.built:
            self.build(model.tables)
        examples = tf.convert_to_tensor(examples, dtype=tf.int32)
        if self._buffers is None:
            self._buffers = self._buffer_like(examples, "examples")
        self._store(self._buffers, examples)
        self._every_kth(lambda: self.inner.apply_examples(model, self._buffers.value))
        return model.example_loss(examples)

    def get_config(self):
        return {"optimizer": keras.optimizers.serialize(self.inner),
                "steps_per_update": self.steps_per_update, "name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["optimizer"] = keras.optimizers.deserialize(config["optimizer"],
                                                           custom_objects=custom_objects)
        return cls(**config)


def _real_rows(gradient: tf.IndexedSlices, static: bool = False) -> tf.IndexedSlices:
    """The gradient without the padding rows a model marked −1, with zero values
    (w2v.backends.keras_model: CBOW's empty context slots, short tree paths); static:
    padding kept, as row 0 (for an optimizer that a zero row leaves unchanged)."""
    if static:
        return tf.IndexedSlices(gradient.values, tf.maximum(gradient.indices, 0),
                                gradient.dense_shape)
    keep = gradient.indices >= 0
    return tf.IndexedSlices(tf.boolean_mask(gradient.values, keep),
                            tf.boolean_mask(gradient.indices, keep), gradient.dense_shape)
