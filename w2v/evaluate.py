"""Quality scores of word vectors on the standard evaluation sets.

>>> from w2v.evaluate import evaluate
>>> evaluate(embeddings)
{'analogy': 0.38, 'wordsim353': 0.66, 'simlex999': 0.28, ...}

Scores come from gensim's own evaluators on gensim's copies of the sets, so our figures
and gensim's are computed by the same code: analogy accuracy on questions-words.txt
(among the 300,000 most frequent words, gensim's default: all of ours on these corpora),
Spearman correlation on word-pair sets.
Pairs with a word missing from the vocabulary are skipped; `<set>_oov` is the share skipped.
"""

from __future__ import annotations

import logging
import os

import numpy as np

ANALOGY_SET = "questions-words.txt"
PAIR_SETS = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}


def to_keyed_vectors(embeddings):
    """A gensim KeyedVectors holding the same words and vectors."""
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=embeddings.dim)
    kv.add_vectors(embeddings.words, embeddings.vectors)
    return kv


def evaluate(vectors, extra_pair_sets: dict[str, str] | None = None) -> dict[str, float]:
    """Analogy accuracy and word-pair Spearman scores of `vectors`.

    vectors: a w2v Embeddings or a gensim KeyedVectors.
    extra_pair_sets: name -> path of more tab-separated (word, word, score) files.
    Returns {"analogy": accuracy, "<set>": spearman, "<set>_oov": share of pairs skipped}.
    """
    from gensim.test.utils import datapath

    kv = vectors if hasattr(vectors, "evaluate_word_pairs") else to_keyed_vectors(vectors)
    sets = {name: datapath(file) for name, file in PAIR_SETS.items()}
    sets.update(extra_pair_sets or {})
    quiet = logging.getLogger("gensim").level
    logging.getLogger("gensim").setLevel(logging.ERROR)
    try:
        accuracy, _ = kv.evaluate_word_analogies(datapath(ANALOGY_SET))
        scores = {"analogy": float(accuracy)}
        for name, path in sets.items():
            if not os.path.exists(path):
                continue
            try:
                _, spearman, oov = kv.evaluate_word_pairs(path)
            except ValueError:  # fewer than two pairs in the vocabulary: no correlation
                scores[name], scores[f"{name}_oov"] = float("nan"), 1.0
                continue
            scores[name] = float(spearman[0]) if np.isfinite(spearman[0]) else float("nan")
            scores[f"{name}_oov"] = float(oov) / 100
    finally:
        logging.getLogger("gensim").setLevel(quiet)
    return scores
