"""Periodic sparse synchronisation without Ray (w2v/scaleout/sync.py): the wire's encoding of
row deltas, and the in-turn team (LocalTeam) that the simulation benchmark runs."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import planted_sentences, share_of_neighbours_in_group
from w2v import TrainConfig
from w2v.scaleout.sync import WIRES, RowDelta, combine

CONFIG = TrainConfig(dim=16, epochs=2, min_count=1, alpha=0.05, sample=0.0, window=3,
                     threads=1, backend="numba")


def hostile_rows(rng) -> np.ndarray:
    """(7, 16) float32 deltas: ordinary, one large component among small ones, huge,
    subnormal, a single nonzero, all zero, and negative zero."""
    rows = rng.normal(0, 0.01, (7, 16)).astype(np.float32)
    rows[1, 3] = 5.0
    rows[2] *= 1e30
    rows[3] = np.float32(1e-40) * np.sign(rows[3])
    rows[4] = 0.0
    rows[4, 7] = -3e-3
    rows[5] = 0.0
    rows[6] = -0.0
    return rows


@pytest.mark.parametrize("wire", WIRES)
def test_the_wire_decodes_every_row_to_within_its_rounding_sparse_or_dense(wire):
    """int8: each value to within half a step of its row (max |Δ| / 127 / 2), a row's
    largest change to within float rounding; float16: to its relative precision. The
    sparse form (few rows) and the dense one (every row sent, indices implicit) decode to
    the same values, and a row the encoding rounds to nothing is not reported as moved."""
    rng = np.random.default_rng(0)
    values = hostile_rows(rng)
    rows = np.arange(len(values), dtype=np.int32)
    with np.errstate(over="ignore"):  # float16: the huge row is inf (a diverged run's)
        sparse = RowDelta.of(rows, values, vocab_size=10_000, wire=wire)
        dense = RowDelta.of(rows, values, vocab_size=len(values), wire=wire)
    assert sparse.rows is not None and dense.rows is None
    assert sparse.wire == dense.wire == wire
    got_rows, got = sparse.sparse()
    assert got_rows.tolist() == rows.tolist() and got.dtype == np.float32
    if wire == "int8":
        step = np.abs(values).max(axis=1) / 127
        assert np.all(np.abs(got - values) <= step[:, None] / 2 * (1 + 1e-6))
        assert np.allclose(np.abs(got).max(axis=1), np.abs(values).max(axis=1), rtol=1e-6)
        assert sparse.nbytes == len(rows) * (16 + 4 + 4)
    else:
        finite = np.abs(values) < 6e4
        assert np.allclose(got[finite[:, 0]], values[finite[:, 0]], rtol=2**-11, atol=6e-8)
    dense_rows, dense_values = dense.sparse()
    moved = [r for r, v in zip(rows, got) if np.any(v != 0)]
    assert dense_rows.tolist() == moved
    assert np.array_equal(dense_values, got[np.isin(rows, moved)])


def numpy_int8(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The int8 wire's encoding in whole-array numpy: the kernels' reference."""
    scales = np.abs(values).max(axis=1, initial=0.0) / np.float32(127)
    steps = values / np.where(scales > 0, scales, 1)[:, None]
    return np.clip(np.rint(steps), -127, 127).astype(np.int8), scales


