"""The keras backend's side of w2v.callbacks: model.fit's batches and epochs to a Reporter."""

from __future__ import annotations

import keras
import numpy as np

from w2v.checkpoint import NO_STATES, Position


def number(value) -> float:
    """A log value as a float: a scalar, or the shape-(1,) array a distributed step logs."""
    return float(np.asarray(value, dtype=np.float64).reshape(-1)[0])


class KerasProgress(keras.callbacks.Callback):
    """Tells a w2v.callbacks.Reporter what model.fit did, and offers checkpoints.

    words_per_step: corpus words one step stands for (corpus words × epochs / total
    steps); learning_rate: the schedule, step -> lr. With a checkpointer
    (w2v.checkpoint.Checkpointer): after each execution it is offered the Position (epoch,
    steps of it done, state_now(): the optimizer's and loss metric's variables), and
    before_save() refreshes the host tables it saves. metric_state: the loss metric's
    variables to restore when the first epoch begins (a run resumed mid-epoch).
    """

    def __init__(self, reporter, words_per_step: float, learning_rate, steps_per_epoch=None,
                 checkpointer=None, state_now=None, before_save=None, metric_state=None):
        super().__init__()
        self.reporter = reporter
        self.words_per_step = words_per_step
        self.learning_rate = learning_rate
        self.steps_per_epoch = steps_per_epoch
        self.checkpointer, self.state_now, self.before_save = checkpointer, state_now, before_save
        self.metric_state = metric_state
        self.done = None
        self.epoch = 0

    def _step(self) -> int:
        return int(self.model.optimizer.iterations.numpy())

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        if self.done is None:
            self.done = self._step()
        if self.metric_state:  # fit has just reset the metrics: put the saved sums back
            for variable, value in zip(self.model.loss_tracker.variables, self.metric_state):
                variable.assign(value)
            self.metric_state = None

    def on_train_batch_end(self, batch, logs=None):
        step = self._step()
        self.reporter.progress((step - self.done) * self.words_per_step,
                               self.learning_rate(step), number((logs or {}).get("loss", 0.0)))
        self.done = step
        in_epoch = step - self.epoch * self.steps_per_epoch if self.steps_per_epoch else 0
        if self.checkpointer and 0 < in_epoch < self.steps_per_epoch:
            self.checkpointer(Position(self.epoch, in_epoch, 0, 0.0, NO_STATES,
                                       self.reporter.done, list(self.reporter.history),
                                       self.state_now()), before_save=self.before_save)

    def on_epoch_end(self, epoch, logs=None):
        self.reporter.epoch_end(epoch, number((logs or {}).get("loss", float("nan"))),
                                self.learning_rate(self._step()),
                                lambda: self.model.input_vectors.numpy())
        if self.checkpointer:
            state = self.state_now()
            self.checkpointer(Position(epoch + 1, 0, 0, 0.0, None, self.reporter.done,
                                       list(self.reporter.history), state),
                              epoch_end=True, before_save=self.before_save)
