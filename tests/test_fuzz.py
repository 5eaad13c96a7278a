"""Hostile files: every loader either returns exactly what the bytes say or raises
w2v.FormatError — never another exception, a hang, or memory the file cannot account for.

A seeded generator mutates valid files (bit flips, truncation, padding, deleted and
repeated bytes, huge counts and wrong dimensions in the header, invalid UTF-8 in a word).
CI runs FUZZ_CASES cases per format; `W2V_FUZZ_CASES=100000 python -m pytest
tests/test_fuzz.py` is the longer run (benchmarks/README.md).
"""

import os
import time
import tracemalloc

import numpy as np
import pytest

from w2v import Embeddings, FormatError, Word2Vec
from w2v.io.formats import read_model, read_word2vec, write_word2vec

FUZZ_CASES = int(os.environ.get("W2V_FUZZ_CASES", 2000))
WORDS = [f"w{i}" for i in range(12)] + ["naïve", "über"]


def reference_word2vec(data: bytes, binary: bool):
    """The plainest reading of word2vec's format (None where the bytes are not one)."""
    try:
        header, rest = data.split(b"\n", 1)
        n, dim = header.split()
        if not (n.isdigit() and dim.isdigit()):
            return None
        n, dim = int(n), int(dim)
        if dim == 0 and n > 0:
            return None
        words, rows = [], []
        for _ in range(n):
            if binary:
                word, rest = rest.split(b" ", 1)
                if len(rest) < 4 * dim:
                    return None
                row = np.frombuffer(rest[:4 * dim], "<f4")
                rest = rest[4 * dim:]
                rest = rest[1:] if rest[:1] == b"\n" else rest
            else:
                if b"\n" not in rest:
                    line, rest = rest, b""
                else:
                    line, rest = rest.split(b"\n", 1)
                parts = line.rstrip(b"\r").rstrip(b" ").split(b" ")
                if len(parts) != 1 + dim:
                    return None
                word, row = parts[0], np.array([float(x) for x in parts[1:]], np.float32)
            if not word or word.isspace() or not np.isfinite(row).all():
                return None
            words.append(word.decode("utf-8"))
            rows.append(row)
        if rest.strip() or len(set(words)) != len(words):
            return None
        return words, np.array(rows, np.float32).reshape(n, dim)
    except (ValueError, UnicodeDecodeError):
        return None


def mutate(data: bytes, rng) -> bytes:
    kind = rng.integers(8)
    b = bytearray(data)
    if kind == 0:  # flip 1-3 bits
        for _ in range(rng.integers(1, 4)):
            i = rng.integers(len(b))
            b[i] ^= 1 << rng.integers(8)
    elif kind == 1:  # truncate
        b = b[:rng.integers(len(b))]
    elif kind == 2:  # pad
        b += bytes(rng.integers(0, 256, rng.integers(1, 40), dtype=np.uint8))
    elif kind == 3:  # delete a byte
        del b[rng.integers(len(b))]
    elif kind == 4:  # repeat a stretch
        i = rng.integers(len(b))
        b[i:i] = b[i:i + rng.integers(1, 60)]
    elif kind == 5:  # a huge count or dimension in a header (text formats) / anywhere
        huge = str(rng.choice([10**6, 10**9, 10**12, 2**63])).encode()
        head, _, rest = bytes(b).partition(b"\n")
        parts = head.split(b" ")
        if len(parts) == 2:
            parts[rng.integers(2)] = huge
            b = bytearray(b" ".join(parts) + b"\n" + rest)
        else:
            i = rng.integers(len(b))
            b[i:i + len(huge)] = huge
    elif kind == 6:  # wrong dimension
        head, _, rest = bytes(b).partition(b"\n")
        parts = head.split(b" ")
        if len(parts) == 2 and parts[1].isdigit():
            parts[1] = str(max(int(parts[1]) + int(rng.choice([-1, 1, 7])), 0)).encode()
        b = bytearray(b" ".join(parts) + b"\n" + rest)
    else:  # invalid UTF-8 in a word
        i = bytes(b).find(b"w", rng.integers(len(b)))
        if i >= 0:
            b[i] = 0xFF
    return bytes(b)


