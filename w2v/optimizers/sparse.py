"""One-gradient sparse optimizers: plain SGD (word2vec's), lazy momentum, Adagrad.

>>> from w2v.optimizers import LinearDecay, SparseSGD
>>> optimizer = SparseSGD(learning_rate=LinearDecay(0.025, 0.0001, total_steps=10_000))
>>> model.compile(optimizer=optimizer)        # a w2v SkipGram, or any Keras model
"""

from __future__ import annotations

import keras
import tensorflow as tf

from w2v.optimizers.base import SparseOptimizer, merge_rows, scale


@keras.saving.register_keras_serializable(package="w2v")
class SparseSGD(SparseOptimizer):
    """Plain SGD whose sparse updates stay sparse.

    Update rule, per row r that the batch touches (entries of a repeated row add up):

        w[r] = w[r] - learning_rate * g[r]

    Args:
        learning_rate: float or a `keras.optimizers.schedules.LearningRateSchedule`
            (word2vec's schedule is `LinearDecay`).
    """

    zero_rows_change_nothing = True

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
