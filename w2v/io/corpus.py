"""Stream sentences from text files: one sentence per line, whitespace-separated tokens.

>>> from w2v.io.corpus import Corpus
>>> corpus = Corpus(["data/novels.txt.gz"])
>>> first = next(iter(corpus))          # a list of str tokens

- .gz, .bz2 and .xz files are read transparently, recognised by their full magic (gzip's
  header with its deflate method, bzip2's "BZh", block size and block or end-of-stream
  marker, xz's six bytes), never by a name or a plain text's first letters; a truncated or
  corrupt archive ends with one ValueError naming the file;
- a UTF-8 byte order mark at a file's start is dropped;
- a file named twice (or reached through two names) is read once, with a warning;
- a directory stands for the files inside it (sorted by name, not recursive);
- a line longer than `max_sentence_length` tokens (text8 is one 100 MB line) is cut into
  sentences of at most that many tokens while it streams: no line is ever held whole;
- bytes that are not UTF-8 become U+FFFD and are counted in `Corpus.bad_bytes`;
- `shard=(i, n)` reads only the i-th of n near-equal byte ranges of the files (one per
  worker of a cluster: see `shard_ranges`), never the rest.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import os
import re
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

BLOCK_BYTES = 1 << 20  # read size: large enough to amortise Python overhead, small in memory
# the compressed formats, by their full magic: a regular expression over a file's first bytes
_FORMATS = ((re.compile(rb"\x1f\x8b\x08", re.S), "gzip", gzip.open),
            (re.compile(rb"BZh[1-9](\x31\x41\x59\x26\x53\x59|\x17\x72\x45\x38\x50\x90)",
                        re.S), "bzip2", bz2.open),
            (re.compile(rb"\xfd7zXZ\x00", re.S), "xz", lzma.open))
_ARCHIVE_ERRORS = (EOFError, OSError, zlib.error, lzma.LZMAError, ValueError)
BOM = "\ufeff"
MAX_BAD_SHARE = 0.1  # more undecodable bytes than this at a file's start: not a text file
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # how surrogateescape marks an undecodable byte
ALIGN_BYTES = 1 << 16  # how far past a shard's nominal start to look for a newline
_SPACE = re.compile(rb"[ \t\n\r\f\v]")


class CorpusWarning(UserWarning):
    """Something about the corpus a user should know, that does not stop training."""


def expand_paths(paths) -> list[Path]:
    """Files named by `paths` (str or Path, files or directories), in order, each once.

    Raises FileNotFoundError for a path that does not exist and ValueError for a directory
    with no files in it or a loop of symbolic links. A file named twice (or through a link
    or a directory) is kept once, with a CorpusWarning.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[Path] = []
    for path in map(Path, paths):
        try:
            path.resolve(strict=True)
        except FileNotFoundError:
            raise FileNotFoundError(f"corpus file not found: {str(path)!r}") from None
        except (RuntimeError, OSError):
            raise ValueError(f"corpus {str(path)!r} is a loop of symbolic links") from None
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            if not inside:
                raise ValueError(f"corpus directory {str(path)!r} has no files")
            files.extend(inside)
        elif path.is_file():
            files.append(path)
        else:
            raise ValueError(f"corpus {str(path)!r} is not a regular file or a directory")
    first: dict[Path, Path] = {}
    unique = []
    for path in files:
        real = path.resolve()
        if real in first:
            warnings.warn(f"corpus file {str(path)!r} is named twice (also as "
                          f"{str(first[real])!r}): reading it once", CorpusWarning, stacklevel=2)
            continue
        first[real] = path
        unique.append(path)
    return unique


def compression(path: Path) -> tuple[str, object] | None:
    """(format name, opener) of a compressed file, by its magic; None for plain text."""
    with open(path, "rb") as probe:
        head = probe.read(10)
    for magic, name, opener in _FORMATS:
        if magic.match(head):
            return name, opener
    return None


def is_compressed(path: Path) -> bool:
    return compression(path) is not None


def cut_point(path: Path, offset: int) -> int:
    """The byte where a shard that nominally starts at `offset` of a plain file starts:
    just after the first newline within ALIGN_BYTES of it, else just after the first
    whitespace byte (text8 is one line). Whole tokens on both sides, and a character
    boundary; the shard before ends exactly here, so no token is lost or read twice."""
    size = path.stat().st_size
    if offset <= 0 or offset >= size:
        return min(max(offset, 0), size)
    with open(path, "rb") as stream:
        stream.seek(offset)
        window = stream.read(ALIGN_BYTES)
        newline = window.find(b"\n")
        if newline >= 0:
            return offset + newline + 1
        position = offset
        while window:
            space = _SPACE.search(window)
            if space:
                return position + space.start() + 1
            position += len(window)
            window = stream.read(ALIGN_BYTES)
    return size


