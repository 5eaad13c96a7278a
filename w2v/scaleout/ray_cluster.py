"""The numba backend across a Ray cluster: one actor per worker, periodic sparse sync.

>>> from w2v import TrainConfig
>>> from w2v.scaleout.ray_cluster import RaySpec
>>> from w2v.trainer import train
>>> vectors, summary = train(["corpus/"], TrainConfig(), ray=RaySpec(workers=4))

Each actor (`ShardActor`, one per worker, `threads` CPUs) reads its byte range of the
corpus where it runs, holds its own copy of the tables and trains at full numba speed;
the driver (this process) runs `RayTeam` as the sync backend's team (w2v/scaleout/sync.py):
it combines the actors' sparse deltas every round and keeps the synchronised tables, and
the trainer writes the checkpoints and the vectors. The vocabulary is built once (or read
from `--vocab`) and reaches the actors through Ray's object store. An actor that dies is
restarted by Ray; the team puts it back at the last synchronised state and it replays its
round, so no word is lost.

Ray is an optional extra (`pip install '.[cluster]'`); nothing here needs TensorFlow.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from w2v.errors import ClusterError, ConfigError
from w2v.io.corpus import shard_ranges
from w2v.scaleout.sync import SYNC_RULE, SYNC_RULES, ShardWorker, default_sync_words
from w2v.stopping import reclaim_signals

RAY_MISSING = ("--cluster ray needs Ray, an optional extra: pip install 'w2v[cluster]' "
               "(from a checkout: pip install '.[cluster]')")
RESTART_WAIT = 120.0  # s: how long a restarted actor may take to come back


@dataclass(frozen=True)
class RaySpec:
    """workers: actors (shards); address: an existing cluster ("auto", "ray://host:10001",
    ...), or None to start a local Ray instance bound to 127.0.0.1; threads: numba threads
    (and CPUs) per worker; sync_words: words each worker trains between syncs (None:
    w2v.scaleout.sync.default_sync_words, fewer a worker as workers are added); rule: how
    deltas combine (w2v.scaleout.sync.SYNC_RULES)."""
    workers: int
    address: str | None = None
    threads: int = 1
    sync_words: int | None = None
    rule: str = SYNC_RULE

    def validated(self) -> "RaySpec":
        """This spec with sync_words resolved, or ConfigError naming the first bad field."""
        for name, value, ok, rule in [
                ("workers", self.workers, self.workers >= 1, "must be at least 1"),
                ("threads", self.threads, self.threads >= 1, "must be at least 1"),
                ("sync_words", self.sync_words, self.sync_words is None or self.sync_words >= 1,
                 "must be at least 1"),
                ("sync_rule", self.rule, self.rule in SYNC_RULES,
                 f"must be one of {', '.join(SYNC_RULES)}")]:
            if not ok:
                raise ConfigError(name, rule, value)
        return replace(self, sync_words=self.sync_words or default_sync_words(self.workers))

    def to_dict(self) -> dict:
        """What a checkpoint keeps to resume with the same team (not the address)."""
        return {"workers": self.workers, "threads": self.threads,
                "sync_words": self.sync_words, "rule": self.rule}


def require_ray():
    try:
        import ray
    except ImportError:
        raise ClusterError(RAY_MISSING) from None
    return ray


def start_ray(spec: RaySpec):
    """Connect to spec.address, or start a local instance bound to 127.0.0.1 (no
    dashboard, no usage statistics). Returns (the ray module, whether this call started it).

    With no address the instance is always a new one of our own (ray.init's "local"): left
    to itself, ray.init would join the cluster named by RAY_ADDRESS or the last `ray start`
    on this machine (its record outlives a killed head) and fail on our num_cpus. "auto"
    asks for those.

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
        check_reachable(spec.address)
        try:
            ray.init(address=spec.address, log_to_driver=False)
        except ConnectionError as err:  # "auto" with no cluster running, a refused client
            raise ClusterError(f"cannot join the Ray cluster at {spec.address}: "
                               f"{str(err).splitlines()[0]}") from None
    else:
        ray.init(address="local",
                 num_cpus=max(spec.workers * spec.threads, os.cpu_count() or 1),
                 include_dashboard=False, log_to_driver=False, configure_logging=False)
    reclaim_signals()  # SIGINT/SIGTERM stop the run at a sync, checkpointed, not at once
    return ray, True


CONNECT_TIMEOUT = 10.0  # s: to open a TCP connection to --ray-address


def check_reachable(address: str) -> None:
    """ClusterError unless host:port (or ray://host:port) of `address` accepts a TCP
    connection within CONNECT_TIMEOUT: ray.init waits minutes on an unreachable address.
    "auto" (Ray finds a running cluster itself) is left to ray.init."""
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT).close()
    except OSError as err:
        raise ClusterError(f"cannot reach the Ray cluster at {address} ({err.strerror or err}"
                           f"); is `ray start --head` running there?") from None


class ShardActor:
    """A w2v.scaleout.sync.ShardWorker as a Ray actor (its methods, and `pid` for the
    tests)."""

    def __init__(self, *args, **kwargs):
        self.worker = ShardWorker(*args, **kwargs)

    def shape(self) -> tuple[int, list[int]]:
        """(corpus words of the shard, its chunks' starts in ids)."""
        return self.worker.tokens, self.worker.chunk_starts

    def begin_epoch(self, streams) -> None:
        self.worker.begin_epoch(streams)

    def train(self, *args):
        return self.worker.train(*args)

    def apply(self, merged) -> None:
        self.worker.apply(merged)

    def restore(self, *args) -> None:
        self.worker.restore(*args)

    def pid(self) -> int:
        return os.getpid()

    def node(self) -> str:
        """The Ray node this actor runs on."""
        import ray

        return ray.get_runtime_context().get_node_id()


