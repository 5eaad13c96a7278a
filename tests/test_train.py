"""Training end to end through model.fit: planted structure, schedule, autodiff agreement."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from benchmarks.autodiff import AutodiffSkipGram
from tests.conftest import GROUP_SIZE, GROUPS, share_of_neighbours_in_group
from w2v.config import TrainConfig
from w2v.backends.skipgram import SkipGram
from w2v.optimizers import SparseSGD
from w2v.trainer import train


def test_planted_groups_become_nearest_neighbours(planted_corpus):
    config = TrainConfig(dim=16, window=3, negative=5, min_count=1, sample=0, epochs=3,
                         batch_size=256, alpha=0.025, seed=3, backend="keras")
    vectors, summary = train(planted_corpus, config)
    assert len(vectors) == GROUPS * GROUP_SIZE
    share = share_of_neighbours_in_group(vectors)
    assert share > 0.95, f"only {share:.1%} of neighbours in the right group"
    assert summary.steps > 0 and summary.final_loss < 2.5  # 6·log 2 ≈ 4.16 at the start


def test_schedule_reaches_min_alpha_after_all_steps(tiny_corpus):
    seen = {}

    class Spy(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            seen["iterations"] = int(self.model.optimizer.iterations.numpy())
            seen["lr"] = float(self.model.optimizer.learning_rate)

    config = TrainConfig(dim=8, min_count=1, epochs=2, batch_size=128, alpha=0.05, min_alpha=0.001,
                         backend="keras")
    _, summary = train(tiny_corpus, config, callbacks=[Spy()])
    assert seen["iterations"] == summary.steps > 0
    assert seen["lr"] == pytest.approx(0.001, rel=1e-5)


def test_closed_form_step_equals_autodiff_step():
    rng = np.random.default_rng(0)
    batch = tf.constant(rng.integers(0, 30, (256, 7)).astype(np.int32))
    out_init = rng.normal(0, 0.2, (30, 10)).astype(np.float32)
    models = []
    for cls, optimizer in ((SkipGram, SparseSGD(0.05)), (AutodiffSkipGram, keras.optimizers.SGD(0.05))):
        model = cls(30, 10, seed=5)
        model.output_vectors.assign(out_init)
        model.compile(optimizer=optimizer)
        for _ in range(3):
            model.train_step(batch)
        models.append(model)
    for a, b in zip(models[0].weights, models[1].weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def test_training_is_reproducible_with_a_seed(tiny_corpus):
    config = TrainConfig(dim=8, min_count=1, epochs=1, batch_size=128, seed=11, threads=1,
                         backend="keras")
    a, _ = train(tiny_corpus, config)
    b, _ = train(tiny_corpus, config)
    np.testing.assert_array_equal(a.vectors, b.vectors)


def test_unusable_corpora_raise_clear_errors(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    with pytest.raises(ValueError, match="corpus is empty"):
        train(empty)
    rare = tmp_path / "rare.txt"
    rare.write_text("every word here is unique\n")
    with pytest.raises(ValueError, match="vocabulary is empty.*min_count=5"):
        train(rare)
    with pytest.raises(ValueError, match="window must be at least 1, got 0"):
        train(rare, TrainConfig(window=0))
