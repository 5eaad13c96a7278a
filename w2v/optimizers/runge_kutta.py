"""Runge–Kutta optimizers: several gradient evaluations per step, from a Butcher tableau.

Gradient descent is Euler's method for the ODE dp/dt = −g(p). A Runge–Kutta method with
tableau (c, A, b) takes stages k_i = g(p − h Σ_j A_ij k_j) and steps p' = p − h Σ_i b_i k_i.
Heun's method, for instance: k_1 = g(p), k_2 = g(p − h k_1), p' = p − (h/2)(k_1 + k_2).
An embedded pair (rk23, rk45) also gives a lower-order step with weights b*, and the
difference h Σ (b_i − b*_i) k_i estimates the local error, from which the step size adapts.

Keras's `apply(grads)` hands an optimizer one gradient: it cannot run the stages. Our
`SkipGram.train_step` can, because its gradient is a closed-form function it can call at any
parameters: it hands `apply_examples` the batch, the optimizer asks the model for the batch's
unique rows and a gradient function over them, runs the stages on that small dense
sub-problem, and scatters the result back. No other row is read or written.

>>> model.compile(optimizer=RungeKutta(LinearDecay(0.025, 0.0001, steps), method="heun"))
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from w2v.optimizers.base import SparseOptimizer


@dataclass(frozen=True)
class Tableau:
    a: tuple  # a[i] = stage i's weights on stages 0..i-1 (a[0] is empty)
    b: tuple  # weights of the step
    order: int
    b_low: tuple | None = None  # embedded lower-order weights (adaptive methods)


TABLEAUS = {
    "euler": Tableau(a=((),), b=(1,), order=1),
    "midpoint": Tableau(a=((), (1 / 2,)), b=(0, 1), order=2),
    "heun": Tableau(a=((), (1,)), b=(1 / 2, 1 / 2), order=2),
    "ralston": Tableau(a=((), (2 / 3,)), b=(1 / 4, 3 / 4), order=2),
    "rk3": Tableau(a=((), (1 / 2,), (-1, 2)), b=(1 / 6, 2 / 3, 1 / 6), order=3),  # Kutta's
    "rk4": Tableau(a=((), (1 / 2,), (0, 1 / 2), (0, 0, 1)), b=(1 / 6, 1 / 3, 1 / 3, 1 / 6),
                   order=4),
    # Bogacki–Shampine 3(2)
    "rk23": Tableau(a=((), (1 / 2,), (0, 3 / 4), (2 / 9, 1 / 3, 4 / 9)),
                    b=(2 / 9, 1 / 3, 4 / 9, 0), b_low=(7 / 24, 1 / 4, 1 / 3, 1 / 8), order=3),
    # Dormand–Prince 5(4)
    "rk45": Tableau(
        a=((), (1 / 5,), (3 / 40, 9 / 40), (44 / 45, -56 / 15, 32 / 9),
           (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
           (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
           (35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84)),
        b=(35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0),
        b_low=(5179 / 57600, 0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40),
        order=5),
}


def rk_step(gradient_fn, params: list, h, tableau: Tableau):
    """One Runge–Kutta step of dp/dt = −g(p); pure, for NumPy arrays or TF tensors.

    gradient_fn: list of arrays -> (loss, list of gradients of the same shapes).
    params: list of arrays (here: the batch's input rows and output rows).
    Returns (new params, error estimate list or None, loss at params).
    """
    stages = []  # stages[i][v]: stage i's gradient for params[v]
    loss = None
    for a_i in tableau.a:
        staged = [p - h * _combine(a_i, stages, v) if any(a_i) else p
                  for v, p in enumerate(params)]
        stage_loss, grads = gradient_fn(staged)
        loss = stage_loss if loss is None else loss
        stages.append(grads)
    new = [p - h * _combine(tableau.b, stages, v) for v, p in enumerate(params)]
    if tableau.b_low is None:
        return new, None, loss
    error_weights = [b - b_low for b, b_low in zip(tableau.b, tableau.b_low)]
    return new, [h * _combine(error_weights, stages, v) for v in range(len(params))], loss


def _combine(weights, stages, v):
    """Σ_i weights[i] · stages[i][v], skipping zero weights."""
    return sum(w * k[v] for w, k in zip(weights, stages) if w != 0)


@keras.saving.register_keras_serializable(package="w2v")
class RungeKutta(SparseOptimizer):
    """Runge–Kutta descent on the rows of a batch: `method` names the tableau.

    Fixed-step methods (euler, midpoint, heun, ralston, rk3, rk4) step with h = the
    learning rate. Adaptive methods (rk23, rk45) start from h = the learning rate and, after
    each step, scale h by clip(0.9 · err^(−1/(q+1)), 0.2, 5), q the embedded order, where
    err = RMS(error / (atol + rtol · |p|)) over the touched rows; a step with err > 1 is
    rejected (not applied). h stays within [min_step_factor, max_step_factor] × the
    scheduled learning rate, so the schedule still bounds it.

    Each step costs one gradient evaluation per stage (heun 2, rk4 4, rk45 7).
    """

    wants_examples = True
    jit_compatible = False

    def __init__(self, learning_rate=0.025, method="heun", rtol=1e-3, atol=1e-6,
                 min_step_factor=1e-3, max_step_factor=10.0, name=None, **kwargs):
        if method not in TABLEAUS:
            raise ValueError(f"method must be one of {', '.join(TABLEAUS)}, got {method!r}")
        super().__init__(learning_rate=learning_rate, name=name or f"runge_kutta_{method}",
                         **kwargs)
        self.method, self.tableau = method, TABLEAUS[method]
        self.rtol, self.atol = float(rtol), float(atol)
        self.min_step_factor, self.max_step_factor = float(min_step_factor), float(max_step_factor)

    @property
    def adaptive(self) -> bool:
        return self.tableau.b_low is not None

    @property
    def stages(self) -> int:
        return len(self.tableau.a)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        # h / scheduled learning rate; 1 until an adaptive method moves it
        self.step_factor = self.add_variable((), initializer="ones", name="step_factor")
        self.last_error = self.add_variable((), initializer="zeros", name="last_error")
        self.rejected = self.add_variable((), initializer="zeros", dtype="int64", name="rejected")

    def update_step(self, gradient, variable, learning_rate):
        raise NotImplementedError(
            f"{self.method} needs several gradient evaluations per step: train a w2v SkipGram, "
            "whose train_step calls apply_examples, instead of apply(grads)")

    def apply_examples(self, model, examples):
        """One step on a batch of examples; returns the per-example loss at the old params."""
        variables = model.tables
        if not self.built:
            self.build(variables)
        rows, gradient_fn = model.row_problem(examples)
        params = [tf.gather(v.value, r) for v, r in zip(variables, rows)]
        scheduled = keras.ops.cast(self._get_current_learning_rate(), "float32")
        h = scheduled * self.step_factor.value
        new, error, loss = rk_step(gradient_fn, params, h, self.tableau)
        accept = tf.constant(True)
        if self.adaptive:
            squares = [tf.reduce_sum(tf.square(e / (self.atol + self.rtol *
                                                     tf.maximum(tf.abs(p), tf.abs(n)))))
                       for e, p, n in zip(error, params, new)]
            count = sum(tf.cast(tf.size(e), tf.float32) for e in error)
            err = tf.sqrt(tf.add_n(squares) / tf.maximum(count, 1.0))
            exponent = -1.0 / self.tableau.order  # −1/(q+1), q = the embedded order
            factor = tf.clip_by_value(0.9 * tf.pow(tf.maximum(err, 1e-10), exponent), 0.2, 5.0)
            self.step_factor.assign(tf.clip_by_value(self.step_factor.value * factor,
                                                     self.min_step_factor, self.max_step_factor))
            self.last_error.assign(err)
            accept = err <= 1.0
            self.rejected.assign_add(tf.cast(tf.logical_not(accept), tf.int64))

        def write():
            for variable, r, n in zip(variables, rows, new):
                self.assign(variable, tf.IndexedSlices(n, r, tf.shape(variable.value, tf.int64)))
            return tf.constant(True)

        tf.cond(accept, write, lambda: tf.constant(False))
        self._iterations.assign_add(1)
        return loss

    def get_config(self):
        return {**super().get_config(), "method": self.method, "rtol": self.rtol,
                "atol": self.atol, "min_step_factor": self.min_step_factor,
                "max_step_factor": self.max_step_factor}