def load_bounded(load, path):
    """Call load(path), checking time and peak allocation against the file's size."""
    size = os.path.getsize(path)
    tracemalloc.start()
    tick = time.perf_counter()
    try:
        return load(path)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert time.perf_counter() - tick < 5, "a load took more than 5 s"
        assert peak < 8 * size + (1 << 20), f"peak {peak:,} bytes for a {size:,}-byte file"


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_loaders_against_mutated_files(tmp_path, binary):
    rng = np.random.default_rng(7 + binary)
    vectors = rng.normal(size=(len(WORDS), 6)).astype(np.float32)
    good = tmp_path / "good"
    write_word2vec(good, WORDS, vectors, binary=binary)
    original = good.read_bytes()
    path = tmp_path / "case"
    outcomes = {"loaded": 0, "refused": 0}
    for case in range(FUZZ_CASES):
        data = mutate(original, rng)
        path.write_bytes(data)
        want = reference_word2vec(data, binary)
        try:  # format detection too: a FormatError or vectors, nothing else
            load_bounded(Embeddings.load, path)
        except FormatError:
            pass
        try:
            words, got = load_bounded(lambda p: read_word2vec(p, binary=binary), path)
        except FormatError:
            assert want is None, f"case {case}: refused a valid file {data[:80]!r}"
            outcomes["refused"] += 1
            continue
        assert want is not None, f"case {case}: loaded an invalid file {data[:80]!r}"
        assert words == want[0]
        np.testing.assert_array_equal(got, want[1])
        outcomes["loaded"] += 1
    assert outcomes["refused"] > FUZZ_CASES / 4 and outcomes["loaded"] > 10, outcomes


@pytest.mark.parametrize("kind", ["model", "checkpoint"])
def test_model_and_checkpoint_loaders_against_mutated_files(tmp_path, kind):
    from tests.conftest import planted_sentences
    from w2v.checkpoint import Checkpoint
    from w2v.config import TrainConfig
    from w2v.trainer import train

    good = tmp_path / "good"
    if kind == "model":
        Word2Vec(planted_sentences(20), vector_size=4, min_count=1, epochs=1,
                 workers=1).save(good)
        load = Word2Vec.load
    else:
        corpus = tmp_path / "c.txt"
        corpus.write_text("\n".join(" ".join(s) for s in planted_sentences(20)) + "\n")
        train(corpus, TrainConfig(dim=4, min_count=1, epochs=1), checkpoint=good)
        load = Checkpoint.load
    saved = load(good)
    original = good.read_bytes()
    rng = np.random.default_rng(11)
    path = tmp_path / "case"
    outcomes = {"loaded": 0, "refused": 0}
    for case in range(FUZZ_CASES):
        data = mutate(original, rng)
        path.write_bytes(data)
        try:
            loaded = load_bounded(load, path)
        except FormatError:
            outcomes["refused"] += 1
            continue
        # zip's CRC-32 covers every array: what loads is exactly what was saved
        np.testing.assert_array_equal(loaded.input_vectors, saved.input_vectors)
        np.testing.assert_array_equal(loaded.output_vectors, saved.output_vectors)
        assert loaded.vocab.words == saved.vocab.words and loaded.config == saved.config
        outcomes["loaded"] += 1
    assert outcomes["refused"] > FUZZ_CASES / 2, outcomes


def test_model_loader_refuses_pickles_and_compressed_or_oversized_members(tmp_path):
    import zipfile

    np.savez(tmp_path / "pickled.npz", words=np.array([{"a": 1}], dtype=object),
             meta=np.zeros(1, np.uint8))
    with pytest.raises(FormatError, match="holds |O"):
        read_model(tmp_path / "pickled.npz")
    np.savez_compressed(tmp_path / "packed.npz", words=np.zeros(4, np.uint8),
                        meta=np.zeros(4, np.uint8))
    with pytest.raises(FormatError, match="not an uncompressed .npy array"):
        read_model(tmp_path / "packed.npz")
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1, np.float32))
    header["shape"] = (10**12,)  # a tiny member whose header claims 4 TB
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:
        with archive.open("words.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, header)
            member.write(b"\0" * 4)
    with pytest.raises(FormatError, match="needs 4,000,000,000,000 bytes"):
        load_bounded(read_model, tmp_path / "huge.npz")
