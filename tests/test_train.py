"""Training end to end through model.fit: planted structure, schedule, autodiff agreement."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from benchmarks.autodiff import AutodiffSkipGram
from tests.conftest import GROUP_SIZE, GROUPS, share_of_neighbours_in_group
from w2v.config import TrainConfig
from w2v.backends.keras_model import SkipGram
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


def test_a_model_class_with_its_own_train_step_trains_a_batch_a_step(tiny_corpus):
    """The backend hands Word2VecModel a span's batches as one block; a subclass with a
    train_step of its own (the autodiff baseline) gets one batch a step, and trains what
    the closed-form step trains, to float rounding."""
    config = TrainConfig(dim=8, min_count=1, epochs=2, batch_size=64, seed=5, threads=1,
                         alpha=0.05, backend="keras")
    closed_form, _ = train(tiny_corpus, config)
    autodiff, summary = train(tiny_corpus, config, model_class=AutodiffSkipGram,
                              optimizer_factory=lambda lr: keras.optimizers.SGD(lr))
    assert summary.steps > 16  # more than one span
    np.testing.assert_allclose(autodiff.vectors, closed_form.vectors, atol=1e-5)


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


# -- CBOW and hierarchical softmax on keras --------------------------------------------


MODES = [dict(cbow=True, hs=False, negative=5), dict(cbow=False, hs=True, negative=0),
         dict(cbow=True, hs=True, negative=3), dict(cbow=True, cbow_mean=False, negative=4)]


def mode_problem(tmp_path, mode, seed=0):
    from tests.conftest import planted_batches
    from w2v.streams import epoch_streams

    context = planted_batches(tmp_path, 60, 10_000, window=3, sample=0, batch_size=64, **mode)
    vocab, batches = context.__enter__()
    examples = next(iter(batches.epoch(epoch_streams(seed, 0, range(1))[0])))
    return context, vocab, batches, examples


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "xla"])
@pytest.mark.parametrize("mode", MODES, ids=lambda m: "-".join(f"{k}{v}" for k, v in m.items()))
def test_every_mode_closed_form_step_equals_autodiff(tmp_path, mode, compiled):
    """One SGD step of the model's closed-form gradients against tf.GradientTape on
    w2v.heads' loss of the same batch (CBOW context rows: ∂loss/∂h, word2vec.c's rule,
    which is the gradient for the sum and m times it for the mean). Compiled: under XLA,
    as the keras backend runs it, padding sent to SGD as zero rows of row 0."""
    from w2v import heads
    from w2v.backends.keras_model import Word2VecModel

    context, vocab, batches, examples = mode_problem(tmp_path, mode)
    rng = np.random.default_rng(1)
    model = Word2VecModel(len(vocab), 6, seed=2, cbow=mode["cbow"],
                          cbow_mean=mode.get("cbow_mean", True), negative=mode["negative"],
                          tree=batches.huffman, window=3)
    model.output_vectors.assign(rng.normal(0, 0.3, model.output_vectors.shape).astype(np.float32))
    start = [v.numpy() for v in model.tables]
    model.compile(optimizer=SparseSGD(0.1))
    assert model.compiles_with(model.optimizer)
    step = tf.function(model.train_step, jit_compile=True) if compiled else model.train_step
    step(tf.constant(examples))
    input_ids, input_mask, target_ids, labels, target_mask = model.parts(tf.constant(examples))
    w_in, w_out = (tf.Variable(t) for t in start)
    with tf.GradientTape() as tape:
        rows = tf.gather(w_in, input_ids)
        h = heads.cbow_input(rows, input_mask, model.cbow_mean) if model.cbow else rows[:, 0]
        loss = tf.reduce_sum(heads.binary_loss(h, tf.gather(w_out, target_ids), labels,
                                               target_mask))
    g_in, g_out = (tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, [w_in, w_out]))
    if model.cbow and model.cbow_mean:  # word2vec.c's step: each slot gets ∂loss/∂h, m × ∂W
        counts = input_mask.numpy().sum(1)
        g_in = np.zeros_like(g_in)
        _, g_h, _ = heads.binary_loss_and_gradients(
            heads.cbow_input(start[0][input_ids.numpy()], input_mask.numpy(), True),
            start[1][target_ids.numpy()], labels.numpy(), target_mask.numpy())
        for b, (ids, mask) in enumerate(zip(input_ids.numpy(), input_mask.numpy())):
            np.add.at(g_in, ids[mask > 0], g_h[b])
        assert counts.max() > 1
    np.testing.assert_allclose(model.input_vectors.numpy(), start[0] - 0.1 * g_in, atol=1e-5)
    np.testing.assert_allclose(model.output_vectors.numpy(), start[1] - 0.1 * g_out, atol=1e-5)
    context.__exit__(None, None, None)


@pytest.mark.parametrize("mode", MODES[:3], ids=["cbow-ns", "sg-hs", "cbow-hs-ns"])
def test_every_mode_learns_the_planted_groups_on_keras(planted_corpus, mode):
    config = TrainConfig(dim=16, window=3, min_count=1, sample=0, epochs=3, batch_size=128,
                         alpha=0.05 if mode["cbow"] else 0.025, seed=3, backend="keras", **mode)
    vectors, summary = train(planted_corpus, config)
    share = share_of_neighbours_in_group(vectors)
    assert share > 0.9, f"only {share:.1%} of neighbours in the right group"


def test_skip_gram_with_a_tree_trains_at_the_default_batch_size(planted_corpus):
    """Every prediction steps the tree's root: a step of 1,024 pairs moved it 1,024 times
    at once and diverged here (loss nan in the first epoch); HS batches are sized as
    CBOW's (TrainConfig.examples_per_batch)."""
    config = TrainConfig(dim=16, window=3, min_count=1, sample=0, epochs=3, seed=3,
                         backend="keras", hs=True, negative=0)
    assert config.examples_per_batch == config.batch_size // (config.window + 1)
    vectors, summary = train(planted_corpus, config)
    assert share_of_neighbours_in_group(vectors) > 0.9


@pytest.mark.parametrize("optimizer,k", [("momentum", 1), ("adagrad", 1), ("heun", 1),
                                         ("sgd", 3), ("rk23", 2)])
def test_every_optimizer_trains_cbow_with_both_heads(tiny_corpus, optimizer, k):
    config = TrainConfig(dim=8, window=3, min_count=1, epochs=1, batch_size=64, backend="keras",
                         cbow=True, hs=True, negative=3, optimizer=optimizer,
                         steps_per_update=k, alpha=0.05)
    vectors, summary = train(tiny_corpus, config)
    assert np.isfinite(vectors.vectors).all() and 0 < summary.final_loss < 20
