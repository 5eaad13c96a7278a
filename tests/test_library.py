"""The embedding library: Word2Vec's life cycle, Embeddings' queries against gensim's."""

import numpy as np
import pytest
from gensim.test.utils import datapath

import w2v
from tests.conftest import planted_sentences
from w2v import Embeddings, FormatError, Word2Vec

NOVELS = "data/novels.txt.gz"


@pytest.fixture(scope="module")
def novels():
    """Vectors from one epoch on the shipped novels (numba, deterministic), and gensim's copy."""
    model = Word2Vec(NOVELS, vector_size=32, epochs=1, workers=1, min_count=5)
    return model.wv, model.wv.to_gensim()


def test_constructor_without_corpus_only_stores_settings():
    model = Word2Vec(vector_size=16, window=3, workers=1)
    assert model.vocab is None and model.config.dim == 16 and model.config.threads == 1
    with pytest.raises(ValueError, match="no vocabulary yet"):
        model.wv
    with pytest.raises(ValueError, match="window must be at least 1, got 0"):
        Word2Vec(window=0)


def test_build_vocab_then_train_as_in_gensim():
    sentences = planted_sentences(300)
    model = Word2Vec(vector_size=8, min_count=1, epochs=2, workers=1).build_vocab(sentences)
    assert len(model.vocab) == 48 and model.epochs_trained == 0
    summary = model.train(sentences)
    assert model.epochs_trained == 2 and len(model.history) == 2
    assert summary.corpus_words == 3600 and model.words_trained == 7200
    assert [h["epoch"] for h in model.history] == [1, 2]
    assert model.history[0]["learning_rate"] > model.history[1]["learning_rate"]
    with pytest.raises(ValueError, match="re-iterable"):
        model.train(iter(sentences))


def test_continued_training_grows_the_vocabulary_and_moves_the_vectors():
    first = [["a", "b", "c", "d"] * 5] * 20
    model = Word2Vec(first, vector_size=8, min_count=5, epochs=1, workers=1)
    before = model.wv
    more = [["a", "b", "x", "y", "z"] * 5] * 20
    model.train(more)
    after = model.wv
    assert after.words[:4] == before.words  # old ids kept
    assert set(after.words[4:]) == {"x", "y", "z"}
    assert model.vocab.counts[model.vocab.index["a"]] == 200
    assert not np.allclose(after["a"], before["a"])
    np.testing.assert_array_equal(after["c"], before["c"])  # not in the new text: untouched
    assert model.train_calls == 2 and model.epochs_trained == 2


