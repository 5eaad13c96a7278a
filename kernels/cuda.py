"""numba.cuda kernels: the fused SGNS trainer and sparse row scatter-adds, on the device.

Imported only by the cuda backend (w2v/backends/cuda_backend.py), its tests and
benchmarks; no TensorFlow. Under numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1, set before
numba is imported) every kernel runs on the CPU, slowly: that is how CI tests them.

Random numbers are counter-based: a draw is splitmix64 of (a per-epoch key, the corpus
position of a word, the draw's index); an epoch's two keys are its stream row 0
(w2v/streams.py): keep_key for subsampling, draw_key for windows and negatives. No
generator state passes between threads or launches, the draws do not depend on the launch
geometry, and the host replays exactly what a block drew (`window_examples`, compiled
from the same Python function).

The training kernel gives each center word to one thread block (a grid-stride loop over
the corpus positions of a launch). Thread 0 decides subsampling and the reduced window,
walks to the kept context words and draws K negatives shared by the window (HogBatch, as
the numba backend's default); the block then loads those rows into shared memory, scores
every (context, target) pair, and adds the SGNS updates to the tables:
- "hogwild": straight away with atomic adds (blocks race as word2vec's threads do);
- "batched": into per-center slots, summed per row by `scatter_add(..., "segments")` after
  the launch, in a fixed order: every block of a launch reads the tables as they were
  before it, and a seeded run is reproducible bit for bit.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import warnings

import numpy as np
from numba import cuda, float32, float64, int32, int64, njit, uint64

from w2v.kernels.cpu import NO_TREE, sgns_term

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_UNIT24 = np.float32(1.0 / (1 << 24))
_LOW24 = np.uint64(0xFFFFFF)

SHARED_MEMORY_BYTES = 48 * 1024  # static shared memory a block may use on every CUDA GPU
SCATTER_METHODS = ("atomic", "segments", "auto")
# `scatter_add(method="auto")` sorts when more than this share of rows are repeats.
# A guess, not yet measured on a GPU: `python -m benchmarks.gpu --scatter` measures it.
SEGMENTS_ABOVE_DUPLICATE_RATE = 0.9


# Device-agnostic helpers: plain Python, compiled once by numba.cuda (the kernels) and once
# by njit (the host replay). Every integer is cast to uint64/int64 explicitly: numba types
# uint64 op int64 as float64.

def _mix(z):
    """splitmix64's output function of z + golden ratio: 64 well-mixed bits."""
    z = z + _GOLDEN
    z = (z ^ (z >> uint64(30))) * _MIX1
    z = (z ^ (z >> uint64(27))) * _MIX2
    return z ^ (z >> uint64(31))


def _unit(bits):
    """A float32 uniform in [0, 1) from the low 24 bits."""
    return float32(bits & _LOW24) * _UNIT24


def _below(bits, n):
    """An int64 uniform in [0, n) from the high 32 bits (multiply-shift, n < 2**32)."""
    return int64(((bits >> uint64(32)) * uint64(n)) >> uint64(32))


