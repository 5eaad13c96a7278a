"""w2v/sgns.py against tf.GradientTape autodiff of the same loss."""

import numpy as np
import pytest
import tensorflow as tf

from w2v import sgns

V, D, B, T = 13, 8, 32, 6  # small vocabulary: a batch repeats rows many times


def random_problem(seed, zero_outputs=False):
    rng = np.random.default_rng(seed)
    input_table = rng.normal(0, 0.5, (V, D)).astype(np.float32)
    output_table = (np.zeros((V, D)) if zero_outputs else rng.normal(0, 0.5, (V, D))).astype(np.float32)
    examples = rng.integers(0, V, (B, 1 + T)).astype(np.int32)
    return input_table, output_table, examples


def autodiff(input_table, output_table, examples):
    """Dense (V, D) gradients of the summed loss with respect to both tables."""
    w_in, w_out = tf.Variable(input_table), tf.Variable(output_table)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(sgns.loss(tf.gather(w_in, examples[:, 0]),
                                       tf.gather(w_out, examples[:, 1:])))
    g_in, g_out = tape.gradient(loss, [w_in, w_out])
    return tf.convert_to_tensor(g_in).numpy(), tf.convert_to_tensor(g_out).numpy()


def closed_form(input_table, output_table, examples):
    """Dense (V, D) gradients from sgns.loss_and_gradients, rows accumulated with np.add.at."""
    _, g_w, g_u = sgns.loss_and_gradients(input_table[examples[:, 0]], output_table[examples[:, 1:]])
    g_in, g_out = np.zeros_like(input_table), np.zeros_like(output_table)
    np.add.at(g_in, examples[:, 0], g_w)
    np.add.at(g_out, examples[:, 1:].reshape(-1), g_u.reshape(-1, D))
    return g_in, g_out


@pytest.mark.parametrize("seed", range(5))
def test_gradients_equal_autodiff_with_repeated_rows(seed):
    problem = random_problem(seed)
    assert len(np.unique(problem[2])) < problem[2].size  # rows do repeat
    for ours, theirs in zip(closed_form(*problem), autodiff(*problem)):
        np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=1e-5)


def test_gradients_equal_autodiff_at_zero_logits():
    # the zero-initialised output vectors put every logit at 0, where softplus's
    # derivative must be exactly 1/2 (a logaddexp loss differentiates to 0 there)
    problem = random_problem(7, zero_outputs=True)
    ours, theirs = closed_form(*problem), autodiff(*problem)
    assert np.abs(theirs[1]).max() > 0.1
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


def test_comparison_catches_a_changed_sign_or_factor():
    problem = random_problem(3)
    (g_in, g_out), (a_in, a_out) = closed_form(*problem), autodiff(*problem)
    for wrong in (-g_in, 2 * g_in, 0.5 * g_in):
        assert np.abs(wrong - a_in).max() > 1e-2
    for wrong in (-g_out, 2 * g_out):
        assert np.abs(wrong - a_out).max() > 1e-2


def test_numpy_and_tensorflow_paths_agree():
    input_table, output_table, examples = random_problem(11)
    w, u = input_table[examples[:, 0]], output_table[examples[:, 1:]]
    for ours, theirs in zip(sgns.loss_and_gradients(w, u),
                            sgns.loss_and_gradients(tf.constant(w), tf.constant(u))):
        np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-5, rtol=1e-5)


def test_loss_matches_its_definition_and_stays_finite():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 1, (4, 3)).astype(np.float64)
    u = rng.normal(0, 1, (4, 5, 3)).astype(np.float64)
    s = np.einsum("bd,btd->bt", w, u)
    sig = 1 / (1 + np.exp(-s))
    expected = -(np.log(sig[:, 0]) + np.log(1 - sig[:, 1:]).sum(axis=1))
    np.testing.assert_allclose(sgns.loss(w, u), expected, rtol=1e-10)
    huge = sgns.loss_and_gradients(w * 1e4, u * 1e4)
    assert all(np.isfinite(x).all() for x in huge)
