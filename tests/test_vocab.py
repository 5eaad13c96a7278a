"""Vocabulary counts and ids, subsampling and the noise distribution against their formulas."""

import numpy as np
import pytest

from w2v.kernels.cpu import draw_alias, seed_state, subsample_cpu
from numba import njit
from w2v.vocab import Vocabulary, alias_table


def test_counts_min_count_and_ids_by_frequency_with_tie_break():
    sentences = [["b", "a", "c", "a"], ["c", "b", "d", "a"], ["e"]]
    vocab = Vocabulary.build(sentences, min_count=2)
    assert vocab.words == ["a", "b", "c"]  # a:3, then b:2 and c:2 tied, broken by the word
    assert vocab.counts.tolist() == [3, 2, 2]
    assert vocab.corpus_words == 9 and vocab.trained_words == 7
    assert vocab.index == {"a": 0, "b": 1, "c": 2}
    # the order the corpus is read in does not change ids
    assert Vocabulary.build(sentences[::-1], min_count=2).words == vocab.words
    assert Vocabulary.build(sentences, min_count=1, max_vocab_size=2).words == ["a", "b"]


def test_keep_probability_is_word2vecs_formula():
    vocab = Vocabulary(["the", "cat", "zebra"], [9000, 900, 100], corpus_words=10000)
    keep = vocab.keep_probabilities(1e-3)
    share = np.array([0.9, 0.09, 0.01])
    expected = np.minimum((np.sqrt(share / 1e-3) + 1) * 1e-3 / share, 1)
    np.testing.assert_allclose(keep, expected, rtol=1e-6)
    assert keep[0] < keep[1] < keep[2] <= 1
    assert (vocab.keep_probabilities(0) == 1).all()


def test_subsampling_keeps_each_word_at_its_rate():
    keep_prob = np.array([0.1, 0.5, 1.0], dtype=np.float32)
    ids = np.tile(np.arange(3, dtype=np.int32), 100_000)
    kept = np.empty_like(ids)
    n = subsample_cpu(ids, keep_prob, seed_state(5), kept)
    rates = np.bincount(kept[:n], minlength=3) / 100_000
    np.testing.assert_allclose(rates, keep_prob, atol=0.005)  # ~5 standard errors
    again = np.empty_like(ids)
    assert subsample_cpu(ids, keep_prob, seed_state(5), again) == n  # same seed, same draw
    np.testing.assert_array_equal(again[:n], kept[:n])


def test_noise_distribution_is_count_to_the_power():
    vocab = Vocabulary(["a", "b", "c"], [81, 16, 1], corpus_words=98)
    np.testing.assert_allclose(vocab.noise_distribution(0.75), np.array([27, 8, 1]) / 36)


@njit
def _draw_many(accept, alias, state, n):
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        out[i] = draw_alias(state, accept, alias)
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_alias_sampling_matches_the_distribution(seed):
    rng = np.random.default_rng(seed)
    p = rng.random(50) ** 3
    p /= p.sum()
    accept, alias = alias_table(p)
    n = 1_000_000
    freq = np.bincount(_draw_many(accept, alias, seed_state(seed), n), minlength=50) / n
    stderr = np.sqrt(p * (1 - p) / n)
    assert (np.abs(freq - p) < 5 * stderr + 1e-6).all()
