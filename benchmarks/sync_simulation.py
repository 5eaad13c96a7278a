"""What periodic sparse synchronisation costs in quality, simulated on one machine.

    python -m benchmarks.sync_simulation --corpus ../shared/corpora/gut8.gz \\
        --pair-set men=../shared/eval/EN-MEN-TR-3k.txt --out benchmarks/results/sync_simulation

W simulated workers (w2v.scaleout.sync.LocalTeam: each worker's shard trained in turn from the same
synchronised state, one numba thread each, exactly the arithmetic of a Ray cluster in
deterministic mode). By default: W = 1, and W = 2, 4, 8, 16 with the default rule
(curvature, its κ by W) and with mean, each at the default period (25,000 / (W − 1) words
a worker between syncs). --jobs W:PERIOD:RULE[@X],... runs any others (X: the saturating
rule's ρ, or the curvature rule's κ), and --merge adds an earlier run's results. Each run
is its own subprocess; --parallel runs go at once (each single-threaded); a run that
diverges is reported as such. Reports analogy accuracy and word-pair Spearman against the
one-worker run on the same lines with the same seed, the traffic, a table and a PNG (the
default rule and period also drawn as one line: each W's runs at its default κ).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks import write_results
from w2v.scaleout.sync import SYNC_RULE, SYNC_WORDS, default_curvature, default_sync_words

WORKERS = (1, 2, 4, 8, 16)


def run_one(corpus: str, vocab: str, workers: int, sync_words: int, rule: str, epochs: int,
            pair_sets: dict, seed: int = 1) -> dict:
    from w2v.callbacks import Reporter
    from w2v.config import TrainConfig
    from w2v.driver import drive
    from w2v.evaluate import evaluate
    from w2v.scaleout import sync
    from w2v.scaleout.sync import LocalTeam, ShardWorker, SyncBackend
    from w2v.streams import initial_tables
    from w2v.vectors import Embeddings
    from w2v.vocab import Vocabulary

    config = TrainConfig(epochs=epochs, threads=1, backend="numba", seed=seed)
    vocabulary = Vocabulary.load(vocab)
    tables = initial_tables(len(vocabulary), config.dim, config.seed,
                            config.output_rows(len(vocabulary)))
    tick = time.perf_counter()
    team = LocalTeam([ShardWorker([corpus], w, workers, vocabulary, config, tables, sync_words)
                      for w in range(workers)])
    rule, _, strength = rule.partition("@")  # saturating@0.02: the rule's ρ; curvature@0.05: κ
    given = float(strength) if strength else None
    backend = SyncBackend(team, config, tables, vocabulary, workers, 1, sync_words, rule,
                          curvature=given if rule == "curvature" else None,
                          saturation=given if rule == "saturating" else None)
    try:
        loss = drive(backend, config, Reporter(backend.corpus_words * epochs, epochs,
                                               vocabulary.words)).final_loss
        scores = evaluate(Embeddings(vocabulary.words, backend.tables()[0]), pair_sets)
    except FloatingPointError:  # diverged: the reporter stops a run whose loss is not finite
        loss, scores = None, {"diverged": True}
    finally:
        stats = backend.traffic()
        backend.close()
    if rule == "saturating":
        rule = f"saturating (ρ = {backend.saturation:g})"
    elif rule == "curvature":
        rule = f"curvature (κ = {backend.curvature:g})"
    return {"workers": workers, "sync_words": sync_words, "rule": rule, "epochs": epochs,
            "seed": seed,
            "wire": sync.WIRE,
            "seconds": time.perf_counter() - tick, "loss": loss, "syncs": stats.syncs,
            "sent_mb": stats.sent_bytes / 1e6, "received_mb": stats.received_bytes / 1e6,
            **scores}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default="data/novels.txt.gz")
    p.add_argument("--words", type=int, default=None, help="use this prefix (default: all)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--parallel", type=int, default=2)
    p.add_argument("--pair-set", action="append", default=[], metavar="NAME=FILE")
    p.add_argument("--out", default=None, help="write OUT.json, OUT.md and OUT.png")
    p.add_argument("--jobs", default=None, metavar="W:SYNC:RULE,...",
                   help="run these instead of the default set (e.g. 2:100000:sum)")
    p.add_argument("--merge", default=None, metavar="JSON",
                   help="add the results of an earlier run of this script (same corpus and "
                        "epochs) to the report")
    p.add_argument("--seed", type=int, default=1, help="TrainConfig.seed of every run")
    p.add_argument("--line-words", type=int, default=1_000,
                   help="cut the corpus into lines of this many words (a worker's round is "
                        "whole lines: short periods need short lines; default 1,000)")
    p.add_argument("--run-one", nargs=7,
                   metavar=("CORPUS", "VOCAB", "W", "SYNC", "RULE", "EPOCHS", "SEED"),
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    pair_sets = dict(item.split("=", 1) for item in args.pair_set)
    if args.run_one:
        c, v, w, s, r, e, seed = args.run_one
        print(json.dumps(run_one(c, v, int(w), int(s), r, int(e), pair_sets, int(seed))))
        return
    from benchmarks.compare_gensim import write_split_copy

    with tempfile.TemporaryDirectory() as tmp:
        corpus, vocab = Path(tmp) / "corpus.txt", Path(tmp) / "vocab.tsv"
        words = write_split_copy(Path(args.corpus), corpus, args.words, args.line_words)
        from w2v.tools import vocab_main

        vocab_main([str(corpus), "-o", str(vocab)])
        jobs = [(1, default_sync_words(1), SYNC_RULE)]
        jobs += [(w, default_sync_words(w), rule) for rule in (SYNC_RULE, "mean")
                 for w in WORKERS[1:]]
        if args.jobs:
            jobs = [(int(w), int(s), r) for w, s, r in (j.split(":") for j in args.jobs.split(","))]

        def launch(job):
            w, s, r = job
            cmd = [sys.executable, "-m", "benchmarks.sync_simulation", "--run-one", str(corpus),
                   str(vocab), str(w), str(s), r, str(args.epochs), str(args.seed)]
            for item in args.pair_set:
                cmd += ["--pair-set", item]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"{job} failed:\n{out.stderr[-3000:]}")
            result = {**json.loads(out.stdout.strip().splitlines()[-1]),
                      "line_words": args.line_words}
            print(f"W={w} sync={s:,} {r}: analogy {result.get('analogy', 0):.3f} "
                  f"({result['seconds']:.0f} s)", file=sys.stderr)
            return result

        with ThreadPoolExecutor(args.parallel) as pool:
            results = list(pool.map(launch, jobs))
    if args.merge:
        earlier = json.loads(Path(args.merge).read_text())
        assert (earlier["words"], earlier["epochs"]) == (words, args.epochs), "not comparable"
        results = earlier["results"] + results
    report = {"corpus": args.corpus, "words": words, "epochs": args.epochs,
              "results": results}
    text = table(report, list(pair_sets))
    print(text)
    if args.out:
        write_results(args.out, "benchmarks.sync_simulation", argv, text, report)
        plot(report, list(pair_sets), args.out + ".png")


def table(report: dict, extra: list[str]) -> str:
    results = report["results"]
    names = ["analogy", "wordsim353", "simlex999", *extra]
    lines = [f"Simulated workers on {report['words']:,} words of {Path(report['corpus']).name}, "
             f"{report['epochs']} epochs, dim 100, one numba thread per worker; sync period = "
             f"words each worker trains between syncs; Δ = score − one worker's.", "",
             "| workers | sync period | rule | wire | lines | syncs | sent MB | sent B/word | " +
             " | ".join(f"{n} (Δ)" for n in names) + " |",
             "|---|---|---|---|---|---|---|---|" + "---|" * len(names)]
    trained = report["words"] * report["epochs"]
    for r in sorted(results, key=lambda r: (r["workers"] > 1, r["rule"], r["sync_words"] *
                                            r["workers"], r["workers"])):
        one = baseline(results, r)
        cells = " | ".join("diverged" if r.get("diverged") else f"{r[n]:.3f}" +
                           (f" ({r[n] - one[n]:+.3f})" if one else " (no one-worker run)")
                           for n in names)
        period = "—" if r["workers"] == 1 else f"{r['sync_words']:,}"
        lines.append(f"| {r['workers']} | {period} | {r['rule']} | {r.get('wire', 'float32')} | "
                     f"{r.get('line_words', 10_000):,} | {r['syncs']} | {r['sent_mb']:,.0f} | "
                     f"{r['sent_mb'] * 1e6 / trained:,.0f} | {cells} |")
    return "\n".join(lines) + "\n"


def baseline(results: list[dict], run: dict) -> dict | None:
    """The one-worker run that `run` is measured against: same corpus lines and seed."""
    def key(r):
        return r.get("line_words", 10_000), r.get("seed", 1)

    return next((r for r in results if r["workers"] == 1 and key(r) == key(run)), None)


# issue 16's targets: the least Δ against one worker each worker count may cost
TARGETS = {"analogy": {2: -0.01, 4: -0.02, 8: -0.03, 16: -0.05},
           "wordsim353": {2: -0.01, 4: -0.02, 8: -0.03, 16: -0.05}}


def plot(report: dict, extra: list[str], path: str) -> None:
    """Δ against one worker (same lines, same seed; the mean over seeds where several ran)
    by worker count, a line per method (rule, period, wire, corpus lines) measured at three
    worker counts or more; the targets as black bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = [r for r in report["results"] if r["workers"] > 1 and not r.get("diverged")
               and baseline(report["results"], r)]
    names = ["analogy", "wordsim353", "simlex999", *extra]
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 5.2))

    def methods(r) -> list[tuple]:
        """The lines a run is drawn on: its rule's, and the default's if it is that."""
        w, every = r["workers"], r["sync_words"]
        default_period = every == default_sync_words(w)
        period = (f"{SYNC_WORDS:,} / (W − 1) words a worker (the default)" if default_period
                  else "200,000 / W words a worker" if every * w == 200_000 else
                  f"{every:,} words a worker")
        rest = (period, r.get("wire", "float32"), r.get("line_words", 10_000))
        drawn = [(r["rule"], *rest)]
        if default_period and r["rule"] == f"{SYNC_RULE} (κ = {default_curvature(w):g})":
            drawn.append((f"{SYNC_RULE} (κ by W: the default)", *rest))
        return drawn

    for ax, name in zip(axes, names):
        for key in sorted({m for r in results for m in methods(r)}):
            runs = [r for r in results if key in methods(r)]
            workers = sorted({r["workers"] for r in runs})
            if len(workers) < 3:
                continue
            deltas = [np.mean([r[name] - baseline(report["results"], r)[name]
                               for r in runs if r["workers"] == w]) for w in workers]
            rule, period, wire, lines = key
            ax.plot(workers, deltas, "s:" if rule.startswith("mean") else "o-",
                    label=f"{rule}, {period}, {wire}, {lines:,}-word lines")
        for workers, least in TARGETS.get(name, {}).items():
            ax.plot([workers / 1.15, workers * 1.15], [least, least], "k-", lw=2)
        ax.axhline(0, color="grey", lw=0.8, ls="--")
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(WORKERS[1:]), [str(w) for w in WORKERS[1:]])
        ax.set_xlabel("simulated workers")
        ax.set_title(f"{name}: Δ against one worker")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=8)
    fig.tight_layout(rect=(0, 0.3, 1, 1))
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
