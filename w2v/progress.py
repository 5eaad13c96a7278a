"""The keras backend's side of w2v.callbacks: model.fit's batches and epochs to a Reporter."""

from __future__ import annotations

import keras


class KerasProgress(keras.callbacks.Callback):
    """Tells a w2v.callbacks.Reporter what model.fit did.

    words_per_step: corpus words one step stands for (corpus words × epochs / total
    steps); learning_rate: the schedule, step -> lr.
    """

    def __init__(self, reporter, words_per_step: float, learning_rate):
        super().__init__()
        self.reporter = reporter
        self.words_per_step = words_per_step
        self.learning_rate = learning_rate
        self.done = 0

    def _step(self) -> int:
        return int(self.model.optimizer.iterations.numpy())

    def on_train_batch_end(self, batch, logs=None):
        step = self._step()
        self.reporter.progress((step - self.done) * self.words_per_step,
                               self.learning_rate(step), float((logs or {}).get("loss", 0.0)))
        self.done = step

    def on_epoch_end(self, epoch, logs=None):
        self.reporter.epoch_end(epoch, float((logs or {}).get("loss", float("nan"))),
                                self.learning_rate(self._step()),
                                lambda: self.model.input_vectors.numpy())
