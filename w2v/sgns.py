"""The skip-gram negative-sampling math, once, in closed form.

Pure functions of arrays: no variables, no learning rate, no sampling. They run on NumPy
arrays (the reference every fast path is tested against) and, unchanged, on TensorFlow
tensors (what `SkipGram.train_step` calls), through NumPy's API or TensorFlow's copy of it.

For a center word with input row w and targets t_0..t_K with output rows u_k, where t_0 is
the true context (label y_0 = 1) and t_1..t_K are noise words (y_k = 0):

    s_k = w · u_k,      σ_k = sigmoid(s_k)
    loss = −Σ_k [ y_k log σ_k + (1 − y_k) log(1 − σ_k) ]
    ∂loss/∂w   = Σ_k (σ_k − y_k) u_k
    ∂loss/∂u_k = (σ_k − y_k) w

>>> import numpy as np
>>> from w2v import sgns
>>> w = np.zeros((2, 4), np.float32); u = np.ones((2, 3, 4), np.float32)
>>> loss, grad_w, grad_u = sgns.loss_and_gradients(w, u)
>>> loss.tolist()          # 3 · log 2 for each row
[2.0794415..., 2.0794415...]
"""

from __future__ import annotations

import numpy as np


def _xp(x):
    """The array namespace of x: numpy, or TensorFlow's numpy API for a tf.Tensor."""
    if type(x).__module__.startswith("tensorflow"):
        import tensorflow.experimental.numpy as tnp  # only ever reached with TF loaded
        return tnp
    return np


def labels(n_targets: int, dtype=np.float32) -> np.ndarray:
    """(T,) target labels: 1 for the context word in column 0, 0 for the K = T − 1 negatives."""
    y = np.zeros(n_targets, dtype=dtype)
    y[0] = 1
    return y


def scores(input_rows, target_rows):
    """(B, T) logits s_bk = w_b · u_bk.

    input_rows: (B, d) float, the centers' input vectors.
    target_rows: (B, T, d) float, each center's context row then its K noise rows.
    """
    return _xp(input_rows).einsum("bd,btd->bt", input_rows, target_rows)


def loss(input_rows, target_rows):
    """(B,) SGNS loss per example (summed over its T targets); see module docstring."""
    return _loss_from_scores(_xp(input_rows), scores(input_rows, target_rows))


def loss_and_gradients(input_rows, target_rows):
    """Loss and its closed-form gradients for a batch of examples.

    input_rows: (B, d) float; target_rows: (B, T, d) float (column 0 is the context word).
    Returns (loss (B,), grad_input (B, d), grad_targets (B, T, d)), the derivatives of the
    summed loss with respect to each gathered row. A row gathered twice gets two entries:
    the caller's scatter-add must accumulate them.
    """
    xp = _xp(input_rows)
    s = scores(input_rows, target_rows)
    error = _sigmoid(xp, s) - labels(s.shape[-1], s.dtype.name)  # (B, T): σ_k − y_k
    grad_input = xp.einsum("bt,btd->bd", error, target_rows)
    grad_targets = xp.einsum("bt,bd->btd", error, input_rows)
    return _loss_from_scores(xp, s), grad_input, grad_targets


def _loss_from_scores(xp, s):
    # −log σ(s) = softplus(−s) and −log(1 − σ(s)) = softplus(s)
    signed = s * (1 - 2 * labels(s.shape[-1], s.dtype.name))  # −s for context, +s for noise
    return xp.sum(_softplus(xp, signed), axis=-1)


def _softplus(xp, x):
    # log(1 + e^x) = x/2 + |x/2| + log(1 + e^−|x|): finite for any x, and its autodiff
    # derivative is σ(x) everywhere, x = 0 included (where the zero-initialised output
    # vectors put every logit). logaddexp(0, x) has the right value, but TensorFlow
    # differentiates it to 0 at x = 0, so an autodiff baseline built on it never trains.
    return 0.5 * x + xp.abs(0.5 * x) + xp.log1p(xp.exp(-xp.abs(x)))


def _sigmoid(xp, s):
    # σ(s) = (1 + tanh(s/2)) / 2: one op, and no overflow for large |s|
    return 0.5 + 0.5 * xp.tanh(0.5 * s)
