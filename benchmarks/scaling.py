"""How the numba backend scales: with threads, and with corpus size.

    python -m benchmarks.scaling --corpus ../shared/corpora/gut8.gz --words 2000000 \\
        --threads 1,2 --out benchmarks/results/scaling

Thread table: numba and gensim words/s at each thread count on the first --words words
(median of --rounds interleaved runs). Size table: numba words/s and peak RSS on that text
repeated 1, 2 and 4 times: time should grow with the corpus and memory should not.
Every run is its own subprocess (`benchmarks.compare_gensim --run-one`), on a copy in
1,000-word lines, with compare_gensim's check that gensim trained every word it kept.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import publish
from benchmarks.compare_gensim import GENSIM_LINE_WORDS, checked_work, write_split_copy

NUMBA = "numba-shared"  # the numba backend as it trains by default (negatives shared per window)


def run(system: str, corpus: Path, threads: int, epochs: int) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.compare_gensim", "--run-one", system,
           "--corpus", str(corpus), "--threads", str(threads), "--epochs", str(epochs)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{system} failed:\n{out.stderr[-3000:]}")
    return checked_work(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default="data/novels.txt.gz")
    p.add_argument("--words", type=int, default=None, help="use this prefix (default: all)")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    thread_counts = [int(t) for t in args.threads.split(",")]
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "x1.txt"
        words = write_split_copy(Path(args.corpus), base, args.words, GENSIM_LINE_WORDS)
        runs = {(s, t): [] for t in thread_counts for s in (NUMBA, "gensim")}
        for _ in range(args.rounds):
            for (system, threads), results in runs.items():
                results.append(run(system, base, threads, args.epochs))
                print(system, threads, f"{results[-1]['words_per_second']:,.0f}", file=sys.stderr)
        med = {k: statistics.median(r["words_per_second"] for r in v) for k, v in runs.items()}
        lines += [f"Threads ({words:,} words, {args.epochs} epoch(s), median of {args.rounds}):", "",
                  "| threads | numba words/s | gensim words/s | numba / gensim | numba speed-up |",
                  "|---|---|---|---|---|"]
        for t in thread_counts:
            lines.append(f"| {t} | {med[NUMBA, t]:,.0f} | {med['gensim', t]:,.0f} | "
                         f"{med[NUMBA, t] / med['gensim', t]:.2f} | "
                         f"{med[NUMBA, t] / med[NUMBA, thread_counts[0]]:.2f} |")
        lines += ["", f"Corpus size (numba, {max(thread_counts)} threads, {args.epochs} epoch(s)):",
                  "", "| corpus | words | words/s | train s | peak RSS MB |", "|---|---|---|---|---|"]
        text = base.read_text()
        sizes = {}
        for times in (1, 2, 4):
            path = Path(tmp) / f"x{times}.txt"
            if times > 1:
                path.write_text(text * times)
            r = run(NUMBA, path, max(thread_counts), args.epochs)
            sizes[times] = r
            lines.append(f"| {times}× | {r['corpus_words']:,} | {r['words_per_second']:,.0f} | "
                         f"{r['train_seconds']:.1f} | {r['peak_rss_mb']:,.0f} |")
    publish(lines, args.out, "benchmarks.scaling", argv,
            {"threads": {f"{s}-{t}": v for (s, t), v in runs.items()}, "sizes": sizes})


if __name__ == "__main__":
    main()
