"""The keras backend on tf.distribute, measured here: one process against two workers on
loopback, and the inputs of docs/SCALING.md's cost model.

    python -m benchmarks.distributed --corpus ../shared/corpora/gut8.gz --words 1000000 \\
        --pair-set men=../shared/eval/EN-MEN-TR-3k.txt --out benchmarks/results/distributed

Runs, each a real w2v-train (its own processes), interleaved for --rounds rounds:
  keras       one process, --threads 2 (the baseline: all of this machine)
  mirrored-2  one process, --distribute mirrored --devices 2 (two logical CPUs)
  workers-2   two processes, --distribute multiworker on 127.0.0.1 (each --threads 1)
and reports the median words/s, what each replica all-gathers per step (the run's own
count of rows, after and before merging duplicates), and the quality of the vectors.
Rows per step: for batch sizes 10^3..10^5, the rows a batch touches after merging
(numpy, no TensorFlow), the figure the cost model scales.
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import write_results
from benchmarks.compare_gensim import write_split_copy

SYSTEMS = ("keras", "mirrored-2", "workers-2")
SETTINGS = ["--epochs", "1", "--dim", "100", "--batch-size", "1024", "-o"]


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run(system: str, corpus: Path, vocab: Path, folder: Path, pair_sets: dict) -> dict:
    """Train with `system`; returns words/s, the traffic line's figures and the scores."""
    out = folder / f"{system}.txt"
    base = ["w2v-train", str(corpus), "--vocab", str(vocab), *SETTINGS, str(out)]
    if system == "keras":
        commands = [base + ["--backend", "keras", "--threads", "2"]]
    elif system == "mirrored-2":
        commands = [base + ["--distribute", "mirrored", "--devices", "2"]]
    else:
        workers = ",".join(f"127.0.0.1:{p}" for p in free_ports(2))
        commands = [base + ["--distribute", "multiworker", "--workers", workers,
                            "--worker-index", str(i), "--threads", "1"] for i in range(2)]
    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": sys.prefix + "/bin:/usr/bin:/bin"}
    started = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for c in commands]
    outputs = [p.communicate(timeout=3600) for p in procs]
    wall = time.perf_counter() - started
    for p, (_, err) in zip(procs, outputs):
        if p.returncode:
            sys.exit(f"{system} failed:\n{err[-3000:]}")
    text = outputs[0][0]
    result = {"system": system, "wall_seconds": wall,
              "words_per_second": float(re.search(r"\| ([\d,]+) words/s", text)[1].replace(",", ""))}
    traffic = re.search(r"([\d,]+) rows = ([\d,.]+) kB after merging duplicates "
                        r"\(([\d,.]+) kB unmerged", text)
    if traffic:
        result.update(rows_per_step=float(traffic[1].replace(",", "")),
                      kb_per_step=float(traffic[2].replace(",", "")),
                      unmerged_kb_per_step=float(traffic[3].replace(",", "")))
    from w2v.evaluate import evaluate
    from w2v.vectors import Embeddings

    result.update(evaluate(Embeddings.load(out), pair_sets))
    return result


def rows_per_batch(corpus: Path, vocab_path: Path, sizes: list[int], negative: int = 5) -> dict:
    """Median over 5 batches of the distinct rows a batch of each size touches (input rows
    + output rows, after merging duplicates), on this corpus's real pairs and negatives."""
    from w2v.config import TrainConfig
    from w2v.prepare import encode, sentences_of
    from w2v.streams import epoch_streams
    from w2v.vocab import Vocabulary

    vocab = Vocabulary.load(vocab_path)
    config = TrainConfig(negative=negative, batch_size=max(sizes))
    batches = encode(sentences_of([corpus], config), vocab, config)
    try:
        streams = epoch_streams(config.seed, 0, range(1))[0]
        pool = np.concatenate([b for b, _ in zip(batches.epoch(streams), range(5))])
        pairs = batches.count_pairs(streams)
    finally:
        batches.encoded.close()
    table = {"pairs_per_epoch": pairs, "vocabulary": len(vocab)}
    for size in sizes:
        counts = []
        for k in range(5):
            batch = pool[k * size:(k + 1) * size]
            if len(batch) < size:
                break
            counts.append(len(np.unique(batch[:, 0])) + len(np.unique(batch[:, 1:])))
        table[size] = {"rows": statistics.median(counts), "unmerged": size * (2 + negative)}
    return table


def apply_seconds_per_value(vocab_size: int = 100_000, dim: int = 100, rows: int = 20_000) -> float:
    """Measured: seconds to add one float of a gathered row into a table (NumPy fancy-index
    add of `rows` distinct rows, median of 5), the cost every worker pays per row it
    receives."""
    rng = np.random.default_rng(0)
    table = np.zeros((vocab_size, dim), np.float32)
    index = rng.choice(vocab_size, rows, replace=False)
    values = rng.standard_normal((rows, dim)).astype(np.float32)
    times = []
    for _ in range(5):
        tick = time.perf_counter()
        table[index] -= values
        times.append(time.perf_counter() - tick)
    return statistics.median(times) / (rows * dim)


BANDWIDTH = 10e9 / 8  # bytes/s: a 10 Gbit/s link per worker, stated, not measured here
ROW_BYTES = {100: 4 * 100 + 4, 300: 4 * 300 + 4}  # float32 row and its int32 index


