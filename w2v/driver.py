"""The one training loop, for every backend: epochs, spans, the schedule, random streams,
positions, checkpoints, stop signals and reports.

>>> loss = drive(backend, config, reporter, checkpoint=plan)

A backend (w2v/backends/base.py) only trains the spans it is handed. The driver walks the
epochs and their spans, hands each span its learning rates (w2v/schedule.py), gives each
epoch its random streams (w2v/streams.py, or a checkpoint's), tells the reporter
(w2v/callbacks.py) what was trained, writes checkpoints (w2v/checkpoint.py) every
`every_minutes`, at each epoch's end and when a stop is asked, and turns SIGINT/SIGTERM
(w2v/stopping.py) into a stop after the span in flight. Because all of this is written
once, a resumed run goes on with exactly the draws and rates the stopped one would have
used, whatever the backend.

After every span the driver passes w2v.stopping.stop_point("span N"), where the tests
stop runs at chosen points.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from w2v.backends.base import Backend, Span
from w2v.checkpoint import Position
from w2v.config import TrainConfig
from w2v.schedule import Schedule
from w2v.stopping import Interrupted, stop_requests, stop_point
from w2v.streams import epoch_streams


@dataclass(frozen=True)
class CheckpointPlan:
    """Where and how often to checkpoint: `write(position)` saves the run at `position`
    to `path` (the caller adds the tables, vocabulary and settings)."""
    path: os.PathLike | str
    every_minutes: float
    write: Callable[[Position], None]


@dataclass(frozen=True)
class Driven:
    """What a drive trained: the last epoch's mean loss per prediction, and this call's
    predictions and their summed loss (gensim's get_latest_training_loss)."""
    final_loss: float
    pairs: int
    loss_sum: float


def drive(backend: Backend, config: TrainConfig, reporter, start: Position | None = None,
          checkpoint: CheckpointPlan | None = None) -> Driven:
    """Train `backend` through config.epochs epochs, from `start` (a resumed run's
    Position) or the beginning.

    reporter: a w2v.callbacks.Reporter. checkpoint: saved every `every_minutes`, at the end
    of every epoch but the last, and at a stop; the run's end is the caller's to save,
    after its outputs (w2v.trainer writes the vectors first, then the finished checkpoint).
    A stop asked during the run's last span lets it finish. Raises Interrupted when SIGINT
    or SIGTERM stops the run (after checkpointing, when there is a plan),
    FloatingPointError when the loss diverges (from the reporter, before anything is
    saved)."""
    bounds = [int(b) for b in backend.span_bounds]
    spans, per_epoch = len(bounds) - 1, bounds[-1]
    schedule = Schedule(config.alpha, config.min_alpha, per_epoch * config.epochs)
    words_per_unit = backend.corpus_words / max(per_epoch, 1)
    position = start or Position()
    if position.backend_state:
        backend.restore(position.backend_state)
    loss = position.loss_sum / max(position.pairs, 1)
    last_save = time.monotonic()
    trained_spans = total_pairs = 0
    total_loss = 0.0

    def save(make_position, due: bool) -> None:
        nonlocal last_save
        if checkpoint and (due or time.monotonic() - last_save >= 60 * checkpoint.every_minutes):
            checkpoint.write(make_position())
            last_save = time.monotonic()

    with stop_requests() as stops, stops.deferred():
        for epoch in range(position.epoch, config.epochs):
            resuming = epoch == position.epoch and position.streams is not None
            streams = (position.streams.copy() if resuming else
                       epoch_streams(config.seed, epoch, backend.stream_rows))
            first = position.span if resuming else 0
            pairs, loss_sum = (position.pairs, position.loss_sum) if resuming else (0, 0.0)
            backend.begin_epoch(epoch, streams, first)
            base = epoch * per_epoch
            for index in range(first, spans):
                begin, end = bounds[index], bounds[index + 1]
                trained = backend.train(Span(epoch, index, begin, end, schedule(base + begin),
                                             schedule(base + end)))
                pairs += trained.pairs
                loss_sum += trained.loss_sum
                total_pairs += trained.pairs
                total_loss += trained.loss_sum
                reporter.progress((end - begin) * words_per_unit, schedule(base + end),
                                  loss_sum / max(pairs, 1))
                trained_spans += 1
                stop_point(f"span {trained_spans}", stops)
                if index + 1 == spans:
                    continue  # the epoch's end checkpoints below
                stopping = stops.signum is not None
                save(lambda: Position(
                    epoch=epoch, span=index + 1, pairs=pairs, loss_sum=loss_sum,
                    streams=streams.copy(), words=reporter.done, history=list(reporter.history),
                    backend_state=backend.state()), due=stopping)
                if stopping:
                    raise Interrupted(stops.signum, checkpoint and checkpoint.path,
                                      round(reporter.done))
            loss = loss_sum / max(pairs, 1)
            logs = reporter.epoch_end(epoch, loss, schedule(base + per_epoch),
                                      lambda: backend.tables()[0].copy())
            backend.end_epoch(epoch, logs)
            if epoch + 1 == config.epochs:
                break  # the run's end: the caller writes its outputs, then the last checkpoint
            save(lambda: Position(epoch=epoch + 1, words=reporter.done,
                                  history=list(reporter.history),
                                  backend_state=backend.state()), due=True)
            if stops.signum is not None:
                raise Interrupted(stops.signum, checkpoint and checkpoint.path,
                                  round(reporter.done))
    return Driven(loss, total_pairs, total_loss)


@dataclass
class TrainSummary:
    """What one train (or resume) call did: counts are this call's, never the run's whole
    when it resumed a checkpoint."""
    backend: str  # the backend that trained (config's "auto" resolved)
    vocab_size: int
    corpus_words: int  # tokens one pass over the corpus reads (all workers' shards)
    epochs: int  # the run's epochs (the settings')
    words_trained: int  # corpus words this call trained (a resumed run: only its own)
    first_epoch: int  # the epoch this call began in (0 unless it resumed a checkpoint)
    steps: int  # keras: batches this call trained (0 on backends without batches)
    batch_size: int
    train_seconds: float  # the training loop alone
    total_seconds: float  # reading, vocabulary, encoding and training
    final_loss: float  # mean loss per prediction over the last epoch
    loss_sum: float  # the summed loss of every prediction this call trained
    bad_bytes: int  # undecodable input bytes replaced by U+FFFD
    history: list = field(default_factory=list)  # the logs of each epoch (w2v.callbacks), the run's so far
    traffic: object = None  # a scale-out run's: what crossed the wire (its str() says)

    @property
    def words_per_second(self) -> float:
        """Corpus words trained per second of training (word2vec's and gensim's measure)."""
        return self.words_trained / max(self.train_seconds, 1e-9)

    @property
    def traffic_line(self) -> str:
        """One line on what a scale-out run sent ('' for a single process)."""
        return str(self.traffic) if self.traffic is not None else ""

    def __str__(self) -> str:
        epochs = self.words_trained / max(self.corpus_words, 1)
        count = f"{epochs:.0f}" if abs(epochs - round(epochs)) < 1e-9 else f"{epochs:.2f}"
        resumed = f", resumed in epoch {self.first_epoch + 1}" if self.first_epoch else ""
        return (f"{self.backend} | vocabulary {self.vocab_size:,} words | trained "
                f"{self.words_trained:,} words ({count} epoch{'s' if count != '1' else ''} of "
                f"{self.corpus_words:,}{resumed}) in {self.train_seconds:.1f} s | "
                f"{self.words_per_second:,.0f} words/s | final loss {self.final_loss:.4f} | "
                f"total {self.total_seconds:.1f} s")
