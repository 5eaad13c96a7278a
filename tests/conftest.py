"""Shared fixtures: small corpora written to temporary files."""

from __future__ import annotations

import gzip
import os
from contextlib import contextmanager

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# numba.cuda runs on the CPU simulator in tests unless a GPU run asks for the real device
# (NUMBA_ENABLE_CUDASIM=0 pytest -m gpu); numba reads this when it is first imported.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import numpy as np
import pytest

GROUPS = 6  # planted structure: words of a group only ever co-occur with each other
GROUP_SIZE = 8


def planted_sentences(n_sentences: int = 3000, length: int = 12, seed: int = 0) -> list[list[str]]:
    """Sentences each drawn from one group's words: g{group}w{word}."""
    rng = np.random.default_rng(seed)
    sentences = []
    for _ in range(n_sentences):
        g = rng.integers(GROUPS)
        sentences.append([f"g{g}w{w}" for w in rng.integers(GROUP_SIZE, size=length)])
    return sentences


def share_of_neighbours_in_group(vectors) -> float:
    """Over all words, the share of their GROUP_SIZE − 1 nearest neighbours in their group."""
    hits = total = 0
    for word in vectors.words:
        group = word.split("w")[0]
        neighbours = [w for w, _ in vectors.most_similar(word, topn=GROUP_SIZE - 1)]
        hits += sum(n.split("w")[0] == group for n in neighbours)
        total += len(neighbours)
    return hits / total


@pytest.fixture
def planted_corpus(tmp_path):
    path = tmp_path / "planted.txt.gz"
    with gzip.open(path, "wt") as f:
        for sentence in planted_sentences():
            f.write(" ".join(sentence) + "\n")
    return path


@pytest.fixture
def tiny_corpus(tmp_path):
    """About 6,000 words of plain text: enough for every stage, fast to train."""
    path = tmp_path / "tiny.txt"
    path.write_text("\n".join(" ".join(s) for s in planted_sentences(500)) + "\n")
    return path


@contextmanager
def planted_batches(directory, n_sentences: int, chunk_words: int, **config):
    """(vocab, ExampleBatches) of a planted corpus encoded in chunks of `chunk_words`."""
    from w2v.batches import EncodedCorpus, ExampleBatches
    from w2v.config import TrainConfig
    from w2v.vocab import Vocabulary

    sentences = planted_sentences(n_sentences)
    vocab = Vocabulary.build(sentences, min_count=1)
    encoded = EncodedCorpus(sentences, vocab, chunk_words=chunk_words, directory=directory)
    try:
        yield vocab, ExampleBatches(encoded, vocab, TrainConfig(**config))
    finally:
        encoded.close()


def random_tables(vocab_size: int, dim: int, seed: int = 0):
    """(input, output) (V, d) float32 tables far from word2vec's start, so every term counts."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(-0.5, 0.5, (vocab_size, dim)).astype(np.float32),
            rng.normal(0, 0.3, (vocab_size, dim)).astype(np.float32))
