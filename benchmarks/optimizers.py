"""Euler (plain SGD) against Heun and RK4: loss per gradient evaluation, and what it buys.

    python -m benchmarks.optimizers --corpus ../shared/corpora/gut8.gz --train-words 1000000 \\
        --out benchmarks/results/optimizers

Trains on the first --train-words words of the corpus and holds out the next
--heldout-words. Runs, each with word2vec's full linear schedule over its own epochs:
  equal gradient evaluations: euler 4 epochs, heun 2 epochs, rk4 1 epoch (4 epoch-evaluations each)
  equal epochs (2):           euler, heun, rk4
After every epoch, the SGNS loss (mean per example, negatives drawn once with a fixed seed)
is measured on a fixed sample of training pairs and on the held-out text's pairs. At the
end: analogy accuracy and word-pair Spearman. Writes OUT.json, OUT.md and OUT.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.compare_gensim import write_split_copy

RUNS = [("euler", 4), ("heun", 2), ("rk4", 1), ("euler", 2), ("rk4", 2)]
STAGES = {"euler": 1, "heun": 2, "rk4": 4}


def split_corpus(corpus: Path, train: Path, heldout: Path, train_words: int, heldout_words: int):
    """The first train_words words to `train`, the next heldout_words to `heldout`."""
    both = train.with_suffix(".both")
    write_split_copy(corpus, both, train_words + heldout_words)
    words = both.read_text().split()
    for path, part in ((train, words[:train_words]), (heldout, words[train_words:])):
        path.write_text("\n".join(" ".join(part[i:i + 10_000])
                                  for i in range(0, len(part), 10_000)) + "\n")
    both.unlink()


def fixed_examples(path: Path, vocab, config, limit: int) -> np.ndarray:
    """Up to `limit` (center, context, negatives) rows of `path`, drawn with a fixed seed."""
    from w2v.batches import EncodedCorpus, ExampleBatches
    from w2v.io.corpus import Corpus
    from w2v.streams import epoch_streams

    encoded = EncodedCorpus(Corpus(path), vocab)
    batches = ExampleBatches(encoded, vocab, config)
    rows = np.concatenate(list(batches.chunk_examples(epoch_streams(999, 0, range(1))[0])))
    encoded.close()
    return rows[np.random.default_rng(0).permutation(len(rows))[:limit]]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default="data/novels.txt.gz")
    p.add_argument("--train-words", type=int, default=1_000_000)
    p.add_argument("--heldout-words", type=int, default=100_000)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)

    import keras
    import tensorflow as tf

    from w2v import sgns
    from w2v.config import TrainConfig
    from w2v.io.corpus import Corpus
    from w2v.evaluate import evaluate
    from w2v.trainer import train
    from w2v.vocab import Vocabulary

    tmp = Path(tempfile.mkdtemp())
    train_path, heldout_path = tmp / "train.txt", tmp / "heldout.txt"
    split_corpus(Path(args.corpus), train_path, heldout_path, args.train_words, args.heldout_words)
    base = TrainConfig()
    vocab = Vocabulary.build(Corpus(train_path), base.min_count)  # what train() builds
    probes = {"train": fixed_examples(train_path, vocab, base, 200_000),
              "heldout": fixed_examples(heldout_path, vocab, base, 200_000)}

    class LossProbe(keras.callbacks.Callback):
        """After each epoch: mean SGNS loss on the fixed training and held-out examples."""

        def __init__(self, stages):
            super().__init__()
            self.stages, self.points = stages, []

        def on_epoch_end(self, epoch, logs=None):
            point = {"epoch": epoch + 1, "gradient_evaluations": (epoch + 1) * self.stages}
            for name, rows in probes.items():
                losses = [sgns.loss(*self.model.gather(tf.constant(rows[i:i + 8192]))).numpy()
                          for i in range(0, len(rows), 8192)]
                point[f"{name}_loss"] = float(np.concatenate(losses).mean())
            self.points.append(point)
            print(f"  epoch {epoch + 1}: {point}", file=sys.stderr, flush=True)

    results = []
    for method, epochs in RUNS:
        probe = LossProbe(STAGES[method])
        config = TrainConfig(epochs=epochs, optimizer=method)
        tick = time.perf_counter()
        vectors, summary = train(train_path, config, callbacks=[probe])
        results.append({"method": method, "epochs": epochs,
                        "gradient_evaluations": epochs * STAGES[method],
                        "seconds": time.perf_counter() - tick,
                        "final_train_loss": probe.points[-1]["train_loss"],
                        "final_heldout_loss": probe.points[-1]["heldout_loss"],
                        "quality": evaluate(vectors), "curve": probe.points})
        print(f"{method} × {epochs} epochs: {results[-1]}", file=sys.stderr, flush=True)

    table = ["| method | epochs | gradient evaluations (epochs × stages) | train loss | "
             "held-out loss | analogy | WordSim353 | SimLex-999 | seconds |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        q = r["quality"]
        table.append(f"| {r['method']} | {r['epochs']} | {r['gradient_evaluations']} | "
                     f"{r['final_train_loss']:.4f} | {r['final_heldout_loss']:.4f} | "
                     f"{q['analogy']:.4f} | {q['wordsim353']:.4f} | {q['simlex999']:.4f} | "
                     f"{r['seconds']:.0f} |")
    table.append(f"\ncorpus: first {args.train_words:,} words of {args.corpus} (held out: the "
                 f"next {args.heldout_words:,}); dim 100, window 5, negative 5, sample 1e-3, "
                 "min_count 5, batch 1024, alpha 0.025 → 0.0001 per run; losses are mean SGNS "
                 "loss per example on 200,000 fixed pairs.")
    text = "\n".join(table) + "\n"
    print(text)
    if args.out:
        Path(args.out + ".json").write_text(json.dumps(results, indent=1) + "\n")
        Path(args.out + ".md").write_text(text)
        plot(results, args.out + ".png")


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    colors = {"euler": "tab:blue", "heun": "tab:orange", "rk4": "tab:green"}
    for r in results:
        xs = [pt["gradient_evaluations"] for pt in r["curve"]]
        style = "-o" if r["gradient_evaluations"] == 4 else "--s"
        label = f"{r['method']}, {r['epochs']} epoch{'s' * (r['epochs'] > 1)}"
        for ax, key in zip(axes, ("train_loss", "heldout_loss")):
            ax.plot(xs, [pt[key] for pt in r["curve"]], style, color=colors[r["method"]],
                    label=label)
    for ax, title in zip(axes, ("training SGNS loss", "held-out SGNS loss")):
        ax.set_title(title)
        ax.set_xlabel("gradient evaluations (epochs × stages)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean loss per example")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
