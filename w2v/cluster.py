"""The numba backend across a Ray cluster: one actor per worker, periodic sparse sync.

>>> from w2v import TrainConfig
>>> from w2v.cluster import RaySpec, train_on_ray
>>> vectors, summary = train_on_ray(["corpus/"], TrainConfig(), RaySpec(workers=4))

Each actor (`ShardActor`, one per worker, `threads` CPUs) reads its byte range of the
corpus where it runs, holds its own copy of the tables and trains at full numba speed;
the driver (this process) combines their sparse deltas every `sync_words` words
(w2v/sync.py) and keeps the synchronised tables, writes the checkpoints and the vectors.
The vocabulary is built once (or read from `--vocab`) and reaches the actors through
Ray's object store. An actor that dies is restarted by Ray; the driver puts it back at the
last synchronised state and it replays its words since then, so none are lost.

Ray is an optional extra (`pip install '.[cluster]'`); nothing here needs TensorFlow.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from w2v.errors import ClusterError
from w2v.sync import SYNC_RULE, SYNC_RULES, SYNC_WORDS, ShardWorker, restore_positions

RAY_MISSING = ("--cluster ray needs Ray, an optional extra: pip install 'w2v[cluster]' "
               "(from a checkout: pip install '.[cluster]')")
RESTART_WAIT = 120.0  # s: how long a restarted actor may take to come back


@dataclass(frozen=True)
class RaySpec:
    """workers: actors (shards); address: an existing cluster ("auto", "ray://host:10001",
    ...), or None to start a local Ray instance bound to 127.0.0.1; threads: numba threads
    (and CPUs) per worker; sync_words: words each worker trains between syncs; rule: how
    deltas combine (w2v.sync.SYNC_RULES)."""
    workers: int
    address: str | None = None
    threads: int = 1
    sync_words: int = SYNC_WORDS
    rule: str = SYNC_RULE

    def validated(self) -> "RaySpec":
        for name, ok, rule in [("workers", self.workers >= 1, "must be at least 1"),
                               ("threads", self.threads >= 1, "must be at least 1"),
                               ("sync_words", self.sync_words >= 1, "must be at least 1"),
                               ("sync_rule", self.rule in SYNC_RULES,
                                f"must be one of {', '.join(SYNC_RULES)}")]:
            if not ok:
                value = self.rule if name == "sync_rule" else getattr(self, name)
                raise ValueError(f"{name} {rule}, got {value!r}")
        return self


def require_ray():
    try:
        import ray
    except ImportError:
        raise ClusterError(RAY_MISSING) from None
    return ray


def start_ray(spec: RaySpec):
    """Connect to spec.address, or start a local instance bound to 127.0.0.1 (no
    dashboard, no usage statistics). Returns (the ray module, whether this call started it).

    On Linux Ray replaces a loopback node address with the host's (a node must be
    reachable by others); RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 turns that off, and every
    server of the instance then listens on 127.0.0.1 (checked with `ss -ltn`). It is read
    when Ray is imported, hence set first."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if not spec.address:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = require_ray()
    if ray.is_initialized():
        return ray, False
    if spec.address:
        ray.init(address=spec.address, log_to_driver=False)
    else:
        ray.init(num_cpus=max(spec.workers * spec.threads, os.cpu_count() or 1),
                 include_dashboard=False, log_to_driver=False, configure_logging=False)
    return ray, True


class ShardActor:
    """A w2v.sync.ShardWorker as a Ray actor (its methods, and `pid` for the tests)."""

    def __init__(self, *args, **kwargs):
        self.worker = ShardWorker(*args, **kwargs)

    def words(self) -> int:
        return self.worker.words

    def train(self, *args):
        return self.worker.train(*args)

    def apply(self, merged) -> None:
        self.worker.apply(merged)

    def restore(self, *args) -> None:
        self.worker.restore(*args)

    def pid(self) -> int:
        return os.getpid()


