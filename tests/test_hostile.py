"""Hostile and odd input, round 2: never clobber what is not ours, never write what we
cannot read back, never a traceback. (The one-line cases live in test_cli.py's BAD table;
here are those that need devices, pipes, links, crafted files, signals or the Python API.)
Device nodes are made in the test's own folder, never /dev."""

import json
import os
import signal
import stat
import subprocess
import sys
import threading

import numpy as np
import pytest

from tests.conftest import planted_sentences
from w2v import Embeddings, FormatError, TrainConfig, Vocabulary, Word2Vec
from w2v.checkpoint import Checkpoint
from w2v.io.files import atomic_write
from w2v.trainer import train

CLI = [sys.executable, "-m", "w2v.cli"]
TOOLS = {"similar": "w2v.tools:similar_main"}
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="making device nodes needs root")


def run(*args, cwd=None, env=None, tool=None):
    command = CLI if tool is None else [sys.executable, "-c",
                                        f"import sys; from w2v.tools import {tool}; "
                                        f"sys.exit({tool}())"]
    return subprocess.run(command + [str(a) for a in args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env={**os.environ, **(env or {})})


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(s) for s in planted_sentences(300)) + "\n")
    return path


SMALL = ["--dim", "8", "--min-count", "1", "--epochs", "1", "-q"]


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


# -- outputs: devices, pipes, links, modes ------------------------------------------------


