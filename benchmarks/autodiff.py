"""The autodiff baseline: the same SkipGram model, trained by tf.GradientTape + keras SGD.

Same variables, same batches, same loss (w2v.sgns.loss summed over the batch), same
learning-rate schedule; only the gradient comes from autodiff and the update from
`keras.optimizers.SGD`. Benchmarks compare the closed-form `SkipGram.train_step` with it.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from w2v import sgns
from w2v.backends.keras_model import SkipGram


@keras.saving.register_keras_serializable(package="w2v_benchmarks")
class AutodiffSkipGram(SkipGram):
    def train_step(self, examples):
        variables = [self.input_vectors, self.output_vectors]
        with tf.GradientTape() as tape:
            loss = sgns.loss(*self.gather(examples))  # (B,)
            total = tf.reduce_sum(loss)
        grads = tape.gradient(total, [v.value for v in variables])
        self.optimizer.apply(grads, variables)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}
