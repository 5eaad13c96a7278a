"""The one orchestrator: corpus → vocabulary → batches → a backend → embeddings.

>>> from w2v import TrainConfig, train
>>> vectors, summary = train("data/novels.txt.gz", TrainConfig(epochs=1))
>>> print(summary)

Backends share the vocabulary, the batches and the learning-rate schedule:
- keras: `SkipGram.train_step` with closed-form gradients, through `model.fit`.
- numba: kernels/cpu.py's fused kernel, one Python thread per core sharing the tables
  (Hogwild, as word2vec and gensim), no TensorFlow.
- cuda: kernels/cuda.py's fused kernel on the GPU (w2v/gpu.py), no TensorFlow.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from w2v.batches import EncodedCorpus, SkipGramBatches
from w2v.callbacks import Reporter, is_keras_callback
from w2v.checkpoint import Checkpoint, Checkpointer, Position, corpus_stamp
from w2v.config import TrainConfig
from w2v.corpus import Corpus
from w2v.vectors import Embeddings
from w2v.vocab import Vocabulary

STEPS_PER_EXECUTION = 16  # steps per tf.function call: amortises Python overhead per step


@dataclass
class TrainSummary:
    backend: str  # the backend that trained (config's "auto" resolved)
    vocab_size: int
    corpus_words: int  # tokens read in one pass over the corpus
    epochs: int
    steps: int  # keras: batches trained, all epochs (numba, cuda: 0, they have no batches)
    batch_size: int
    train_seconds: float  # the training loop alone
    total_seconds: float  # reading, vocabulary, encoding and training
    final_loss: float  # mean SGNS loss per example over the last epoch
    bad_bytes: int  # undecodable input bytes replaced by U+FFFD
    history: list[dict] = field(default_factory=list)  # the logs of each epoch (w2v.callbacks)
    traffic: dict | None = None  # distributed runs: replicas and what each sends per step

    @property
    def traffic_line(self) -> str:
        """One line on a distributed run's all-gather traffic ('' for a single replica)."""
        if not self.traffic:
            return ""
        t = self.traffic
        if t.get("kind") == "sync":
            faults = (f" | {t['restarts']} worker restart(s), {t['words_replayed']:,} words "
                      f"replayed, {t['words_lost']} lost") if t["restarts"] else ""
            return (f"{t['workers']} workers on ray | {t['syncs']} syncs, every "
                    f"{t['sync_words']:,} words a worker ({t['rule']} of deltas) | sent "
                    f"{t['sent_bytes'] / 1e6:,.1f} MB, received {t['received_bytes'] / 1e6:,.1f} "
                    f"MB in all (both dense tables: {t['dense_bytes'] / 1e6:,.1f} MB per "
                    f"worker and sync){faults}")
        return (f"{t['workers']} worker{'s' if t['workers'] > 1 else ''} × {t['local']} "
                f"replica{'s' if t['local'] > 1 else ''} | all-gather per replica and step: "
                f"{t['rows_per_step']:,.0f} rows = {t['bytes_per_step'] / 1e3:,.1f} kB after "
                f"merging duplicates ({t['unmerged_bytes_per_step'] / 1e3:,.1f} kB unmerged, "
                f"{t['saved_share']:.0%} saved; a dense all-reduce: {t['dense_bytes'] / 1e6:,.1f} MB)")

    @property
    def words_per_second(self) -> float:
        """Corpus words × epochs per second of training (word2vec's and gensim's measure)."""
        return self.corpus_words * self.epochs / max(self.train_seconds, 1e-9)

    def __str__(self) -> str:
        epochs = f"{self.epochs} epoch{'s' if self.epochs > 1 else ''}"
        return (f"{self.backend} | vocabulary {self.vocab_size:,} words | trained {self.corpus_words * self.epochs:,}"
                f" words ({epochs} of {self.corpus_words:,}) in {self.train_seconds:.1f} s"
                f" | {self.words_per_second:,.0f} words/s | final loss {self.final_loss:.4f}"
                f" | total {self.total_seconds:.1f} s")