@as_root
def test_a_null_device_output_discards_and_stays_a_device(corpus, tmp_path):
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    result = run(corpus, "-o", null, *SMALL)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(os.stat(null).st_mode) and os.stat(null).st_rdev == os.makedev(1, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt", "null"]


@as_root
def test_a_full_device_output_fails_with_one_line(corpus, tmp_path):
    full = tmp_path / "full"
    os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    result = run(corpus, "-o", full, *SMALL)
    assert result.returncode == 1
    assert one_line(result) == f"w2v-train: error: cannot write '{full}': No space left on device"
    assert stat.S_ISCHR(os.stat(full).st_mode)


def test_a_fifo_output_is_written_straight_through(corpus, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = run(corpus, "-o", fifo, *SMALL)
    reader.join(60)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert received[0].startswith(b"48 8\n") and received[0].count(b"\n") == 49


def test_a_symlink_output_writes_its_target_and_stays_a_link(corpus, tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "v.txt"
    target.write_text("old\n")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    assert run(corpus, "-o", link, *SMALL).returncode == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text().startswith("48 8\n")


def test_an_existing_output_keeps_its_mode(corpus, tmp_path):
    out = tmp_path / "v.txt"
    out.write_text("old\n")
    out.chmod(0o444)
    assert run(corpus, "-o", out, *SMALL).returncode == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o444 and out.read_text().startswith("48 8")


def test_a_vanished_output_folder_is_named_not_the_temporary_file(tmp_path):
    folder = tmp_path / "gone"
    folder.mkdir()
    writer = atomic_write(folder / "v.txt")  # checked while the folder was there
    folder.rmdir()
    with pytest.raises(OSError, match=f"cannot write '{folder / 'v.txt'}': No such file"):
        with writer as out:
            out.write(b"x")


def test_a_signal_during_the_final_write_leaves_no_temporary_file(corpus, tmp_path):
    out = tmp_path / "out" / "v.txt"
    out.parent.mkdir()
    result = run(corpus, "-o", out, *SMALL, env={"W2V_TEST_SIGTERM_AT": "writing"})
    assert result.returncode == 143
    assert one_line(result) == ("w2v-train: stopped by SIGTERM while writing the outputs; no "
                                "partial file was left")
    assert list(out.parent.iterdir()) == []


@as_root
def test_a_full_disk_at_the_final_checkpoint_keeps_the_vectors(corpus, tmp_path):
    """The vectors are written first; the checkpoint after them fails with one line."""
    full = tmp_path / "full"
    os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    out = tmp_path / "v.txt"
    result = run(corpus, "-o", out, "--checkpoint", full, *SMALL)
    assert result.returncode == 1
    assert "only the final checkpoint is missing" in one_line(result)
    assert out.read_text().startswith("48 8\n")


# -- checkpoints are data -------------------------------------------------------------------


def test_a_crafted_checkpoint_cannot_choose_where_to_write(corpus, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    assert run(corpus, "-o", tmp_path / "v.txt", "--checkpoint", ckpt, "--epochs", "2",
               *SMALL[:4], "-q", env={"W2V_TEST_SIGTERM_AT": "span 1"}).returncode == 143
    victim = tmp_path / "elsewhere" / "precious.txt"
    victim.parent.mkdir()
    victim.write_text("do not touch\n")
    state = Checkpoint.load(ckpt)
    state.extra["output"] = str(victim)
    state.save(ckpt)
    result = run("--resume", ckpt, "-q")
    assert result.returncode == 1
    assert one_line(result).endswith("which is not beside it: pass -o PATH to say where they go")
    assert victim.read_text() == "do not touch\n"
    # beside the checkpoint, the stored name is used; -o always wins
    assert run("--resume", ckpt, "-q", "-o", tmp_path / "chosen.txt").returncode == 0
    assert (tmp_path / "chosen.txt").read_text().startswith("48 8")


def test_resume_refuses_to_write_over_its_corpus(corpus, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    assert run(corpus, "-o", tmp_path / "v.txt", "--checkpoint", ckpt, "--epochs", "2",
               *SMALL[:4], "-q", env={"W2V_TEST_SIGTERM_AT": "span 1"}).returncode == 143
    before = corpus.read_bytes()
    result = run("--resume", ckpt, "-o", corpus)
    assert result.returncode == 1 and "is an input file" in one_line(result)
    assert corpus.read_bytes() == before


def test_a_resumed_summary_counts_what_it_trained(corpus, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    args = [corpus, "-o", tmp_path / "v.txt", "--checkpoint", ckpt, "--epochs", "4",
            "--dim", "8", "--min-count", "1", "-q"]
    assert run(*args, env={"W2V_TEST_SIGTERM_AT": "span 3"}).returncode == 143
    done = Checkpoint.load(ckpt).position
    result = run("--resume", ckpt)
    assert result.returncode == 0, result.stderr
    words = 3600 * (4 - done.epoch)  # 3,600 corpus words an epoch, 1 span each
    assert f"trained {words:,} words (1 epoch of 3,600, resumed in epoch 4)" in result.stdout


# -- what we write, we read back ---------------------------------------------------------


@pytest.mark.parametrize("binary", [False, True])
def test_long_words_are_written_and_read_back(tmp_path, binary):
    long_word = "x" * 600  # the most frequent word: the first record
    corpus = tmp_path / "c.txt"
    corpus.write_text(f"{long_word} {'y' * 300} a b\n" * 30 + f"{long_word} {long_word} a\n" * 30)
    out = tmp_path / "v.bin"
    result = run(corpus, "-o", out, *SMALL, *(["--binary"] if binary else []))
    assert result.returncode == 0, result.stderr
    vectors = Embeddings.load(out)
    assert vectors.words[0] == long_word and "y" * 300 in vectors
    similar = run(out, long_word, "-n", "1", tool="similar_main")
    assert similar.returncode == 0, similar.stderr
    from gensim.models import KeyedVectors
    assert KeyedVectors.load_word2vec_format(str(out), binary=binary).index_to_key[0] == long_word


@pytest.mark.parametrize("word, why", [
    ("two words", "empty or holds whitespace"), ("line\nbreak", "empty or holds whitespace"),
    ("", "empty or holds whitespace"), ("\ud800", "lone surrogate"),
    (7, "is a int, not a str"), (b"bytes", "is a bytes, not a str")])
def test_words_the_formats_cannot_hold_are_refused_when_the_vocabulary_is_built(word, why):
    sentences = [["ok", "fine", word]] * 5
    with pytest.raises(ValueError, match=why):
        Vocabulary.build(sentences, min_count=1)
    with pytest.raises(ValueError, match=why):
        Word2Vec(sentences, min_count=1, vector_size=4, epochs=1)


def test_writers_refuse_words_they_could_not_read_back(tmp_path):
    vectors = Embeddings(["fine", "not fine"], np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="'not fine' is empty or holds whitespace"):
        vectors.save_word2vec_format(tmp_path / "v.txt")
    assert list(tmp_path.iterdir()) == []


UNICODE = [chr(c) for c in range(0x21, 0x3000) if not chr(c).isspace()
           and not 0xD800 <= c < 0xE000] + ["😀", "𝔘", "ﬁ", "\u0301"]


def random_words(rng, n) -> list[str]:
    words = set()
    while len(words) < n:
        length = int(rng.choice([1, 2, 5, 12, 40, 300]))
        words.add("".join(rng.choice(UNICODE, length)))
    return sorted(words)


@pytest.mark.parametrize("seed", range(5))
def test_random_unicode_vocabularies_round_trip_through_every_writer(tmp_path, seed):
    """Seeded property test: random words (any non-space Unicode, up to 300 characters)
    through word2vec text and binary, the model file, a checkpoint and vocab.tsv."""
    from w2v.checkpoint import CorpusStamp, Position
    from w2v.io.formats import read_word2vec

    rng = np.random.default_rng(seed)
    words = random_words(rng, 60)
    vectors = rng.normal(size=(60, 7)).astype(np.float32)
    embeddings = Embeddings(words, vectors)
    for binary in (False, True):
        path = tmp_path / f"v{binary}.bin"
        embeddings.save_word2vec_format(path, binary=binary)
        got_words, got = read_word2vec(path)
        assert got_words == words
        np.testing.assert_allclose(got, vectors, rtol=1e-5 if not binary else 0)
        again = Embeddings.load(path)
        assert again.words == words
    counts = np.sort(rng.integers(1, 1000, 60))[::-1].astype(np.int64)
    vocab = Vocabulary(words, counts, int(counts.sum()) + 5)
    vocab.save(tmp_path / "vocab.tsv")
    loaded = Vocabulary.load(tmp_path / "vocab.tsv")
    assert loaded.words == words and loaded.counts.tolist() == counts.tolist()
    model = Word2Vec(vector_size=7)
    model.vocab, model.input_vectors, model.output_vectors = vocab, vectors, vectors * 2
    model.save(tmp_path / "m.w2v")
    assert Word2Vec.load(tmp_path / "m.w2v").vocab.words == words
    assert Embeddings.load(tmp_path / "m.w2v").words == words
    (tmp_path / "c.txt").write_text("x\n")
    Checkpoint(TrainConfig(dim=7), vocab, vectors, vectors, Position(),
               [CorpusStamp.of(tmp_path / "c.txt")], {}).save(tmp_path / "r.ckpt")
    assert Checkpoint.load(tmp_path / "r.ckpt").vocab.words == words


# -- every loader validates ----------------------------------------------------------------


def saved_model(tmp_path, change):
    """A model file, its vocabulary or tables changed by `change(vocab, input, output)`."""
    model = Word2Vec([["a", "b", "c"]] * 10, min_count=1, vector_size=4, epochs=1)
    change(model)
    from w2v.io.formats import write_model
    from w2v.model_file import MODEL_FORMAT, MODEL_VERSION
    path = tmp_path / "m.w2v"
    arrays = {"input_vectors": model.input_vectors, "output_vectors": model.output_vectors,
              "counts": model.vocab.counts}
    if change.__name__ == "drop_a_member":
        del arrays["output_vectors"]
    write_model(path, arrays, model.vocab.words,
                {"format": MODEL_FORMAT, "version": MODEL_VERSION,
                 "config": model.config.to_dict(), "corpus_words": 30, "epochs_trained": 1,
                 "words_trained": 30, "history": [], "train_calls": 1})
    return path


def nan_vector(model):
    model.input_vectors[1, 2] = np.nan


def empty_word(model):
    model.vocab.words[1] = ""


def drop_a_member(model):
    pass


@pytest.mark.parametrize("change, message", [(nan_vector, "NaN or infinity"),
                                             (empty_word, "empty or holds whitespace"),
                                             (drop_a_member, "output_vectors")])
def test_every_loader_refuses_a_bad_model_file(tmp_path, change, message):
    path = saved_model(tmp_path, change)
    for load in (Word2Vec.load, Embeddings.load):
        with pytest.raises(FormatError, match=message):
            load(path)
    result = run(path, "a", tool="similar_main")
    assert result.returncode == 1 and message in one_line(result)


def test_similar_looks_a_hyphenated_word_up_whole(tmp_path):
    words = ["well-known", "well", "known", "other", "more"]
    path = tmp_path / "v.txt"
    Embeddings(words, np.eye(5, dtype=np.float32) + 0.1).save_word2vec_format(path)
    result = run(path, "well-known", "-n", "4", tool="similar_main")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "well-known"
    assert "well-known" not in result.stdout.splitlines()[1:]  # its own neighbours, not well − known
    arithmetic = run(path, "well-other", tool="similar_main")
    assert arithmetic.returncode == 0 and "known" in arithmetic.stdout


# -- corpora -------------------------------------------------------------------------------


def test_a_text_file_that_starts_with_bzh_is_text(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("BZh the cat sat on the mat\n" * 40)
    vectors, summary = train(corpus, TrainConfig(dim=4, min_count=1, epochs=1))
    assert "BZh" in vectors and summary.corpus_words == 280


def test_a_byte_order_mark_is_dropped(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_bytes("\ufeffthe cat sat on the mat\n".encode() + b"the dog sat\n" * 20)
    vectors, _ = train(corpus, TrainConfig(dim=4, min_count=1, epochs=1))
    assert "the" in vectors and not [w for w in vectors.words if "\ufeff" in w]


def test_the_same_file_named_twice_is_read_once_with_a_warning(corpus, tmp_path):
    link = tmp_path / "again.txt"
    link.symlink_to(corpus)
    result = run(corpus, link, "-o", tmp_path / "v.txt", *SMALL)
    assert result.returncode == 0, result.stderr
    assert one_line(result) == (f"w2v-train: warning: corpus file '{link}' is named twice "
                                f"(also as '{corpus}'): reading it once")
    again = run(corpus, link, "-o", tmp_path / "v.txt", *SMALL[:-1])
    assert "(1 epoch of 3,600)" in again.stdout  # the words of one copy


def test_warnings_reach_stderr_under_quiet(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_bytes(b"the cat sat on the mat \xff\n" * 30)
    result = run(corpus, "-o", tmp_path / "v.txt", *SMALL)
    assert result.returncode == 0
    assert one_line(result) == "w2v-train: warning: 30 undecodable bytes were read as U+FFFD"


def test_the_python_api_turns_an_empty_corpus_into_one_clear_error():
    model = Word2Vec([["a", "b"]] * 10, min_count=1, vector_size=4, epochs=1)
    with pytest.raises(ValueError, match="nothing to train on|corpus is empty"):
        model.train([])


# -- the JSON log ----------------------------------------------------------------------


def test_the_json_log_is_json_with_null_for_an_undefined_score(corpus, tmp_path):
    log = tmp_path / "log.jsonl"
    assert run(corpus, "-o", tmp_path / "v.txt", "--eval", "--log-json", log,
               *SMALL).returncode == 0

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    records = [json.loads(line, parse_constant=refuse) for line in log.read_text().splitlines()]
    epoch = [r for r in records if r["event"] == "epoch"][0]
    assert epoch["wordsim353"] is None  # no pair of WordSim353 is in a planted vocabulary


def test_memory_is_checked_before_allocating_from_python():
    with pytest.raises(ValueError, match="training needs about .* GiB"):
        Word2Vec([["a", "b", "c"]] * 5, min_count=1, vector_size=10 ** 11, epochs=1)


def test_more_threads_than_cores_are_capped_with_a_warning(corpus, tmp_path):
    result = run(corpus, "-o", tmp_path / "v.txt", "--threads", "512", *SMALL)
    assert result.returncode == 0
    assert one_line(result) == (f"w2v-train: warning: threads=512: this machine has "
                                f"{os.cpu_count()} cores, and more threads cannot speed up "
                                f"the kernels; using {os.cpu_count()}")
