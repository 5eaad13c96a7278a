"""word2vec's learning rate, written once: linear from alpha to min_alpha over the whole
run, then flat.

>>> from w2v.schedule import Schedule
>>> schedule = Schedule(alpha=0.025, min_alpha=0.0001, total=1000)
>>> schedule(0), schedule(500), schedule(2000)
(0.025, 0.01255, 0.0001)

The driver (w2v/driver.py) reads it at the start and end of every span it hands a
backend; the keras backend's `LinearDecay` (a Keras LearningRateSchedule) calls `rate`
with a tensor per optimizer update. What "units" count is the backend's: word positions
(numba, cuda, the sync team) or optimizer updates (keras); the run's total is the same
units summed over its epochs.
"""

from __future__ import annotations

from dataclasses import dataclass


def rate(alpha, min_alpha, progress):
    """The learning rate once `progress` (a share of the run, 0..1) is done; `progress`
    may be a float or a tensor (clip it to 1 first: the rate stays at min_alpha)."""
    return alpha - (alpha - min_alpha) * progress


@dataclass(frozen=True)
class Schedule:
    """The run's schedule over `total` units: `schedule(done)` is the rate after `done`."""
    alpha: float
    min_alpha: float
    total: int

    def __call__(self, done: float) -> float:
        return rate(self.alpha, self.min_alpha, min(done / max(self.total, 1), 1.0))
