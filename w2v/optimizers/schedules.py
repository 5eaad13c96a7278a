"""word2vec's learning-rate schedule as a Keras LearningRateSchedule (w2v/schedule.py's
rule, per optimizer update)."""

from __future__ import annotations

import keras

from w2v.schedule import rate


@keras.saving.register_keras_serializable(package="w2v")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """word2vec's learning rate: linear from `initial` to `final` over `total_steps`, then flat.

        lr(step) = w2v.schedule.rate(initial, final, min(step / total_steps, 1))

    With every step a batch of the same number of (center, context) pairs, the decay is
    linear in pairs trained, which tracks words trained (each kept word yields on average
    2·E[window] pairs) across all epochs, as in word2vec and gensim.
    """

    def __init__(self, initial: float, final: float, total_steps: int):
        self.initial = float(initial)
        self.final = float(final)
        self.total_steps = int(total_steps)

    def __call__(self, step):
        progress = keras.ops.minimum(
            keras.ops.cast(step, "float32") / max(self.total_steps, 1), 1.0)
        return rate(self.initial, self.final, progress)

    def get_config(self):
        return {"initial": self.initial, "final": self.final, "total_steps": self.total_steps}
