"""From sentences to fixed-size int32 training examples.

>>> from w2v.batches import EncodedCorpus, ExampleBatches
>>> from w2v.streams import epoch_streams
>>> encoded = EncodedCorpus(corpus, vocab)           # ids on disk, read back in chunks
>>> batches = ExampleBatches(encoded, vocab, config)
>>> for examples in batches.epoch(epoch_streams(1, 0, range(1))[0]): ...   # (B, 2 + K) int32

An example row is [center, context, negative_1 .. negative_K]. The numba kernels in
kernels/cpu.py do the per-word work; this module owns chunking and buffers. The random
streams come from the caller (w2v/streams.py derives them), and are never advanced here:
each pass copies them, so the same streams replay the same epoch.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator

import numpy as np

from w2v.kernels.cpu import NO_TREE, cbow_examples_cpu, fill_examples_cpu, skipgram_pairs_cpu
from w2v.config import TrainConfig
from w2v.vocab import Vocabulary, alias_table

CHUNK_WORDS = 1 << 18  # ids per chunk: buffers of 2·window·chunk pairs stay ~20 MB at window 5


def whole_groups(arrays: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """The rows of `arrays`, (n, ...) each, regrouped as (m, size, ...) blocks of whole
    groups: rows left over at an array's end start the next array's first group, and the
    last partial group is dropped."""
    leftover = None
    for rows in arrays:
        if leftover is not None and len(leftover):
            rows = np.concatenate([leftover, rows])
        m = len(rows) // size
        if m:
            yield rows[:m * size].reshape(m, size, *rows.shape[1:])
        leftover = rows[m * size:]


class EncodedCorpus:
    """The corpus as int32 ids of its in-vocabulary words, in a temporary file.

    Words outside the vocabulary are dropped (as word2vec does, before windows are drawn);
    sentences left with fewer than two words give no pairs and are dropped too. Memory is
    one chunk of ids plus one int64 offset per sentence, whatever the corpus size.
    """

    def __init__(self, sentences: Iterable[list[str]], vocab: Vocabulary,
                 chunk_words: int = CHUNK_WORDS, directory: str | None = None):
        self._file = tempfile.TemporaryFile(dir=directory)
        lookup = vocab.index.get
        ends: list[int] = []  # end offset of each sentence in the whole id stream
        self.chunk_starts = [0]  # first sentence of each chunk
        buffer: list[int] = []
        written = 0
        self.tokens = 0  # every token read, in the vocabulary or not: the corpus words
        for sentence in sentences:
            self.tokens += len(sentence)
            ids = [i for i in map(lookup, sentence) if i is not None]
            if len(ids) < 2:
                continue
            buffer.extend(ids)
            ends.append(written + len(buffer))
            if len(buffer) >= chunk_words:
                np.asarray(buffer, dtype=np.int32).tofile(self._file)
                written += len(buffer)
                buffer = []
                self.chunk_starts.append(len(ends))
        if buffer:
            np.asarray(buffer, dtype=np.int32).tofile(self._file)
            written += len(buffer)
            self.chunk_starts.append(len(ends))
        self.sentence_ends = np.asarray(ends, dtype=np.int64)
        self.n_ids = written
        self.n_chunks = len(self.chunk_starts) - 1
        bounds = np.concatenate([[0], self.sentence_ends[np.asarray(self.chunk_starts[1:], np.int64) - 1]])
        self.max_chunk_ids = int(np.diff(bounds).max()) if self.n_chunks else 0

    def chunk(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Chunk c as (ids (N,) int32, sentence_ends (S,) int64 relative to ids)."""
        return self.read_chunks(c, c + 1)[1:]

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for c in range(self.n_chunks):
            yield self.chunk(c)

    def spans(self, max_ids: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Consecutive chunks joined into spans of at most `max_ids` ids (at least one
        chunk each), as (offset of the span's first id in the corpus, ids, sentence_ends)."""
        for first, last in self.span_chunks(max_ids):
            yield self.read_chunks(first, last)

    def span_chunks(self, max_ids: int) -> list[tuple[int, int]]:
        """The chunks `spans` joins: (first chunk, end chunk) of each span."""
        groups, c = [], 0
        while c < self.n_chunks:
            last = c + 1
            while last < self.n_chunks and self.chunk_id_start(last + 1) - self.chunk_id_start(c) <= max_ids:
                last += 1
            groups.append((c, last))
            c = last
        return groups

    def chunk_id_start(self, c: int) -> int:
        """Position in the id stream where chunk c starts (c = n_chunks: the end)."""
        first = self.chunk_starts[c]
        return int(self.sentence_ends[first - 1]) if first > 0 else 0

    def read_chunks(self, c: int, last: int) -> tuple[int, np.ndarray, np.ndarray]:
        """Chunks c..last-1 as (offset of their first id, ids (N,) int32, sentence_ends
        (S,) int64 relative to ids)."""
        begin, end = self.chunk_id_start(c), self.chunk_id_start(last)
        self._file.seek(begin * 4)
        ids = np.fromfile(self._file, dtype=np.int32, count=end - begin)
        sentences = slice(self.chunk_starts[c], self.chunk_starts[last])
        return begin, ids, self.sentence_ends[sentences] - begin

    def close(self):
        self._file.close()


class ExampleBatches:
    """Training examples of an epoch, `batch_size` rows each, drawn from its streams.

    streams: one row of w2v.streams.epoch_streams, (2,) uint64 [pair, noise]: subsampling
    and windows draw from the first, negatives from the second. Keeping them apart lets
    `count_pairs` replay the first without drawing negatives, so the number of steps is
    known exactly before training.
    """

    def __init__(self, encoded: EncodedCorpus, vocab: Vocabulary, config: TrainConfig):
        self.encoded = encoded
        self.keep_prob = vocab.keep_probabilities(config.sample)  # (V,) float32
        self.accept, self.alias = alias_table(vocab.noise_distribution(config.ns_exponent))
        self.window = config.window
        self.negative = config.negative
        self.batch_size = config.examples_per_batch  # rows: pairs, or CBOW's windows
        self.cbow = config.cbow
        # hierarchical softmax: the Huffman tree (w2v.vocab.HuffmanTree), as the kernels
        # take it, (codes, points, offsets); NO_TREE without
        self.huffman = vocab.huffman_tree() if config.hs else None
        self.tree = ((self.huffman.codes, self.huffman.points, self.huffman.offsets)
                     if self.huffman else NO_TREE)
        self._pair_capacity = (1 if self.cbow else 2 * self.window) * encoded.max_chunk_ids

    @property
    def example_width(self) -> int:
        """Columns of an example: skip-gram [center, context, K noise words]; CBOW
        [center, 2·window context slots (−1 where none), K noise words]."""
        return (1 + 2 * self.window if self.cbow else 2) + self.negative

    @property
    def sampling(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(keep_prob, accept, alias): what the fused kernels draw with."""
        return self.keep_prob, self.accept, self.alias

    def count_pairs(self, streams: np.ndarray) -> int:
        """Examples an epoch drawn from `streams` produces (replays subsampling and windows
        alone): skip-gram pairs, or CBOW predictions."""
        pair_state, noise_state = streams[0:1].copy(), streams[1:2].copy()
        if self.cbow:
            nothing = np.empty((0, self.example_width), dtype=np.int32)
            return sum(cbow_examples_cpu(ids, ends, self.keep_prob, self.accept, self.alias,
                                         self.window, self.negative, pair_state, noise_state,
                                         nothing) for ids, ends in self.encoded.chunks())
        none = np.empty(0, dtype=np.int32)
        return sum(skipgram_pairs_cpu(ids, ends, self.keep_prob, self.window, pair_state, none, none)
                   for ids, ends in self.encoded.chunks())

    def chunk_examples(self, streams: np.ndarray) -> Iterator[np.ndarray]:
        """The epoch of `streams` as one (n, example_width) int32 array per corpus chunk."""
        pair_state, noise_state = streams[0:1].copy(), streams[1:2].copy()
        if self.cbow:
            buffer = np.empty((self._pair_capacity, self.example_width), dtype=np.int32)
            for ids, ends in self.encoded.chunks():
                n = cbow_examples_cpu(ids, ends, self.keep_prob, self.accept, self.alias,
                                      self.window, self.negative, pair_state, noise_state,
                                      buffer)
                yield buffer[:n].copy()
            return
        centers = np.empty(self._pair_capacity, dtype=np.int32)
        contexts = np.empty(self._pair_capacity, dtype=np.int32)
        for ids, ends in self.encoded.chunks():
            n = skipgram_pairs_cpu(ids, ends, self.keep_prob, self.window, pair_state,
                                   centers, contexts)
            examples = np.empty((n, 2 + self.negative), dtype=np.int32)
            fill_examples_cpu(centers[:n], contexts[:n], self.accept, self.alias, noise_state,
                              examples)
            yield examples

    def epoch_blocks(self, streams: np.ndarray) -> Iterator[np.ndarray]:
        """The epoch of `streams` as (m, batch_size, 2 + K) int32 blocks of whole batches.

        Pairs left over at a chunk's end start the next chunk's first batch; the last
        partial batch of the epoch (fewer than batch_size pairs) is dropped, so every step
        has the same shape and the step count is exact.
        """
        return whole_groups(self.chunk_examples(streams), self.batch_size)

    def epoch(self, streams: np.ndarray) -> Iterator[np.ndarray]:
        """The epoch of `streams` as (batch_size, 2 + K) int32 arrays, one per step."""
        for block in self.epoch_blocks(streams):
            yield from block
