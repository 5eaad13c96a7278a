"""numba CPU kernels: random numbers, skip-gram pairs and negative samples.

Small `@njit(cache=True, nogil=True)` functions over arrays and scalars, with numpy's
error model (a division by zero gives inf or NaN, as in NumPy, rather than raising: a
diverging run's NaN then reaches the reporter, which stops it with one line). Random
state is a (1,) uint64 array passed in and advanced in place, so a caller owns every
stream and a run is reproducible from its seed. No TensorFlow here.

The generator is xorshift64* (Vigna 2016): one multiply and three shifts per draw, and good
enough for sampling (it passes BigCrush but for the lowest bits, which `below` never uses).
"""

from __future__ import annotations

import math
from typing import NamedTuple

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


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def next_u64(state):
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return x * _MULTIPLIER


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def uniform(state):
    """A float64 uniform in [0, 1) from the top 53 bits."""
    return (next_u64(state) >> np.uint64(11)) * _TO_UNIT


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def below(state, n):
    """An int64 uniform in [0, n) (high bits, Lemire-free modulo: bias < n / 2**32)."""
    return np.int64((next_u64(state) >> np.uint64(32)) % np.uint64(n))


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def draw_alias(state, accept, alias):
    i = below(state, accept.shape[0])
    if uniform(state) < accept[i]:
        return i
    return np.int64(alias[i])


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def draw_negatives(state, accept, alias, excluded, targets):
    """Fill targets[1:] with noise words, each drawn again while it equals `excluded`
    (word2vec skips a negative equal to its positive word)."""
    for k in range(1, targets.shape[0]):
        noise = draw_alias(state, accept, alias)
        while noise == excluded and accept.shape[0] > 1:
            noise = draw_alias(state, accept, alias)
        targets[k] = noise


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def window_bounds(state, i, n, window):
    """Draw b uniform in 1..window; the positions lo..hi-1 around i, clipped to 0..n."""
    b = 1 + below(state, window)
    return max(i - b, 0), min(i + b + 1, n)


@njit(cache=True, nogil=True, error_model="numpy")
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


@njit(cache=True, nogil=True, error_model="numpy")
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


@njit(cache=True, nogil=True, error_model="numpy")
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
    log1p(e) for e in (0, 1] is its series in t = e / (2 + e) ≤ 1/3 (log1p(e) = 2 atanh t),
    six terms: within 1e-7 of it, and several times cheaper than the libm call, which
    took a third of the skip-gram kernel's time (the loss is only reported; the step
    does not use it). Plain Python: kernels/cpu.py compiles it with njit, kernels/cuda.py
    as a device function (hence `math`, and no `max`, which the CUDA target does not type
    here).
    """
    e = math.exp(-abs(score))
    sigma = 1.0 / (1.0 + e) if score >= 0 else e / (1.0 + e)
    signed = -score if positive else score
    t = e / (2.0 + e)
    t2 = t * t
    log1p_e = 2.0 * t * (1.0 + t2 * (1.0 / 3 + t2 * (1.0 / 5 + t2 * (1.0 / 7 + t2 * (
        1.0 / 9 + t2 * (1.0 / 11))))))
    loss = (signed if signed > 0 else 0.0) + log1p_e
    return loss, ((1.0 if positive else 0.0) - sigma) * lr


_sgns_term = njit(cache=True, nogil=True, error_model="numpy", inline="always")(sgns_term)

TABLE_RANGE = 8.0
"""Scores in (−TABLE_RANGE, TABLE_RANGE) are read from SIGMOID_TABLE; the rest (rare once
training is under way: σ(8) = 0.99966) take `sgns_term`'s exp."""
TABLE_STEPS = 128  # table points per unit of score


def sigmoid_table() -> np.ndarray:
    """(2·TABLE_RANGE·TABLE_STEPS + 1, 2) float32: σ(s) and −log σ(s) at s = −TABLE_RANGE,
    −TABLE_RANGE + 1/TABLE_STEPS, …, TABLE_RANGE, computed in float64."""
    s = np.arange(-TABLE_RANGE * TABLE_STEPS, TABLE_RANGE * TABLE_STEPS + 1) / TABLE_STEPS
    return np.stack([1.0 / (1.0 + np.exp(-s)), np.logaddexp(0.0, -s)], axis=1).astype(np.float32)