def sentences_of(corpus, config: TrainConfig):
    """The sentences to train on: a Corpus for paths (a path, or a list of paths), or the
    given iterable of token lists, which must be re-iterable (it is read twice)."""
    if isinstance(corpus, (str, os.PathLike, Corpus)):
        return corpus if isinstance(corpus, Corpus) else Corpus(
            corpus, max_sentence_length=config.max_sentence_length)
    if iter(corpus) is corpus:
        raise ValueError("sentences must be re-iterable (a list, or an object whose __iter__ "
                         "starts over): training reads them twice")
    first = next(iter(corpus), None)
    if isinstance(first, (str, os.PathLike)):
        return Corpus(corpus, max_sentence_length=config.max_sentence_length)
    return corpus


def _describe(sentences) -> str:
    paths = getattr(sentences, "paths", None)
    return ", ".join(str(p) for p in paths) if paths else "the sentences given"


def build_vocabulary(sentences, config: TrainConfig) -> Vocabulary:
    """Count the corpus and keep its words; ValueError if nothing is left to train."""
    vocab = Vocabulary.build(sentences, config.min_count, config.max_vocab_size)
    if vocab.corpus_words == 0:
        raise ValueError(f"corpus is empty: no words in {_describe(sentences)}")
    if len(vocab) == 0:
        raise ValueError(f"vocabulary is empty: no word occurs min_count={config.min_count} "
                         f"times in {vocab.corpus_words:,} words of {_describe(sentences)}")
    return vocab


def encode(sentences, vocab: Vocabulary, config: TrainConfig) -> SkipGramBatches:
    """The corpus as ids in a temporary file, with its batches; ValueError if no pairs."""
    encoded = EncodedCorpus(sentences, vocab)
    if encoded.n_ids == 0:
        encoded.close()
        raise ValueError(f"nothing to train on: no line of {_describe(sentences)} has two "
                         f"words that occur min_count={config.min_count} times")
    return SkipGramBatches(encoded, vocab, config)


def prepare(corpus, config: TrainConfig) -> tuple[Corpus, Vocabulary, SkipGramBatches]:
    """Read the corpus twice (count, then encode) and set up the batches.

    Raises FileNotFoundError for a missing path and ValueError for a corpus that cannot
    train (empty, or nothing left after min_count).
    """
    sentences = sentences_of(corpus, config)
    vocab = build_vocabulary(sentences, config)
    return sentences, vocab, encode(sentences, vocab, config)


