"""What training reports, for every backend: a progress bar, per-epoch callbacks, a JSON log.

>>> from w2v.callbacks import Callback
>>> class Print(Callback):
...     def on_epoch_end(self, epoch, logs, vectors):
...         print(epoch, logs["loss"], logs["words_per_second"], logs["learning_rate"])
>>> w2v.train("data/novels.txt.gz", callbacks=[Print()])

Each backend calls `Reporter.progress` as words are trained and `Reporter.epoch_end` after
each epoch; the reporter draws the tqdm bar, writes the JSON lines, scores the vectors when
asked (`w2v-train --eval`) and calls the callbacks. Keras callbacks (TensorBoard,
ModelCheckpoint, anything with `set_model`) go to `model.fit` on the keras backend instead.
"""

from __future__ import annotations

import json
import math
import sys
import time

from w2v.io.files import open_log


class Callback:
    """Per-epoch hook, on every backend. Subclass and override `on_epoch_end`."""

    def on_epoch_end(self, epoch: int, logs: dict, vectors) -> None:
        """epoch: 1-based; logs: loss (mean over the epoch's pairs), words_per_second,
        learning_rate (at the epoch's end), words (corpus words trained so far in this
        run), seconds, and the scores of `--eval` when asked; vectors(): the input vectors
        now, as Embeddings (a copy: calling it costs a (V, d) copy)."""


def is_keras_callback(callback) -> bool:
    return hasattr(callback, "set_model")


class Reporter:
    """Receives progress from a backend and hands it to the bar, the log and the callbacks.

    total_words: corpus words × epochs; words: the vocabulary (for `vectors()`);
    log_json: a path for one JSON object per line, or None; evaluate: score each epoch with
    w2v.evaluate (analogies and word pairs); start: a resumed run's w2v.checkpoint.Position
    (its words done and epoch logs carry on).
    """

    def __init__(self, total_words: int, epochs: int, words: list[str], show: bool = False,
                 callbacks=(), log_json=None, evaluate: bool = False, alpha: float = 0.025,
                 start=None):
        from tqdm.auto import tqdm

        self.total_words, self.epochs, self.words = total_words, epochs, words
        self.alpha = alpha  # the starting learning rate, named when training diverges
        self.callbacks = list(callbacks)
        self.evaluate = evaluate
        self.bar = tqdm(total=total_words, unit="word", unit_scale=True, disable=not show,
                        smoothing=0.1, dynamic_ncols=True, mininterval=0.5)
        self.show = show
        self.log = open_log(log_json) if log_json else None
        self.done = start.words if start else 0.0
        self.started = self.epoch_started = time.perf_counter()
        self.epoch_words = 0.0
        self.history: list[dict] = list(start.history) if start else []
        self.bar.update(round(self.done))

    def progress(self, words: float, lr: float, loss: float) -> None:
        """`words` more corpus words trained; lr and running loss now.

        Raises FloatingPointError when the loss is no longer finite: the tables hold NaN
        or infinity from here on, and nothing should be saved from them.
        """
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"training diverged in epoch {len(self.history) + 1} after "
                f"{round(self.done + words):,} words: the loss is {loss} (the learning rate, "
                f"{self.alpha:g} at the start, is the likely cause: try a smaller --alpha)")
        self.done += words
        self.epoch_words += words
        self.bar.update(round(self.done) - self.bar.n)
        self.bar.set_postfix_str(f"lr={lr:.5f} loss={loss:.4f}", refresh=False)
        if self.log:
            elapsed = time.perf_counter() - self.started
            self._write({"event": "progress", "words": round(self.done), "learning_rate": lr,
                         "loss": loss, "seconds": elapsed,
                         "words_per_second": self.done / max(elapsed, 1e-9)})

    def epoch_end(self, epoch: int, loss: float, lr: float, vectors) -> dict:
        """After epoch `epoch` (0-based); vectors() returns the current (V, d) input table."""
        now = time.perf_counter()
        logs = {"epoch": epoch + 1, "loss": float(loss), "learning_rate": float(lr),
                "words": round(self.done), "seconds": now - self.started,
                "words_per_second": self.epoch_words / max(now - self.epoch_started, 1e-9)}

        def current():
            from w2v.vectors import Embeddings
            return Embeddings(self.words, vectors())

        if self.evaluate:
            from w2v.evaluate import evaluate
            logs.update({k: v for k, v in evaluate(current()).items() if not k.endswith("_oov")})
        self.history.append(logs)
        if self.show:
            shown = ", ".join(f"{k} {v:,.0f}" if k == "words_per_second" else f"{k} {v:.4g}"
                              for k, v in logs.items() if k not in ("epoch", "words", "seconds"))
            self.bar.write(f"epoch {epoch + 1}/{self.epochs}: {shown}", file=sys.stderr)
        if self.log:
            self._write({"event": "epoch", **logs})
        for callback in self.callbacks:
            callback.on_epoch_end(epoch + 1, logs, current)
        self.epoch_started, self.epoch_words = time.perf_counter(), 0.0
        return logs

    def _write(self, record: dict) -> None:
        # JSON has no NaN: an undefined score (no question answerable) is written as null
        clean = {k: None if isinstance(v, float) and not math.isfinite(v) else v
                 for k, v in record.items()}
        self.log.write(json.dumps(clean, allow_nan=False) + "\n")

    def close(self) -> None:
        self.bar.close()
        if self.log:
            self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
