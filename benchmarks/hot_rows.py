"""What private copies of the hot rows could give two threads: the roofline probe's pairs with
each thread's P most frequent rows moved to rows of its own.

    python -m benchmarks.hot_rows --corpus ../shared/corpora/gut8.gz --words 2000000 \\
        --rounds 3 --out benchmarks/results/hot_rows

The pairs, tables and loop are benchmarks/roofline.py's (`sgns_pairs`, ids drawn
beforehand from the slice's frequencies). Before timing, every id below P in a thread's
share of the pairs is remapped to that thread's own copy of the row, past the shared table,
so the threads never write the same hot row; no merging is timed. That makes it an upper
bound on what the numba kernels could gain from stepping the hot rows in per-thread copies
merged every thousand predictions or so (as `private_rows` does for the tree's top nodes).
P = 0 is the shared table, the roofline's own probe. Rounds are interleaved; medians.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks import publish
from benchmarks.compare_gensim import GENSIM_LINE_WORDS, write_split_copy
from benchmarks.roofline import frequencies, sgns_pairs
from w2v.io.corpus import Corpus
from w2v.vocab import Vocabulary


def remapped(ids: np.ndarray, hot: int, first: int) -> np.ndarray:
    """int32 ids with each id below `hot` moved to row first + id (a thread's own copy of the
    hot rows, which begins at row `first`), the rest unchanged."""
    return np.where(ids < hot, ids + first, ids).astype(np.int32)


def hot_rows_probe(rows: int, hot: int, threads: int, pairs: int, kept, noise, repeats: int,
                   dim: int = 100, negative: int = 5) -> float:
    """Pairs/s, the best of `repeats` passes: `threads` threads on pre-drawn pairs over
    (rows, dim) float32 tables, each thread with its own copy of rows 0..hot-1 (the most
    frequent) in both tables."""
    rng = np.random.default_rng(1)
    centers = rng.choice(rows, pairs, p=kept).astype(np.int32)
    contexts = rng.choice(rows, pairs, p=kept).astype(np.int32)
    negatives = rng.choice(rows, (pairs, negative), p=noise).astype(np.int32)
    total = rows + threads * hot
    input_vectors = (rng.random((total, dim), dtype=np.float32) - 0.5) / dim
    output_vectors = np.zeros((total, dim), dtype=np.float32)
    shares = []
    for t, span in enumerate(np.array_split(np.arange(pairs), threads)):
        first = rows + t * hot  # where this thread's copies of the hot rows begin
        shares.append([remapped(ids, hot, first)
                       for ids in (centers[span], contexts[span], negatives[span])])
    sgns_pairs(centers[:10], contexts[:10], negatives[:10], input_vectors, output_vectors, 0.025)
    best = 0.0
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(repeats):
            tick = time.perf_counter()
            list(pool.map(lambda t: sgns_pairs(*shares[t], input_vectors, output_vectors, 0.025),
                          range(threads)))
            best = max(best, pairs / (time.perf_counter() - tick))
    return best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default="data/novels.txt.gz")
    p.add_argument("--words", type=int, default=2_000_000)
    p.add_argument("--pairs", type=int, default=2_000_000, help="pairs a timed pass trains")
    p.add_argument("--hot", default="0,30,100,300,1000", help="P values: private rows a thread")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median reported)")
    p.add_argument("--repeats", type=int, default=3, help="timed passes a probe (best kept)")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:  # the slice as compare_gensim copies it
        copy = Path(tmp) / "corpus.txt"
        write_split_copy(Path(args.corpus), copy, args.words, GENSIM_LINE_WORDS)
        vocab = Vocabulary.build(Corpus([copy]), 5)
    rows = len(vocab)
    kept, noise = frequencies(vocab.counts, rows, 1e-3)
    runs = {f"{args.threads} threads, P = {h}": (args.threads, int(h))
            for h in args.hot.split(",")}
    runs["1 thread"] = (1, 0)
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for r in range(args.rounds):
        for name, (threads, hot) in runs.items():
            rates[name].append(hot_rows_probe(rows, hot, threads, args.pairs, kept, noise,
                                              args.repeats))
            print(f"round {r + 1} {name}: {rates[name][-1]:,.0f} pairs/s", flush=True)
    single = statistics.median(rates["1 thread"])
    lines = [f"Two threads with private hot rows: the roofline's pairs ({Path(args.corpus).name}, "
             f"first {args.words:,} words, {rows:,} rows, dim 100, K = 5), each thread's P most "
             f"frequent rows moved to copies of its own; pairs/s, median of {args.rounds} "
             f"interleaved rounds (each the best of {args.repeats} passes).", "",
             "| run | pairs/s | per round | × 1 thread |", "|---|---|---|---|"]
    for name, values in rates.items():
        median = statistics.median(values)
        per_round = " / ".join(f"{v / 1e6:.2f}M" for v in values)
        lines.append(f"| {name} | {median:,.0f} | {per_round} | {median / single:.2f} |")
    publish(lines, args.out, "benchmarks.hot_rows", argv,
            {"rows": rows, "rates": rates, "single": single})


if __name__ == "__main__":
    main()
