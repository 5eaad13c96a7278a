"""The numba backend on Ray with periodic sparse synchronisation (w2v/scaleout/sync.py,
w2v/scaleout/ray_cluster.py): a real local Ray instance bound to 127.0.0.1 (no dashboard, usage
statistics off), its processes stopped by pid when each test ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import planted_sentences, share_of_neighbours_in_group
from w2v import TrainConfig
from w2v.batches import EncodedCorpus
from w2v.io.corpus import Corpus
from w2v.scaleout.sync import SYNC_RULE, RowDelta, combine
from w2v.vocab import Vocabulary

# before Ray is imported (it reads them then): a local instance on 127.0.0.1, no usage stats
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
ray = pytest.importorskip("ray")  # the [test] extra installs it

CONFIG = TrainConfig(dim=16, epochs=3, min_count=1, alpha=0.05, sample=0.0, window=3,
                     threads=1, backend="numba")
SYNC = 4000  # words per worker between syncs: several syncs per epoch of the corpus below


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "planted.txt"
    path.write_text("\n".join(" ".join(s) for s in planted_sentences(3000)) + "\n")
    return path


def test_the_local_instance_listens_on_loopback_only(local_ray, monkeypatch):
    """No address means a local instance of our own, even with RAY_ADDRESS naming a port
    where nothing listens (start_ray's docstring says why)."""
    from w2v.scaleout.ray_cluster import RaySpec, start_ray

    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{free_port()}")
    start_ray(RaySpec(1))
    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}
    listening = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
    ours = [line for line in listening.splitlines()
            if any(f"pid={pid}," in line for pid in children() | {os.getpid()})]
    assert ours and all("127.0.0.1" in line.split()[3] for line in ours), ours


def children() -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(os.getpid())],
                         capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


@pytest.fixture
def local_ray():
    """Whatever Ray starts in the test is shut down, and its processes killed by pid."""
    before = children()
    yield
    if ray.is_initialized():
        ray.shutdown()
    for pid in children() - before:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def train(corpus, workers, **kwargs):
    from w2v.scaleout.ray_cluster import RaySpec
    from w2v.trainer import train

    return train([corpus], kwargs.pop("config", CONFIG),
                 ray=RaySpec(workers, address=kwargs.pop("address", None),
                             sync_words=kwargs.pop("sync_words", SYNC),
                             rule=kwargs.pop("rule", SYNC_RULE)), **kwargs)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_combine_rules_row_by_row():
    a = RowDelta(np.array([1, 3], np.int32), np.array([[1.0, 1.0], [2.0, 2.0]], np.float32))
    b = RowDelta(np.array([3, 4], np.int32), np.array([[4.0, 0.0], [5.0, 5.0]], np.float32))
    mean, total = combine([a, b], "mean"), combine([a, b], "sum")
    assert mean.rows.tolist() == total.rows.tolist() == [1, 3, 4]
    assert mean.values.tolist() == [[1, 1], [3, 1], [5, 5]]  # row 3: mean of two workers
    assert total.values.tolist() == [[1, 1], [6, 2], [5, 5]]
    root = combine([a, b], "root")
    assert np.allclose(root.values, [[1, 1], [6 / np.sqrt(2), 2 / np.sqrt(2)], [5, 5]],
                       rtol=1e-6)
    with pytest.raises(ValueError,
                       match="sync rule must be one of curvature, saturating, mean, sum, root"):
        combine([a], "median")


def test_the_saturating_rule_sums_rarely_updated_rows_and_averages_saturated_ones():
    """A row each worker moved a few times combines as the sum (as if the updates had run
    one after another); a row each moved thousands of times, as the mean (every worker
    already reached the same place); in between, f(Σc) / Σ f(c), f(c) = 1 − exp(−ρc)."""
    from w2v.scaleout.sync import SATURATION

    a = RowDelta(np.array([0, 1, 2], np.int32), np.ones((3, 2), np.float32))
    b = RowDelta(np.array([0, 1, 2, 3], np.int32), np.ones((4, 2), np.float32))
    updates = np.array([1e-4, 1e4, 1 / SATURATION, 7.0])  # expected updates of each row
    merged = combine([a, b], "saturating", updates=[updates, updates])
    f = -np.expm1(-SATURATION * updates[2])
    middle = 2 * -np.expm1(-SATURATION * 2 * updates[2]) / (2 * f)
    assert np.allclose(merged.values[:, 0], [2.0, 1.0, middle, 1.0], rtol=2e-3)
    assert 1.0 < middle < 2.0  # row 3: one worker moved it, its delta stands


