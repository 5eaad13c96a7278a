"""File formats: word2vec's text and binary vectors, and the model archive.

>>> from w2v.io.formats import read_word2vec, write_word2vec
>>> write_word2vec("vectors.txt", ["king", "queen"], np.eye(2, dtype=np.float32))
>>> words, vectors = read_word2vec("vectors.txt")     # text or binary, told apart by content

word2vec format: a "V d" header line, then per word the word, a space and d numbers (text:
decimal, space-separated, one line per word; binary: d little-endian float32 and a newline).
word2vec.c, gensim and fastText read and write it.

The model archive (what `Word2Vec.save` and checkpoints write; w2v/model_file.py gives its
arrays their meaning) is a NumPy .npz archive of plain arrays — the tables, word counts,
the words as UTF-8 bytes and the settings as JSON bytes — parsed member by member, so
loading one never runs code from the file. Every file is written through
w2v.io.files.atomic_write.
"""

from __future__ import annotations

import json
import os
import re
import zipfile

import numpy as np

from w2v.errors import FormatError
from w2v.io.files import atomic_write

MODEL_MAGIC = b"PK\x03\x04"  # a zip archive: .npz


_SPACE = re.compile(r"\s")


def check_words(words) -> None:
    """ValueError naming the first word the formats cannot hold: not a str, empty, holding
    whitespace (a word is a run of non-space characters in every format), or not encodable
    as UTF-8 (a lone surrogate). A corpus read from files never yields one; words given in
    Python may."""
    for word in words:
        if not isinstance(word, str):
            raise ValueError(f"word {word!r} is a {type(word).__name__}, not a str: tokens "
                             f"must be strings")
        if not word or _SPACE.search(word):
            raise ValueError(f"word {word!r} is empty or holds whitespace: the vector "
                             f"formats keep a word as a run of non-space characters")
        try:
            word.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"word {word!r} is not valid Unicode (a lone surrogate): it "
                             f"cannot be written as UTF-8") from None


def write_word2vec(path, words: list[str], vectors: np.ndarray, binary: bool = False) -> None:
    """Write (V, d) `vectors` for `words` in word2vec's format, atomically; ValueError for
    words the format cannot hold (`check_words`) or vectors that are not finite."""
    check_words(words)
    if len(set(words)) != len(words):
        raise ValueError(f"refusing to write {path}: a word appears twice")
    if not np.isfinite(vectors).all():
        raise ValueError(f"refusing to write {path}: the vectors hold NaN or infinity")
    with atomic_write(path) as out:
        out.write(f"{len(words)} {vectors.shape[1]}\n".encode())
        if binary:
            for word, row in zip(words, vectors.astype("<f4", copy=False)):
                out.write(word.encode() + b" " + row.tobytes() + b"\n")
        else:  # one %-format a row of Python floats: the bytes of f"{x:.6g}" per value,
            # in 0.8 s where one format a value took 2.0 (51,090 rows of 100)
            row_format = " ".join(["%.6g"] * vectors.shape[1])
            for word, row in zip(words, vectors):  # a row at a time: no V × d Python floats
                out.write((word + " " + row_format % tuple(row.tolist()) + "\n").encode())


def _header(f, path) -> tuple[int, int]:
    line = f.readline(256)
    parts = line.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise FormatError(f"{path}: line 1 must be 'count dimension', got {line[:60]!r}")
    n, dim = int(parts[0]), int(parts[1])
    if dim == 0 and n > 0:
        raise FormatError(f"{path}: line 1 says dimension 0")
    return n, dim


def _read_word(f, path, record: int) -> bytes:
    """The bytes up to the next space, which is consumed: a record's word, however long."""
    start, parts = f.tell(), []
    while True:
        chunk = f.read(4096)
        if not chunk:
            raise FormatError(f"{path}: byte {start}: record {record} has no space after its "
                              f"word")
        space = chunk.find(b" ")
        if space >= 0:
            parts.append(chunk[:space])
            f.seek(space + 1 - len(chunk), os.SEEK_CUR)
            return b"".join(parts)
        parts.append(chunk)


def is_binary_word2vec(path) -> bool:
    """Does `path` hold word2vec's binary format? Text when the first record's word (of any
    length) is followed by its `dim` numbers as decimal text on one line."""
    with open(path, "rb") as f:
        n, dim = _header(f, path)
        if n == 0:
            return False
        try:
            _read_word(f, path, 1)
        except FormatError:
            return False  # the text reader reports the bad record
        line = f.read(32 * dim + 2).split(b"\n", 1)[0]
    numbers = line.rstrip(b"\r ").split(b" ")
    try:
        return len(numbers) != dim or not all(np.isfinite([float(x) for x in numbers]))
    except ValueError:
        return True


