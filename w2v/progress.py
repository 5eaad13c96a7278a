"""A tqdm progress bar for model.fit: words/s, learning rate, loss and ETA."""

from __future__ import annotations

import time

import keras
from tqdm.auto import tqdm


class ProgressBar(keras.callbacks.Callback):
    """One bar over all steps of all epochs.

    words_per_step: corpus words one step stands for (corpus words × epochs / total steps),
    so the rate shown is comparable with word2vec's and gensim's words/s.
    """

    def __init__(self, total_steps: int, words_per_step: float, learning_rate, file=None):
        super().__init__()
        self.total_steps = total_steps
        self.words_per_step = words_per_step
        self.learning_rate = learning_rate  # the schedule: step -> lr
        self.file = file
        self.done = 0
        self.bar = None

    def on_train_begin(self, logs=None):
        self.bar = tqdm(total=self.total_steps, unit="step", file=self.file, smoothing=0.1,
                        dynamic_ncols=True, mininterval=0.5)
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        self.bar.update(step - self.done)
        self.done = step
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        self.bar.set_postfix_str(
            f"words/s={self.words_per_step * step / elapsed:,.0f} "
            f"lr={float(self.learning_rate(step)):.5f} loss={float((logs or {}).get('loss', 0)):.4f}",
            refresh=False)

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()
