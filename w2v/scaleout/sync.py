"""Data parallelism with periodic sparse synchronisation: the numba backend on several
workers, as one backend the driver runs (Ray runs the workers in ray_cluster.py;
`LocalTeam` runs them in turn, the simulation benchmarks/sync_simulation.py measures).

>>> from w2v.scaleout.sync import LocalTeam, ShardWorker, SyncBackend, default_sync_words
>>> words = default_sync_words(2)  # between syncs, each worker
>>> team = LocalTeam([ShardWorker(paths, w, 2, vocab, config, tables, words) for w in range(2)])
>>> backend = SyncBackend(team, config, tables, vocab, 2, 1, words)  # then driver.drive

Each worker holds a copy of both tables and trains its own shard of the corpus at full
local speed (the fused numba kernel, its own threads). Its shard is encoded in chunks of
`sync_words` words, and a round is one chunk per worker: the driver's span. After each
round every worker reports what changed since the last synchronisation: per table, the
rows whose values moved and by how much (sparse: `RowDelta`). The backend combines the
reports row by row and sends the combined rows back; every worker then sets those rows to
the synchronised state, the last one plus the combined delta, so after each round all
workers (and the driver's copy) hold the same tables, bit for bit. An epoch is as many
rounds as the longest shard has chunks (a worker whose shard is done waits, and takes
each round's combined rows all the same).

Combine rules (`SYNC_RULES`), for a row touched by the workers i in T:
  curvature:  the saturating rule below with ρ measured each round, not fixed:
              ρ = κ · α · E|partner|², α the round's learning rate and E|partner|²
              the mean squared norm of the rows the table's rows are trained against (the
              other table's, weighted by how often each takes part: `row_update_rates`).
              An SGNS update moves a row toward where it rests by about α·σ'·|partner|²
              of the way, so ρ follows the pull: near the sum early (the tables start near
              zero) and late (α near zero), nearer the mean in between. κ grows with
              the workers (`default_curvature`): more workers' deltas on a row call for
              more damping. The default;
  saturating: Σ_T Δ_i · f(Σ_T c_i) / Σ_T f(c_i), f(c) = 1 − exp(−ρ·c), with c_i the
              updates worker i is expected to have made to the row this round (its words
              × the row's rate, `row_update_rates`) and ρ = SATURATION. A row each worker
              moved a few times (ρ·c ≪ 1) gets the sum, as if the updates had run one
              after another; a row each moved so often that every worker already got as
              far as the row goes (ρ·c ≫ 1: the output rows of common words, drawn as
              negatives all the time) gets the mean; rows in between, in between. (For a
              row pulled toward a resting place at ρ per update, f(Σc)/Σf(c) is exactly
              what turns the workers' moves from one start into the sequential one.);
  mean:       Σ_T Δ_i / |T|   model averaging restricted to the rows that moved (Spark
              MLlib and BlazingText average whole models; an untouched row has nothing to
              average, so it is not pulled toward zero);
  sum:        Σ_T Δ_i         as if the workers' updates had run one after another;
  root:       Σ_T Δ_i / √|T|  between the two, the same for every row.
What each costs in quality, and why the default is what it is, is measured in
benchmarks/results/sync_simulation.md (docs/SCALING.md reads it).
A round's learning rate is the driver's for the round's words summed over the workers:
every worker trains its chunk at the rate falling from the round's start to its end.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from w2v.backends.base import Backend, Span, Trained
from w2v.backends.numba_backend import chunk_kernel, private_rows, train_chunk
from w2v.batches import CHUNK_WORDS, EncodedCorpus, ExampleBatches
from w2v.config import TrainConfig
from w2v.io.corpus import Corpus
from w2v.kernels.rows import (add_decoded_cpu, encode_int8_cpu, encode_moved_int8_cpu,
                              moved_rows_cpu, set_synchronised_cpu)
from w2v.vocab import Vocabulary

SYNC_RULES = ("curvature", "saturating", "mean", "sum", "root")
# Measured (benchmarks/results/sync_simulation.md, gut8, 2 epochs): `sum` diverged from 4
# workers on; `mean` trains but loses analogy accuracy fast as workers are added (4 to 5
# points at 2 workers, 17 to 22 at 16); `saturating` beat `mean` at every worker count,
# best at ρ = 0.003, but diverged at 16 workers × 3,125 and × 1,666 words; `curvature`
# trains there, within 1.5 points of one worker at the default periods below.
SYNC_RULE = "curvature"
SATURATING_RULES = ("curvature", "saturating")  # the rules that scale by f(Σc) / Σf(c)
SATURATION = 0.003  # ρ of the saturating rule: f(c) = 1 − exp(−ρ·c), c a row's updates
# Words each worker trains between syncs: SYNC_WORDS / (W − 1), so the words a worker has
# not seen when it syncs, the others' (W − 1) × that, stay SYNC_WORDS whatever W is: the
# longer a worker trains against tables that lack the others' changes, the more a round
# costs in quality. Measured (sync_simulation.md, curvature rule, gut8, 2 epochs): 16
# workers × 1,562 words lost 2.0 analogy points where × 3,125 lost 3.6 and × 12,500 lost
# 9.0; 4 workers × 8,333 lost 0.9 where × 25,000 lost 2.4. At this default: 0.9 to 1.5
# points at 2 to 16 workers (three seeds).
SYNC_WORDS = 25_000


# κ of the curvature rule (ρ = κ · α · E|partner|²) grows with the other workers, as the
# period shrinks with them: KAPPA_PER_OTHER × (W − 1), at most KAPPA_MAX (0.025 at 2
# workers, 0.075 at 4, 0.1 from 5 on). Measured (sync_simulation.md, gut8, 2 epochs,
# default periods, three seeds; analogy points and WordSim353 against one worker):
#   2 workers: κ 0.025 −0.3 / −0.002;  0.05 −0.6 / −0.006;  0.1 −1.2 / −0.011
#   4 workers: κ 0.025 −1.7 / −0.040;  0.05 −0.4 / −0.021;  0.075 −0.6 / −0.020;
#              0.1 −1.0 / −0.024
#   8 and 16:  κ 0.1 −0.9 / −0.002 and −1.5 / −0.030; 0.05 (one seed) −0.7 / −0.019 and
#              −2.7 / −0.050
# At 4 workers 0.05 and 0.075 are within the seeds' spread of each other; 0.075 is the
# one that keeps WordSim353 within the 0.02.
KAPPA_PER_OTHER, KAPPA_MAX = 0.025, 0.1


def default_curvature(workers: int) -> float:
    """κ of the curvature rule for a team of `workers`: 0.025 × (workers − 1), at most 0.1
    (and 0.025 for one worker, which never combines)."""
    return min(KAPPA_MAX, KAPPA_PER_OTHER * max(workers - 1, 1))


def default_sync_words(workers: int) -> int:
    """Words each of `workers` workers trains between syncs by default: 25,000 for 2,
    8,333 for 4, 3,571 for 8, 1,666 for 16, never under 1,000 (and 25,000 for one)."""
    return max(1_000, SYNC_WORDS // max(workers - 1, 1))


# How deltas travel (`RowDelta.of`): "int8" (the default) sends each row as int8 steps of
# its own float32 scale, max |Δ| / 127 (d + 4 bytes a row where float16 takes 2d: 104
# against 200 at d = 100; a step is 1/254 of the row's largest change, and the rounding is
# to nearest, so it averages out across rows and rounds); "float16" sends the values
# (relative precision 2^-11). Every worker and the driver add the same decoded values, so
# the tables stay identical everywhere. Measured in benchmarks/results/sync_simulation.md.
WIRES = ("int8", "float16")
WIRE = "int8"


def _wire(wire: str | None) -> str:
    wire = wire or WIRE
    if wire not in WIRES:
        raise ValueError(f"wire must be one of {', '.join(WIRES)}, got {wire!r}")
    return wire


@dataclass
class RowDelta:
    """Changed rows of one (V, d) table, in whichever form is smaller on the wire:
    sparse, `rows` (n,) int32 ascending and `values` (n, d); or dense, `values` (V, d) with
    zero rows where nothing moved and `rows` None (cheaper once the row indices cost more
    than sending every row). `values` are float16, or int8 steps of `scales` ((n,) or (V,)
    float32, one a row) on the int8 wire; `sparse()` decodes either to float32.
    Built by `of` (the wire's encoding) or directly from float values (tests)."""
    rows: np.ndarray | None
    values: np.ndarray
    scales: np.ndarray | None = None

    @classmethod
    def of(cls, rows: np.ndarray, values: np.ndarray, vocab_size: int,
           wire: str | None = None) -> "RowDelta":
        """Encode the (n, d) float `values` of `rows` for the wire (default: WIRE)."""
        values = np.ascontiguousarray(values, dtype=np.float32)
        if _wire(wire) == "float16":
            return cls._packed(rows, values.astype(np.float16), None, vocab_size)
        steps, scales = np.empty(values.shape, np.int8), np.empty(len(values), np.float32)
        encode_int8_cpu(values, steps, scales)
        return cls._packed(rows, steps, scales, vocab_size)

    @classmethod
    def moved(cls, table: np.ndarray, snapshot: np.ndarray,
              wire: str | None = None) -> tuple[np.ndarray, "RowDelta"]:
        """The rows where `table` differs from `snapshot` ((V, d) float32), (n,) int32
        ascending, and table − snapshot at them, encoded for the wire: what a worker sends."""
        if _wire(wire) == "float16":
            rows = moved_rows(table, snapshot)
            return rows, cls.of(rows, table[rows] - snapshot[rows], len(table), "float16")
        rows, scales = np.empty(len(table), np.int32), np.empty(len(table), np.float32)
        steps = np.empty(table.shape, np.int8)  # pages past the n-th row are never touched
        n = encode_moved_int8_cpu(table, snapshot, rows, steps, scales)
        return rows[:n], cls._packed(rows[:n], steps[:n], scales[:n], len(table))

    @classmethod
    def _packed(cls, rows, values, scales, vocab_size: int) -> "RowDelta":
        """The sparse form, or the dense one where that is fewer bytes."""
        rows = rows.astype(np.int32)
        row_bytes = values.shape[1] * values.itemsize + (4 if scales is not None else 0)
        if len(rows) * (row_bytes + 4) < vocab_size * row_bytes or not len(rows):
            return cls(rows, values, scales)
        dense = np.zeros((vocab_size, values.shape[1]), dtype=values.dtype)
        dense[rows] = values
        dense_scales = None
        if scales is not None:
            dense_scales = np.zeros(vocab_size, np.float32)
            dense_scales[rows] = scales
        return cls(None, dense, dense_scales)

    def encoded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(rows, values, scales) of the rows that moved, as on the wire (int8 steps and
        their scales, or float16 values and None), whatever the form."""
        if self.rows is not None:
            return self.rows, self.values, self.scales
        if self.scales is not None:  # a row that moved has a step of ±127
            rows = np.flatnonzero(self.scales != 0).astype(np.int32)
            return rows, self.values[rows], self.scales[rows]
        rows = np.flatnonzero((self.values != 0).any(axis=1)).astype(np.int32)
        return rows, self.values[rows], None

    def sparse(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, values) of the rows that moved, whatever the form and wire; values (n, d)
        float32, decoded."""
        rows, values, scales = self.encoded()
        values = values.astype(np.float32)
        if scales is not None:
            values *= scales[:, None]
        return rows, values

    def add_to(self, table: np.ndarray) -> np.ndarray:
        """table[rows] += the decoded values; returns the rows."""
        rows, values, scales = self.encoded()
        if scales is not None:
            add_decoded_cpu(table, rows, values, scales)
        else:
            table[rows] += values.astype(np.float32)
        return rows

    @property
    def wire(self) -> str:
        return "int8" if self.scales is not None else str(self.values.dtype)

    @property
    def touched(self) -> int:
        return len(self.encoded()[0])

    @property
    def nbytes(self) -> int:
        return int(self.values.nbytes + (self.rows.nbytes if self.rows is not None else 0)
                   + (self.scales.nbytes if self.scales is not None else 0))


@dataclass
class Report:
    """What a worker sends after a round: the deltas of [input, output] tables since the
    last sync, what it trained, and its random streams as they now stand."""
    worker: int
    deltas: list[RowDelta]
    words: int  # in-vocabulary words trained this round
    pairs: int
    loss_sum: float
    streams: np.ndarray  # (threads, 2) uint64
    seconds: float = 0.0  # training the chunk and finding its deltas, on the worker


def moved_rows(table: np.ndarray, snapshot: np.ndarray) -> np.ndarray:
    """(n,) int32: the rows of `table` that differ from `snapshot`, ascending."""
    out = np.empty(len(table), np.int32)
    return out[:moved_rows_cpu(table, snapshot, out)].copy()


def row_update_rates(vocab: Vocabulary, config: TrainConfig) -> list[np.ndarray]:
    """Expected updates of each row per corpus word, [input (V,), output (rows,)] float64:
    how often a worker that trains n words touches row r is about n · rate[r].

    A kept word is a context of about window + 1 centres (the reduced window averages
    (window + 1) / 2 a side), so its input row and, as a positive target, its output row
    move that often; every kept centre draws `negative` noise words ∝ count**0.75 for each
    context (per pair); a Huffman node moves whenever a word below it is predicted."""
    share = vocab.counts / max(vocab.counts.sum(), 1)
    kept = share * vocab.keep_probabilities(config.sample)
    contexts = kept * (config.window + 1)
    output = np.zeros(config.output_rows(len(vocab)))
    if config.negative:
        output[:len(vocab)] = contexts + (config.negative * (config.window + 1) * kept.sum()
                                          * vocab.noise_distribution())
    if config.hs:
        tree = vocab.huffman_tree()
        np.add.at(output, len(vocab) + tree.points, np.repeat(contexts, np.diff(tree.offsets)))
    return [contexts, output]


def _saturated_share(x: np.ndarray) -> np.ndarray:
    """(1 − e^−x) / x, and its limit 1 at x = 0: f(c) = ρ·c·_saturated_share(ρ·c), so the
    saturating scale f(Σc) / Σf(c) needs no division by ρ (ρ is 0 in a curvature round
    whose partner rows are all zero: the first, when the output table starts at zero)."""
    x = np.asarray(x, dtype=np.float64)
    small = x < 1e-6
    return np.where(small, 1.0 - x / 2, -np.expm1(-x) / np.where(small, 1.0, x))


def _union(moved: list[np.ndarray],
           vocab_size: int | None) -> tuple[np.ndarray, list[np.ndarray]]:
    """The rows in any of `moved` ((n_i,) int32 arrays of distinct rows), ascending, and
    where each array's rows sit in that union. Through a (V,) mark and a (V,) slot table,
    not np.unique and searchsorted: 0.4 against 4.4 ms for the output table of two
    workers' 25,000-word rounds on gut8 (cProfile, in process)."""
    size = vocab_size if vocab_size is not None else max(
        (int(m.max()) + 1 for m in moved if len(m)), default=0)
    mark = np.zeros(size, dtype=bool)
    for m in moved:
        mark[m] = True
    rows = np.flatnonzero(mark).astype(np.int32)
    slot = np.empty(size, dtype=np.int32)
    slot[rows] = np.arange(len(rows), dtype=np.int32)
    return rows, [slot[m] for m in moved]


def combine(deltas: list[RowDelta], rule: str, vocab_size: int | None = None,
            updates: list[np.ndarray] | None = None, saturation: float | None = None,
            scratch: np.ndarray | None = None) -> RowDelta:
    """One RowDelta from the workers' (in worker order: the sums are reproducible).

    updates: with the saturating and curvature rules, each worker's expected updates of
    every row this round ((rows,) float64 per delta: w2v.scaleout.sync.row_update_rates ×
    its words); saturation: their ρ (default SATURATION; the curvature rule's is the
    backend's, per round and table); scratch: a (V, d) float32 array to sum the rows in,
    kept from round to round (a fresh 13 MB array a round cost the driver page faults: two
    workers on gut8's first 3.8M words, 194k of them in 74 rounds against 18k, and the
    combine 16.6 against 12.6 ms a round)."""
    if rule not in SYNC_RULES:
        raise ValueError(f"sync rule must be one of {', '.join(SYNC_RULES)}, got {rule!r}")
    rho = SATURATION if saturation is None else saturation
    saturating = rule in SATURATING_RULES
    parts = [d.encoded() for d in deltas]
    dim = deltas[0].values.shape[1] if deltas else 0
    rows, places = _union([moved for moved, _, _ in parts], vocab_size)
    if scratch is None:
        total = np.zeros((len(rows), dim), dtype=np.float32)
    else:
        total = scratch[:len(rows)]
        total.fill(0)
    touched = np.zeros(len(rows), dtype=np.float32)
    progress = np.zeros(len(rows))  # saturating: Σ_i f(c_i) / ρ over the workers that moved r
    count = np.zeros(len(rows))  # and Σ_i c_i
    for i, ((moved, values, scales), where) in enumerate(zip(parts, places)):
        if scales is not None:
            add_decoded_cpu(total, where, values, scales)
        else:
            total[where] += values.astype(np.float32)
        touched[where] += 1
        if saturating:
            c = updates[i][moved]
            progress[where] += c * _saturated_share(rho * c)
            count[where] += c
    if len(rows):
        if rule == "mean":
            total /= touched[:, None]
        elif rule == "root":
            total /= np.sqrt(touched)[:, None]
        elif saturating:
            scale = np.divide(count * _saturated_share(rho * count), progress,
                              out=np.ones_like(count), where=progress > 0)
            total *= np.where(touched > 1, scale, 1.0).astype(np.float32)[:, None]
    if vocab_size is None:
        return RowDelta(rows.astype(np.int32), total.copy() if scratch is not None else total)
    return RowDelta.of(rows, total, vocab_size)


class ShardWorker:
    """One worker: its shard of the corpus (read here, where it runs), its tables, and the
    snapshot of the tables at the last sync.

    paths: the corpus files (each worker opens only its byte range: w2v.io.corpus.shard_ranges);
    index, count: this worker's shard; tables: the (input, output) start tables, (V, d)
    float32; sync_words: words a round trains (the shard's chunk size; by default
    `default_sync_words`); threads: numba threads (Hogwild within the worker).
    """

    def __init__(self, paths, index: int, count: int, vocab: Vocabulary, config: TrainConfig,
                 tables: tuple[np.ndarray, np.ndarray], sync_words: int, threads: int = 1):
        self.index, self.threads = index, threads
        shard = (index, count) if count > 1 else None
        sentences = Corpus(paths, config.max_sentence_length, shard)
        self.encoded = EncodedCorpus(sentences, vocab, chunk_words=min(CHUNK_WORDS, sync_words))
        self.batches = ExampleBatches(self.encoded, vocab, config)
        self.kernel, self.private = chunk_kernel(config), private_rows(config)
        self.tables = [np.array(t, dtype=np.float32) for t in tables]
        self.snapshot = [t.copy() for t in self.tables]
        self.streams = np.zeros((threads, 2), np.uint64)
        self.moved = [np.empty(0, np.int32), np.empty(0, np.int32)]  # by the last round
        self.pool = ThreadPoolExecutor(threads) if threads > 1 else None

    @property
    def tokens(self) -> int:
        """Corpus words of this shard (one epoch), in the vocabulary or not."""
        return self.encoded.tokens

    @property
    def chunk_starts(self) -> list[int]:
        """Where each chunk (round) of the shard starts, in ids, and its end."""
        return [self.encoded.chunk_id_start(c) for c in range(self.encoded.n_chunks + 1)]

    def begin_epoch(self, streams: np.ndarray) -> None:
        self.streams = np.array(streams, dtype=np.uint64)

    def train(self, round_: int, lr_begin: float, lr_end: float) -> Report:
        """Train chunk `round_` of the shard, the learning rate falling from lr_begin to
        lr_end over it; report the deltas since the last sync."""
        tick = time.perf_counter()
        ids, ends = self.encoded.chunk(round_)
        trained = train_chunk(self.kernel, ids, ends, self.batches, *self.tables, lr_begin,
                              lr_end, self.streams, self.pool, self.private)
        self.moved, deltas = map(list, zip(*(RowDelta.moved(t, s) for t, s in
                                             zip(self.tables, self.snapshot))))
        return Report(self.index, deltas, len(ids), trained.pairs, trained.loss_sum,
                      self.streams.copy(), time.perf_counter() - tick)

    def apply(self, merged: list[RowDelta]) -> None:
        """Set the combined rows to the synchronised state: last sync's + combined delta,
        and every other row this worker moved back to last sync's (one whose change the
        wire rounded to nothing), so afterwards tables == snapshot == everyone's."""
        for table, snapshot, delta, moved in zip(self.tables, self.snapshot, merged,
                                                 self.moved):
            rows, values, scales = delta.encoded()
            if scales is not None:
                set_synchronised_cpu(table, snapshot, moved, rows, values, scales)
            else:
                table[moved] = snapshot[moved]
                table[rows] = snapshot[rows] + values.astype(np.float32)
                snapshot[rows] = table[rows]
        self.moved = [np.empty(0, np.int32), np.empty(0, np.int32)]

    def restore(self, tables, streams: np.ndarray) -> None:
        """Back to a synchronised state (a restarted worker replays its round from there)."""
        self.tables = [np.array(t, dtype=np.float32) for t in tables]
        self.snapshot = [t.copy() for t in self.tables]
        self.streams = np.array(streams, dtype=np.uint64)

    def close(self) -> None:
        self.encoded.close()
        if self.pool:
            self.pool.shutdown()


class LocalTeam:
    """Workers in this process, trained one after another: the simulation of a cluster
    (each starts every round from the same synchronised state, as on a cluster)."""

    name = "numba"
    where = "in one process, in turn"

    def __init__(self, workers: list[ShardWorker]):
        self.workers = workers
        self.restarts = self.replayed = 0

    @property
    def tokens(self) -> list[int]:
        return [w.tokens for w in self.workers]

    @property
    def chunk_starts(self) -> list[list[int]]:
        return [w.chunk_starts for w in self.workers]

    def begin_epoch(self, streams: list[np.ndarray]) -> None:
        for worker, rows in zip(self.workers, streams):
            worker.begin_epoch(rows)

    def synced(self, tables, streams: list[np.ndarray]) -> None:
        """(Where a Ray team keeps what a restarted worker restores; nothing dies here.)"""

    def train(self, round_: int, lr_begin: float, lr_end: float, active: list[int]) -> list[Report]:
        return [self.workers[i].train(round_, lr_begin, lr_end) for i in active]

    def apply(self, merged: list[RowDelta], workers: list[int]) -> None:
        for i in workers:
            self.workers[i].apply(merged)

    def close(self) -> None:
        for w in self.workers:
            w.close()


@dataclass
class SyncTraffic:
    """What synchronisation cost: syncs, bytes the workers sent (their deltas) and received
    (the combined rows), rows sent per table, the dense tables' size for comparison, and
    restarts of dead workers with the words they replayed."""
    workers: int
    sync_words: int
    rule: str
    where: str  # "on ray", ...
    syncs: int = 0
    sent_bytes: int = 0
    received_bytes: int = 0
    rows_sent: list = field(default_factory=lambda: [0, 0])
    dense_bytes: int = 0  # both V×d tables, once
    restarts: int = 0
    words_replayed: int = 0
    log: list = field(default_factory=list)  # per sync, per worker: rows sent of each table
    round_seconds: float = 0.0  # wall time of the rounds, sync included
    worker_seconds: float = 0.0  # of which the slowest worker of each round trained

    @property
    def sync_seconds(self) -> float:
        """What synchronising cost beyond the workers' training: transfers, combining,
        applying, and waiting (on one machine, in turn: the other workers' turns too)."""
        return self.round_seconds - self.worker_seconds

    def __str__(self) -> str:
        faults = (f" | {self.restarts} worker restart(s), {self.words_replayed:,} words "
                  f"replayed, 0 lost") if self.restarts else ""
        return (f"{self.workers} workers {self.where} | {self.syncs} syncs, every "
                f"{self.sync_words:,} words a worker ({self.rule} of deltas) | sent "
                f"{self.sent_bytes / 1e6:,.1f} MB, received {self.received_bytes / 1e6:,.1f} "
                f"MB in all (both dense tables: {self.dense_bytes / 1e6:,.1f} MB per worker "
                f"and sync) | rounds {self.round_seconds:,.1f} s, of which synchronising "
                f"{self.sync_seconds:,.1f} s{faults}")


class SyncBackend(Backend):
    """A team of shard workers as one backend. Units are in-vocabulary words summed over
    the workers; span r is round r (chunk r of every shard that has one); the streams'
    rows are the workers' threads, worker w's rows w·T .. w·T + T − 1.

    team: LocalTeam or w2v.scaleout.ray_cluster.RayTeam; tables: the driver's copy of the
    start tables, (V, d) float32, kept synchronised here; vocab: the team's vocabulary
    (the saturating and curvature rules' row rates come from its counts); sync_words: what
    each worker trains between syncs, as the team's workers were built with; curvature: κ
    of the curvature rule (None: default_curvature(workers)); saturation: ρ of the
    saturating rule (None: SATURATION); on_sync(sync, team): called after each sync (the
    tests kill a worker there)."""

    def __init__(self, team, config: TrainConfig, tables, vocab: Vocabulary, workers: int,
                 threads: int, sync_words: int, rule: str = SYNC_RULE,
                 curvature: float | None = None, saturation: float | None = None,
                 on_sync=None):
        if rule not in SYNC_RULES:
            raise ValueError(f"sync rule must be one of {', '.join(SYNC_RULES)}, got {rule!r}")
        self.team, self.rule, self.on_sync = team, rule, on_sync
        self.curvature = default_curvature(workers) if curvature is None else curvature
        self.saturation = SATURATION if saturation is None else saturation
        self.row_rates = row_update_rates(vocab, config) if rule in SATURATING_RULES else None
        self.tables_ = [np.asarray(t, dtype=np.float32) for t in tables]
        # curvature: every row's squared norm, kept up to date row by row as rows change
        self.squared_norms = ([np.einsum("ij,ij->i", t, t) for t in self.tables_]
                              if rule == "curvature" else None)
        self.workers, self.threads = workers, threads
        self.name = f"{team.name} ({workers} worker{'s' if workers > 1 else ''})"
        self.corpus_words = sum(team.tokens)
        self.stream_rows = range(workers * threads)
        starts = team.chunk_starts
        self.rounds = [len(s) - 1 for s in starts]  # chunks of each shard
        self.span_bounds = np.array([sum(s[min(r, len(s) - 1)] for s in starts)
                                     for r in range(max(self.rounds) + 1)], dtype=np.int64)
        self.stats = SyncTraffic(workers, sync_words, rule, team.where,
                                 dense_bytes=2 * self.tables_[0].nbytes)
        self.streams = None
        self.scratch = [np.empty_like(t) for t in self.tables_]  # combine's, one per table

    def _rows(self, streams: np.ndarray) -> list[np.ndarray]:
        t = self.threads
        return [streams[w * t:(w + 1) * t] for w in range(self.workers)]

    def begin_epoch(self, epoch: int, streams: np.ndarray, first_span: int) -> None:
        self.streams = streams
        self.team.begin_epoch(self._rows(streams))

    def train(self, span: Span) -> Trained:
        tick = time.perf_counter()
        active = [w for w, rounds in enumerate(self.rounds) if span.index < rounds]
        self.team.synced(self.tables_, [rows.copy() for rows in self._rows(self.streams)])
        reports = self.team.train(span.index, span.lr_begin, span.lr_end, active)
        merged = [combine([r.deltas[t] for r in reports], self.rule, len(self.tables_[t]),
                          self._updates(reports, t), self._saturation(span, t),
                          self.scratch[t])
                  for t in (0, 1)]
        everyone = list(range(self.workers))  # a worker whose shard is done this epoch
        self.team.apply(merged, everyone)  # still takes the round's rows, or it falls behind
        for t, (table, delta) in enumerate(zip(self.tables_, merged)):
            rows = delta.add_to(table)
            if self.squared_norms is not None:
                changed = table[rows]
                self.squared_norms[t][rows] = np.einsum("ij,ij->i", changed, changed)
        for r in reports:
            self.streams[r.worker * self.threads:(r.worker + 1) * self.threads] = r.streams
        stats = self.stats
        stats.syncs += 1
        stats.sent_bytes += sum(d.nbytes for r in reports for d in r.deltas)
        stats.received_bytes += len(everyone) * sum(m.nbytes for m in merged)
        sent = {r.worker: [d.touched for d in r.deltas] for r in reports}
        for t in (0, 1):
            stats.rows_sent[t] += sum(rows[t] for rows in sent.values())
        stats.log.append([sent.get(w, [0, 0]) for w in range(self.workers)])
        stats.round_seconds += time.perf_counter() - tick
        stats.worker_seconds += max(r.seconds for r in reports)
        if self.on_sync:
            self.on_sync(stats.syncs, self.team)
        return Trained(sum(r.pairs for r in reports), sum(r.loss_sum for r in reports))

    def _updates(self, reports: list[Report], table: int) -> list[np.ndarray] | None:
        if self.row_rates is None:
            return None
        return [self.row_rates[table] * r.words for r in reports]

    def _saturation(self, span: Span, table: int) -> float | None:
        """ρ of `table` this round: the saturating rule's own; under the curvature rule,
        κ × the round's mean learning rate × the mean squared norm of the other table's
        rows, each weighted by how often it takes part in an update (its
        `row_update_rates`); None for the other rules."""
        if self.rule == "saturating":
            return self.saturation
        if self.rule != "curvature":
            return None
        weights = self.row_rates[1 - table]
        norms = self.squared_norms[1 - table][:len(weights)]
        # einsum, not `@`: a BLAS call here, every round, keeps OpenBLAS's threads spinning
        # in this process between rounds, a core taken from the workers (Ray runs them
        # niced): their kernel took 69 ms a round instead of 38 (perf, py-spy)
        mean_squared = float(np.einsum("i,i->", weights, norms) / max(weights.sum(), 1e-300))
        return self.curvature * 0.5 * (span.lr_begin + span.lr_end) * mean_squared

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        return self.tables_[0], self.tables_[1]

    def traffic(self) -> SyncTraffic:
        self.stats.restarts, self.stats.words_replayed = self.team.restarts, self.team.replayed
        return self.stats

    def close(self) -> None:
        self.team.close()