def _make_helpers(jit):
    mix, unit, below = jit(_mix), jit(_unit), jit(_below)

    @jit
    def kept(word, position, keep_prob, keep_key):
        """Does subsampling keep the word at corpus `position`? (one draw per position)"""
        p = keep_prob[word]
        return p >= 1.0 or unit(mix(keep_key ^ uint64(position))) < p

    @jit
    def nth_draw(base, n):
        return mix(base + uint64(n) * _GOLDEN)

    def gather_window(ids, ends, offset, p, keep_prob, accept, alias, window, negative, codes,
                      points, offsets, node_base, keep_key, draw_key, inputs, targets, labels):
        """The training window of the center at ids[p]; returns (m, t): its context count
        and its target count.

        ids: (N,) int32 whole sentences; ends: (S,) int64 sentence end offsets into ids;
        offset: corpus position of ids[0]; inputs: (>= 2·window,) int32 out, the kept
        context words (left side nearest first, then the right side); targets, labels:
        (>= t,) out: with negative > 0, [center, K negatives ≠ center] labelled [1, 0, ...];
        with a tree ((codes, points, offsets) non-empty), then the center's path, rows
        node_base + node labelled 1 − code. m = 0 when the center is subsampled away or
        has no kept neighbour (inputs and targets are then not written).

        As word2vec: b uniform in 1..window, then the b nearest *kept* words on each side
        within the sentence (subsampling happens before the window is drawn).
        """
        word = ids[p]
        if not kept(word, offset + p, keep_prob, keep_key):
            return 0, 0
        lo, hi = 0, ends.shape[0]  # the sentence holding p: first end > p
        while lo < hi:
            mid = (lo + hi) // 2
            if ends[mid] <= p:
                lo = mid + 1
            else:
                hi = mid
        start = ends[lo - 1] if lo > 0 else 0
        end = ends[lo]
        base = mix(draw_key ^ uint64(offset + p))
        b = 1 + below(nth_draw(base, 0), window)
        m = 0
        q, found = p - 1, 0
        while q >= start and found < b:
            if kept(ids[q], offset + q, keep_prob, keep_key):
                inputs[m] = ids[q]
                m += 1
                found += 1
            q -= 1
        q, found = p + 1, 0
        while q < end and found < b:
            if kept(ids[q], offset + q, keep_prob, keep_key):
                inputs[m] = ids[q]
                m += 1
                found += 1
            q += 1
        if m == 0:
            return 0, 0
        t = 0
        if negative > 0:
            targets[0] = word
            labels[0] = float32(1.0)
            n_words, draw = accept.shape[0], 1
            for k in range(1, 1 + negative):
                while True:  # alias draw; a noise word equal to the center is drawn again
                    bits = nth_draw(base, draw)
                    draw += 1
                    i = below(bits, n_words)
                    noise = i if unit(bits) < accept[i] else int64(alias[i])
                    if noise != word or n_words == 1:
                        break
                targets[k] = noise
                labels[k] = float32(0.0)
            t = 1 + negative
        if offsets.shape[0] > 0:
            for q in range(offsets[word], offsets[word + 1]):
                targets[t] = node_base + points[q]
                labels[t] = float32(1.0) - float32(codes[q])
                t += 1
        return m, t

    return jit(gather_window)


_gather_window_host = _make_helpers(njit(cache=False))
_gather_window_device = _make_helpers(cuda.jit(device=True))
_sgns_term_device = cuda.jit(device=True)(sgns_term)  # the CPU kernels' formula, on the GPU


