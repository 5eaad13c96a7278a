"""The cuda backend on numba's CUDA simulator: kernels against the w2v/sgns.py reference.

conftest.py sets NUMBA_ENABLE_CUDASIM=1 before numba is imported, so these run on any
machine. The tests marked gpu need a real device: `NUMBA_ENABLE_CUDASIM=0 pytest -m gpu`.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from numba import cuda

from w2v.kernels.cuda import SgnsTrainer, duplicate_rate, scatter_add, simulated, window_examples
from tests.conftest import (GROUP_SIZE, GROUPS, planted_batches, planted_sentences,
                            random_tables, share_of_neighbours_in_group)
from w2v import heads
from w2v.batches import EncodedCorpus, ExampleBatches
from w2v.config import TrainConfig
from w2v.streams import epoch_streams
from w2v.trainer import train
from w2v.vocab import Vocabulary

def epoch_keys(seed: int, epoch: int) -> tuple[np.uint64, np.uint64]:
    """The kernel's (keep_key, draw_key) of an epoch: its stream row 0 (w2v/streams.py)."""
    row = epoch_streams(seed, epoch, range(1))[0]
    return np.uint64(row[0]), np.uint64(row[1])


needs_gpu = pytest.mark.skipif(simulated() or not cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("method", ["atomic", "segments"])
def test_scatter_add_under_heavy_duplication_equals_numpy_add_at(method):
    rng = np.random.default_rng(0)
    table = rng.normal(size=(10, 6)).astype(np.float32)
    rows = rng.integers(-1, 4, 200).astype(np.int32)  # 4 rows (and skipped −1s), ~98 % repeats
    updates = rng.normal(size=(200, 6)).astype(np.float32)
    want = table.copy()
    np.add.at(want, rows[rows >= 0], updates[rows >= 0])
    device_table = cuda.to_device(table)
    assert scatter_add(device_table, rows, cuda.to_device(updates), method) == method
    np.testing.assert_allclose(device_table.copy_to_host(), want, atol=1e-5)


def test_scatter_add_auto_sorts_only_when_rows_repeat_a_lot():
    table = cuda.to_device(np.zeros((1000, 2), np.float32))
    distinct = np.arange(100, dtype=np.int32)
    same = np.zeros(100, dtype=np.int32)
    ones = cuda.to_device(np.ones((100, 2), np.float32))
    assert duplicate_rate(distinct) == 0.0 and duplicate_rate(same) == 0.99
    assert scatter_add(table, distinct, ones) == "atomic"
    assert scatter_add(table, same, ones) == "segments"
    assert table.copy_to_host()[0, 0] == 101.0
    with pytest.raises(ValueError, match="updates must have shape"):
        scatter_add(table, same, cuda.to_device(np.ones((99, 2), np.float32)))


@pytest.fixture
def planted(tmp_path):
    """Two spans of a 48-word planted corpus with subsampling on: (vocab, batches)."""
    with planted_batches(tmp_path, 40, 200, sample=2e-3, window=3, negative=4) as vocab_batches:
        yield vocab_batches


def reference_step(w_in, w_out, windows, lr, cbow=None):
    """w2v.heads on every window of `windows`, all gradients at the given tables, then
    scatter-added: what one launch of batched does. Skip-gram: the batch of (context row,
    targets) examples; CBOW (cbow = mean?): the contexts' mean or sum against the targets,
    every context row moved by −lr ∂loss/∂h (word2vec.c's rule)."""
    new_in, new_out = w_in.copy(), w_out.copy()
    for inputs, targets, labels in windows:
        if not len(inputs):
            continue
        if cbow is None:
            _, g_w, g_u = heads.binary_loss_and_gradients(
                w_in[inputs], np.broadcast_to(w_out[targets], (len(inputs), *w_out[targets].shape)),
                labels)
            np.add.at(new_in, inputs, -lr * g_w)
        else:
            mask = np.ones((1, len(inputs)), np.float32)
            h = heads.cbow_input(w_in[inputs][None], mask, cbow)
            _, g_h, g_u = heads.binary_loss_and_gradients(h, w_out[targets][None], labels)
            np.add.at(new_in, inputs, -lr * heads.cbow_context_step(g_h, mask)[0])
        np.add.at(new_out, np.tile(targets, len(g_u)), -lr * g_u.reshape(-1, w_in.shape[1]))
    return new_in, new_out


def replay(batches, offset, ids, ends, positions, keys, tree=None):
    return [window_examples(ids, ends, offset, p, batches.keep_prob, batches.accept,
                            batches.alias, batches.window, batches.negative, *keys, tree)
            for p in positions]


def test_host_replay_draws_word2vec_windows(planted):
    _, b = planted
    offset, ids, ends = next(b.encoded.spans(10**9))
    keys = epoch_keys(7, 0)
    windows = replay(b, offset, ids, ends, range(len(ids)), keys)
    kept_share = np.mean([len(inputs) > 0 for inputs, _, _ in windows])
    assert 0.3 < kept_share < 0.95  # sample=2e-3 keeps about 40 % of each word
    for inputs, targets, labels in windows:
        assert len(inputs) <= 2 * b.window
        if len(inputs):
            assert len(targets) == 1 + b.negative and labels.tolist() == [1, 0, 0, 0, 0]
            assert (targets[1:] != targets[0]).all()  # no negative equals its positive
    again = replay(b, offset, ids, ends, range(50), keys)
    for (i1, t1, _), (i2, t2, _) in zip(windows[:50], again):
        np.testing.assert_array_equal(i1, i2)
        np.testing.assert_array_equal(t1, t2)
    other = replay(b, offset, ids, ends, range(50), epoch_keys(7, 1))
    assert any(len(x) != len(y) or (x != y).any()
               for (x, _, _), (y, _, _) in zip(windows[:50], other))


def test_window_sizes_are_uniform_without_subsampling(tmp_path):
    sentences = [[f"w{i % 50}" for i in range(400)]]  # one long sentence, every word kept
    vocab = Vocabulary.build(sentences, min_count=1)
    encoded = EncodedCorpus(sentences, vocab, directory=tmp_path)
    b = ExampleBatches(encoded, vocab, TrainConfig(sample=0, window=4))
    offset, ids, ends = next(encoded.spans(10**9))
    sizes = [len(inputs) for inputs, _, _ in replay(b, offset, ids, ends, range(10, 390),
                                                   epoch_keys(1, 0))]
    counts = np.bincount(sizes, minlength=9)
    assert counts[[1, 3, 5, 7]].sum() == 0  # b words on each side: 2b in the middle
    assert all(60 < c < 130 for c in counts[[2, 4, 6, 8]]), counts
    encoded.close()


def test_one_block_equals_the_reference_window_by_window(planted):
    """Hogwild with one block: each center's updates land before the next is read."""
    vocab, b = planted
    offset, ids, ends = next(b.encoded.spans(200))
    keys = epoch_keys(3, 0)
    w_in, w_out = random_tables(len(vocab), 8)
    trainer = SgnsTrainer(w_in, w_out, b.keep_prob, b.accept, b.alias, b.window, b.negative,
                          updates="hogwild", blocks=1)
    pairs, loss = trainer.train(cuda.to_device(ids), cuda.to_device(ends), offset, 0, 60,
                                *keys, 0.05, 0.05)
    windows = replay(b, offset, ids, ends, range(60), keys)
    for window in windows:
        w_in, w_out = reference_step(w_in, w_out, [window], 0.05)
    got_in, got_out = trainer.tables()
    np.testing.assert_allclose(got_in, w_in, atol=1e-5)
    np.testing.assert_allclose(got_out, w_out, atol=1e-5)
    assert pairs == sum(len(inputs) for inputs, _, _ in windows) > 0
    assert np.isfinite(loss) and loss > 0


def test_batched_launches_equal_the_reference_launch_by_launch(planted):
    """Batched, two blocks: every window of a launch reads the tables from before it."""
    vocab, b = planted
    spans = list(b.encoded.spans(200))
    assert len(spans) > 1
    offset, ids, ends = spans[1]  # not the first span: the draws depend on the offset
    keys = epoch_keys(3, 0)
    w_in, w_out = random_tables(len(vocab), 8)
    trainer = SgnsTrainer(w_in, w_out, b.keep_prob, b.accept, b.alias, b.window, b.negative,
                          updates="batched", blocks=2, batched_centers=25)
    ids, ends = cuda.to_device(ids), cuda.to_device(ends)
    for first in (10, 35):
        trainer.train(ids, ends, offset, first, first + 25, *keys, 0.05, 0.05)
    with pytest.raises(ValueError, match="at most 25 centers, got 26"):
        trainer.train(ids, ends, offset, 0, 26, *keys, 0.05, 0.05)
    ids, ends = ids.copy_to_host(), ends.copy_to_host()
    for first in (10, 35):
        w_in, w_out = reference_step(w_in, w_out,
                                     replay(b, offset, ids, ends, range(first, first + 25), keys),
                                     0.05)
    got_in, got_out = trainer.tables()
    np.testing.assert_allclose(got_in, w_in, atol=1e-5)
    np.testing.assert_allclose(got_out, w_out, atol=1e-5)


@pytest.mark.parametrize("cbow,hs,negative,updates", [
    (True, False, 4, "hogwild"), (False, True, 0, "hogwild"), (True, True, 2, "batched"),
    (False, True, 3, "batched")], ids=["cbow-ns", "sg-hs", "cbow-both-batched", "sg-both-batched"])
def test_cbow_and_hierarchical_softmax_equal_the_reference(tmp_path, cbow, hs, negative, updates):
    """One block hogwild (center by center) or batched launches (all centers at the old
    tables), on the windows and paths the host replays."""
    with planted_batches(tmp_path, 40, 200, sample=2e-3, window=3, negative=negative,
                         hs=hs, cbow=cbow) as (vocab, b):
        tree = b.tree if hs else None
        offset, ids, ends = next(b.encoded.spans(200))
        keys = epoch_keys(3, 0)
        w_in, w_out = random_tables(len(vocab), 8)
        if hs:
            w_out = np.vstack([w_out, random_tables(len(vocab) - 1, 8, seed=1)[1]])
        trainer = SgnsTrainer(w_in, w_out, b.keep_prob, b.accept, b.alias, b.window, negative,
                              updates=updates, blocks=1 if updates == "hogwild" else 2,
                              batched_centers=30, tree=tree, cbow=cbow)
        pairs, loss = trainer.train(cuda.to_device(ids), cuda.to_device(ends), offset, 0, 30,
                                    *keys, 0.05, 0.05)
        windows = replay(b, offset, ids, ends, range(30), keys, tree)
        if updates == "hogwild":
            for window in windows:
                w_in, w_out = reference_step(w_in, w_out, [window], 0.05, True if cbow else None)
        else:
            w_in, w_out = reference_step(w_in, w_out, windows, 0.05, True if cbow else None)
        got_in, got_out = trainer.tables()
        np.testing.assert_allclose(got_in, w_in, atol=1e-5)
        np.testing.assert_allclose(got_out, w_out, atol=1e-5)
        trained = [w for w in windows if len(w[0])]
        assert pairs == (len(trained) if cbow else sum(len(w[0]) for w in trained)) > 0
        if hs:
            assert all(len(t) > 1 + negative for _, t, _ in trained)  # the paths are there


def write_planted(path, n_sentences):
    path.write_text("\n".join(" ".join(s) for s in planted_sentences(n_sentences)) + "\n")
    return path


def test_trains_planted_groups_end_to_end(tmp_path):
    corpus = write_planted(tmp_path / "planted.txt", 120)
    config = TrainConfig(backend="cuda", dim=8, window=3, min_count=1, sample=0, epochs=1,
                         alpha=0.1, seed=3)
    vectors, summary = train(corpus, config)
    assert summary.backend == "cuda" and summary.corpus_words == 1440
    assert len(vectors) == GROUPS * GROUP_SIZE and np.isfinite(vectors.vectors).all()
    share = share_of_neighbours_in_group(vectors)
    assert share > 0.85, f"only {share:.1%} of neighbours in the right group"
    assert summary.final_loss < 6 * np.log(2)  # below the loss of all-zero output rows


def test_batched_updates_are_reproducible_bit_for_bit(tmp_path):
    from w2v.backends.cuda_backend import CudaBackend
    from w2v.callbacks import Reporter
    from w2v.driver import drive
    from w2v.prepare import prepare
    from w2v.streams import initial_tables

    config = TrainConfig(backend="cuda", cuda_updates="batched", dim=8, window=3,
                         min_count=1, sample=1e-2, epochs=2, alpha=0.1)
    _, vocab, batches = prepare(write_planted(tmp_path / "p.txt", 30), config)
    start = initial_tables(len(vocab), 8, 1)
    runs, reporters = [], []
    for _ in range(2):
        reporters.append(Reporter(360 * 2, 2, vocab.words))
        backend = CudaBackend(batches, *(t.copy() for t in start), config, launch_centers=40,
                              upload_ids=200)
        loss = drive(backend, config, reporters[-1]).final_loss
        runs.append((*(t.copy() for t in backend.tables()), loss))
    batches.encoded.close()
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][2] == runs[1][2] and np.isfinite(runs[0][2])
    assert not np.allclose(runs[0][0], start[0])
    history = reporters[0].history
    assert [h["epoch"] for h in history] == [1, 2] and history[-1]["words"] == 720
    assert history[0]["learning_rate"] > history[1]["learning_rate"] == pytest.approx(
        config.min_alpha)
    assert history[1]["loss"] == runs[0][2]


