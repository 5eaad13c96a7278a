"""Side by side: our numba and keras backends, the keras model trained by autodiff, gensim.

    python -m benchmarks.compare_gensim --corpus ../shared/corpora/gut8.gz --out benchmarks/results/gut8

Every system trains on the same text with the same hyper-parameters and thread count, each
run in its own subprocess (so peak memory is its own), runs interleaved round by round, and
the table gives the median of the rounds. Words/s = corpus words × epochs / training seconds
(vocabulary building excluded for everyone), as word2vec and gensim report it.

gensim reads the text in corpus_file mode (its fastest) from a copy cut into 1,000-word
lines, and every system trains on that copy. corpus_file mode silently drops words two ways:
the rest of a line past 10,000 words (so on text8-style corpora it would train on 10,000
words), and, in every batch, the words its subsampling keeps past the 10,000th. Its reader
(word2vec_corpusfile.pyx, `next_batch`) fills a batch until it passes 10,000 words and keeps
the line that passed; `prepare_c_structures_for_batch` then stops at 10,000 kept words. With
10,000-word lines a batch is two lines, and about 30 % of the words gensim kept were never
trained while its word count (raw words) looked complete. The script checks what gensim
trained, not what it read: the kept words `train` reports against the kept words its own
vocabulary predicts (Σ count × keep probability × epochs), and stops if they differ by more
than 2 % (TRAINED_SHARE_TOLERANCE).

Quality: analogy accuracy (questions-words.txt, gensim's evaluator and defaults) and Spearman on
WordSim353 and SimLex-999 (gensim's copies), plus any --pair-set files (e.g. MEN).

--checkout NAME=PATH also runs each of our systems from another checkout of w2v (its own
code, its own `--run-one`), labelled SYSTEM@NAME, in the same interleaved rounds: a before
and after of a change, measured side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import write_results

SYSTEMS = ("numba", "numba-shared", "keras", "keras-soft4", "keras-adagrad", "keras-heun",
           "autodiff", "gensim")
# numba-shared: HogBatch; the keras-* systems: the keras backend with another optimizer family
MODES = ("sg-ns", "cbow-ns", "sg-hs", "cbow-hs")
GPU_SYSTEMS = ("cuda", "cuda-batched")  # need a GPU (benchmarks/gpu.py runs them)
BACKEND_OF = {"numba": "numba", "numba-shared": "numba", "keras": "keras", "keras-soft4": "keras",
              "keras-adagrad": "keras", "keras-heun": "keras", "autodiff": "keras",
              "cuda": "cuda", "cuda-batched": "cuda"}
SETTINGS_OF = {
    "numba": dict(shared_negatives=False),  # word2vec's per-pair algorithm
    "keras-soft4": dict(steps_per_update=4),  # soft batch: 4 batches' gradients, one update
    "keras-adagrad": dict(optimizer="adagrad"),  # a one-gradient adaptive method
    "keras-heun": dict(optimizer="heun"),  # a two-gradient Runge-Kutta method
    "cuda-batched": dict(cuda_updates="batched"),
}
"""Each system's TrainConfig settings beyond its backend (the rest are TrainConfig's
defaults: shared negatives, plain SGD, one batch an update, hogwild cuda updates)."""


GENSIM_LINE_WORDS = 1_000
"""Line length of the copy every system trains on: a gensim batch is then at most 11,000 read
words, below its 10,000 kept words whenever subsampling and the vocabulary drop more than
1 word in 11 (gut8 at sample 1e-3 keeps 72 %). The trained-words check catches the rest."""


def write_split_copy(corpus: Path, out: Path, max_words: int | None,
                     line_words: int = 10_000) -> int:
    """Copy `corpus` to `out` as lines of at most `line_words` words (our reader's sentences,
    cut further); returns the words written."""
    from w2v.io.corpus import Corpus

    words = 0
    with open(out, "w", encoding="utf-8") as f:
        for sentence in Corpus([corpus]):
            if max_words is not None and words + len(sentence) > max_words:
                sentence = sentence[:max_words - words]
            for start in range(0, len(sentence), line_words):
                f.write(" ".join(sentence[start:start + line_words]) + "\n")
            words += len(sentence)
            if max_words is not None and words >= max_words:
                break
    return words


def gensim_trained_share(model, trained_words: int, epochs: int) -> float:
    """The words gensim trained on (`train`'s first number: those its subsampling kept) over
    those its vocabulary expects it to keep, Σ count · min(1, sample_int / 2³²) · epochs."""
    wv = model.wv
    expected = sum(wv.get_vecattr(w, "count") * min(1.0, wv.get_vecattr(w, "sample_int") / 2**32)
                   for w in wv.index_to_key) * epochs
    return trained_words / expected


TRAINED_SHARE_TOLERANCE = 0.02
"""How far gensim's trained words may be from those its vocabulary keeps before a ratio
against it is refused. Not zero: it trained 98.9 % on dictionary-en.txt.gz with 2 workers
(100.0 % on gut8), likely words lost between its workers' byte ranges of the file (each
starts at a byte offset and stops after its share of the words; not traced). The share is
printed with every table."""


def checked_work(result: dict) -> dict:
    """A `run_one` result, after stopping the benchmark if gensim's trained words are more
    than TRAINED_SHARE_TOLERANCE from the words it kept (`gensim_trained_share`)."""
    if abs(result.get("trained_share", 1.0) - 1.0) > TRAINED_SHARE_TOLERANCE:
        sys.exit(f"gensim trained {result['trained_share']:.1%} of the words it kept: a ratio "
                 "against it would not compare equal work")
    return result


def run_one(system: str, corpus: str, params: dict, quality: bool, pair_sets: dict) -> dict:
    """Train one system in this process; returns its measurements."""
    from w2v.config import TrainConfig
    from w2v.evaluate import evaluate

    result = {"system": system}
    if system == "gensim":
        from gensim.models import Word2Vec

        tick = time.perf_counter()
        model = Word2Vec(vector_size=params["dim"], window=params["window"],
                         negative=params["negative"], sample=params["sample"],
                         min_count=params["min_count"], workers=params["threads"],
                         sg=int(not params.get("cbow", False)), hs=int(params.get("hs", False)),
                         alpha=params["alpha"], min_alpha=params["min_alpha"],
                         seed=params["seed"])
        model.build_vocab(corpus_file=corpus)
        prepared = time.perf_counter()
        trained, _ = model.train(corpus_file=corpus, total_words=model.corpus_total_words,
                                 total_examples=model.corpus_count, epochs=params["epochs"])
        done = time.perf_counter()
        vectors = model.wv
        result.update(corpus_words=int(model.corpus_total_words), vocab_size=len(vectors),
                      train_seconds=done - prepared, total_seconds=done - tick,
                      trained_share=gensim_trained_share(model, trained, params["epochs"]))
    else:
        from w2v.trainer import train

        extra = {}
        if system == "autodiff":
            import keras

            from benchmarks.autodiff import AutodiffSkipGram

            extra = dict(model_class=AutodiffSkipGram,
                         optimizer_factory=lambda lr: keras.optimizers.SGD(lr))
        config = TrainConfig(**{k: v for k, v in params.items() if k in TrainConfig.field_names()},
                             backend=BACKEND_OF[system], **SETTINGS_OF.get(system, {}))
        vectors, summary = train(corpus, config, **extra)
        result.update(corpus_words=summary.corpus_words, vocab_size=summary.vocab_size,
                      train_seconds=summary.train_seconds, total_seconds=summary.total_seconds,
                      final_loss=summary.final_loss, batch_size=summary.batch_size)
    result["words_per_second"] = result["corpus_words"] * params["epochs"] / result["train_seconds"]
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if quality:
        result["quality"] = evaluate(vectors, pair_sets)
    return result


def batch_generation_rate(corpus: str, params: dict) -> float:
    """Pairs/s of the numba batch generator alone (subsampling, windows, negatives)."""
    from w2v.config import TrainConfig
    from w2v.prepare import prepare
    from w2v.streams import epoch_streams

    config = TrainConfig(**{k: v for k, v in params.items() if k in TrainConfig.field_names()})
    _, _, batches = prepare(corpus, config)
    for _ in batches.chunk_examples(epoch_streams(config.seed, 0, range(1))[0]):  # compile
        break
    tick = time.perf_counter()
    pairs = sum(len(x) for x in batches.chunk_examples(epoch_streams(config.seed, 1, range(1))[0]))
    return pairs / (time.perf_counter() - tick)


def markdown(report: dict) -> str:
    med = report["median"]
    base = med.get("gensim", {}).get("words_per_second")
    auto = med.get("autodiff", {}).get("words_per_second")
    qual_keys = [k for k in next((m["quality"] for m in med.values() if "quality" in m), {})
                 if not k.endswith("_oov")]
    head = ["system", "words/s", "per round", "× gensim", "× autodiff", "train s",
            "peak RSS MB"] + qual_keys
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for system, m in med.items():
        wps = m["words_per_second"]
        rounds = " / ".join(f"{r['words_per_second'] / 1e3:,.0f}k" for r in report["runs"][system])
        row = [system, f"{wps:,.0f}", rounds, f"{wps / base:.3f}" if base else "–",
               f"{wps / auto:.2f}" if auto else "–", f"{m['train_seconds']:.1f}",
               f"{m['peak_rss_mb']:,.0f}"]
        row += [f"{m['quality'].get(k, float('nan')):.4f}" if "quality" in m else "–"
                for k in qual_keys]
        lines.append("| " + " | ".join(row) + " |")
    p = report["params"]
    share = med.get("gensim", {}).get("trained_share")
    trained = f", trained {share:.1%} of the words it kept" if share else ""
    lines += ["", f"corpus: {report['corpus']} ({report['corpus_words']:,} words in lines of "
              f"≤ {report.get('line_words', 10_000):,}; gensim counted "
              f"{int(med.get('gensim', {}).get('corpus_words', 0)):,}{trained}), dim {p['dim']}, window "
              f"{p['window']}, mode {p.get('mode', 'sg-ns')}, alpha {p['alpha']}, negative "
              f"{p['negative']}, sample {p['sample']}, min_count "
              f"{p['min_count']}, epochs {p['epochs']}, threads {p['threads']}; median of "
              f"{report['rounds']} interleaved round(s); batch generator alone: "
              f"{report['generator_pairs_per_second']:,.0f} pairs/s; {report['machine']}"]
    return "\n".join(lines) + "\n"


def machine(with_gpu: bool = False) -> str:
    """Where the run happened: CPU, cores, Python, date, and the GPU when one was used."""
    text = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{time.strftime('%Y-%m-%d')}")
    if with_gpu:
        from w2v.kernels.cuda import device_name
        text += f", GPU: {device_name()}"
    return text


def median_of(runs: list[dict]) -> dict:
    """Median of each number over runs (quality scores included)."""
    out = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)):
            out[key] = statistics.median(r[key] for r in runs)
    scored = [r for r in runs if "quality" in r]
    if scored:
        out["quality"] = {k: statistics.median(r["quality"][k] for r in scored)
                          for k in scored[0]["quality"]}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default="data/novels.txt.gz")
    p.add_argument("--max-words", type=int, default=None, help="train on this prefix only")
    p.add_argument("--systems", default=",".join(SYSTEMS),
                   help=f"comma-separated, of {', '.join(SYSTEMS + GPU_SYSTEMS)}")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median reported)")
    p.add_argument("--quality-rounds", type=int, default=None,
                   help="evaluate quality in the first N rounds only (default: all)")
    p.add_argument("--out", default=None, help="write OUT.json and OUT.md")
    p.add_argument("--pair-set", action="append", default=[], metavar="NAME=PATH",
                   help="extra word-pair set to score, e.g. men=../shared/eval/EN-MEN-TR-3k.txt")
    p.add_argument("--mode", choices=MODES, default="sg-ns",
                   help="skip-gram or CBOW, negative sampling or hierarchical softmax (hs: "
                        "--negative 0), for every system alike")
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--negative", type=int, default=5)
    p.add_argument("--sample", type=float, default=1e-3)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--alpha", type=float, default=0.025)
    p.add_argument("--min-alpha", type=float, default=0.0001)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--checkout", action="append", default=[], metavar="NAME=PATH",
                   help="also run our systems from the w2v checkout at PATH, as SYSTEM@NAME")
    p.add_argument("--run-one", default=None, help=argparse.SUPPRESS)
    p.add_argument("--quality", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    params = {k: getattr(args, k) for k in ("dim", "window", "negative", "sample", "min_count",
                                            "epochs", "alpha", "min_alpha", "seed", "threads")}
    if args.mode != "sg-ns":  # the mode's own settings, for every system alike
        params.update(mode=args.mode, cbow=args.mode.startswith("cbow"),
                      hs=args.mode.endswith("hs"))
        params["negative"] = 0 if params["hs"] else args.negative
    if args.batch_size:
        params["batch_size"] = args.batch_size
    pair_sets = dict(s.split("=", 1) for s in args.pair_set)

    if args.run_one:  # child process: one system, one run
        print(json.dumps(run_one(args.run_one, args.corpus, params, args.quality, pair_sets)))
        return

    systems = args.systems.split(",")
    unknown = [s for s in systems if s not in SYSTEMS + GPU_SYSTEMS]
    if unknown:
        p.error(f"unknown system {unknown[0]!r}: choose from {', '.join(SYSTEMS + GPU_SYSTEMS)}")
    checkouts = dict(c.split("=", 1) for c in args.checkout)
    systems += [f"{s}@{name}" for name in checkouts for s in list(systems) if s != "gensim"]
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "corpus.txt"
        words = write_split_copy(Path(args.corpus), text, args.max_words, GENSIM_LINE_WORDS)
        print(f"corpus copy: {words:,} words in lines of ≤ {GENSIM_LINE_WORDS:,}",
              file=sys.stderr)
        runs: dict[str, list[dict]] = {s: [] for s in systems}
        for r in range(args.rounds):
            for system in systems:
                quality = args.quality_rounds is None or r < args.quality_rounds
                name, _, checkout = system.partition("@")
                cmd = [sys.executable, "-m", "benchmarks.compare_gensim", "--run-one", name,
                       "--corpus", str(text)] + (["--quality"] if quality else [])
                for k, v in params.items():
                    if k not in ("cbow", "hs"):  # --mode says them
                        cmd += [f"--{k.replace('_', '-')}", str(v)]
                for name_, path in pair_sets.items():  # absolute: a checkout runs elsewhere
                    cmd += ["--pair-set", f"{name_}={Path(path).resolve()}"]
                where = checkouts.get(checkout)
                out = subprocess.run(cmd, capture_output=True, text=True, cwd=where,
                                     env={**os.environ, "PYTHONPATH": where} if where else None)
                if out.returncode != 0:
                    sys.exit(f"{system} failed:\n{out.stderr[-3000:]}")
                result = checked_work(json.loads(out.stdout.strip().splitlines()[-1]))
                runs[system].append(result)
                print(f"round {r + 1} {system}: {result['words_per_second']:,.0f} words/s, "
                      f"{result['train_seconds']:.1f} s, {result.get('quality', '')}",
                      file=sys.stderr, flush=True)
        gen_rate = batch_generation_rate(str(text), params)
    if "gensim" in runs and runs["gensim"][0]["corpus_words"] != words:
        print(f"warning: gensim counted {runs['gensim'][0]['corpus_words']:,} words, "
              f"we wrote {words:,}", file=sys.stderr)
    median = {system: median_of(rs) for system, rs in runs.items()}
    report = {"corpus": args.corpus, "max_words": args.max_words, "corpus_words": words,
              "line_words": GENSIM_LINE_WORDS, "params": params, "rounds": args.rounds,
              "runs": runs, "median": median,
              "generator_pairs_per_second": gen_rate,
              "machine": machine(any(s in GPU_SYSTEMS for s in systems))}
    table = markdown(report)
    print(table)
    if args.out:
        write_results(args.out, "benchmarks.compare_gensim", argv, table, report)


if __name__ == "__main__":
    main()
