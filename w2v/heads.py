"""The rest of word2vec's math, once, in closed form: CBOW's input and the output heads.

Pure functions of arrays (no variables, no learning rate, no sampling), on NumPy arrays and,
unchanged, on TensorFlow tensors; w2v/sgns.py is the skip-gram negative-sampling case of
`binary_loss_and_gradients`. Every fast path (numba, cuda, keras) is tested against them,
and they against tf.GradientTape (tests/test_heads.py).

**Both output heads are one binary log-loss.** An input vector h (a context word's input
row in skip-gram, the CBOW mean of the context rows) is scored against T target rows u_t,
each with a label y_t ∈ {0, 1} and a mask m_t ∈ {0, 1} (padding):

    s_t = h · u_t,     σ_t = sigmoid(s_t)
    loss = Σ_t m_t · softplus(−(2 y_t − 1) s_t)      = −Σ_t m_t log σ(±s_t)
    ∂loss/∂h   = Σ_t m_t (σ_t − y_t) u_t
    ∂loss/∂u_t = m_t (σ_t − y_t) h

- Negative sampling: the targets are the true word (y = 1) and K noise words (y = 0), rows
  of the output table.
- Hierarchical softmax (word2vec.c): a Huffman tree over the vocabulary by count; word w's
  path from the root passes inner nodes n_1..n_L with code bits b_1..b_L (w2v.vocab.
  huffman_tree). The targets are the inner nodes' rows of the node table (V − 1 rows), with
  y_j = 1 − b_j: loss = −Σ_j log σ((1 − 2 b_j) h · v_j), the sum of the binary decisions
  that lead to w, and a path shorter than the longest is masked.
- Both together (hs=1 and negative > 0, as gensim): the two losses add, on separate
  output tables, and so do their gradients with respect to h.

**CBOW's input** is the mean (or, with cbow_mean off, the sum) of the m context rows:

    h = (1/m) Σ_j W[c_j]      ∂loss/∂W[c_j] = (1/m) ∂loss/∂h      (mean)
    h = Σ_j W[c_j]            ∂loss/∂W[c_j] = ∂loss/∂h            (sum)

word2vec.c and gensim add −α ∂loss/∂h to every context row in mean mode as well: m times
the gradient above, a larger step for the context rows that their default α = 0.05 was
tuned with. w2v's kernels do the same (`cbow_step_scale`), and say so; the functions here
stay the exact derivatives, which the tests check against autodiff.

>>> import numpy as np
>>> from w2v import heads
>>> h = np.zeros((1, 4), np.float32); u = np.ones((1, 3, 4), np.float32)
>>> loss, grad_h, grad_u = heads.binary_loss_and_gradients(h, u, np.array([1., 0., 0.]))
>>> round(float(loss[0]), 4)      # three logits at 0: 3 · log 2
2.0794
"""

from __future__ import annotations

import numpy as np


def _xp(x):
    """The array namespace of x: numpy, or TensorFlow's numpy API for a tf.Tensor."""
    if type(x).__module__.startswith("tensorflow"):
        import tensorflow.experimental.numpy as tnp  # only ever reached with TF loaded
        return tnp
    return np


def scores(inputs, targets):
    """(B, T) logits s_bt = h_b · u_bt. inputs: (B, d); targets: (B, T, d)."""
    return _xp(inputs).einsum("bd,btd->bt", inputs, targets)


def binary_loss(inputs, targets, labels, mask=None):
    """(B,) loss per example, summed over its targets (module docstring).

    labels: (T,) or (B, T), 1 for a target to score high, 0 for one to score low;
    mask: None, or (B, T) with 0 where a target is padding."""
    xp = _xp(inputs)
    s = scores(inputs, targets)
    return _loss_from_scores(xp, s, labels, mask)


def binary_loss_and_gradients(inputs, targets, labels, mask=None):
    """(loss (B,), grad_inputs (B, d), grad_targets (B, T, d)): the loss and its
    derivatives with respect to each gathered row. A row gathered twice gets two entries:
    the caller's scatter-add must accumulate them."""
    xp = _xp(inputs)
    s = scores(inputs, targets)
    error = _sigmoid(xp, s) - labels  # (B, T): σ_t − y_t
    if mask is not None:
        error = error * mask
    grad_inputs = xp.einsum("bt,btd->bd", error, targets)
    grad_targets = xp.einsum("bt,bd->btd", error, inputs)
    return _loss_from_scores(xp, s, labels, mask), grad_inputs, grad_targets


def cbow_input(context_rows, mask, mean: bool = True):
    """(B, d) h: the mean (or sum) of each example's context rows.

    context_rows: (B, C, d), the window's input rows padded to C; mask: (B, C), 1 where a
    row is a context word (at least one per example)."""
    xp = _xp(context_rows)
    total = xp.einsum("bc,bcd->bd", mask, context_rows)
    if not mean:
        return total
    return total / xp.sum(mask, axis=1)[:, None]


def cbow_input_gradient(grad_h, mask, mean: bool = True):
    """(B, C, d): ∂loss/∂W[c] for each context slot, from ∂loss/∂h (B, d); padding gets 0."""
    xp = _xp(grad_h)
    scale = mask / xp.sum(mask, axis=1)[:, None] if mean else mask
    return xp.einsum("bc,bd->bcd", scale, grad_h)


def cbow_context_step(grad_h, mask):
    """(B, C, d): what word2vec.c and gensim step each context row by (before −lr): ∂loss/∂h
    itself, in both modes (mean: cbow_step_scale(m) × the exact gradient); padding gets 0."""
    xp = _xp(grad_h)
    return xp.einsum("bc,bd->bcd", mask, grad_h)


def cbow_step_scale(count: int, mean: bool) -> float:
    """What the kernels multiply ∂loss/∂W[c] by before the step: m in mean mode (word2vec.c
    and gensim move every context row by −α ∂loss/∂h), 1 in sum mode (the gradient)."""
    return float(count) if mean else 1.0


def negative_sampling_labels(targets: int, dtype=np.float32) -> np.ndarray:
    """(T,): 1 for the true word in column 0, 0 for the K = T − 1 noise words."""
    y = np.zeros(targets, dtype=dtype)
    y[0] = 1
    return y


def _loss_from_scores(xp, s, labels, mask):
    # −log σ(s) = softplus(−s) and −log(1 − σ(s)) = softplus(s)
    per_target = _softplus(xp, s * (1 - 2 * labels))
    if mask is not None:
        per_target = per_target * mask
    return xp.sum(per_target, axis=-1)


def _softplus(xp, x):
    # log(1 + e^x) = x/2 + |x/2| + log(1 + e^−|x|): finite for any x, and its autodiff
    # derivative is σ(x) everywhere, x = 0 included (where the zero-initialised output
    # vectors put every logit). logaddexp(0, x) has the right value, but TensorFlow
    # differentiates it to 0 at x = 0, so an autodiff baseline built on it never trains.
    return 0.5 * x + xp.abs(0.5 * x) + xp.log1p(xp.exp(-xp.abs(x)))


def _sigmoid(xp, s):
    # σ(s) = (1 + tanh(s/2)) / 2: one op, and no overflow for large |s|
    return 0.5 + 0.5 * xp.tanh(0.5 * s)