def train(corpus, config: TrainConfig | None = None, progress: bool = False,
          callbacks=(), model_class=None, optimizer_factory=None, log_json=None,
          evaluate: bool = False, checkpoint=None, checkpoint_every: float = 10.0,
          checkpoint_extra: dict | None = None, strategy=None,
          vocab: Vocabulary | str | os.PathLike | None = None) -> tuple[Embeddings, TrainSummary]:
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
    train the keras backend data-parallel (w2v.distributed): each worker of a multiworker
    cluster trains its shard of the corpus files, and only the chief writes the log and
    checkpoints. vocab: a Vocabulary, or a vocab.tsv (`w2v-vocab`), instead of counting the
    corpus (what the workers of a cluster share; without one each counts the whole corpus).
    Returns the input vectors as Embeddings, and a TrainSummary.
    """
    config = (config or TrainConfig()).validated()
    started = time.perf_counter()
    sentences = sentences_of(corpus, config)
    if checkpoint is not None:
        _check_checkpointable(sentences, config)
    if vocab is None:
        vocab = build_vocabulary(sentences, config)
    elif not isinstance(vocab, Vocabulary):
        vocab = Vocabulary.load(vocab)
    if strategy is not None:
        sentences = shard_of(sentences, strategy, config)
    tables = initial_tables(len(vocab), config.dim, config.seed)
    input_vectors, _, summary = fit(
        sentences, vocab, *tables, config, progress=progress, callbacks=callbacks,
        log_json=log_json, evaluate=evaluate, model_class=model_class,
        optimizer_factory=optimizer_factory, started=started, checkpoint=checkpoint,
        checkpoint_every=checkpoint_every, checkpoint_extra=checkpoint_extra,
        strategy=strategy)
    return Embeddings(vocab.words, input_vectors), summary


def shard_of(sentences, strategy, config: TrainConfig):
    """This worker's part of the corpus: its byte range of the files (w2v.corpus), or
    every n-th of sentences given in memory."""
    from w2v.distributed import Team

    team = Team.of(strategy)
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


def resume(path, progress: bool = False, callbacks=(), log_json=None, evaluate: bool = False,
           checkpoint_every: float | None = None, strategy=None
           ) -> tuple[Embeddings, TrainSummary | None]:
    """Go on with the run a checkpoint saved, writing further checkpoints to the same path.

    Returns (vectors, summary); the summary is None when the checkpoint is of a finished
    run (its vectors are returned as they are). Raises FormatError for a file that is not a
    checkpoint and ValueError when the corpus changed since it was written.
    """
    state = Checkpoint.load(path)
    if state.finished:
        return Embeddings(state.vocab.words, state.input_vectors), None
    paths = check_corpus_unchanged(state, path)
    every = checkpoint_every if checkpoint_every is not None else \
        state.extra.get("checkpoint_every", 10.0)
    sentences = sentences_of(paths, state.config)
    shape = (1, 1)
    if strategy is not None:
        from w2v.distributed import Team
        team = Team.of(strategy)
        shape = (team.workers, team.local)
        sentences = shard_of(sentences, strategy, state.config)
    saved = tuple(state.extra.get("cluster", (1, 1)))
    if saved != shape:
        raise ValueError(f"checkpoint {path} was written by {saved[0]} worker(s) × {saved[1]} "
                         f"replica(s); resume it with the same, not {shape[0]} × {shape[1]}")
    input_vectors, _, summary = fit(
        sentences, state.vocab, state.input_vectors,
        state.output_vectors, state.config, progress=progress, callbacks=callbacks,
        log_json=log_json, evaluate=evaluate, checkpoint=path, checkpoint_every=every,
        checkpoint_extra=state.extra, start=state.position, strategy=strategy)
    return Embeddings(state.vocab.words, input_vectors), summary


def check_corpus_unchanged(state: Checkpoint, path) -> list[str]:
    """The corpus paths of checkpoint `state` (read from `path`); ValueError when a file is
    missing or changed since it was written."""
    for stamp in state.corpus:
        if not os.path.exists(stamp["path"]) or corpus_stamp([stamp["path"]]) != [stamp]:
            raise ValueError(f"corpus file {stamp['path']!r} is missing or changed since "
                             f"checkpoint {path} was written: cannot resume")
    return [stamp["path"] for stamp in state.corpus]


def _check_checkpointable(sentences, config: TrainConfig) -> None:
    if config.resolved_backend == "keras" and (config.optimizer not in KERAS_CHECKPOINT_OPTIMIZERS
                                               or config.steps_per_update > 1):
        raise ValueError(f"checkpoints on the keras backend cover the optimizers "
                         f"{', '.join(KERAS_CHECKPOINT_OPTIMIZERS)} without soft batch, not "
                         f"{config.optimizer} with steps_per_update {config.steps_per_update}")
    if not isinstance(sentences, Corpus):
        raise ValueError("checkpoints need the corpus as files (resuming reads them again)")


def fit(sentences, vocab: Vocabulary, input_vectors: np.ndarray, output_vectors: np.ndarray,
        config: TrainConfig, progress: bool = False, callbacks=(), log_json=None,
        evaluate: bool = False, model_class=None, optimizer_factory=None,
        started: float | None = None, checkpoint=None, checkpoint_every: float = 10.0,
        checkpoint_extra: dict | None = None, start: Position | None = None, strategy=None
        ) -> tuple[np.ndarray, np.ndarray, TrainSummary]:
    """Train the (V, d) float32 tables on `sentences` (ids from `vocab`), the learning rate
    falling from alpha to min_alpha over this call's epochs; returns the trained tables
    (the numba and cuda backends update the given arrays in place) and a TrainSummary.
    checkpoint, checkpoint_every, checkpoint_extra: see `train`; start: a resumed run's
    Position. strategy: see `train`; `sentences` are then this worker's shard."""
    started = started or time.perf_counter()
    backend = config.resolved_backend
    team = _team_for(strategy, config, model_class, optimizer_factory)
    if team is not None and not team.chief:  # the others write nothing, and keep quiet
        progress, log_json, evaluate, checkpoint = False, None, False, None
    keras_callbacks = [c for c in callbacks if is_keras_callback(c)]
    if keras_callbacks and backend != "keras":
        raise ValueError(f"Keras callbacks ({type(keras_callbacks[0]).__name__}) need the keras "
                         f"backend, not {backend}; w2v.callbacks.Callback works on every backend")
    if checkpoint is not None:
        _check_checkpointable(sentences, config)
    # each worker draws its own subsampling, windows and negatives
    batches = encode(sentences, vocab, config if team is None or team.worker == 0 else
                     replace(config, seed=config.seed + WORKER_SEED_STRIDE * team.worker))
    corpus_words = batches.encoded.tokens
    steps_per_epoch = 0
    if team is not None:
        try:
            corpus_words, steps_per_epoch = _agree(team, vocab, config, batches)
        except BaseException:
            batches.encoded.close()
            raise
    reporter = Reporter(corpus_words * config.epochs, config.epochs, vocab.words, progress,
                        [c for c in callbacks if not is_keras_callback(c)], log_json, evaluate,
                        config.alpha, start)
    checkpointer = None
    if checkpoint is not None:
        stamp = corpus_stamp(sentences.paths)
        extra = {**(checkpoint_extra or {}), "checkpoint_every": checkpoint_every}
        if team is not None:
            extra["cluster"] = [team.workers, team.local]
        checkpointer = Checkpointer(checkpoint, lambda position: Checkpoint(
            config, vocab, input_vectors, output_vectors, position, stamp, extra),
            checkpoint_every)
    traffic = None
    try:
        if backend == "keras" and team is None:
            steps_per_epoch = min(batches.steps(e) for e in range(config.epochs))
            if steps_per_epoch == 0:  # a corpus smaller than one batch: one batch per epoch
                batches.resize(batches.count_pairs(0) or 1)
                steps_per_epoch = min(batches.steps(e) for e in range(config.epochs))
            # whole executions per epoch: Keras runs `steps_per_execution` steps at a time
            # across an epoch's end, so its epoch logs (and a resumed run's) would straddle
            # two epochs; the few batches cut (< 16 of thousands) are dropped like the rest
            if steps_per_epoch >= STEPS_PER_EXECUTION:
                steps_per_epoch -= steps_per_epoch % STEPS_PER_EXECUTION
        tick = time.perf_counter()
        if backend == "numba":
            with checkpointer or contextlib.nullcontext():
                final_loss = _fit_numba(batches, input_vectors, output_vectors, config, reporter,
                                        start, checkpointer)
        elif backend == "cuda":
            from w2v.gpu import fit_cuda
            with checkpointer or contextlib.nullcontext():
                input_vectors, output_vectors, final_loss = fit_cuda(
                    batches, input_vectors, output_vectors, config, reporter, start=start,
                    checkpointer=checkpointer)
        else:
            with checkpointer or contextlib.nullcontext():
                input_vectors, output_vectors, final_loss, traffic = _fit_keras(
                    batches, input_vectors, output_vectors, config, steps_per_epoch, reporter,
                    keras_callbacks, model_class, optimizer_factory, start, checkpointer,
                    team, corpus_words)
        train_seconds = time.perf_counter() - tick
    finally:
        reporter.close()
        batches.encoded.close()
    summary = TrainSummary(
        backend=backend, vocab_size=len(vocab), corpus_words=corpus_words, epochs=config.epochs,
        steps=steps_per_epoch * config.epochs, batch_size=batches.batch_size,
        train_seconds=train_seconds, total_seconds=time.perf_counter() - started,
        final_loss=final_loss, bad_bytes=getattr(sentences, "bad_bytes", 0),
        history=reporter.history, traffic=traffic)
    return input_vectors, output_vectors, summary