class RayTeam:
    """The actors, driven by w2v.sync.synchronise. A call that finds its actor dead waits
    for Ray's restart, restores it to the last sync and replays (`restarts` counts them)."""

    def __init__(self, ray, spec: RaySpec, paths, vocab, config, tables):
        self.ray, self.spec = ray, spec
        actor = ray.remote(max_restarts=3, max_task_retries=0)(ShardActor)
        # held for the run: Ray rebuilds a restarted actor from these constructor arguments
        self.shared = vocab_ref, tables_ref = ray.put(vocab), ray.put(tuple(tables))
        self.actors = [actor.options(num_cpus=spec.threads).remote(
            [str(p) for p in paths], w, spec.workers, vocab_ref, config, tables_ref,
            spec.sync_words, spec.threads) for w in range(spec.workers)]
        self.words = self.ray.get([a.words.remote() for a in self.actors])
        self.synced_tables, self.state = list(tables), {}
        self.restarts, self.replayed = 0, 0
        self.messages: list[str] = []

    def synced(self, tables, state) -> None:
        """The driver's synchronised tables and positions: where a restarted actor resumes."""
        self.synced_tables, self.state = tables, state

    def pids(self) -> list[int]:
        return self.ray.get([a.pid.remote() for a in self.actors])

    def train(self, global_done: int, global_total: int, active: list[int]):
        calls = {i: self.actors[i].train.remote(global_done, global_total, self.spec.workers)
                 for i in active}
        reports = []
        for i, call in calls.items():
            try:
                reports.append(self.ray.get(call))
            except self.ray.exceptions.RayActorError:
                reports.append(self._replay(i, global_done, global_total))
        return reports

    def _replay(self, i: int, global_done: int, global_total: int):
        self.restarts += 1
        deadline = time.monotonic() + RESTART_WAIT
        position = self.state.get("positions", {}).get(str(i))
        while True:
            try:
                # before its first sync a restarted actor is already where it began: Ray
                # rebuilt it from the start tables, at epoch 0 with fresh streams
                if position is not None:
                    epoch, chunk, states = position
                    self.ray.get(self.actors[i].restore.remote(
                        self.synced_tables, epoch, chunk, np.array(states, dtype=np.uint64)))
                report = self.ray.get(self.actors[i].train.remote(
                    global_done, global_total, self.spec.workers))
                break
            except self.ray.exceptions.RayActorError:
                if time.monotonic() > deadline:
                    raise ClusterError(f"worker {i} died and did not come back within "
                                       f"{RESTART_WAIT:.0f} s") from None
                time.sleep(1.0)
        self.replayed += report.words
        self.messages.append(f"worker {i} died and was restarted by Ray; it replayed its "
                             f"{report.words:,} words since the last sync (0 words lost)")
        return report

    def apply(self, merged, active: list[int]) -> None:
        merged_ref = self.ray.put(merged)
        self.ray.get([self.actors[i].apply.remote(merged_ref) for i in active])

    def restore(self, worker: int, tables, epoch: int, chunk: int, states) -> None:
        self.ray.get(self.actors[worker].restore.remote(tables, epoch, chunk, states))

    def close(self) -> None:
        for a in self.actors:
            self.ray.kill(a)