def test_the_cli_offers_every_sync_rule_and_the_default_first():
    from w2v.cli import SYNC_RULE_NAMES
    from w2v.scaleout.sync import SYNC_RULE, SYNC_RULES

    assert SYNC_RULE_NAMES == SYNC_RULES and SYNC_RULES[0] == SYNC_RULE


def test_row_update_rates_follow_the_counts_and_cover_the_tree_nodes():
    from w2v.scaleout.sync import row_update_rates

    vocab = Vocabulary(["a", "b", "c", "d"], np.array([400, 200, 100, 50]), 750)
    config = TrainConfig(hs=True, negative=5, sample=0.0, window=3, min_count=1)
    inputs, outputs = row_update_rates(vocab, config)
    assert inputs.shape == (4,) and outputs.shape == (4 + 3,)
    assert np.all(np.diff(inputs) < 0) and np.all(np.diff(outputs[:4]) < 0)
    assert np.isclose(inputs.sum(), config.window + 1)  # every word a context of w + 1 centres
    assert np.isclose(outputs[4:].max(), config.window + 1)  # the root: on every path


@pytest.mark.slow
def test_two_workers_reach_one_workers_neighbour_quality(corpus, local_ray):
    one, _ = train(corpus, 1)
    two, summary = train(corpus, 2)
    assert summary.traffic.workers == 2 and summary.traffic.syncs > 3
    quality = [share_of_neighbours_in_group(v) for v in (one, two)]
    assert min(quality) > 0.9 and abs(quality[0] - quality[1]) < 0.05, quality


@pytest.mark.slow
def test_deterministic_mode_is_reproducible_and_a_killed_worker_is_replaced(corpus, local_ray):
    """Fixed seeds, one thread per worker, fixed sync points: the same bits run to run; a
    worker killed (SIGKILL to its process) after sync 2 is restarted by Ray, replays from
    the last sync, and the run ends with the same bits and no words lost."""
    first, _ = train(corpus, 2)
    again, _ = train(corpus, 2)
    assert np.array_equal(first.vectors, again.vectors)
    killed = []

    def kill_worker_1(sync, team):
        if sync == 2:
            pid = team.pids()[1]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    survived, summary = train(corpus, 2, on_sync=kill_worker_1)
    assert killed and summary.traffic.restarts == 1 and summary.traffic.words_replayed > 0
    assert "1 worker restart(s)" in summary.traffic_line
    assert np.array_equal(first.vectors, survived.vectors)


@pytest.mark.slow
def test_workers_on_two_ray_nodes_survive_the_loss_of_one(corpus, local_ray):
    """A real two-node Ray cluster on 127.0.0.1 (ray.cluster_utils: a head with 2 CPUs and
    a second node with 1, each its own raylet and object store): the two workers spread
    over both nodes; after sync 3 the second node is killed outright, its worker is
    restarted on the head, restored to the last sync, replays its round, and the run
    ends with the planted structure learnt and the same bits as an undisturbed run on
    one node (nothing lost, nothing trained twice)."""
    from ray.cluster_utils import Cluster

    one_node, _ = train(corpus, 2)
    ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 2, "node_ip_address": "127.0.0.1", "gcs_server_port": free_port(),
        "include_dashboard": False})
    try:
        second = cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        cluster.wait_for_nodes(timeout=60)
        placed = []

        def lose_the_second_node(sync, team):
            if sync == 1:
                placed.extend(team.nodes())
            if sync == 3:
                cluster.remove_node(second, allow_graceful=False)

        vectors, summary = train(corpus, 2, address=cluster.address,
                                 on_sync=lose_the_second_node)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert len(set(placed)) == 2, placed  # one worker a node
    # Ray may report the lost worker at its next call or the one after: one or two restores
    assert summary.traffic.restarts >= 1 and summary.traffic.words_replayed > 0
    assert share_of_neighbours_in_group(vectors) > 0.9
    assert np.array_equal(vectors.vectors, one_node.vectors)


