"""One process of the distributed tests (tests/test_distributed.py runs it as a subprocess:
TensorFlow's devices and cluster must be set before it starts, once per process).

    python tests/distributed_run.py MODE CORPUS VOCAB OUT.npz [WORKERS INDEX]

MODE: mirrored (2 logical CPUs) | multiworker (one of the WORKERS, 127.0.0.1:port,...) |
reference (one process, one replica, fed the global batches the 2 replicas of a mirrored
run, or the 2 workers of a multiworker run, train on: `reference-mirrored`,
`reference-multiworker`) | densify (mirrored, with a model that makes its gradients dense:
must fail). Every mode but reference makes converting a tf.IndexedSlices to a dense tensor
raise, so a step that densifies anywhere (the all-reduce included) fails loudly.
Writes OUT.npz with the input and output tables.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CONFIG = dict(dim=16, window=3, negative=3, min_count=1, epochs=2, batch_size=64, alpha=0.05,
              seed=3, backend="keras", threads=2, sample=0.0)


def forbid_densifying():
    """Make every IndexedSlices -> dense conversion raise (checked before it is relied on)."""
    import tensorflow as tf
    from tensorflow.python.framework import tensor_conversion_registry

    def refuse(value, dtype=None, name=None, as_ref=False):
        raise RuntimeError("a tf.IndexedSlices was converted to a dense tensor")

    tensor_conversion_registry.register_tensor_conversion_function(
        tf.IndexedSlices, refuse, priority=1)
    probe = tf.IndexedSlices(tf.ones([1, 2]), tf.constant([0]), tf.constant([3, 2]))
    try:
        tf.convert_to_tensor(probe)
    except RuntimeError:
        return
    raise AssertionError("the densifying guard did not take")


def main():
    mode, corpus, vocab_path, out = sys.argv[1:5]
    from w2v import TrainConfig
    from w2v.scaleout.tf_distribute import ClusterSpec, make_strategy
    from w2v.vocab import Vocabulary

    config = TrainConfig(**CONFIG)
    vocab = Vocabulary.load(vocab_path)
    if mode.startswith("reference"):
        tables = reference(mode.split("-")[1], corpus, vocab, config)
    else:
        if mode == "multiworker":
            spec = ClusterSpec("multiworker", workers=tuple(sys.argv[5].split(",")),
                               index=int(sys.argv[6]), timeout=60)
        else:
            spec = ClusterSpec("mirrored", devices=2)
        strategy = make_strategy(spec)
        forbid_densifying()
        from w2v.prepare import sentences_of
        from w2v.streams import initial_tables
        from w2v.trainer import fit
        sentences = sentences_of(corpus, config)
        tables = initial_tables(len(vocab), config.dim, config.seed)
        model_class = densifying_model() if mode == "densify" else None
        input_vectors, output_vectors, summary = fit(sentences, vocab, *tables, config,
                                                     strategy=strategy, model_class=model_class)
        tables = (input_vectors, output_vectors)
        print(summary.traffic_line, flush=True)
    np.savez(out, input=tables[0], output=tables[1])


def densifying_model():
    import tensorflow as tf
    from w2v.backends.keras_model import SkipGram

    class Densifying(SkipGram):
        def sparse_gradients(self, examples, padding="drop"):
            loss, grads = super().sparse_gradients(examples, padding)
            return loss, [tf.IndexedSlices(tf.convert_to_tensor(g), tf.range(self.vocab_size),
                                           g.dense_shape) for g in grads]
    return Densifying


def reference(kind, corpus, vocab, config):
    """The single-process keras backend fed the global batches: step s trains the
    concatenation of what each replica trained at step s."""
    from w2v.backends.keras_backend import KerasBackend, KerasOptions
    from w2v.callbacks import Reporter
    from w2v.driver import drive
    from w2v.io.corpus import Corpus
    from w2v.prepare import encode
    from w2v.streams import initial_tables

    if kind == "mirrored":  # one reader, stream row 0; replica r takes batches r, r + 2, ...
        streams = [(encode(Corpus(corpus), vocab, config), 0)]
        per_stream = 2
    else:  # worker w reads shard w from its own stream row w, one replica each
        streams = [(encode(Corpus(corpus, shard=(w, 2)), vocab, config), w) for w in range(2)]
        per_stream = 1
    glob = GlobalBatches(streams, per_stream, config)
    backend = KerasBackend(glob, *initial_tables(len(vocab), config.dim, config.seed), config,
                           KerasOptions(model_class=merging_per_replica(2),
                                        optimizer_factory=unjitted_sgd))
    drive(backend, config, Reporter(backend.corpus_words * config.epochs, config.epochs,
                                    vocab.words))
    return backend.tables()


def unjitted_sgd(schedule):
    """SparseSGD run as the distributed step runs: without XLA (which rounds differently)."""
    from w2v.optimizers import SparseSGD

    optimizer = SparseSGD(schedule)
    optimizer.jit_compatible = False
    return optimizer


def merging_per_replica(replicas):
    """SkipGram whose step merges each replica's share of the global batch on its own, as
    each replica does before the all-gather: the same sums in the same order, so the
    comparison can be tight (merging is exact up to float rounding)."""
    import tensorflow as tf
    from w2v.backends.keras_model import SkipGram
    from w2v.optimizers import merge_rows

    class MergingPerReplica(SkipGram):
        def sparse_gradients(self, examples, padding="drop"):
            loss, grads = super().sparse_gradients(examples, padding)
            merged = []
            for g in grads:
                parts = [merge_rows(tf.IndexedSlices(v, i, g.dense_shape)) for v, i in
                         zip(tf.split(g.values, replicas), tf.split(g.indices, replicas))]
                merged.append(tf.IndexedSlices(tf.concat([p.values for p in parts], 0),
                                               tf.concat([p.indices for p in parts], 0),
                                               g.dense_shape))
            return loss, merged
    return MergingPerReplica


class GlobalBatches:
    """Looks like ExampleBatches to the keras backend: each batch is the global batch of a
    step, the replicas' batches side by side; streams: (ExampleBatches, stream row) of
    each reader."""

    def __init__(self, streams, per_stream, config):
        from w2v.streams import epoch_streams

        self.streams, self.per_stream, self.config = streams, per_stream, config
        self.row = lambda epoch, w: epoch_streams(config.seed, epoch, range(w, w + 1))[0]
        self.steps = min(min(b.count_pairs(self.row(e, w)) // b.batch_size
                             for e in range(config.epochs)) // per_stream for b, w in streams)
        self.batch_size = streams[0][0].batch_size * per_stream * len(streams)
        self.encoded = streams[0][0].encoded
        self.keep_prob = streams[0][0].keep_prob
        self.huffman, self.example_width = None, streams[0][0].example_width

    def epoch_of(self, row) -> int:
        """The epoch whose row 0 the keras backend hands over."""
        return next(e for e in range(self.config.epochs)
                    if np.array_equal(self.row(e, 0), row))

    def count_pairs(self, row) -> int:
        return self.steps * self.batch_size

    def epoch_blocks(self, row):
        epoch, parts = self.epoch_of(row), []
        for batches, w in self.streams:
            blocks = np.concatenate(list(batches.epoch_blocks(self.row(epoch, w))))
            blocks = blocks[:self.steps * self.per_stream]
            # (steps × per_stream, B, W) -> (steps, per_stream × B, W): replica order
            parts.append(blocks.reshape(self.steps, -1, blocks.shape[-1]))
        yield np.concatenate(parts, axis=1)


if __name__ == "__main__":
    main()