def cost_model(report: dict) -> list[str]:
    """docs/SCALING.md's table: bytes a worker receives per step, sparse all-gather (ring:
    (W − 1) × the rows each replica sends) against a dense ring all-reduce of both V×d
    tables (2 (W − 1) / W × 2 V d 4 bytes), and the step's compute, all per step."""
    rows = report["rows_per_batch"]
    words, wps = report["words"], report["median"]["keras"]["words_per_second"]
    step_seconds = (words / wps) / (rows["pairs_per_epoch"] / 1024)  # measured, batch 1024
    per_value = report["apply_seconds_per_value"]
    lines = [f"Measured inputs: a batch of 1,024 pairs takes {step_seconds * 1e3:.1f} ms here "
             f"(one process, 2 cores, dim 100; scaled linearly with batch and dim below); "
             f"applying a received row costs {per_value * 1e9:.2f} ns per float; "
             f"rows a batch touches from the table above (vocabulary {rows['vocabulary']:,}: "
             f"a larger vocabulary repeats fewer rows, so these kept shares are a lower bound "
             f"there); link {BANDWIDTH * 8 / 1e9:.0f} Gbit/s (stated).", "",
             "| V | d | batch/replica | workers | sparse MB/step | dense MB/step | sparse / dense "
             "| network ms | compute + apply ms | network share |", "|---|---|---|---|---|---|---|---|---|---|"]
    for v in (100_000, 1_000_000, 3_000_000):
        for d in (100, 300):
            for b in (1_000, 10_000, 100_000):
                kept = rows[str(b)]["rows"] if str(b) in rows else rows[b]["rows"]
                for w in (2, 8, 64):
                    sparse = (w - 1) * min(kept, 2 * v) * ROW_BYTES[d]
                    dense = 2 * (w - 1) / w * 2 * v * d * 4
                    network = min(sparse, dense) / BANDWIDTH
                    # every worker applies every replica's rows: the scatter grows with w
                    compute = step_seconds * (b / 1024) * (d / 100) \
                        + (w - 1) * min(kept, 2 * v) * d * per_value
                    lines.append(f"| {v:.0e} | {d} | {b:,} | {w} | {sparse / 1e6:,.1f} | "
                                 f"{dense / 1e6:,.0f} | {sparse / dense:.3f} | "
                                 f"{network * 1e3:,.1f} | {compute * 1e3:,.1f} | "
                                 f"{network / (network + compute):.0%} |")
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default="data/novels.txt.gz")
    p.add_argument("--words", type=int, default=1_000_000, help="use this prefix")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--pair-set", action="append", default=[], metavar="NAME=FILE")
    p.add_argument("--out", default=None, help="write OUT.json and OUT.md")
    args = p.parse_args(argv)
    pair_sets = dict(item.split("=", 1) for item in args.pair_set)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        corpus = folder / "corpus.txt"
        words = write_split_copy(Path(args.corpus), corpus, args.words)
        vocab = folder / "vocab.tsv"
        subprocess.run(["w2v-vocab", str(corpus), "-o", str(vocab)], check=True,
                       capture_output=True)
        rows = rows_per_batch(corpus, vocab, [1_000, 10_000, 100_000])
        runs = {s: [] for s in SYSTEMS}
        for r in range(args.rounds):
            for system in SYSTEMS:
                runs[system].append(run(system, corpus, vocab, folder, pair_sets))
                print(f"round {r + 1} {system}: {runs[system][-1]['words_per_second']:,.0f} words/s",
                      file=sys.stderr)
    median = {s: {k: statistics.median(x[k] for x in v) for k in v[0] if k != "system"}
              for s, v in runs.items()}
    report = {"corpus": args.corpus, "words": words, "rounds": args.rounds, "settings": SETTINGS[:-1],
              "runs": runs, "median": median, "rows_per_batch": rows,
              "apply_seconds_per_value": apply_seconds_per_value()}
    lines = [f"tf.distribute on this machine ({words:,} words of {Path(args.corpus).name}, "
             f"1 epoch, dim 100, batch 1024 per replica; median of {args.rounds} interleaved "
             f"rounds)", "",
             "| run | words/s | vs one process | all-gather per replica-step (merged / unmerged) "
             "| analogy | WS353 | SimLex | " + " | ".join(pair_sets) + " |",
             "|---|---|---|---|---|---|---|" + "---|" * len(pair_sets)]
    base = median["keras"]["words_per_second"]
    for s in SYSTEMS:
        m = median[s]
        traffic = (f"{m['kb_per_step']:,.0f} kB / {m['unmerged_kb_per_step']:,.0f} kB"
                   if "kb_per_step" in m else "—")
        extra = "".join(f" {m.get(n, float('nan')):.3f} |" for n in pair_sets)
        lines.append(f"| {s} | {m['words_per_second']:,.0f} | {m['words_per_second'] / base:.2f}× | "
                     f"{traffic} | {m['analogy']:.3f} | {m['wordsim353']:.3f} | "
                     f"{m['simlex999']:.3f} |{extra}")
    lines += ["", "Distinct rows a batch touches (input + output tables, K = 5; median of 5 "
              "batches of this corpus):", "", "| batch | rows merged | rows unmerged | kept |",
              "|---|---|---|---|"]
    for size, r in ((k, v) for k, v in rows.items() if isinstance(v, dict)):
        lines.append(f"| {size:,} | {r['rows']:,.0f} | {r['unmerged']:,} | "
                     f"{r['rows'] / r['unmerged']:.1%} |")
    lines += ["", "Cost model (docs/SCALING.md):", "", *cost_model(report)]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        write_results(args.out, "benchmarks.distributed", argv, text, report)


if __name__ == "__main__":
    main()
