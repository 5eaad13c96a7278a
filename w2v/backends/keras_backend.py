"""The keras backend: `Word2VecModel` (w2v/backends/keras_model.py) on the sparse optimizers of
w2v.optimizers, its closed-form gradients applied as row scatters; optionally data-parallel
under a tf.distribute strategy (w2v/scaleout/tf_distribute.py).

A span is STEPS_PER_SPAN steps, run through Keras's own compiled train function
(`model.make_train_function`, what `model.fit` calls) as one call on one (S, B, W) block of
the span's batches: `Word2VecModel.train_step` loops over them in-graph, so that XLA
compiles the span as one loop (Keras's `steps_per_execution` makes one compiled call a
step: 1.29x and 1.83x slower per pair in two runs of benchmarks/keras_step.py). A model
class with a train_step of its own gets one batch a step instead, S steps a call through
`steps_per_execution`, and so does a step under a strategy, one a call. The epochs, the
schedule and the checkpoints are the driver's. Keras callbacks (TensorBoard,
ModelCheckpoint, ...) get the calls fit would make: on_train_begin, on_epoch_begin/end,
on_train_batch_begin/end per span, on_train_end.

An epoch's batches are drawn from its stream row (w2v/streams.py) by w2v.batches and cut
to the same number of steps every epoch (the fewest any epoch gives: subsampling makes
epochs differ by a few batches). A run resumed mid-epoch replays the epoch's draws from
its start and skips the steps already trained.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

import numpy as np

from w2v.backends.base import Backend, Span, Trained
from w2v.batches import ExampleBatches, whole_groups
from w2v.config import TrainConfig
from w2v.streams import epoch_streams

STEPS_PER_SPAN = 16  # steps per span: one tf.function call of 16 steps amortises Python
CHECKPOINT_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad")  # state all in slots
# one gradient a step, which Keras all-reduces: the same four whose state checkpoints
DISTRIBUTED_OPTIMIZERS = CHECKPOINT_OPTIMIZERS


@dataclass
class KerasOptions:
    """What only the keras backend takes. callbacks: Keras callbacks; model_class: a
    SkipGram subclass to train instead; optimizer_factory: schedule -> Keras optimizer;
    team: a w2v.scaleout.tf_distribute.Team (this process's place in a strategy)."""
    callbacks: list = field(default_factory=list)
    model_class: type | None = None
    optimizer_factory: object = None
    team: object = None


class KerasBackend(Backend):
    """Trains a SkipGram built from the given (V, d) float32 tables; units are steps (a
    step is one batch per replica)."""

    name = "keras"

    def __init__(self, batches: ExampleBatches, input_vectors: np.ndarray,
                 output_vectors: np.ndarray, config: TrainConfig, options: KerasOptions | None = None):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras
        import tensorflow as tf

        from w2v.backends.keras_model import Word2VecModel
        from w2v.optimizers import LinearDecay, make_optimizer

        options = options or KerasOptions()
        self.tf, self.config, self.batches = tf, config, batches
        self.team = team = options.team
        if team is None:  # a cluster's collectives need TensorFlow's own thread pools:
            # with them cut to `threads`, a worker's first step aborts ("std::system_error:
            # Resource temporarily unavailable", TF 2.21)
            with contextlib.suppress(RuntimeError):  # TensorFlow started already: keep them
                tf.config.threading.set_intra_op_parallelism_threads(config.worker_threads)
                tf.config.threading.set_inter_op_parallelism_threads(config.worker_threads)
        self.local = team.local if team else 1  # batches of this worker's stream per step
        self.stream_rows = range(team.worker, team.worker + 1) if team else range(1)
        pairs = min(batches.count_pairs(epoch_streams(config.seed, e, self.stream_rows)[0])
                    for e in range(config.epochs))
        self.corpus_words = batches.encoded.tokens
        if team is None:
            if pairs < batches.batch_size:  # a corpus smaller than one batch: one per epoch
                batches.batch_size = max(pairs, 1)
            steps = pairs // batches.batch_size
        else:
            self.corpus_words, steps = team.agree_on_epochs(
                pairs // batches.batch_size // self.local, batches.encoded.tokens,
                batches.batch_size)
        if steps >= STEPS_PER_SPAN:
            steps -= steps % STEPS_PER_SPAN  # whole spans: the few batches cut are dropped
        self.steps_per_epoch = steps
        self.span_steps = min(STEPS_PER_SPAN, steps)
        self.span_bounds = np.arange(0, steps + 1, self.span_steps, dtype=np.int64)
        # the optimizer's schedule advances once per update: every step, or every k-th
        # under soft batch
        schedule = LinearDecay(config.alpha, config.min_alpha,
                               steps * config.epochs // config.steps_per_update)
        model_class = options.model_class or Word2VecModel
        # A span is one call on one (S, B, W) block, unless under a team (a batch a call)
        # or the model class has a train_step of its own (a batch a step, S a call).
        self.blocks = team is None and model_class.train_step is Word2VecModel.train_step
        per_batch = team is None and not self.blocks
        with team.strategy.scope() if team else contextlib.nullcontext():
            model = model_class(
                len(input_vectors), config.dim, seed=config.seed, cbow=config.cbow,
                cbow_mean=config.cbow_mean, negative=config.negative, tree=batches.huffman,
                window=config.window)
            model.input_vectors.assign(input_vectors)
            model.output_vectors.assign(output_vectors)
            optimizer = (options.optimizer_factory(schedule) if options.optimizer_factory else
                         make_optimizer(config.optimizer, schedule, config.steps_per_update))
            model.compile(optimizer=optimizer,
                          jit_compile=team is None and model.compiles_with(optimizer)
                          and getattr(optimizer, "jit_compatible", True),
                          # a block is a span's steps already; and a distributed step's
                          # all-reduce fails inside Keras's multi-step loop ("You must feed
                          # a value for placeholder", TF 2.21)
                          steps_per_execution=self.span_steps if per_batch else 1)
            optimizer.build(model.trainable_variables)
        model.make_train_function()
        self.model, self.optimizer = model, optimizer
        self.calls_per_span = 1 if self.blocks else self.span_steps // model.steps_per_execution
        self.callbacks = keras.callbacks.CallbackList(
            list(options.callbacks), model=model, add_history=False, add_progbar=False,
            epochs=config.epochs, steps=steps)
        self.watchdog = team.watchdog() if team and team.workers > 1 else None
        if self.watchdog:
            self.watchdog.__enter__()
        self.iterator, self.began = None, False
        self.stopping = False  # set by close: the epoch's generators yield nothing more

    def _epoch_blocks(self, streams: np.ndarray, skip: int):
        """The epoch's (m, B, 2 + K) blocks: steps_per_epoch × local batches in all, the
        first skip × local left out (a resumed run trained them)."""
        left, drop = self.steps_per_epoch * self.local, skip * self.local
        for block in self.batches.epoch_blocks(streams[0]):
            if left <= 0 or self.stopping:
                break
            block = block[:left]
            left -= len(block)
            if drop:
                block, drop = block[drop:], max(drop - len(block), 0)
            if len(block):
                yield block

    def _span_blocks(self, streams: np.ndarray, skip: int):
        """The epoch's (S, B, 2 + K) blocks, one a span (S = span_steps), the first `skip`
        steps left out: what one train-function call trains."""
        for spans in whole_groups(self._epoch_blocks(streams, skip), self.span_steps):
            for span in spans:
                if self.stopping:
                    return
                yield span

    @contextlib.contextmanager
    def _cluster_errors(self):
        """A TensorFlow error under a cluster of several workers: a peer went away
        (w2v.scaleout.tf_distribute.Team.lost makes it one line)."""
        try:
            yield
        except self.tf.errors.OpError as error:
            if self.team is None or self.team.workers == 1:
                raise
            raise self.team.lost(error) from None

    def begin_epoch(self, epoch: int, streams: np.ndarray, first_span: int) -> None:
        with self._cluster_errors():
            self._begin_epoch(epoch, streams, first_span)

    def _begin_epoch(self, epoch: int, streams: np.ndarray, first_span: int) -> None:
        tf = self.tf
        if not self.began:
            self.callbacks.on_train_begin()
            self.began = True
        self.model.reset_metrics()
        self.callbacks.on_epoch_begin(epoch)
        skip = first_span * self.span_steps
        b, width = self.batches.batch_size, self.batches.example_width
        streams = streams.copy()

        if self.blocks:  # a span a call: its batches as one (S, B, W) block
            self.iterator = iter(tf.data.Dataset.from_generator(
                lambda: self._span_blocks(streams, skip),
                output_signature=tf.TensorSpec((self.span_steps, b, width), tf.int32),
            ).prefetch(4))
            return

        def dataset():
            return tf.data.Dataset.from_generator(
                lambda: self._epoch_blocks(streams, skip),
                output_signature=tf.TensorSpec((None, b, width), tf.int32),
            ).prefetch(2).unbatch().prefetch(64)

        if self.team is None:
            self.iterator = iter(dataset())
            return

        # Replica r of this worker takes batches r, r + local, ... of its stream. Declared
        # endless: a stream that can end makes every step all-reduce whether each worker
        # still has data, and at the end a worker was left waiting on that all-reduce
        # (measured: one worker hung after the other finished). The driver stops at
        # steps_per_epoch; the repeat is never trained on.
        endless = tf.data.experimental.assert_cardinality(tf.data.INFINITE_CARDINALITY)
        self.iterator = iter(self.team.strategy.distribute_datasets_from_function(
            lambda context: dataset().repeat().apply(endless)))

    def train(self, span: Span) -> Trained:
        self.callbacks.on_train_batch_begin(span.begin)
        with self._cluster_errors():
            for _ in range(self.calls_per_span):
                self.model.train_function(self.iterator)
                if self.watchdog:
                    self.watchdog.beat()
            total, count = (_local_sum(v) for v in self.model.loss_tracker.variables)
            self.model.loss_tracker.reset_state()
        self.callbacks.on_train_batch_end(span.end - 1, {"loss": total / max(count, 1)})
        return Trained(int(round(count)), float(total))

    def end_epoch(self, epoch: int, logs: dict) -> None:
        numbers = {k: v for k, v in logs.items() if isinstance(v, (int, float)) and k != "epoch"}
        with self._cluster_errors():
            self.callbacks.on_epoch_end(epoch, numbers)
            if self.watchdog:
                self.watchdog.beat()
            if epoch + 1 == self.config.epochs:
                self.optimizer.finalize_variable_values(self.model.trainable_weights)
                self.callbacks.on_train_end(numbers)

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        return self.model.input_vectors.numpy(), self.model.output_vectors.numpy()

    def state(self) -> list[np.ndarray]:
        return [v.numpy() for v in self.optimizer.variables]

    def restore(self, state: list[np.ndarray]) -> None:
        variables = self.optimizer.variables
        if [tuple(v.shape) for v in variables] != [np.shape(s) for s in state]:
            raise ValueError("the checkpoint's optimizer state does not fit this optimizer")
        for variable, value in zip(variables, state):
            variable.assign(value)

    def traffic(self):
        if self.team is None or self.team.replicas == 1:
            return None
        rows = [_local_sum(v) for v in self.model.rows_tracker.variables]
        unmerged = [_local_sum(v) for v in self.model.unmerged_rows_tracker.variables]
        return self.team.traffic(rows[0] / max(rows[1], 1), unmerged[0] / max(unmerged[1], 1),
                                 self.config.dim, len(self.batches.keep_prob))

    def close(self) -> None:
        if self.watchdog:
            self.watchdog.__exit__(None, None, None)
            self.watchdog = None
        if self.team is None:
            self._release_iterator()

    def _release_iterator(self) -> None:
        """Stop the epoch's generator, drain what tf.data prefetched, drop the iterator.

        A run stopped mid-epoch left its iterator alive, a prefetch thread in or about to
        enter the generator (which needs the GIL), and the iterator's destructor waits for
        that thread. Seen here: pytest hung on its way out after
        test_keras_runs_stopped_and_resumed_end_bit_identical[cbow-hs-ns] (killed after
        150 s, every test passed), and exits with this; the same loop outside pytest did
        not hang, so no test reproduces it on its own. Draining, the generator ends at
        once and get_next waits without the GIL; then nothing is left in the generator."""
        if self.iterator is None:
            return
        self.stopping = True
        with contextlib.suppress(Exception):  # the run ends anyway; what is left is moot
            for _ in self.iterator:
                pass
        self.iterator, self.stopping = None, False


def _local_sum(variable) -> float:
    """A metric variable's value summed over this process's replicas. Under a strategy
    it is sync-on-read: reading it whole all-reduces across workers, a collective that the
    others, not reading it then, would never enter; its local parts need no collective."""
    parts = getattr(variable.value, "values", (variable.value,))
    return float(sum(np.asarray(p.numpy(), dtype=np.float64).sum() for p in parts))


BACKEND = KerasBackend