WORKER_SEED_STRIDE = 1_000_003  # worker w draws from seed + w × this: streams apart


def _team_for(strategy, config: TrainConfig, model_class, optimizer_factory):
    """w2v.distributed.Team of `strategy` (None without one), after checking the run can
    distribute: the keras backend, an optimizer whose one gradient Keras all-reduces."""
    if strategy is None:
        return None
    from w2v.distributed import Team

    if config.resolved_backend != "keras":
        raise ValueError(f"a tf.distribute strategy needs the keras backend, not "
                         f"{config.resolved_backend} (the numba and cuda backends scale "
                         f"with threads and GPUs)")
    if optimizer_factory is None and (config.optimizer not in DISTRIBUTED_OPTIMIZERS
                                      or config.steps_per_update > 1):
        raise ValueError(f"distributed training covers the optimizers "
                         f"{', '.join(DISTRIBUTED_OPTIMIZERS)} without soft batch, not "
                         f"{config.optimizer} with steps_per_update {config.steps_per_update}")
    return Team.of(strategy)


def settings_fingerprint(config: TrainConfig) -> str:
    """SHA-256 of the settings every worker must share (all but threads and backend)."""
    import hashlib
    import json

    shared = {k: v for k, v in config.to_dict().items() if k not in ("threads", "backend")}
    return hashlib.sha256(json.dumps(shared, sort_keys=True).encode()).hexdigest()


