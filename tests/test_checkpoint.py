"""Checkpoints and resume: real w2v-train processes stopped by real signals at chosen
points (w2v.stopping.stop_point: after span N, or at start-up), never after a timer."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from w2v import FormatError
from w2v.checkpoint import Checkpoint
from w2v.config import TrainConfig
from w2v.trainer import resume, train

CLI = [sys.executable, "-m", "w2v.cli"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """1.2M words in 3,000 lines: five chunks of ids per epoch, so five places to stop."""
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(3000)])
    with open(path, "w") as f:
        for _ in range(3000):
            f.write(" ".join(words[rng.zipf(1.3, 400) % 3000]) + "\n")
    return path


def cli(*args, env=None, **kwargs):
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True,
                          timeout=600, env={**os.environ, **(env or {})}, **kwargs)


def signalled(args, point: str, signum=signal.SIGTERM):
    """Run w2v-train until it pauses at `point`, send it `signum`, and return the finished
    process (its stderr read)."""
    process = subprocess.Popen(CLI + [str(a) for a in args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "W2V_TEST_PAUSE_AT": point})
    line = process.stderr.readline()
    assert line.strip() == f"w2v: paused at {point}", line + process.stderr.read()
    process.send_signal(signum)
    process.stderr_text = process.stderr.read()
    process.wait(timeout=120)
    return process


@pytest.mark.parametrize("mode", [[], ["--cbow", "--hs"]], ids=["skip-gram", "cbow-hs-ns"])
def test_stopped_and_resumed_one_thread_runs_end_bit_identical(corpus, tmp_path, mode):
    """Each run sends itself SIGTERM after its 2nd chunk (the real handler, a real
    process); 10 chunks in 2 epochs: four stops, then a run that finishes."""
    settings = ["--threads", "1", "--epochs", "2", "--dim", "32", "--min-count", "1", *mode]
    reference = tmp_path / "reference.bin"
    assert cli(corpus, "-o", reference, "--binary", "-q", *settings).returncode == 0
    checkpoint, out = tmp_path / "run.ckpt", tmp_path / "out.bin"
    fresh = [corpus, "-o", out, "--binary", "-q", "--checkpoint", checkpoint, *settings]
    stops = []
    while True:
        args = ["--resume", checkpoint, "-q"] if checkpoint.exists() else fresh
        result = cli(*args, env={"W2V_TEST_SIGTERM_AT": "span 2"})
        if result.returncode == 0:
            break
        assert result.returncode == 143, result.stderr
        assert result.stderr.strip().count("\n") == 0, result.stderr  # one line
        assert "stopped by SIGTERM" in result.stderr and "w2v-train --resume" in result.stderr
        position = Checkpoint.load(checkpoint).position
        stops.append((position.epoch, position.span))
        assert not out.exists()
    assert stops == [(0, 2), (0, 4), (1, 1), (1, 3)]
    assert out.read_bytes() == reference.read_bytes()
    again = cli("--resume", checkpoint)
    assert again.returncode == 0 and "finished run" in again.stderr


def test_resumed_multithreaded_runs_keep_the_schedule(corpus, tmp_path):
    """Two threads: stopped by a SIGTERM the test sends once the run has paused after its
    3rd chunk, then resumed: the same learning rate at every word count as a straight run."""
    settings = ["--threads", "2", "--epochs", "2", "--dim", "16", "--min-count", "1"]
    log_straight = tmp_path / "straight.jsonl"
    assert cli(corpus, "-o", tmp_path / "straight.bin", "-q", "--log-json", log_straight,
               *settings).returncode == 0
    checkpoint = tmp_path / "run.ckpt"
    stopped = signalled([corpus, "-o", tmp_path / "out.bin", "-q", "--checkpoint", checkpoint,
                         *settings], "span 3")
    assert stopped.returncode == 143, stopped.stderr_text
    saved = Checkpoint.load(checkpoint).position
    assert (saved.epoch, saved.span) == (0, 3) and len(saved.streams) == 2
    log_resumed = tmp_path / "resumed.jsonl"
    assert cli("--resume", checkpoint, "-q", "--log-json", log_resumed).returncode == 0

    def records(path, event):
        return [r for r in map(json.loads, path.read_text().splitlines()) if r["event"] == event]

    resumed = records(log_resumed, "progress")
    assert resumed[0]["words"] > saved.words  # the count goes on from the checkpoint
    straight_ends = {r["words"]: r["learning_rate"] for r in records(log_straight, "progress")}
    for r in resumed:  # the same learning rate at the same word count
        assert r["learning_rate"] == pytest.approx(straight_ends[r["words"]], rel=1e-12)
    epochs = records(log_resumed, "epoch")
    assert epochs[-1]["epoch"] == 2 and epochs[-1]["words"] == records(log_straight, "epoch")[-1]["words"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_at_start_up_is_one_line_and_nothing_written(corpus, tmp_path, signum):
    out, checkpoint = tmp_path / "v.txt", tmp_path / "run.ckpt"
    stopped = signalled([corpus, "-o", out, "--checkpoint", checkpoint], "start", signum)
    assert stopped.returncode == 128 + signum
    name = signal.Signals(signum).name
    assert stopped.stderr_text == f"w2v-train: stopped by {name} before training began; " \
                                  f"nothing written\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_signal_without_a_checkpoint_still_ends_with_one_line(corpus, tmp_path):
    result = cli(corpus, "-o", tmp_path / "v.txt", "--epochs", "1", "--min-count", "1", "-q",
                 env={"W2V_TEST_SIGTERM_AT": "span 2"})
    assert result.returncode == 143
    assert result.stderr.startswith("w2v-train: stopped by SIGTERM after ") and \
        "nothing written (with --checkpoint PATH a stopped run can be resumed)" in result.stderr
    assert result.stderr.count("\n") == 1 and list(tmp_path.iterdir()) == []


def test_resume_refuses_a_changed_corpus_and_other_files(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat\n" * 50)
    train(corpus, TrainConfig(dim=8, min_count=1, epochs=1), checkpoint=tmp_path / "c.ckpt")
    vectors, summary = resume(tmp_path / "c.ckpt")
    assert summary is None and len(vectors) == 5  # finished: nothing to train
    state = Checkpoint.load(tmp_path / "c.ckpt")
    state.position.epoch = 0
    state.save(tmp_path / "c.ckpt")
    corpus.write_text("the cat sat on the mat\n" * 51)
    with pytest.raises(ValueError, match="missing or changed since checkpoint"):
        resume(tmp_path / "c.ckpt")
    (tmp_path / "v.txt").write_text("1 2\na 0 1\n")
    with pytest.raises(FormatError):
        resume(tmp_path / "v.txt")
    with pytest.raises(ValueError, match="checkpoints on the keras backend cover the optimizers "
                                         "sgd, momentum, nesterov, adagrad without soft batch"):
        train(corpus, TrainConfig(optimizer="heun"), checkpoint=tmp_path / "k.ckpt")
    result = cli(corpus, "-o", tmp_path / "o.txt", "--steps-per-update", "4", "--checkpoint",
                 tmp_path / "k.ckpt")
    assert result.returncode == 1 and "not sgd with steps_per_update 4" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("mode", [{}, {"cbow": True, "hs": True}], ids=["skip-gram", "cbow-hs-ns"])
def test_keras_runs_stopped_and_resumed_end_bit_identical(tmp_path, monkeypatch, mode):
    """In-process: every run sends itself SIGTERM after 5 spans of 16 steps, and resumes."""
    from tests.conftest import planted_sentences
    from w2v.stopping import Interrupted

    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(" ".join(s) for s in planted_sentences(20000)) + "\n")
    config = TrainConfig(backend="keras", optimizer="momentum", dim=8, min_count=1, epochs=2,
                         batch_size=64, threads=1, **mode)
    straight, summary = train(corpus, config)
    checkpoint, stops = tmp_path / "run.ckpt", []
    monkeypatch.setenv("W2V_TEST_SIGTERM_AT", "span 5")
    while True:
        try:
            vectors, resumed = (resume(checkpoint) if checkpoint.exists() else
                                train(corpus, config, checkpoint=checkpoint))
            break
        except Interrupted:
            position = Checkpoint.load(checkpoint).position
            stops.append((position.epoch, position.span))
    assert len(stops) >= 2 and any(span for _, span in stops), stops
    np.testing.assert_array_equal(vectors.vectors, straight.vectors)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    assert resumed.history[-1]["loss"] == pytest.approx(summary.history[-1]["loss"], rel=1e-5)


def test_a_diverged_run_keeps_the_last_good_checkpoint(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat\n" * 50)
    good = tmp_path / "c.ckpt"
    train(corpus, TrainConfig(dim=8, min_count=1, epochs=1), checkpoint=good)
    before = good.read_bytes()
    state = Checkpoint.load(good)
    state.input_vectors[0, 0] = np.nan
    with pytest.raises(FloatingPointError, match="refusing to checkpoint tables that hold NaN"):
        state.save(good)
    assert good.read_bytes() == before
    with pytest.raises(FloatingPointError, match="training diverged in epoch 1"):
        train(corpus, TrainConfig(dim=8, min_count=1, epochs=1, alpha=1e4, sample=0),
              checkpoint=good)
    assert good.read_bytes() == before  # diverged before its first checkpoint: nothing written
