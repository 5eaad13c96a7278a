"""Keras 3 optimizers and schedules that keep embedding updates sparse.

>>> from w2v.optimizers import LinearDecay, SparseSGD
>>> optimizer = SparseSGD(learning_rate=LinearDecay(0.025, 0.0001, total_steps=10_000))
>>> model.compile(optimizer=optimizer)        # then model.fit(...)

A gradient that arrives as `tf.IndexedSlices` (rows + their indices) is applied with
`assign_sub`, which on TensorFlow is a `scatter_sub`: only the rows a batch touches are
written, and a row listed several times receives the sum of its entries.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from w2v import sgns


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
            tf.raw_ops.ResourceScatterSub(resource=_handle(variable), indices=value.indices,
                                          updates=value.values)
        else:
            super().assign_sub(variable, value)

    def assign_add(self, variable, value):
        if isinstance(value, tf.IndexedSlices):
            tf.raw_ops.ResourceScatterAdd(resource=_handle(variable), indices=value.indices,
                                          updates=value.values)
        else:
            super().assign_add(variable, value)

    def assign(self, variable, value):
        """Write rows: the indices of an IndexedSlices must be unique (see merge_rows)."""
        if isinstance(value, tf.IndexedSlices):
            tf.raw_ops.ResourceScatterUpdate(resource=_handle(variable), indices=value.indices,
                                             updates=value.values)
        else:
            super().assign(variable, value)

    # XLA compiles the step when every op has a static shape; merge_rows (tf.unique) has not.
    jit_compatible = True


def merge_rows(gradient: tf.IndexedSlices) -> tf.IndexedSlices:
    """The same gradient with each row index once, its entries summed (unique + segment sum).

    Optimizers with per-row state (momentum, Adagrad) need this: a row listed twice must
    update its state once, with the sum.
    """
    rows, position = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, position, tf.shape(rows)[0])
    return tf.IndexedSlices(values, rows, gradient.dense_shape)


def _handle(variable):
    """The resource handle of a Keras variable or of the tf.Variable inside it."""
    return variable.handle


@keras.saving.register_keras_serializable(package="w2v")
class SparseSGD(SparseOptimizer):
    """Plain SGD whose sparse updates stay sparse.

    Update rule, per row r that the batch touches (entries of a repeated row add up):

        w[r] = w[r] - learning_rate * g[r]

    Args:
        learning_rate: float or a `keras.optimizers.schedules.LearningRateSchedule`
            (word2vec's schedule is `LinearDecay`).
    """

    def __init__(self, learning_rate=0.025, name="sparse_sgd", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = keras.ops.cast(learning_rate, variable.dtype)
        self.assign_sub(variable, scale(gradient, learning_rate))


@keras.saving.register_keras_serializable(package="w2v")
class SparseMomentum(SparseOptimizer):
    """SGD with (lazy) momentum, classical or Nesterov, on the rows a batch touches.

    Per touched row r, with g the row's summed gradient and v its velocity:

        v[r] = momentum * v[r] + g
        w[r] = w[r] - learning_rate * v[r]                       # classical
        w[r] = w[r] - learning_rate * (g + momentum * v[r])      # nesterov=True

    Lazy, as LazyAdam: a row's velocity decays only on the steps that touch it, so a rare
    word keeps its momentum between occurrences. Memory: one (V, d) velocity per table.
    """

    jit_compatible = False

    def __init__(self, learning_rate=0.025, momentum=0.9, nesterov=False,
                 name="sparse_momentum", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.velocities = [self.add_variable_from_reference(v, "velocity") for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = keras.ops.cast(learning_rate, variable.dtype)
        velocity = self.velocities[self._get_variable_index(variable)]
        if not isinstance(gradient, tf.IndexedSlices):
            self.assign(velocity, self.momentum * velocity + gradient)
            step = gradient + self.momentum * velocity if self.nesterov else velocity
            self.assign_sub(variable, learning_rate * step)
            return
        g = merge_rows(gradient)
        v = self.momentum * tf.gather(velocity.value, g.indices) + g.values
        self.assign(velocity, tf.IndexedSlices(v, g.indices, g.dense_shape))
        step = g.values + self.momentum * v if self.nesterov else v
        self.assign_sub(variable, tf.IndexedSlices(learning_rate * step, g.indices, g.dense_shape))

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


@keras.saving.register_keras_serializable(package="w2v")
class SparseAdagrad(SparseOptimizer):
    """Adagrad on the rows a batch touches.

    Per touched row r, with g the row's summed gradient:

        a[r] = a[r] + g**2
        w[r] = w[r] - learning_rate * g / (sqrt(a[r]) + epsilon)

    Accumulators start at `initial_accumulator_value` (Keras's default, 0.1).
    """

    jit_compatible = False

    def __init__(self, learning_rate=0.025, initial_accumulator_value=0.1, epsilon=1e-7,
                 name="sparse_adagrad", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        init = keras.initializers.Constant(self.initial_accumulator_value)
        self.accumulators = [self.add_variable_from_reference(v, "accumulator", initializer=init)
                             for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = keras.ops.cast(learning_rate, variable.dtype)
        accumulator = self.accumulators[self._get_variable_index(variable)]
        if not isinstance(gradient, tf.IndexedSlices):
            self.assign_add(accumulator, gradient * gradient)
            self.assign_sub(variable, learning_rate * gradient
                            / (tf.sqrt(accumulator.value) + self.epsilon))
            return
        g = merge_rows(gradient)
        a = tf.gather(accumulator.value, g.indices) + g.values * g.values
        self.assign(accumulator, tf.IndexedSlices(a, g.indices, g.dense_shape))
        step = learning_rate * g.values / (tf.sqrt(a) + self.epsilon)
        self.assign_sub(variable, tf.IndexedSlices(step, g.indices, g.dense_shape))

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


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

    A multi-stage inner optimizer (Runge–Kutta) needs the gradient function, not gradients:
    then the k batches' examples are buffered (int32, tiny) and the inner optimizer steps
    once on their concatenation.
    """

    jit_compatible = False

    def __init__(self, optimizer, steps_per_update=2, name="soft_batch", **kwargs):
        if int(steps_per_update) < 1:
            raise ValueError(f"steps_per_update must be at least 1, got {steps_per_update}")
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        self.inner = optimizer
        self.steps_per_update = int(steps_per_update)
        self._buffers = None

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
        tf.raw_ops.ResourceScatterUpdate(resource=_handle(buffer), indices=slots, updates=value)

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
            accumulated = [tf.IndexedSlices(values.value, indices.value, g.dense_shape)
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
        return sgns.loss(*model.gather(examples))

    def get_config(self):
        return {"optimizer": keras.optimizers.serialize(self.inner),
                "steps_per_update": self.steps_per_update, "name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["optimizer"] = keras.optimizers.deserialize(config["optimizer"],
                                                           custom_objects=custom_objects)
        return cls(**config)


@keras.saving.register_keras_serializable(package="w2v")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """word2vec's learning rate: linear from `initial` to `final` over `total_steps`, then flat.

        lr(step) = initial + (final - initial) * min(step / total_steps, 1)

    With every step a batch of the same number of (center, context) pairs, the decay is
    linear in pairs trained, which tracks words trained (each kept word yields on average
    2·E[window] pairs) across all epochs, as in word2vec and gensim.
    """

    def __init__(self, initial: float, final: float, total_steps: int):
        self.initial = float(initial)
        self.final = float(final)
        self.total_steps = int(total_steps)

    def __call__(self, step):
        progress = keras.ops.minimum(
            keras.ops.cast(step, "float32") / max(self.total_steps, 1), 1.0)
        return self.initial + (self.final - self.initial) * progress

    def get_config(self):
        return {"initial": self.initial, "final": self.final, "total_steps": self.total_steps}


def make_optimizer(name: str, learning_rate, steps_per_update: int = 1, momentum: float = 0.9):
    """The optimizer the CLI's --optimizer names, wrapped in SoftBatch when k > 1.

    sgd | momentum | nesterov | adagrad | euler | midpoint | heun | ralston | rk3 | rk4 |
    rk23 | rk45 (the last eight: w2v.runge_kutta).
    """
    from w2v.runge_kutta import TABLEAUS, RungeKutta

    if name == "sgd":
        optimizer = SparseSGD(learning_rate)
    elif name in ("momentum", "nesterov"):
        optimizer = SparseMomentum(learning_rate, momentum=momentum, nesterov=name == "nesterov")
    elif name == "adagrad":
        optimizer = SparseAdagrad(learning_rate)
    elif name in TABLEAUS:
        optimizer = RungeKutta(learning_rate, method=name)
    else:
        raise ValueError(f"unknown optimizer {name!r}")
    return SoftBatch(optimizer, steps_per_update) if steps_per_update > 1 else optimizer
