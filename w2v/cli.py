"""w2v-train: train word vectors from the command line.

    w2v-train data/novels.txt.gz -o vectors.txt
    w2v-train corpus/ -o vectors.bin --binary --dim 300 --epochs 10

Bad input ends with one line on stderr and a non-zero exit status (2 for usage errors,
1 for the rest), and no output file. TensorFlow is imported only once training starts.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from w2v.config import BACKENDS, CUDA_UPDATES, OPTIMIZERS, TrainConfig
from w2v.errors import ClusterError, ConfigError, GpuUnavailableError
from w2v.io.files import check_outputs, output_target, resolved
from w2v.stopping import Interrupted, stop_requests

DEFAULT_CORPUS_NAME = "novels.txt.gz"  # seven public-domain novels, 0.78M words
CBOW_ALPHA = 0.05  # word2vec.c's starting learning rate for CBOW, when --alpha is not given
# w2v.scaleout.sync.SYNC_RULES, default first (spelt here: --help imports no numba; a test
# pins the two together)
SYNC_RULE_NAMES = ("curvature", "saturating", "mean", "sum", "root")


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
    p.add_argument("--cbow", action="store_true",
                   help="CBOW: the mean of the context words predicts the center (word2vec.c's "
                        "default), instead of skip-gram")
    p.add_argument("--cbow-mean", type=int, default=1, metavar="0|1",
                   help="CBOW's input: 1 the mean of the context vectors, 0 their sum "
                        "(default 1)")
    p.add_argument("--hs", action="store_true",
                   help="hierarchical softmax: predict each word by its Huffman-tree path "
                        "(with --negative 0 alone, else beside negative sampling)")
    p.add_argument("--negative", type=int, default=d.negative,
                   help=f"noise words per prediction, 0 for none (needs --hs) "
                        f"(default {d.negative})")
    p.add_argument("--min-count", type=int, default=d.min_count,
                   help=f"drop words rarer than this (default {d.min_count})")
    p.add_argument("--max-vocab-size", type=int, default=None,
                   help="keep only the N most frequent words (default: no cap)")
    p.add_argument("--sample", type=float, default=d.sample,
                   help=f"subsampling threshold, 0 to disable (default {d.sample:g})")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"(default {d.epochs})")
    p.add_argument("--alpha", type=float, default=None,
                   help=f"starting learning rate (default {d.alpha}; with --cbow "
                        f"{CBOW_ALPHA}, word2vec.c's)")
    p.add_argument("--min-alpha", type=float, default=d.min_alpha,
                   help=f"final learning rate (default {d.min_alpha})")
    p.add_argument("--batch-size", type=int, default=d.batch_size,
                   help=f"(center, context) pairs per step; CBOW, and any mode with --hs: "
                        f"as many predictions as windows holding about as many pairs "
                        f"(default {d.batch_size})")
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
    p.add_argument("--vocab", type=Path, default=None, metavar="FILE",
                   help="the vocabulary w2v-vocab wrote, instead of counting the corpus (what "
                        "the workers of a cluster share: they check they have the same)")
    cluster = p.add_argument_group(
        "data-parallel keras training (tf.distribute; see docs/SCALING.md)")
    cluster.add_argument("--distribute", choices=("mirrored", "multiworker"), default=None,
                         help="mirrored: this host's devices; multiworker: a cluster of "
                              "processes, from TF_CONFIG or --workers")
    cluster.add_argument("--devices", type=int, default=0, metavar="N",
                         help="mirrored: N devices (N logical CPUs where there is no GPU); "
                              "default every GPU")
    cluster.add_argument("--workers", default=None, metavar="HOST:PORT,...",
                         help="multiworker: every worker's address, in order (instead of "
                              "TF_CONFIG)")
    cluster.add_argument("--worker-index", type=int, default=None, metavar="I",
                         help="multiworker: this process's place in --workers (0 is the chief, "
                              "which writes the vectors and checkpoints)")
    cluster.add_argument("--cluster-timeout", type=float, default=None, metavar="SECONDS",
                         help="give up when the cluster does not form, or a step does not "
                              "finish, within this time (default 120)")
    ray = p.add_argument_group(
        "the numba backend on a Ray cluster (pip install '.[cluster]'; see docs/SCALING.md)")
    ray.add_argument("--cluster", choices=("ray",), default=None,
                     help="train --workers N Ray actors, each on its shard, synchronising "
                          "their sparse changes every --sync-words words")
    ray.add_argument("--ray-address", default=None, metavar="ADDR",
                     help="join this Ray cluster (auto: RAY_ADDRESS's, else this machine's "
                          "last `ray start`) instead of starting a local one")
    ray.add_argument("--sync-words", type=int, default=None, metavar="N",
                     help="words each worker trains between synchronisations "
                          "(default 25,000 / (workers − 1): 25,000 for 2, 3,571 for 8, "
                          "1,666 for 16)")
    ray.add_argument("--sync-rule", choices=SYNC_RULE_NAMES, default=None,
                     help="how workers' changes to a row combine: curvature (the default: "
                          "per row between the sum, for rows each worker moved a few "
                          "times, and the mean, for rows moved so often that every worker "
                          "got as far, by how hard each update pulls this round), "
                          "saturating (the same with a fixed pull), mean, sum, or root "
                          "(sum / √workers); see docs/SCALING.md")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    return p


def cluster_from_args(args, parser):
    """The ClusterSpec the flags ask for (None without --distribute); usage errors exit 2."""
    from w2v.scaleout.tf_distribute import CLUSTER_TIMEOUT, ClusterSpec

    if args.cluster:
        return None
    given = [flag for flag, value in (("--devices", args.devices), ("--workers", args.workers),
                                      ("--worker-index", args.worker_index),
                                      ("--cluster-timeout", args.cluster_timeout)) if value]
    if args.distribute is None:
        if given:
            parser.exit(2, f"w2v-train: error: {given[0]} needs --distribute\n")
        return None
    if (args.workers is None) != (args.worker_index is None):
        parser.exit(2, "w2v-train: error: --workers and --worker-index go together\n")
    if args.distribute == "mirrored" and args.workers:
        parser.exit(2, "w2v-train: error: --workers needs --distribute multiworker\n")
    workers = tuple(w.strip() for w in args.workers.split(",")) if args.workers else ()
    spec = ClusterSpec(args.distribute, args.devices, workers, args.worker_index or 0,
                       CLUSTER_TIMEOUT if args.cluster_timeout is None else args.cluster_timeout)
    try:
        return spec.validated()
    except ConfigError as err:
        flag_error(parser, err)
    except ValueError as err:
        parser.exit(2, f"w2v-train: error: {err}\n")


def config_from_args(args) -> TrainConfig:
    return TrainConfig(
        dim=args.dim, window=args.window, negative=args.negative, min_count=args.min_count,
        max_vocab_size=args.max_vocab_size, sample=args.sample, epochs=args.epochs,
        alpha=args.alpha if args.alpha is not None else CBOW_ALPHA if args.cbow else
        TrainConfig.alpha, min_alpha=args.min_alpha, cbow=args.cbow,
        cbow_mean=bool(args.cbow_mean), hs=args.hs, batch_size=args.batch_size, seed=args.seed,
        threads=0 if args.threads is None else args.threads,
        backend=("keras" if args.distribute else "numba" if args.cluster else "auto")
        if args.backend == "auto" else args.backend,
        shared_negatives=args.shared_negatives,
        cuda_updates=args.cuda_updates, optimizer=args.optimizer,
        steps_per_update=args.steps_per_update)


def flag_error(parser, error: ConfigError) -> None:
    """Exit 2 with the bad setting named as its flag (min_count -> --min-count)."""
    parser.exit(2, f"w2v-train: error: --{error.field.replace('_', '-')} {error.rule}, "
                   f"got {error.value!r}\n")


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.resume and args.corpus:
        parser.exit(2, "w2v-train: error: --resume takes its corpus from the checkpoint: "
                       "name no corpus\n")
    corpus = args.corpus or [default_corpus()]
    if args.threads is not None and args.threads < 1:
        parser.exit(2, f"w2v-train: error: --threads must be at least 1, got {args.threads}\n")
    if args.cbow_mean not in (0, 1):
        parser.exit(2, f"w2v-train: error: --cbow-mean must be 0 or 1, got {args.cbow_mean}\n")
    if not args.checkpoint_every > 0:
        parser.exit(2, "w2v-train: error: --checkpoint-every must be a number of minutes > 0, "
                       f"got {args.checkpoint_every}\n")
    try:
        config = config_from_args(args).validated()
    except ConfigError as err:
        flag_error(parser, err)
    if args.distribute and config.backend != "keras":
        parser.exit(2, f"w2v-train: error: --distribute needs the keras backend, not "
                       f"{config.backend}\n")
    cluster = cluster_from_args(args, parser)
    ray_spec = ray_from_args(args, parser, config)
    try:
        with stop_requests(), warnings.catch_warnings():  # before any work: a signal from
            # here on ends with one line; warnings are one line each, under -q too
            warnings.showwarning = _warning_line
            return _run(args, corpus, config, cluster, ray_spec)
    except Interrupted as stop:
        print(f"w2v-train: {stop}", file=sys.stderr)
        return stop.exit_status
    except (ValueError, OSError, GpuUnavailableError, FloatingPointError, ClusterError) as err:
        print(f"w2v-train: error: {err}", file=sys.stderr)
        return 1


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"w2v-train: warning: {message}", file=sys.stderr)


def _run(args, corpus, config, cluster, ray_spec) -> int:
    if args.resume:
        return _resume(args, cluster, ray_spec)
    output = args.output or Path("vectors.txt")
    check_outputs({"-o": output, "--checkpoint": args.checkpoint, "--log-json": args.log_json},
                  inputs=corpus + ([args.vocab] if args.vocab else []))
    from w2v.trainer import train

    strategy, chief = _strategy(cluster)
    vectors, summary = train(
        corpus, config, progress=not args.quiet and chief, log_json=args.log_json,
        evaluate=args.eval, checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every,
        checkpoint_extra={"output": str(resolved(output)), "binary": args.binary},
        strategy=strategy, vocab=args.vocab, ray=ray_spec,
        on_finish=_writer(output, args.binary) if chief else None)
    if not chief:
        return _not_chief(args, strategy)
    _report(args, summary, vectors, output)
    return 0


def _writer(output: Path, binary: bool):
    """What w2v-train does with the trained vectors, before the final checkpoint."""
    def write(vectors) -> None:
        vectors.save_word2vec_format(output, binary=binary)
    return write


def ray_from_args(args, parser, config):
    """The RaySpec of --cluster ray (None without it); usage errors exit 2."""
    ray_flags = [f for f, v in (("--ray-address", args.ray_address), ("--sync-words",
                 args.sync_words), ("--sync-rule", args.sync_rule)) if v is not None]
    if args.cluster is None:
        if ray_flags:
            parser.exit(2, f"w2v-train: error: {ray_flags[0]} needs --cluster ray\n")
        return None
    if args.distribute:
        parser.exit(2, "w2v-train: error: --cluster ray (numba) and --distribute (keras) are "
                       "two ways to scale: choose one\n")
    if config.backend != "numba":
        parser.exit(2, f"w2v-train: error: --cluster ray trains the numba backend, not "
                       f"{config.backend}\n")
    if args.worker_index is not None:
        parser.exit(2, "w2v-train: error: --worker-index is for --distribute multiworker; "
                       "Ray places the workers itself\n")
    if args.workers is None and not args.resume:
        parser.exit(2, "w2v-train: error: --cluster ray needs --workers N\n")
    from w2v.scaleout.ray_cluster import RaySpec
    from w2v.scaleout.sync import SYNC_RULE

    try:
        workers = int(args.workers) if args.workers is not None else 0
    except ValueError:
        parser.exit(2, f"w2v-train: error: --cluster ray takes --workers N (a number), "
                       f"got {args.workers!r}\n")
    spec = RaySpec(workers, args.ray_address, args.threads or 1,
                   args.sync_words,
                   args.sync_rule or SYNC_RULE)
    try:
        return spec.validated() if args.workers is not None else spec  # resume: its own
    except ConfigError as err:
        flag_error(parser, err)


def _strategy(cluster):
    """(tf.distribute strategy or None, whether this process writes the files)."""
    if cluster is None:
        return None, True
    from w2v.scaleout.tf_distribute import Team, make_strategy

    strategy = make_strategy(cluster)
    return strategy, Team.of(strategy).chief


def _not_chief(args, strategy) -> int:
    from w2v.scaleout.tf_distribute import Team

    team = Team.of(strategy)
    if not args.quiet:
        print(f"worker {team.worker} of {team.workers}: done; the chief writes the vectors",
              file=sys.stderr)
    return 0


def _resume(args, cluster=None, ray_spec=None) -> int:
    """w2v-train --resume PATH: go on, then write the vectors where -o says, or where the
    run said if that lies beside the checkpoint (a checkpoint is data: it never chooses
    a place to write elsewhere)."""
    from w2v.checkpoint import Checkpoint
    from w2v.trainer import resume

    state = Checkpoint.load(args.resume)
    output = args.output or _stored_output(args.resume, state.extra)
    binary = args.binary or state.extra.get("binary") is True
    check_outputs({"-o": output, "--log-json": args.log_json},
                  inputs=[args.resume] + [stamp.path for stamp in state.corpus])
    strategy, chief = _strategy(cluster)
    vectors, summary = resume(args.resume, progress=not args.quiet and chief,
                              log_json=args.log_json, evaluate=args.eval, strategy=strategy,
                              ray=ray_spec, on_finish=_writer(output, binary) if chief else None)
    if not chief:
        return _not_chief(args, strategy)
    if summary is None:
        if output.exists() and not output_target(output).stream:
            print(f"w2v-train: checkpoint {args.resume} is of a finished run; its vectors are "
                  f"in {output}: nothing to do", file=sys.stderr)
            return 0
        print(f"w2v-train: checkpoint {args.resume} is of a finished run; writing its "
              f"vectors to {output}", file=sys.stderr)
        vectors.save_word2vec_format(output, binary=binary)
        return 0
    _report(args, summary, vectors, output)
    return 0


def _stored_output(checkpoint: Path, extra: dict) -> Path:
    """The vectors' path the checkpoint names, if it is a file name in the checkpoint's own
    folder; else ValueError saying to pass -o."""
    stored = extra.get("output")
    if not isinstance(stored, str) or not stored:
        raise ValueError(f"checkpoint {str(checkpoint)!r} names no output: pass -o PATH")
    if resolved(stored).parent != resolved(checkpoint).parent:
        raise ValueError(f"checkpoint {str(checkpoint)!r} names {stored!r} for its vectors, "
                         f"which is not beside it: pass -o PATH to say where they go")
    return resolved(checkpoint).parent / Path(stored).name


def _report(args, summary, vectors, output) -> None:
    if summary.bad_bytes:  # a warning: shown under -q too
        print(f"w2v-train: warning: {summary.bad_bytes:,} undecodable bytes were read as "
              f"U+FFFD", file=sys.stderr)
    if args.quiet:
        return
    print(summary)
    if summary.traffic is not None:
        print(summary.traffic_line)
    print(f"wrote {len(vectors):,} vectors of dimension {vectors.dim} to {output}")


if __name__ == "__main__":
    sys.exit(main())
