"""What the driver needs from a backend, and what it hands one.

An epoch is cut into spans, the same every epoch: `Backend.span_bounds` gives their
boundaries in the backend's own units (word positions for numba and cuda, steps for
keras). The driver hands the backend each span with the learning rate at its two ends
(w2v/schedule.py) and gets back what it trained; between spans it may checkpoint, report
progress or stop. Everything else — epochs, the schedule, the random streams, positions,
checkpoints, signals, reports — belongs to the driver (w2v/driver.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Span:
    """Span `index` of epoch `epoch`: units [begin, end) of the epoch, the learning rate
    falling linearly from lr_begin at `begin` to lr_end at `end`."""
    epoch: int
    index: int
    begin: int
    end: int
    lr_begin: float
    lr_end: float

    def lr_at(self, offset: float) -> float:
        """The learning rate `offset` units into the span."""
        return self.lr_begin + (self.lr_end - self.lr_begin) * offset / max(self.end - self.begin, 1)


@dataclass(frozen=True)
class Trained:
    """What a span trained: (input, output) pairs and their summed SGNS loss."""
    pairs: int
    loss_sum: float


class Backend:
    """The interface every backend implements (the base class gives the defaults).

    Attributes a backend sets:
    - name: what the summary calls it;
    - corpus_words: corpus words one epoch stands for (every token read, in the vocabulary
      or not: what words/s counts, as word2vec and gensim do);
    - stream_rows: the rows of w2v.streams.epoch_streams it draws from (one per thread, or
      per worker);
    - span_bounds: (spans + 1,) int64, the spans' boundaries within an epoch in its units,
      from 0 to the epoch's units;
    - steps_per_epoch: batches an epoch trains (keras; 0 for backends without batches).
    """

    name = "backend"
    corpus_words = 0
    stream_rows = range(1)
    span_bounds = np.zeros(1, np.int64)
    steps_per_epoch = 0

    def begin_epoch(self, epoch: int, streams: np.ndarray, first_span: int) -> None:
        """Epoch `epoch` begins at span `first_span` (> 0 when a run resumes mid-epoch).
        streams: (len(stream_rows), 2) uint64, the epoch's random streams as they stand;
        a backend whose generators advance (numba) advances this array in place, so that
        after each span it holds what the next span draws from (the driver saves it); one
        that replays its epoch from its start (keras) or derives counter-based draws from
        it (cuda) leaves it as it is."""
        raise NotImplementedError

    def train(self, span: Span) -> Trained:
        raise NotImplementedError

    def end_epoch(self, epoch: int, logs: dict) -> None:
        """After epoch `epoch` (0-based) and its report; logs: the reporter's."""

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        """(input_vectors, output_vectors), (V, d) float32 on the host, as they stand (the
        live arrays where training runs on the host: copy before keeping)."""
        raise NotImplementedError

    def state(self) -> list[np.ndarray]:
        """The backend's own state a checkpoint must hold besides the tables."""
        return []

    def restore(self, state: list[np.ndarray]) -> None:
        """Put back what `state` returned (a resumed run, before its first span)."""
        if state:
            raise ValueError(f"the {self.name} backend keeps no state, got {len(state)} arrays")

    def traffic(self):
        """What crossed the wire, for the summary (a scale-out backend); None elsewhere."""
        return None

    def close(self) -> None:
        """Release what the backend holds (threads, device memory, temporary files)."""
