"""The model file's meaning: settings, vocabulary and both tables in a model archive
(w2v.io.formats), validated on the way in. `Word2Vec.save`/`load` and checkpoints
(w2v/checkpoint.py) both store their state this way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from w2v.config import TrainConfig
from w2v.errors import FormatError
from w2v.io.formats import check_words, read_model, write_model
from w2v.vocab import Vocabulary

MODEL_FORMAT, MODEL_VERSION = "w2v model", 1  # Word2Vec.save
CHECKPOINT_FORMAT, CHECKPOINT_VERSION = "w2v checkpoint", 2  # 2: positions count the
# driver's spans, and the epoch's streams are always saved
TRAINED_KINDS = {MODEL_FORMAT: MODEL_VERSION, CHECKPOINT_FORMAT: CHECKPOINT_VERSION}


@dataclass
class TrainedFile:
    """What a model or checkpoint file holds, checked for consistency."""
    config: TrainConfig
    vocab: Vocabulary
    input_vectors: np.ndarray  # (V, d) float32
    output_vectors: np.ndarray  # (V, d) float32
    arrays: dict[str, np.ndarray]  # every other member, by name
    meta: dict  # the settings member (JSON): format, version and the writer's own fields


def write_trained(path, config: TrainConfig, vocab: Vocabulary, input_vectors: np.ndarray,
                  output_vectors: np.ndarray, kind: str, version: int,
                  arrays: dict[str, np.ndarray] | None = None, meta: dict | None = None) -> None:
    """Write a model or checkpoint file (atomically): the tables, the vocabulary with its
    counts, the settings, and the writer's own `arrays` and JSON-able `meta`."""
    write_model(path, {"input_vectors": input_vectors, "output_vectors": output_vectors,
                       "counts": vocab.counts, **(arrays or {})}, vocab.words,
                {"format": kind, "version": version, "config": config.to_dict(),
                 "corpus_words": vocab.corpus_words, **(meta or {})})


def read_trained(path, kinds: dict[str, int]) -> TrainedFile:
    """A model or checkpoint file, validated. kinds: what its settings may say it is, each
    kind with its version ({"w2v model": 1}). FormatError for anything inconsistent
    (settings, vocabulary, words the formats cannot hold, table shapes and dtypes, NaN)."""
    arrays, words, meta = read_model(path)
    kind = meta.get("format")
    if kind not in kinds or meta.get("version") != kinds[kind]:
        wanted = " or ".join(f"version-{v} {k}" for k, v in kinds.items())
        raise FormatError(f"{path}: not a {wanted} file")
    try:
        check_words(words)
    except ValueError as error:
        raise FormatError(f"{path}: {error}") from None
    try:
        config = TrainConfig(**meta["config"]).validated()
        counts = arrays.pop("counts")
        vocab = Vocabulary(words, counts, int(meta["corpus_words"]))
        tables = arrays.pop("input_vectors"), arrays.pop("output_vectors")
    except (KeyError, TypeError, ValueError) as error:
        raise FormatError(f"{path}: inconsistent {kind} file ({error})") from None
    shapes = [(len(words), config.dim), (config.output_rows(len(words)), config.dim)]
    if [t.shape for t in tables] != shapes or any(t.dtype != np.float32 for t in tables):
        raise FormatError(f"{path}: tables of {[(t.shape, t.dtype.str) for t in tables]} for "
                          f"{len(words)} words of dim {config.dim}"
                          f"{' with a tree' if config.hs else ''}")
    if not all(np.isfinite(t).all() for t in tables):
        raise FormatError(f"{path}: the tables hold NaN or infinity")
    if counts.dtype != np.int64 or (counts < 0).any() or len(vocab.index) != len(words):
        raise FormatError(f"{path}: the vocabulary is inconsistent (repeated words or "
                          "counts that are not non-negative int64)")
    return TrainedFile(config, vocab, *tables, arrays, meta)