def test_the_sync_kernels_match_numpy_bit_for_bit():
    """w2v.kernels.rows against whole-array numpy: the moved rows, their int8 encoding
    (from values, and found and encoded in one pass from table − snapshot), the decoded
    sum of two workers' rows, and a worker's side of a sync (its moved rows back to the
    snapshot, the combined ones to snapshot + decoded)."""
    from w2v.kernels.rows import (add_decoded_cpu, encode_int8_cpu, encode_moved_int8_cpu,
                                  set_synchronised_cpu)
    from w2v.scaleout.sync import moved_rows

    rng = np.random.default_rng(1)
    snapshot = rng.normal(0, 0.3, (200, 16)).astype(np.float32)
    table = snapshot.copy()
    touched = np.sort(rng.choice(200, 60, replace=False))
    table[touched] += rng.normal(0, 0.01, (60, 16)).astype(np.float32)
    table[touched[:7]] += hostile_rows(rng)
    table[touched[8], 3] = np.nextafter(snapshot[touched[8], 3], np.float32(1))  # one ulp
    moved = moved_rows(table, snapshot)
    assert moved.tolist() == np.flatnonzero((table != snapshot).any(axis=1)).tolist()
    rows, steps, scales = (np.empty(200, np.int32), np.empty((200, 16), np.int8),
                           np.empty(200, np.float32))
    n = encode_moved_int8_cpu(table, snapshot, rows, steps, scales)
    want_steps, want_scales = numpy_int8(table[moved] - snapshot[moved])
    assert rows[:n].tolist() == moved.tolist()
    assert np.array_equal(steps[:n], want_steps) and np.array_equal(scales[:n], want_scales)
    steps, scales = steps[:n], scales[:n]
    values = (table[moved] - snapshot[moved]) * np.float32(3)
    encode_int8_cpu(values, steps, scales)
    want_steps, want_scales = numpy_int8(values)
    assert np.array_equal(steps, want_steps) and np.array_equal(scales, want_scales)

    decoded = steps.astype(np.float32) * scales[:, None]
    total = rng.normal(0, 1, (80, 16)).astype(np.float32)
    where = np.sort(rng.choice(80, len(moved), replace=False))
    want = total.copy()
    want[where] += decoded
    add_decoded_cpu(total, where, steps, scales)
    assert np.array_equal(total, want)

    mine, snap = table.copy(), snapshot.copy()  # combined: half the moved rows and others
    combined = np.union1d(moved[::2], np.setdiff1d(np.arange(200), moved)[::9]).astype(np.int32)
    steps = rng.integers(-127, 128, (len(combined), 16)).astype(np.int8)
    scales = rng.uniform(0, 0.01, len(combined)).astype(np.float32)
    set_synchronised_cpu(mine, snap, moved, combined, steps, scales)
    want_table = table.copy()
    want_table[moved] = snapshot[moved]
    want_table[combined] = snapshot[combined] + steps.astype(np.float32) * scales[:, None]
    assert np.array_equal(mine, want_table) and np.array_equal(snap, want_table)


def test_an_unknown_wire_is_refused():
    with pytest.raises(ValueError, match="wire must be one of int8, float16"):
        RowDelta.of(np.array([0], np.int32), np.ones((1, 2), np.float32), 10, wire="float8")


def test_the_saturating_scale_is_the_sum_where_nothing_pulls_and_the_mean_where_all_do():
    """ρ = 0 (a curvature round whose partner rows are all zero: the first) sums every
    row; a large ρ averages rows each worker moved often; one worker's row stands."""
    a = RowDelta(np.array([0, 1], np.int32), np.ones((2, 2), np.float32))
    b = RowDelta(np.array([0, 1, 2], np.int32), np.full((3, 2), 3.0, np.float32))
    updates = np.array([5.0, 5e4, 5.0])
    for rule in ("curvature", "saturating"):
        nothing = combine([a, b], rule, updates=[updates, updates], saturation=0.0)
        assert nothing.values[:, 0].tolist() == [4.0, 4.0, 3.0]
        hard = combine([a, b], rule, updates=[updates, updates], saturation=1.0)
        assert np.allclose(hard.values[:, 0], [2 * -np.expm1(-10) / (2 * -np.expm1(-5)) * 2,
                                               2.0, 3.0])


