"""SparseSGD and LinearDecay: the update rule, sparsity, duplicates, config round trips."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from w2v.backends.keras_model import SkipGram
from w2v.config import OPTIMIZERS
from w2v.optimizers import (LinearDecay, SoftBatch, SparseAdagrad, SparseMomentum, SparseOptimizer,
                            SparseSGD, make_optimizer)
from w2v import sgns

V, D = 20, 6


def examples(seed, batch=64, width=7):
    return np.random.default_rng(seed).integers(0, V, (batch, width)).astype(np.int32)


def numpy_step(input_table, output_table, batch, lr):
    """The reference update: closed-form rows, summed per row with np.add.at, times lr."""
    _, g_w, g_u = sgns.loss_and_gradients(input_table[batch[:, 0]], output_table[batch[:, 1:]])
    new_in, new_out = input_table.copy(), output_table.copy()
    np.add.at(new_in, batch[:, 0], -lr * g_w)
    np.add.at(new_out, batch[:, 1:].reshape(-1), -lr * g_u.reshape(-1, D))
    return new_in, new_out


def model_with(optimizer, seed=0):
    model = SkipGram(V, D, seed=seed)
    rng = np.random.default_rng(seed)
    model.output_vectors.assign(rng.normal(0, 0.3, (V, D)).astype(np.float32))
    model.compile(optimizer=optimizer)
    return model


@pytest.mark.parametrize("seed", range(3))
def test_one_step_equals_numpy_reference(seed):
    model = model_with(SparseSGD(0.05), seed)
    before = model.input_vectors.numpy(), model.output_vectors.numpy()
    batch = examples(seed)
    model.train_step(tf.constant(batch))
    expected = numpy_step(*before, batch, 0.05)
    np.testing.assert_allclose(model.input_vectors.numpy(), expected[0], atol=1e-6)
    np.testing.assert_allclose(model.output_vectors.numpy(), expected[1], atol=1e-6)


def test_compiled_step_equals_numpy_reference():
    model = model_with(SparseSGD(0.05), 4)
    before = model.input_vectors.numpy(), model.output_vectors.numpy()
    batch = examples(4)
    tf.function(model.train_step, jit_compile=True)(tf.constant(batch))
    expected = numpy_step(*before, batch, 0.05)
    np.testing.assert_allclose(model.output_vectors.numpy(), expected[1], atol=1e-6)


def test_repeated_rows_accumulate():
    variable = keras.Variable(np.zeros((4, 2), np.float32))
    optimizer = SparseSGD(1.0)
    optimizer.build([variable])
    grad = tf.IndexedSlices(tf.ones((3, 2)), tf.constant([1, 1, 3]), tf.constant([4, 2]))
    optimizer.apply([grad], [variable])
    np.testing.assert_array_equal(variable.numpy(), [[0, 0], [-2, -2], [0, 0], [-1, -1]])


def test_no_full_table_assign(monkeypatch):
    """Every write to the tables is a scatter of the batch's rows: fail on anything dense."""
    model = model_with(SparseSGD(0.05))
    seen = []

    def refuse(kind):
        def write(self, variable, value):
            raise AssertionError(f"dense {kind} of {variable.name}")
        return write

    for kind in ("assign", "assign_add"):
        monkeypatch.setattr(SparseSGD, kind, refuse(kind))
    original = SparseSGD.assign_sub

    def checked_assign_sub(self, variable, value):
        seen.append(type(value).__name__)
        if not isinstance(value, tf.IndexedSlices):
            raise AssertionError(f"dense assign_sub of {variable.name}")
        return original(self, variable, value)

    monkeypatch.setattr(SparseSGD, "assign_sub", checked_assign_sub)
    def dense_write(*args, **kwargs):
        raise AssertionError("dense write to an embedding table")

    for table in (model.input_vectors, model.output_vectors):  # the Keras variables themselves
        for attr in ("assign", "assign_add", "assign_sub"):
            monkeypatch.setattr(table, attr, dense_write)
    model.train_step(tf.constant(examples(0)))
    assert seen == ["IndexedSlices", "IndexedSlices"]


def test_linear_decay_follows_word2vec_schedule():
    schedule = LinearDecay(0.025, 0.0001, total_steps=100)
    got = [float(schedule(s)) for s in (0, 50, 100, 150)]
    np.testing.assert_allclose(got, [0.025, (0.025 + 0.0001) / 2, 0.0001, 0.0001], rtol=1e-5)


