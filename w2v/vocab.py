"""Vocabulary: word counts, ids by frequency, subsampling and the noise distribution.

>>> from w2v.vocab import Vocabulary
>>> vocab = Vocabulary.build([["a", "b", "a"], ["a", "c"]], min_count=1)
>>> vocab.words, vocab.counts.tolist()
(['a', 'b', 'c'], [3, 1, 1])

Ids go by descending count, ties broken by the word itself, so the same corpus gives the
same ids whatever order its files are read in.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from w2v.errors import FormatError
from w2v.io.files import atomic_write
from w2v.io.formats import check_words

VOCAB_HEADER = "# w2v vocabulary 1"


@dataclass
class Vocabulary:
    words: list[str]  # id -> word, most frequent first
    counts: np.ndarray  # (V,) int64: corpus count of each word
    corpus_words: int  # every token of the corpus, those below min_count included
    index: dict[str, int] = field(init=False, repr=False)  # word -> id

    def __post_init__(self):
        self.counts = np.asarray(self.counts, dtype=np.int64)
        if len(self.words) != len(self.counts):
            raise ValueError(f"{len(self.words)} words but {len(self.counts)} counts")
        self.index = {word: i for i, word in enumerate(self.words)}

    @classmethod
    def build(cls, sentences: Iterable[list[str]], min_count: int = 5,
              max_vocab_size: int | None = None, trim_rule=None,
              prune_at: int | None = None) -> "Vocabulary":
        """Count every token of `sentences` and keep words seen at least `min_count` times.

        max_vocab_size: keep only the most frequent words, after min_count. trim_rule:
        gensim's rule(word, count, min_count) -> 2 keep / 1 discard / 0 the min_count rule.
        prune_at: while counting, whenever more distinct words than this are held, drop
        those seen fewer than k times, k = 1, 2, ... (gensim's max_vocab_size: it bounds
        memory on huge corpora, at the cost of exact counts for rare words).
        """
        counter: Counter[str] = Counter()
        threshold = 1
        for sentence in sentences:
            counter.update(sentence)
            if prune_at is not None and len(counter) > prune_at:
                for word in [w for w, c in counter.items() if c < threshold
                             and _rule(trim_rule, w, c, threshold) != RULE_KEEP]:
                    del counter[word]
                threshold += 1
        check_words(counter)
        kept = sorted(((w, c) for w, c in counter.items() if _keep(trim_rule, w, c, min_count)),
                      key=lambda wc: (-wc[1], wc[0]))
        if max_vocab_size is not None:
            kept = kept[:max_vocab_size]
        words = [w for w, _ in kept]
        counts = np.array([c for _, c in kept], dtype=np.int64)
        return cls(words, counts, corpus_words=sum(counter.values()))

    def grown(self, sentences: Iterable[list[str]], min_count: int = 5,
              max_vocab_size: int | None = None, trim_rule=None) -> "Vocabulary":
        """This vocabulary after reading more `sentences`: every id kept, counts added, and
        words new to it that occur min_count times there (or trim_rule keeps) appended
        (most frequent first), up to max_vocab_size words in all."""
        counter: Counter[str] = Counter()
        for sentence in sentences:
            counter.update(sentence)
        check_words(counter)
        counts = self.counts.copy()
        for word, count in counter.items():
            if word in self.index:
                counts[self.index[word]] += count
        new = sorted(((w, c) for w, c in counter.items()
                      if w not in self.index and _keep(trim_rule, w, c, min_count)),
                     key=lambda wc: (-wc[1], wc[0]))
        if max_vocab_size is not None:
            new = new[:max(max_vocab_size - len(self), 0)]
        return Vocabulary(self.words + [w for w, _ in new],
                          np.concatenate([counts, np.array([c for _, c in new], dtype=np.int64)]),
                          corpus_words=self.corpus_words + sum(counter.values()))

    def __len__(self) -> int:
        return len(self.words)

    def fingerprint(self) -> str:
        """SHA-256 (hex) of the words, their counts and corpus_words: equal fingerprints,
        equal vocabularies (what the workers of a cluster compare before training)."""
        digest = hashlib.sha256(f"{self.corpus_words}\n".encode())
        for word, count in zip(self.words, self.counts.tolist()):
            digest.update(f"{word}\t{count}\n".encode("utf-8", "surrogateescape"))
        return digest.hexdigest()

    def save(self, path) -> None:
        """Write `path` as vocab.tsv (atomically): a header line, then "word<TAB>count" per
        word, by id. Read back with `Vocabulary.load`."""
        lines = [f"{VOCAB_HEADER} corpus_words={self.corpus_words} words={len(self)}"]
        lines += [f"{word}\t{count}" for word, count in zip(self.words, self.counts.tolist())]
        with atomic_write(path) as out:
            out.write(("\n".join(lines) + "\n").encode("utf-8"))

    @classmethod
    def load(cls, path) -> "Vocabulary":
        """Read a file `save` wrote; FormatError (a ValueError) naming the first bad line."""
        try:
            with open(path, encoding="utf-8") as stream:
                text = stream.read()
        except UnicodeDecodeError:
            raise FormatError(f"vocabulary {str(path)!r} is not UTF-8 text") from None
        lines = text.split("\n")
        head = lines[0].split()
        if lines[0].split(" corpus_words=")[0] != VOCAB_HEADER or len(head) != 6:
            raise FormatError(f"vocabulary {str(path)!r} does not start with {VOCAB_HEADER!r} "
                              f"(write one with w2v-vocab)")
        try:
            corpus_words = int(head[4].removeprefix("corpus_words="))
            n = int(head[5].removeprefix("words="))
        except ValueError:
            raise FormatError(f"vocabulary {str(path)!r}: bad header {lines[0]!r}") from None
        body = lines[1:-1] if lines[-1] == "" else lines[1:]
        if len(body) != n:
            raise FormatError(f"vocabulary {str(path)!r}: header says {n:,} words, file has "
                              f"{len(body):,} lines")
        words, counts = [], []
        for number, line in enumerate(body, start=2):
            word, tab, count = line.partition("\t")
            if not tab or not word or any(c.isspace() for c in word) or not count.isascii() \
                    or not count.isdigit() or not 1 <= int(count) < 2 ** 63:
                raise FormatError(f"vocabulary {str(path)!r} line {number}: expected "
                                  f"word<TAB>count, got {line[:60]!r}")
            words.append(word)
            counts.append(int(count))
        if len(set(words)) != len(words) or counts != sorted(counts, reverse=True) \
                or sum(counts) > corpus_words or not words or corpus_words >= 2 ** 63:
            raise FormatError(f"vocabulary {str(path)!r}: words must be unique, by falling "
                              f"count, at least one, counting at most corpus_words (< 2^63)")
        return cls(words, np.array(counts, dtype=np.int64), corpus_words)

    @property
    def trained_words(self) -> int:
        """Tokens that survive min_count: what one epoch trains on before subsampling."""
        return int(self.counts.sum())

    def keep_probabilities(self, sample: float) -> np.ndarray:
        """(V,) float32: probability that one occurrence of each word is kept.

        word2vec's rule, with f the word's share of the trained words and t = `sample`:
        keep = (sqrt(f / t) + 1) * t / f, capped at 1; `sample` = 0 keeps every word.
        """
        if sample <= 0:
            return np.ones(len(self), dtype=np.float32)
        share = self.counts / self.trained_words
        keep = (np.sqrt(share / sample) + 1.0) * sample / share
        return np.minimum(keep, 1.0).astype(np.float32)

    def huffman_tree(self) -> "HuffmanTree":
        """The Huffman tree of hierarchical softmax over these words by count (word2vec.c's)."""
        from w2v.kernels.cpu import huffman_tree_cpu  # numba: only when asked for

        codes, points, offsets = huffman_tree_cpu(self.counts)
        return HuffmanTree(codes, points, offsets)

    def noise_distribution(self, exponent: float = 0.75) -> np.ndarray:
        """(V,) float64: probability of drawing each word as a negative, ∝ count**exponent."""
        weights = self.counts.astype(np.float64) ** exponent
        return weights / weights.sum()


RULE_DEFAULT, RULE_DISCARD, RULE_KEEP = 0, 1, 2  # gensim's trim_rule answers


def _rule(trim_rule, word: str, count: int, min_count: int) -> int:
    return RULE_DEFAULT if trim_rule is None else trim_rule(word, count, min_count)


def _keep(trim_rule, word: str, count: int, min_count: int) -> bool:
    """gensim's keep_vocab_item: the rule's answer, or count >= min_count by default."""
    answer = _rule(trim_rule, word, count, min_count)
    return answer == RULE_KEEP or (answer != RULE_DISCARD and count >= min_count)


@dataclass(frozen=True)
class HuffmanTree:
    """Each word's path from the root: word w passes the inner nodes
    points[offsets[w]:offsets[w + 1]] ((L,) int32 in 0..V−2, the root V − 2 first) and
    takes the branch codes[...] ((L,) int8, 0 or 1) at each. Paths are about log2(V) long,
    the frequent words' shorter."""
    codes: np.ndarray  # (N,) int8, all paths end to end
    points: np.ndarray  # (N,) int32
    offsets: np.ndarray  # (V + 1,) int64

    def path(self, word: int) -> tuple[np.ndarray, np.ndarray]:
        """(points (L,) int32, codes (L,) int8) of word `word`."""
        a, b = self.offsets[word], self.offsets[word + 1]
        return self.points[a:b], self.codes[a:b]

    @property
    def depth(self) -> int:
        """The longest path."""
        return int(np.diff(self.offsets).max()) if len(self.offsets) > 1 else 0

    def padded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(points (V, L) int32, codes (V, L) int8, mask (V, L) float32): every path padded
        to the longest (node 0, code 0, mask 0), for batch code (keras)."""
        v, depth = len(self.offsets) - 1, self.depth
        lengths = np.diff(self.offsets)
        mask = (np.arange(depth)[None, :] < lengths[:, None])
        points = np.zeros((v, depth), np.int32)
        codes = np.zeros((v, depth), np.int8)
        points[mask], codes[mask] = self.points, self.codes
        return points, codes, mask.astype(np.float32)


def alias_table(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker/Vose alias table for O(1) sampling from a discrete distribution.

    probabilities: (V,) float64 summing to 1.
    Returns (accept (V,) float32, alias (V,) int32): draw i uniform in [0, V) and u uniform
    in [0, 1); the sample is i if u < accept[i], else alias[i].
    """
    n = len(probabilities)
    scaled = np.asarray(probabilities, dtype=np.float64) * n
    accept = np.ones(n, dtype=np.float64)
    alias = np.arange(n, dtype=np.int32)
    small = [i for i in range(n) if scaled[i] < 1.0]
    large = [i for i in range(n) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        accept[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    # whatever is left is 1 up to rounding: it always accepts itself
    return accept.astype(np.float32), alias
