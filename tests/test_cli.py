"""w2v-train as a user runs it: a real subprocess, real files."""

import bz2
import gzip
import hashlib
import lzma
import os
import re
import subprocess
import sys
from pathlib import Path

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


# case -> (arguments, exit status, what the one line on stderr says); the README's
# reliability table lists the same cases (test_readme_lists_every_bad_input_case).
BAD = {
    "missing corpus file": (["missing.txt"], 1, "corpus file not found: 'missing.txt'"),
    "empty directory": (["emptydir"], 1, "corpus directory 'emptydir' has no files"),
    "empty file": (["empty.txt"], 1, "corpus is empty: no words in empty.txt"),
    "only whitespace": (["blank.txt"], 1, "corpus is empty: no words in blank.txt"),
    "random bytes": (["random.bin"], 1, "corpus file 'random.bin' is not UTF-8 text"),
    "NUL bytes": (["nul.txt"], 1, "corpus file 'nul.txt' is not text: a NUL byte at offset 5"),
    "vocabulary empty after min_count": (["rare.txt"], 1,
                                         "vocabulary is empty: no word occurs min_count=5"),
    "dim 0": (["ok.txt", "--dim", "0"], 2, "--dim must be at least 1, got 0"),
    "dim negative": (["ok.txt", "--dim", "-3"], 2, "--dim must be at least 1, got -3"),
    "window 0": (["ok.txt", "--window", "0"], 2, "--window must be at least 1, got 0"),
    "negative -1": (["ok.txt", "--negative", "-1"], 2, "--negative must be >= 0, got -1"),
    "negative 0 without hs": (["ok.txt", "--negative", "0"], 2,
                              "--negative 0 needs hs (hierarchical softmax): without either "
                              "there is nothing to train, got 0"),
    "cbow-mean 2": (["ok.txt", "--cbow", "--cbow-mean", "2"], 2,
                    "--cbow-mean must be 0 or 1, got 2"),
    "sample -0.1": (["ok.txt", "--sample", "-0.1"], 2, "--sample must be >= 0, got -0.1"),
    "epochs 0": (["ok.txt", "--epochs", "0"], 2, "--epochs must be at least 1, got 0"),
    "alpha 0": (["ok.txt", "--alpha", "0"], 2, "--alpha must be a number > 0, got 0.0"),
    "alpha NaN": (["ok.txt", "--alpha", "nan"], 2, "--alpha must be a number > 0, got nan"),
    "min_alpha above alpha": (["ok.txt", "--min-alpha", "0.5"], 2,
                              "--min-alpha must be between 0 and alpha, got 0.5"),
    "threads 0": (["ok.txt", "--threads", "0"], 2, "--threads must be at least 1, got 0"),
    "output is an input": (["ok.txt", "-o", "ok.txt"], 1,
                           "output 'ok.txt' is an input file: refusing to overwrite it"),
    "output in a missing directory": (["ok.txt", "-o", "no/such/v.txt"], 1,
                                      "output directory does not exist: 'no/such'"),
    "output in a read-only directory": (["ok.txt", "-o", "locked/v.txt"], 1,
                                        "output directory is not writable: 'locked'"),
    "unknown backend": (["ok.txt", "--backend", "torch"], 2,
                        "--backend must be one of auto, keras, numba, cuda, got 'torch'"),
    "unknown optimizer": (["ok.txt", "--optimizer", "adam"], 2,
                          "--optimizer must be one of sgd, momentum"),
    "steps per update 0": (["ok.txt", "--steps-per-update", "0"], 2,
                           "--steps-per-update must be at least 1, got 0"),
    "truncated .gz corpus": (["cut.gz"], 1,
                             "corpus file 'cut.gz' is a truncated or corrupt gzip archive"),
    "truncated .bz2 corpus": (["cut.bz2"], 1,
                              "corpus file 'cut.bz2' is a truncated or corrupt bzip2 archive"),
    "truncated .xz corpus": (["cut.xz"], 1,
                             "corpus file 'cut.xz' is a truncated or corrupt xz archive"),
    "corpus is a loop of symbolic links": (["loop"], 1,
                                           "corpus 'loop' is a loop of symbolic links"),
    "output is a loop of symbolic links": (["ok.txt", "-o", "loop"], 1,
                                           "'loop' is a loop of symbolic links"),
    "output is a directory": (["ok.txt", "-o", "emptydir"], 1,
                              "output 'emptydir' is a directory"),
    "one word per line": (["single.txt", "--min-count", "1"], 1,
                          "nothing to train on: no line of single.txt has two words"),
    "vocabulary matching no corpus word": (["ok.txt", "--vocab", "other.tsv"], 1,
                                           "nothing to train on: no line of ok.txt has two words"),
    "vocabulary count above 2^63": (["ok.txt", "--vocab", "huge.tsv"], 1,
                                    "vocabulary 'huge.tsv' line 2: expected word<TAB>count"),
    "dim beyond memory": (["ok.txt", "--dim", "10000000000", "--min-count", "1"], 1,
                          "training needs about"),
    "negative beyond memory": (["ok.txt", "--negative", "10000000000", "--min-count", "1"], 1,
                               "training needs about"),
    "window 1000000000": (["ok.txt", "--window", "1000000000"], 2,
                          "--window must be at most max_sentence_length (10,000)"),
    "output in the corpus directory": (["corpusdir", "-o", "corpusdir/a.txt"], 1,
                                       "output 'corpusdir/a.txt' is an input file"),
    "checkpoint in the corpus directory": (["corpusdir", "--checkpoint", "corpusdir/a.txt"], 1,
                                           "output 'corpusdir/a.txt' is an input file"),
    "log in the corpus directory": (["corpusdir", "--log-json", "corpusdir/b.txt"], 1,
                                    "output 'corpusdir/b.txt' is an input file"),
    "two outputs on one file": (["ok.txt", "-o", "v.txt", "--checkpoint", "v.txt"], 1,
                                "--checkpoint 'v.txt' is also -o: each output needs its own"),
}


