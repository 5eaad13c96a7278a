"""The cuda backend on a real GPU: words/s and quality against gensim, and the scatter-add choice.

    python -m benchmarks.gpu --corpus ../shared/corpora/gut8.gz --out benchmarks/results/gpu_gut8

1. Scatter-add (kernels/cuda.py): atomic adds against sort + segment sums, for 2^20 rows of
   dim 100 at duplicate rates from 0 to 0.999; median of 5 timed calls each, after one
   warm-up. The crossover is what `SEGMENTS_ABOVE_DUPLICATE_RATE` should be.
2. Training: benchmarks/compare_gensim.py with the systems cuda (hogwild), cuda-batched,
   numba-shared and gensim (on the host's cores), interleaved rounds, median; the report
   names the GPU.

Writes OUT_scatter.json and OUT.json / OUT.md. Needs a CUDA GPU (numba.cuda) and gensim;
on a GPU machine without gensim, carry its wheels (and smart_open's, wrapt's) with it. With
NUMBA_ENABLE_CUDASIM=1 it runs on the simulator to check the script (`--smoke`: tiny sizes;
its timings mean nothing and it refuses to write under benchmarks/results/).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

DUPLICATE_RATES = (0.0, 0.5, 0.9, 0.99, 0.999)


def rows_with_duplicate_rate(n: int, rate: float, rng) -> np.ndarray:
    """(n,) int32 rows of which exactly round(n * (1 - rate)) are distinct, shuffled."""
    distinct = max(1, round(n * (1 - rate)))
    rows = np.concatenate([np.arange(distinct), rng.integers(0, distinct, n - distinct)])
    return rng.permutation(rows).astype(np.int32)


def time_scatter(n: int, dim: int, repeats: int) -> list[dict]:
    """Seconds per scatter_add call, both methods, at each duplicate rate."""
    from numba import cuda

    from w2v.kernels.cuda import duplicate_rate, scatter_add

    rng = np.random.default_rng(0)
    table = cuda.to_device(np.zeros((n, dim), np.float32))
    updates = cuda.to_device(rng.normal(size=(n, dim)).astype(np.float32))
    results = []
    for rate in DUPLICATE_RATES:
        rows = rows_with_duplicate_rate(n, rate, rng)
        device_rows = cuda.to_device(rows)
        row = {"duplicate_rate": duplicate_rate(rows)}
        for method in ("atomic", "segments"):
            scatter_add(table, device_rows, updates, method)  # compile and warm up
            cuda.synchronize()
            times = []
            for _ in range(repeats):
                tick = time.perf_counter()
                scatter_add(table, device_rows, updates, method)
                cuda.synchronize()
                times.append(time.perf_counter() - tick)
            row[method] = statistics.median(times)
        results.append(row)
        print(f"duplicate rate {row['duplicate_rate']:.3f}: atomic {row['atomic'] * 1e3:.2f} ms, "
              f"segments {row['segments'] * 1e3:.2f} ms", file=sys.stderr, flush=True)
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default="data/novels.txt.gz")
    p.add_argument("--out", default=None, help="write OUT.json, OUT.md and OUT_scatter.json")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--systems", default="cuda,cuda-batched,numba-shared,gensim")
    p.add_argument("--pair-set", action="append", default=[], metavar="NAME=PATH")
    p.add_argument("--smoke", action="store_true",
                   help="tiny sizes, to check the script (on the simulator)")
    args = p.parse_args(argv)

    from numba import cuda

    from w2v.kernels.cuda import device_name, simulated

    if not simulated() and not cuda.is_available():
        sys.exit("benchmarks.gpu: no CUDA GPU here (numba.cuda.is_available() is False): "
                 "nothing measured")
    if importlib.util.find_spec("gensim") is None:
        sys.exit("benchmarks.gpu: gensim is not installed: it scores quality and is the peer")
    if simulated() and args.out and "results" in Path(args.out).parts:
        sys.exit("benchmarks.gpu: simulator timings mean nothing: not writing under results/")
    print(f"device: {device_name()}", file=sys.stderr)

    n, dim, repeats = (256, 8, 1) if args.smoke else (1 << 20, 100, 5)
    scatter = {"device": device_name(), "rows": n, "dim": dim, "repeats": repeats,
               "seconds": time_scatter(n, dim, repeats)}
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out + "_scatter.json").write_text(json.dumps(scatter, indent=1) + "\n")

    from benchmarks import compare_gensim

    compare = ["--corpus", args.corpus, "--systems", args.systems, "--rounds", str(args.rounds),
               "--epochs", str(args.epochs)]
    compare += [a for s in args.pair_set for a in ("--pair-set", s)]
    if args.smoke:
        compare += ["--max-words", "600", "--dim", "8", "--min-count", "1"]
    if args.out:
        compare += ["--out", args.out]
    compare_gensim.main(compare)


if __name__ == "__main__":
    main()
