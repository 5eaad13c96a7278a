"""w2v-train as a user runs it: a real subprocess, real files."""

import os
import subprocess
import sys

import numpy as np
import pytest
from gensim.models import KeyedVectors

CLI = [sys.executable, "-m", "w2v.cli"]


def run(*args, cwd=None):
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.mark.parametrize("binary,backend", [(False, "keras"), (True, "keras"), (False, "numba")])
def test_trains_and_writes_vectors_gensim_loads(tiny_corpus, tmp_path, binary, backend):
    out = tmp_path / ("v.bin" if binary else "v.txt")
    result = run(tiny_corpus, "-o", out, "--dim", 12, "--min-count", 1, "--epochs", 1,
                 "--batch-size", 128, "--backend", backend, *(["--binary"] if binary else []))
    assert result.returncode == 0, result.stderr
    assert f"{backend} | vocabulary 48 words" in result.stdout and "words/s" in result.stdout
    kv = KeyedVectors.load_word2vec_format(out, binary=binary)
    assert kv.vectors.shape == (48, 12) and np.isfinite(kv.vectors).all()
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_heun_with_soft_batch_end_to_end(tiny_corpus, tmp_path):
    out = tmp_path / "v.txt"
    result = run(tiny_corpus, "-o", out, "--dim", 12, "--min-count", 1, "--epochs", 1,
                 "--batch-size", 64, "--optimizer", "heun", "--steps-per-update", 4)
    assert result.returncode == 0, result.stderr
    assert KeyedVectors.load_word2vec_format(out).vectors.shape == (48, 12)


BAD = {
    "missing file": (["missing.txt"], "corpus file not found: 'missing.txt'"),
    "empty corpus": (["empty.txt"], "corpus is empty"),
    "vocabulary empty": (["rare.txt"], "vocabulary is empty: no word occurs min_count=5"),
    "dim 0": (["rare.txt", "--dim", "0"], "--dim must be at least 1, got 0"),
    "dim negative": (["rare.txt", "--dim", "-3"], "--dim must be at least 1, got -3"),
    "window 0": (["rare.txt", "--window", "0"], "--window must be at least 1, got 0"),
    "negative 0": (["rare.txt", "--negative", "0"], "--negative must be at least 1, got 0"),
    "output is input": (["rare.txt", "-o", "rare.txt"], "is an input file"),
    "output dir missing": (["rare.txt", "-o", "no/such/dir/v.txt"], "output directory does not exist"),
    "unknown backend": (["rare.txt", "--backend", "torch"], "--backend must be one of auto, keras, numba"),
    "unknown optimizer": (["rare.txt", "--optimizer", "adam"], "--optimizer must be one of sgd"),
    "steps per update 0": (["rare.txt", "--steps-per-update", "0"],
                           "--steps-per-update must be at least 1, got 0"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_gets_one_clear_line_and_no_output(tmp_path, case):
    (tmp_path / "empty.txt").write_text("   \n\n")
    (tmp_path / "rare.txt").write_text("each word here occurs once\n")
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    args, message = BAD[case]
    result = run(*args, *([] if "-o" in args else ["-o", "out.txt"]), cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.txt").exists()
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before  # inputs untouched


def test_help_and_import_do_not_load_tensorflow():
    code = ("import sys, contextlib, io\nimport w2v\nfrom w2v.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try: main(['--help'])\n    except SystemExit: pass\n"
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False False", result.stderr