SIGMOID_TABLE = sigmoid_table()


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True, inline="always")
def sgns_term_cpu(score, positive, lr):
    """`sgns_term` for the CPU kernels: σ(s) and −log σ(s) interpolated linearly in
    SIGMOID_TABLE (16 KB, its busy middle L1-resident), exact beyond it.

    The interpolation error is at most h²/8 · max|f''| with h = 1/TABLE_STEPS: 8e-7 for σ
    (|σ''| ≤ 0.097) and 2e-6 for the loss (|(−log σ)''| ≤ 1/4), absolute; below float32's
    own rounding of the rows the step moves (tests/test_numba_backend.py checks both on a
    dense grid). The exp, two divisions and log1p series of `sgns_term` cost about as much
    as the dot product beside them: the table made the skip-gram hierarchical-softmax
    kernel 14 % faster on one thread (463k against 405k ids/s, gut8's first 2M words). A
    negative's loss −log(1 − σ(s)) is −log σ(s) + s, so one loss column serves both
    labels. NaN (a diverged run) fails the range test and takes the exact path, which
    passes it on.
    """
    x = (score + TABLE_RANGE) * TABLE_STEPS
    if not (x >= 0.0 and x < 2.0 * TABLE_RANGE * TABLE_STEPS):
        return _sgns_term(score, positive, lr)
    i = int(x)
    frac = x - i
    sigma = SIGMOID_TABLE[i, 0] + frac * (SIGMOID_TABLE[i + 1, 0] - SIGMOID_TABLE[i, 0])
    loss = SIGMOID_TABLE[i, 1] + frac * (SIGMOID_TABLE[i + 1, 1] - SIGMOID_TABLE[i, 1])
    if positive:
        return loss, (1.0 - sigma) * lr
    return loss + score, -sigma * lr


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True, inline="always")
def dot(x, y):
    """x · y of two (d,) float32 rows: one vector loop (BLAS's sdot)."""
    total = np.float32(0.0)
    for j in range(x.shape[0]):
        total += x[j] * y[j]
    return total


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True, inline="always")
def axpy(a, x, y):
    """y += a · x for (d,) float32 rows, in place: one vector loop (BLAS's saxpy)."""
    a = np.float32(a)
    for j in range(x.shape[0]):
        y[j] += a * x[j]


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True, inline="always")
def read_and_step(a, row, h, grad):
    """grad += a · row, then row += a · h, for (d,) float32 rows in one pass over row:
    `axpy(a, row, grad); axpy(a, h, row)` with the same arithmetic and one load of row
    instead of two (CBOW-HS on one thread: 6 % faster, median of 11 interleaved rounds)."""
    a = np.float32(a)
    for j in range(row.shape[0]):
        r = row[j]
        grad[j] += a * r
        row[j] = r + a * h[j]


NO_TREE = (np.empty(0, np.int8), np.empty(0, np.int32), np.empty(0, np.int64))
"""The `tree` argument of the trainers without hierarchical softmax: (codes, points,
offsets) all empty (w2v.vocab.HuffmanTree holds a real one)."""


@njit(cache=True, nogil=True, error_model="numpy")
def tree_depth(tree):
    """The longest path of a (codes, points, offsets) tree; 0 for NO_TREE."""
    offsets = tree[2]
    depth = 0
    for w in range(offsets.shape[0] - 1):
        depth = max(depth, offsets[w + 1] - offsets[w])
    return depth


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def head_buffers(n_ids, negative, tree):
    """The buffers of a kernel that subsamples n_ids ids and fills a prediction's targets
    (`fill_targets`): (kept (max(n_ids, 1),) int32, targets (T,) int32, labels (T,)
    float32), T = 1 + K + the tree's depth, the most targets a prediction can have."""
    most = 1 + negative + tree_depth(tree)
    return (np.empty(max(n_ids, 1), dtype=np.int32), np.empty(most, dtype=np.int32),
            np.empty(most, dtype=np.float32))


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def fill_targets(word, negative, noise_state, accept, alias, tree, node_base, targets, labels):
    """The targets of one prediction of `word`, in targets[:T] and labels[:T]; returns T.

    Negative sampling (negative > 0): `word` itself (label 1), then `negative` noise words
    drawn from noise_state, each ≠ word (label 0), as `fill_examples_cpu` draws them.
    Hierarchical softmax (a tree, w2v.vocab.HuffmanTree): the inner nodes of word's path,
    rows node_base + node of the output table, label 1 − code.
    """
    t = 0
    if negative > 0:
        targets[0] = word
        draw_negatives(noise_state, accept, alias, word, targets[:1 + negative])
        labels[0] = 1.0
        for k in range(1, 1 + negative):
            labels[k] = 0.0
        t = 1 + negative
    codes, points, offsets = tree
    if offsets.shape[0] > 0:
        for p in range(offsets[word], offsets[word + 1]):
            targets[t] = node_base + points[p]
            labels[t] = 1.0 - codes[p]
            t += 1
    return t


