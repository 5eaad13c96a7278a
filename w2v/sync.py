"""Data parallelism with periodic sparse synchronisation: the numba backend on several
workers (Ray runs them in w2v/cluster.py; benchmarks/sync_simulation.py runs them in turn).

>>> from w2v.sync import ShardWorker, LocalTeam, synchronise
>>> team = LocalTeam([ShardWorker(paths, w, 2, vocab, config) for w in range(2)])
>>> input_vectors, output_vectors, summary = synchronise(team, vocab, config)

Each worker holds a copy of both tables and trains its own shard of the corpus at full
local speed (the fused numba kernel, its own threads). Every `sync_words` words of its
shard it reports what changed since the last synchronisation: per table, the rows whose
values moved and by how much (sparse: `RowDelta`). The driver combines the reports row by
row and sends the combined rows back; every worker then sets those rows to the
synchronised state, the last one plus the combined delta, so after each sync all workers
(and the driver's copy) hold the same tables, bit for bit.

Combine rules (`SYNC_RULES`), for a row touched by workers i in T:
  mean: Σ_T Δ_i / |T|   model averaging restricted to the rows that moved (Spark MLlib and
                        BlazingText average whole models; an untouched row has nothing to
                        average, so it is not pulled toward zero);
  sum:  Σ_T Δ_i         as if the workers' updates had been applied one after another.
The learning rate counts global words: a worker at local word p of a round that began at
global word G trains at the rate of G + W·p (all W workers advance together).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from w2v.batches import CHUNK_WORDS, EncodedCorpus, SkipGramBatches
from w2v.config import TrainConfig
from w2v.corpus import Corpus
from w2v.vocab import Vocabulary

SYNC_RULES = ("mean", "sum")
# Measured (benchmarks/results/sync_simulation.md, gut8, 2 epochs): `sum` diverged (NaN)
# with 4 and 16 workers; `mean` trains, and syncs every 100,000 words a worker beat every
# 1,000,000 at 2, 4, 8 and 16 workers on all four scores.
SYNC_RULE = "mean"
SYNC_WORDS = 100_000


@dataclass
class RowDelta:
    """Changed rows of one (V, d) table, in whichever form is smaller on the wire:
    sparse, `rows` (n,) int32 ascending and `values` (n, d) float32; or dense, `values`
    (V, d) with zero rows where nothing moved and `rows` None (cheaper once n·(4d + 4)
    bytes reach V·4d: every row is then sent, and its index is implicit)."""
    rows: np.ndarray | None
    values: np.ndarray

    @classmethod
    def of(cls, rows: np.ndarray, values: np.ndarray, vocab_size: int) -> "RowDelta":
        rows = rows.astype(np.int32)
        if rows.nbytes + values.nbytes < vocab_size * values.shape[1] * 4 or not len(rows):
            return cls(rows, values)
        dense = np.zeros((vocab_size, values.shape[1]), dtype=np.float32)
        dense[rows] = values
        return cls(None, dense)

    def sparse(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, values) of the rows that moved, whatever the form."""
        if self.rows is not None:
            return self.rows, self.values
        moved = np.flatnonzero((self.values != 0).any(axis=1)).astype(np.int32)
        return moved, self.values[moved]

    @property
    def touched(self) -> int:
        return len(self.sparse()[0])

    @property
    def nbytes(self) -> int:
        return int(self.values.nbytes + (self.rows.nbytes if self.rows is not None else 0))


@dataclass
class Report:
    """What a worker sends at a sync: the deltas of [input, output] tables since the last
    sync, what it trained, and where it now stands (epoch, chunk, random streams)."""
    worker: int
    deltas: list[RowDelta]
    words: int  # in-vocabulary words trained since the last sync
    pairs: int
    loss_sum: float
    epoch: int  # where the worker stands after this round
    chunk: int
    states: np.ndarray  # (threads, 2) uint64
    finished: bool  # every epoch of its shard trained


def changed_rows(table: np.ndarray, snapshot: np.ndarray) -> RowDelta:
    """The rows of `table` that differ from `snapshot`, with table − snapshot there."""
    moved = np.flatnonzero((table != snapshot).any(axis=1)).astype(np.int32)
    return RowDelta.of(moved, table[moved] - snapshot[moved], len(table))


def combine(deltas: list[RowDelta], rule: str, vocab_size: int | None = None) -> RowDelta:
    """One RowDelta from the workers' (in worker order: the sums are reproducible)."""
    if rule not in SYNC_RULES:
        raise ValueError(f"sync rule must be one of {', '.join(SYNC_RULES)}, got {rule!r}")
    parts = [d.sparse() for d in deltas]
    dim = deltas[0].values.shape[1] if deltas else 0
    rows = np.unique(np.concatenate([r for r, _ in parts])) if parts else np.empty(0, np.int32)
    total = np.zeros((len(rows), dim), dtype=np.float32)
    touched = np.zeros(len(rows), dtype=np.float32)
    for moved, values in parts:
        where = np.searchsorted(rows, moved)
        total[where] += values
        touched[where] += 1
    if rule == "mean" and len(rows):
        total /= touched[:, None]
    if vocab_size is None:
        return RowDelta(rows.astype(np.int32), total)
    return RowDelta.of(rows, total, vocab_size)


