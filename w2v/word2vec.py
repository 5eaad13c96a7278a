"""Word2Vec: the trainer as an object, with gensim's names and keywords.

>>> from w2v import Word2Vec
>>> model = Word2Vec("data/novels.txt.gz", vector_size=100, epochs=5)  # trains at once
>>> model.wv.most_similar("whale", topn=5)
>>> model.train("more_text.txt")        # continues: new words join the vocabulary
>>> model.save("novels.w2v"); model = Word2Vec.load("novels.w2v")
>>> Word2Vec(sentences=common_texts, vector_size=100, window=5, min_count=1, workers=4)

Without a corpus the constructor only stores the settings; `build_vocab` then `train`, as
in gensim. A corpus is a path, a list of paths, or re-iterable sentences (lists of str).
`save` writes one .npz file of plain arrays (no pickle): the tables, the vocabulary with
its counts, the settings and how much has been trained, so `load` gives back a model that
trains on exactly as this one would.

Every keyword of gensim's Word2Vec and of its `train` is taken: implemented, or refused
with a TypeError or ValueError that names it and says why (`GENSIM_REFUSED`). Two
defaults differ from gensim's: sg=1 (skip-gram, as the rest of w2v; gensim's is CBOW) and
workers=0 (every core; gensim's is 3).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from w2v.config import TrainConfig
from w2v.errors import FormatError
from w2v.model_file import MODEL_FORMAT, MODEL_VERSION, read_trained, write_trained
from w2v.vectors import Embeddings
from w2v.vocab import Vocabulary

# gensim keywords that change nothing here, and why (accepted, so gensim code runs)
GENSIM_IGNORED = {
    "batch_words": "gensim's job size for its worker threads; w2v's threads take chunks",
    "total_examples": "gensim's count of sentences for its schedule; w2v counts itself",
    "total_words": "gensim's count of words for its schedule; w2v counts itself",
    "word_count": "gensim's words already trained, for its progress log",
    "queue_factor": "gensim's job queue length",
    "report_delay": "gensim's seconds between progress logs",
    "compute_loss": "w2v always computes the loss (get_latest_training_loss)",
}


def _refuse(name: str, value, allowed, why: str) -> None:
    if value != allowed:
        raise ValueError(f"{name}={value!r} is not supported: {why}")


class Word2Vec:
    """word2vec: skip-gram or CBOW, negative sampling and/or hierarchical softmax.

    gensim's parameters: sentences (or corpus_file), vector_size (our dim), alpha, window,
    min_count, max_vocab_size (prune while counting), max_final_vocab (keep the N most
    frequent), sample, seed, workers (our threads; 0: every core), min_alpha, sg (1
    skip-gram, 0 CBOW), hs, negative, ns_exponent, cbow_mean, epochs, trim_rule,
    callbacks (gensim's CallbackAny2Vec too), comment, compute_loss; hashfxn (only
    Python's hash), null_word (only 0), sorted_vocab (only 1), shrink_windows (only True)
    and batch_words are accepted for compatibility. Ours: backend ("auto", "numba",
    "keras", "cuda"), optimizer and steps_per_update (keras: w2v.optimizers), batch_size,
    progress (a bar); any other TrainConfig field may be passed by its name.
    """

    def __init__(self, sentences=None, corpus_file=None, vector_size: int = 100,
                 alpha: float = 0.025, window: int = 5, min_count: int = 5,
                 max_vocab_size: int | None = None, sample: float = 1e-3, seed: int = 1,
                 workers: int = 0, min_alpha: float = 0.0001, sg: int = 1, hs: int = 0,
                 negative: int = 5, ns_exponent: float = 0.75, cbow_mean: int = 1,
                 hashfxn=hash, epochs: int = 5, null_word: int = 0, trim_rule=None,
                 sorted_vocab: int = 1, batch_words: int = 10_000, compute_loss: bool = False,
                 callbacks=(), comment: str | None = None, max_final_vocab: int | None = None,
                 shrink_windows: bool = True, *, backend: str = "auto", optimizer: str = "sgd",
                 steps_per_update: int = 1, batch_size: int = 1024, progress: bool = False,
                 **config):
        _refuse("hashfxn", hashfxn, hash, "w2v draws every vector from `seed` alone")
        _refuse("null_word", null_word, 0, "it pads gensim's CBOW concatenation, which w2v "
                "does not have")
        _refuse("sorted_vocab", bool(sorted_vocab), True, "w2v's ids go by falling count, "
                "which its noise table and Huffman tree are built on")
        _refuse("shrink_windows", bool(shrink_windows), True, "w2v always draws the reduced "
                "window uniformly in 1..window, as word2vec.c")
        for name, value in (("sg", sg), ("hs", hs), ("cbow_mean", cbow_mean)):
            if value not in (0, 1):
                raise ValueError(f"{name} must be 0 or 1, got {value!r}")
        if sentences is not None and corpus_file is not None:
            raise TypeError("give sentences or corpus_file, not both")
        self.config = TrainConfig(
            dim=vector_size, window=window, min_count=min_count,
            max_vocab_size=max_final_vocab, prune_vocab_at=max_vocab_size, negative=negative,
            sample=sample, ns_exponent=ns_exponent, alpha=alpha, min_alpha=min_alpha,
            epochs=epochs, seed=seed, threads=workers, cbow=not sg, cbow_mean=bool(cbow_mean),
            hs=bool(hs), backend=backend, optimizer=optimizer,
            steps_per_update=steps_per_update, batch_size=batch_size, **config).validated()
        self.trim_rule, self.comment = trim_rule, comment
        self.callbacks = list(callbacks)
        self.progress = progress
        self.vocab: Vocabulary | None = None
        self.input_vectors = np.empty((0, self.config.dim), np.float32)  # (V, d)
        self.output_vectors = np.empty((0, self.config.dim), np.float32)  # (V [+ V − 1], d)
        self.epochs_trained = 0  # over every train() call
        self.words_trained = 0  # corpus words × epochs, over every train() call
        self.history: list[dict] = []  # each epoch's logs, over every train() call
        self.summaries = []  # the TrainSummary of each train() call since construction or load
        self.train_calls = 0  # train() calls over the model's life
        corpus = sentences if sentences is not None else corpus_file
        if corpus is not None:
            self.build_vocab(corpus)
            self.train(corpus)

    @property
    def sg(self) -> int:
        return int(not self.config.cbow)

    @property
    def hs(self) -> int:
        return int(self.config.hs)

    @property
    def negative(self) -> int:
        return self.config.negative

    @property
    def cbow_mean(self) -> int:
        return int(self.config.cbow_mean)

    @property
    def epochs(self) -> int:
        return self.config.epochs

    def get_latest_training_loss(self) -> float:
        """The summed loss of every prediction of the last `train` call (gensim's measure;
        w2v computes it always, with or without compute_loss)."""
        return self.summaries[-1].loss_sum if self.summaries else 0.0

    @property
    def vector_size(self) -> int:
        return self.config.dim

    @property
    def wv(self) -> Embeddings:
        """The trained word vectors (the input table), as gensim's `model.wv`."""
        if self.vocab is None:
            raise ValueError("no vocabulary yet: call build_vocab (or train) first")
        return Embeddings(self.vocab.words, self.input_vectors)

    def build_vocab(self, corpus=None, update: bool = False, corpus_file=None,
                    trim_rule=None, **ignored) -> "Word2Vec":
        """Count `corpus` (or corpus_file) and keep its words. update=True (or a vocabulary
        already built) grows the vocabulary instead: ids and vectors of known words stay,
        counts add up, new words get fresh rows. trim_rule: gensim's, for this call
        (default: the constructor's)."""
        corpus = corpus if corpus is not None else corpus_file
        trim_rule = trim_rule if trim_rule is not None else self.trim_rule
        from w2v.prepare import build_vocabulary, sentences_of  # numba: not at import time
        from w2v.streams import initial_tables

        sentences = sentences_of(corpus, self.config)
        if self.vocab is None:
            self.vocab = build_vocabulary(sentences, self.config, trim_rule)
            self.input_vectors, self.output_vectors = initial_tables(
                len(self.vocab), self.config.dim, self.config.seed,
                self.config.output_rows(len(self.vocab)))
            return self
        if not update:
            raise ValueError("the vocabulary is already built: pass update=True to grow it")
        old = len(self.vocab)
        self.vocab = self.vocab.grown(sentences, self.config.min_count, self.config.max_vocab_size,
                                      trim_rule)
        gained = len(self.vocab) - old
        fresh_input, _ = initial_tables(gained, self.config.dim, self.config.seed + old)
        self.input_vectors = np.vstack([self.input_vectors, fresh_input])
        # output rows: the words', then (hierarchical softmax) the tree's inner nodes, each
        # grown with zero rows; a node keeps its row by index, as gensim keeps syn1's
        zeros = np.zeros((gained, self.config.dim), np.float32)
        words, nodes = self.output_vectors[:old], self.output_vectors[old:]
        self.output_vectors = np.vstack([words, zeros] + ([nodes, zeros] if self.config.hs else []))
        return self

    def train(self, corpus_iterable=None, corpus_file=None, epochs: int | None = None,
              start_alpha: float | None = None, end_alpha: float | None = None,
              callbacks=None, log_json=None, evaluate: bool = False, **gensim_only):
        """Train on `corpus_iterable` (or corpus_file), first growing the vocabulary with
        its new words, the learning rate falling from start_alpha (default alpha) to
        end_alpha (default min_alpha) over this call's epochs, as gensim's train does.
        gensim's total_examples, total_words, word_count, queue_factor, report_delay and
        compute_loss are accepted and change nothing (GENSIM_IGNORED says why). Returns the
        call's TrainSummary (its `history` holds each epoch's logs)."""
        from w2v.prepare import sentences_of
        from w2v.trainer import fit  # the backends: numba, and TensorFlow for keras

        unknown = sorted(set(gensim_only) - set(GENSIM_IGNORED))
        if unknown:
            raise TypeError(f"train() got an unexpected keyword argument {unknown[0]!r}")
        corpus = corpus_iterable if corpus_iterable is not None else corpus_file
        if corpus is None:
            raise TypeError("train() needs corpus_iterable or corpus_file")
        sentences = sentences_of(corpus, self.config)
        if self.vocab is None:
            self.build_vocab(sentences)
        elif self.train_calls:  # trained before: the new text brings its new words
            self.build_vocab(sentences, update=True)
        changes = {k: v for k, v in (("epochs", epochs), ("alpha", start_alpha),
                                      ("min_alpha", end_alpha)) if v is not None}
        config = replace(self.config, **changes).validated() if changes else self.config
        callbacks = self.callbacks if callbacks is None else list(callbacks)
        adapted = [GensimCallback(c, self) if GensimCallback.wraps(c) else c for c in callbacks]
        for callback in adapted:
            if isinstance(callback, GensimCallback):
                callback.begin()
        self.input_vectors, self.output_vectors, summary = fit(
            sentences, self.vocab, self.input_vectors, self.output_vectors, config,
            progress=self.progress, callbacks=adapted, log_json=log_json, evaluate=evaluate)
        self.epochs_trained += config.epochs
        self.words_trained += summary.words_trained
        self.history += summary.history
        self.summaries.append(summary)
        self.train_calls += 1
        for callback in adapted:
            if isinstance(callback, GensimCallback):
                callback.end()
        return summary

    def save(self, path) -> None:
        """Write the whole model to `path` (a .npz archive of plain arrays), atomically."""
        if self.vocab is None:
            raise ValueError("nothing to save: the model has no vocabulary yet")
        write_trained(path, self.config, self.vocab, self.input_vectors, self.output_vectors,
                      MODEL_FORMAT, MODEL_VERSION,
                      meta={"epochs_trained": self.epochs_trained,
                            "words_trained": self.words_trained, "history": self.history,
                            "train_calls": self.train_calls, "comment": self.comment})

    @classmethod
    def load(cls, path) -> "Word2Vec":
        """A model written by `save`; w2v.FormatError if the file is not one."""
        saved = read_trained(path, {MODEL_FORMAT: MODEL_VERSION})
        meta = saved.meta
        model = cls.__new__(cls)
        model.config, model.callbacks, model.progress, model.summaries = saved.config, [], False, []
        model.trim_rule, model.comment = None, meta.get("comment")
        if model.comment is not None and not isinstance(model.comment, str):
            raise FormatError(f"{path}: its comment is not text")
        model.vocab = saved.vocab
        model.input_vectors, model.output_vectors = saved.input_vectors, saved.output_vectors
        try:
            model.epochs_trained = int(meta["epochs_trained"])
            model.words_trained = int(meta["words_trained"])
            model.history = list(meta["history"])
            model.train_calls = int(meta["train_calls"])
        except (KeyError, TypeError, ValueError) as error:
            raise FormatError(f"{path}: inconsistent model file ({error})") from None
        return model

    def __repr__(self) -> str:
        size = len(self.vocab) if self.vocab is not None else 0
        return (f"Word2Vec(vocabulary {size:,} words, vector_size {self.vector_size}, "
                f"{self.epochs_trained} epochs trained)")


class GensimCallback:
    """A gensim CallbackAny2Vec (on_train_begin(model), on_epoch_begin(model),
    on_epoch_end(model), on_train_end(model)) driven as a w2v.callbacks.Callback: the
    model's vectors are the ones trained so far at each epoch's end."""

    def __init__(self, callback, model: Word2Vec):
        self.callback, self.model = callback, model

    @staticmethod
    def wraps(callback) -> bool:
        """Is `callback` gensim's kind (methods taking the model) rather than w2v's?"""
        try:
            from gensim.models.callbacks import CallbackAny2Vec
        except ImportError:
            return False
        return isinstance(callback, CallbackAny2Vec)

    def begin(self) -> None:
        self.callback.on_train_begin(self.model)
        self.callback.on_epoch_begin(self.model)

    def on_epoch_end(self, epoch: int, logs: dict, vectors) -> None:
        self.model.input_vectors = vectors().vectors
        self.callback.on_epoch_end(self.model)
        if epoch < self.model.config.epochs:
            self.callback.on_epoch_begin(self.model)

    def end(self) -> None:
        self.callback.on_train_end(self.model)
