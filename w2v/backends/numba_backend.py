"""The numba backend: kernels/cpu.py's fused kernels on CPU threads, no TensorFlow.

Each span is one chunk of the encoded corpus (w2v.batches.EncodedCorpus). It is cut into
one slice of whole sentences per thread, and the threads run the nogil kernel on their
slices at once, sharing the tables without locks (Hogwild, as word2vec and gensim). Thread
t draws from row t of the epoch's streams; with one thread those are the batch path's
streams, so `threads=1` trains on exactly the examples the keras backend sees. The
learning rate falls linearly with the position of each word.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from w2v.backends.base import Backend, Span, Trained
from w2v.batches import ExampleBatches
from w2v.config import TrainConfig
from w2v.kernels.cpu import cbow_train_cpu, sgns_train_cpu, sgns_train_windows_cpu


@dataclass(frozen=True)
class PrivateRows:
    """The rows each of several threads steps in copies of its own (kernels/cpu.py's
    `thread_rows`), merged into the shared tables every `merge_every` predictions and at
    the end of its slice: the `hot_words` most frequent words' rows (input, and output
    under negative sampling) and the tree's `tree_nodes` top inner nodes. Threads that
    write the same rows at once fight over their cache lines, and on this machine that
    can halve two threads' speed (README, "Two speeds for two threads"). The copies take
    (hot_words + tree_nodes) · d · 16 bytes a thread. `private_rows` picks them for a run.
    Measured in benchmarks/results/private_rows.md (benchmarks/private_rows.py)."""
    hot_words: int = 0
    tree_nodes: int = 255
    merge_every: int = 4096

    def kernel_args(self, threads: int) -> tuple[int, int, int]:
        """The kernels' (hot_words, private_nodes, merge_every): nothing private on one
        thread, which then steps the shared rows exactly as w2v.heads does."""
        if threads == 1:
            return 0, 0, self.merge_every
        return self.hot_words, self.tree_nodes, self.merge_every


def train_chunk(kernel, ids: np.ndarray, ends: np.ndarray, batches: ExampleBatches,
                input_vectors: np.ndarray, output_vectors: np.ndarray, lr_begin: float,
                lr_end: float, streams: np.ndarray, pool: ThreadPoolExecutor | None,
                private: PrivateRows = PrivateRows()) -> Trained:
    """Train one chunk with a fused kernel (`chunk_kernel`), one slice of whole sentences
    per row of `streams` ((threads, 2) uint64, advanced in place), on `pool`'s threads
    (Hogwild on the shared float32 tables: input (V, d), output (V + tree nodes, d)); the
    learning rate falls linearly from lr_begin at the chunk's first id to lr_end after its
    last. Several threads step `private`'s rows in copies of their own.

    ids: (N,) int32 whole sentences; ends: (S,) int64 their end offsets in ids."""
    threads = len(streams)
    cuts = np.searchsorted(ends, np.linspace(0, len(ids), threads + 1)[1:-1])
    bounds = [0, *(int(ends[c - 1]) if c > 0 else 0 for c in cuts), len(ids)]
    sentence_bounds = [0, *cuts.tolist(), len(ends)]
    step = (lr_end - lr_begin) / max(len(ids), 1)
    kernel_private = private.kernel_args(threads)

    def run(t):
        a, b = bounds[t], bounds[t + 1]
        s0, s1 = sentence_bounds[t], sentence_bounds[t + 1]
        return kernel(ids[a:b], ends[s0:s1] - a, batches, input_vectors, output_vectors,
                      lr_begin + step * a, lr_begin + step * b, streams[t, 0:1],
                      streams[t, 1:2], *kernel_private)

    results = list(pool.map(run, range(threads))) if threads > 1 else [run(0)]
    return Trained(sum(n for n, _ in results), sum(loss for _, loss in results))


HOT_WORDS_PER_PAIR = 3000
"""Private hot words of the per-pair skip-gram kernel. Each of its pairs writes the
context's input row and 1 + K output rows, so the most frequent words' rows are written by
both threads all the time; the other kernels write a window's output rows once a window.
benchmarks/private_rows.py measures 3,000 private words against none on 2 threads; its
runs (the README's "Private hot rows" tables them) gave the per-pair kernel 0.96-1.21x the
median words/s and 1.04-1.36x the slowest round, the other kernels nothing outside the
noise (0.91-1.07x). Their 5.2 MB a thread buys the per-pair kernel speed; the others go
without."""


def private_rows(config: TrainConfig) -> PrivateRows:
    """The rows each thread of `config`'s kernel (`chunk_kernel`) steps in its own copies:
    the tree's top nodes always (hierarchical softmax), and the hot words only for
    skip-gram drawn per pair (`HOT_WORDS_PER_PAIR`)."""
    per_pair = not config.cbow and not config.shared_negatives
    return PrivateRows(hot_words=HOT_WORDS_PER_PAIR if per_pair else 0)


def chunk_kernel(config: TrainConfig):
    """The fused kernel `config` asks for, as kernel(ids, ends, batches, input_vectors,
    output_vectors, lr_begin, lr_end, pair_state, noise_state, hot_words, private_nodes,
    merge_every) -> (predictions, loss sum): CBOW, or skip-gram with targets shared per
    window (HogBatch) or drawn per pair. hot_words, private_nodes: the most frequent words'
    rows and the tree's top nodes stepped in a thread's own copies, merged every
    merge_every predictions (`PrivateRows.kernel_args`)."""
    if config.cbow:
        mean = config.cbow_mean

        def cbow(ids, ends, b, input_vectors, output_vectors, lr0, lr1, pair, noise, *private):
            return cbow_train_cpu(ids, ends, b.sampling, b.tree, b.window, b.negative, mean,
                                  input_vectors, output_vectors, lr0, lr1, pair, noise,
                                  *private)
        return cbow
    skipgram = sgns_train_windows_cpu if config.shared_negatives else sgns_train_cpu

    def sg(ids, ends, b, input_vectors, output_vectors, lr0, lr1, pair, noise, *private):
        return skipgram(ids, ends, b.sampling, b.tree, b.window, b.negative, input_vectors,
                        output_vectors, lr0, lr1, pair, noise, *private)
    return sg


class NumbaBackend(Backend):
    """Trains the given (V, d) float32 tables in place; spans are the corpus's chunks and
    their units word positions (in-vocabulary ids)."""

    name = "numba"

    def __init__(self, batches: ExampleBatches, input_vectors: np.ndarray,
                 output_vectors: np.ndarray, config: TrainConfig, options=None):
        encoded = batches.encoded
        self.batches, self.encoded = batches, encoded
        self.input_vectors, self.output_vectors = input_vectors, output_vectors
        self.kernel, self.private = chunk_kernel(config), private_rows(config)
        self.corpus_words = encoded.tokens
        self.stream_rows = range(config.worker_threads)
        self.span_bounds = np.array([encoded.chunk_id_start(c) for c in range(encoded.n_chunks + 1)],
                                    dtype=np.int64)
        self.pool, self.pool_threads = None, 1
        self.streams = None

    def begin_epoch(self, epoch: int, streams: np.ndarray, first_span: int) -> None:
        # a run resumed mid-epoch keeps the thread count its saved streams were drawn for
        threads = len(streams)
        if threads > 1 and self.pool_threads != threads:
            self.close()
            self.pool, self.pool_threads = ThreadPoolExecutor(threads), threads
        self.streams = streams

    def train(self, span: Span) -> Trained:
        ids, ends = self.encoded.chunk(span.index)
        return train_chunk(self.kernel, ids, ends, self.batches, self.input_vectors,
                           self.output_vectors, span.lr_begin, span.lr_end, self.streams,
                           self.pool, self.private)

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        return self.input_vectors, self.output_vectors

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool, self.pool_threads = None, 1


BACKEND = NumbaBackend
