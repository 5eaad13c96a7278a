"""Word2Vec: the trainer as an object, with gensim's names where the meaning is the same.

>>> from w2v import Word2Vec
>>> model = Word2Vec("data/novels.txt.gz", vector_size=100, epochs=5)  # trains at once
>>> model.wv.most_similar("whale", topn=5)
>>> model.train("more_text.txt")        # continues: new words join the vocabulary
>>> model.save("novels.w2v"); model = Word2Vec.load("novels.w2v")

Without a corpus the constructor only stores the settings; `build_vocab` then `train`, as
in gensim. A corpus is a path, a list of paths, or re-iterable sentences (lists of str).
`save` writes one .npz file of plain arrays (no pickle): both tables, the vocabulary with
its counts, the settings and how much has been trained, so `load` gives back a model that
trains on exactly as this one would.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from w2v.config import TrainConfig
from w2v.errors import FormatError
from w2v.model_file import MODEL_FORMAT, MODEL_VERSION, read_trained, write_trained
from w2v.vectors import Embeddings
from w2v.vocab import Vocabulary



class Word2Vec:
    """Skip-gram with negative sampling.

    gensim's parameters: vector_size (our dim), window, min_count, max_vocab_size,
    negative, sample, ns_exponent, alpha, min_alpha, epochs, seed, workers (our threads;
    0: every core). Ours: backend ("auto", "numba", "keras", "cuda"), optimizer and
    steps_per_update (keras: w2v.optimizers, w2v.runge_kutta), batch_size, callbacks
    (w2v.callbacks.Callback, and Keras callbacks on the keras backend), progress (a bar).
    Any other TrainConfig field may be passed by its name.
    """

    def __init__(self, corpus=None, *, vector_size: int = 100, window: int = 5,
                 min_count: int = 5, max_vocab_size: int | None = None, negative: int = 5,
                 sample: float = 1e-3, ns_exponent: float = 0.75, alpha: float = 0.025,
                 min_alpha: float = 0.0001, epochs: int = 5, seed: int = 1, workers: int = 0,
                 backend: str = "auto", optimizer: str = "sgd", steps_per_update: int = 1,
                 batch_size: int = 1024, callbacks=(), progress: bool = False, **config):
        self.config = TrainConfig(
            dim=vector_size, window=window, min_count=min_count, max_vocab_size=max_vocab_size,
            negative=negative, sample=sample, ns_exponent=ns_exponent, alpha=alpha,
            min_alpha=min_alpha, epochs=epochs, seed=seed, threads=workers, backend=backend,
            optimizer=optimizer, steps_per_update=steps_per_update, batch_size=batch_size,
            **config).validated()
        self.callbacks = list(callbacks)
        self.progress = progress
        self.vocab: Vocabulary | None = None
        self.input_vectors = np.empty((0, self.config.dim), np.float32)  # (V, d)
        self.output_vectors = np.empty((0, self.config.dim), np.float32)  # (V, d)
        self.epochs_trained = 0  # over every train() call
        self.words_trained = 0  # corpus words × epochs, over every train() call
        self.history: list[dict] = []  # each epoch's logs, over every train() call
        self.summaries = []  # the TrainSummary of each train() call since construction or load
        self.train_calls = 0  # train() calls over the model's life
        if corpus is not None:
            self.build_vocab(corpus)
            self.train(corpus)

    @property
    def vector_size(self) -> int:
        return self.config.dim

    @property
    def wv(self) -> Embeddings:
        """The trained word vectors (the input table), as gensim's `model.wv`."""
        if self.vocab is None:
            raise ValueError("no vocabulary yet: call build_vocab (or train) first")
        return Embeddings(self.vocab.words, self.input_vectors)

    def build_vocab(self, corpus, update: bool = False) -> "Word2Vec":
        """Count `corpus` and keep its words. update=True (or a vocabulary already built)
        grows the vocabulary instead: ids and vectors of known words stay, counts add up,
        new words get fresh rows."""
        from w2v.prepare import build_vocabulary, sentences_of  # numba: not at import time
        from w2v.streams import initial_tables

        sentences = sentences_of(corpus, self.config)
        if self.vocab is None:
            self.vocab = build_vocabulary(sentences, self.config)
            self.input_vectors, self.output_vectors = initial_tables(
                len(self.vocab), self.config.dim, self.config.seed)
            return self
        if not update:
            raise ValueError("the vocabulary is already built: pass update=True to grow it")
        old = len(self.vocab)
        self.vocab = self.vocab.grown(sentences, self.config.min_count, self.config.max_vocab_size)
        fresh_input, fresh_output = initial_tables(len(self.vocab) - old, self.config.dim,
                                                   self.config.seed + old)
        self.input_vectors = np.vstack([self.input_vectors, fresh_input])
        self.output_vectors = np.vstack([self.output_vectors, fresh_output])
        return self

    def train(self, corpus, epochs: int | None = None, callbacks=None, log_json=None,
              evaluate: bool = False):
        """Train on `corpus` (first growing the vocabulary with its new words), the learning
        rate falling from alpha to min_alpha over this call's epochs, as gensim's train
        does. Returns the call's TrainSummary (its `history` holds each epoch's logs)."""
        from w2v.prepare import sentences_of
        from w2v.trainer import fit  # the backends: numba, and TensorFlow for keras

        sentences = sentences_of(corpus, self.config)
        if self.vocab is None:
            self.build_vocab(sentences)
        elif self.train_calls:  # trained before: the new text brings its new words
            self.build_vocab(sentences, update=True)
        config = self.config if epochs is None else replace(self.config, epochs=epochs).validated()
        self.input_vectors, self.output_vectors, summary = fit(
            sentences, self.vocab, self.input_vectors, self.output_vectors, config,
            progress=self.progress, callbacks=self.callbacks if callbacks is None else callbacks,
            log_json=log_json, evaluate=evaluate)
        self.epochs_trained += config.epochs
        self.words_trained += summary.words_trained
        self.history += summary.history
        self.summaries.append(summary)
        self.train_calls += 1
        return summary

    def save(self, path) -> None:
        """Write the whole model to `path` (a .npz archive of plain arrays), atomically."""
        if self.vocab is None:
            raise ValueError("nothing to save: the model has no vocabulary yet")
        write_trained(path, self.config, self.vocab, self.input_vectors, self.output_vectors,
                      MODEL_FORMAT, MODEL_VERSION,
                      meta={"epochs_trained": self.epochs_trained,
                            "words_trained": self.words_trained, "history": self.history,
                            "train_calls": self.train_calls})

    @classmethod
    def load(cls, path) -> "Word2Vec":
        """A model written by `save`; w2v.FormatError if the file is not one."""
        saved = read_trained(path, {MODEL_FORMAT: MODEL_VERSION})
        meta = saved.meta
        model = cls.__new__(cls)
        model.config, model.callbacks, model.progress, model.summaries = saved.config, [], False, []
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