def _agree(team, vocab: Vocabulary, config: TrainConfig, batches: SkipGramBatches
           ) -> tuple[int, int]:
    """Check every worker has this vocabulary and these settings, and agree on the size of
    an epoch: returns (corpus words of all shards, steps per epoch = the fewest any worker's
    shard gives its replicas). ClusterError when they differ."""
    from w2v.errors import ClusterError

    team.agree("the vocabulary (build it once with w2v-vocab and pass --vocab)",
               vocab.fingerprint())
    team.agree("the training settings", settings_fingerprint(config))
    local_steps = min(batches.steps(e) for e in range(config.epochs)) // team.local
    tokens = batches.encoded.tokens
    rows = team.gather([local_steps, tokens >> 30, tokens & (2 ** 30 - 1)])
    steps = int(rows[:, 0].min())
    if steps == 0:
        raise ClusterError(f"worker {int(rows[:, 0].argmin())}'s shard holds less than one "
                           f"batch per replica ({config.batch_size} pairs): use a smaller "
                           f"--batch-size or fewer workers")
    return int((rows[:, 1] << 30).sum() + rows[:, 2].sum()), steps


def _epoch_stream(batches: SkipGramBatches, first: int, last: int, steps_per_epoch: int,
                  skip: int = 0):
    """Blocks of batches for epochs first..last-1, each cut to `steps_per_epoch` batches,
    the first `skip` batches of epoch `first` left out (a resumed run has trained them).

    Epochs differ by a few batches (subsampling is random); `model.fit` wants one count,
    so each epoch trains its first `steps_per_epoch` and skips the few left at its end.
    """
    for epoch in range(first, last):
        left, drop = steps_per_epoch, skip if epoch == first else 0
        for block in batches.epoch_blocks(epoch):
            if left <= 0:
                break
            block = block[:left]
            left -= len(block)
            if drop:
                block, drop = block[drop:], max(drop - len(block), 0)
            if len(block):
                yield block


KERAS_CHECKPOINT_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad")  # state all in slots
# one gradient a step, which Keras all-reduces: the same four whose state checkpoints
DISTRIBUTED_OPTIMIZERS = KERAS_CHECKPOINT_OPTIMIZERS


