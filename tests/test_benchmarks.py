"""The benchmark harness's own guard: a ratio against gensim compares equal work.

gensim's corpus_file reader caps each batch at 10,000 kept words and fills a batch until it
passes 10,000 read words, keeping the line that passed: with 10,000-word lines it silently
trained about 70 % of what it kept. compare_gensim writes 1,000-word lines and checks what
gensim trained; these tests run the real gensim on a small Zipf corpus both ways.
"""

import numpy as np
import pytest

from benchmarks.compare_gensim import (GENSIM_LINE_WORDS, checked_work, gensim_trained_share,
                                       write_split_copy)

WORDS = 60_000


@pytest.fixture
def one_line_corpus(tmp_path):
    """A text8-style corpus: WORDS Zipf-distributed words on one line."""
    rng = np.random.default_rng(7)
    vocab = np.array([f"w{i}" for i in range(3000)])
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    words = rng.choice(vocab, size=WORDS, p=weights / weights.sum())
    path = tmp_path / "one_line.txt"
    path.write_text(" ".join(words) + "\n")
    return path


def gensim_share(corpus) -> float:
    from gensim.models import Word2Vec

    model = Word2Vec(vector_size=8, min_count=1, sample=1e-3, workers=1, seed=1)
    model.build_vocab(corpus_file=str(corpus))
    trained, _ = model.train(corpus_file=str(corpus), total_examples=model.corpus_count,
                             total_words=model.corpus_total_words, epochs=1)
    return gensim_trained_share(model, trained, 1)


def test_the_benchmark_copy_lets_gensim_train_every_kept_word(one_line_corpus, tmp_path):
    copy = tmp_path / "copy.txt"
    assert write_split_copy(one_line_corpus, copy, None, GENSIM_LINE_WORDS) == WORDS
    lines = copy.read_text().splitlines()
    assert max(len(line.split()) for line in lines) == GENSIM_LINE_WORDS
    assert sum(len(line.split()) for line in lines) == WORDS
    share = gensim_share(copy)
    assert share == pytest.approx(1.0, abs=0.01)
    assert checked_work({"trained_share": share})["trained_share"] == share


def test_the_check_refuses_gensims_dropped_words_on_long_lines(one_line_corpus, tmp_path):
    copy = tmp_path / "copy.txt"
    write_split_copy(one_line_corpus, copy, None, 10_000)
    share = gensim_share(copy)
    assert share < 0.9  # the batch cap: each 20,000 read words train at most 10,000
    with pytest.raises(SystemExit, match="would not compare equal work"):
        checked_work({"trained_share": share})
