"""The benchmark harness's own guard: a ratio against gensim compares equal work.

gensim's corpus_file reader caps each batch at 10,000 kept words and fills a batch until it
passes 10,000 read words, keeping the line that passed: with 10,000-word lines it silently
trained about 70 % of what it kept. compare_gensim writes 1,000-word lines and checks what
gensim trained; these tests run the real gensim on a small Zipf corpus both ways.
"""

import numpy as np
import pytest

from benchmarks.compare_gensim import (GENSIM_LINE_WORDS, checked_work, gensim_trained_share,
                                       write_split_copy)

WORDS = 60_000


@pytest.fixture
def one_line_corpus(tmp_path):
    """A text8-style corpus: WORDS Zipf-distributed words on one line."""
    rng = np.random.default_rng(7)
    vocab = np.array([f"w{i}" for i in range(3000)])
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    words = rng.choice(vocab, size=WORDS, p=weights / weights.sum())
    path = tmp_path / "one_line.txt"
    path.write_text(" ".join(words) + "\n")
    return path


def gensim_share(corpus) -> float:
    from gensim.models import Word2Vec

    model = Word2Vec(vector_size=8, min_count=1, sample=1e-3, workers=1, seed=1)
    model.build_vocab(corpus_file=str(corpus))
    trained, _ = model.train(corpus_file=str(corpus), total_examples=model.corpus_count,
                             total_words=model.corpus_total_words, epochs=1)
    return gensim_trained_share(model, trained, 1)


def test_the_benchmark_copy_lets_gensim_train_every_kept_word(one_line_corpus, tmp_path):
    copy = tmp_path / "copy.txt"
    assert write_split_copy(one_line_corpus, copy, None, GENSIM_LINE_WORDS) == WORDS
    lines = copy.read_text().splitlines()
    assert max(len(line.split()) for line in lines) == GENSIM_LINE_WORDS
    assert sum(len(line.split()) for line in lines) == WORDS
    share = gensim_share(copy)
    assert share == pytest.approx(1.0, abs=0.01)
    assert checked_work({"trained_share": share})["trained_share"] == share


def test_the_check_refuses_gensims_dropped_words_on_long_lines(one_line_corpus, tmp_path):
    copy = tmp_path / "copy.txt"
    write_split_copy(one_line_corpus, copy, None, 10_000)
    share = gensim_share(copy)
    assert share < 0.9  # the batch cap: each 20,000 read words train at most 10,000
    with pytest.raises(SystemExit, match="would not compare equal work"):
        checked_work({"trained_share": share})


def test_the_sync_simulation_measures_each_run_against_its_own_one_worker_run():
    """A run's Δ is against the one-worker run on the same corpus lines with the same seed;
    the table says which lines each run had."""
    from benchmarks.sync_simulation import table

    def run(workers, line_words, analogy, seed=1, rule="curvature (κ = 0.1)"):
        return {"workers": workers, "sync_words": 6_250, "rule": rule, "wire": "int8",
                "line_words": line_words, "seed": seed, "syncs": 10, "sent_mb": 1.0,
                "analogy": analogy, "wordsim353": 0.5, "simlex999": 0.3}

    report = {"corpus": "gut8.gz", "words": 1_000_000, "epochs": 2,
              "results": [run(1, 10_000, 0.30), run(1, 1_000, 0.20), run(1, 1_000, 0.25, 2),
                          run(8, 1_000, 0.19), run(8, 10_000, 0.27), run(8, 1_000, 0.26, 2)]}
    rows = [line for line in table(report, []).splitlines() if line.startswith("| 8 ")]
    assert [row.split(" | ")[8] for row in rows] == ["0.190 (-0.010)", "0.270 (-0.030)",
                                                     "0.260 (+0.010)"]


def test_every_system_is_a_valid_training_configuration():
    """Each of compare_gensim's systems asks TrainConfig for settings it accepts (an optimizer
    that exists, a backend that takes it), so no benchmark run dies on its first system."""
    from benchmarks.compare_gensim import BACKEND_OF, SETTINGS_OF, SYSTEMS
    from w2v.config import TrainConfig

    for system in SYSTEMS + ("cuda", "cuda-batched"):
        if system == "gensim":
            continue
        config = TrainConfig(backend=BACKEND_OF[system], **SETTINGS_OF.get(system, {}))
        assert config.validated() is config
    assert set(SETTINGS_OF) <= set(BACKEND_OF)


def test_results_say_the_date_and_the_commit_they_came_from(tmp_path):
    import json
    import subprocess
    from pathlib import Path

    from benchmarks import write_results

    write_results(str(tmp_path / "r"), "benchmarks.x", ["--a", "b c"], "table\n", {"n": 1})
    root = Path(__file__).resolve().parent.parent
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    made = json.loads((tmp_path / "r.json").read_text())["made"]
    assert commit and f"at {commit}" in made
    md = (tmp_path / "r.md").read_text().splitlines()
    assert md[0] == "command: python -m benchmarks.x --a 'b c'"
    assert md[2] == f"({made})"


def test_the_hot_rows_probe_gives_each_thread_rows_no_other_thread_writes():
    import numpy as np

    from benchmarks.roofline import probe, remapped

    ids = np.array([[0, 5], [2, 9]], dtype=np.int32)
    assert remapped(ids, 3, 10).tolist() == [[10, 5], [12, 9]]  # hot rows 0-2 at 10-12
    assert remapped(ids, 0, 10).tolist() == ids.tolist()  # P = 0: the shared table
    rows, threads, hot = 50, 2, 8
    thread_rows = [set(remapped(np.arange(rows), hot, rows + t * hot)) for t in range(threads)]
    assert thread_rows[0] & thread_rows[1] == set(range(hot, rows))  # only cold rows shared
    kept = np.full(rows, 1 / rows)
    assert probe(rows, 8, 5, 1000, threads, kept, kept, repeats=1, hot=hot) > 0


def test_private_rows_gives_each_runs_best_and_slowest_round_against_the_shared_runs():
    from benchmarks.private_rows import levels_table

    rates = {"P = 0": [1500.0, 1000.0, 1520.0], "P = 3000": [1450.0, 1250.0, 1475.0]}
    lines = levels_table(rates, "P = 0")
    assert lines[2] == "| P = 0 | 1,520 | 1.00 | 1,000 | 1.00 |"
    assert lines[3] == "| P = 3000 | 1,475 | 0.97 | 1,250 | 1.25 |"


def test_private_rows_measures_the_backends_own_chunks(tmp_path):
    """A short run of the benchmark itself, through the backend's train_chunk, on the
    shipped corpus: every run of every kernel measured, both files written."""
    import json

    from benchmarks.private_rows import main

    out = tmp_path / "private_rows"
    main(["--corpus", "data/novels.txt.gz", "--words", "20000", "--rounds", "1",
          "--kernels", "windows,cbow", "--hot", "0,50", "--out", str(out)])
    data = json.loads((out.with_suffix(".json")).read_text())
    for kernel in ("windows", "cbow"):
        rates = data["kernels"][kernel]["rates"]
        assert set(rates) == {"1 thread", "2 threads, P = 0", "2 threads, P = 50"}
        assert all(len(r) == 1 and r[0] > 0 for r in rates.values())
    assert "P = 50" in (out.with_suffix(".md")).read_text()
