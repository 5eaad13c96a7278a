"""Where the keras backend's time goes: its epoch taken apart, on this machine.

    python -m benchmarks.keras_step --corpus ../shared/corpora/gut8.gz --words 2000000 \\
        --rounds 5 --out benchmarks/results/keras_step

One process; the first `--words` words of the corpus, copied as compare_gensim copies them;
skip-gram with negative sampling at the default settings, 2 threads. One epoch's examples
are drawn once by the backend's own generator (w2v.batches) and held in memory, and then,
in interleaved rounds, each of these trains that epoch (pairs/s, the median of the rounds):

- backend: `KerasBackend` as the driver runs it: the generator feeding tf.data, and one
  call of the train function a span (a (16, B, W) block, one XLA loop);
- train function: the same calls on the same blocks from memory (no generator);
- one call a step: the same model through Keras's `steps_per_execution` = 16 (one compiled
  call a step, 16 a call; what the block replaced), batches from memory;
- soft batch: `SoftBatch(SparseSGD, 4)` in the backend's train function, blocks from memory;
- bare step: gather, w2v/sgns.py's gradients, two scatter-subtracts, 16 steps in one XLA
  loop a call (no Keras, optimizer, schedule or loss metric), batches of B = 1,024;
- bare step, batches of 4,096: the same with four batches' rows at once (the rows soft
  batch applies in one update);
- bare step, window form: the issue's matmul route. A window's contexts each score the
  window's 1 + K targets (its center and K noise words, shared: the numba default's
  HogBatch form), one (C, d) × (d, 1 + K) matmul a window, in CBOW's example layout
  (center, 2·window context slots, noise words; an empty slot is row 0 with a zero
  gradient), B = 170 windows a batch (config.examples_per_batch's size for windows: about
  1,024 pairs) and B = 1,024 (about 6,000 pairs). The same subsampling and windows as the
  pairs, so the same pairs; pairs/s counts the contexts trained.

Neighbours differ by one thing each: backend against train function is the input pipeline,
train function against bare step is Keras, the optimizer and the loss metric; soft batch
against train function is applying four steps' rows at once, after the fact.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks import interleaved, publish, rates_table
from benchmarks.compare_gensim import GENSIM_LINE_WORDS, write_split_copy

SPAN = 16  # steps a call, as the backend's STEPS_PER_SPAN


def _in_one_loop(input_vectors, output_vectors, gradients, lr: float):
    """The XLA function that trains a (S, B, W) block on two tf.Variables, its S steps in
    one loop: gradients(step) -> (input rows, their gradients, output rows, theirs), any
    leading shapes; each gradient × lr is subtracted from its row."""
    import tensorflow as tf

    dim = input_vectors.shape[1]

    @tf.function(jit_compile=True)
    def train(block):
        def body(i):
            in_rows, in_grads, out_rows, out_grads = gradients(block[i])
            for table, rows, grads in ((input_vectors, in_rows, in_grads),
                                       (output_vectors, out_rows, out_grads)):
                tf.raw_ops.ResourceScatterSub(resource=table.handle,
                                              indices=tf.reshape(rows, [-1]),
                                              updates=lr * tf.reshape(grads, [-1, dim]))
            return (i + 1,)

        tf.while_loop(lambda i: i < tf.shape(block)[0], body, (tf.constant(0),))
        return tf.constant(0)

    return train


def bare_step(input_vectors, output_vectors, lr: float = 0.025):
    """The XLA function that trains a (S, B, 2 + K) block of pairs on two tf.Variables, as
    benchmarks/roofline.py's bare step does."""
    import tensorflow as tf

    from w2v import sgns

    def gradients(step):
        h = tf.gather(input_vectors, step[:, 0])
        u = tf.gather(output_vectors, step[:, 1:])
        _, grad_h, grad_u = sgns.loss_and_gradients(h, u)  # the loss: dropped by XLA
        return step[:, 0], grad_h, step[:, 1:], grad_u

    return _in_one_loop(input_vectors, output_vectors, gradients, lr)


