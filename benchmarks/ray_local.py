"""Ray workers on this machine against one process with two threads (numba backend).

    python -m benchmarks.ray_local --corpus ../shared/corpora/gut8.gz \\
        --pair-set men=../shared/eval/EN-MEN-TR-3k.txt --out benchmarks/results/ray_local

Each run is a real `w2v-train` on a copy of the corpus cut into --line-words-word lines
(1,000 by default: a worker's round is whole sentences, and the default round at 8
workers is 3,571 words): `--backend numba --threads 2` against `--cluster ray
--workers N --threads 1` (a local Ray instance; N = --workers, 2 by default: as many
workers as this machine has cores), interleaved for --rounds rounds; the
median words/s (training time only: Ray's start is reported apart), the sync traffic, and
the quality of each run's vectors.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import write_results
from benchmarks.compare_gensim import write_split_copy

ONE_PROCESS = "numba, 1 process × 2 threads"


def systems(workers: int) -> dict[str, list[str]]:
    """The two runs compared: name -> w2v-train flags."""
    return {ONE_PROCESS: ["--backend", "numba", "--threads", "2"],
            f"ray, {workers} workers × 1 thread": ["--cluster", "ray", "--workers",
                                                   str(workers), "--threads", "1"]}


def run(name: str, flags: list[str], corpus: Path, vocab: Path, epochs: int, folder: Path,
        pair_sets: dict) -> dict:
    from w2v.evaluate import evaluate
    from w2v.vectors import Embeddings

    out = folder / "vectors.txt"
    cmd = ["w2v-train", str(corpus), "--vocab", str(vocab), "--epochs", str(epochs), "-o",
           str(out), *flags]
    tick = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - tick
    if done.returncode:
        sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
    summary = done.stdout
    result = {"system": name, "wall_seconds": wall,
              "words_per_second": float(re.search(r"\| ([\d,]+) words/s", summary)[1].replace(",", "")),
              "train_seconds": float(re.search(r" in ([\d.]+) s \|", summary)[1]),
              "summary": summary.strip()}
    traffic = re.search(r"(\d+) syncs.*sent ([\d,.]+) MB, received ([\d,.]+) MB", summary)
    if traffic:
        result.update(syncs=int(traffic[1]), sent_mb=float(traffic[2].replace(",", "")),
                      received_mb=float(traffic[3].replace(",", "")))
        timing = re.search(r"rounds ([\d,.]+) s, of which synchronising ([\d,.]+) s", summary)
        result.update(round_seconds=float(timing[1].replace(",", "")),
                      sync_seconds=float(timing[2].replace(",", "")))
    result.update(evaluate(Embeddings.load(out), pair_sets))
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default="data/novels.txt.gz")
    p.add_argument("--words", type=int, default=None)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workers", type=int, default=2, help="Ray workers, one thread each")
    p.add_argument("--line-words", type=int, default=1_000,
                   help="cut the corpus into lines of this many words (default 1,000)")
    p.add_argument("--pair-set", action="append", default=[], metavar="NAME=FILE")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    pair_sets = dict(item.split("=", 1) for item in args.pair_set)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        corpus, vocab = folder / "corpus.txt", folder / "vocab.tsv"
        words = write_split_copy(Path(args.corpus), corpus, args.words, args.line_words)
        from w2v.tools import vocab_main

        vocab_main([str(corpus), "-o", str(vocab)])
        compared = systems(args.workers)
        runs = {name: [] for name in compared}
        for r in range(args.rounds):
            for name, flags in compared.items():
                runs[name].append(run(name, flags, corpus, vocab, args.epochs, folder,
                                      pair_sets))
                print(f"round {r + 1} {name}: {runs[name][-1]['words_per_second']:,.0f} words/s",
                      file=sys.stderr)
    names = ["analogy", "wordsim353", "simlex999", *pair_sets]
    median = {n: {k: statistics.median(x[k] for x in v) for k in v[0]
                  if isinstance(v[0][k], (int, float))} for n, v in runs.items()}
    base = median[ONE_PROCESS]["words_per_second"]
    lines = [f"{words:,} words of {Path(args.corpus).name} in {args.line_words:,}-word lines, "
             f"{args.epochs} epoch(s), dim 100, "
             f"default sync period and rule; median of {args.rounds} interleaved rounds "
             f"(words/s over training time; wall includes start-up)", "",
             "| run | words/s | vs 1 process | wall s | syncs | sent MB | sent B/word | "
             "sync s (of rounds s) | " + " | ".join(names) + " |",
             "|---|---|---|---|---|---|---|---|" + "---|" * len(names)]
    for name, m in median.items():
        per_word = m.get("sent_mb", 0) * 1e6 / (words * args.epochs)
        timing = (f"{m['sync_seconds']:.1f} ({m['round_seconds']:.1f})" if "sync_seconds" in m
                  else "—")
        lines.append(f"| {name} | {m['words_per_second']:,.0f} | {m['words_per_second'] / base:.2f}× | "
                     f"{m['wall_seconds']:.0f} | {m.get('syncs', 0):.0f} | {m.get('sent_mb', 0):,.0f} | "
                     f"{per_word:,.0f} | {timing} | " + " | ".join(f"{m[n]:.3f}" for n in names) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        write_results(args.out, "benchmarks.ray_local", argv, text,
                      {"corpus": args.corpus, "words": words, "runs": runs, "median": median})


if __name__ == "__main__":
    main()
