"""Words/s of the numba backend on Ray for 2-64 nodes, projected from what was measured.

    python -m benchmarks.scaling_projection --out benchmarks/results/scaling_projection

Reads three committed results and writes a table (docs/SCALING.md quotes it):
  sync_simulation.json  bytes each worker sends and receives per sync, at the default rule
                        and period, for 2, 4, 8 and 16 workers (gut8);
  ray_local.json        what a sync cost on this machine: the driver's seconds per sync
                        (gather, combine, send back, through Ray's object store) per byte
                        that passed through it;
  scaling.json          numba words/s of one thread on this machine.

The model, and its assumptions (each a number below, each a flag):
  - a round is R(W) words in all, each of W workers trains R(W) / W: by default
    R(W) = W × w2v.scaleout.sync.default_sync_words(W) (W × 25,000 / (W − 1): 50,000 at
    2, 26,656 at 16);
  - a worker trains at `--node-threads` × one thread's words/s × `--thread-efficiency`;
  - all bytes pass through the driver (Ray's driver combines): a sync costs
    W × (sent + received per worker) × max(the measured seconds per byte here,
    1 / `--bandwidth`), and workers wait for it (no overlap);
  - bytes per word trained, sent and received, are the simulation's at the default rule,
    period and wire (for a round of R words, R × that passes the driver); beyond 16
    workers they grow per doubling as they did from 8 to 16 (a worker's shorter stretch
    of text touches more distinct rows per word). 1,000,000 words a worker between syncs
    is shown too, with the bytes per word of the earlier simulation runs at that period
    (float32, quartered for the int8 wire); its quality was not measured with the
    saturating or curvature rules (with mean it lost 6 to 24 analogy points).
words/s(W) = R / (R / (W × node words/s) + sync seconds(W)).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from benchmarks import publish

RESULTS = Path(__file__).parent / "results"
NODES = (1, 2, 4, 8, 16, 32, 64)
# a row's bytes at d = 100 on the int8 wire, d + 8 (steps, scale, index), and on float32,
# 4d + 4 (values, index)
INT8_ROW_BYTES, FLOAT32_ROW_BYTES = 100 + 8, 4 * 100 + 4


def measured(results: Path) -> dict:
    """Per-worker bytes per sync (by W), seconds per byte through the driver here, and
    one thread's words/s here."""
    from w2v.scaleout.sync import (SYNC_RULE, SYNC_WORDS, WIRE, default_curvature,
                                   default_sync_words)

    sim = json.loads((results / "sync_simulation.json").read_text())
    per_worker = {}
    for r in sim["results"]:
        if (r["rule"] == f"{SYNC_RULE} (κ = {default_curvature(r['workers']):g})"
                and r.get("wire") == WIRE
                and r["workers"] > 1
                and r["sync_words"] == default_sync_words(r["workers"])
                and r.get("seed", 1) == 1 and not r.get("diverged")):
            trained = sim["words"] * sim["epochs"]  # bytes per word trained, all workers
            per_worker[r["workers"]] = {"sent": r["sent_mb"] * 1e6 / trained,
                                        "received": r["received_mb"] * 1e6 / trained}
    long_period = {}  # 1,000,000 words a worker: the earlier mean runs, on float32
    for r in sim["results"]:
        if r["sync_words"] == 1_000_000 and r["workers"] > 1:
            trained = sim["words"] * sim["epochs"]
            long_period[r["workers"]] = {
                k: r[f"{k}_mb"] * 1e6 / trained * INT8_ROW_BYTES / FLOAT32_ROW_BYTES
                for k in ("sent", "received")}
    ray = json.loads((results / "ray_local.json").read_text())["median"]
    team = next(m for name, m in ray.items() if name.startswith("ray"))
    through_driver = (team["sent_mb"] + team["received_mb"]) * 1e6
    scaling = json.loads((results / "scaling.json").read_text())
    rounds = next(v for k, v in scaling["threads"].items()
                  if k.startswith("numba") and k.endswith("-1"))  # one run per round
    one_thread = statistics.median(r["words_per_second"] for r in rounds)
    return {"per_worker": per_worker, "long_period": long_period, "seconds_per_byte": team["sync_seconds"] / through_driver,
            "sync_seconds_per_sync": team["sync_seconds"] / team["syncs"],
            "one_thread": one_thread,
            "round_words": {w: w * default_sync_words(w) for w in NODES},
            "sync_words": SYNC_WORDS}