def window_step(input_vectors, output_vectors, window: int, lr: float = 0.025):
    """The XLA function that trains a (S, B, 1 + 2·window + K) block of windows in window
    form (module docstring) on two tf.Variables. (tf.matmul: the same step with einsum ran
    13 and 16 % slower at B = 170 and 512, one probe each.)"""
    import tensorflow as tf

    def gradients(step):
        slots = step[:, 1:1 + 2 * window]
        mask = tf.cast(slots >= 0, tf.float32)  # (B, C)
        contexts = tf.maximum(slots, 0)
        targets = tf.concat([step[:, :1], step[:, 1 + 2 * window:]], axis=1)  # (B, T)
        h = tf.gather(input_vectors, contexts)  # (B, C, d)
        u = tf.gather(output_vectors, targets)  # (B, T, d)
        scores = tf.matmul(h, u, transpose_b=True)  # (B, C, T)
        labels = tf.concat([tf.ones_like(scores[:, :, :1]),
                            tf.zeros_like(scores[:, :, 1:])], axis=2)
        error = (tf.sigmoid(scores) - labels) * mask[:, :, None]
        return (contexts, tf.matmul(error, u), targets,
                tf.matmul(error, h, transpose_a=True))

    return _in_one_loop(input_vectors, output_vectors, gradients, lr)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default="data/novels.txt.gz")
    p.add_argument("--words", type=int, default=2_000_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    from w2v.backends.base import Span
    from w2v.backends.keras_backend import KerasBackend
    from w2v.backends.keras_model import Word2VecModel
    from w2v.batches import ExampleBatches
    from w2v.config import TrainConfig
    from w2v.optimizers import LinearDecay, SparseSGD
    from w2v.prepare import prepare
    from w2v.streams import epoch_streams, initial_tables

    config = TrainConfig(epochs=1, threads=2, backend="keras").validated()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "corpus.txt"
        write_split_copy(Path(args.corpus), copy, args.words, GENSIM_LINE_WORDS)
        _, vocab, batches = prepare(copy, config)
        tables = initial_tables(len(vocab), config.dim, config.seed)
        backend = KerasBackend(batches, *tables, config)
        # its own backend for blocks from memory: the train function of `backend` stays
        # traced for the generator's iterator alone
        memory = KerasBackend(batches, *tables, config)
        soft = KerasBackend(batches, *tables, TrainConfig(
            epochs=1, threads=2, backend="keras", steps_per_update=4).validated())
        streams = epoch_streams(config.seed, 0, range(1))
        blocks = np.stack(list(backend._span_blocks(streams.copy(), 0)))  # (spans, S, B, W)
        pairs = blocks.shape[0] * blocks.shape[1] * blocks.shape[2]
        b, width = blocks.shape[2], blocks.shape[3]

        def backend_epoch():
            backend.begin_epoch(0, streams, 0)
            for s in range(len(backend.span_bounds) - 1):
                bounds = int(backend.span_bounds[s]), int(backend.span_bounds[s + 1])
                backend.train(Span(0, s, *bounds, config.alpha, config.alpha))

        def from_memory(model, data):
            def run():
                iterator = iter(tf.data.Dataset.from_tensor_slices(data))
                for _ in range(len(data) // model.steps_per_execution):
                    model.train_function(iterator)
                model.loss_tracker.result().numpy()
            return run

        per_step = Word2VecModel(len(vocab), config.dim, seed=config.seed)
        per_step.compile(optimizer=SparseSGD(LinearDecay(config.alpha, config.min_alpha,
                                                          backend.steps_per_epoch)),
                         jit_compile=True, steps_per_execution=SPAN)
        per_step.make_train_function()
        bare_in, bare_out = (tf.Variable(t) for t in tables)
        bare = bare_step(bare_in, bare_out)
        bare_blocks = tf.constant(blocks)
        wide_blocks = tf.constant(blocks.reshape(-1, SPAN // 4, 4 * b, width))
        # the same epoch as windows: CBOW's generator on the same encoded corpus and streams
        windows = np.concatenate(list(ExampleBatches(
            batches.encoded, vocab, replace(config, cbow=True)).chunk_examples(streams[0])))
        window_in, window_out = (tf.Variable(t) for t in tables)
        in_windows = window_step(window_in, window_out, config.window)
        contexts = {}  # a window probe's pairs: the contexts of its blocks

        def bare_run(data, step=bare):
            def run():
                for block in data:
                    step(block)
            return run

        def window_probe(size):
            """(name, run) of the window form on batches of `size` windows."""
            whole = len(windows) // (SPAN * size) * SPAN * size
            data = windows[:whole].reshape(-1, SPAN, size, windows.shape[1])
            name = f"bare step, window form, {size:,} windows a batch"
            contexts[name] = int((data[..., 1:1 + 2 * config.window] >= 0).sum())
            return name, bare_run(tf.constant(data), in_windows)

        probes = {
            "backend": backend_epoch,
            "train function": from_memory(memory.model, blocks),
            "one call a step": from_memory(per_step, blocks.reshape(-1, b, width)),
            "soft batch (k = 4)": from_memory(soft.model, blocks),
            "bare step": bare_run(bare_blocks),
            "bare step, batches of 4,096": bare_run(wide_blocks),
            **dict(window_probe(size) for size in (170, 1024)),
        }
        trained = {name: contexts.get(name, pairs) for name in probes}
        for run in probes.values():  # compile and warm each once, untimed
            run()
        def timed(name, run):
            def rate():
                tick = time.perf_counter()
                run()
                return trained[name] / (time.perf_counter() - tick)
            return rate

        rates = interleaved({name: timed(name, run) for name, run in probes.items()},
                            args.rounds)
        median = {name: statistics.median(v) for name, v in rates.items()}
    lines = [f"The keras backend's epoch taken apart: {Path(args.corpus).name}, first "
             f"{args.words:,} words, one epoch's {pairs:,} skip-gram pairs held in memory, "
             f"batches of {b:,}, {SPAN} steps a call, 2 threads; median of {args.rounds} "
             f"interleaved rounds.", "",
             *rates_table(rates, "bare step", "bare step")]
    publish(lines, args.out, "benchmarks.keras_step", argv,
            {"pairs": pairs, "rounds": rates, "median": median})


if __name__ == "__main__":
    main()
