"""Checkpoints: save a run between chunks, stop on SIGINT/SIGTERM, resume exactly.

>>> train("big.txt", config, checkpoint="run.ckpt", checkpoint_every=10)   # minutes
>>> vectors, summary = resume("run.ckpt")        # after a crash, a Ctrl-C or a kill

A checkpoint is a model file (w2v/formats.py: plain arrays, no pickle, written atomically)
holding both tables, the vocabulary, the settings, where the run stands (epoch, next chunk,
the epoch's loss so far, every thread's random states, words done, the epoch logs) and
the corpus files' sizes and modification times. It is written every `checkpoint_every`
minutes, at the end of each epoch, and when SIGINT or SIGTERM asks the run to stop: the
chunk in flight finishes, the checkpoint is written, and `Interrupted` is raised.

Resuming re-reads the corpus (it must be unchanged) with the saved vocabulary and goes on
from the saved chunk with the saved random states, so a one-thread run that is stopped and
resumed, any number of times, ends with the same bits as a run never stopped.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from w2v.config import TrainConfig
from w2v.errors import FormatError
from w2v.formats import read_trained, write_model
from w2v.vocab import Vocabulary

CHECKPOINT_FORMAT = "w2v checkpoint"
CHECKPOINT_VERSION = 1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
NO_STATES = np.zeros((0, 2), np.uint64)  # mid-epoch on cuda and keras: draws are replayed


class Interrupted(Exception):
    """Training stopped on a signal after writing a checkpoint; exit with `exit_status`."""

    def __init__(self, signum: int, path, words: int):
        self.signum, self.path, self.words = signum, path, words
        super().__init__(f"stopped by {signal.Signals(signum).name} after {words:,} words; "
                         f"checkpoint written to {path}: resume with "
                         f"`w2v-train --resume {path}`")

    @property
    def exit_status(self) -> int:
        return 128 + self.signum  # 130 for SIGINT, 143 for SIGTERM, as shells report them


@dataclass
class Position:
    """Where a run stands: about to train chunk `chunk` of epoch `epoch` (0-based). On the
    cuda backend `chunk` counts launches, on keras steps; there `states` is empty (the
    draws are counter-based, or replayed per epoch)."""
    epoch: int = 0
    chunk: int = 0
    pairs: int = 0  # pairs trained so far in this epoch
    loss_sum: float = 0.0  # their summed loss
    states: np.ndarray | None = None  # (threads, 2) uint64 random states; None: a fresh epoch
    words: float = 0.0  # corpus words trained so far (the progress report's count)
    history: list = field(default_factory=list)  # the logs of the epochs done
    optimizer_state: list = field(default_factory=list)  # keras: optimizer and loss-metric variables


@dataclass
class Checkpoint:
    config: TrainConfig
    vocab: Vocabulary
    input_vectors: np.ndarray
    output_vectors: np.ndarray
    position: Position
    corpus: list[dict]  # per corpus file: path, size, mtime_ns
    extra: dict  # the caller's: e.g. the CLI's output path and format

    @property
    def finished(self) -> bool:
        return self.position.epoch >= self.config.epochs

    def save(self, path) -> None:
        if not (np.isfinite(self.input_vectors).all() and np.isfinite(self.output_vectors).all()):
            raise FloatingPointError("refusing to checkpoint tables that hold NaN or infinity")
        p = self.position
        states = p.states if p.states is not None else np.zeros((0, 2), np.uint64)
        write_model(path, {"input_vectors": self.input_vectors,
                           "output_vectors": self.output_vectors, "counts": self.vocab.counts,
                           # uint64 states travel as int64 bits (the model file's dtypes)
                           "states": states.view(np.int64),
                           **{f"optimizer_{i}": np.asarray(v)
                              for i, v in enumerate(p.optimizer_state)}}, self.vocab.words,
                    {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
                     "config": self.config.to_dict(), "corpus_words": self.vocab.corpus_words,
                     "epoch": p.epoch, "chunk": p.chunk, "pairs": p.pairs,
                     "loss_sum": p.loss_sum, "fresh_epoch": p.states is None,
                     "optimizer_slots": len(p.optimizer_state),
                     "words": p.words, "history": p.history, "corpus": self.corpus,
                     "extra": self.extra})

    @classmethod
    def load(cls, path) -> "Checkpoint":
        """A checkpoint written by `save`; w2v.FormatError if the file is not a valid one."""
        config, vocab, input_vectors, output_vectors, arrays, meta = read_trained(
            path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION)
        try:
            states = arrays["states"].view(np.uint64).reshape(-1, 2)
            position = Position(int(meta["epoch"]), int(meta["chunk"]), int(meta["pairs"]),
                                float(meta["loss_sum"]), None if meta["fresh_epoch"] else states,
                                float(meta["words"]), list(meta["history"]),
                                [arrays[f"optimizer_{i}"]
                                 for i in range(int(meta["optimizer_slots"]))])
            checkpoint = cls(config, vocab, input_vectors, output_vectors, position,
                             list(meta["corpus"]), dict(meta["extra"]))
        except (KeyError, TypeError, ValueError) as error:
            raise FormatError(f"{path}: inconsistent checkpoint ({error})") from None
        if not 0 <= position.epoch <= config.epochs or position.chunk < 0:
            raise FormatError(f"{path}: position epoch {position.epoch}, chunk {position.chunk}")
        return checkpoint


def corpus_stamp(paths) -> list[dict]:
    """Each corpus file's path, size and modification time: to notice a changed corpus."""
    stamps = []
    for path in paths:
        stat = os.stat(path)
        stamps.append({"path": str(Path(path).resolve()), "size": stat.st_size,
                       "mtime_ns": stat.st_mtime_ns})
    return stamps


class Checkpointer:
    """Decides when to save, saves, and turns SIGINT/SIGTERM into a clean stop.

    make(position) -> Checkpoint builds what to save; `every` minutes between timed saves.
    Use as a context manager: the signal handlers are installed inside it (main thread
    only) and the previous ones restored after.
    """

    def __init__(self, path, make, every: float = 10.0):
        self.path, self.make, self.every = path, make, every
        self.last = time.monotonic()
        self.stop: int | None = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._request_stop)
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _request_stop(self, signum, frame):
        if self.stop is not None:  # a second signal: stop now, without a checkpoint
            raise KeyboardInterrupt
        self.stop = signum

    def __call__(self, position: Position, epoch_end: bool = False, before_save=None) -> None:
        """After a chunk (or an epoch): save if it is time, then stop if asked to — unless
        training is over: a stop asked during the last save lets the run finish.
        before_save(): called first when saving (the cuda backend copies its tables back)."""
        due = epoch_end or self.stop is not None or \
            time.monotonic() - self.last >= 60 * self.every
        finished = False
        if due:
            if before_save:
                before_save()
            checkpoint = self.make(position)
            checkpoint.save(self.path)
            finished = checkpoint.finished
            self.last = time.monotonic()
        if self.stop is not None and not finished:
            raise Interrupted(self.stop, self.path, round(position.words))
