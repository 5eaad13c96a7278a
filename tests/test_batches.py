"""Pair and example generation: exact on fixed cases, statistically right, reproducible."""

import numpy as np
import pytest

from tests.conftest import planted_sentences
from w2v.batches import EncodedCorpus, ExampleBatches
from w2v.config import TrainConfig
from w2v.kernels.cpu import seed_state, skipgram_pairs_cpu
from w2v.streams import epoch_streams
from w2v.vocab import Vocabulary


def streams(seed: int, epoch: int) -> np.ndarray:
    """Row 0 of an epoch's streams: what one thread and the keras batches draw from."""
    return epoch_streams(seed, epoch, range(1))[0]


def pairs(ids, ends, keep, window, seed=1):
    ids, ends = np.asarray(ids, np.int32), np.asarray(ends, np.int64)
    out_c = np.empty(2 * window * len(ids), np.int32)
    out_x = np.empty_like(out_c)
    n = skipgram_pairs_cpu(ids, ends, np.asarray(keep, np.float32), window, seed_state(seed),
                           out_c, out_x)
    return list(zip(out_c[:n].tolist(), out_x[:n].tolist()))


def test_window_one_gives_exactly_the_neighbours_within_each_sentence():
    got = pairs([0, 1, 2, 3, 4, 5], [4, 6], keep=[1] * 6, window=1)
    assert got == [(0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2), (4, 5), (5, 4)]


def test_reduced_window_is_uniform_in_one_to_window():
    window, n = 5, 200_000
    got = pairs(np.arange(n) % 7, [n], keep=[1] * 7, window=window)
    # away from the edges, a center pairs with 2b words, b uniform in 1..window
    assert len(got) / n == pytest.approx(window + 1, rel=0.01)
    centers = np.array([c for c, _ in got[:60_000]])
    per_position = np.diff(np.flatnonzero(np.r_[True, centers[1:] != centers[:-1], True]))
    sizes = np.bincount(per_position[window:-1])  # each center's pair count 2b, edges aside
    assert set(np.flatnonzero(sizes)) == {2, 4, 6, 8, 10}
    shares = sizes[[2, 4, 6, 8, 10]] / sizes.sum()
    np.testing.assert_allclose(shares, 0.2, atol=0.02)


def test_count_only_mode_matches_written_pairs():
    ids = np.random.default_rng(0).integers(0, 5, 5000)
    keep = [0.3, 0.6, 1, 1, 0.9]
    written = pairs(ids, [1000, 3000, 5000], keep, window=4, seed=9)
    none = np.empty(0, np.int32)
    counted = skipgram_pairs_cpu(ids.astype(np.int32), np.array([1000, 3000, 5000]),
                                 np.asarray(keep, np.float32), 4, seed_state(9), none, none)
    assert counted == len(written)


@pytest.fixture
def setup(tmp_path):
    sentences = planted_sentences(400)
    vocab = Vocabulary.build(sentences, min_count=1)
    encoded = EncodedCorpus(sentences, vocab, chunk_words=500, directory=tmp_path)
    yield sentences, vocab, encoded
    encoded.close()


def test_encoded_corpus_round_trips_in_chunks(setup):
    sentences, vocab, encoded = setup
    assert encoded.n_chunks > 3
    ids = np.concatenate([chunk for chunk, _ in encoded.chunks()])
    np.testing.assert_array_equal(ids, [vocab.index[w] for s in sentences for w in s])
    ends = np.concatenate([e + sum(len(c) for c, _ in list(encoded.chunks())[:i])
                           for i, (_, e) in enumerate(encoded.chunks())])
    np.testing.assert_array_equal(ends, np.cumsum([len(s) for s in sentences]))


def test_examples_layout_reproducibility_and_steps(setup):
    _, vocab, encoded = setup
    config = TrainConfig(batch_size=64, negative=4, window=3, seed=7, sample=1e-2)
    batches = ExampleBatches(encoded, vocab, config)
    epoch0 = list(batches.epoch(streams(7, 0)))
    assert len(epoch0) == batches.count_pairs(streams(7, 0)) // 64
    assert all(b.shape == (64, 6) and b.dtype == np.int32 for b in epoch0)
    stacked = np.concatenate(epoch0)
    assert (stacked[:, 2:] != stacked[:, 1:2]).all()  # no negative equals its context
    assert stacked.min() >= 0 and stacked.max() < len(vocab)
    # same seed and epoch: same examples; another epoch or seed: others
    again = ExampleBatches(encoded, vocab, config).epoch(streams(7, 0))
    np.testing.assert_array_equal(np.concatenate(list(again)), stacked)
    assert not np.array_equal(np.concatenate(list(batches.epoch(streams(7, 1))))[:64], stacked[:64])
    assert not np.array_equal(next(iter(batches.epoch(streams(8, 0)))), epoch0[0])


def test_negatives_follow_the_noise_distribution(setup):
    _, vocab, encoded = setup
    config = TrainConfig(batch_size=256, negative=5, sample=0)
    batches = ExampleBatches(encoded, vocab, config)
    negatives = np.concatenate([b[:, 2:].ravel() for e in range(3)
                                for b in batches.epoch(streams(1, e))])
    freq = np.bincount(negatives, minlength=len(vocab)) / len(negatives)
    # redrawing a negative equal to the context only slightly lowers each word's share
    np.testing.assert_allclose(freq, vocab.noise_distribution(0.75), rtol=0.08)