def window_examples(ids, ends, offset, p, keep_prob, accept, alias, window, negative,
                    keep_key, draw_key, tree=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """On the host, what the training kernel draws for the center at ids[p].

    tree: (codes, points, offsets) of hierarchical softmax, or None. Returns (inputs (m,)
    int32, targets (t,) int32, labels (t,) float32); m = 0 when it trains nothing, and then
    targets are not drawn (t = 0)."""
    codes, points, offsets = tree if tree is not None else NO_TREE
    depth = int(np.diff(offsets).max()) if len(offsets) > 1 else 0
    inputs = np.empty(2 * window, dtype=np.int32)
    targets = np.empty(1 + negative + depth, dtype=np.int32)
    labels = np.empty(1 + negative + depth, dtype=np.float32)
    with _quiet_overflow():
        m, t = _gather_window_host(ids, ends, np.int64(offset), np.int64(p), keep_prob, accept,
                                   alias, np.int64(window), np.int64(negative), codes, points,
                                   offsets, np.int64(len(keep_prob)), keep_key, draw_key,
                                   inputs, targets, labels)
    return inputs[:m].copy(), targets[:t].copy(), labels[:t].copy()


@functools.lru_cache(maxsize=None)
def _train_kernel(dim: int, window: int, negative: int, depth: int, threads: int, hogwild: bool,
                  cbow: bool = False, cbow_mean: bool = True):
    """The fused training kernel for one shape (shared arrays need compile-time sizes):
    depth is the tree's longest path (0 without hierarchical softmax)."""
    most_inputs = 2 * window
    n_targets = (1 + negative if negative > 0 else 0) + depth
    gather, term_and_step = _gather_window_device, _sgns_term_device

    @cuda.jit
    def train(ids, ends, offset, first, last, keep_prob, accept, alias, window_, negative_,
              codes, points, offsets, node_base, keep_key, draw_key, lr_first, lr_step,
              input_vectors, output_vectors, losses, pairs, rows_in, updates_in, rows_out,
              updates_out):
        tid = cuda.threadIdx.x
        block = cuda.blockIdx.x
        inputs = cuda.shared.array(most_inputs, int32)
        targets = cuda.shared.array(n_targets, int32)
        labels = cuda.shared.array(n_targets, float32)
        count = cuda.shared.array(2, int32)
        w = cuda.shared.array((most_inputs, dim), float32)  # old input rows of the window
        u = cuda.shared.array((n_targets, dim), float32)  # old output rows of its targets
        h = cuda.shared.array(dim, float32)  # CBOW: the context rows' mean (or sum)
        steps = cuda.shared.array((most_inputs, n_targets), float32)  # −lr · ∂loss/∂score
        loss = float64(0.0)
        for p in range(first + block, last, cuda.gridDim.x):
            if tid == 0:
                count[0], count[1] = gather(ids, ends, offset, p, keep_prob, accept, alias,
                                            window_, negative_, codes, points, offsets,
                                            node_base, keep_key, draw_key, inputs, targets,
                                            labels)
            cuda.syncthreads()
            m, t = count[0], count[1]
            slot = p - first
            if not hogwild:  # every slot of the center is written: unused ones get row −1
                for a in range(tid, most_inputs, threads):
                    rows_in[slot, a] = inputs[a] if a < m else -1
                for k in range(tid, n_targets, threads):
                    rows_out[slot, k] = targets[k] if m > 0 and k < t else -1
            if m > 0:
                lr = float32(lr_first + lr_step * p)
                for i in range(tid, m * dim, threads):
                    a = i // dim
                    w[a, i - a * dim] = input_vectors[inputs[a], i - a * dim]
                for i in range(tid, t * dim, threads):
                    k = i // dim
                    u[k, i - k * dim] = output_vectors[targets[k], i - k * dim]
                cuda.syncthreads()
                if cbow:  # one input vector: h from the contexts, scored against each target
                    for j in range(tid, dim, threads):
                        total = float32(0.0)
                        for a in range(m):
                            total += w[a, j]
                        h[j] = total / m if cbow_mean else total
                    cuda.syncthreads()
                    for k in range(tid, t, threads):
                        score = float32(0.0)
                        for j in range(dim):
                            score += h[j] * u[k, j]
                        term, steps[0, k] = term_and_step(score, labels[k] > 0.5, lr)
                        loss += term
                else:  # skip-gram: each context row against each target
                    for i in range(tid, m * t, threads):
                        a = i // t
                        k = i - a * t
                        score = float32(0.0)
                        for j in range(dim):
                            score += w[a, j] * u[k, j]
                        term, steps[a, k] = term_and_step(score, labels[k] > 0.5, lr)
                        loss += term
                cuda.syncthreads()
                for i in range(tid, m * dim, threads):  # each input row's step
                    a = i // dim
                    j = i - a * dim
                    g = float32(0.0)
                    for k in range(t):  # CBOW: −lr ∂loss/∂h for every context row
                        g += steps[0 if cbow else a, k] * u[k, j]
                    if hogwild:
                        cuda.atomic.add(input_vectors, (inputs[a], j), g)
                    else:
                        updates_in[slot, a, j] = g
                for i in range(tid, t * dim, threads):  # each target row's step
                    k = i // dim
                    j = i - k * dim
                    g = float32(0.0)
                    if cbow:
                        g = steps[0, k] * h[j]
                    else:
                        for a in range(m):
                            g += steps[a, k] * w[a, j]
                    if hogwild:
                        cuda.atomic.add(output_vectors, (targets[k], j), g)
                    else:
                        updates_out[slot, k, j] = g
                if tid == 0:
                    pairs[block] += 1 if cbow else m
            cuda.syncthreads()  # everyone is done with the shared arrays of this center
        losses[block * threads + tid] = loss  # a slot per thread: sums the same every run

    return train


@cuda.jit
def _scatter_atomic(table, rows, updates):
    """table[rows[i]] += updates[i] for rows[i] >= 0, one thread per element, atomic adds."""
    dim = table.shape[1]
    start = cuda.grid(1)
    for idx in range(start, rows.shape[0] * dim, cuda.gridsize(1)):
        i = idx // dim
        row = rows[i]
        if row >= 0:
            cuda.atomic.add(table, (row, idx - i * dim), updates[i, idx - i * dim])


@cuda.jit
def _scatter_segments(table, order, bounds, rows_sorted, updates):
    """One block per run of equal rows: sums its updates in a fixed order, adds once.

    order: (n,) int64, positions sorted by row (stable); bounds: (s + 1,) int64, the runs;
    rows_sorted: (n,) the rows in that order. No atomics: each row belongs to one block.
    """
    dim = table.shape[1]
    for s in range(cuda.blockIdx.x, bounds.shape[0] - 1, cuda.gridDim.x):
        row = rows_sorted[bounds[s]]
        for j in range(cuda.threadIdx.x, dim, cuda.blockDim.x):
            total = float32(0.0)
            for i in range(bounds[s], bounds[s + 1]):
                total += updates[order[i], j]
            table[row, j] += total


def duplicate_rate(rows: np.ndarray) -> float:
    """The share of rows (>= 0) that repeat an earlier one: 0 all distinct, → 1 all equal."""
    valid = rows[rows >= 0]
    return 1.0 - len(np.unique(valid)) / len(valid) if len(valid) else 0.0


def scatter_add(table, rows, updates, method: str = "auto") -> str:
    """table[rows[i]] += updates[i] on the device; repeated rows add up, rows < 0 are skipped.

    table: (V, d) float32 device array, updated in place; rows: (n,) int32/int64, host or
    device; updates: (n, d) float32 device (or host) array. method: "atomic" (one atomic
    add per element: fast when rows rarely repeat), "segments" (stable sort by row on the
    host, then one block per distinct row sums its run in order: no contention, and the
    same bits every run), or "auto" (by `duplicate_rate`). Returns the method used.
    """
    if method not in SCATTER_METHODS:
        raise ValueError(f"method must be one of {', '.join(SCATTER_METHODS)}, got {method!r}")
    rows_host = rows if isinstance(rows, np.ndarray) else rows.copy_to_host()
    n, dim = len(rows_host), table.shape[1]
    if updates.shape != (n, dim):
        raise ValueError(f"updates must have shape ({n}, {dim}), got {updates.shape}")
    if method == "auto":
        method = ("segments" if duplicate_rate(rows_host) > SEGMENTS_ABOVE_DUPLICATE_RATE
                  else "atomic")
    if n == 0:
        return method
    if method == "atomic":
        threads = 8 if simulated() else 256  # the simulator runs a Python thread per thread
        blocks = min((n * dim + threads - 1) // threads, _max_blocks())
        with simulator_pace():
            _scatter_atomic[blocks, threads](table, rows, updates)
        return method
    valid = np.flatnonzero(rows_host >= 0)
    order = valid[np.argsort(rows_host[valid], kind="stable")]
    rows_sorted = rows_host[order]
    bounds = np.flatnonzero(np.diff(rows_sorted)) + 1
    bounds = np.concatenate([[0], bounds, [len(order)]]).astype(np.int64)
    if len(order):
        blocks = min(len(bounds) - 1, _max_blocks())
        with simulator_pace():
            threads = 4 if simulated() else min(128, (dim + 31) // 32 * 32)
            _scatter_segments[blocks, threads](
                table, cuda.to_device(order.astype(np.int64)), cuda.to_device(bounds),
                cuda.to_device(rows_sorted), updates)
    return method


def _max_blocks() -> int:
    """Blocks for a grid-stride launch: 32 per multiprocessor (2 under the simulator)."""
    if simulated():
        return 2
    return 32 * cuda.get_current_device().MULTIPROCESSOR_COUNT


def simulated() -> bool:
    """Is numba.cuda the CUDA simulator (NUMBA_ENABLE_CUDASIM=1) rather than a GPU?"""
    from numba import config
    return bool(config.ENABLE_CUDASIM)


@contextlib.contextmanager
def simulator_pace():
    """Under the simulator, switch Python threads often while kernels run.

    The simulator runs each CUDA thread as a Python thread and every syncthreads() is a
    barrier; at Python's default 5 ms switch interval a block waits milliseconds per
    barrier. A 0.1 ms interval makes the tests about ten times faster. No-op on a GPU.
    """
    if not simulated():
        yield
        return
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def _lock_simulated_shared_arrays() -> None:
    """Make the simulator's cuda.shared.array thread-safe.

    numba's simulator finds a block's shared array in a dict by the calling line, with a
    get-then-set and no lock: two of the block's threads can both miss and each make an
    array, and then they no longer share it (seen here: batched runs differing run to run).
    """
    from numba.core import types
    from numba.cuda.simulator.kernelapi import FakeCUDAShared
    from numba.np import numpy_support

    if getattr(FakeCUDAShared.array, "locked", False):
        return
    unlocked, lock = FakeCUDAShared.array, threading.Lock()

    def array(self, shape, dtype):
        if shape == 0:  # dynamic shared memory: one buffer, no lookup
            return unlocked(self, shape, dtype)
        caller = sys._getframe(1)  # the simulator's own key: the line that asks
        key = (caller.f_code.co_filename, caller.f_lineno)
        with lock:
            found = self._allocations.get(key)
            if found is None:
                if isinstance(dtype, types.Type):
                    dtype = numpy_support.as_dtype(dtype)
                found = self._allocations[key] = np.empty(shape, dtype)
            return found

    array.locked = True
    FakeCUDAShared.array = array


if simulated():
    _lock_simulated_shared_arrays()


class _quiet_overflow(warnings.catch_warnings):
    """The simulator runs uint64 hashing on NumPy scalars, which warn when they wrap."""

    def __enter__(self):
        super().__enter__()
        warnings.filterwarnings("ignore", "overflow encountered", RuntimeWarning)


def device_name() -> str:
    """The GPU numba.cuda uses, e.g. 'NVIDIA H100 80GB HBM3' ('CUDA simulator' under it)."""
    if simulated():
        return "CUDA simulator"
    name = cuda.get_current_device().name
    return name.decode() if isinstance(name, bytes) else str(name)


class SgnsTrainer:
    """Device-resident tables and the fused training kernel for one shape.

    input_vectors: (V, d) and output_vectors: (V + tree nodes, d) float32 host arrays,
    copied to the device once; `tables()` copies them back. `train(...)` runs one launch
    over centers first..last-1 of a span of ids already on the device. Shapes and dtypes
    are checked here, once. negative: noise words per window (0: none); tree: (codes,
    points, offsets) of hierarchical softmax (w2v.vocab.HuffmanTree), or None; cbow: the
    window's mean (cbow_mean, else sum) predicts the center, instead of skip-gram.
    batched_centers: the most centers of one batched launch (its update buffers hold
    (2·window + 1 + K + tree depth) rows of d floats per center).
    """

    def __init__(self, input_vectors: np.ndarray, output_vectors: np.ndarray, keep_prob,
                 accept, alias, window: int, negative: int, updates: str = "hogwild",
                 threads_per_block: int | None = None, blocks: int | None = None,
                 batched_centers: int = 512, tree=None, cbow: bool = False,
                 cbow_mean: bool = True):
        if updates not in ("hogwild", "batched"):
            raise ValueError(f"updates must be hogwild or batched, got {updates!r}")
        codes, points, offsets = tree if tree is not None else NO_TREE
        v, dim = input_vectors.shape
        nodes = v - 1 if len(offsets) else 0
        for name, array, shape, dtype in [
                ("input_vectors", input_vectors, (v, dim), np.float32),
                ("output_vectors", output_vectors, (v + nodes, dim), np.float32),
                ("keep_prob", keep_prob, (v,), np.float32), ("accept", accept, (v,), np.float32),
                ("alias", alias, (v,), np.int32)]:
            if array.shape != shape or array.dtype != dtype:
                raise ValueError(f"{name} must be {shape} {np.dtype(dtype).name}, got "
                                 f"{array.shape} {array.dtype}")
        depth = int(np.diff(offsets).max()) if len(offsets) > 1 else 0
        n_targets = (1 + negative if negative > 0 else 0) + depth
        shared = 4 * (dim * (2 * window + n_targets + 1) + 2 * window * (1 + n_targets)
                      + 2 * n_targets + 2)
        if shared > SHARED_MEMORY_BYTES:
            raise ValueError(f"dim {dim} with window {window}, negative {negative} and a tree "
                             f"{depth} deep needs {shared:,} bytes of shared memory per block, "
                             f"over the {SHARED_MEMORY_BYTES:,} a block has: lower dim or window")
        self.dim, self.window, self.negative, self.updates = dim, window, negative, updates
        self.n_targets = n_targets
        # one warp per window on a GPU; 4 Python threads per block under the simulator
        self.threads = threads_per_block or (4 if simulated() else 32)
        self.blocks = blocks or _max_blocks()
        self.batched_centers = batched_centers
        self.kernel = _train_kernel(dim, window, negative, depth, self.threads,
                                    updates == "hogwild", bool(cbow), bool(cbow_mean))
        self.input_vectors = cuda.to_device(input_vectors)
        self.output_vectors = cuda.to_device(output_vectors)
        self.keep_prob, self.accept, self.alias = map(cuda.to_device, (keep_prob, accept, alias))
        self.tree = tuple(cuda.to_device(np.ascontiguousarray(a)) for a in (codes, points, offsets))
        self.losses = cuda.device_array(self.blocks * self.threads, dtype=np.float64)
        self.pairs = cuda.device_array(self.blocks, dtype=np.int64)
        if updates == "batched":
            c = batched_centers
            self.rows_in = cuda.device_array((c, 2 * window), dtype=np.int32)
            self.updates_in = cuda.device_array((c, 2 * window, dim), dtype=np.float32)
            self.rows_out = cuda.device_array((c, n_targets), dtype=np.int32)
            self.updates_out = cuda.device_array((c, n_targets, dim), dtype=np.float32)
        else:  # unused by the hogwild kernel: the smallest arrays of the right types
            self.rows_in = self.rows_out = cuda.device_array((1, 1), dtype=np.int32)
            self.updates_in = self.updates_out = cuda.device_array((1, 1, 1), dtype=np.float32)

    def train(self, ids, ends, offset: int, first: int, last: int, keep_key, draw_key,
              lr_first: float, lr_last: float) -> tuple[int, float]:
        """One launch over the centers ids[first:last] of a span on the device.

        ids: (N,) int32 device array of whole sentences; ends: (S,) int64 device array of
        their end offsets; offset: corpus position of ids[0] (the draws depend on it); the
        learning rate falls linearly from lr_first at ids[first] to lr_last at ids[last].
        Batched: at most `batched_centers` centers, their updates scattered after the
        kernel in a fixed order. Returns (predictions trained: pairs for skip-gram, centers
        for CBOW; summed loss): two small copies back to the host, which also wait for the
        launch to finish.
        """
        n = last - first
        if self.updates == "batched" and n > self.batched_centers:
            raise ValueError(f"a batched launch takes at most {self.batched_centers} centers, "
                             f"got {n}")
        step = (lr_last - lr_first) / max(n, 1)
        self.pairs.copy_to_device(np.zeros(self.blocks, dtype=np.int64))
        with _quiet_overflow(), simulator_pace():
            self.kernel[self.blocks, self.threads](
                ids, ends, np.int64(offset), np.int64(first), np.int64(last),
                self.keep_prob, self.accept, self.alias, np.int64(self.window),
                np.int64(self.negative), *self.tree, np.int64(self.keep_prob.shape[0]),
                keep_key, draw_key, np.float64(lr_first - step * first), np.float64(step),
                self.input_vectors, self.output_vectors, self.losses, self.pairs,
                self.rows_in, self.updates_in, self.rows_out, self.updates_out)
        if self.updates == "batched":
            slots_in, slots_out = n * 2 * self.window, n * self.n_targets
            scatter_add(self.input_vectors, self.rows_in[:n].reshape(slots_in),
                        self.updates_in[:n].reshape(slots_in, self.dim), "segments")
            scatter_add(self.output_vectors, self.rows_out[:n].reshape(slots_out),
                        self.updates_out[:n].reshape(slots_out, self.dim), "segments")
        return int(self.pairs.copy_to_host().sum()), float(self.losses.copy_to_host().sum())

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        """(input_vectors, output_vectors) copied back to the host."""
        return self.input_vectors.copy_to_host(), self.output_vectors.copy_to_host()
