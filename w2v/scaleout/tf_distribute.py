"""Data parallelism for the keras backend on tf.distribute, sparse all the way.

>>> import tensorflow as tf
>>> from w2v import TrainConfig, train
>>> strategy = tf.distribute.MultiWorkerMirroredStrategy()     # the cluster from TF_CONFIG
>>> vectors, summary = train("corpus/", TrainConfig(backend="keras"), strategy=strategy)

The keras backend (w2v/backends/keras_backend.py) trains under the strategy; this module
gives it the cluster: `Team` (this process's place, the collectives that check every
worker agrees, the watchdog) and `AllGatherTraffic` (what a step sent).

Every replica trains batches of its own: one host's devices share one reader
(MirroredStrategy), each host of a cluster reads its own shard of the corpus
(MultiWorkerMirroredStrategy, collectives over gRPC; w2v.corpus.shard_ranges). A step's
gradients are tf.IndexedSlices; each replica first merges its duplicate rows (unique +
segment sum), then Keras's optimizer SUM-all-reduces them, which for IndexedSlices is an
all-gather of rows and indices: nothing V×d crosses the wire.

The sum is the right reduction without dividing by `num_replicas_in_sync`: w2v's gradients
are per-example sums (word2vec applies the learning rate to every example, whatever the
batch), so the gradient of a global batch of R replica batches is the sum of their parts.
A model whose loss is a batch mean would divide by R; here that would train each example
at alpha / R. The learning-rate schedule counts global steps, each worth the words of R
replica batches.

Only this module and the keras backend import TensorFlow (this one when a strategy is
made or used).
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass

import numpy as np

from w2v.errors import ClusterError, ConfigError
from w2v.io.corpus import Corpus

KINDS = ("mirrored", "multiworker")
CLUSTER_TIMEOUT = 120.0  # s: a slow epoch-end evaluation on the chief fits; a dead peer is
# usually seen sooner (TensorFlow's health check: 8–15 s measured on loopback)


@dataclass(frozen=True)
class ClusterSpec:
    """How to distribute, as the CLI takes it (the Python API takes a Strategy instead).

    kind: "mirrored" (this host's devices) or "multiworker" (several processes or hosts).
    devices: mirrored: 0 for every local GPU (one CPU without), N for N devices (N logical
        CPUs where there is no GPU: how the tests run it).
    workers: multiworker: "host:port" of every worker, in index order; () reads TF_CONFIG.
    index: this process's position in `workers`.
    timeout: seconds the cluster may take to form, and a training step to finish.
    """
    kind: str
    devices: int = 0
    workers: tuple[str, ...] = ()
    index: int = 0
    timeout: float = CLUSTER_TIMEOUT

    def validated(self) -> "ClusterSpec":
        """Return self, or raise ConfigError naming the first bad field (as the CLI's flag
        names it: distribute, devices, workers, worker_index, cluster_timeout)."""
        if self.kind not in KINDS:
            raise ConfigError("distribute", f"must be one of {', '.join(KINDS)}", self.kind)
        if self.devices < 0:
            raise ConfigError("devices", "must be >= 0", self.devices)
        for address in self.workers:
            if not re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+:\d{1,5}", address):
                raise ConfigError("workers", "must be host:port,host:port,...", address)
        if self.workers and not 0 <= self.index < len(self.workers):
            raise ConfigError("worker_index", f"must be in 0..{len(self.workers) - 1}",
                              self.index)
        if self.kind == "multiworker" and not self.workers and "TF_CONFIG" not in os.environ:
            raise ValueError("--distribute multiworker needs the cluster: set TF_CONFIG, or give "
                             "--workers host:port,... and --worker-index")
        if not self.timeout > 0:
            raise ConfigError("cluster_timeout", "must be > 0 seconds", self.timeout)
        return self


def make_strategy(spec: ClusterSpec):
    """The tf.distribute.Strategy `spec` asks for. A multiworker cluster that does not form
    within spec.timeout ends the process with a ClusterError's line (TensorFlow waits for
    absent peers forever, and no Python exception can reach into that wait)."""
    spec = spec.validated()
    import tensorflow as tf

    if spec.kind == "mirrored":
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            names = [f"/gpu:{i}" for i in range(spec.devices or len(gpus))]
        else:
            cpu = tf.config.list_physical_devices("CPU")[0]
            count = max(spec.devices, 1)
            try:
                tf.config.set_logical_device_configuration(
                    cpu, [tf.config.LogicalDeviceConfiguration()] * count)
            except RuntimeError:  # TensorFlow already started: keep its devices
                pass
            names = [d.name for d in tf.config.list_logical_devices("CPU")][:count]
            if len(names) < count:
                raise ClusterError(f"asked for {count} devices, this process has {len(names)} "
                                   f"(TensorFlow had started before they could be made)")
        return tf.distribute.MirroredStrategy(names)
    if spec.workers:
        os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": list(spec.workers)},
                                              "task": {"type": "worker", "index": spec.index}})
    # No CommunicationOptions(timeout_seconds=...): TensorFlow 2.21 starts a thread per
    # collective that lives for the timeout, and a run of thousands of steps aborts
    # ("std::system_error: Resource temporarily unavailable", measured). A dead or hung peer
    # surfaces as an UnavailableError from TensorFlow's own health check (8–15 s measured),
    # and the Watchdog below bounds everything else.
    with Watchdog(spec.timeout, f"the cluster did not form within {spec.timeout:.0f} s "
                                f"(are all {len(spec.workers) or 'the'} workers started?)"):
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        Team.of(strategy).gather([0])  # the first collective waits for every worker
    strategy.w2v_timeout = spec.timeout
    return strategy


@dataclass(frozen=True)
class Team:
    """This process's place in a strategy: `worker` of `workers` processes, each driving
    `local` replicas (devices); `replicas` = workers × local; `chief` writes the files;
    `timeout`: seconds a step may take before the process gives up on the cluster."""
    strategy: object
    worker: int
    workers: int
    local: int
    chief: bool
    timeout: float = CLUSTER_TIMEOUT

    @property
    def replicas(self) -> int:
        return self.workers * self.local

    @classmethod
    def of(cls, strategy) -> "Team":
        resolver = getattr(strategy, "cluster_resolver", None)
        spec = resolver.cluster_spec().as_dict() if resolver is not None else {}
        if spec:  # multiworker: workers numbered chief first, then "worker" tasks
            jobs = [job for job in ("chief", "worker") if job in spec]
            order = [(job, i) for job in jobs for i in range(len(spec[job]))]
            worker = order.index((resolver.task_type, resolver.task_id))
            workers = len(order)
        else:
            worker, workers = 0, 1
        local = strategy.num_replicas_in_sync // workers
        return cls(strategy, worker, workers, local, bool(strategy.extended.should_checkpoint),
                   getattr(strategy, "w2v_timeout", CLUSTER_TIMEOUT))

    def watchdog(self):
        """A Watchdog for training: a step (or an epoch's end) must finish within `timeout`."""
        return Watchdog(self.timeout, f"worker {self.worker} of {self.workers}: no training "
                                      f"step finished within {self.timeout:.0f} s: a worker "
                                      f"died or hangs; giving up")

    def lost(self, error) -> "ClusterError":
        """The ClusterError for a TensorFlow error raised by a step (a peer went away)."""
        lines = [line.strip() for line in str(getattr(error, "message", error)).splitlines()
                 if line.strip()]
        telling = [line for line in lines if re.search(
            r"abort|reported|peer|connect|unavailable|deadline|socket", line, re.I)]
        first = (telling or lines or ["(no message)"])[0][:240]
        return ClusterError(f"worker {self.worker} of {self.workers}: lost the cluster during "
                            f"training (a worker died or hangs): {type(error).__name__}: {first}")

    def gather(self, values: list[int]) -> np.ndarray:
        """(workers, n) int64: every worker's `values` (n ints below 2^31), by worker."""
        import tensorflow as tf

        local = np.asarray(values, dtype=np.int64)
        if (local < 0).any() or (local >= 2 ** 31).any():
            raise ValueError("Team.gather takes ints in [0, 2^31)")
        per_replica = self.strategy.experimental_distribute_values_from_function(
            lambda context: tf.constant(local[None].astype(np.int32)))
        rows = self.strategy.gather(per_replica, axis=0).numpy()
        return rows[::self.local].astype(np.int64)

    def agree(self, what: str, fingerprint: str) -> None:
        """ClusterError unless every worker has the same `fingerprint` (hex) of `what`."""
        words = [int(fingerprint[i:i + 7], 16) for i in range(0, 28, 7)]  # 112 bits
        rows = self.gather(words)
        differ = [w for w in range(self.workers) if (rows[w] != rows[0]).any()]
        if differ:
            raise ClusterError(f"workers disagree on {what}: worker {differ[0]} has another "
                               f"than worker 0; every worker must train with the same one")

    def agree_on_epochs(self, local_steps: int, tokens: int, batch_size: int) -> tuple[int, int]:
        """Every worker's shard gives `local_steps` steps an epoch and holds `tokens`
        corpus words: returns (corpus words of all shards, steps per epoch: the fewest any
        worker's shard gives). ClusterError when a shard holds less than one step."""
        rows = self.gather([local_steps, tokens >> 30, tokens & (2 ** 30 - 1)])
        steps = int(rows[:, 0].min())
        if steps == 0:
            raise ClusterError(f"worker {int(rows[:, 0].argmin())}'s shard holds less than one "
                               f"batch per replica ({batch_size} pairs): use a smaller "
                               f"--batch-size or fewer workers")
        return int((rows[:, 1] << 30).sum() + rows[:, 2].sum()), steps

    def traffic(self, rows_per_step: float, unmerged_rows_per_step: float, dim: int,
                vocab_size: int) -> "AllGatherTraffic":
        """What each replica all-gathered per step, from the rows it sent."""
        return AllGatherTraffic(self.workers, self.local, rows_per_step, unmerged_rows_per_step,
                                row_bytes=4 * dim + 4, dense_bytes=2 * vocab_size * dim * 4)


@dataclass(frozen=True)
class AllGatherTraffic:
    """A distributed keras run's wire: per replica and step, the rows its sparse gradients
    held after and before merging duplicate rows (each row: d float32 values and an int32
    index), against a dense all-reduce of both tables."""
    workers: int
    local: int  # replicas per worker
    rows_per_step: float
    unmerged_rows_per_step: float
    row_bytes: int
    dense_bytes: int

    @property
    def bytes_per_step(self) -> float:
        return self.rows_per_step * self.row_bytes

    @property
    def saved_share(self) -> float:
        unmerged = self.unmerged_rows_per_step
        return 1 - self.rows_per_step / unmerged if unmerged else 0.0

    def __str__(self) -> str:
        w, r = self.workers, self.local
        return (f"{w} worker{'s' if w > 1 else ''} × {r} replica{'s' if r > 1 else ''} | "
                f"all-gather per replica and step: {self.rows_per_step:,.0f} rows = "
                f"{self.bytes_per_step / 1e3:,.1f} kB after merging duplicates "
                f"({self.unmerged_rows_per_step * self.row_bytes / 1e3:,.1f} kB unmerged, "
                f"{self.saved_share:.0%} saved; a dense all-reduce: "
                f"{self.dense_bytes / 1e6:,.1f} MB)")


def shard_of(sentences, team: Team, config):
    """This worker's part of the corpus: its byte range of the files (w2v.io.corpus), or
    every n-th of sentences given in memory."""
    if team.workers == 1:
        return sentences
    if isinstance(sentences, Corpus):
        return Corpus(sentences.paths, config.max_sentence_length, (team.worker, team.workers))
    return _EveryNth(sentences, team.worker, team.workers)


class _EveryNth:
    """Sentences start, start + step, ... of a re-iterable: a worker's share of a list."""

    def __init__(self, sentences, start: int, step: int):
        self.sentences, self.start, self.step = sentences, start, step

    def __iter__(self):
        for i, sentence in enumerate(self.sentences):
            if i % self.step == self.start:
                yield sentence


def settings_fingerprint(config) -> str:
    """SHA-256 of the TrainConfig settings every worker must share (all but threads and
    backend)."""
    import hashlib

    shared = {k: v for k, v in config.to_dict().items() if k not in ("threads", "backend")}
    return hashlib.sha256(json.dumps(shared, sort_keys=True).encode()).hexdigest()


class Watchdog:
    """Context manager: if the block has not finished (or `beat()` not been called) within
    `timeout` seconds, write "w2v-train: <what>" to stderr and kill this process (exit
    status 137).

    For waits inside TensorFlow that nothing in this process can interrupt: a cluster
    forming around a worker that never comes blocks in C++ holding the GIL, so a Python
    thread here never runs again (seen: a watchdog thread slept through its timeout). The
    watch is a small separate process: each beat is a byte down a pipe to it.
    """

    def __init__(self, timeout: float, what: str):
        self.timeout, self.what = timeout, what
        self._watcher = None

    def beat(self) -> None:
        try:
            os.write(self._watcher.stdin.fileno(), b".")
        except (OSError, AttributeError):
            pass

    def __enter__(self):
        import subprocess

        self._watcher = subprocess.Popen(
            [sys.executable, "-c", _WATCHER, str(os.getpid()), str(self.timeout),
             f"w2v-train: {self.what}"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc):
        self._watcher.stdin.close()  # end of file: the watcher exits
        self._watcher.wait()


# The watcher: reads beats from stdin; silence for `timeout` s means the process it
# watches is stuck: say so on stderr (shared with it) and kill it. End of file: done.
_WATCHER = """
import os, select, signal, sys
pid, timeout, message = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
while True:
    ready, _, _ = select.select([0], [], [], timeout)
    if not ready:
        sys.stderr.write(message + "\\n"); sys.stderr.flush()
        os.kill(pid, signal.SIGKILL)
        sys.exit(0)
    if not os.read(0, 4096):
        sys.exit(0)
"""
