"""Checkpoints and resume: real w2v-train processes stopped by SIGTERM at random moments."""

import json
import os
import signal
import subprocess
import sys
import time

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


def cli(*args, **kwargs):
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True,
                          timeout=600, **kwargs)


def stop_at(args, seconds: float, after_checkpoint=None) -> int:
    """Start w2v-train and SIGTERM it `seconds` after it starts (or after it next writes
    `after_checkpoint`); returns its exit status."""
    process = subprocess.Popen(CLI + [str(a) for a in args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    if after_checkpoint is not None:
        before = after_checkpoint.stat().st_mtime_ns if after_checkpoint.exists() else 0
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if after_checkpoint.exists() and after_checkpoint.stat().st_mtime_ns != before:
                break
            time.sleep(0.01)
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
    status = process.wait(timeout=120)
    stderr = process.stderr.read()
    if status == 143:
        assert "stopped by SIGTERM" in stderr and "w2v-train --resume" in stderr, stderr
    return status


def interrupted_run(corpus, tmp_path, settings, kills, rng):
    """Train, stopping it by SIGTERM at random moments after each new checkpoint and
    resuming; returns where each stop left the run."""
    checkpoint, out = tmp_path / "run.ckpt", tmp_path / "out.bin"
    fresh = [corpus, "-o", out, "--binary", "-q", "--checkpoint", checkpoint,
             "--checkpoint-every", "0.001", *settings]
    stops = []
    for _ in range(kills):
        args = ["--resume", checkpoint, "-q"] if checkpoint.exists() else fresh
        status = stop_at(args, rng.uniform(0, 0.4), after_checkpoint=checkpoint)
        position = Checkpoint.load(checkpoint).position
        stops.append((status, position.epoch, position.chunk))
    args = ["--resume", checkpoint, "-q"] if checkpoint.exists() else fresh
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    return stops


def test_stopped_and_resumed_one_thread_runs_end_bit_identical(corpus, tmp_path):
    settings = ["--threads", "1", "--epochs", "2", "--dim", "32", "--min-count", "1"]
    reference = tmp_path / "reference.bin"
    assert cli(corpus, "-o", reference, "--binary", "-q", *settings).returncode == 0
    rng = np.random.default_rng(int(time.time()))  # new moments every run; the stops are printed on failure
    stops = interrupted_run(corpus, tmp_path, settings, kills=5, rng=rng)
    assert sum(status == 143 for status, _, _ in stops) >= 3, stops
    assert (tmp_path / "out.bin").read_bytes() == reference.read_bytes(), stops
    again = cli("--resume", tmp_path / "run.ckpt")
    assert again.returncode == 0 and "finished run" in again.stderr


def test_resumed_multithreaded_runs_keep_the_schedule(corpus, tmp_path):
    settings = ["--threads", "2", "--epochs", "2", "--dim", "16", "--min-count", "1"]
    log_straight = tmp_path / "straight.jsonl"
    assert cli(corpus, "-o", tmp_path / "straight.bin", "-q", "--log-json", log_straight,
               *settings).returncode == 0
    checkpoint = tmp_path / "run.ckpt"
    args = [corpus, "-o", tmp_path / "out.bin", "-q", "--checkpoint", checkpoint,
            "--checkpoint-every", "0.001", *settings]
    for wait in np.arange(2.0, 30.0, 0.5):  # stop it mid-epoch, once a checkpoint exists
        if stop_at(args, wait) == 143 and not Checkpoint.load(checkpoint).finished:
            break
        checkpoint.unlink(missing_ok=True)
    saved = Checkpoint.load(checkpoint).position
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


def test_keras_runs_stopped_and_resumed_end_bit_identical(tmp_path, request):
    """In-process: SIGTERM every 2 s until the run finishes, resuming each time."""
    import threading

    from tests.conftest import planted_sentences
    from w2v.checkpoint import Interrupted

    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(" ".join(s) for s in planted_sentences(20000)) + "\n")
    config = TrainConfig(backend="keras", optimizer="momentum", dim=8, min_count=1, epochs=2,
                         batch_size=64, threads=1)
    straight, summary = train(corpus, config)
    previous = signal.signal(signal.SIGTERM, lambda *_: None)  # signals between runs
    request.addfinalizer(lambda: signal.signal(signal.SIGTERM, previous))
    checkpoint, stops = tmp_path / "run.ckpt", []
    while True:
        done = threading.Event()

        def pester():
            while not done.wait(2.0):
                os.kill(os.getpid(), signal.SIGTERM)

        pesterer = threading.Thread(target=pester)
        pesterer.start()
        try:
            vectors, resumed = (resume(checkpoint) if checkpoint.exists() else
                                train(corpus, config, checkpoint=checkpoint,
                                      checkpoint_every=1e-6))
            break
        except Interrupted:
            position = Checkpoint.load(checkpoint).position
            stops.append((position.epoch, position.chunk))
        finally:
            done.set()
            pesterer.join()
    assert len(stops) >= 2 and any(chunk for _, chunk in stops), stops
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