class Rows(NamedTuple):
    """A table as one thread steps it: the rows of `shared` ((R, d) float32, the table the
    threads share), except its first `hot` rows and its rows from `first_node` on, which
    the thread steps in `private` instead: (P, d) float32, those rows in that order
    (P = hot + R − first_node), added into shared now and then (`merge_private`). merged:
    (P, d) float32, private as of the last merge. One thread, or the unfused reference
    path: nothing private (`shared_rows`), and every row is the shared one (`slot`)."""
    shared: np.ndarray
    private: np.ndarray
    merged: np.ndarray
    hot: int
    first_node: int


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def shared_rows(table):
    """`table` ((R, d) float32) as a Rows with no private rows."""
    return Rows(table, table[:0], table[:0], 0, table.shape[0])


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def private_rows(table, hot, first_node):
    """`table` as a Rows whose first `hot` rows and rows from `first_node` on are stepped
    in a copy of this thread's own (0 <= hot <= first_node <= R)."""
    private = np.empty((hot + table.shape[0] - first_node, table.shape[1]), dtype=np.float32)
    private[:hot] = table[:hot]
    private[hot:] = table[first_node:]
    return Rows(table, private, private.copy(), hot, first_node)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def thread_rows(input_vectors, output_vectors, node_base, negative, hot_words, private_nodes):
    """The (input, output) Rows of a thread that shares the tables with others.

    Private, in each: the `hot_words` most frequent words' rows (ids 0..; the input rows,
    and the output rows when negative sampling steps them: the noise words), and the
    tree's top `private_nodes` inner nodes, the last rows of output_vectors (the root
    last). Rows every thread steps many times a millisecond are where threads fight over
    cache lines; each stepping its own copy, merged every few thousand predictions, they
    do not. On the tree's nodes: 2 threads on CBOW-HS made 1.41x one thread's words/s
    before, 1.79x with the top 255 nodes private, merged every 1,024 (gut8's first 2.1M
    words, median of 5 rounds in one process); on the hot words,
    benchmarks/results/private_rows.md. hot_words = private_nodes = 0: nothing private."""
    n_words = input_vectors.shape[0]
    hot_in = min(hot_words, n_words)
    hot_out = hot_in if negative > 0 else 0
    top = min(private_nodes, output_vectors.shape[0] - node_base)
    return (private_rows(input_vectors, hot_in, n_words),
            private_rows(output_vectors, hot_out, output_vectors.shape[0] - top))


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def slot(hot, first_node, t):
    """Where a thread steps row t of a Rows' table (given its `hot` and `first_node`):
    (True, the row's index in private) or (False, t, its index in shared). Scalars only: a
    kernel takes the row as `private[i] if mine else shared[i]` in its own body, with the
    Rows unpacked there once. A helper that returned the view (or took the arrays and chose
    between them) made numba count references on every row (an atomic increment of the
    shared table's count, which two threads then fight over): the skip-gram kernel ran
    at 0.69 of its speed on one thread."""
    if t < hot:
        return True, t
    if t >= first_node:
        return True, hot + t - first_node
    return False, t


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def merge_private(inputs, outputs):
    """For both tables' Rows: adds each private row's change since the last merge
    (private − merged) to its shared row, then takes the shared row, which holds the other
    threads' merged changes too, as the new private and merged copies. A kernel merges
    every `merge_every` predictions (counting down `until_merge`) and at its end."""
    for rows in (inputs, outputs):
        for j in range(rows.private.shape[0]):
            t = j if j < rows.hot else rows.first_node + j - rows.hot
            shared = rows.shared[t]
            private, merged = rows.private[j], rows.merged[j]
            for x in range(shared.shape[0]):
                value = shared[x] + (private[x] - merged[x])
                shared[x] = value
                private[x] = value
                merged[x] = value


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True, inline="always")
def head_update_cpu(h, grad, targets, labels, repeatable, lr, outputs, steps):
    """One SGD step of w2v.heads' binary log-loss for one input vector, in place.

    h: (d,) float32, the input vector (a row of the input table, or CBOW's mean); grad: (d,)
    float32, to which −lr · ∂loss/∂h is added (the caller zeroes it); targets: (T,) int32
    rows of `outputs` (a Rows); labels: (T,) float32 (1 or 0); repeatable: how many
    leading targets may repeat (the noise words: the tree's nodes never do); steps:
    (>= T,) float32 scratch. Every score is taken at the rows as they were before the
    step, then the rows move (a target listed twice gets both updates). Returns the loss.
    """
    shared, private, _, hot, first_node = outputs
    n_targets = targets.shape[0]
    loss = 0.0
    repeated = False
    for k in range(n_targets):
        t = targets[k]
        if k < repeatable:
            for m in range(k):
                repeated |= targets[m] == t
        mine, i = slot(hot, first_node, t)
        target = private[i] if mine else shared[i]
        term, steps[k] = sgns_term_cpu(dot(h, target), labels[k] > 0.5, lr)
        loss += term
    if repeated:  # a row listed twice: all gradients first, then all updates
        for k in range(n_targets):
            mine, i = slot(hot, first_node, targets[k])
            axpy(steps[k], private[i] if mine else shared[i], grad)
        for k in range(n_targets):
            mine, i = slot(hot, first_node, targets[k])
            axpy(steps[k], h, private[i] if mine else shared[i])
    else:  # the common case: each row read, then moved
        for k in range(n_targets):
            mine, i = slot(hot, first_node, targets[k])
            read_and_step(steps[k], private[i] if mine else shared[i], h, grad)
    return loss


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def sgns_update_cpu(center, targets, labels, repeatable, lr, inputs, outputs, scratch):
    """One SGD step for one (input word, targets) example, in place; returns its loss.

    center: int, the input row; targets, labels, repeatable: as `head_update_cpu`; inputs,
    outputs: the tables as Rows; scratch: (d + T,) float32. Exactly w2v.heads on a batch
    of one (negative sampling: w2v.sgns).
    """
    shared, private, _, hot, first_node = inputs
    mine, i = slot(hot, first_node, center)
    h = private[i] if mine else shared[i]
    dim = h.shape[0]
    grad = scratch[:dim]
    grad[:] = 0.0
    loss = head_update_cpu(h, grad, targets, labels, repeatable, lr, outputs, scratch[dim:])
    axpy(1.0, grad, h)
    return loss


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def sgns_examples_cpu(examples, lr_start, lr_end, input_vectors, output_vectors):
    """Train on examples (n, 1 + 1 + K) int32 in order, lr linear from lr_start to lr_end.

    The unfused reference path of the numba backend (and what its tests compare with):
    returns the summed loss.
    """
    n_targets = examples.shape[1] - 1
    scratch = np.empty(input_vectors.shape[1] + n_targets, dtype=np.float32)
    labels = np.zeros(n_targets, dtype=np.float32)
    labels[0] = 1.0
    n = examples.shape[0]
    inputs, outputs = shared_rows(input_vectors), shared_rows(output_vectors)
    loss = 0.0
    for i in range(n):
        lr = lr_start + (lr_end - lr_start) * (i / n)
        loss += sgns_update_cpu(examples[i, 0], examples[i, 1:], labels, n_targets, lr,
                                inputs, outputs, scratch)
    return loss


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def sgns_train_cpu(ids, sentence_ends, sampling, tree, window, negative, input_vectors,
                   output_vectors, lr_start, lr_end, pair_state, noise_state, hot_words=0,
                   private_nodes=0, merge_every=1024):
    """The fused skip-gram trainer, per pair: subsample, windows, targets and SGD updates in
    one pass.

    ids: (N,) int32 whole sentences; sentence_ends: (S,) int64; sampling: (keep_prob (V,)
    float32, accept (V,) float32, alias (V,) int32), the subsampling rule and the noise
    alias table; tree: a Huffman tree's (codes, points, offsets) for hierarchical softmax,
    or NO_TREE; input_vectors (V, d) and output_vectors (V + tree nodes, d) float32, updated
    in place (Hogwild when several threads share them); lr linear from lr_start at the
    first word to lr_end after the last; pair_state, noise_state: (1,) uint64 streams.
    Each (center, context) pair is one example: the center's input row predicts the
    context word (its noise words; its path). Without a tree it draws exactly what
    `skipgram_pairs_cpu` + `fill_examples_cpu` draw from the same streams, so it trains on
    the same examples as the batch path. Returns (pairs, loss sum).

    hot_words, private_nodes: when threads share the tables, each call steps the most
    frequent words' rows and the tree's top inner nodes in copies of its own
    (`thread_rows`), merged every `merge_every` center words and at its end; 0 and 0 (one
    thread) step the shared rows directly, exactly w2v.heads.
    """
    keep_prob, accept, alias = sampling
    n_ids = ids.shape[0]
    node_base = keep_prob.shape[0]
    kept, targets, labels = head_buffers(n_ids, negative, tree)
    most = targets.shape[0]
    scratch = np.empty(input_vectors.shape[1] + most, dtype=np.float32)
    repeatable = 1 + negative if negative > 0 else 0
    inputs, outputs = thread_rows(input_vectors, output_vectors, node_base, negative,
                                  hot_words, private_nodes)
    until_merge = merge_every
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
                t = fill_targets(kept[j], negative, noise_state, accept, alias, tree,
                                 node_base, targets, labels)
                loss += sgns_update_cpu(kept[i], targets[:t], labels[:t], repeatable, lr,
                                        inputs, outputs, scratch)
                n_pairs += 1
            until_merge -= 1
            if until_merge == 0:
                merge_private(inputs, outputs)
                until_merge = merge_every
        start = end
    merge_private(inputs, outputs)
    return n_pairs, loss


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def sgns_window_update_cpu(contexts, targets, labels, lr, inputs, outputs, steps, grads):
    """One SGD step on a window: every input row against the same targets (HogBatch).

    contexts: (m,) int32, the window's context words (rows of `inputs`, a Rows); targets:
    (T,) int32 rows of `outputs` (a Rows) shared by the window, labels (T,) float32 their
    labels; steps: (>= m, >= T) float32 and grads: (>= m, d) float32 scratch. Exactly
    w2v.heads on the batch of m examples (contexts[a], targets) with its gradients
    scatter-added: all taken at the old rows, then applied. Each target row is read once
    per window instead of once per pair: that is the saving (Ji et al. 2016). Returns the
    summed loss.
    """
    in_shared, in_private, _, in_hot, in_first = inputs
    shared, private, _, hot, first_node = outputs
    m = contexts.shape[0]
    n_targets = targets.shape[0]
    loss = 0.0
    for a in range(m):
        mine, i = slot(in_hot, in_first, contexts[a])
        h = in_private[i] if mine else in_shared[i]
        for k in range(n_targets):
            mine, j = slot(hot, first_node, targets[k])
            target = private[j] if mine else shared[j]
            term, steps[a, k] = sgns_term_cpu(dot(h, target), labels[k] > 0.5, lr)
            loss += term
    grads[:m] = 0.0
    for k in range(n_targets):  # grads[a] += Σ_k steps[a, k] · target k, k in order
        mine, j = slot(hot, first_node, targets[k])
        target = private[j] if mine else shared[j]
        for a in range(m):
            axpy(steps[a, k], target, grads[a])
    for k in range(n_targets):  # target k += Σ_a steps[a, k] · input a
        mine, j = slot(hot, first_node, targets[k])
        target = private[j] if mine else shared[j]
        for a in range(m):
            mine, i = slot(in_hot, in_first, contexts[a])
            axpy(steps[a, k], in_private[i] if mine else in_shared[i], target)
    for a in range(m):
        mine, i = slot(in_hot, in_first, contexts[a])
        axpy(1.0, grads[a], in_private[i] if mine else in_shared[i])
    return loss


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def sgns_train_windows_cpu(ids, sentence_ends, sampling, tree, window, negative, input_vectors,
                           output_vectors, lr_start, lr_end, pair_state, noise_state,
                           hot_words=0, private_nodes=0, merge_every=1024):
    """The fused skip-gram trainer with targets shared across each window (HogBatch).

    Same arguments and streams as `sgns_train_cpu`. For each kept center word: draw the
    reduced window, take its context words as inputs and the center's targets (the center
    and K noise words ≠ center; the center's path) for all of them, and step once
    (`sgns_window_update_cpu`). The same (input, output) pairs as word2vec's skip-gram
    (the context word's input row predicts the center), K negatives per pair, but one draw
    of negatives per window. Returns (pairs, loss sum). hot_words, private_nodes,
    merge_every: as `sgns_train_cpu`.
    """
    keep_prob, accept, alias = sampling
    n_ids = ids.shape[0]
    node_base = keep_prob.shape[0]
    kept, targets, labels = head_buffers(n_ids, negative, tree)
    most = targets.shape[0]
    contexts = np.empty(2 * window, dtype=np.int32)
    steps = np.empty((2 * window, most), dtype=np.float32)
    grads = np.empty((2 * window, input_vectors.shape[1]), dtype=np.float32)
    inputs, outputs = thread_rows(input_vectors, output_vectors, node_base, negative,
                                  hot_words, private_nodes)
    until_merge = merge_every
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
                    contexts[m] = kept[j]
                    m += 1
            if m == 0:
                continue
            t = fill_targets(kept[i], negative, noise_state, accept, alias, tree, node_base,
                             targets, labels)
            loss += sgns_window_update_cpu(contexts[:m], targets[:t], labels[:t], lr, inputs,
                                           outputs, steps, grads)
            n_pairs += m
            until_merge -= 1
            if until_merge == 0:
                merge_private(inputs, outputs)
                until_merge = merge_every
        start = end
    merge_private(inputs, outputs)
    return n_pairs, loss


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def cbow_train_cpu(ids, sentence_ends, sampling, tree, window, negative, cbow_mean,
                   input_vectors, output_vectors, lr_start, lr_end, pair_state, noise_state,
                   hot_words=0, private_nodes=0, merge_every=1024):
    """The fused CBOW trainer: subsample, windows, targets and SGD updates in one pass.

    Same arguments and streams as `sgns_train_cpu`, and cbow_mean: the input is the mean of
    the window's context rows (else their sum). For each kept center word with at least
    one kept context word: h from the contexts, then one step of w2v.heads' loss for h
    against the center's targets (the center and K noise words ≠ center; the center's
    path), every score at the old rows; every context row then moves by −lr ∂loss/∂h,
    word2vec.c's and gensim's rule (w2v.heads.cbow_step_scale). Returns (predictions, loss
    sum): one prediction per center trained.

    hot_words, private_nodes, merge_every: as `sgns_train_cpu`, merging every
    `merge_every` predictions.
    """
    keep_prob, accept, alias = sampling
    n_ids = ids.shape[0]
    dim = input_vectors.shape[1]
    node_base = keep_prob.shape[0]
    kept, targets, labels = head_buffers(n_ids, negative, tree)
    most = targets.shape[0]
    steps = np.empty(most, dtype=np.float32)
    h = np.empty(dim, dtype=np.float32)
    grad = np.empty(dim, dtype=np.float32)
    repeatable = 1 + negative if negative > 0 else 0
    inputs, outputs = thread_rows(input_vectors, output_vectors, node_base, negative,
                                  hot_words, private_nodes)
    in_shared, in_private, _, in_hot, in_first = inputs
    until_merge = merge_every
    predictions = 0
    loss = 0.0
    start = 0
    for s in range(sentence_ends.shape[0]):
        end = sentence_ends[s]
        lr = lr_start + (lr_end - lr_start) * (start / n_ids)
        n = subsample_cpu(ids[start:end], keep_prob, pair_state, kept)
        for i in range(n):
            lo, hi = window_bounds(pair_state, i, n, window)
            m = hi - lo - 1
            if m <= 0:
                continue
            h[:] = 0.0
            for c in range(lo, hi):
                if c != i:
                    mine, r = slot(in_hot, in_first, kept[c])
                    axpy(1.0, in_private[r] if mine else in_shared[r], h)
            if cbow_mean:
                h *= np.float32(1.0 / m)
            t = fill_targets(kept[i], negative, noise_state, accept, alias, tree, node_base,
                             targets, labels)
            grad[:] = 0.0
            loss += head_update_cpu(h, grad, targets[:t], labels[:t], repeatable, lr, outputs,
                                    steps)
            for c in range(lo, hi):
                if c != i:
                    mine, r = slot(in_hot, in_first, kept[c])
                    axpy(1.0, grad, in_private[r] if mine else in_shared[r])
            predictions += 1
            until_merge -= 1
            if until_merge == 0:
                merge_private(inputs, outputs)
                until_merge = merge_every
        start = end
    merge_private(inputs, outputs)
    return predictions, loss