def test_config_round_trips():
    schedule = LinearDecay(0.03, 0.001, total_steps=1234)
    again = LinearDecay.from_config(schedule.get_config())
    assert again.get_config() == schedule.get_config()
    optimizer = SparseSGD(learning_rate=schedule)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(restored, SparseSGD)
    assert restored.get_config()["learning_rate"] == optimizer.get_config()["learning_rate"]
    assert float(restored.learning_rate) == pytest.approx(0.03)
    model = SkipGram(V, D, seed=3)
    assert SkipGram.from_config(model.get_config()).get_config() == model.get_config()


def test_soft_batch_of_k_steps_equals_one_step_on_the_concatenated_batch():
    batches = [examples(s) for s in range(4)]
    soft = model_with(SoftBatch(SparseSGD(0.05), steps_per_update=4))
    whole = model_with(SparseSGD(0.05))
    before = soft.output_vectors.numpy()
    for i, batch in enumerate(batches):
        soft.train_step(tf.constant(batch))
        if i < 3:  # nothing moves until the k-th step
            np.testing.assert_array_equal(soft.output_vectors.numpy(), before)
    whole.train_step(tf.constant(np.concatenate(batches)))
    for a, b in zip(soft.tables, whole.tables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-7)
    assert int(soft.optimizer.iterations.numpy()) == 4
    assert int(soft.optimizer.inner.iterations.numpy()) == 1  # the schedule advanced once


