"""numba CPU kernels: random numbers, skip-gram pairs and negative samples.

Small `@njit(cache=True, nogil=True)` functions over arrays and scalars. Random state is a
(1,) uint64 array passed in and advanced in place, so a caller owns every stream and a run
is reproducible from its seed. No TensorFlow here.

The generator is xorshift64* (Vigna 2016): one multiply and three shifts per draw, and good
enough for sampling (it passes BigCrush but for the lowest bits, which `below` never uses).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_MULTIPLIER = np.uint64(0x2545F4914F6CDD1D)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


def seed_state(seed: int) -> np.ndarray:
    """A fresh (1,) uint64 random state from an integer seed (splitmix64, never zero)."""
    z = (int(seed) + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    z ^= z >> 31
    return np.array([z or 1], dtype=np.uint64)


@njit(cache=True, nogil=True, inline="always")
def next_u64(state):
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return x * _MULTIPLIER


@njit(cache=True, nogil=True, inline="always")
def uniform(state):
    """A float64 uniform in [0, 1) from the top 53 bits."""
    return (next_u64(state) >> np.uint64(11)) * _TO_UNIT


@njit(cache=True, nogil=True, inline="always")
def below(state, n):
    """An int64 uniform in [0, n) (high bits, Lemire-free modulo: bias < n / 2**32)."""
    return np.int64((next_u64(state) >> np.uint64(32)) % np.uint64(n))


@njit(cache=True, nogil=True, inline="always")
def draw_alias(state, accept, alias):
    i = below(state, accept.shape[0])
    if uniform(state) < accept[i]:
        return i
    return np.int64(alias[i])


@njit(cache=True, nogil=True, inline="always")
def draw_negatives(state, accept, alias, excluded, targets):
    """Fill targets[1:] with noise words, each drawn again while it equals `excluded`
    (word2vec skips a negative equal to its positive word)."""
    for k in range(1, targets.shape[0]):
        noise = draw_alias(state, accept, alias)
        while noise == excluded and accept.shape[0] > 1:
            noise = draw_alias(state, accept, alias)
        targets[k] = noise


@njit(cache=True, nogil=True, inline="always")
def window_bounds(state, i, n, window):
    """Draw b uniform in 1..window; the positions lo..hi-1 around i, clipped to 0..n."""
    b = 1 + below(state, window)
    return max(i - b, 0), min(i + b + 1, n)


@njit(cache=True, nogil=True)
def subsample_cpu(ids, keep_prob, state, kept):
    """Keep each word of ids (n,) int32 with probability keep_prob[word]; returns the count.

    kept: (>= n,) int32 output, the kept words in order. state: (1,) uint64 random state
    (a word whose keep probability is 1 draws no random number).
    """
    n = 0
    for pos in range(ids.shape[0]):
        word = ids[pos]
        if keep_prob[word] >= 1.0 or uniform(state) < keep_prob[word]:
            kept[n] = word
            n += 1
    return n


@njit(cache=True, nogil=True)
def skipgram_pairs_cpu(ids, sentence_ends, keep_prob, window, state, centers, contexts):
    """Subsample, draw reduced windows and emit (center, context) pairs.

    ids: (N,) int32 word ids of whole sentences; sentence_ends: (S,) int64 end offsets into
    ids; keep_prob: (V,) float32; window: int >= 1; state: (1,) uint64 random state.
    centers, contexts: (M,) int32 outputs with M >= 2 * window * N, or both of length 0 to
    only count. Returns the number of pairs (written, or that would be written).

    Per sentence, as word2vec: each word is kept with keep_prob[word]; then each kept word
    at position i draws b uniform in 1..window and pairs with the kept words at i-b..i+b.
    """
    write = centers.shape[0] > 0
    kept = np.empty(10_000 if ids.shape[0] > 10_000 else max(ids.shape[0], 1), dtype=np.int32)
    n_pairs = 0
    start = 0
    for s in range(sentence_ends.shape[0]):
        end = sentence_ends[s]
        if end - start > kept.shape[0]:
            kept = np.empty(end - start, dtype=np.int32)
        n = subsample_cpu(ids[start:end], keep_prob, state, kept)
        for i in range(n):
            lo, hi = window_bounds(state, i, n, window)
            for j in range(lo, hi):
                if j != i:
                    if write:
                        centers[n_pairs] = kept[i]
                        contexts[n_pairs] = kept[j]
                    n_pairs += 1
        start = end
    return n_pairs


@njit(cache=True, nogil=True)
def fill_examples_cpu(centers, contexts, accept, alias, state, examples):
    """Pack pairs and fresh negatives into training examples.

    centers, contexts: (n,) int32; accept, alias: (V,) alias table of the noise
    distribution; state: (1,) uint64; examples: (n, 2 + K) int32 output, row i =
    [center, context, K negatives]. A negative equal to the context word is drawn again
    (word2vec skips it), so every negative differs from its positive.
    """
    for i in range(centers.shape[0]):
        examples[i, 0] = centers[i]
        examples[i, 1] = contexts[i]
        draw_negatives(state, accept, alias, contexts[i], examples[i, 1:])


def sgns_term(score, positive, lr):
    """One (input, target) score's share of SGNS: (loss, −lr · ∂loss/∂score).

    positive: the target is the true word (label 1) rather than a negative (label 0). One
    exp serves both: with e = e^−|s|, σ(s) and softplus(∓s) = max(∓s, 0) + log1p(e).
    Plain Python: kernels/cpu.py compiles it with njit, kernels/cuda.py as a device
    function (hence `math`, and no `max`, which the CUDA target does not type here).
    """
    e = math.exp(-abs(score))
    sigma = 1.0 / (1.0 + e) if score >= 0 else e / (1.0 + e)
    signed = -score if positive else score
    loss = (signed if signed > 0 else 0.0) + math.log1p(e)
    return loss, ((1.0 if positive else 0.0) - sigma) * lr


_sgns_term = njit(cache=True, nogil=True, inline="always")(sgns_term)


@njit(cache=True, nogil=True, fastmath=True)
def sgns_update_cpu(center, targets, lr, input_vectors, output_vectors, scratch):
    """One SGD step of the SGNS loss for one example, in place; returns its loss.

    center: int; targets: (1 + K,) int32, the context word then K negatives; lr: float;
    input_vectors, output_vectors: (V, d) float32 tables; scratch: (d + 1 + K,) float32.
    Exactly w2v.sgns on a batch of one: every gradient is taken at the rows as they were
    before the step, then the rows move (a target listed twice gets both updates).
    """
    dim = input_vectors.shape[1]
    n_targets = targets.shape[0]
    grad_input = scratch[:dim]
    step = scratch[dim:]  # per target: −lr · ∂loss/∂s
    loss = 0.0
    repeated = False
    for k in range(n_targets):
        t = targets[k]
        for m in range(k):
            repeated |= targets[m] == t
        score = np.float32(0.0)
        for j in range(dim):
            score += input_vectors[center, j] * output_vectors[t, j]
        term, step[k] = _sgns_term(score, k == 0, lr)
        loss += term
    for j in range(dim):
        grad_input[j] = 0.0
    if repeated:  # a row listed twice: all gradients first, then all updates
        for k in range(n_targets):
            for j in range(dim):
                grad_input[j] += step[k] * output_vectors[targets[k], j]
        for k in range(n_targets):
            for j in range(dim):
                output_vectors[targets[k], j] += step[k] * input_vectors[center, j]
    else:  # the common case: one pass per row
        for k in range(n_targets):
            t = targets[k]
            for j in range(dim):
                grad_input[j] += step[k] * output_vectors[t, j]
                output_vectors[t, j] += step[k] * input_vectors[center, j]
    for j in range(dim):
        input_vectors[center, j] += grad_input[j]
    return loss


@njit(cache=True, nogil=True, fastmath=True)
def sgns_examples_cpu(examples, lr_start, lr_end, input_vectors, output_vectors):
    """Train on examples (n, 1 + 1 + K) int32 in order, lr linear from lr_start to lr_end.

    The unfused reference path of the numba backend (and what its tests compare with):
    returns the summed loss.
    """
    scratch = np.empty(input_vectors.shape[1] + examples.shape[1] - 1, dtype=np.float32)
    n = examples.shape[0]
    loss = 0.0
    for i in range(n):
        lr = lr_start + (lr_end - lr_start) * (i / n)
        loss += sgns_update_cpu(examples[i, 0], examples[i, 1:], lr, input_vectors,
                                output_vectors, scratch)
    return loss


@njit(cache=True, nogil=True, fastmath=True)
def sgns_train_cpu(ids, sentence_ends, keep_prob, accept, alias, window, negative,
                   input_vectors, output_vectors, lr_start, lr_end, pair_state, noise_state):
    """The fused trainer: subsample, windows, negatives and SGD updates in one pass.

    ids: (N,) int32 whole sentences; sentence_ends: (S,) int64; keep_prob: (V,) float32;
    accept, alias: (V,) noise alias table; input_vectors, output_vectors: (V, d) float32,
    updated in place (Hogwild when several threads share them); lr linear from lr_start at
    the first word to lr_end after the last; pair_state, noise_state: (1,) uint64 streams.
    Draws exactly what `skipgram_pairs_cpu` + `fill_examples_cpu` draw from the same
    streams, so it trains on the same examples as the batch path. Returns (pairs, loss sum).
    """
    n_ids = ids.shape[0]
    kept = np.empty(max(n_ids, 1), dtype=np.int32)
    targets = np.empty(1 + negative, dtype=np.int32)
    scratch = np.empty(input_vectors.shape[1] + 1 + negative, dtype=np.float32)
    n_pairs = 0
    loss = 0.0
    start = 0
    for s in range(sentence_ends.shape[0]):
        end = sentence_ends[s]
        lr = lr_start + (lr_end - lr_start) * (start / n_ids)
        n = subsample_cpu(ids[start:end], keep_prob, pair_state, kept)
        for i in range(n):
            lo, hi = window_bounds(pair_state, i, n, window)
            for j in range(lo, hi):
                if j == i:
                    continue
                targets[0] = kept[j]
                draw_negatives(noise_state, accept, alias, kept[j], targets)
                loss += sgns_update_cpu(kept[i], targets, lr, input_vectors, output_vectors,
                                        scratch)
                n_pairs += 1
        start = end
    return n_pairs, loss


@njit(cache=True, nogil=True, fastmath=True)
def sgns_window_update_cpu(inputs, targets, lr, input_vectors, output_vectors, steps, grads):
    """One SGD step on a window: every input row against the same targets (HogBatch).

    inputs: (m,) int32, the window's context words (input rows); targets: (1 + K,) int32,
    the center word then K negatives shared by the window; steps: (>= m, 1 + K) float32 and
    grads: (>= m, d) float32 scratch. Exactly w2v.sgns on the batch of m examples
    (inputs[a], targets) with its gradients scatter-added: all taken at the old rows, then
    applied. Each target row is read once per window instead of once per pair: that is
    the saving (Ji et al. 2016). Returns the summed loss.
    """
    dim = input_vectors.shape[1]
    m, n_targets = inputs.shape[0], targets.shape[0]
    loss = 0.0
    for a in range(m):
        w = inputs[a]
        for k in range(n_targets):
            t = targets[k]
            score = np.float32(0.0)
            for j in range(dim):
                score += input_vectors[w, j] * output_vectors[t, j]
            term, steps[a, k] = _sgns_term(score, k == 0, lr)
            loss += term
    for a in range(m):
        for j in range(dim):
            grads[a, j] = 0.0
        for k in range(n_targets):
            t = targets[k]
            for j in range(dim):
                grads[a, j] += steps[a, k] * output_vectors[t, j]
    for k in range(n_targets):
        t = targets[k]
        for a in range(m):
            w = inputs[a]
            for j in range(dim):
                output_vectors[t, j] += steps[a, k] * input_vectors[w, j]
    for a in range(m):
        w = inputs[a]
        for j in range(dim):
            input_vectors[w, j] += grads[a, j]
    return loss


@njit(cache=True, nogil=True, fastmath=True)
def sgns_train_windows_cpu(ids, sentence_ends, keep_prob, accept, alias, window, negative,
                           input_vectors, output_vectors, lr_start, lr_end, pair_state,
                           noise_state):
    """The fused trainer with negatives shared across each window (HogBatch variant).

    Same arguments and streams as `sgns_train_cpu`. For each kept center word: draw the
    reduced window, take its context words as inputs and [center, K negatives ≠ center] as
    targets, and step once (`sgns_window_update_cpu`). The same (input, output) pairs as
    word2vec's skip-gram (the context word's input row predicts the center), K negatives
    per pair, but one draw of negatives per window. Returns (pairs, loss sum).
    """
    n_ids = ids.shape[0]
    kept = np.empty(max(n_ids, 1), dtype=np.int32)
    inputs = np.empty(2 * window, dtype=np.int32)
    targets = np.empty(1 + negative, dtype=np.int32)
    steps = np.empty((2 * window, 1 + negative), dtype=np.float32)
    grads = np.empty((2 * window, input_vectors.shape[1]), dtype=np.float32)
    n_pairs = 0
    loss = 0.0
    start = 0
    for s in range(sentence_ends.shape[0]):
        end = sentence_ends[s]
        lr = lr_start + (lr_end - lr_start) * (start / n_ids)
        n = subsample_cpu(ids[start:end], keep_prob, pair_state, kept)
        for i in range(n):
            lo, hi = window_bounds(pair_state, i, n, window)
            m = 0
            for j in range(lo, hi):
                if j != i:
                    inputs[m] = kept[j]
                    m += 1
            if m == 0:
                continue
            targets[0] = kept[i]
            draw_negatives(noise_state, accept, alias, kept[i], targets)
            loss += sgns_window_update_cpu(inputs[:m], targets, lr, input_vectors,
                                           output_vectors, steps, grads)
            n_pairs += m
        start = end
    return n_pairs, loss