class ShardWorker:
    """One worker: its shard of the corpus (read here, where it runs), its tables, and the
    snapshot of the tables at the last sync.

    paths: the corpus files (each worker opens only its byte range: w2v.corpus.shard_ranges);
    index, count: this worker's shard; tables: the (input, output) start tables, (V, d)
    float32 (the initial tables of a fresh run, the synchronised ones of a resumed run).
    """

    def __init__(self, paths, index: int, count: int, vocab: Vocabulary, config: TrainConfig,
                 tables: tuple[np.ndarray, np.ndarray], sync_words: int = SYNC_WORDS,
                 threads: int = 1):
        from kernels.cpu import sgns_train_cpu, sgns_train_windows_cpu

        self.index, self.count, self.threads = index, count, threads
        self.config = config
        self.sync_words = sync_words
        shard = (index, count) if count > 1 else None
        sentences = Corpus(paths, config.max_sentence_length, shard)
        self.encoded = EncodedCorpus(sentences, vocab, chunk_words=min(CHUNK_WORDS, sync_words))
        from w2v.trainer import WORKER_SEED_STRIDE

        stream_config = replace(config, seed=config.seed + WORKER_SEED_STRIDE * index)
        self.batches = SkipGramBatches(self.encoded, vocab, stream_config)
        self.kernel = sgns_train_windows_cpu if config.shared_negatives else sgns_train_cpu
        self.tables = [np.array(t, dtype=np.float32) for t in tables]
        self.snapshot = [t.copy() for t in self.tables]
        self.epoch, self.chunk = 0, 0
        self.states = self._fresh_states(0)
        self.pool = ThreadPoolExecutor(threads) if threads > 1 else None

    @property
    def words(self) -> int:
        """In-vocabulary words of this shard (one epoch)."""
        return self.encoded.n_ids

    def _fresh_states(self, epoch: int) -> np.ndarray:
        """(threads, 2) uint64: this worker's random streams at the start of `epoch`."""
        from kernels.cpu import seed_state
        from w2v.trainer import WORKER_SEED_STRIDE

        seed = self.config.seed + WORKER_SEED_STRIDE * self.index
        return np.array([[seed_state(hash((seed, epoch, t, k)))[0] for k in (0, 1)]
                         for t in range(self.threads)], dtype=np.uint64)

    def train(self, global_done: int, global_total: int, workers: int) -> Report:
        """Train the next `sync_words` words (whole chunks) of this shard, or what is left;
        the learning rate at local word p is the schedule's at global_done + workers · p."""
        from w2v.trainer import train_chunk

        config = self.config

        def lr_at(position):
            share = min((global_done + workers * position) / max(global_total, 1), 1.0)
            return config.alpha - (config.alpha - config.min_alpha) * share

        trained = pairs = 0
        loss_sum = 0.0
        while self.epoch < config.epochs and trained < self.sync_words:
            ids, ends = self.encoded.chunk(self.chunk)
            states = [(self.states[t, 0:1], self.states[t, 1:2]) for t in range(self.threads)]
            n, loss = train_chunk(self.pool, self.kernel, ids, ends, self.batches, config,
                                  *self.tables, lr_at, trained, states)
            trained += len(ids)
            pairs += n
            loss_sum += loss
            self.chunk += 1
            if self.chunk == self.encoded.n_chunks:
                self.epoch, self.chunk = self.epoch + 1, 0
                self.states = self._fresh_states(self.epoch)
        deltas = [changed_rows(t, s) for t, s in zip(self.tables, self.snapshot)]
        return Report(self.index, deltas, trained, pairs, loss_sum, self.epoch, self.chunk,
                      self.states.copy(), self.epoch >= config.epochs)

    def apply(self, merged: list[RowDelta]) -> None:
        """Set the combined rows to the synchronised state: last sync's + combined delta.
        Every row this worker moved is among them, so afterwards tables == snapshot."""
        for table, snapshot, delta in zip(self.tables, self.snapshot, merged):
            rows, values = delta.sparse()
            table[rows] = snapshot[rows] + values
            snapshot[rows] = table[rows]

    def restore(self, tables, epoch: int, chunk: int, states: np.ndarray) -> None:
        """Back to a synchronised state (a restarted worker replays from there)."""
        self.tables = [np.array(t, dtype=np.float32) for t in tables]
        self.snapshot = [t.copy() for t in self.tables]
        self.epoch, self.chunk, self.states = epoch, chunk, np.array(states, dtype=np.uint64)

    def close(self) -> None:
        self.encoded.close()
        if self.pool:
            self.pool.shutdown()