def train_on_ray(corpus, config, spec: RaySpec, vocab=None, progress: bool = False,
                 log_json=None, evaluate: bool = False, callbacks=(), on_sync=None,
                 checkpoint=None, checkpoint_extra: dict | None = None, start=None):
    """Train the numba backend on spec.workers Ray actors; returns (Embeddings,
    TrainSummary with `traffic` = the sync figures).

    corpus: files or directories (every worker must see the same paths); vocab: a
    Vocabulary or vocab.tsv, else the driver counts the corpus; on_sync(sync, team): after
    each sync; checkpoint: a path the driver saves to after every sync (resume with
    `resume_on_ray`); start: internal, a checkpoint being resumed.
    """
    from w2v.callbacks import Reporter
    from w2v.checkpoint import Checkpoint, Position, corpus_stamp
    from w2v.corpus import Corpus, expand_paths
    from w2v.sync import synchronise
    from w2v.trainer import TrainSummary, build_vocabulary, initial_tables
    from w2v.vectors import Embeddings
    from w2v.vocab import Vocabulary

    spec = spec.validated()
    config = config.validated()
    if config.resolved_backend != "numba":
        raise ValueError(f"--cluster ray trains the numba backend, not {config.resolved_backend}")
    started = time.perf_counter()
    paths = expand_paths(corpus)
    if start is not None:
        vocab, tables = start.vocab, [start.input_vectors, start.output_vectors]
    else:
        if vocab is None:
            vocab = build_vocabulary(Corpus(paths, config.max_sentence_length), config)
        elif not isinstance(vocab, Vocabulary):
            vocab = Vocabulary.load(vocab)
        tables = list(initial_tables(len(vocab), config.dim, config.seed))
    ray, started_here = start_ray(spec)
    try:
        team = RayTeam(ray, spec, paths, vocab, config, tables)
    except BaseException:
        if started_here:
            ray.shutdown()
        raise
    resumed = start.extra["sync"] if start is not None else None
    if resumed:
        restore_positions(team, tables, resumed)
    corpus_words = sum(team.words)
    reporter = Reporter(corpus_words * config.epochs, config.epochs, vocab.words, progress,
                        callbacks, log_json, evaluate, config.alpha,
                        start.position if start is not None else None)
    save = None
    if checkpoint is not None:
        stamp = corpus_stamp(paths)
        extra = {**(checkpoint_extra or {}),
                 "ray": {"workers": spec.workers, "threads": spec.threads,
                         "sync_words": spec.sync_words, "rule": spec.rule}}

        def save_at_sync(tables_now, state):
            position = Position(min(state["epochs"]), 0, 0, 0.0, None, reporter.done,
                                list(reporter.history))
            Checkpoint(config, vocab, tables_now[0], tables_now[1], position, stamp,
                       {**extra, "sync": state}).save(checkpoint)
        save = save_at_sync
    tick = time.perf_counter()
    try:
        input_vectors, output_vectors, stats, loss = synchronise(
            team, vocab, config, tables, spec.rule, reporter, on_sync, resumed, save)
    finally:
        reporter.close()
        team.close()
        if started_here:
            ray.shutdown()
    train_seconds = time.perf_counter() - tick
    for message in team.messages:
        print(f"w2v-train: warning: {message}", file=sys.stderr)
    stats.restarts, stats.words_lost = team.restarts, 0
    summary = TrainSummary(
        backend=f"numba on ray ({spec.workers} worker{'s' if spec.workers > 1 else ''})",
        vocab_size=len(vocab), corpus_words=corpus_words, epochs=config.epochs, steps=0,
        batch_size=0, train_seconds=train_seconds, total_seconds=time.perf_counter() - started,
        final_loss=loss, bad_bytes=0, history=reporter.history,
        traffic=sync_traffic(stats, spec, team.replayed))
    return Embeddings(vocab.words, input_vectors), summary


def sync_traffic(stats, spec: RaySpec, replayed: int) -> dict:
    """TrainSummary.traffic for a Ray run (TrainSummary.traffic_line prints it)."""
    return {"kind": "sync", "workers": spec.workers, "syncs": stats.syncs,
            "sync_words": spec.sync_words, "rule": spec.rule,
            "sent_bytes": stats.sent_bytes, "received_bytes": stats.received_bytes,
            "rows_sent": list(stats.rows_sent), "dense_bytes": stats.dense_bytes,
            "restarts": stats.restarts, "words_replayed": replayed, "words_lost": 0,
            "log": stats.log}


def resume_on_ray(path, spec: RaySpec | None = None, progress: bool = False, log_json=None,
                  evaluate: bool = False):
    """Go on with a Ray run from the driver's checkpoint at `path` (the same workers, sync
    period and rule unless `spec` says otherwise: a different worker count is refused)."""
    from w2v.checkpoint import Checkpoint
    from w2v.trainer import check_corpus_unchanged

    state = Checkpoint.load(path)
    saved = state.extra.get("ray")
    if saved is None:
        raise ValueError(f"checkpoint {path} is not of a --cluster ray run")
    spec = spec or RaySpec(saved["workers"], None, saved["threads"], saved["sync_words"],
                           saved["rule"])
    if spec.workers != saved["workers"]:
        raise ValueError(f"checkpoint {path} was written by {saved['workers']} workers; "
                         f"resume it with --workers {saved['workers']}")
    paths = check_corpus_unchanged(state, path)
    if state.finished or all(state.extra["sync"]["finished"]):
        from w2v.vectors import Embeddings
        return Embeddings(state.vocab.words, state.input_vectors), None
    return train_on_ray(paths, state.config, spec,
                        progress=progress, log_json=log_json, evaluate=evaluate,
                        checkpoint=path, checkpoint_extra=state.extra, start=state)