def project(m: dict, threads: int, efficiency: float, bandwidth: float,
            period: str) -> list[dict]:
    """Projected words/s, per node count. period: "default" (rounds of R words, bytes per
    word as simulated at the default period) or "long" (1,000,000 words a worker)."""
    node = threads * m["one_thread"] * efficiency
    per_byte = max(m["seconds_per_byte"], 1 / bandwidth)
    table = m["per_worker"] if period == "default" else m["long_period"]
    known = sorted(table)
    growth = {k: table[known[-1]][k] / table[known[-2]][k] for k in ("sent", "received")}
    rows = []
    for w in NODES:
        if w == 1:
            rows.append({"nodes": 1, "words_per_second": node, "sync_share": 0.0})
            continue
        round_words = m["round_words"][w] if period == "default" else w * 1_000_000
        if w in table:
            per_word = table[w]
        else:  # beyond the simulation: growing per doubling as from its last doubling
            doublings = (w // known[-1]).bit_length() - 1
            per_word = {k: table[known[-1]][k] * growth[k] ** doublings
                        for k in ("sent", "received")}
        through_driver = round_words * (per_word["sent"] + per_word["received"])
        sync = through_driver * per_byte
        train = round_words / (w * node)
        rows.append({"nodes": w, "words_per_second": round_words / (train + sync),
                     "sync_share": sync / (train + sync), "mb_through_driver": through_driver / 1e6})
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", default=str(RESULTS))
    p.add_argument("--node-threads", type=int, default=32)
    p.add_argument("--thread-efficiency", type=float, default=0.8,
                   help="words/s of N threads over N × one thread's (1.5-1.8 on this 2-core "
                        "machine's 2 threads: benchmarks/results/scaling.md)")
    p.add_argument("--bandwidth", type=float, default=1.25e9, help="driver link, bytes/s")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    m = measured(Path(args.results))
    lines = [f"Measured: one numba thread {m['one_thread']:,.0f} words/s; a sync through "
             f"Ray's driver on this machine {m['sync_seconds_per_sync']:.3f} s "
             f"({m['seconds_per_byte'] * 1e9:.2f} ns a byte in and out); bytes per worker "
             f"and sync from the simulation. Assumed: {args.node_threads} threads a node at "
             f"{args.thread_efficiency:.0%} efficiency, a driver link of "
             f"{args.bandwidth * 8 / 1e9:.0f} Gbit/s, the default period: rounds of W × "
             f"{m['sync_words']:,} / (W − 1) words ({m['round_words'][2]:,} at 2 nodes, "
             f"{m['round_words'][16]:,} at 16, {m['round_words'][64]:,} at 64, where a worker's "
             f"share is the 1,000-word floor).", "",
             "| nodes | words/s | × one node | sync share of a round | MB through the driver a sync |",
             "|---|---|---|---|---|"]
    for machine, period, label in (
            ("a node", "default", "the default period"),
            ("a node", "long", "1,000,000 words a worker between syncs"),
            ("one thread a node", "default", "the default period")):
        threads = args.node_threads if machine == "a node" else 1
        rows = project(m, threads, args.thread_efficiency if threads > 1 else 1.0,
                       args.bandwidth, period)
        base = rows[0]["words_per_second"]
        lines.append(f"| **{machine}** ({threads} thread{'s' if threads > 1 else ''}), "
                     f"{label} | | | | |")
        for r in rows:
            lines.append(f"| {r['nodes']} | {r['words_per_second']:,.0f} | "
                         f"{r['words_per_second'] / base:.2f} | {r['sync_share']:.0%} | "
                         f"{r.get('mb_through_driver', 0):,.1f} |")
    publish(lines, args.out, "benchmarks.scaling_projection", argv, {"measured": m})


if __name__ == "__main__":
    main()