def _fit_keras(batches: SkipGramBatches, input_vectors, output_vectors, config: TrainConfig,
               steps_per_epoch: int, reporter: Reporter, callbacks, model_class=None,
               optimizer_factory=None, start: Position | None = None, checkpointer=None,
               team=None, corpus_words: int | None = None):
    """Train the keras backend from the given tables; returns (input, output, final loss,
    traffic: None, or a distributed run's all-gather figures for TrainSummary.traffic).

    start: a resumed checkpoint's Position (`chunk`: steps of its epoch done, and the
    optimizer's variables); checkpointer: offered a Position after every execution.
    team: a w2v.distributed.Team: the model lives in its strategy's scope, and each step
    feeds every local replica a batch of this worker's stream; corpus_words: of all
    workers' shards (what a step's words are counted against).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    threads = config.worker_threads
    try:
        if team is None:  # a cluster's collectives need TensorFlow's own thread pools:
            # with them cut to `threads`, a worker's first step aborts ("std::system_error:
            # Resource temporarily unavailable", TF 2.21)
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass  # TensorFlow already started in this process: keep its thread pools
    from w2v.model import SkipGram
    from w2v.optimizers import LinearDecay, make_optimizer
    from w2v.progress import KerasProgress, number

    start = start or Position()
    b, width = batches.batch_size, 2 + config.negative
    local = team.local if team else 1  # batches of this worker's stream per step

    def dataset(first, last, skip=0):
        return tf.data.Dataset.from_generator(
            lambda: _epoch_stream(batches, first, last, steps_per_epoch * local, skip * local),
            output_signature=tf.TensorSpec((None, b, width), tf.int32),
        ).prefetch(2).unbatch().prefetch(64)

    def fed(first, last, skip=0):
        if team is None:
            return dataset(first, last, skip)
        # Replica r of this worker takes batches r, r + local, ... of its stream. Declared
        # endless: a stream that can end makes every step all-reduce whether each worker
        # still has data, and at the end a worker was left waiting on that all-reduce
        # (measured: one worker hung after the other finished). Keras stops at
        # steps_per_epoch; the repeat is never trained on.
        endless = tf.data.experimental.assert_cardinality(tf.data.INFINITE_CARDINALITY)
        return team.strategy.distribute_datasets_from_function(
            lambda context: dataset(first, last, skip).repeat().apply(endless))

    total_steps = steps_per_epoch * config.epochs
    # the schedule advances once per update: every step, or every k-th under soft batch
    schedule = LinearDecay(config.alpha, config.min_alpha, total_steps // config.steps_per_update)
    with team.strategy.scope() if team else contextlib.nullcontext():
        model = (model_class or SkipGram)(len(input_vectors), config.dim, seed=config.seed)
        model.input_vectors.assign(input_vectors)
        model.output_vectors.assign(output_vectors)
        optimizer = (optimizer_factory(schedule) if optimizer_factory else
                     make_optimizer(config.optimizer, schedule, config.steps_per_update))
        model.compile(optimizer=optimizer,
                      jit_compile=team is None and getattr(optimizer, "jit_compatible", True),
                      # a distributed step's all-reduce fails inside Keras's multi-step loop
                      # ("You must feed a value for placeholder", TF 2.21): one step a call
                      steps_per_execution=1 if team else min(STEPS_PER_EXECUTION,
                                                             steps_per_epoch))
        if start.optimizer_state:  # a resumed run: the optimizer's variables as they were
            optimizer.build(model.trainable_variables)
            saved = start.optimizer_state[:len(optimizer.variables)]
            if [tuple(v.shape) for v in optimizer.variables] != [s.shape for s in saved]:
                raise ValueError("the checkpoint's optimizer state does not fit this optimizer")
            for variable, value in zip(optimizer.variables, saved):
                variable.assign(value)

    def state_now():
        # A metric's variables are sync-on-read under a strategy: reading one as a whole
        # all-reduces across workers, a collective only the chief would enter (the others
        # then fail). Its local part is enough: it resumes the epoch's running loss.
        metric = [getattr(v.value, "values", (v.value,))[0] for v in model.loss_tracker.variables]
        return [v.numpy() for v in optimizer.variables + metric]

    def refresh_host_tables():
        input_vectors[...] = model.input_vectors.numpy()
        output_vectors[...] = model.output_vectors.numpy()

    words_per_step = (corpus_words or batches.encoded.tokens) * config.epochs / total_steps
    progress = KerasProgress(
        reporter, words_per_step, lambda step: float(schedule(step // config.steps_per_update)),
        steps_per_epoch=steps_per_epoch, checkpointer=checkpointer, state_now=state_now,
        before_save=refresh_host_tables,
        metric_state=start.optimizer_state[len(optimizer.variables):] if start.chunk else None)
    # a run resumed mid-epoch first finishes that epoch on its own (model.fit wants whole
    # epochs of one length), then goes on with whole epochs
    parts = [(start.epoch, start.epoch + 1, start.chunk), (start.epoch + 1, config.epochs, 0)] \
        if start.chunk else [(start.epoch, config.epochs, 0)]
    history = None
    with warnings.catch_warnings():
        # Keras peeks one batch past the last step of the last epoch and warns that the
        # stream ran dry; the stream holds exactly the batches of the epochs asked.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        warnings.filterwarnings("ignore", message=".*shuffle=True.*")
        watch = team.watchdog() if team and team.workers > 1 else contextlib.nullcontext()
        with watch:
            beat = [heartbeat(watch)] if team and team.workers > 1 else []
            for first, last, skip in parts:
                if first >= last:
                    continue
                try:
                    history = model.fit(fed(first, last, skip), initial_epoch=first, epochs=last,
                                        steps_per_epoch=steps_per_epoch - skip, verbose=0,
                                        callbacks=[progress, *beat, *callbacks], shuffle=False)
                except tf.errors.OpError as error:
                    if team is None or team.workers == 1:
                        raise
                    raise team.lost(error) from None
                progress.metric_state = None
    loss = number(history.history["loss"][-1]) if history else start.loss_sum
    traffic = None
    if team is not None and history and "rows" in history.history:
        row_bytes = 4 * config.dim + 4  # float32 values and an int32 index per row
        rows, unmerged = number(history.history["rows"][-1]), \
            number(history.history["unmerged_rows"][-1])
        traffic = {"workers": team.workers, "local": team.local, "replicas": team.replicas,
                   "rows_per_step": rows, "unmerged_rows_per_step": unmerged,
                   "bytes_per_step": rows * row_bytes,
                   "unmerged_bytes_per_step": unmerged * row_bytes,
                   "saved_share": 1 - rows / unmerged if unmerged else 0.0,
                   "dense_bytes": 2 * len(input_vectors) * config.dim * 4}
    return model.input_vectors.numpy(), model.output_vectors.numpy(), loss, traffic


def heartbeat(watchdog):
    """A Keras callback that tells a w2v.distributed.Watchdog each step and epoch ended."""
    import keras

    class _Heartbeat(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            watchdog.beat()

        def on_epoch_end(self, epoch, logs=None):
            watchdog.beat()
    return _Heartbeat()


def train_chunk(pool, kernel, ids: np.ndarray, ends: np.ndarray, batches: SkipGramBatches,
                config: TrainConfig, input_vectors: np.ndarray, output_vectors: np.ndarray,
                lr_at, done: int, states) -> tuple[int, float]:
    """Train one chunk with the numba kernel, cut into one slice of whole sentences per
    thread (len(states) threads of `pool`, Hogwild on the shared tables); the learning rate
    is lr_at(position in the run), the chunk's first id at position `done`. states: per
    thread, its (pair, noise) (1,) uint64 random streams, advanced in place.
    Returns (pairs, loss sum)."""
    threads = len(states)
    cuts = np.searchsorted(ends, np.linspace(0, len(ids), threads + 1)[1:-1])
    bounds = [0, *(int(ends[c - 1]) if c > 0 else 0 for c in cuts), len(ids)]
    sentence_bounds = [0, *cuts.tolist(), len(ends)]

    def run(t):
        a, b = bounds[t], bounds[t + 1]
        s0, s1 = sentence_bounds[t], sentence_bounds[t + 1]
        return kernel(ids[a:b], ends[s0:s1] - a, batches.keep_prob, batches.accept,
                      batches.alias, config.window, config.negative, input_vectors,
                      output_vectors, lr_at(done + a), lr_at(done + b), *states[t])

    results = list(pool.map(run, range(threads))) if threads > 1 else [run(0)]
    return sum(n for n, _ in results), sum(loss for _, loss in results)


def initial_tables(vocab_size: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """word2vec's start: input rows uniform in ±0.5/dim, output rows zero; (V, d) float32."""
    rng = np.random.default_rng(seed)
    bound = 0.5 / dim
    return (rng.uniform(-bound, bound, (vocab_size, dim)).astype(np.float32),
            np.zeros((vocab_size, dim), dtype=np.float32))


