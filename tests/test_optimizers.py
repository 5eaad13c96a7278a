"""SparseSGD and LinearDecay: the update rule, sparsity, duplicates, config round trips."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from w2v.model import SkipGram
from w2v.optimizers import LinearDecay, SparseSGD
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