def shard_ranges(paths: list[Path], index: int, count: int) -> list[tuple[Path, int, int]]:
    """Shard `index` of `count`: (file, first byte, end byte) pieces it reads.

    The files are laid end to end and cut into `count` near-equal byte ranges, each cut
    moved to a token boundary (`cut_point`). A compressed file cannot be entered in the
    middle: it goes whole to the shard that holds its middle byte. ValueError when a shard gets
    nothing (fewer pieces than shards: more files, or uncompressed ones, are needed).
    """
    if not 0 <= index < count:
        raise ValueError(f"shard index must be in 0..{count - 1}, got {index}")
    sizes = [p.stat().st_size for p in paths]
    total = sum(sizes)
    lo, hi = total * index // count, total * (index + 1) // count
    pieces, start = [], 0
    for path, size in zip(paths, sizes):
        end = start + size
        if is_compressed(path):
            if lo <= start + size // 2 < hi:  # the shard that holds its middle byte
                pieces.append((path, 0, -1))  # -1: to the end of the decompressed stream
        elif start < hi and end > lo:
            a = cut_point(path, lo - start) if lo > start else 0
            b = cut_point(path, hi - start) if hi < end else size
            if b > a:
                pieces.append((path, a, b))
        start = end
    if not pieces:
        raise ValueError(
            f"corpus shard {index + 1} of {count} is empty: {count} workers need at least "
            f"{count} pieces of corpus; split it into files or decompress it (a compressed "
            f"file cannot be split, and no worker reads another's part)")
    return pieces


class _Range:
    """Binary reads of bytes [start, end) of a plain file."""

    def __init__(self, path: Path, start: int, end: int):
        self.stream = open(path, "rb")
        self.stream.seek(start)
        self.left = end - start

    def read(self, n: int) -> bytes:
        block = self.stream.read(min(n, self.left))
        self.left -= len(block)
        return block

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stream.close()


class Corpus:
    """An iterable of sentences (lists of str) over one or more files; re-iterable.

    shard: (index, count) to read only that shard of the files (see `shard_ranges`).
    Attributes after a full pass: `bad_bytes` (undecodable bytes replaced), `words`
    (tokens yielded), `sentences` (sentences yielded).
    """

    def __init__(self, paths, max_sentence_length: int = 10_000,
                 shard: tuple[int, int] | None = None):
        self.paths = expand_paths(paths)
        self.max_sentence_length = max_sentence_length
        self.shard = shard
        self.pieces = shard_ranges(self.paths, *shard) if shard and shard[1] > 1 else \
            [(path, 0, -1) for path in self.paths]
        self.bad_bytes = 0
        self.words = 0
        self.sentences = 0

    def __iter__(self) -> Iterator[list[str]]:
        self.bad_bytes = self.words = self.sentences = 0
        for piece in self.pieces:
            for sentence in self._file_sentences(piece):
                self.words += len(sentence)
                self.sentences += 1
                yield sentence

    def _decoded_blocks(self, piece) -> Iterator[str]:
        path, start, end = piece
        decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        found = compression(path) if end < 0 else None  # a byte range is of a plain file
        if found:
            stream = found[1](path, "rb")
        else:
            stream = _Range(path, start, end) if end >= 0 else open(path, "rb")
        with stream:
            first = True
            while block := _read(stream, path, found):
                text = decoder.decode(block)
                if first:
                    _refuse_binary(path, block, text)
                    if start == 0:
                        text = text.removeprefix(BOM)
                    first = False
                yield self._replace_bad_bytes(text)
            yield self._replace_bad_bytes(decoder.decode(b"", final=True))

    def _replace_bad_bytes(self, text: str) -> str:
        bad = len(_ESCAPED_BYTE.findall(text))
        if bad:
            self.bad_bytes += bad
            text = _ESCAPED_BYTE.sub("\ufffd", text)
        return text

    def _file_sentences(self, piece) -> Iterator[list[str]]:
        limit = self.max_sentence_length
        pending: list[str] = []  # tokens of the line being read
        carry = ""  # a token possibly cut in two by the block boundary
        for text in self._decoded_blocks(piece):
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


def _read(stream, path: Path, found) -> bytes:
    """The next block of `stream`; a broken archive becomes one ValueError naming it."""
    if not found:
        return stream.read(BLOCK_BYTES)
    try:
        return stream.read(BLOCK_BYTES)
    except _ARCHIVE_ERRORS as error:
        raise ValueError(f"corpus file {str(path)!r} is a truncated or corrupt {found[0]} "
                         f"archive ({error})") from None


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
