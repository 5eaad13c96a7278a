"""Checkpoints: a run saved between spans, to resume exactly.

>>> train("big.txt", config, checkpoint="run.ckpt", checkpoint_every=10)   # minutes
>>> vectors, summary = resume("run.ckpt")        # after a crash, a Ctrl-C or a kill

A checkpoint is a model file (w2v/model_file.py: plain arrays, no pickle, written
atomically) holding both tables, the vocabulary, the settings, the `Position` (epoch, next
span, the epoch's loss so far, the epoch's random streams as they stand, words done, the
epoch logs, and the backend's own state such as a Keras optimizer's slots) and the corpus
files' sizes and modification times. The driver (w2v/driver.py) decides when to write one:
every `checkpoint_every` minutes, at the end of each epoch, and when SIGINT or SIGTERM asks
the run to stop.

Resuming re-reads the corpus (it must be unchanged) with the saved vocabulary and goes on
from the saved span with the saved random streams, so a one-thread run that is stopped and
resumed, any number of times, ends with the same bits as a run never stopped.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from w2v.config import TrainConfig
from w2v.errors import FormatError
from w2v.model_file import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, read_trained, write_trained
from w2v.vocab import Vocabulary


@dataclass
class Position:
    """Where a run stands: about to train span `span` of epoch `epoch` (0-based); a span is
    what the backend trains between two checkpoints (a chunk of the corpus on numba, a
    launch on cuda, 16 steps on keras, a round of syncs on a team)."""
    epoch: int = 0
    span: int = 0
    pairs: int = 0  # pairs trained so far in this epoch
    loss_sum: float = 0.0  # their summed loss
    streams: np.ndarray | None = None  # (rows, 2) uint64: the epoch's random streams as they
    # stand (w2v.streams); None: the epoch has not begun, its streams derive from the seed
    words: float = 0.0  # corpus words trained so far (the progress report's count)
    history: list = field(default_factory=list)  # the logs of the epochs done
    backend_state: list = field(default_factory=list)  # the backend's own arrays (keras:
    # the optimizer's variables)


@dataclass(frozen=True)
class CorpusStamp:
    """A corpus file as it was when the run began: to notice one that changed."""
    path: str  # resolved
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path) -> "CorpusStamp":
        stat = os.stat(path)
        return cls(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)

    def unchanged(self) -> bool:
        return os.path.exists(self.path) and CorpusStamp.of(self.path) == self


@dataclass
class Checkpoint:
    config: TrainConfig
    vocab: Vocabulary
    input_vectors: np.ndarray  # (V, d) float32
    output_vectors: np.ndarray  # (V, d) float32
    position: Position
    corpus: list[CorpusStamp]
    extra: dict  # JSON-able: the caller's (the CLI's output path and format, checkpoint
    # minutes) and the team's shape (a tf.distribute cluster, a Ray team's settings)

    @property
    def finished(self) -> bool:
        return self.position.epoch >= self.config.epochs

    def save(self, path) -> None:
        if not (np.isfinite(self.input_vectors).all() and np.isfinite(self.output_vectors).all()):
            raise FloatingPointError("refusing to checkpoint tables that hold NaN or infinity")
        p = self.position
        streams = p.streams if p.streams is not None else np.zeros((0, 2), np.uint64)
        write_trained(
            path, self.config, self.vocab, self.input_vectors, self.output_vectors,
            CHECKPOINT_FORMAT, CHECKPOINT_VERSION,
            # uint64 states travel as int64 bits (the model file's dtypes)
            arrays={"streams": streams.view(np.int64),
                    **{f"backend_{i}": np.asarray(v) for i, v in enumerate(p.backend_state)}},
            meta={"epoch": p.epoch, "span": p.span, "pairs": p.pairs, "loss_sum": p.loss_sum,
                  "fresh_epoch": p.streams is None, "backend_arrays": len(p.backend_state),
                  "words": p.words, "history": p.history,
                  "corpus": [asdict(stamp) for stamp in self.corpus], "extra": self.extra})

    @classmethod
    def load(cls, path) -> "Checkpoint":
        """A checkpoint written by `save`; w2v.FormatError if the file is not a valid one."""
        saved = read_trained(path, {CHECKPOINT_FORMAT: CHECKPOINT_VERSION})
        meta, arrays = saved.meta, saved.arrays
        try:
            streams = arrays["streams"].view(np.uint64).reshape(-1, 2)
            position = Position(
                epoch=int(meta["epoch"]), span=int(meta["span"]), pairs=int(meta["pairs"]),
                loss_sum=float(meta["loss_sum"]),
                streams=None if meta["fresh_epoch"] else streams, words=float(meta["words"]),
                history=list(meta["history"]),
                backend_state=[arrays[f"backend_{i}"] for i in range(int(meta["backend_arrays"]))])
            corpus = [CorpusStamp(str(s["path"]), int(s["size"]), int(s["mtime_ns"]))
                      for s in meta["corpus"]]
            checkpoint = cls(saved.config, saved.vocab, saved.input_vectors,
                             saved.output_vectors, position, corpus, dict(meta["extra"]))
        except (KeyError, TypeError, ValueError) as error:
            raise FormatError(f"{path}: inconsistent checkpoint ({error})") from None
        if not 0 <= position.epoch <= saved.config.epochs or position.span < 0 or \
                (position.streams is not None and not len(position.streams)):
            raise FormatError(f"{path}: position epoch {position.epoch}, span {position.span}")
        return checkpoint
