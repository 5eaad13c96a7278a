"""Trained word vectors: lookup, nearest neighbours, word2vec text/binary files.

>>> from w2v.vectors import Embeddings
>>> emb = Embeddings(["king", "queen"], np.eye(2, dtype=np.float32))
>>> emb.save_word2vec_format("vectors.txt")           # atomic: temp file + rename
>>> Embeddings.load_word2vec_format("vectors.txt")["king"]

Files are the format word2vec.c writes (a "V d" header line, then one word and its d
numbers per line; binary: the numbers as little-endian float32), so gensim's
`KeyedVectors.load_word2vec_format` reads them too.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


class Embeddings:
    """Words and their vectors: (V, d) float32, row i for words[i]."""

    def __init__(self, words: list[str], vectors: np.ndarray):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ValueError(f"need a ({len(words)}, d) matrix, got shape {vectors.shape}")
        self.words = list(words)
        self.vectors = vectors
        self.index = {w: i for i, w in enumerate(self.words)}
        self._unit = None

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self.index[word]]

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    @property
    def unit_vectors(self) -> np.ndarray:
        """(V, d) float32 rows scaled to length 1 (zero rows stay zero)."""
        if self._unit is None:
            norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            self._unit = self.vectors / np.where(norms > 0, norms, 1)
        return self._unit

    def most_similar(self, word: str, topn: int = 10) -> list[tuple[str, float]]:
        """The `topn` words of highest cosine similarity to `word`, itself excluded."""
        sims = self.unit_vectors @ self.unit_vectors[self.index[word]]
        sims[self.index[word]] = -np.inf
        best = np.argsort(-sims)[:topn]
        return [(self.words[i], float(sims[i])) for i in best]

    def save_word2vec_format(self, path, binary: bool = False) -> None:
        """Write word2vec's text (or binary) format to `path`, atomically."""
        header = f"{len(self)} {self.dim}\n".encode()
        with atomic_write(path) as out:
            out.write(header)
            if binary:
                little = self.vectors.astype("<f4", copy=False)
                for word, row in zip(self.words, little):
                    out.write(word.encode() + b" " + row.tobytes() + b"\n")
            else:
                for word, row in zip(self.words, self.vectors):
                    out.write((word + " " + " ".join(f"{x:.6g}" for x in row) + "\n").encode())

    @classmethod
    def load_word2vec_format(cls, path, binary: bool = False) -> "Embeddings":
        """Read a file written by `save_word2vec_format` (or by word2vec.c, or gensim)."""
        with open(path, "rb") as f:
            n, dim = (int(x) for x in f.readline().split())
            words, vectors = [], np.empty((n, dim), dtype=np.float32)
            for i in range(n):
                if binary:
                    word = b""
                    while (ch := f.read(1)) != b" ":
                        word += ch
                    vectors[i] = np.frombuffer(f.read(4 * dim), dtype="<f4")
                    f.read(1)  # the newline after each vector
                    words.append(word.decode().lstrip("\n"))
                else:
                    parts = f.readline().decode().rstrip("\n").split(" ")
                    words.append(parts[0])
                    vectors[i] = np.asarray(parts[1:1 + dim], dtype=np.float32)
        return cls(words, vectors)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class atomic_write:
    """Context manager: a binary file object whose content appears at `path` only on success.

    Writes to a temporary file in the same directory, fsyncs, then renames over `path`
    (atomic on POSIX). On an exception the temporary file is removed and `path` untouched.
    """

    def __init__(self, path):
        self.path = Path(path)

    def __enter__(self):
        fd, self._tmp = tempfile.mkstemp(dir=self.path.parent or ".",
                                         prefix=f".{self.path.name}.", suffix=".tmp")
        self._file = os.fdopen(fd, "wb")
        return self._file

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self._file.flush()
                os.fsync(self._file.fileno())
            self._file.close()
            if exc_type is None:
                os.chmod(self._tmp, 0o666 & ~_umask())
                os.replace(self._tmp, self.path)
        finally:
            if os.path.exists(self._tmp):
                os.unlink(self._tmp)
        return False