def _fit_numba(batches: SkipGramBatches, input_vectors: np.ndarray, output_vectors: np.ndarray,
               config: TrainConfig, reporter: Reporter, start: Position | None = None,
               checkpointer=None) -> float:
    """Train the tables in place with the fused numba kernel; returns the final loss.

    Each corpus chunk is cut into one slice of whole sentences per thread; the threads run
    the nogil kernel on their slices at once, sharing the tables without locks (Hogwild).
    Thread t keeps its own random streams for the epoch; with one thread they are the
    batch path's streams, so `threads=1` trains on exactly the examples the keras backend
    sees. The learning rate falls linearly with the position of each word in the run.
    start: where to begin (a resumed checkpoint's Position); checkpointer(position,
    epoch_end) is called after every chunk (w2v.checkpoint.Checkpointer).
    """
    from concurrent.futures import ThreadPoolExecutor

    from kernels.cpu import seed_state, sgns_train_cpu, sgns_train_windows_cpu

    start = start or Position()
    encoded = batches.encoded
    threads = len(start.states) if start.states is not None else config.worker_threads
    words_per_id = encoded.tokens / encoded.n_ids
    kernel = sgns_train_windows_cpu if config.shared_negatives else sgns_train_cpu
    total = config.epochs * encoded.n_ids

    def lr_at(position):
        return config.alpha - (config.alpha - config.min_alpha) * position / total

    def fresh_states(epoch) -> np.ndarray:
        if threads == 1:
            return np.concatenate(batches._states(epoch))[None]
        return np.array([[seed_state(hash((config.seed, epoch, t, k)))[0] for k in (0, 1)]
                         for t in range(threads)], dtype=np.uint64)

    loss = start.loss_sum / max(start.pairs, 1)
    with ThreadPoolExecutor(threads) as pool:
        for epoch in range(start.epoch, config.epochs):
            resuming = epoch == start.epoch and start.states is not None
            table = start.states.copy() if resuming else fresh_states(epoch)
            states = [(table[t, 0:1], table[t, 1:2]) for t in range(threads)]  # views: advance in place
            first = start.chunk if resuming else 0
            pairs, loss_sum = (start.pairs, start.loss_sum) if resuming else (0, 0.0)
            done = epoch * encoded.n_ids + encoded.chunk_id_start(first)
            for c in range(first, encoded.n_chunks):
                ids, ends = encoded.chunk(c)
                n, chunk_loss = train_chunk(pool, kernel, ids, ends, batches, config,
                                            input_vectors, output_vectors, lr_at, done, states)
                pairs += n
                loss_sum += chunk_loss
                done += len(ids)
                reporter.progress(len(ids) * words_per_id, lr_at(done), loss_sum / max(pairs, 1))
                if checkpointer and c + 1 < encoded.n_chunks:
                    checkpointer(Position(epoch, c + 1, pairs, loss_sum, table.copy(),
                                          reporter.done, list(reporter.history)))
            loss = loss_sum / max(pairs, 1)
            reporter.epoch_end(epoch, loss, lr_at(done), lambda: input_vectors.copy())
            if checkpointer:
                checkpointer(Position(epoch + 1, 0, 0, 0.0, None, reporter.done,
                                      list(reporter.history)), epoch_end=True)
    return loss