def test_cli_trains_on_the_simulator_without_tensorflow(tmp_path):
    from gensim.models import KeyedVectors

    corpus, out = write_planted(tmp_path / "p.txt", 40), tmp_path / "v.txt"
    code = ("import sys\nfrom w2v.cli import main\n"
            f"rc = main([{str(corpus)!r}, '-o', {str(out)!r}, '--backend', 'cuda', '--dim', '8',"
            " '--min-count', '1', '--epochs', '1'])\n"
            "print(rc, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "NUMBA_ENABLE_CUDASIM": "1"})
    assert result.stdout.strip().splitlines()[-1] == "0 False False", result.stderr
    assert "cuda | vocabulary 48 words" in result.stdout
    assert KeyedVectors.load_word2vec_format(out).vectors.shape == (48, 8)


def test_no_gpu_is_one_clear_line_and_no_output(tmp_path):
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0"}
    probe = subprocess.run([sys.executable, "-c", "from numba import cuda; print(cuda.is_available())"],
                           capture_output=True, text=True, env=env, timeout=120)
    if probe.stdout.strip() == "True":
        pytest.skip("this machine has a GPU")
    corpus, out = write_planted(tmp_path / "p.txt", 40), tmp_path / "v.txt"
    result = subprocess.run([sys.executable, "-m", "w2v.cli", str(corpus), "-o", str(out),
                             "--backend", "cuda", "--min-count", "1", "-q"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "needs an NVIDIA GPU" in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


@pytest.mark.parametrize("change,message", [
    (dict(optimizer="heun"), "optimizer other than sgd needs the keras backend"),
    (dict(steps_per_update=2), "steps_per_update above 1 needs the keras backend"),
    (dict(shared_negatives=False), "shared_negatives cannot be False on the cuda backend"),
    (dict(cuda_updates="sometimes"), "cuda_updates must be one of hogwild, batched"),
])
def test_cuda_config_errors_name_the_field(change, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(backend="cuda", **change).validated()


def test_the_kernel_refuses_shapes_beyond_shared_memory():
    w = np.zeros((5, 2000), np.float32)
    keep, accept, alias = np.ones(5, np.float32), np.ones(5, np.float32), np.arange(5, dtype=np.int32)
    with pytest.raises(ValueError, match="bytes of shared memory per block"):
        SgnsTrainer(w, w, keep, accept, alias, window=5, negative=5)
    with pytest.raises(ValueError, match="keep_prob must be"):
        SgnsTrainer(w[:, :8], w[:, :8], keep[:4], accept, alias, window=5, negative=5)


PTX_CHECK = """
import types as namespace
from numba import cuda, types as t
from numba.cuda.cudadrv import nvvm
try:
    nvvm.NVVM()
except Exception:
    raise SystemExit("no-nvvm")
import numba.cuda.dispatcher
# device functions called from a kernel ask the current device for its compute capability
numba.cuda.dispatcher.get_current_device = lambda: namespace.SimpleNamespace(compute_capability=CC)
import w2v.kernels.cuda as kc
ints, longs, floats = t.int32[::1], t.int64[::1], t.float32[::1]
table, rows, slots = t.float32[:, ::1], t.int32[:, ::1], t.float32[:, :, ::1]
train = (ints, longs, t.int64, t.int64, t.int64, floats, floats, ints, t.int64, t.int64,
         t.int8[::1], ints, longs, t.int64, t.uint64, t.uint64, t.float64, t.float64, table,
         table, t.float64[::1], longs, rows, slots, rows, slots)
for dim, window, negative, depth in [(100, 5, 5, 0), (300, 10, 15, 0), (100, 5, 0, 24),
                                     (64, 5, 5, 20)]:
    for hogwild in (True, False):
        for cbow in (False, True):
            cuda.compile_ptx(kc._train_kernel(dim, window, negative, depth, 32, hogwild,
                                              cbow).py_func, train, cc=CC)
cuda.compile_ptx(kc._scatter_atomic.py_func, (table, ints, table), cc=CC)
cuda.compile_ptx(kc._scatter_segments.py_func, (table, longs, longs, ints, table), cc=CC)
print("compiled")
"""


@pytest.mark.slow
@pytest.mark.parametrize("cc", [(7, 5), (9, 0)])  # Turing (the oldest CUDA 13 builds for), Hopper
def test_kernels_compile_for_real_gpus(cc):
    """The simulator runs kernels as Python and cannot catch what the CUDA target rejects
    (it once rejected max(float32, float64)): compile each kernel to PTX with NVVM,
    which needs the CUDA toolkit's libnvvm but no GPU."""
    result = subprocess.run([sys.executable, "-c", f"CC = {cc}\n" + PTX_CHECK],
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "NUMBA_ENABLE_CUDASIM": "0"})
    if "no-nvvm" in result.stderr + result.stdout:
        pytest.skip("no libnvvm (CUDA toolkit) on this machine")
    assert result.stdout.strip() == "compiled", result.stderr[-3000:]


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("updates", ["hogwild", "batched"])
def test_gpu_trains_planted_groups(tmp_path, updates):
    corpus = write_planted(tmp_path / "planted.txt", 3000)
    config = TrainConfig(backend="cuda", cuda_updates=updates, dim=16, window=3, min_count=1,
                         sample=0, epochs=3, seed=3)
    vectors, summary = train(corpus, config)
    assert share_of_neighbours_in_group(vectors) > 0.95
    if updates == "batched":
        again, _ = train(corpus, config)
        np.testing.assert_array_equal(vectors.vectors, again.vectors)


def test_gpu_benchmark_makes_exact_duplicate_rates_and_keeps_simulator_runs_out_of_results():
    from benchmarks.gpu import DUPLICATE_RATES, main, rows_with_duplicate_rate

    rng = np.random.default_rng(0)
    for rate in DUPLICATE_RATES:
        assert duplicate_rate(rows_with_duplicate_rate(1000, rate, rng)) == pytest.approx(rate)
    with pytest.raises(SystemExit, match="simulator timings mean nothing"):
        main(["--smoke", "--out", "benchmarks/results/gpu_smoke"])


def test_a_stopped_and_resumed_batched_run_ends_bit_identical(tmp_path, monkeypatch):
    """SIGTERM, sent by the run to itself after every 4th launch (the driver's test hook),
    stops it through the real handler; each resume goes on from the checkpoint."""
    from w2v.backends import cuda_backend
    from w2v.checkpoint import Checkpoint
    from w2v.stopping import Interrupted
    from w2v.trainer import resume

    monkeypatch.setattr(cuda_backend, "BATCHED_CENTERS", 40)  # nine launches per epoch
    corpus = write_planted(tmp_path / "p.txt", 30)
    config = TrainConfig(backend="cuda", cuda_updates="batched", dim=8, window=3,
                         min_count=1, sample=1e-2, epochs=2, alpha=0.1)
    straight, _ = train(corpus, config)
    checkpoint = tmp_path / "run.ckpt"
    monkeypatch.setenv("W2V_TEST_SIGTERM_AT", "span 4")
    stops = []
    while True:
        try:
            vectors, _ = (resume(checkpoint) if checkpoint.exists() else
                          train(corpus, config, checkpoint=checkpoint))
            break
        except Interrupted as stop:
            assert stop.exit_status == 143 and stop.checkpoint == checkpoint
            position = Checkpoint.load(checkpoint).position
            stops.append((position.epoch, position.span))
    assert stops == [(0, 4), (0, 8), (1, 3), (1, 7)]  # 18 launches, 4 a run
    np.testing.assert_array_equal(vectors.vectors, straight.vectors)


def test_cbow_with_both_heads_trains_planted_groups_end_to_end(tmp_path):
    corpus = write_planted(tmp_path / "planted.txt", 120)
    config = TrainConfig(backend="cuda", dim=8, window=3, min_count=1, sample=0, epochs=2,
                         alpha=0.1, seed=3, cbow=True, hs=True, negative=2)
    vectors, summary = train(corpus, config)
    assert np.isfinite(vectors.vectors).all()
    share = share_of_neighbours_in_group(vectors)
    assert share > 0.8, f"only {share:.1%} of neighbours in the right group"