def test_save_and_load_are_lossless_and_training_goes_on_identically(tmp_path):
    sentences = planted_sentences(200)
    model = Word2Vec(sentences, vector_size=8, min_count=1, epochs=1, workers=1, seed=4)
    model.save(tmp_path / "m.w2v")
    loaded = Word2Vec.load(tmp_path / "m.w2v")
    for name in ("input_vectors", "output_vectors"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
    assert loaded.vocab.words == model.vocab.words
    np.testing.assert_array_equal(loaded.vocab.counts, model.vocab.counts)
    assert loaded.config == model.config and loaded.history == model.history
    assert (loaded.epochs_trained, loaded.words_trained, loaded.train_calls) == (1, 2400, 1)
    more = planted_sentences(100, seed=9)
    model.train(more)
    loaded.train(more)
    np.testing.assert_array_equal(loaded.input_vectors, model.input_vectors)
    assert Embeddings.load(tmp_path / "m.w2v").words == model.vocab.words


def test_load_refuses_what_is_not_a_model(tmp_path):
    (tmp_path / "v.txt").write_text("1 2\na 0 1\n")
    with pytest.raises(FormatError, match="not a w2v model file|not a version-1 w2v model file"):
        Word2Vec.load(tmp_path / "v.txt")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(FormatError):
        Word2Vec.load(tmp_path / "other.npz")


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_files_round_trip_through_gensim(tmp_path, novels, binary):
    ours, kv = novels
    ours.save_word2vec_format(tmp_path / "v", binary=binary)
    again = Embeddings.load_word2vec_format(tmp_path / "v")  # format detected
    assert again.words == ours.words
    np.testing.assert_allclose(again.vectors, ours.vectors, rtol=1e-5, atol=1e-7)
    kv.save_word2vec_format(str(tmp_path / "g"), binary=binary)
    from_gensim = Embeddings.load(tmp_path / "g")
    assert from_gensim.words == ours.words
    np.testing.assert_allclose(from_gensim.vectors, ours.vectors, rtol=1e-5, atol=1e-7)


def test_queries_agree_with_gensim(novels):
    ours, kv = novels
    for query in [dict(positive="whale"), dict(positive=["king", "woman"], negative=["man"]),
                  dict(positive=["emma"], negative=["harriet"]), dict(negative=["sea"])]:
        want = kv.most_similar(**query, topn=8)
        got = ours.most_similar(**query, topn=8)
        assert [w for w, _ in got] == [w for w, _ in want]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-5)
    want = kv.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=8)
    got = ours.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=8)
    assert [w for w, _ in got] == [w for w, _ in want]
    vector = ours["ship"] + ours["sea"]
    assert [w for w, _ in ours.most_similar(positive=[vector], topn=5)] == \
        [w for w, _ in kv.most_similar(positive=[vector], topn=5)]
    assert ours.similarity("ship", "sea") == pytest.approx(float(kv.similarity("ship", "sea")),
                                                           abs=1e-6)
    words = ["breakfast", "dinner", "supper", "whale"]
    assert ours.doesnt_match(words) == kv.doesnt_match(words)
    assert ours[["ship", "sea"]].shape == (2, 32) and "ship" in ours and "xyzzy" not in ours
    with pytest.raises(KeyError, match="'xyzzy' is not in the vocabulary"):
        ours["xyzzy"]


def test_evaluations_agree_with_gensim(novels):
    ours, kv = novels
    score, sections = ours.evaluate_word_analogies(datapath("questions-words.txt"))
    want_score, want_sections = kv.evaluate_word_analogies(datapath("questions-words.txt"))
    assert score == pytest.approx(want_score)
    assert [(s["section"], s["correct"], s["incorrect"]) for s in sections] == \
        [(s["section"], s["correct"], s["incorrect"]) for s in want_sections]
    assert len(sections[-1]["correct"]) + len(sections[-1]["incorrect"]) > 100
    for name in ("wordsim353.tsv", "simlex999.txt"):
        pearson, spearman, oov = ours.evaluate_word_pairs(datapath(name))
        want = kv.evaluate_word_pairs(datapath(name))
        assert pearson[0] == pytest.approx(want[0][0], abs=1e-5)
        assert spearman[0] == pytest.approx(want[1][0], abs=1e-5)
        assert oov == pytest.approx(want[2])


def test_keras_export_returns_the_same_vector_for_the_same_word(novels):
    import keras

    ours, _ = novels
    lookup, embedding = ours.to_keras_embedding()
    ids = lookup(np.array(["whale", "emma", "no-such-word"]))
    vectors = keras.ops.convert_to_numpy(embedding(ids))
    np.testing.assert_array_equal(vectors[0], ours["whale"])
    np.testing.assert_array_equal(vectors[1], ours["emma"])
    np.testing.assert_array_equal(vectors[2], np.zeros(32))
    assert not embedding.trainable and ours.to_keras_embedding(trainable=True).embedding.trainable
    model = keras.Sequential([keras.Input((3,), dtype="string"), lookup, embedding])
    out = keras.ops.convert_to_numpy(model(np.array([["whale", "sea", "emma"]])))
    np.testing.assert_array_equal(out[0, 1], ours["sea"])


def test_top_level_exports():
    for name in ("Word2Vec", "Embeddings", "TrainConfig", "Callback", "FormatError", "train"):
        assert getattr(w2v, name) is not None
