"""Private hot rows in the numba kernels, measured: two threads' words/s when each steps the
P most frequent words' rows in copies of its own (w2v/backends/numba_backend.py's
`PrivateRows`, kernels/cpu.py's `thread_rows`), against P = 0 and against one thread.

    python -m benchmarks.private_rows --corpus ../shared/corpora/gut8.gz --words 2000000 \\
        --rounds 12 --out benchmarks/results/private_rows

One process. A pass trains one epoch of the slice from word2vec's start through the backend's
own `train_chunk`, as a run does, and reports words/s; the runs are interleaved, a round
each. Two threads on this machine run in one of two phases that change from minute to
minute, within a round too (README, "Two speeds for two threads"), so each run's rounds
are bimodal and a median mixes the phases in whatever share they fell. The table also
gives each run's best and slowest round: over enough rounds, its level in the fast phase
and in the slow one, each against P = 0's.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from benchmarks import interleaved, publish, rates_table
from benchmarks.compare_gensim import GENSIM_LINE_WORDS, write_split_copy
from w2v.backends.numba_backend import PrivateRows, chunk_kernel, train_chunk
from w2v.config import TrainConfig
from w2v.prepare import prepare
from w2v.streams import epoch_streams, initial_tables

KERNELS = {"windows": "skip-gram, negatives shared per window (the default)",
           "pairs": "skip-gram per pair (--no-shared-negatives)",
           "cbow": "CBOW, negative sampling"}


def epoch_rate(batches, words: int, config: TrainConfig, threads: int, private: PrivateRows,
               pool: ThreadPoolExecutor) -> float:
    """Words/s of one epoch of `batches` (a vocabulary of `words`) on `threads` threads from
    word2vec's start, the learning rate falling from config.alpha to config.min_alpha."""
    encoded = batches.encoded
    input_vectors, output_vectors = initial_tables(words, config.dim, config.seed,
                                                   config.output_rows(words))
    kernel = chunk_kernel(config)
    streams = epoch_streams(config.seed, 0, range(threads))
    total, fall = encoded.n_ids, config.alpha - config.min_alpha
    tick = time.perf_counter()
    for c in range(encoded.n_chunks):
        ids, ends = encoded.chunk(c)
        start = encoded.chunk_id_start(c)
        train_chunk(kernel, ids, ends, batches, input_vectors, output_vectors,
                    config.alpha - fall * start / total,
                    config.alpha - fall * (start + len(ids)) / total, streams,
                    pool if threads > 1 else None, private)
    return encoded.tokens / (time.perf_counter() - tick)


def levels_table(rates: dict[str, list[float]], shared: str) -> list[str]:
    """Markdown lines: each run's best and slowest round (words/s) and each over `shared`'s
    best and slowest."""
    lines = [f"| run | best round | × {shared} | slowest round | × {shared} |",
             "|---|---|---|---|---|"]
    for name, values in rates.items():
        lines.append(f"| {name} | {max(values):,.0f} | {max(values) / max(rates[shared]):.2f} "
                     f"| {min(values):,.0f} | {min(values) / min(rates[shared]):.2f} |")
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default="data/novels.txt.gz")
    p.add_argument("--words", type=int, default=2_000_000)
    p.add_argument("--kernels", default="windows,pairs", help=f"of {', '.join(KERNELS)}")
    p.add_argument("--hot", default="0,1000,3000", help="P values: hot words a thread")
    p.add_argument("--merge-every", type=int, default=PrivateRows().merge_every)
    p.add_argument("--rounds", type=int, default=12, help="interleaved rounds")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    kernels = args.kernels.split(",")
    with tempfile.TemporaryDirectory() as tmp:  # the slice as compare_gensim copies it
        copy = Path(tmp) / "corpus.txt"
        write_split_copy(Path(args.corpus), copy, args.words, GENSIM_LINE_WORDS)
        # one vocabulary and encoding for every kernel: the fused kernels read only the
        # batches' sampling, tree, window and negative, which the kernels share
        configs = {kernel: TrainConfig(threads=2, cbow=kernel == "cbow",
                                       alpha=0.05 if kernel == "cbow" else 0.025,
                                       shared_negatives=kernel != "pairs").validated()
                   for kernel in kernels}
        _, vocab, batches = prepare(str(copy), configs[kernels[0]])
        words = len(vocab)
    hots = [int(h) for h in args.hot.split(",")]
    lines = [f"Private hot rows: two threads' words/s, {Path(args.corpus).name}'s first "
             f"{args.words:,} words, one epoch a pass, dim 100, window 5, K = 5, each of two "
             f"threads stepping the P most frequent words' rows in copies of its own, merged "
             f"every {args.merge_every:,} predictions; {args.rounds} interleaved rounds.", ""]
    data = {"rounds": args.rounds, "merge_every": args.merge_every, "kernels": {}}
    with ThreadPoolExecutor(2) as pool:
        for kernel, config in configs.items():
            runs = {"1 thread": (1, PrivateRows(0, 0, args.merge_every))}
            runs.update({f"2 threads, P = {h:,}": (2, PrivateRows(h, PrivateRows().tree_nodes,
                                                                  args.merge_every))
                         for h in hots})
            for threads, private in runs.values():  # numba's cache, and the page cache
                epoch_rate(batches, words, config, threads, private, pool)
            rates = interleaved({name: partial(epoch_rate, batches, words, config, threads,
                                               private, pool)
                                 for name, (threads, private) in runs.items()}, args.rounds,
                                "words/s")
            lines += [f"**{KERNELS[kernel]}**", "",
                      *rates_table(rates, "1 thread", "1 thread", "words/s"), "",
                      *levels_table(rates, f"2 threads, P = {hots[0]:,}"), ""]
            data["kernels"][kernel] = {"rates": rates}
    batches.encoded.close()
    publish(lines, args.out, "benchmarks.private_rows", argv, data)


if __name__ == "__main__":
    main()
