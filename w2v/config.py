"""Training configuration: every default in one place, with the reason for it.

>>> from w2v.config import TrainConfig
>>> TrainConfig(dim=50).validated().dim
50
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import asdict, dataclass, fields

from w2v.errors import ConfigError

BACKENDS = ("auto", "keras", "numba", "cuda")
CUDA_UPDATES = ("hogwild", "batched")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad",  # one gradient per step
              "euler", "midpoint", "heun", "ralston", "rk3", "rk4", "rk23", "rk45")  # Runge–Kutta


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


# each field's annotation -> its check, and the words an error uses
_TYPE_CHECKS = {"int": _is_int, "float": _is_real, "str": lambda v: isinstance(v, str),
                "bool": lambda v: isinstance(v, bool), "int | None": lambda v: v is None or _is_int(v)}
_TYPE_NAMES = {"int": "an integer", "float": "a number", "str": "a string",
               "bool": "True or False", "int | None": "an integer or None"}


@dataclass(frozen=True)
class TrainConfig:
    dim: int = 100  # word2vec's and gensim's default; the published text8 figures use it
    window: int = 5  # max distance to a context word; the reduced window is uniform in 1..window
    cbow: bool = False  # CBOW (the context's mean predicts the center) instead of skip-gram
    cbow_mean: bool = True  # CBOW's input: the mean of the context rows (False: their sum)
    hs: bool = False  # hierarchical softmax (a Huffman tree's path), alone or beside negatives
    negative: int = 5  # noise words per prediction, word2vec's default; 0: none (needs hs)
    min_count: int = 5  # rarer words are dropped before training, as in word2vec and gensim
    max_vocab_size: int | None = None  # keep only the most frequent N words (None: no cap)
    prune_vocab_at: int | None = None  # while counting, prune the rarest words whenever more
    # than N are held (gensim's max_vocab_size: bounds memory on huge corpora)
    sample: float = 1e-3  # word2vec's subsampling threshold for frequent words (0 disables it)
    ns_exponent: float = 0.75  # noise distribution ~ count**0.75 (Mikolov et al. 2013)
    epochs: int = 5  # word2vec's and gensim's default
    alpha: float = 0.025  # word2vec's skip-gram starting learning rate
    min_alpha: float = 0.0001  # gensim's final learning rate; decay is linear over all epochs
    batch_size: int = 1024  # (center, context) pairs per step: measured best speed at gensim quality
    seed: int = 1  # every random draw (init, subsampling, windows, negatives) derives from it
    threads: int = 0  # 0: all cores of this machine
    backend: str = "auto"  # numba (fastest on CPU), or keras when a keras-only optimizer is asked
    shared_negatives: bool = True  # numba: one draw of negatives per window (HogBatch): measured 1.6-2.9x faster at equal quality
    cuda_updates: str = "hogwild"  # cuda: atomic adds as blocks go (no extra pass); "batched": reproducible bit for bit
    optimizer: str = "sgd"  # word2vec's plain SGD; see w2v.optimizers and w2v.runge_kutta
    steps_per_update: int = 1  # soft batch: accumulate k batches' gradients, update once
    max_sentence_length: int = 10_000  # longer lines (text8) are cut, as word2vec and gensim do

    def validated(self) -> "TrainConfig":
        """Return self, or raise ConfigError naming the first bad field and its value."""
        for f in fields(self):
            value = getattr(self, f.name)
            if not _TYPE_CHECKS[f.type](value):
                raise ConfigError(f.name, f"must be {_TYPE_NAMES[f.type]}", value)
        checks = [
            ("dim", self.dim >= 1, "must be at least 1"),
            ("window", self.window >= 1, "must be at least 1"),
            ("negative", self.negative >= 0, "must be >= 0"),
            ("negative", self.negative >= 1 or self.hs,
             "0 needs hs (hierarchical softmax): without either there is nothing to train"),
            ("min_count", self.min_count >= 1, "must be at least 1"),
            ("max_vocab_size", self.max_vocab_size is None or self.max_vocab_size >= 1,
             "must be at least 1"),
            ("prune_vocab_at", self.prune_vocab_at is None or self.prune_vocab_at >= 1,
             "must be at least 1"),
            ("sample", math.isfinite(self.sample) and self.sample >= 0, "must be >= 0"),
            ("ns_exponent", math.isfinite(self.ns_exponent), "must be a finite number"),
            ("epochs", self.epochs >= 1, "must be at least 1"),
            ("alpha", math.isfinite(self.alpha) and self.alpha > 0, "must be a number > 0"),
            ("min_alpha", math.isfinite(self.min_alpha) and 0 <= self.min_alpha <= self.alpha,
             "must be between 0 and alpha"),
            ("batch_size", self.batch_size >= 1, "must be at least 1"),
            ("threads", self.threads >= 0, "must be >= 0 (0 means all cores)"),
            ("backend", self.backend in BACKENDS, f"must be one of {', '.join(BACKENDS)}"),
            ("optimizer", self.optimizer in OPTIMIZERS,
             f"must be one of {', '.join(OPTIMIZERS)}"),
            ("steps_per_update", self.steps_per_update >= 1, "must be at least 1"),
            ("optimizer", self.backend not in ("numba", "cuda") or self.optimizer == "sgd",
             "other than sgd needs the keras backend"),
            ("steps_per_update", self.backend not in ("numba", "cuda") or self.steps_per_update == 1,
             "above 1 needs the keras backend"),
            ("shared_negatives", self.backend != "cuda" or self.shared_negatives,
             "cannot be False on the cuda backend (its kernel shares them per window)"),
            ("cuda_updates", self.cuda_updates in CUDA_UPDATES,
             f"must be one of {', '.join(CUDA_UPDATES)}"),
            ("max_sentence_length", self.max_sentence_length >= 2, "must be at least 2"),
            ("window", self.window <= self.max_sentence_length,
             f"must be at most max_sentence_length ({self.max_sentence_length:,}): no "
             f"sentence is longer"),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise ConfigError(name, rule, getattr(self, name))
        return self

    @property
    def resolved_backend(self) -> str:
        """`backend`, with "auto" resolved: keras for its own optimizers, else numba."""
        if self.backend != "auto":
            return self.backend
        return "keras" if self.optimizer != "sgd" or self.steps_per_update > 1 else "numba"

    @property
    def worker_threads(self) -> int:
        """Threads to use: `threads`, or every core when it is 0; never more than the cores
        (more cannot help a CPU-bound kernel: w2v.trainer warns when it caps them)."""
        cores = os.cpu_count() or 1
        return min(self.threads or cores, cores)

    @property
    def examples_per_batch(self) -> int:
        """Rows of one batched step (keras, cuda-batched): `batch_size` (center, context)
        pairs for skip-gram; for CBOW, windows, each about window + 1 pairs (the reduced
        window averages (window + 1) / 2 a side), so as many windows as hold about
        `batch_size` pairs. Measured on gut8 (5 epochs, α = 0.025): 1,024 windows a step
        applied six times skip-gram's words at once and reached analogy 0.068 where gensim
        reached 0.245; a context row then took dozens of stale steps in one update.

        With hierarchical softmax every prediction steps the tree's root, so a step of B
        rows moves the root B times at once: skip-gram takes CBOW's size too. Measured on
        gut8's first 2M words (keras, 1 epoch, α = 0.025): 1,024 pairs a step diverged
        (loss nan), 256 nearly (loss 5e7); 170 and 128 trained (loss 7.47 and 7.46, the
        numba backend's 7.50)."""
        if not (self.cbow or self.hs):
            return self.batch_size
        return max(1, self.batch_size // (self.window + 1))

    def output_rows(self, vocab_size: int) -> int:
        """Rows of the output table: the V words (negative sampling's targets), then, with
        hierarchical softmax, the Huffman tree's V − 1 inner nodes."""
        return vocab_size + (max(vocab_size - 1, 0) if self.hs else 0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