def test_sync_traffic_is_the_touched_rows(corpus, local_ray):
    """Without subsampling every word of a trained chunk is some window's context, so the
    input rows a worker sends at a sync are the distinct words of the chunk it trained
    that round (counted here from its shard); the bytes are those rows' values and
    indices. A round is one chunk of every shard that has one left."""
    vectors, summary = train(corpus, 2)
    traffic = summary.traffic
    vocab = Vocabulary.build(Corpus([corpus]), 1)
    expected = []  # per worker, per sync: distinct ids trained (0: it had no chunk left)
    for w in range(2):
        encoded = EncodedCorpus(Corpus([corpus], shard=(w, 2)), vocab, chunk_words=SYNC)
        expected.append([len(np.unique(encoded.chunk(c)[0])) for c in range(encoded.n_chunks)])
        encoded.close()
    rounds = max(len(e) for e in expected)
    expected = [(e + [0] * (rounds - len(e))) * CONFIG.epochs for e in expected]
    sent = [[per_worker[w][0] for per_worker in traffic.log] for w in range(2)]
    # sync 1 may miss a few: input rows stay put until the output rows move off zero
    assert [s[1:] for s in sent] == [e[1:] for e in expected]
    assert all(s[0] <= e[0] for s, e in zip(sent, expected))
    # each table's delta goes sparse (rows × (d + 8) bytes: int8 steps, a float32 scale and
    # an int32 index) or, when that is more, dense (every row's steps and scale)
    dense = len(vocab) * (CONFIG.dim + 4)
    assert traffic.sent_bytes == sum(min(n * (CONFIG.dim + 8), dense)
                                     for per_sync in traffic.log
                                     for per_worker in per_sync for n in per_worker if n)


@pytest.mark.slow
def test_a_stopped_driver_resumes_from_its_checkpoint_to_the_same_bits(corpus, tmp_path,
                                                                       local_ray, monkeypatch):
    from w2v.stopping import Interrupted
    from w2v.trainer import resume

    whole, _ = train(corpus, 2)
    checkpoint = tmp_path / "run.ckpt"
    monkeypatch.setenv("W2V_TEST_SIGTERM_AT", "span 3")  # the driver stops after sync 3
    with pytest.raises(Interrupted):
        train(corpus, 2, checkpoint=checkpoint)
    monkeypatch.delenv("W2V_TEST_SIGTERM_AT")
    assert not ray.is_initialized()  # the team stopped the instance it started
    resumed, summary = resume(checkpoint)
    assert summary is not None and np.array_equal(whole.vectors, resumed.vectors)


def test_cli_without_ray_says_how_to_install_it(corpus, tmp_path):
    fake = tmp_path / "no_ray" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\")\n")
    env = {**os.environ, "PYTHONPATH": f"{fake.parent}{os.pathsep}{Path(__file__).parent.parent}"}
    result = subprocess.run([sys.executable, "-m", "w2v.cli", str(corpus), "--cluster", "ray",
                             "--workers", "2", "-o", str(tmp_path / "v.txt")],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip() == ("w2v-train: error: --cluster ray needs Ray, an optional "
                                     "extra: pip install 'w2v[cluster]' (from a checkout: "
                                     "pip install '.[cluster]')")
    assert not (tmp_path / "v.txt").exists()


def test_a_shard_left_empty_and_an_unreachable_cluster_are_one_line_each(tmp_path):
    """Refused before any actor starts: more workers than pieces of corpus (2 lines, 6
    workers), and a --ray-address where nothing listens (a free port on 127.0.0.1); never
    a hang, never a traceback, nothing written."""
    small = tmp_path / "small.txt"
    small.write_text("a b c d e f " * 5 + "\na b c\n")
    for args, message in [(["--workers", "6"], "corpus shard 2 of 6 is empty"),
                          (["--workers", "2", "--ray-address", f"127.0.0.1:{free_port()}"],
                           "cannot reach the Ray cluster at 127.0.0.1:")]:
        result = subprocess.run([sys.executable, "-m", "w2v.cli", str(small), "--min-count", "1",
                                 "--cluster", "ray", *args, "-o", str(tmp_path / "v.txt")],
                                capture_output=True, text=True, timeout=120)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1 and message in lines[0], result.stderr
        assert not (tmp_path / "v.txt").exists()


@pytest.mark.parametrize("args, message", [
    (["--workers", "two"], "--workers N (a number)"),
    ([], "--cluster ray needs --workers N"),
    (["--workers", "2", "--distribute", "mirrored"], "two ways to scale"),
    (["--workers", "2", "--backend", "keras"], "trains the numba backend"),
    (["--workers", "2", "--sync-words", "0"], "--sync-words must be at least 1"),
    (["--workers", "0"], "--workers must be at least 1, got 0"),
    (["--workers", "2", "--sync-rule", "median"], "invalid choice: 'median'"),
])
def test_cluster_usage_errors(corpus, tmp_path, args, message):
    result = subprocess.run([sys.executable, "-m", "w2v.cli", str(corpus), "--cluster", "ray",
                             *args, "-o", str(tmp_path / "v.txt")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and message in result.stderr, result.stderr