def read_word2vec(path, binary: bool | None = None) -> tuple[list[str], np.ndarray]:
    """(words, (V, d) float32 vectors) from a word2vec-format file; binary=None: detect.

    Raises FormatError, naming the line or byte offset, for a file that does not match
    its header (too few or too many records, a wrong count of numbers, a bad number).
    """
    if binary is None:
        binary = is_binary_word2vec(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        n, dim = _header(f, path)
        least = n * (dim * (4 if binary else 2) + 2)  # bytes n records take at the least
        if least > size:
            raise FormatError(f"{path}: header says {n:,} vectors of dimension {dim}, which "
                              f"need at least {least:,} bytes; the file has {size:,}")
        words, vectors = [], np.empty((n, dim), dtype=np.float32)
        for i in range(n):
            if binary:
                start = f.tell()
                token = _read_word(f, path, i + 1)
                raw = f.read(4 * dim)
                if len(raw) < 4 * dim:
                    raise FormatError(f"{path}: byte {start}: vector {i + 1} is cut short")
                vectors[i] = np.frombuffer(raw, dtype="<f4")
                if not np.isfinite(vectors[i]).all():
                    raise FormatError(f"{path}: byte {start}: vector {i + 1} holds NaN or "
                                      "infinity")
                if f.read(1) not in (b"\n", b""):
                    f.seek(-1, os.SEEK_CUR)  # word2vec.c ends records with "\n"; tolerate none
            else:
                line = f.readline()
                parts = line.rstrip(b"\r\n").rstrip(b" ").split(b" ")
                if len(parts) != 1 + dim:
                    raise FormatError(f"{path}: line {i + 2}: expected a word and {dim} numbers,"
                                      f" got {len(parts) - 1 if line else 'end of file'}")
                try:
                    vectors[i] = np.array(parts[1:], dtype=np.float32)
                except ValueError:
                    raise FormatError(f"{path}: line {i + 2}: not a number in "
                                      f"{line[:60]!r}") from None
                if not np.isfinite(vectors[i]).all():
                    raise FormatError(f"{path}: line {i + 2}: NaN or infinity")
                token = parts[0]
            try:
                words.append(token.decode("utf-8"))
            except UnicodeDecodeError:
                raise FormatError(f"{path}: record {i + 1}: the word is not UTF-8") from None
            if not token or token.isspace():
                raise FormatError(f"{path}: record {i + 1}: an empty word")
        if f.read().strip():
            raise FormatError(f"{path}: data after the {n:,} records the header announces")
    if len(set(words)) != len(words):
        raise FormatError(f"{path}: a word appears twice")
    return words, vectors


def write_model(path, arrays: dict[str, np.ndarray], words: list[str], meta: dict) -> None:
    """A model file: named arrays, the words, and JSON-able settings, atomically."""
    blob = "\n".join(words).encode("utf-8")
    with atomic_write(path) as out:
        np.savez(out, words=np.frombuffer(blob, dtype=np.uint8),
                 meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)


MODEL_DTYPES = ("<f4", "<i8", "|u1")  # what a model or checkpoint file may hold


def read_model(path) -> tuple[dict[str, np.ndarray], list[str], dict]:
    """(arrays, words, settings) of a model file; FormatError if it is not a valid one.

    The archive is parsed explicitly rather than by np.load: every member must be stored
    uncompressed, hold one of MODEL_DTYPES, and be exactly as long as its .npy header says,
    before anything is allocated for it; zip's CRC-32 then checks every byte read.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        if f.read(4) != MODEL_MAGIC:
            raise FormatError(f"{path}: not a w2v model file (no zip archive header)")
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                arrays[info.filename.removesuffix(".npy")] = _read_member(archive, info, size,
                                                                          path)
        words_blob, meta_blob = arrays.pop("words"), arrays.pop("meta")
        words = words_blob.tobytes().decode("utf-8").split("\n") if words_blob.size else []
        meta = json.loads(meta_blob.tobytes().decode("utf-8"))
    except FormatError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, ValueError, OSError,
            EOFError, NotImplementedError, RuntimeError, OverflowError) as error:
        raise FormatError(f"{path}: not a readable w2v model file ({error})") from None
    if not isinstance(meta, dict):
        raise FormatError(f"{path}: its settings are not a JSON object")
    return arrays, words, meta


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, size: int, path) -> np.ndarray:
    where = f"{path}: member {info.filename!r} at byte {info.header_offset:,}"
    if not info.filename.endswith(".npy") or info.compress_type != zipfile.ZIP_STORED:
        raise FormatError(f"{where}: not an uncompressed .npy array")
    if info.file_size > size:
        raise FormatError(f"{where}: says {info.file_size:,} bytes, the file has {size:,}")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise FormatError(f"{where}: .npy version {version} is not supported")
        if dtype.str not in MODEL_DTYPES or fortran:
            raise FormatError(f"{where}: holds {dtype.str} (fortran order {fortran}), not one "
                              f"of {', '.join(MODEL_DTYPES)}")
        count = 1
        for length in shape:
            count *= length
        need = count * dtype.itemsize
        if need != info.file_size - member.tell():
            raise FormatError(f"{where}: shape {shape} needs {need:,} bytes, the member has "
                              f"{info.file_size - member.tell():,}")
        data = member.read(need)
        if len(data) != need or member.read(1):  # reading to the end checks the CRC-32
            raise FormatError(f"{where}: cut short")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def is_model_file(path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == MODEL_MAGIC
