"""Stream sentences from text files: one sentence per line, whitespace-separated tokens.

>>> from w2v.corpus import Corpus
>>> corpus = Corpus(["data/novels.txt.gz"])
>>> first = next(iter(corpus))          # a list of str tokens

- .gz, .bz2 and .xz files are read transparently (recognised by their magic bytes);
- a directory stands for the files inside it (sorted by name, not recursive);
- a line longer than `max_sentence_length` tokens (text8 is one 100 MB line) is cut into
  sentences of at most that many tokens while it streams: no line is ever held whole;
- bytes that are not UTF-8 become U+FFFD and are counted in `Corpus.bad_bytes`.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import os
import re
from collections.abc import Iterator
from pathlib import Path

BLOCK_BYTES = 1 << 20  # read size: large enough to amortise Python overhead, small in memory
_MAGIC = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))
MAX_BAD_SHARE = 0.1  # more undecodable bytes than this at a file's start: not a text file
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # how surrogateescape marks an undecodable byte


def expand_paths(paths) -> list[Path]:
    """Files named by `paths` (str or Path, files or directories), in order.

    Raises FileNotFoundError for a path that does not exist and ValueError for a directory
    with no files in it.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            if not inside:
                raise ValueError(f"corpus directory {str(path)!r} has no files")
            files.extend(inside)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"corpus file not found: {str(path)!r}")
    return files


def open_binary(path: Path):
    """Open `path` for binary reading, decompressing by its magic bytes."""
    with open(path, "rb") as probe:
        head = probe.read(6)
    for magic, opener in _MAGIC:
        if head.startswith(magic):
            return opener(path, "rb")
    return open(path, "rb")


class Corpus:
    """An iterable of sentences (lists of str) over one or more files; re-iterable.

    Attributes after a full pass: `bad_bytes` (undecodable bytes replaced), `words`
    (tokens yielded), `sentences` (sentences yielded).
    """

    def __init__(self, paths, max_sentence_length: int = 10_000):
        self.paths = expand_paths(paths)
        self.max_sentence_length = max_sentence_length
        self.bad_bytes = 0
        self.words = 0
        self.sentences = 0

    def __iter__(self) -> Iterator[list[str]]:
        self.bad_bytes = self.words = self.sentences = 0
        for path in self.paths:
            for sentence in self._file_sentences(path):
                self.words += len(sentence)
                self.sentences += 1
                yield sentence

    def _decoded_blocks(self, path: Path) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        with open_binary(path) as stream:
            first = True
            while block := stream.read(BLOCK_BYTES):
                text = decoder.decode(block)
                if first:
                    _refuse_binary(path, block, text)
                    first = False
                yield self._replace_bad_bytes(text)
            yield self._replace_bad_bytes(decoder.decode(b"", final=True))

    def _replace_bad_bytes(self, text: str) -> str:
        bad = len(_ESCAPED_BYTE.findall(text))
        if bad:
            self.bad_bytes += bad
            text = _ESCAPED_BYTE.sub("\ufffd", text)
        return text

    def _file_sentences(self, path: Path) -> Iterator[list[str]]:
        limit = self.max_sentence_length
        pending: list[str] = []  # tokens of the line being read
        carry = ""  # a token possibly cut in two by the block boundary
        for text in self._decoded_blocks(path):
            *complete_lines, last = (carry + text).split("\n")
            for line in complete_lines:
                pending.extend(line.split())
                yield from _cut(pending, limit)
                pending = []
            words = last.split()
            carry = words.pop() if words and not last[-1].isspace() else ""
            pending.extend(words)
            if len(pending) >= limit:
                full = len(pending) - len(pending) % limit
                yield from _cut(pending[:full], limit)
                pending = pending[full:]
        if carry:
            pending.append(carry)
        yield from _cut(pending, limit)


def _refuse_binary(path: Path, block: bytes, text: str) -> None:
    """ValueError if the first block of a file is not text: a NUL byte, or more than
    MAX_BAD_SHARE of its bytes not UTF-8 (a few bad bytes in text are only counted)."""
    nul = block.find(b"\x00")
    if nul >= 0:
        raise ValueError(f"corpus file {str(path)!r} is not text: a NUL byte at offset {nul:,}")
    bad = len(_ESCAPED_BYTE.findall(text))
    if bad > MAX_BAD_SHARE * len(block):
        raise ValueError(f"corpus file {str(path)!r} is not UTF-8 text: {bad / len(block):.0%} "
                         f"of its first {len(block):,} bytes do not decode")


def _cut(tokens: list[str], limit: int) -> Iterator[list[str]]:
    for start in range(0, len(tokens), limit):
        yield tokens[start:start + limit]
