"""Soak: a long run stopped by SIGTERM again and again and resumed each time, against the same
run never stopped: both must reach the same quality.

    python -m benchmarks.soak --corpus ../shared/corpora/gut8.gz --out benchmarks/results/soak

Both runs are real `w2v-train` processes (numba backend, all cores, --checkpoint-every 0.5).
The interrupted one is sent SIGTERM a random 0–`--max-delay` seconds after each checkpoint
it writes, `--stops` times, each time resumed with `w2v-train --resume`; then it runs to
the end. With several threads the runs differ in their Hogwild races, so the comparison
is of quality (analogy, WordSim353, SimLex-999, and --pair-set files), not of bits (the
one-thread bit-for-bit property is tests/test_checkpoint.py's).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def cli(args: list) -> list[str]:
    return [sys.executable, "-m", "w2v.cli", *map(str, args)]


def wait_for_new(path: Path, process: subprocess.Popen, before: int) -> None:
    while process.poll() is None:
        if path.exists() and path.stat().st_mtime_ns != before:
            return
        time.sleep(0.2)


def main(argv=None):
    from benchmarks.compare_gensim import machine
    from w2v.checkpoint import Checkpoint
    from w2v.evaluate import evaluate
    from w2v.vectors import Embeddings

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default="data/novels.txt.gz")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--stops", type=int, default=6)
    p.add_argument("--max-delay", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=0, help="of the stop moments")
    p.add_argument("--pair-set", action="append", default=[], metavar="NAME=PATH")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    pair_sets = dict(s.split("=", 1) for s in args.pair_set)
    rng = np.random.default_rng(args.seed)
    report = {"corpus": args.corpus, "epochs": args.epochs, "stops": [], "machine": machine()}

    def save():
        if args.out:
            Path(args.out + ".json").write_text(json.dumps(report, indent=1) + "\n")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        settings = ["--epochs", args.epochs, "-q", "--binary"]
        tick = time.perf_counter()
        subprocess.run(cli([args.corpus, "-o", tmp / "straight.bin", *settings]), check=True)
        report["straight_seconds"] = time.perf_counter() - tick
        save()
        checkpoint = tmp / "run.ckpt"
        fresh = [args.corpus, "-o", tmp / "stopped.bin", *settings, "--checkpoint", checkpoint,
                 "--checkpoint-every", "0.5"]
        tick = time.perf_counter()
        while len(report["stops"]) < args.stops:
            before = checkpoint.stat().st_mtime_ns if checkpoint.exists() else 0
            command = cli(["--resume", checkpoint, "-q"] if checkpoint.exists() else fresh)
            process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
            wait_for_new(checkpoint, process, before)
            delay = float(rng.uniform(0, args.max_delay))
            try:
                process.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGTERM)
            status = process.wait()
            if status == 0:
                break  # it finished before the stop came
            position = Checkpoint.load(checkpoint).position
            report["stops"].append({"status": status, "delay": delay, "epoch": position.epoch,
                                    "chunk": position.chunk, "words": position.words,
                                    "message": process.stderr.read().strip()})
            print(report["stops"][-1], file=sys.stderr, flush=True)
            save()
        # to the end (a finished checkpoint only writes the vectors, if a stop came first)
        subprocess.run(cli(["--resume", checkpoint, "-q"]), check=True)
        report["stopped_seconds"] = time.perf_counter() - tick
        report["quality"] = {
            name: evaluate(Embeddings.load_word2vec_format(tmp / f"{name}.bin", binary=True),
                           pair_sets) for name in ("straight", "stopped")}
        save()
    q = report["quality"]
    keys = [k for k in q["straight"] if not k.endswith("_oov")]
    table = ["| run | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for name in ("straight", "stopped"):
        table.append(f"| {name} | " + " | ".join(f"{q[name][k]:.4f}" for k in keys) + " |")
    where = ", ".join(f"{s['epoch']}.{s['chunk']}" for s in report["stops"])
    text = "\n".join(table) + (
        f"\n\n{len(report['stops'])} stops by SIGTERM (at epoch.chunk {where}), each resumed; "
        f"{args.epochs} epochs of {args.corpus}, numba, {os.cpu_count()} threads; "
        f"{report['machine']}\n")
    print(text)
    if args.out:
        Path(args.out + ".md").write_text(text)


if __name__ == "__main__":
    main()