@njit(cache=True, nogil=True, error_model="numpy")
def huffman_tree_cpu(counts):
    """word2vec.c's Huffman tree over words sorted by falling count (CreateBinaryTree).

    counts: (V,) int64, most frequent first. Returns (codes (N,) int8, points (N,) int32,
    offsets (V + 1,) int64): word w's path from the root is points[offsets[w]:offsets[w+1]]
    (inner nodes, 0..V−2, the root V − 2 first) with the code bits codes[...] of the branch
    taken at each. Ties break as word2vec.c breaks them, so the trees are the same.
    """
    v = counts.shape[0]
    count = np.empty(2 * v, dtype=np.float64)
    count[:v] = counts
    count[v:] = 1e15
    parent = np.zeros(2 * v, dtype=np.int64)
    binary = np.zeros(2 * v, dtype=np.int8)
    pos1, pos2 = v - 1, v
    for a in range(v - 1):
        smallest = np.empty(2, dtype=np.int64)
        for k in range(2):
            if pos1 >= 0 and count[pos1] < count[pos2]:
                smallest[k] = pos1
                pos1 -= 1
            else:
                smallest[k] = pos2
                pos2 += 1
        count[v + a] = count[smallest[0]] + count[smallest[1]]
        parent[smallest[0]] = v + a
        parent[smallest[1]] = v + a
        binary[smallest[1]] = 1
    lengths = np.zeros(v, dtype=np.int64)
    for w in range(v if v > 1 else 0):
        b, n = w, 0
        while b != 2 * v - 2:
            n += 1
            b = parent[b]
        lengths[w] = n
    offsets = np.zeros(v + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(lengths)
    codes = np.empty(offsets[v], dtype=np.int8)
    points = np.empty(offsets[v], dtype=np.int32)
    for w in range(v if v > 1 else 0):
        b, i, end = w, 0, offsets[w + 1]
        while b != 2 * v - 2:  # leaf to root: fill the path from its end
            i += 1
            codes[end - i] = binary[b]
            points[end - i] = parent[b] - v
            b = parent[b]
    return codes, points, offsets


@njit(cache=True, nogil=True, error_model="numpy")
def cbow_examples_cpu(ids, sentence_ends, keep_prob, accept, alias, window, negative,
                      pair_state, noise_state, examples):
    """CBOW's training examples, drawn exactly as `cbow_train_cpu` draws them.

    One row per kept center word with at least one kept context word: [center, its
    2·window context slots (the context words, then −1), K noise words ≠ center].
    examples: (M, 1 + 2·window + K) int32 output with M >= len(ids), or (0, ...) to only
    count (the noise stream is then not drawn from). Returns the number of rows.
    """
    write = examples.shape[0] > 0
    slots = 2 * window
    kept = np.empty(max(ids.shape[0], 1), dtype=np.int32)
    rows = 0
    start = 0
    for s in range(sentence_ends.shape[0]):
        end = sentence_ends[s]
        n = subsample_cpu(ids[start:end], keep_prob, pair_state, kept)
        for i in range(n):
            lo, hi = window_bounds(pair_state, i, n, window)
            if hi - lo - 1 <= 0:
                continue
            if write:
                examples[rows, 0] = kept[i]
                slot = 1
                for c in range(lo, hi):
                    if c != i:
                        examples[rows, slot] = kept[c]
                        slot += 1
                for k in range(slot, 1 + slots):
                    examples[rows, k] = -1
                if negative > 0:  # fills columns 1 + slots ..; column slots is left as is
                    draw_negatives(noise_state, accept, alias, kept[i],
                                   examples[rows, slots:slots + 1 + negative])
            rows += 1
        start = end
    return rows
