"""The top of the library: corpus → vocabulary → a backend → the driver → embeddings.

>>> from w2v import TrainConfig, train
>>> vectors, summary = train("data/novels.txt.gz", TrainConfig(epochs=1))
>>> print(summary)

`train` and `resume` prepare the data (w2v/prepare.py), build the backend the settings
name — numba, cuda or keras (w2v/backends), keras under a tf.distribute strategy
(w2v/scaleout/tf_distribute.py), or a team of numba workers on Ray
(w2v/scaleout/ray_cluster.py) — and hand it to the one training loop, w2v/driver.py,
with the reporter and the checkpoint plan.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from w2v.backends import backend_class
from w2v.backends.keras_backend import CHECKPOINT_OPTIMIZERS, DISTRIBUTED_OPTIMIZERS, KerasOptions
from w2v.callbacks import Reporter, is_keras_callback
from w2v.checkpoint import Checkpoint, CorpusStamp, Position
from w2v.config import TrainConfig
from w2v.driver import CheckpointPlan, TrainSummary, drive
from w2v.io.corpus import Corpus, expand_paths
from w2v.io.files import WriteError
from w2v.prepare import build_vocabulary, check_memory, encode, sentences_of
from w2v.stopping import stop_requests, stop_point
from w2v.streams import initial_tables
from w2v.vectors import Embeddings
from w2v.vocab import Vocabulary


@dataclass
class Reporting:
    """What the caller wants told: progress (a tqdm bar and a line per epoch on stderr),
    callbacks (w2v.callbacks.Callback on every backend, Keras callbacks on keras), log_json
    (a file for one JSON line per report), evaluate (analogies and word pairs each epoch)."""
    progress: bool = False
    callbacks: list = field(default_factory=list)
    log_json: os.PathLike | str | None = None
    evaluate: bool = False


@dataclass
class CheckpointSettings:
    """path: where to save the run; every_minutes: between timed saves; extra: JSON-able
    fields stored with it (the CLI's output path and format)."""
    path: os.PathLike | str
    every_minutes: float = 10.0
    extra: dict = field(default_factory=dict)


def train(corpus, config: TrainConfig | None = None, progress: bool = False, callbacks=(),
          model_class=None, optimizer_factory=None, log_json=None, evaluate: bool = False,
          checkpoint=None, checkpoint_every: float = 10.0, checkpoint_extra: dict | None = None,
          strategy=None, vocab: Vocabulary | str | os.PathLike | None = None, ray=None,
          on_sync=None, on_finish=None) -> tuple[Embeddings, TrainSummary]:
    """Train word vectors on `corpus`: a path, a list of paths, or re-iterable sentences
    (lists of str tokens).

    progress: show a tqdm bar on stderr (and a line per epoch). callbacks: w2v.callbacks.
    Callback objects (every backend) and Keras callbacks (keras backend). log_json: a file
    for one JSON line per progress report and per epoch. evaluate: score analogies and word
    pairs after each epoch (in the epoch logs). checkpoint: a path to save the run to every
    `checkpoint_every` minutes, after each epoch and on SIGINT/SIGTERM (corpus files; on
    keras, the optimizers without soft batch or Runge–Kutta stages; see w2v.checkpoint and
    `resume`). model_class: a SkipGram subclass to train instead (keras);
    optimizer_factory: schedule -> Keras optimizer. strategy: a tf.distribute.Strategy to
    train the keras backend data-parallel (w2v.scaleout.tf_distribute): each worker of a
    multiworker cluster trains its shard of the corpus files, and only the chief writes the
    log and checkpoints. ray: a w2v.scaleout.ray_cluster.RaySpec to train the numba backend
    on a team of Ray actors (on_sync(sync, team): called after each sync). vocab: a
    Vocabulary, or a vocab.tsv (`w2v-vocab`), instead of counting the corpus (what the
    workers of a cluster share; without one each counts the whole corpus). on_finish:
    called with the trained Embeddings when training ends, before the finished checkpoint is
    written (w2v-train writes the vectors there: a full disk at the checkpoint then costs no
    training).
    Returns the input vectors as Embeddings, and a TrainSummary.
    """
    config = (config or TrainConfig()).validated()
    started = time.perf_counter()
    with stop_requests() as stops:  # from here a signal stops the run, at once until
        # the training loop, which finishes its span first
        stop_point("start", stops)
        sentences = sentences_of(corpus, config)
        if checkpoint is not None:
            check_checkpointable(sentences, config)
        if vocab is None:
            vocab = build_vocabulary(sentences, config)
        else:
            if not isinstance(vocab, Vocabulary):
                vocab = Vocabulary.load(vocab)
            check_memory(config, len(vocab))
        input_vectors, output_vectors, summary = fit(
            sentences, vocab,
            *initial_tables(len(vocab), config.dim, config.seed, config.output_rows(len(vocab))),
            config,
            progress=progress, callbacks=callbacks, log_json=log_json, evaluate=evaluate,
            model_class=model_class, optimizer_factory=optimizer_factory, started=started,
            checkpoint=checkpoint, checkpoint_every=checkpoint_every,
            checkpoint_extra=checkpoint_extra, strategy=strategy, ray=ray, on_sync=on_sync,
            on_finish=on_finish)
    return Embeddings(vocab.words, input_vectors), summary


def resume(path, progress: bool = False, callbacks=(), log_json=None, evaluate: bool = False,
           checkpoint_every: float | None = None, strategy=None, ray=None, on_finish=None
           ) -> tuple[Embeddings, TrainSummary | None]:
    """Go on with the run a checkpoint saved, writing further checkpoints to the same path.

    Returns (vectors, summary); the summary is None when the checkpoint is of a finished
    run (its vectors are returned as they are). Raises FormatError for a file that is not a
    checkpoint and ValueError when the corpus changed since it was written, or when the
    run was a cluster's and the cluster given differs. A Ray run resumes on a team of the
    same shape; ray: a RaySpec whose address names a running cluster to join (else a local
    one starts) and whose workers, when not 0, must be the checkpoint's. on_finish: as
    `train`'s (not called for a finished checkpoint).
    """
    with stop_requests() as stops:
        stop_point("start", stops)
        state = Checkpoint.load(path)
        if state.finished:
            return Embeddings(state.vocab.words, state.input_vectors), None
        paths = check_corpus_unchanged(state, path)
        every = checkpoint_every if checkpoint_every is not None else \
            state.extra.get("checkpoint_every", 10.0)
        if "ray" in state.extra:
            from w2v.scaleout.ray_cluster import RaySpec
            saved_team = RaySpec(address=ray and ray.address, **state.extra["ray"])
            if ray is not None and ray.workers and ray.workers != saved_team.workers:
                raise ValueError(f"checkpoint {path} was written by {saved_team.workers} Ray "
                                 f"workers; resume it with --workers {saved_team.workers}")
            ray = saved_team
        elif ray is not None:
            raise ValueError(f"checkpoint {path} is not of a --cluster ray run")
        shape = (1, 1)
        if strategy is not None:
            from w2v.scaleout.tf_distribute import Team
            team = Team.of(strategy)
            shape = (team.workers, team.local)
        saved = tuple(state.extra.get("cluster", (1, 1)))
        if saved != shape:
            raise ValueError(f"checkpoint {path} was written by {saved[0]} worker(s) × "
                             f"{saved[1]} replica(s); resume it with the same, not "
                             f"{shape[0]} × {shape[1]}")
        input_vectors, _, summary = fit(
            sentences_of(paths, state.config), state.vocab, state.input_vectors,
            state.output_vectors, state.config, progress=progress, callbacks=callbacks,
            log_json=log_json, evaluate=evaluate, checkpoint=path, checkpoint_every=every,
            checkpoint_extra=state.extra, start=state.position, strategy=strategy, ray=ray,
            on_finish=on_finish)
    return Embeddings(state.vocab.words, input_vectors), summary


def check_corpus_unchanged(state: Checkpoint, path) -> list[str]:
    """The corpus paths of checkpoint `state` (read from `path`); ValueError when a file is
    missing or changed since it was written."""
    for stamp in state.corpus:
        if not stamp.unchanged():
            raise ValueError(f"corpus file {stamp.path!r} is missing or changed since "
                             f"checkpoint {path} was written: cannot resume")
    return [stamp.path for stamp in state.corpus]


def check_checkpointable(sentences, config: TrainConfig) -> None:
    """ValueError unless a run of `config` on `sentences` can be checkpointed."""
    if config.resolved_backend == "keras" and (config.optimizer not in CHECKPOINT_OPTIMIZERS
                                               or config.steps_per_update > 1):
        raise ValueError(f"checkpoints on the keras backend cover the optimizers "
                         f"{', '.join(CHECKPOINT_OPTIMIZERS)} without soft batch, not "
                         f"{config.optimizer} with steps_per_update {config.steps_per_update}")
    if not isinstance(sentences, Corpus):
        raise ValueError("checkpoints need the corpus as files (resuming reads them again)")


def fit(sentences, vocab: Vocabulary, input_vectors: np.ndarray, output_vectors: np.ndarray,
        config: TrainConfig, progress: bool = False, callbacks=(), log_json=None,
        evaluate: bool = False, model_class=None, optimizer_factory=None,
        started: float | None = None, checkpoint=None, checkpoint_every: float = 10.0,
        checkpoint_extra: dict | None = None, start: Position | None = None, strategy=None,
        ray=None, on_sync=None, on_finish=None) -> tuple[np.ndarray, np.ndarray, TrainSummary]:
    """Train the (V, d) float32 tables on `sentences` (ids from `vocab`), the learning rate
    falling from alpha to min_alpha over this call's epochs; returns the trained tables
    (updated in place) and a TrainSummary. checkpoint, checkpoint_every, checkpoint_extra,
    strategy, ray, on_sync, on_finish: see `train`; start: a resumed run's Position."""
    started = started or time.perf_counter()
    if config.threads > config.worker_threads:
        warnings.warn(f"threads={config.threads}: this machine has {config.worker_threads} "
                      f"cores, and more threads cannot speed up the kernels; using "
                      f"{config.worker_threads}", stacklevel=2)
    keras_callbacks = [c for c in callbacks if is_keras_callback(c)]
    backend_name = "numba" if ray is not None else config.resolved_backend
    if keras_callbacks and backend_name != "keras":
        raise ValueError(f"Keras callbacks ({type(keras_callbacks[0]).__name__}) need the keras "
                         f"backend, not {backend_name}; w2v.callbacks.Callback works on every "
                         f"backend")
    if checkpoint is not None:
        check_checkpointable(sentences, config)
    extra = dict(checkpoint_extra or {}, checkpoint_every=checkpoint_every)
    team = _team(strategy, config, vocab, optimizer_factory)
    chief = team is None or team.chief
    if not chief:  # the other workers write nothing, and keep quiet
        progress, log_json, evaluate, checkpoint = False, None, False, None
    tables = (input_vectors, output_vectors)
    encoded = None
    with stop_requests() as stops:
        if ray is not None:
            from w2v.scaleout.ray_cluster import RayTeam
            from w2v.scaleout.sync import SyncBackend

            spec = ray.validated()
            if config.resolved_backend != "numba":
                raise ValueError(f"a Ray team trains the numba backend, not "
                                 f"{config.resolved_backend}")
            paths = expand_paths(sentences.paths if isinstance(sentences, Corpus) else sentences)
            backend = SyncBackend(RayTeam(spec, paths, vocab, config, tables), config, tables,
                                  vocab, spec.workers, spec.threads, spec.sync_words,
                                  spec.rule, on_sync=on_sync)
            extra["ray"] = spec.to_dict()
        else:
            if team is not None:
                from w2v.scaleout.tf_distribute import shard_of
                sentences = shard_of(sentences, team, config)
                extra["cluster"] = [team.workers, team.local]
            batches = encode(sentences, vocab, config)
            encoded = batches.encoded
            try:
                backend = backend_class(backend_name)(
                    batches, *tables, config,
                    KerasOptions(keras_callbacks, model_class, optimizer_factory, team))
            except BaseException:
                encoded.close()
                raise
        reporter = Reporter(backend.corpus_words * config.epochs, config.epochs, vocab.words,
                            progress, [c for c in callbacks if not is_keras_callback(c)],
                            log_json, evaluate, config.alpha, start)
        plan = None
        if checkpoint is not None:
            stamps = [CorpusStamp.of(p) for p in sentences.paths]

            def write(position: Position) -> None:
                Checkpoint(config, vocab, *backend.tables(), position, stamps,
                           extra).save(checkpoint)
            plan = CheckpointPlan(checkpoint, checkpoint_every, write)
        try:
            tick = time.perf_counter()
            driven = drive(backend, config, reporter, start, plan)
            train_seconds = time.perf_counter() - tick
            for table, trained in zip((input_vectors, output_vectors), backend.tables()):
                if trained is not table:
                    table[...] = trained
            traffic = backend.traffic()
        finally:
            reporter.close()
            backend.close()
            if encoded is not None:
                encoded.close()
        if on_finish is not None:
            stops.stage = "while writing the outputs; no partial file was left"
            on_finish(Embeddings(vocab.words, input_vectors))
        if plan is not None:  # the finished run, after the outputs it was for
            stops.stage = (f"while writing the final checkpoint {checkpoint}; the outputs "
                           f"were written")
            finished = Checkpoint(config, vocab, input_vectors, output_vectors,
                                  Position(epoch=config.epochs, words=reporter.done,
                                           history=list(reporter.history)), stamps, extra)
            try:
                finished.save(checkpoint)
            except OSError as error:
                raise WriteError(error.errno, f"{error} (training finished and its outputs "
                                              f"were written first: only the final checkpoint "
                                              f"is missing)") from None
    words = round(reporter.done - (start.words if start else 0))
    first_epoch = start.epoch if start else 0
    summary = TrainSummary(
        backend=backend.name, vocab_size=len(vocab), corpus_words=backend.corpus_words,
        epochs=config.epochs, words_trained=words, first_epoch=first_epoch,
        steps=round(backend.steps_per_epoch * words / max(backend.corpus_words, 1)),
        batch_size=config.batch_size, train_seconds=train_seconds,
        total_seconds=time.perf_counter() - started, final_loss=driven.final_loss,
        loss_sum=driven.loss_sum,
        bad_bytes=getattr(sentences, "bad_bytes", 0), history=reporter.history,
        traffic=traffic)
    return input_vectors, output_vectors, summary


def _team(strategy, config: TrainConfig, vocab: Vocabulary, optimizer_factory):
    """w2v.scaleout.tf_distribute.Team of `strategy` (None without one), after checking the
    run can distribute (the keras backend, an optimizer whose one gradient Keras
    all-reduces) and that every worker has this vocabulary and these settings."""
    if strategy is None:
        return None
    from w2v.scaleout.tf_distribute import Team, settings_fingerprint

    if config.resolved_backend != "keras":
        raise ValueError(f"a tf.distribute strategy needs the keras backend, not "
                         f"{config.resolved_backend} (the numba and cuda backends scale "
                         f"with threads and GPUs)")
    if optimizer_factory is None and (config.optimizer not in DISTRIBUTED_OPTIMIZERS
                                      or config.steps_per_update > 1):
        raise ValueError(f"distributed training covers the optimizers "
                         f"{', '.join(DISTRIBUTED_OPTIMIZERS)} without soft batch, not "
                         f"{config.optimizer} with steps_per_update {config.steps_per_update}")
    team = Team.of(strategy)
    if team.workers > 1:
        team.agree("the vocabulary (build it once with w2v-vocab and pass --vocab)",
                   vocab.fingerprint())
        team.agree("the training settings", settings_fingerprint(config))
    return team
