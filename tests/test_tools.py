"""w2v-eval, w2v-similar, w2v-plot and w2v-train's --eval/--log-json as a user runs them,
and per-epoch callbacks on every backend."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import planted_sentences
from w2v import Callback, TrainConfig, Word2Vec
from w2v.trainer import train


def tool(name, *args):
    code = f"import sys; from w2v.tools import {name}_main as m; sys.exit(m(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def vectors_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("v") / "novels.txt"
    Word2Vec("data/novels.txt.gz", vector_size=24, epochs=1, workers=1).wv.save_word2vec_format(path)
    return path


def one_line_error(result, code=1):
    assert result.returncode == code, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    return result.stderr


def test_eval_prints_a_table_and_json(vectors_file, tmp_path):
    result = tool("eval", vectors_file)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("8,657 words, dim 24")
    assert [line.split()[0] for line in lines[2:]] == ["questions-words", "wordsim353",
                                                       "simlex999"]
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("ship\tsea\t9\nship\tbreakfast\t1\nwhale\tsea\t8\nemma\tship\t0.5\n")
    result = tool("eval", vectors_file, "--pairs", f"mine={pairs}", "--json")
    rows = json.loads(result.stdout)
    assert [r["set"] for r in rows] == ["questions-words", "mine"]
    assert rows[1]["unknown"] == 0 and -1 <= rows[1]["score"] <= 1
    assert "no such file: missing.txt" in one_line_error(tool("eval", "missing.txt"))
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("this is not a vectors file\n")
    assert "line 1 must be 'count dimension'" in one_line_error(tool("eval", garbage))


def test_similar_answers_words_and_analogies(vectors_file):
    result = tool("similar", vectors_file, "whale", "king-man+woman", "-n", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "whale" and lines[4] == "king-man+woman" and len(lines) == 8
    assert "whale" not in " ".join(lines[1:4])
    err = one_line_error(tool("similar", vectors_file, "whale", "xyzzy", "qwfp"))
    assert "not in the vocabulary" in err and "xyzzy, qwfp" in err
    assert "--topn must be at least 1" in tool("similar", vectors_file, "whale", "-n", "0").stderr


def test_plot_writes_a_png_and_refuses_bad_requests(vectors_file, tmp_path):
    out = tmp_path / "words.png"
    result = tool("plot", vectors_file, "emma", "harriet", "ship", "sea", "-o", out)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    before = vectors_file.read_bytes()
    err = one_line_error(tool("plot", vectors_file, "emma", "ship", "sea", "-o", vectors_file))
    assert "refusing to overwrite" in err and vectors_file.read_bytes() == before
    err = one_line_error(tool("plot", vectors_file, "emma", "ship", "xyzzy", "-o", tmp_path / "x.png"))
    assert "xyzzy" in err and not (tmp_path / "x.png").exists()
    assert tool("plot", vectors_file, "emma", "ship").returncode == 2


def test_train_eval_and_json_log(tmp_path):
    corpus, out, log = tmp_path / "c.txt", tmp_path / "v.txt", tmp_path / "log.jsonl"
    corpus.write_text("\n".join(" ".join(s) for s in planted_sentences(300)) + "\n")
    result = subprocess.run([sys.executable, "-m", "w2v.cli", corpus, "-o", out, "--dim", "8",
                             "--min-count", "1", "--epochs", "2", "--eval", "--log-json", log],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "epoch 1/2: loss" in result.stderr and "analogy" in result.stderr
    records = [json.loads(line) for line in log.read_text().splitlines()]
    epochs = [r for r in records if r["event"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2] and epochs[-1]["words"] == 7200
    assert {"loss", "learning_rate", "words_per_second", "analogy", "simlex999"} <= set(epochs[0])
    assert any(r["event"] == "progress" for r in records)
    err = subprocess.run([sys.executable, "-m", "w2v.cli", corpus, "-o", out, "--log-json", corpus],
                         capture_output=True, text=True, timeout=300).stderr
    assert "is an input file" in err


class Recorder(Callback):
    def __init__(self):
        self.seen = []

    def on_epoch_end(self, epoch, logs, vectors):
        self.seen.append((epoch, logs, vectors()))


@pytest.mark.parametrize("backend", ["numba", "keras", "cuda"])
def test_epoch_callbacks_on_every_backend(tiny_corpus, backend):
    recorder = Recorder()
    config = TrainConfig(dim=8, min_count=1, epochs=2, batch_size=256, backend=backend)
    corpus = tiny_corpus
    if backend == "cuda":  # the simulator is slow: a smaller corpus
        corpus = tiny_corpus.parent / "small.txt"
        corpus.write_text("\n".join(" ".join(s) for s in planted_sentences(30)) + "\n")
    vectors, summary = train(corpus, config, callbacks=[recorder])
    assert [epoch for epoch, _, _ in recorder.seen] == [1, 2]
    first, last = recorder.seen[0][1], recorder.seen[1][1]
    assert first["learning_rate"] > last["learning_rate"] == pytest.approx(config.min_alpha, abs=2e-4)
    assert last["loss"] == pytest.approx(summary.final_loss) and first["words_per_second"] > 0
    assert summary.history == [logs for _, logs, _ in recorder.seen]
    np.testing.assert_array_equal(recorder.seen[-1][2].vectors, vectors.vectors)


def test_keras_callbacks_work_on_keras_and_are_refused_elsewhere(tiny_corpus, tmp_path):
    import keras

    board = keras.callbacks.TensorBoard(log_dir=str(tmp_path / "tb"))
    checkpoint = keras.callbacks.ModelCheckpoint(str(tmp_path / "m.weights.h5"),
                                                 save_weights_only=True)
    config = TrainConfig(dim=8, min_count=1, epochs=1, batch_size=256, backend="keras")
    train(tiny_corpus, config, callbacks=[board, checkpoint])
    assert (tmp_path / "m.weights.h5").stat().st_size > 0
    assert any("events" in name for _, _, files in os.walk(tmp_path / "tb") for name in files)
    with pytest.raises(ValueError, match="Keras callbacks .TensorBoard. need the keras backend"):
        train(tiny_corpus, TrainConfig(dim=8, min_count=1, epochs=1, backend="numba"),
              callbacks=[board])