@pytest.mark.parametrize("rule", ["curvature", "saturating", "mean", "sum"])
def test_after_every_sync_each_worker_holds_the_drivers_tables(tmp_path, rule):
    """The in-turn team on the int8 wire: after each sync every worker's tables and
    snapshot are the driver's, bit for bit (the worker whose shard has a chunk fewer
    too, which sat out the epoch's last round: it fell behind for good before), the
    curvature rule's running squared norms are the tables', and two workers learn the
    planted structure."""
    from w2v.callbacks import Reporter
    from w2v.driver import drive
    from w2v.io.corpus import Corpus
    from w2v.scaleout.sync import LocalTeam, ShardWorker, SyncBackend
    from w2v.streams import initial_tables
    from w2v.vectors import Embeddings
    from w2v.vocab import Vocabulary

    corpus = tmp_path / "planted.txt"
    corpus.write_text("\n".join(" ".join(s) for s in planted_sentences(3000)) + "\n")
    vocab = Vocabulary.build(Corpus([corpus]), 1)
    tables = initial_tables(len(vocab), CONFIG.dim, CONFIG.seed)
    team = LocalTeam([ShardWorker([corpus], w, 2, vocab, CONFIG, tables, 3000)
                      for w in range(2)])
    assert [len(s) - 1 for s in team.chunk_starts] == [7, 6]  # one waits out each epoch's end
    checked = []

    def check(sync, team):
        for worker in team.workers:
            for mine, snapshot, drivers in zip(worker.tables, worker.snapshot,
                                               backend.tables()):
                assert np.array_equal(mine, drivers) and np.array_equal(snapshot, drivers)
        if backend.squared_norms is not None:
            for norms, table in zip(backend.squared_norms, backend.tables()):
                assert np.array_equal(norms, np.einsum("ij,ij->i", table, table))
        checked.append(sync)

    backend = SyncBackend(team, CONFIG, tables, vocab, 2, 1, 3000, rule, on_sync=check)
    try:
        drive(backend, CONFIG, Reporter(backend.corpus_words * CONFIG.epochs, CONFIG.epochs,
                                        vocab.words))
        assert backend.traffic().syncs == len(checked) > 3
        vectors = Embeddings(vocab.words, backend.tables()[0])
    finally:
        backend.close()
    assert share_of_neighbours_in_group(vectors) > 0.9


def test_sync_rounds_leave_no_blas_thread_spinning(tmp_path):
    """The driver's per-round arithmetic calls no BLAS: a BLAS dot a round (the curvature
    rule's weighted mean, once) kept OpenBLAS's threads spinning in the driver between
    rounds, a core taken from the Ray workers (niced by Ray), which then trained at about
    half speed. Rounds over a 30,000-word vocabulary (past OpenBLAS's threading
    threshold), then the process waits 0.3 s: it must use next to no CPU meanwhile (with
    the BLAS dot: 0.05 s with a test suite running beside it, 0.1 s on an idle machine)."""
    import resource
    import time

    from w2v.callbacks import Reporter
    from w2v.driver import drive
    from w2v.io.corpus import Corpus
    from w2v.scaleout.sync import LocalTeam, ShardWorker, SyncBackend
    from w2v.streams import initial_tables
    from w2v.vocab import Vocabulary

    corpus = tmp_path / "wide.txt"
    words = [f"w{i}" for i in range(30_000)]
    corpus.write_text("\n".join(" ".join(words[i:i + 500]) for i in range(0, 30_000, 500))
                      + "\n")
    config = TrainConfig(dim=8, epochs=1, min_count=1, sample=0.0, threads=1, backend="numba")
    vocab = Vocabulary.build(Corpus([corpus]), 1)
    tables = initial_tables(len(vocab), config.dim, config.seed)
    team = LocalTeam([ShardWorker([corpus], w, 2, vocab, config, tables, 3000)
                      for w in range(2)])
    backend = SyncBackend(team, config, tables, vocab, 2, 1, 3000)
    try:
        drive(backend, config, Reporter(backend.corpus_words, 1, vocab.words))
        assert backend.traffic().syncs >= 5
    finally:
        backend.close()

    def cpu_seconds():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    before = cpu_seconds()
    time.sleep(0.3)
    assert cpu_seconds() - before < 0.01
