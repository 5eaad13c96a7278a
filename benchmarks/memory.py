"""Peak memory is bounded by the vocabulary, not the corpus: a corpus, the same corpus 8 times
over, and one line of about 1 GB.

    python -m benchmarks.memory --corpus ../shared/corpora/gut8.gz --out benchmarks/results/memory

1. `--words` words of the corpus (lines of ≤ 10,000 words) against a file holding those
   lines 8 times, trained with min_count 5 and 40: the same vocabulary (each count is 8×),
   8× the text. One epoch each with the numba backend, each in its own process; peak RSS
   (ru_maxrss) of that process.
2. A file of one line, no newline at all, of at least `--big-bytes` bytes (the corpus's
   words repeated): trained for one epoch, its peak RSS reported next to its size.

Writes OUT.json and OUT.md as it goes (each result as soon as it is measured).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, resource, sys, time
from w2v.config import TrainConfig
from w2v.trainer import train
tick = time.perf_counter()
vectors, summary = train(sys.argv[1], TrainConfig(epochs=1, threads=int(sys.argv[2]),
                                                  min_count=int(sys.argv[3])))
print(json.dumps({"words": summary.corpus_words, "vocab": summary.vocab_size,
                  "seconds": time.perf_counter() - tick,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(path: Path, threads: int, min_count: int = 5) -> dict:
    result = subprocess.run([sys.executable, "-c", CHILD, str(path), str(threads), str(min_count)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"training on {path} failed:\n{result.stderr[-2000:]}")
    row = json.loads(result.stdout.strip().splitlines()[-1])
    row["file_mb"] = path.stat().st_size / 2**20
    print(f"{path.name}: {row}", file=sys.stderr, flush=True)
    return row


def markdown(report: dict) -> str:
    lines = ["| corpus | file MB | words | vocabulary | seconds (count, encode, train) | peak RSS MB |",
             "|---|---|---|---|---|---|"]
    for name, r in report["runs"].items():
        lines.append(f"| {name} | {r['file_mb']:,.0f} | {r['words']:,} | {r['vocab']:,} | "
                     f"{r['seconds']:.0f} | {r['peak_rss_mb']:,.0f} |")
    runs = report["runs"]
    if "8×" in runs:
        ratio = runs["8×"]["peak_rss_mb"] / runs["1×"]["peak_rss_mb"]
        lines += ["", f"peak RSS 8× / 1×: {ratio:.3f} (target: below 1.20)"]
    lines += ["", report["machine"]]
    return "\n".join(lines) + "\n"


def main(argv=None):
    from benchmarks.compare_gensim import machine, write_split_copy

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default="data/novels.txt.gz")
    p.add_argument("--words", type=int, default=2_000_000)
    p.add_argument("--big-bytes", type=int, default=10**9, help="0: skip the one-line file")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    report = {"corpus": args.corpus, "words": args.words, "runs": {}, "machine": machine()}

    def save():
        if args.out:
            Path(args.out + ".json").write_text(json.dumps(report, indent=1) + "\n")
            Path(args.out + ".md").write_text(markdown(report))

    with tempfile.TemporaryDirectory() as tmp:
        once, eight, line = Path(tmp) / "once.txt", Path(tmp) / "eight.txt", Path(tmp) / "line.txt"
        write_split_copy(Path(args.corpus), once, args.words)
        text = once.read_bytes()
        with open(eight, "wb") as f:
            for _ in range(8):
                f.write(text)
        report["runs"]["1×"] = measure(once, args.threads)
        save()
        report["runs"]["8×"] = measure(eight, args.threads, min_count=5 * 8)
        save()
        eight.unlink()
        if args.big_bytes:
            flat = text.replace(b"\n", b" ")
            with open(line, "wb") as f:
                written = 0
                while written < args.big_bytes:
                    f.write(flat)
                    written += len(flat)
            tick = time.perf_counter()
            report["runs"][f"one line, {written / 1e9:.2f} GB, no newline"] = measure(
                line, args.threads)
            report["big_seconds"] = time.perf_counter() - tick
            save()
    print(markdown(report))


if __name__ == "__main__":
    main()
