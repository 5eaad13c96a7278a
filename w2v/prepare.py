"""From what the caller gives to what a backend trains on: sentences, the vocabulary, the
encoded corpus and its batches.

>>> from w2v.prepare import prepare
>>> sentences, vocab, batches = prepare("data/novels.txt.gz", TrainConfig())
"""

from __future__ import annotations

import os

from w2v.batches import CHUNK_WORDS, EncodedCorpus, ExampleBatches
from w2v.config import TrainConfig
from w2v.io.corpus import Corpus
from w2v.streams import INIT_BLOCK
from w2v.vocab import Vocabulary


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


def describe(sentences) -> str:
    """The corpus in a message: its files, or 'the sentences given'."""
    paths = getattr(sentences, "paths", None)
    return ", ".join(str(p) for p in paths) if paths else "the sentences given"


def build_vocabulary(sentences, config: TrainConfig, trim_rule=None) -> Vocabulary:
    """Count the corpus and keep its words (trim_rule: gensim's, see Vocabulary.build);
    ValueError if nothing is left to train, or if training it would not fit in memory
    (check_memory)."""
    vocab = Vocabulary.build(sentences, config.min_count, config.max_vocab_size, trim_rule,
                             config.prune_vocab_at)
    if vocab.corpus_words == 0:
        raise ValueError(f"corpus is empty: no words in {describe(sentences)}")
    if len(vocab) == 0:
        raise ValueError(f"vocabulary is empty: no word occurs min_count={config.min_count} "
                         f"times in {vocab.corpus_words:,} words of {describe(sentences)}")
    check_memory(config, len(vocab))
    return vocab


def available_memory() -> int | None:
    """Bytes of memory this machine can give a new allocation now (Linux: MemAvailable),
    or None where it cannot be told."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def memory_needed(config: TrainConfig, vocab_size: int) -> dict[str, int]:
    """Bytes the big allocations of a run take, by what they are for (an estimate, from the
    settings alone: what matters is the order of magnitude)."""
    dim, window, negative = config.dim, config.window, config.negative
    needs = {"the two (V, d) float32 tables": (2 + config.hs) * vocab_size * dim * 4,
             "their float64 start, a block at a time": min(vocab_size, INIT_BLOCK) * dim * 8,
             "each thread's window buffers": config.worker_threads * 2 * window
             * (dim + 1 + negative) * 4}
    if config.resolved_backend == "keras":
        pairs = 2 * window * CHUNK_WORDS  # the batch path's pair buffers for one chunk
        needs["the batch path's pairs and examples"] = pairs * 4 * (2 + 2 + negative)
        needs["the model's and optimizer's copies of the tables"] = 3 * 2 * vocab_size * dim * 4
        needs["a step's gathered rows and gradients"] = 4 * config.batch_size * (2 + negative) * dim * 4
    return needs


def check_memory(config: TrainConfig, vocab_size: int) -> None:
    """ValueError, with the figures, when the run cannot fit in the memory available."""
    needs = memory_needed(config, vocab_size)
    total, available = sum(needs.values()), available_memory()
    if available is None or total <= available:
        return
    largest = max(needs, key=needs.get)
    raise ValueError(f"training needs about {total / 2**30:,.1f} GiB ({largest}: "
                     f"{needs[largest] / 2**30:,.1f} GiB, for {vocab_size:,} words of dim "
                     f"{config.dim}, window {config.window}, negative {config.negative}) and "
                     f"{available / 2**30:,.1f} GiB are available: lower --dim, --window or "
                     f"--negative, or raise --min-count")


def encode(sentences, vocab: Vocabulary, config: TrainConfig, chunk_words: int | None = None
           ) -> ExampleBatches:
    """The corpus as ids in a temporary file, with its batches; ValueError if no pairs."""
    encoded = EncodedCorpus(sentences, vocab, **({"chunk_words": chunk_words}
                                                 if chunk_words else {}))
    if encoded.n_ids == 0:
        encoded.close()
        raise ValueError(f"nothing to train on: no line of {describe(sentences)} has two "
                         f"words that occur min_count={config.min_count} times")
    return ExampleBatches(encoded, vocab, config)


def prepare(corpus, config: TrainConfig) -> tuple[Corpus, Vocabulary, ExampleBatches]:
    """Read the corpus twice (count, then encode) and set up the batches.

    Raises FileNotFoundError for a missing path and ValueError for a corpus that cannot
    train (empty, or nothing left after min_count).
    """
    sentences = sentences_of(corpus, config)
    vocab = build_vocabulary(sentences, config)
    return sentences, vocab, encode(sentences, vocab, config)
