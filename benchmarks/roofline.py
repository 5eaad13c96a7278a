"""The ceiling: the irreducible work of skip-gram negative sampling, on this machine.

    python -m benchmarks.roofline --corpus ../shared/corpora/gut8.gz --words 2000000 \\
        --out benchmarks/results/roofline

One pair, as word2vec trains it: gather the input row and 1 + K output rows, K + 1 dot
products, σ of each (read from the kernels' table, as gensim reads its own), K + 1 axpy
updates of the output rows and one of the input row. The probe does exactly that and nothing else: ids drawn beforehand (centres and
contexts from the corpus's word frequencies after subsampling, negatives ∝ count^0.75), no
windows, no subsampling, no random numbers and no loss in the timed loop; the same `dot`
and `axpy` loops as our kernels (w2v/kernels/cpu.py), threads sharing the tables Hogwild as
the numba backend's do. Tables: the corpus's vocabulary, one of 10,000 rows (both tables
in L3) and one of 1,000,000 (far beyond it: a Zipf tail past the corpus's words). Once
more on the most threads with each thread on tables of its own: what a second thread gives
the work when no row is shared, against what it gives when the threads share the tables.

A second probe does the same pairs the way the keras backend must: batches of 1,024 through
one XLA-compiled TensorFlow function that gathers the rows, takes w2v/sgns.py's closed-form
gradients (its loss unused, for XLA to drop) and scatter-subtracts them, and nothing else
(no Keras, no input pipeline): the ceiling of a TensorFlow step on this CPU.

It then places every system of the committed gut8_speed run (the same slice of the same
corpus) against the ceiling: its words/s × the pairs a word makes here (counted by the batch
generator on the slice, in compare_gensim's 1,000-word lines) over the probe's pairs/s with
the corpus's vocabulary.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from numba import njit

from benchmarks import publish
from benchmarks.compare_gensim import GENSIM_LINE_WORDS, write_split_copy
from w2v.io.corpus import Corpus
from w2v.kernels.cpu import axpy, dot, read_and_step, sgns_term_cpu
from w2v.vocab import Vocabulary

RESULTS = Path(__file__).parent / "results"


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def sgns_pairs(centers, contexts, negatives, input_vectors, output_vectors, lr):
    """Train pairs (centers[i] predicts contexts[i] against negatives[i, :]) in place;
    centers, contexts (n,) int32, negatives (n, K) int32, tables (rows, d) float32."""
    d = input_vectors.shape[1]
    grad = np.zeros(d, dtype=np.float32)
    for i in range(centers.shape[0]):
        h = input_vectors[contexts[i]]
        grad[:] = 0.0
        for k in range(negatives.shape[1] + 1):
            t = centers[i] if k == 0 else negatives[i, k - 1]
            u = output_vectors[t]
            g = sgns_term_cpu(dot(h, u), k == 0, lr)[1]  # inlined: the unused loss is dropped
            read_and_step(g, u, h, grad)
        axpy(1.0, grad, h)


def frequencies(counts: np.ndarray, rows: int, sample: float):
    """(kept (rows,), noise (rows,)) float64: how often each row is a centre or context
    (the counts after subsampling) and how often it is drawn as a negative; rows past the
    counts continue their Zipf tail (count ∝ 1 / rank)."""
    counts = counts.astype(np.float64)
    if rows > len(counts):
        tail = counts[-1] * len(counts) / np.arange(len(counts) + 1, rows + 1)
        counts = np.concatenate([counts, tail])
    counts = counts[:rows]
    share = counts / counts.sum()
    keep = np.minimum(1.0, (np.sqrt(share / sample) + 1) * sample / share)
    kept = share * keep
    noise = counts ** 0.75
    return kept / kept.sum(), noise / noise.sum()


def remapped(ids: np.ndarray, hot: int, first: int) -> np.ndarray:
    """int32 ids with each id below `hot` moved to row first + id (a thread's own copy of the
    hot rows, which begins at row `first`), the rest unchanged."""
    return np.where(ids < hot, ids + first, ids).astype(np.int32)


def probe(rows: int, dim: int, negative: int, pairs: int, threads: int, kept, noise,
          repeats: int = 3, own_tables: bool = False, hot: int = 0) -> float:
    """Pairs/s: the best of `repeats` timed passes over `pairs` pre-drawn pairs; with
    own_tables, each thread trains a copy of its own (no row is shared: what the machine
    gives the work without any contention between the threads); with `hot`, each thread
    has a copy of its own of the `hot` most frequent rows (rows 0..hot-1) of both tables,
    past the shared rows (its ids remapped beforehand: benchmarks/hot_rows.py)."""
    rng = np.random.default_rng(1)
    centers = rng.choice(rows, pairs, p=kept).astype(np.int32)
    contexts = rng.choice(rows, pairs, p=kept).astype(np.int32)
    negatives = rng.choice(rows, (pairs, negative), p=noise).astype(np.int32)
    total = rows + threads * hot
    input_vectors = ((rng.random((total, dim), dtype=np.float32) - 0.5) / dim)
    output_vectors = np.zeros((total, dim), dtype=np.float32)
    spans = [slice(p[0], p[-1] + 1) for p in np.array_split(np.arange(pairs), threads)]
    shares = [[remapped(ids[span], hot, rows + t * hot) if hot else ids[span]
               for ids in (centers, contexts, negatives)] for t, span in enumerate(spans)]
    tables = [(input_vectors.copy(), output_vectors.copy()) if own_tables else
              (input_vectors, output_vectors) for _ in spans]
    sgns_pairs(centers[:10], contexts[:10], negatives[:10], input_vectors, output_vectors, 0.025)
    best = 0.0
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(repeats):
            tick = time.perf_counter()
            list(pool.map(lambda t: sgns_pairs(*shares[t], *tables[t], 0.025), range(threads)))
            best = max(best, pairs / (time.perf_counter() - tick))
    return best


def xla_probe(rows: int, dim: int, negative: int, pairs: int, threads: int, kept, noise,
              repeats: int = 3, batch: int = 1024) -> float:
    """Pairs/s of the bare TensorFlow step (module docstring) on `threads` threads: the
    best of `repeats` passes over `pairs` pre-drawn pairs, `batch` a step."""
    import os
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    from w2v import sgns

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    rng = np.random.default_rng(1)
    steps = pairs // batch
    examples = np.stack([rng.choice(rows, (steps, batch), p=kept),
                         rng.choice(rows, (steps, batch), p=kept)], axis=-1)
    examples = np.concatenate([examples, rng.choice(rows, (steps, batch, negative), p=noise)],
                              axis=-1).astype(np.int32)  # (steps, batch, 2 + K)
    input_vectors = tf.Variable((rng.random((rows, dim), dtype=np.float32) - 0.5) / dim)
    output_vectors = tf.Variable(np.zeros((rows, dim), dtype=np.float32))

    @tf.function(jit_compile=True)
    def train(examples):
        for i in tf.range(tf.shape(examples)[0]):
            step = examples[i]
            h = tf.gather(input_vectors, step[:, 0])  # (B, d)
            u = tf.gather(output_vectors, step[:, 1:])  # (B, 1 + K, d)
            _, grad_h, grad_u = sgns.loss_and_gradients(h, u)  # the loss: dropped by XLA
            input_vectors.scatter_sub(tf.IndexedSlices(0.025 * grad_h, step[:, 0]))
            output_vectors.scatter_sub(tf.IndexedSlices(
                0.025 * tf.reshape(grad_u, [-1, dim]), tf.reshape(step[:, 1:], [-1])))
        return tf.constant(0)

    examples = tf.constant(examples)
    train(examples[:2])
    best = 0.0
    for _ in range(repeats):
        tick = time.perf_counter()
        train(examples)
        best = max(best, steps * batch / (time.perf_counter() - tick))
    return best


def pairs_per_word(copy: Path, vocab) -> float:
    """Skip-gram pairs one epoch of the slice's `copy` makes, per corpus word (default
    settings)."""
    from w2v.batches import EncodedCorpus, ExampleBatches
    from w2v.config import TrainConfig
    from w2v.io.corpus import Corpus
    from w2v.streams import epoch_streams

    config = TrainConfig()
    encoded = EncodedCorpus(Corpus([copy]), vocab)
    try:
        batches = ExampleBatches(encoded, vocab, config)
        return batches.count_pairs(epoch_streams(config.seed, 0, range(1))[0]) / encoded.tokens
    finally:
        encoded.close()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default="data/novels.txt.gz")
    p.add_argument("--words", type=int, default=2_000_000)
    p.add_argument("--pairs", type=int, default=2_000_000, help="pairs a timed pass trains")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--repeats", type=int, default=3,
                   help="timed passes of each probe (the best is kept: this machine is noisy)")
    p.add_argument("--speed", default=str(RESULTS / "gut8_speed.json"),
                   help="a compare_gensim result on the same slice, to place against the ceiling")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    corpus, dim, negative, sample = Path(args.corpus), 100, 5, 1e-3
    thread_counts = [int(t) for t in args.threads.split(",")]
    with tempfile.TemporaryDirectory() as tmp:  # the slice as compare_gensim copies it
        copy = Path(tmp) / "corpus.txt"
        write_split_copy(corpus, copy, args.words, GENSIM_LINE_WORDS)
        vocab = Vocabulary.build(Corpus([copy]), 5)
        per_word = pairs_per_word(copy, vocab)
    sizes = {"the corpus's vocabulary": len(vocab), "in L3": 10_000, "beyond L3": 1_000_000}
    ceiling = {}
    for name, rows in sizes.items():
        kept, noise = frequencies(vocab.counts, rows, sample)
        for t in thread_counts:
            ceiling[(name, t)] = probe(rows, dim, negative, args.pairs, t, kept, noise,
                                       args.repeats)
            print(f"{name} ({rows:,} rows), {t} thread(s): {ceiling[(name, t)]:,.0f} pairs/s",
                  flush=True)
    lines = [f"The SGNS ceiling on this machine: dim {dim}, K = {negative}, sample {sample:g}; "
             f"pairs/s, the best of {args.repeats} passes of {args.pairs:,} pre-drawn pairs "
             f"({Path(args.corpus).name}, first {args.words:,} words: {per_word:.2f} pairs a "
             f"word).", "",
             "| tables | rows | MB (both) | " + " | ".join(f"{t} thread(s)" for t in thread_counts)
             + " |", "|---|---|---|" + "---|" * len(thread_counts)]
    for name, rows in sizes.items():
        lines.append(f"| {name} | {rows:,} | {2 * rows * dim * 4 / 1e6:,.0f} | " +
                     " | ".join(f"{ceiling[(name, t)]:,.0f}" for t in thread_counts) + " |")
    kept, noise = frequencies(vocab.counts, len(vocab), sample)
    most = max(thread_counts)
    own = probe(len(vocab), dim, negative, args.pairs, most, kept, noise, args.repeats, True)
    shared = ceiling[("the corpus's vocabulary", most)]
    single = ceiling[("the corpus's vocabulary", min(thread_counts))]
    print(f"own tables, {most} thread(s): {own:,.0f} pairs/s", flush=True)
    lines += ["", f"With each of {most} threads on tables of its own (the corpus's vocabulary; "
              f"no row shared, so no contention between them): {own:,.0f} pairs/s, "
              f"{own / single:.2f}× {min(thread_counts)} thread(s), against "
              f"{shared / single:.2f}× with the tables shared."]
    xla_threads = most
    xla = xla_probe(len(vocab), dim, negative, args.pairs, xla_threads, kept, noise,
                    args.repeats)
    print(f"bare XLA step, {xla_threads} thread(s): {xla:,.0f} pairs/s", flush=True)
    lines += ["", f"The bare TensorFlow step (XLA, batches of 1,024, the corpus's vocabulary, "
              f"{xla_threads} threads): {xla:,.0f} pairs/s, {xla / shared:.0%} of the ceiling."]
    placed = {}
    speed_path = Path(args.speed)
    if speed_path.exists():
        speed = json.loads(speed_path.read_text())
        threads = speed["params"]["threads"]
        top = ceiling[("the corpus's vocabulary", threads)]
        lines += ["", f"Every system of {speed_path.name} ({speed['corpus_words']:,} words, "
                  f"{threads} threads) against the ceiling with the corpus's vocabulary at "
                  f"{threads} threads ({top:,.0f} pairs/s) and against the bare TensorFlow "
                  f"step:", "",
                  "| system | words/s | pairs/s (words/s × pairs a word) | of the ceiling | "
                  "of the bare TensorFlow step |", "|---|---|---|---|---|"]
        for system, m in speed["median"].items():
            pairs = m["words_per_second"] * per_word
            placed[system] = pairs / top
            lines.append(f"| {system} | {m['words_per_second']:,.0f} | {pairs:,.0f} | "
                         f"{pairs / top:.0%} | {pairs / xla:.0%} |")
    publish(lines, args.out, "benchmarks.roofline", argv,
            {"pairs_per_word": per_word, "placed": placed, "xla_step": xla,
             "own_tables": own,
             "ceiling": {f"{n}|{t}": v for (n, t), v in ceiling.items()}, "rows": sizes})


if __name__ == "__main__":
    main()
