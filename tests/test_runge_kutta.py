"""Runge–Kutta steps against hand-written formulas, convergence order, adaptivity, SGNS rows."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from w2v import sgns
from w2v.backends.keras_model import SkipGram
from w2v.optimizers.runge_kutta import TABLEAUS, RungeKutta, rk_step

rng = np.random.default_rng(0)
M = rng.normal(size=(4, 4))
A = M @ M.T / 4 + np.eye(4)  # symmetric positive definite: f(p) = ½ pᵀAp, g(p) = Ap


def quadratic(params):
    (p,) = params
    return 0.5 * p @ A @ p, [A @ p]


def g(p):
    return A @ p


HAND = {  # each method written out as the textbooks give it, for dp/dt = −g(p)
    "euler": lambda p, h: p - h * g(p),
    "midpoint": lambda p, h: p - h * g(p - h / 2 * g(p)),
    "heun": lambda p, h: p - h / 2 * (g(p) + g(p - h * g(p))),
    "ralston": lambda p, h: p - h * (g(p) / 4 + 3 / 4 * g(p - 2 * h / 3 * g(p))),
    "rk3": lambda p, h: (lambda k1: (lambda k2: (lambda k3: p - h * (k1 + 4 * k2 + k3) / 6)(
        g(p + h * k1 - 2 * h * k2)))(g(p - h / 2 * k1)))(g(p)),
    "rk4": lambda p, h: (lambda k1: (lambda k2: (lambda k3: (lambda k4: p - h * (
        k1 + 2 * k2 + 2 * k3 + k4) / 6)(g(p - h * k3)))(g(p - h / 2 * k2)))(g(p - h / 2 * k1)))(g(p)),
}


@pytest.mark.parametrize("method", HAND)
def test_fixed_step_methods_equal_their_hand_written_formula(method):
    p = rng.normal(size=4)
    (new,), error, loss = rk_step(quadratic, [p], 0.1, TABLEAUS[method])
    np.testing.assert_allclose(new, HAND[method](p, 0.1), rtol=1e-12)
    assert error is None and loss == pytest.approx(0.5 * p @ A @ p)


@pytest.mark.parametrize("method", list(TABLEAUS))
def test_local_error_shrinks_at_the_methods_order(method):
    # exact flow of dp/dt = −Ap is expm(−hA) p; the one-step error is O(h^(order+1))
    w, V = np.linalg.eigh(A)
    p = rng.normal(size=4)
    errors = []
    for h in (0.1, 0.05):
        exact = V @ (np.exp(-h * w) * (V.T @ p))
        (new,), _, _ = rk_step(quadratic, [p], h, TABLEAUS[method])
        errors.append(np.linalg.norm(new - exact))
    order = np.log2(errors[0] / errors[1]) - 1
    assert order == pytest.approx(TABLEAUS[method].order, abs=0.3)


@pytest.mark.parametrize("method", ["rk23", "rk45"])
def test_embedded_error_estimate_matches_the_lower_order_step(method):
    p = rng.normal(size=4)
    (new,), (error,), _ = rk_step(quadratic, [p], 0.2, TABLEAUS[method])
    t = TABLEAUS[method]
    low = rk_step(quadratic, [p], 0.2, type(t)(a=t.a, b=t.b_low, order=t.order - 1))[0][0]
    np.testing.assert_allclose(error, low - new, rtol=1e-10, atol=1e-14)


def sgns_setup(seed=0, V=25, D=6, B=64):
    r = np.random.default_rng(seed)
    model = SkipGram(V, D, seed=seed)
    model.output_vectors.assign(r.normal(0, 0.3, (V, D)).astype(np.float32))
    return model, r.integers(0, V, (B, 7)).astype(np.int32)


def numpy_heun(w_in, w_out, batch, h):
    """Heun on the full tables, NumPy, with np.add.at gradients: the reference."""
    def grads(a, b):
        _, gw, gu = sgns.loss_and_gradients(a[batch[:, 0]], b[batch[:, 1:]])
        ga, gb = np.zeros_like(a), np.zeros_like(b)
        np.add.at(ga, batch[:, 0], gw)
        np.add.at(gb, batch[:, 1:].reshape(-1), gu.reshape(-1, a.shape[1]))
        return ga, gb
    k1 = grads(w_in, w_out)
    k2 = grads(w_in - h * k1[0], w_out - h * k1[1])
    return w_in - h / 2 * (k1[0] + k2[0]), w_out - h / 2 * (k1[1] + k2[1])


def test_heun_on_sgns_rows_equals_numpy_on_full_tables():
    model, batch = sgns_setup()
    before = [t.numpy() for t in model.tables]
    model.compile(optimizer=RungeKutta(0.1, method="heun"))
    model.train_step(tf.constant(batch))
    expected = numpy_heun(*before, batch, 0.1)
    for table, want in zip(model.tables, expected):
        np.testing.assert_allclose(table.numpy(), want, atol=1e-6)
    untouched = np.setdiff1d(np.arange(25), batch[:, 1:])
    np.testing.assert_array_equal(model.output_vectors.numpy()[untouched], before[1][untouched])


@pytest.mark.parametrize("method", ["rk23", "rk45"])
def test_adaptive_step_shrinks_above_tolerance_and_grows_below(method):
    factors = {}
    for rtol in (1e-9, 10.0):
        model, batch = sgns_setup(1)
        optimizer = RungeKutta(0.5, method=method, rtol=rtol, atol=1e-12)
        model.compile(optimizer=optimizer)
        before = model.output_vectors.numpy()
        model.train_step(tf.constant(batch))
        factors[rtol] = float(optimizer.step_factor.numpy())
        changed = not np.array_equal(before, model.output_vectors.numpy())
        if rtol == 1e-9:  # error far above tolerance: rejected, not applied, step shrinks
            assert float(optimizer.last_error.numpy()) > 1 and not changed
            assert int(optimizer.rejected.numpy()) == 1
        else:
            assert float(optimizer.last_error.numpy()) < 1 and changed
    assert factors[1e-9] < 1 < factors[10.0]


def test_plain_apply_refuses_a_multi_stage_method():
    optimizer = RungeKutta(0.1, method="rk4")
    variable = keras.Variable(np.zeros((3, 2), np.float32))
    with pytest.raises(NotImplementedError, match="several gradient evaluations"):
        optimizer.apply([tf.ones((3, 2))], [variable])


def test_config_round_trip():
    optimizer = RungeKutta(0.05, method="rk45", rtol=1e-2, atol=1e-5)
    again = RungeKutta.from_config(optimizer.get_config())
    assert again.get_config() == optimizer.get_config() and again.stages == 7
