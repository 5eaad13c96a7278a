"""Embeddings: word2vec text/binary round trips, gensim interop, atomic writes."""

import numpy as np
import pytest
from gensim.models import KeyedVectors

from w2v.evaluate import to_keyed_vectors
from w2v.io.formats import atomic_write
from w2v.vectors import Embeddings


@pytest.fixture
def embeddings():
    rng = np.random.default_rng(0)
    return Embeddings(["the", "café", "z"], rng.normal(size=(3, 5)).astype(np.float32))


@pytest.mark.parametrize("binary", [False, True])
def test_round_trip_and_gensim_reads_it(tmp_path, embeddings, binary):
    path = tmp_path / "v"
    embeddings.save_word2vec_format(path, binary=binary)
    again = Embeddings.load_word2vec_format(path, binary=binary)
    assert again.words == embeddings.words
    np.testing.assert_allclose(again.vectors, embeddings.vectors, rtol=1e-5 if not binary else 0)
    kv = KeyedVectors.load_word2vec_format(path, binary=binary)
    assert kv.index_to_key == embeddings.words
    np.testing.assert_allclose(kv["café"], embeddings["café"], rtol=1e-5)


def test_we_read_what_gensim_writes(tmp_path, embeddings):
    kv = to_keyed_vectors(embeddings)
    kv.save_word2vec_format(tmp_path / "g.bin", binary=True)
    again = Embeddings.load_word2vec_format(tmp_path / "g.bin", binary=True)
    np.testing.assert_array_equal(again.vectors, embeddings.vectors)


def test_most_similar_agrees_with_gensim(embeddings):
    ours = embeddings.most_similar("the", topn=2)
    theirs = to_keyed_vectors(embeddings).most_similar("the", topn=2)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-5)


def test_atomic_write_leaves_the_old_file_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as f:
            f.write(b"partial")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_the_text_format_writes_each_value_as_its_six_significant_digits(tmp_path):
    """Each value as f"{x:.6g}" would write it (the writer formats a row at a time), for
    values that test the formatting: −0, subnormals, float32's extremes, integers past six
    digits, and ordinary ones."""
    from w2v.io.formats import write_word2vec

    rng = np.random.default_rng(3)
    vectors = rng.normal(0, 0.5, (4, 6)).astype(np.float32)
    vectors[0] = [-0.0, 0.0, 1e-40, -1e-45, 3.4028235e38, -1.1754944e-38]
    vectors[1] = [123456789.0, -1234567.0, 0.1, 1 / 3, 999999.5, 1e-5]
    path = tmp_path / "v.txt"
    write_word2vec(path, ["a", "b", "c", "d"], vectors)
    want = "4 6\n" + "".join(f"{w} " + " ".join(f"{x:.6g}" for x in row) + "\n"
                             for w, row in zip("abcd", vectors))
    assert path.read_bytes() == want.encode()
    assert "-0 0 9.99995e-41" in path.read_text()