class LocalTeam:
    """Workers in this process, trained one after another: the simulation of a cluster
    (each starts every round from the same synchronised state, as on a cluster)."""

    def __init__(self, workers: list[ShardWorker]):
        self.workers = workers

    @property
    def words(self) -> list[int]:
        return [w.words for w in self.workers]

    def train(self, global_done: int, global_total: int, active: list[int]) -> list[Report]:
        return [self.workers[i].train(global_done, global_total, len(self.workers))
                for i in active]

    def apply(self, merged: list[RowDelta], active: list[int]) -> None:
        for i in active:
            self.workers[i].apply(merged)

    def restore(self, worker: int, tables, epoch: int, chunk: int, states) -> None:
        self.workers[worker].restore(tables, epoch, chunk, states)

    def synced(self, tables, state) -> None:
        """(Where a Ray team restarts a dead worker; nothing dies here.)"""

    def close(self) -> None:
        for w in self.workers:
            w.close()


@dataclass
class SyncStats:
    """What synchronisation cost: syncs, bytes the workers sent (their deltas) and received
    (the combined rows), rows sent per table, and the dense tables' size for comparison."""
    syncs: int = 0
    sent_bytes: int = 0
    received_bytes: int = 0
    rows_sent: list = field(default_factory=lambda: [0, 0])
    dense_bytes: int = 0  # both V×d tables, once
    restarts: int = 0
    words_lost: int = 0
    log: list = field(default_factory=list)  # per sync: rows sent by each worker, per table


def synchronise(team, vocab: Vocabulary, config: TrainConfig, tables=None,
                rule: str = SYNC_RULE, reporter=None, on_sync=None, start=None,
                checkpoint=None) -> tuple[np.ndarray, np.ndarray, SyncStats, float]:
    """Drive `team` (LocalTeam, or w2v.cluster's Ray team) to the end of every shard's
    epochs. tables: the driver's copy of the start tables (initial_tables by default).
    reporter: a w2v.callbacks.Reporter (progress in global words; epoch ends when every
    worker has passed one); on_sync(sync number, team): called after each sync (the tests
    kill a worker there); start: a resumed checkpoint's sync state (see `checkpoint`);
    checkpoint(tables, state dict): called after every sync with what `start` takes.
    Returns (input_vectors, output_vectors, SyncStats, final loss)."""
    from w2v.trainer import initial_tables

    if rule not in SYNC_RULES:
        raise ValueError(f"sync rule must be one of {', '.join(SYNC_RULES)}, got {rule!r}")
    tables = list(tables) if tables is not None else list(
        initial_tables(len(vocab), config.dim, config.seed))
    shard_words = team.words
    global_total = sum(shard_words) * config.epochs
    state = dict(start) if start else {
        "done": 0, "syncs": 0, "finished": [False] * len(shard_words),
        "epochs": [0] * len(shard_words), "epoch_loss": [0.0, 0]}
    stats = SyncStats(syncs=state["syncs"], dense_bytes=2 * tables[0].nbytes)
    reported_epochs = min(state["epochs"])
    loss = float("nan")
    while not all(state["finished"]):
        team.synced(tables, state)  # where a worker that dies in this round restarts
        active = [i for i, done in enumerate(state["finished"]) if not done]
        reports = team.train(state["done"], global_total, active)
        merged = [combine([r.deltas[t] for r in reports], rule, len(vocab)) for t in (0, 1)]
        team.apply(merged, active)
        for table, delta in zip(tables, merged):
            rows, values = delta.sparse()
            table[rows] += values
        stats.syncs += 1
        stats.sent_bytes += sum(d.nbytes for r in reports for d in r.deltas)
        stats.received_bytes += len(active) * sum(m.nbytes for m in merged)
        for t in (0, 1):
            stats.rows_sent[t] += sum(r.deltas[t].touched for r in reports)
        stats.log.append([[d.touched for d in r.deltas] for r in reports])
        words = sum(r.words for r in reports)
        state["done"] += words
        state["syncs"] = stats.syncs
        state["epoch_loss"][0] += sum(r.loss_sum for r in reports)
        state["epoch_loss"][1] += sum(r.pairs for r in reports)
        for r in reports:
            state["finished"][r.worker] = r.finished
            state["epochs"][r.worker] = r.epoch
            state.setdefault("positions", {})[str(r.worker)] = \
                [r.epoch, r.chunk, r.states.tolist()]
        running = state["epoch_loss"][0] / max(state["epoch_loss"][1], 1)
        lr = config.alpha - (config.alpha - config.min_alpha) * min(state["done"] / global_total, 1)
        if reporter:
            reporter.progress(words, lr, running)
        while min(state["epochs"]) > reported_epochs:  # every worker has passed an epoch
            loss = running
            if reporter:
                reporter.epoch_end(reported_epochs, loss, lr, lambda: tables[0].copy())
            state["epoch_loss"] = [0.0, 0]
            reported_epochs += 1
        if checkpoint:
            checkpoint(tables, state)
        if on_sync:
            on_sync(stats.syncs, team)
    return tables[0], tables[1], stats, loss


def restore_positions(team, tables, state) -> None:
    """Put every worker of `team` at its position of a checkpoint's sync `state`."""
    for worker, (epoch, chunk, states) in state.get("positions", {}).items():
        team.restore(int(worker), tables, epoch, chunk, np.array(states, dtype=np.uint64))

