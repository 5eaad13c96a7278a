"""w2v-train: train word vectors from the command line.

    w2v-train data/novels.txt.gz -o vectors.txt
    w2v-train corpus/ -o vectors.bin --binary --dim 300 --epochs 10

Bad input ends with one line on stderr and a non-zero exit status (2 for usage errors,
1 for the rest), and no output file. TensorFlow is imported only once training starts.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from w2v.config import BACKENDS, CUDA_UPDATES, OPTIMIZERS, TrainConfig
from w2v.errors import GpuUnavailableError

DEFAULT_CORPUS_NAME = "novels.txt.gz"  # seven public-domain novels, 0.78M words


def default_corpus() -> Path:
    """The corpus shipped with w2v: data/ of a source checkout, or share/w2v/ once installed."""
    candidates = [Path(__file__).resolve().parent.parent / "data" / DEFAULT_CORPUS_NAME,
                  Path(sys.prefix) / "share" / "w2v" / DEFAULT_CORPUS_NAME]
    return next((p for p in candidates if p.exists()), candidates[0])


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(
        prog="w2v-train",
        description="Train skip-gram negative-sampling word vectors (word2vec) with Keras "
                    "and hand-derived sparse gradients.")
    p.add_argument("corpus", nargs="*", type=Path,
                   help="text files or directories: one sentence per line, whitespace tokens; "
                        ".gz/.bz2/.xz read as such (default: the novels shipped in data/)")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="where to write the vectors, word2vec format (default: vectors.txt, "
                        "or the resumed run's)")
    p.add_argument("--binary", action="store_true", help="write word2vec's binary format")
    p.add_argument("--dim", type=int, default=d.dim, help=f"vector size (default {d.dim})")
    p.add_argument("--window", type=int, default=d.window,
                   help=f"max context distance (default {d.window})")
    p.add_argument("--negative", type=int, default=d.negative,
                   help=f"noise words per pair (default {d.negative})")
    p.add_argument("--min-count", type=int, default=d.min_count,
                   help=f"drop words rarer than this (default {d.min_count})")
    p.add_argument("--max-vocab-size", type=int, default=None,
                   help="keep only the N most frequent words (default: no cap)")
    p.add_argument("--sample", type=float, default=d.sample,
                   help=f"subsampling threshold, 0 to disable (default {d.sample:g})")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"(default {d.epochs})")
    p.add_argument("--alpha", type=float, default=d.alpha,
                   help=f"starting learning rate (default {d.alpha})")
    p.add_argument("--min-alpha", type=float, default=d.min_alpha,
                   help=f"final learning rate (default {d.min_alpha})")
    p.add_argument("--batch-size", type=int, default=d.batch_size,
                   help=f"(center, context) pairs per step (default {d.batch_size})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"(default {d.seed})")
    p.add_argument("--threads", type=int, default=None,
                   help="worker threads, at least 1 (default: all cores)")
    p.add_argument("--backend", default=d.backend,
                   help=f"training backend: {', '.join(BACKENDS)} (default {d.backend}: numba, "
                        "or keras when --optimizer/--steps-per-update ask for it; cuda "
                        "needs an NVIDIA GPU)")
    p.add_argument("--shared-negatives", action=argparse.BooleanOptionalAction,
                   default=d.shared_negatives,
                   help="numba backend: draw negatives once per window and share them "
                        "(HogBatch: fewer row reads; default on), or per pair as word2vec")
    p.add_argument("--cuda-updates", choices=CUDA_UPDATES, default=d.cuda_updates,
                   help="cuda backend: hogwild (atomic adds as each window trains) "
                        "or batched (each launch's updates summed per row in a fixed order: "
                        f"reproducible bit for bit) (default {d.cuda_updates})")
    p.add_argument("--optimizer", default=d.optimizer,
                   help=f"{' | '.join(OPTIMIZERS)} (default {d.optimizer}); euler..rk45 are "
                        "Runge–Kutta methods, several gradient evaluations per step")
    p.add_argument("--steps-per-update", type=int, default=d.steps_per_update,
                   help="soft batch: accumulate this many batches, then update once "
                        f"(default {d.steps_per_update})")
    p.add_argument("--eval", action="store_true",
                   help="score analogies and word pairs (gensim's sets) after each epoch")
    p.add_argument("--log-json", type=Path, default=None, metavar="FILE",
                   help="append one JSON object per progress report and per epoch to FILE")
    p.add_argument("--checkpoint", type=Path, default=None, metavar="PATH",
                   help="save the run to PATH every --checkpoint-every minutes, after each "
                        "epoch, and on Ctrl-C or SIGTERM (then exit 130/143)")
    p.add_argument("--checkpoint-every", type=float, default=10.0, metavar="MINUTES",
                   help="minutes between checkpoints (default 10)")
    p.add_argument("--resume", type=Path, default=None, metavar="PATH",
                   help="go on with the run checkpointed at PATH (its corpus and settings)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    return p


def config_from_args(args) -> TrainConfig:
    return TrainConfig(
        dim=args.dim, window=args.window, negative=args.negative, min_count=args.min_count,
        max_vocab_size=args.max_vocab_size, sample=args.sample, epochs=args.epochs,
        alpha=args.alpha, min_alpha=args.min_alpha, batch_size=args.batch_size, seed=args.seed,
        threads=0 if args.threads is None else args.threads, backend=args.backend,
        shared_negatives=args.shared_negatives,
        cuda_updates=args.cuda_updates, optimizer=args.optimizer,
        steps_per_update=args.steps_per_update)


def check_output(output: Path, inputs: list[Path]) -> None:
    """Refuse an output that would overwrite an input (or another output) or cannot be
    written."""
    for path in inputs:
        same = (output.exists() and path.exists() and os.path.samefile(path, output)) or \
            output.resolve() == path.resolve()
        if same:
            raise ValueError(f"output {str(output)!r} is an input file: refusing to overwrite it")
    folder = output.parent if str(output.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"output directory does not exist: {str(folder)!r}")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"output directory is not writable: {str(folder)!r}")
    if output.is_dir():
        raise ValueError(f"output {str(output)!r} is a directory")


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.resume and args.corpus:
        parser.exit(2, "w2v-train: error: --resume takes its corpus from the checkpoint: "
                       "name no corpus\n")
    corpus = args.corpus or [default_corpus()]
    if args.threads is not None and args.threads < 1:
        parser.exit(2, f"w2v-train: error: --threads must be at least 1, got {args.threads}\n")
    if not args.checkpoint_every > 0:
        parser.exit(2, "w2v-train: error: --checkpoint-every must be a number of minutes > 0, "
                       f"got {args.checkpoint_every}\n")
    try:
        config = config_from_args(args).validated()
    except ValueError as err:
        flag = "--" + str(err).split(" ", 1)[0].replace("_", "-")
        parser.exit(2, f"w2v-train: error: {flag} {str(err).split(' ', 1)[1]}\n")
    from w2v.checkpoint import Interrupted

    try:
        if args.resume:
            return _resume(args)
        output = args.output or Path("vectors.txt")
        check_output(output, corpus)
        for extra in (args.log_json, args.checkpoint):
            if extra:
                check_output(extra, corpus + [output])
        from w2v.trainer import train

        vectors, summary = train(
            corpus, config, progress=not args.quiet, log_json=args.log_json,
            evaluate=args.eval, checkpoint=args.checkpoint,
            checkpoint_every=args.checkpoint_every,
            checkpoint_extra={"output": str(output.resolve()), "binary": args.binary})
        vectors.save_word2vec_format(output, binary=args.binary)
    except Interrupted as stop:
        print(f"w2v-train: {stop}", file=sys.stderr)
        return stop.exit_status
    except (ValueError, OSError, GpuUnavailableError, FloatingPointError) as err:
        print(f"w2v-train: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("w2v-train: interrupted; no output written", file=sys.stderr)
        return 130
    _report(args, summary, vectors, output)
    return 0


def _resume(args) -> int:
    """w2v-train --resume PATH: go on, then write the vectors where the run said."""
    from w2v.checkpoint import Checkpoint
    from w2v.trainer import resume

    saved = Checkpoint.load(args.resume).extra
    output = args.output or Path(saved.get("output", "vectors.txt"))
    binary = args.binary or bool(saved.get("binary", False))
    check_output(output, [args.resume])
    vectors, summary = resume(args.resume, progress=not args.quiet, log_json=args.log_json,
                              evaluate=args.eval)
    if summary is None:
        if output.exists():
            print(f"w2v-train: checkpoint {args.resume} is of a finished run; its vectors are "
                  f"in {output}: nothing to do", file=sys.stderr)
            return 0
        print(f"w2v-train: checkpoint {args.resume} is of a finished run; writing its "
              f"vectors to {output}", file=sys.stderr)
    vectors.save_word2vec_format(output, binary=binary)
    if summary is not None:
        _report(args, summary, vectors, output)
    return 0


def _report(args, summary, vectors, output) -> None:
    if args.quiet:
        return
    if summary.bad_bytes:
        print(f"warning: {summary.bad_bytes:,} undecodable bytes were read as U+FFFD",
              file=sys.stderr)
    print(summary)
    print(f"wrote {len(vectors):,} vectors of dimension {vectors.dim} to {output}")


if __name__ == "__main__":
    sys.exit(main())
