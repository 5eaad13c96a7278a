"""The skip-gram negative-sampling math in closed form: the case of w2v/heads.py's binary
log-loss with one true target and K noise targets.

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

from w2v import heads


def labels(n_targets: int, dtype=np.float32) -> np.ndarray:
    """(T,) target labels: 1 for the context word in column 0, 0 for the K = T − 1 negatives."""
    return heads.negative_sampling_labels(n_targets, dtype)


def scores(input_rows, target_rows):
    """(B, T) logits s_bk = w_b · u_bk.

    input_rows: (B, d) float, the centers' input vectors.
    target_rows: (B, T, d) float, each center's context row then its K noise rows.
    """
    return heads.scores(input_rows, target_rows)


def loss(input_rows, target_rows):
    """(B,) SGNS loss per example (summed over its T targets); see module docstring."""
    return heads.binary_loss(input_rows, target_rows, _labels_like(target_rows))


def loss_and_gradients(input_rows, target_rows):
    """Loss and its closed-form gradients for a batch of examples.

    input_rows: (B, d) float; target_rows: (B, T, d) float (column 0 is the context word).
    Returns (loss (B,), grad_input (B, d), grad_targets (B, T, d)), the derivatives of the
    summed loss with respect to each gathered row. A row gathered twice gets two entries:
    the caller's scatter-add must accumulate them.
    """
    return heads.binary_loss_and_gradients(input_rows, target_rows, _labels_like(target_rows))


def _labels_like(target_rows):
    return labels(target_rows.shape[1], np.dtype(target_rows.dtype.name))
