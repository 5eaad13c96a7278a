"""The one learning-rate schedule (w2v/schedule.py), and the keras backend's Keras
LearningRateSchedule pinned to it."""

import keras
import numpy as np
import pytest

from w2v.config import TrainConfig
from w2v.optimizers import LinearDecay
from w2v.schedule import Schedule, rate
from w2v.trainer import train


def test_linear_from_alpha_to_min_alpha_then_flat():
    schedule = Schedule(alpha=0.025, min_alpha=0.0001, total=1000)
    assert schedule(0) == 0.025 and schedule(1000) == pytest.approx(0.0001)
    assert schedule(250) == pytest.approx(0.025 - 0.0249 / 4)
    assert schedule(5000) == schedule(1000)  # flat after the end
    assert rate(0.1, 0.0, 0.5) == 0.05


@pytest.mark.parametrize("total", [1, 7, 1000])
def test_the_keras_schedule_reads_the_same_function(total):
    decay, schedule = LinearDecay(0.05, 0.001, total), Schedule(0.05, 0.001, total)
    for step in sorted({0, 1, total // 3, total // 2, total - 1, total, total + 9}):
        assert float(decay(step)) == pytest.approx(schedule(step), abs=1e-8), step  # float32


def test_a_keras_run_reports_the_rate_its_optimizer_steps_at(tiny_corpus):
    """The driver's learning rate at each epoch's end (what the logs and callbacks get) is
    the optimizer's, for plain steps and under soft batch (one update per k steps)."""
    for k in (1, 4):
        seen = []

        class Spy(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                seen.append((logs["learning_rate"], float(self.model.optimizer.learning_rate)))

        config = TrainConfig(dim=8, min_count=1, epochs=3, batch_size=32, alpha=0.05,
                             min_alpha=0.001, backend="keras", steps_per_update=k)
        train(tiny_corpus, config, callbacks=[Spy()])
        assert len(seen) == 3
        for reported, stepped in seen:
            assert reported == pytest.approx(stepped, rel=1e-5)
        assert seen[-1][0] == pytest.approx(0.001, rel=1e-5)


def test_every_backend_logs_the_same_rates_at_epoch_ends(tmp_path):
    """Epoch e ends at share (e + 1) / epochs of the run, whatever the backend's units."""
    from tests.conftest import planted_sentences

    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(" ".join(s) for s in planted_sentences(60)) + "\n")
    rates = {}
    for backend in ("numba", "keras", "cuda"):
        config = TrainConfig(dim=4, min_count=1, epochs=3, alpha=0.04, min_alpha=0.004,
                             backend=backend, batch_size=16, window=2)
        _, summary = train(corpus, config)
        rates[backend] = [h["learning_rate"] for h in summary.history]
    want = [Schedule(0.04, 0.004, 3)(e + 1) for e in range(3)]
    for backend, got in rates.items():
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=backend)