def test_soft_batch_inside_a_compiled_fit_loop():
    soft = model_with(SoftBatch(SparseSGD(0.05), steps_per_update=2))
    whole = model_with(SparseSGD(0.05))
    batches = [examples(s) for s in range(4)]
    soft.fit(tf.data.Dataset.from_tensor_slices(np.stack(batches)), epochs=1, verbose=0,
             shuffle=False)
    for pair in (batches[:2], batches[2:]):
        whole.train_step(tf.constant(np.concatenate(pair)))
    for a, b in zip(soft.tables, whole.tables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


OPTIMIZER_MAKERS = {
    "sgd": lambda: SparseSGD(LinearDecay(0.05, 0.001, total_steps=4)),
    "soft batch": lambda: SoftBatch(SparseSGD(LinearDecay(0.05, 0.001, total_steps=2)), 2),
    "momentum": lambda: SparseMomentum(0.05, momentum=0.8),
}


@pytest.mark.parametrize("name", OPTIMIZER_MAKERS)
def test_a_block_of_batches_trains_what_its_batches_do_one_at_a_time(name):
    """The keras backend hands train_step a span's batches as one (S, B, W) block."""
    block = np.stack([examples(s, batch=16) for s in range(4)])
    one_at_a_time = model_with(OPTIMIZER_MAKERS[name]())
    for batch in block:
        one_at_a_time.train_step(tf.constant(batch))
    blocked = model_with(OPTIMIZER_MAKERS[name]())
    jit = getattr(blocked.optimizer, "jit_compatible", True)
    tf.function(blocked.train_step, jit_compile=jit)(tf.constant(block))
    assert jit == (name != "momentum")  # soft batch over SGD compiles under XLA too
    for a, b in zip(blocked.tables, one_at_a_time.tables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    assert int(blocked.optimizer.iterations.numpy()) == 4
    assert float(blocked.loss_tracker.count.numpy()) == 4 * 16  # every example's loss


def test_soft_batch_over_sgd_sends_cbow_padding_as_zero_rows():
    """Under XLA-compatible soft batch, padding (CBOW's empty slots) is row 0 with zeros:
    the update is still the one SGD makes on the concatenated batch, row 0 included."""
    from w2v.backends.keras_model import Word2VecModel

    def cbow_model(optimizer):
        model = Word2VecModel(V, D, seed=2, cbow=True, window=2, negative=3)
        model.output_vectors.assign(np.random.default_rng(2).normal(0, 0.3, (V, D))
                                    .astype(np.float32))
        model.compile(optimizer=optimizer)
        return model

    rng = np.random.default_rng(5)
    batches = rng.integers(1, V, (2, 8, 1 + 4 + 3)).astype(np.int32)
    batches[:, :, 3:5] = -1  # the far slots empty: padding
    batches[:, 0, 1] = 0  # row 0 a real context word too
    soft = cbow_model(SoftBatch(SparseSGD(0.05), steps_per_update=2))
    assert soft.optimizer.jit_compatible
    whole = cbow_model(SparseSGD(0.05))
    for batch in batches:
        soft.train_step(tf.constant(batch))
    whole.train_step(tf.constant(np.concatenate(batches)))
    for a, b in zip(soft.tables, whole.tables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def test_soft_batch_of_heun_steps_on_the_concatenated_batch():
    from w2v.optimizers.runge_kutta import RungeKutta

    soft = model_with(SoftBatch(RungeKutta(0.05, method="heun"), steps_per_update=3))
    whole = model_with(RungeKutta(0.05, method="heun"))
    batches = [examples(s) for s in range(3)]
    for batch in batches:
        soft.train_step(tf.constant(batch))
    whole.train_step(tf.constant(np.concatenate(batches)))
    for a, b in zip(soft.tables, whole.tables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def reference_rows(batch, w_in, w_out):
    """Per table, the batch's summed gradient as a dense (V, D) array and the touched rows."""
    _, g_w, g_u = sgns.loss_and_gradients(w_in[batch[:, 0]], w_out[batch[:, 1:]])
    g_in, g_out = np.zeros_like(w_in), np.zeros_like(w_out)
    np.add.at(g_in, batch[:, 0], g_w)
    np.add.at(g_out, batch[:, 1:].reshape(-1), g_u.reshape(-1, D))
    return [(g_in, np.unique(batch[:, 0])), (g_out, np.unique(batch[:, 1:]))]


@pytest.mark.parametrize("nesterov", [False, True])
def test_lazy_momentum_equals_numpy_reference(nesterov):
    model = model_with(SparseMomentum(0.05, momentum=0.8, nesterov=nesterov))
    tables = [t.numpy() for t in model.tables]
    velocity = [np.zeros_like(t) for t in tables]
    for seed in range(3):
        batch = examples(seed, batch=8)  # small batches: some rows untouched each step
        grads = reference_rows(batch, *tables)
        for t, (g, rows) in enumerate(grads):
            velocity[t][rows] = 0.8 * velocity[t][rows] + g[rows]  # only touched rows decay
            step = g[rows] + 0.8 * velocity[t][rows] if nesterov else velocity[t][rows]
            tables[t][rows] -= 0.05 * step
        model.train_step(tf.constant(batch))
    for got, want in zip(model.tables, tables):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-6)


def test_adagrad_equals_numpy_reference():
    model = model_with(SparseAdagrad(0.1))
    tables = [t.numpy() for t in model.tables]
    accumulators = [np.full_like(t, 0.1) for t in tables]
    for seed in range(3):
        batch = examples(seed, batch=8)
        for t, (g, rows) in enumerate(reference_rows(batch, *tables)):
            accumulators[t][rows] += g[rows] ** 2
            tables[t][rows] -= 0.1 * g[rows] / (np.sqrt(accumulators[t][rows]) + 1e-7)
        model.train_step(tf.constant(batch))
    for got, want in zip(model.tables, tables):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-6)


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("k", [1, 2])
def test_no_optimizer_writes_a_whole_table(monkeypatch, name, k):
    """Tables and their (V, D) slots are only ever written row by row."""
    optimizer = make_optimizer(name, 0.05, steps_per_update=k)
    getattr(optimizer, "inner", optimizer).rtol = 10.0  # adaptive methods: accept the step
    model = model_with(optimizer)
    for kind in ("assign", "assign_add", "assign_sub"):
        original = getattr(SparseOptimizer, kind)

        def checked(self, variable, value, _original=original, _kind=kind):
            if tuple(variable.shape) == (V, D) and not isinstance(value, tf.IndexedSlices):
                raise AssertionError(f"dense {_kind} of {variable.name}")
            return _original(self, variable, value)

        monkeypatch.setattr(SparseOptimizer, kind, checked)
    for table in model.tables:
        for attr in ("assign", "assign_add", "assign_sub"):
            monkeypatch.setattr(table, attr, lambda *a, **kw: (_ for _ in ()).throw(
                AssertionError("dense write to an embedding table")))
    before = model.output_vectors.numpy()
    for seed in range(k):
        model.train_step(tf.constant(examples(seed)))
    assert not np.array_equal(model.output_vectors.numpy(), before)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_config_round_trips(name):
    for k in (1, 3):
        optimizer = make_optimizer(name, LinearDecay(0.025, 0.0001, 100), steps_per_update=k)
        again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
        assert type(again) is type(optimizer)
        assert again.get_config() == optimizer.get_config()