def bad_input_files(folder):
    (folder / "emptydir").mkdir()
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.txt").write_text("   \n\n\t\n")
    (folder / "random.bin").write_bytes(np.random.default_rng(0).integers(128, 256, 4000,
                                                                          dtype=np.uint8).tobytes())
    (folder / "nul.txt").write_bytes(b"words\x00\x00 more words\n")
    (folder / "rare.txt").write_text("each word here occurs once\n")
    (folder / "ok.txt").write_text("the cat sat on the mat\n" * 20)
    (folder / "locked").mkdir()
    (folder / "locked").chmod(0o555)
    text = "the cat sat on the mat\n".encode() * 2000
    for name, compress in (("cut.gz", gzip.compress), ("cut.bz2", bz2.compress),
                           ("cut.xz", lzma.compress)):
        whole = compress(text)
        (folder / name).write_bytes(whole[:len(whole) // 2])
    (folder / "loop").symlink_to("loop")
    (folder / "single.txt").write_text("one\nword\nper\nline\n" * 10)
    (folder / "other.tsv").write_text("# w2v vocabulary 1 corpus_words=9 words=2\nzebra\t5\n"
                                      "yak\t4\n")
    (folder / "huge.tsv").write_text(f"# w2v vocabulary 1 corpus_words={2 ** 64} words=1\n"
                                     f"the\t{2 ** 64}\n")
    (folder / "corpusdir").mkdir()
    (folder / "corpusdir" / "a.txt").write_text("the cat sat on the mat\n" * 20)
    (folder / "corpusdir" / "b.txt").write_text("the dog sat on the log\n" * 20)


def checksums(folder) -> dict:
    """Every file of `folder`, and every entry (links, folders) by its kind."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            if p.is_file() else os.lstat(p).st_mode for p in folder.rglob("*")}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_gets_one_clear_line_and_no_output(tmp_path, case):
    args, code, message = BAD[case]
    if case == "output in a read-only directory" and os.geteuid() == 0:
        pytest.skip("root writes into read-only directories")
    bad_input_files(tmp_path)
    before = checksums(tmp_path)
    result = run(*args, *([] if "-o" in args else ["-o", "out.txt"]), cwd=tmp_path)
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert checksums(tmp_path) == before  # inputs untouched, no output, no temporary file


@pytest.mark.parametrize("case", [c for c in BAD if BAD[c][1] == 2 and "threads" not in c
                                  and "cbow-mean" not in c])  # flags the CLI alone checks
def test_the_python_api_raises_the_same_words(case):
    from w2v.cli import build_parser, config_from_args

    args, _, message = BAD[case]
    flag, rule = message.split(" ", 1)
    with pytest.raises(ValueError, match=re.escape(f"{flag[2:].replace('-', '_')} {rule}")):
        config_from_args(build_parser().parse_args(args)).validated()


@pytest.mark.parametrize("case", [c for c in BAD if BAD[c][1] == 1 and len(BAD[c][0]) == 1])
def test_the_python_api_raises_the_same_words_for_files(tmp_path, case, monkeypatch):
    from w2v.trainer import train

    bad_input_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    args, _, message = BAD[case]
    error = FileNotFoundError if "not found" in message else ValueError
    with pytest.raises(error, match=re.escape(message)):
        train(args[0])


def test_readme_lists_every_bad_input_case():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for case, (_, code, message) in BAD.items():
        assert f"| {case} | {code} | {message}" in readme, case


def test_help_and_import_do_not_load_tensorflow():
    code = ("import sys, contextlib, io\nimport w2v\nfrom w2v.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try: main(['--help'])\n    except SystemExit: pass\n"
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False False", result.stderr


@pytest.mark.parametrize("backend", ["numba", "keras"])
def test_divergence_stops_with_the_epoch_words_and_cause_and_writes_nothing(tmp_path, backend):
    (tmp_path / "ok.txt").write_text("the cat sat on the mat and the dog sat on the log\n" * 400)
    result = run("ok.txt", "-o", "v.txt", "--alpha", "1e4", "--min-count", "1", "--backend",
                 backend, "--batch-size", "64", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert re.search(r"training diverged in epoch 1 after [\d,]+ words: the loss is (nan|inf)", line)
    assert "try a smaller --alpha" in line and not (tmp_path / "v.txt").exists()


def test_two_runs_writing_one_output_leave_one_complete_file(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(" ".join(f"w{(i * 7 + j) % 300}" for j in range(40))
                                for i in range(400)) + "\n")
    common = [corpus, "--dim", "50", "--min-count", "1", "--epochs", "1", "--threads", "1", "-q"]
    for seed in (1, 2):  # what each run writes on its own (one thread: deterministic)
        assert run(*common, "--seed", seed, "-o", tmp_path / f"alone{seed}.txt").returncode == 0
    alone = {(tmp_path / f"alone{s}.txt").read_bytes() for s in (1, 2)}
    assert len(alone) == 2
    for attempt in range(3):
        target = tmp_path / "shared.txt"
        runs = [subprocess.Popen(CLI + [str(a) for a in (*common, "--seed", seed, "-o", target)],
                                 stderr=subprocess.PIPE) for seed in (1, 2)]
        assert [p.wait(timeout=300) for p in runs] == [0, 0]
        assert target.read_bytes() in alone  # one run's whole file, never a mix
        assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
