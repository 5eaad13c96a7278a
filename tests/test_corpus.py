"""The corpus reader: compressed files, text8-style lines, blank lines, bad bytes."""

import bz2
import gzip
import lzma

import pytest

import w2v.io.corpus
from w2v.io.corpus import Corpus, expand_paths

LINES = ["the cat sat", "", "   ", "on the  mat\t again", "end"]
SENTENCES = [["the", "cat", "sat"], ["on", "the", "mat", "again"], ["end"]]


@pytest.mark.parametrize("opener,suffix", [(open, ".txt"), (gzip.open, ".gz"),
                                           (bz2.open, ".bz2"), (lzma.open, ".xz")])
def test_plain_and_compressed_files_and_blank_lines(tmp_path, opener, suffix):
    path = tmp_path / f"c{suffix}"
    with opener(path, "wt") as f:
        f.write("\n".join(LINES) + "\n")
    corpus = Corpus(path)
    assert list(corpus) == SENTENCES
    assert list(corpus) == SENTENCES  # re-iterable
    assert corpus.words == 8 and corpus.sentences == 3 and corpus.bad_bytes == 0


def test_compression_is_recognised_by_content_not_name(tmp_path):
    path = tmp_path / "corpus.txt"  # gzip inside, misleading name
    with gzip.open(path, "wt") as f:
        f.write("a b c\n")
    assert list(Corpus(path)) == [["a", "b", "c"]]


def test_text8_style_line_is_cut_without_breaking_tokens(tmp_path, monkeypatch):
    monkeypatch.setattr(w2v.io.corpus, "BLOCK_BYTES", 7)  # blocks end inside tokens
    words = [f"w{i}" for i in range(1000)]
    path = tmp_path / "text8"
    path.write_text(" ".join(words))  # one line, no newline at the end
    sentences = list(Corpus(path, max_sentence_length=300))
    assert [len(s) for s in sentences] == [300, 300, 300, 100]
    assert sum(sentences, []) == words


def test_long_line_then_short_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(w2v.io.corpus, "BLOCK_BYTES", 16)
    path = tmp_path / "mixed.txt"
    path.write_text(" ".join(["x"] * 25) + "\nshort line\n\nlast")
    assert list(Corpus(path, max_sentence_length=10)) == [["x"] * 10, ["x"] * 10, ["x"] * 5,
                                                          ["short", "line"], ["last"]]


def test_bad_bytes_are_replaced_and_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(w2v.io.corpus, "BLOCK_BYTES", 3)  # a multi-byte character split across blocks
    path = tmp_path / "bad.txt"
    path.write_bytes("café ok\n".encode() + b"bad\xff\xfe word\n")
    corpus = Corpus(path)
    assert list(corpus) == [["café", "ok"], ["bad\ufffd\ufffd", "word"]]
    assert corpus.bad_bytes == 2


def test_directories_and_missing_files(tmp_path):
    (tmp_path / "b.txt").write_text("two\n")
    (tmp_path / "a.txt").write_text("one\n")
    assert [p.name for p in expand_paths(tmp_path)] == ["a.txt", "b.txt"]
    assert list(Corpus([tmp_path])) == [["one"], ["two"]]
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        Corpus(tmp_path / "nope.txt")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no files"):
        Corpus(empty)
