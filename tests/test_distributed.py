"""tf.distribute data parallelism (w2v/scaleout/tf_distribute.py): real clusters of processes on
127.0.0.1, free ports, every process stopped by its pid at the end of its test.

A process can set up TensorFlow's devices and cluster only once, before TensorFlow starts,
so each worker is a subprocess: tests/distributed_run.py for the comparisons of tables,
w2v-train for the command line.
"""

from __future__ import annotations

import gzip
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from w2v.io.corpus import Corpus, shard_ranges
from w2v.scaleout.tf_distribute import ClusterSpec
from w2v.errors import FormatError
from w2v.vocab import Vocabulary

HERE = Path(__file__).resolve().parent
RUN = [sys.executable, str(HERE / "distributed_run.py")]
CLI = [sys.executable, "-m", "w2v.cli"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(HERE.parent)}
LIMIT = 300  # s: the most one process may run here before the test fails


def free_ports(n: int) -> list[int]:
    """n ports free on 127.0.0.1 now (held open together, so they differ)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def addresses(n: int) -> str:
    return ",".join(f"127.0.0.1:{port}" for port in free_ports(n))


class Processes:
    """Subprocesses started in a test; whatever is still running at the end is killed."""

    def __init__(self):
        self.running: list[subprocess.Popen] = []

    def start(self, args, env=None) -> subprocess.Popen:
        process = subprocess.Popen([str(a) for a in args], env={**ENV, **(env or {})},
                                   text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.running.append(process)
        return process

    def stop_all(self):
        for process in self.running:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(10)


@pytest.fixture
def processes():
    group = Processes()
    yield group
    group.stop_all()


def finish(process, limit=LIMIT) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=limit)
    return process.returncode, out, err


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


@pytest.fixture
def corpus(tmp_path):
    """About 24,000 words of plain text with planted groups, and its vocab.tsv."""
    from tests.conftest import planted_sentences

    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(s) for s in planted_sentences(2000)) + "\n")
    vocab = tmp_path / "vocab.tsv"
    Vocabulary.build(Corpus([path]), 1).save(vocab)
    return path, vocab


# -- without TensorFlow: shards, vocabulary files, cluster flags -----------------------------


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_shards_cover_the_corpus_once_at_token_boundaries(tmp_path, count):
    from tests.conftest import planted_sentences

    lines = tmp_path / "lines.txt"
    lines.write_text("\n".join(" ".join(s) for s in planted_sentences(700)) + "\n")
    one_line = tmp_path / "text8.txt"
    one_line.write_text(" ".join(w for s in planted_sentences(700) for w in s))
    for path in (lines, one_line):
        whole = [w for s in Corpus([path]) for w in s]
        parts = [[w for s in Corpus([path], shard=(i, count)) for w in s] for i in range(count)]
        assert sum(parts, []) == whole
        assert min(map(len, parts)) > 0.8 * len(whole) / count  # near-equal shares


def test_a_shard_reads_only_its_bytes(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("".join(f"w{i} x{i} y{i}\n" for i in range(3000)))
    pieces = [shard_ranges([path], i, 3) for i in range(3)]
    spans = [(a, b) for [(_, a, b)] in pieces]
    assert spans[0][0] == 0 and spans[-1][1] == path.stat().st_size
    assert all(spans[i][1] == spans[i + 1][0] for i in range(2))  # adjacent, no overlap


def test_compressed_files_go_whole_and_too_few_pieces_are_refused(tmp_path):
    files = []
    for i in range(2):
        files.append(tmp_path / f"part{i}.txt.gz")
        with gzip.open(files[-1], "wt") as f:
            f.write("a b c\n" * 100 * (i + 1))
    assert [p for p, _, _ in shard_ranges(files, 0, 2)] == [files[0]]
    assert [p for p, _, _ in shard_ranges(files, 1, 2)] == [files[1]]
    with pytest.raises(ValueError, match="shard 2 of 3 is empty.*split it into files or decompress"):
        shard_ranges(files, 1, 3)  # two whole files, three shards: the middle one gets none


def test_vocabulary_file_round_trips_and_refuses_bad_files(tmp_path):
    vocab = Vocabulary(["the", "ünïcode", "b"], np.array([9, 4, 4]), corpus_words=20)
    vocab.save(tmp_path / "v.tsv")
    loaded = Vocabulary.load(tmp_path / "v.tsv")
    assert loaded.words == vocab.words and loaded.counts.tolist() == [9, 4, 4]
    assert loaded.fingerprint() == vocab.fingerprint()
    assert Vocabulary(["the", "b"], np.array([9, 4]), 20).fingerprint() != vocab.fingerprint()
    text = (tmp_path / "v.tsv").read_text()
    for name, bad in [("header", "the\t9\n"), ("count", text.replace("\t9", "\tnine")),
                      ("lines", text.replace("words=3", "words=4")),
                      ("order", text.replace("\t9", "\t1"))]:
        (tmp_path / name).write_text(bad)
        with pytest.raises(FormatError, match="vocabulary"):
            Vocabulary.load(tmp_path / name)


@pytest.mark.parametrize("spec, message", [
    (ClusterSpec("ring"), "distribute must be one of"),
    (ClusterSpec("multiworker", workers=("127.0.0.1:1", "nohost")), "host:port"),
    (ClusterSpec("multiworker", workers=("127.0.0.1:1",), index=1), "worker_index must be in 0..0"),
    (ClusterSpec("mirrored", devices=-1), "devices must be >= 0"),
])
def test_cluster_spec_names_the_bad_setting(spec, message):
    with pytest.raises(ValueError, match=message):
        spec.validated()


@pytest.mark.parametrize("args, message", [
    (["--devices", "2"], "--devices needs --distribute"),
    (["--distribute", "multiworker", "--workers", "127.0.0.1:1"], "go together"),
    (["--distribute", "mirrored", "--backend", "numba"], "needs the keras backend"),
    (["--distribute", "multiworker", "--workers", "127.0.0.1:1", "--worker-index", "3"],
     "--worker-index must be in 0..0, got 3"),
])
def test_cluster_usage_errors_are_one_line_exit_2(tmp_path, corpus, args, message):
    result = subprocess.run(CLI + [str(corpus[0]), "-o", str(tmp_path / "v.txt"), *args],
                            capture_output=True, text=True, env=ENV, timeout=60)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "v.txt").exists()


# -- real clusters ----------------------------------------------------------------------------


def tables(path) -> dict:
    with np.load(path) as data:
        return {k: data[k] for k in ("input", "output")}


def assert_same_tables(a, b):
    for name in ("input", "output"):
        assert np.abs(a[name] - b[name]).max() <= 1e-6, name
    assert np.abs(a["output"]).max() > 0.1  # it trained


def test_mirrored_on_two_cpus_equals_one_process_on_the_global_batches(tmp_path, corpus,
                                                                       processes):
    text, vocab = corpus
    runs = [processes.start(RUN + [mode, text, vocab, tmp_path / f"{mode}.npz"])
            for mode in ("mirrored", "reference-mirrored")]
    outs = []
    for run in runs:
        code, out, err = finish(run)
        assert code == 0, err[-2000:]
        outs.append(out)
    assert "1 worker × 2 replicas" in outs[0] and "saved" in outs[0]
    assert_same_tables(tables(tmp_path / "mirrored.npz"), tables(tmp_path / "reference-mirrored.npz"))


@pytest.mark.slow
def test_two_workers_equal_one_process_on_the_global_batches(tmp_path, corpus, processes):
    text, vocab = corpus
    workers = addresses(2)
    runs = [processes.start(RUN + ["multiworker", text, vocab, tmp_path / f"w{i}.npz", workers, i])
            for i in range(2)]
    reference = processes.start(RUN + ["reference-multiworker", text, vocab, tmp_path / "r.npz"])
    outs = []
    for run in runs + [reference]:
        code, out, err = finish(run)
        assert code == 0, err[-2000:]
        outs.append(out)
    assert "2 workers × 1 replica" in outs[0] and "saved" in outs[0]
    w0, w1 = tables(tmp_path / "w0.npz"), tables(tmp_path / "w1.npz")
    assert all((w0[k] == w1[k]).all() for k in w0)  # the workers hold one model
    assert_same_tables(w0, tables(tmp_path / "r.npz"))


def test_a_step_that_densifies_its_gradients_fails_loudly(tmp_path, corpus, processes):
    """The guard every distributed run here trains under: converting a tf.IndexedSlices to
    a dense tensor raises (this run's model does it on purpose)."""
    text, vocab = corpus
    code, _, err = finish(processes.start(RUN + ["densify", text, vocab, tmp_path / "d.npz"]))
    assert code != 0 and "a tf.IndexedSlices was converted to a dense tensor" in err
    assert not (tmp_path / "d.npz").exists()


def worker_cli(processes, text, workers, index, output, *extra, env=None):
    return processes.start(CLI + [text, "--distribute", "multiworker", "--workers", workers,
                                  "--worker-index", index, "-o", output, "--dim", 16,
                                  "--epochs", 2, "--min-count", 1, "-q", *extra], env=env)


@pytest.mark.slow
def test_cli_two_workers_write_vectors_gensim_loads_chief_only(tmp_path, corpus, processes):
    from gensim.models import KeyedVectors

    text, vocab = corpus
    workers = addresses(2)
    outputs = [tmp_path / f"out{i}" / "vectors.txt" for i in range(2)]
    for o in outputs:
        o.parent.mkdir()
    runs = [worker_cli(processes, text, workers, i, outputs[i], "--vocab", vocab,
                       "--checkpoint", outputs[i].parent / "run.ckpt") for i in range(2)]
    results = [finish(run) for run in runs]
    assert [code for code, _, _ in results] == [0, 0], results[0][2][-2000:] + results[1][2][-2000:]
    loaded = KeyedVectors.load_word2vec_format(str(outputs[0]))
    assert loaded.vector_size == 16 and len(loaded) == len(Vocabulary.load(vocab))
    assert sorted(p.name for p in outputs[0].parent.iterdir()) == ["run.ckpt", "vectors.txt"]
    assert list(outputs[1].parent.iterdir()) == []  # the other worker wrote nothing


@pytest.mark.slow
def test_workers_with_different_vocabularies_refuse_to_train(tmp_path, corpus, processes):
    text, vocab = corpus
    other = tmp_path / "other.tsv"
    mine = Vocabulary.load(vocab)
    Vocabulary(mine.words[:-1], mine.counts[:-1], mine.corpus_words).save(other)  # one word less
    workers = addresses(2)
    runs = [worker_cli(processes, text, workers, i, tmp_path / f"v{i}.txt", "--vocab",
                       (vocab, other)[i]) for i in range(2)]
    for run in runs:
        code, _, err = finish(run)
        assert code == 1 and "workers disagree on the vocabulary" in last_line(err)
    assert not list(tmp_path.glob("v*.txt"))


@pytest.mark.slow
def test_a_cluster_that_never_forms_gives_up_in_bounded_time(tmp_path, corpus, processes):
    text, vocab = corpus
    started = time.monotonic()
    alone = worker_cli(processes, text, addresses(2), 0, tmp_path / "v.txt", "--vocab", vocab,
                       "--cluster-timeout", 10)
    code, _, err = finish(alone, limit=120)
    assert code != 0 and "the cluster did not form within 10 s" in last_line(err)
    assert time.monotonic() - started < 90
    assert not (tmp_path / "v.txt").exists()


def big_corpus(tmp_path) -> Path:
    """The shipped novels, decompressed: a 2-worker keras run of it lasts minutes here."""
    path = tmp_path / "novels.txt"
    with gzip.open(HERE.parent / "data" / "novels.txt.gz", "rb") as src:
        path.write_bytes(src.read())
    return path


def wait_for(condition, limit: float, what: str):
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


@pytest.mark.slow
def test_killing_a_worker_makes_the_other_exit_with_a_clear_line_within_2_minutes(tmp_path,
                                                                                processes):
    text = big_corpus(tmp_path)
    vocab = tmp_path / "vocab.tsv"
    Vocabulary.build(Corpus([text]), 5).save(vocab)
    workers = addresses(2)
    log = tmp_path / "log.json"
    chief = worker_cli(processes, text, workers, 0, tmp_path / "v.txt", "--vocab", vocab,
                       "--log-json", log)
    other = worker_cli(processes, text, workers, 1, tmp_path / "v1.txt", "--vocab", vocab)
    wait_for(lambda: log.exists() and log.stat().st_size > 2000 or chief.poll() is not None,
             LIMIT, "training to start")
    assert chief.poll() is None, chief.communicate()[1][-2000:]
    os.kill(other.pid, signal.SIGKILL)
    killed = time.monotonic()
    code, _, err = finish(chief, limit=150)
    waited = time.monotonic() - killed
    assert code == 1 and waited < 120
    assert last_line(err).startswith("w2v-train: error: worker 0 of 2: lost the cluster")
    assert not (tmp_path / "v.txt").exists()


@pytest.mark.slow
def test_a_cluster_resumes_from_the_chiefs_checkpoint(tmp_path, corpus, processes):
    """SIGTERM to the chief mid-run (once it has paused after its 3rd span): it checkpoints
    and exits 143, the other worker exits with the lost-cluster line; both restarted with
    --resume finish the run."""
    from gensim.models import KeyedVectors

    text, vocab = corpus
    checkpoint, log = tmp_path / "run.ckpt", tmp_path / "log.json"
    workers = addresses(2)
    extra = ("--vocab", vocab, "--checkpoint", checkpoint, "--epochs", 8)
    chief = worker_cli(processes, text, workers, 0, tmp_path / "v.txt", *extra, "--log-json", log,
                       env={"W2V_TEST_PAUSE_AT": "span 3"})
    other = worker_cli(processes, text, workers, 1, tmp_path / "v1.txt", *extra)
    for line in chief.stderr:  # TensorFlow may say things first
        if line.strip() == "w2v: paused at span 3":
            break
    os.kill(chief.pid, signal.SIGTERM)
    code, _, err = finish(chief)
    assert code == 143, err[-2000:]
    code, _, err = finish(other)
    assert code == 1 and "lost the cluster" in last_line(err)
    workers = addresses(2)
    resumed = [processes.start(CLI + ["--resume", checkpoint, "--distribute", "multiworker",
                                      "--workers", workers, "--worker-index", i, "-q"])
               for i in range(2)]
    for run in resumed:
        code, _, err = finish(run)
        assert code == 0, err[-2000:]
    assert KeyedVectors.load_word2vec_format(str(tmp_path / "v.txt")).vector_size == 16
    assert not (tmp_path / "v1.txt").exists()
