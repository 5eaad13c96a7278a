"""What private copies of the hot rows could give two threads: the roofline probe's pairs with
each thread's P most frequent rows moved to rows of its own.

    python -m benchmarks.hot_rows --corpus ../shared/corpora/gut8.gz --words 2000000 \\
        --rounds 3 --out benchmarks/results/hot_rows

The pairs, tables and loop are benchmarks/roofline.py's (`probe` with `hot`: ids drawn
beforehand from the slice's frequencies). Before timing, every id below P in a thread's
share of the pairs is remapped to that thread's own copy of the row, past the shared table,
so the threads never write the same hot row; no merging is timed. That makes it an upper
bound on what the numba kernels gain from stepping the hot rows in per-thread copies merged
every few thousand predictions (kernels/cpu.py's `thread_rows`; benchmarks/private_rows.py
measures the kernels themselves).
P = 0 is the shared table, the roofline's own probe. Rounds are interleaved; medians.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from functools import partial
from pathlib import Path

from benchmarks import interleaved, publish, rates_table
from benchmarks.compare_gensim import GENSIM_LINE_WORDS, write_split_copy
from benchmarks.roofline import frequencies, probe
from w2v.io.corpus import Corpus
from w2v.vocab import Vocabulary


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
    rates = interleaved({name: partial(probe, rows, 100, 5, args.pairs, threads, kept, noise,
                                       args.repeats, hot=hot)
                         for name, (threads, hot) in runs.items()}, args.rounds)
    lines = [f"Two threads with private hot rows: the roofline's pairs ({Path(args.corpus).name}, "
             f"first {args.words:,} words, {rows:,} rows, dim 100, K = 5), each thread's P most "
             f"frequent rows moved to copies of its own; pairs/s, median of {args.rounds} "
             f"interleaved rounds (each the best of {args.repeats} passes).", "",
             *rates_table(rates, "1 thread", "1 thread")]
    publish(lines, args.out, "benchmarks.hot_rows", argv,
            {"rows": rows, "rates": rates, "single": statistics.median(rates["1 thread"])})


if __name__ == "__main__":
    main()