class RayTeam:
    """The actors, as w2v.scaleout.sync.SyncBackend's team. A call that finds its actor
    dead waits for Ray's restart, restores it to the last sync and replays its round
    (`restarts` counts them, `replayed` the words). Starts a local Ray instance unless
    spec.address names a cluster, and stops the one it started on `close`."""

    name = "numba on ray"
    where = "on ray"

    def __init__(self, spec: RaySpec, paths, vocab, config, tables):
        if spec.workers > 1:  # every shard non-empty, checked here before any actor starts
            for w in range(spec.workers):
                shard_ranges([Path(p) for p in paths], w, spec.workers)  # ValueError: why
        self.ray, self.started_ray = start_ray(spec)
        self.spec = spec
        try:
            actor = self.ray.remote(max_restarts=3, max_task_retries=0)(ShardActor)
            # held for the run: Ray rebuilds a restarted actor from these constructor arguments
            self.shared = vocab_ref, tables_ref = self.ray.put(vocab), self.ray.put(tuple(tables))
            # SPREAD: one worker a node while nodes last (each trains at full speed)
            placed = actor.options(num_cpus=spec.threads, scheduling_strategy="SPREAD")
            self.actors = [placed.remote(
                [str(p) for p in paths], w, spec.workers, vocab_ref, config, tables_ref,
                spec.sync_words, spec.threads) for w in range(spec.workers)]
            self.tokens, self.chunk_starts = zip(*self.ray.get(
                [a.shape.remote() for a in self.actors]))
        except BaseException:
            self.close()
            raise
        self.synced_tables, self.synced_streams = list(tables), []
        self.restarts, self.replayed = 0, 0  # the summary's traffic line reports them
        self.stale: set[int] = set()  # workers to restore before they train again
        self.queued: dict[int, list] = {w: [] for w in range(spec.workers)}  # `apply` calls

    def begin_epoch(self, streams: list[np.ndarray]) -> None:
        for i in self.queued:
            self._settle(i)
        self._each({i: a.begin_epoch.remote(rows)
                    for i, (a, rows) in enumerate(zip(self.actors, streams))})

    def _settle(self, i: int) -> None:
        """Wait for worker i's queued `apply` calls (an actor runs its calls in order, so they
        have run by the time its next call has); one that failed marks the worker stale."""
        calls, self.queued[i] = self.queued[i], []
        for call in calls:
            self._each({i: call})

    def _each(self, calls: dict) -> None:
        """Wait for calls that change an actor's state ({worker: ObjectRef}); a worker whose
        call failed (its actor or its node died, or Ray lost it for a while) is marked
        stale, and is restored to the synchronised state before it trains again."""
        for i, call in calls.items():
            try:
                self.ray.get(call)
            except self.ray.exceptions.RayActorError:
                self.stale.add(i)

    def synced(self, tables, streams: list[np.ndarray]) -> None:
        """The synchronised tables and each worker's streams at the start of a round:
        where a restarted actor resumes."""
        self.synced_tables, self.synced_streams = tables, streams

    def pids(self) -> list[int]:
        return self.ray.get([a.pid.remote() for a in self.actors])

    def nodes(self) -> list[str]:
        """The Ray node of each worker."""
        return self.ray.get([a.node.remote() for a in self.actors])

    def train(self, round_: int, lr_begin: float, lr_end: float, active: list[int]):
        calls = {i: self.actors[i].train.remote(round_, lr_begin, lr_end)
                 for i in active if i not in self.stale}
        reports = []
        for i in active:
            self._settle(i)  # an `apply` that failed: this call may have run on a restarted
            try:  # actor, from its start tables; replayed from the last sync instead
                reports.append(self.ray.get(calls[i]) if i in calls and i not in self.stale
                               else self._replay(i, round_, lr_begin, lr_end))
            except self.ray.exceptions.RayActorError:
                reports.append(self._replay(i, round_, lr_begin, lr_end))
        return reports

    def _replay(self, i: int, round_: int, lr_begin: float, lr_end: float):
        """Put worker i back at the last sync and train its round there."""
        self.restarts += 1
        deadline = time.monotonic() + RESTART_WAIT
        while True:
            try:
                self.ray.get(self.actors[i].restore.remote(self.synced_tables,
                                                           self.synced_streams[i]))
                report = self.ray.get(self.actors[i].train.remote(round_, lr_begin, lr_end))
                break
            except self.ray.exceptions.RayActorError:
                if time.monotonic() > deadline:
                    raise ClusterError(f"worker {i} died and did not come back within "
                                       f"{RESTART_WAIT:.0f} s") from None
                time.sleep(1.0)
        self.stale.discard(i)
        self.replayed += report.words
        return report

    def apply(self, merged, workers: list[int]) -> None:
        """Queue the combined rows on each worker and return without waiting: the worker's
        next call (`train`, `begin_epoch`) runs after them, and `_settle` checks them then.
        Waiting here cost a round trip a round (2 workers, gut8's first 3.8M words: 101 ms
        a round waiting, 99 ms queued)."""
        merged_ref = self.ray.put(merged)
        for i in workers:
            self.queued[i].append(self.actors[i].apply.remote(merged_ref))

    def close(self) -> None:
        for a in getattr(self, "actors", []):
            self.ray.kill(a)
        self.actors = []
        if self.started_ray:
            self.ray.shutdown()
            self.started_ray = False
