"""Trained word vectors: lookups, similarity queries, evaluation, files and exports.

>>> from w2v import Embeddings
>>> vectors = Embeddings.load("vectors.txt")       # word2vec text/binary, or a model file
>>> vectors["king"]                                  # (d,) float32
>>> vectors.most_similar(positive=["king", "woman"], negative=["man"], topn=3)
>>> lookup, embedding = vectors.to_keras_embedding()   # keras.layers: strings -> ids -> vectors

The queries follow gensim's KeyedVectors (same names, arguments and results) and run as
matrix products over the unit-length rows, in batches where gensim loops.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from w2v.io.files import atomic_write
from w2v.io.formats import is_model_file, read_word2vec, write_word2vec
from w2v.model_file import TRAINED_KINDS, read_trained

RESTRICT_VOCAB = 300_000  # gensim's default for evaluations: the most frequent words only
QUESTION_BATCH = 256  # analogy questions scored per matrix product


class KerasEmbedding(NamedTuple):
    lookup: object  # keras.layers.StringLookup: str -> id, unknown words -> 0
    embedding: object  # keras.layers.Embedding: id -> vector (row 0: zeros, for unknown)


def _gensim_unit(row: np.ndarray) -> np.ndarray:
    """(d,) float32 `row` scaled to length 1 as gensim's matutils.unitvec does: by 1 / its
    norm in float64, cast back to float32 (a zero row stays as it is)."""
    wide = row.astype(np.float64)
    norm = np.sqrt(wide @ wide)
    return (wide * (1.0 / norm)).astype(np.float32) if norm > 0 else row


class Embeddings:
    """Words and their vectors: (V, d) float32, row i for words[i] (most frequent first
    when they come from training)."""

    def __init__(self, words: list[str], vectors: np.ndarray):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ValueError(f"need a ({len(words)}, d) matrix, got shape {vectors.shape}")
        self.words = list(words)
        self.vectors = vectors
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("words must be distinct")
        self._unit = None

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def __getitem__(self, words):
        """A word's (d,) vector, or a list of words' (n, d) matrix; KeyError if unknown."""
        if isinstance(words, str):
            return self.vectors[self._id(words)]
        return self.vectors[[self._id(w) for w in words]]

    def __repr__(self) -> str:
        return f"Embeddings({len(self):,} words, dim {self.dim})"

    def _id(self, word: str) -> int:
        try:
            return self.index[word]
        except KeyError:
            raise KeyError(f"word {word!r} is not in the vocabulary") from None

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    # gensim's KeyedVectors names for the same things
    @property
    def vector_size(self) -> int:
        return self.dim

    @property
    def index_to_key(self) -> list[str]:
        return self.words

    @property
    def key_to_index(self) -> dict[str, int]:
        return self.index

    def get_vector(self, word: str) -> np.ndarray:
        return self[word]

    def save(self, path) -> None:
        """Write gensim's own KeyedVectors file (a pickle, for gensim's
        `KeyedVectors.load(path)`; arrays inside it, one file, written atomically). w2v
        itself never reads pickles: load vectors with `Embeddings.load` from the word2vec
        formats (`save_word2vec_format`) or a model file."""
        with atomic_write(path) as out:
            self.to_gensim().save(out)

    def save_projector(self, folder) -> tuple[str, str]:
        """vectors.tsv (one row of tab-separated numbers per word) and metadata.tsv (the
        words, one per line) in `folder`, for the TensorFlow Embedding Projector
        (projector.tensorflow.org: "Load"). Returns the two paths."""
        from pathlib import Path

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        vectors_path, metadata_path = folder / "vectors.tsv", folder / "metadata.tsv"
        with atomic_write(vectors_path) as out:
            for row in self.vectors:
                out.write(("\t".join(f"{x:.6g}" for x in row) + "\n").encode())
        with atomic_write(metadata_path) as out:
            out.write("".join(f"{word}\n" for word in self.words).encode("utf-8"))
        return str(vectors_path), str(metadata_path)

    @property
    def unit_vectors(self) -> np.ndarray:
        """(V, d) float32 rows scaled to length 1 (zero rows stay zero)."""
        if self._unit is None:
            norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            self._unit = self.vectors / np.where(norms > 0, norms, 1)
        return self._unit

    # -- queries ---------------------------------------------------------------------------

    def _terms(self, terms) -> tuple[list[np.ndarray], set[int]]:
        """Unit vectors of words (or given vectors, as they are) and the ids of the words."""
        if terms is None:
            return [], set()
        if isinstance(terms, (str, np.ndarray)):
            terms = [terms]
        vectors, ids = [], set()
        for term in terms:
            if isinstance(term, str):
                ids.add(self._id(term))
                vectors.append(self.unit_vectors[self._id(term)])
            else:
                vectors.append(np.asarray(term, dtype=np.float32))
        return vectors, ids

    def _top(self, scores: np.ndarray, exclude: set[int], topn: int) -> list[tuple[str, float]]:
        scores = scores.copy()
        scores[list(exclude)] = -np.inf
        topn = min(topn, len(scores) - len(exclude))
        best = np.argpartition(-scores, topn - 1)[:topn] if topn > 0 else np.array([], int)
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.words[i], float(scores[i])) for i in best]

    def most_similar(self, positive=None, negative=None, topn: int = 10
                     ) -> list[tuple[str, float]]:
        """The `topn` words nearest (cosine) to the mean of the unit vectors of `positive`
        minus those of `negative` (words or vectors), the query words excluded.

        most_similar("king") is the nearest words to "king"; most_similar(positive=["king",
        "woman"], negative=["man"]) is the 3CosAdd analogy man : king :: woman : ?.
        """
        pos, pos_ids = self._terms(positive)
        neg, neg_ids = self._terms(negative)
        if not pos and not neg:
            raise ValueError("most_similar needs at least one positive or negative term")
        mean = np.mean(pos + [-v for v in neg], axis=0)
        norm = np.linalg.norm(mean)
        return self._top(self.unit_vectors @ (mean / (norm if norm > 0 else 1)),
                         pos_ids | neg_ids, topn)

    def most_similar_cosmul(self, positive=None, negative=None, topn: int = 10
                            ) -> list[tuple[str, float]]:
        """3CosMul (Levy and Goldberg 2014): Π (1 + cos(x, p)) / 2 over positive terms,
        divided by Π (1 + cos(x, n)) / 2 over negative ones (+ 1e-6); gensim's formula."""
        pos, pos_ids = self._terms(positive)
        neg, neg_ids = self._terms(negative)
        if not pos:
            raise ValueError("most_similar_cosmul needs at least one positive term")
        unit = self.unit_vectors
        scores = np.prod([(1 + unit @ v) / 2 for v in pos], axis=0)
        if neg:
            scores = scores / (np.prod([(1 + unit @ v) / 2 for v in neg], axis=0) + 1e-6)
        return self._top(scores, pos_ids | neg_ids, topn)

    def similarity(self, word1: str, word2: str) -> float:
        """Cosine similarity of two words."""
        unit = self.unit_vectors
        return float(unit[self._id(word1)] @ unit[self._id(word2)])

    def doesnt_match(self, words: Iterable[str]) -> str:
        """The word farthest from the mean of the others' unit vectors (unknown words are
        ignored, as gensim does)."""
        known = [w for w in words if w in self.index]
        if not known:
            raise ValueError("doesnt_match needs at least one word of the vocabulary")
        rows = self.unit_vectors[[self.index[w] for w in known]]
        mean = rows.mean(axis=0)
        mean /= np.linalg.norm(mean) or 1
        return known[int(np.argmin(rows @ mean))]

    # -- evaluation (gensim's rules, vectorised) --------------------------------------------

    def _upper_index(self, restrict_vocab: int, case_insensitive: bool) -> dict[str, int]:
        """Word -> id among the first `restrict_vocab` words; upper-cased, the most frequent
        spelling winning, when case_insensitive (gensim's ok_vocab)."""
        words = self.words[:restrict_vocab]
        if not case_insensitive:
            return {w: i for i, w in enumerate(words)}
        return {w.upper(): i for i, w in reversed(list(enumerate(words)))}

    def evaluate_word_analogies(self, path, restrict_vocab: int = RESTRICT_VOCAB,
                                case_insensitive: bool = True, dummy4unknown: bool = False):
        """Accuracy on analogy questions "a b c d" (a : b :: c : d), as gensim computes it.

        path: a file in questions-words.txt's format (": section" lines, then questions).
        The answer is the 3CosAdd nearest word to b − a + c among the first restrict_vocab
        words, a, b and c excluded. Questions with an unknown word are skipped (counted
        wrong with dummy4unknown). Returns (accuracy, sections): each section a dict with
        its name and lists of "correct" and "incorrect" questions, the last one the total.
        """
        index = self._upper_index(restrict_vocab, case_insensitive)
        sections, questions, unknown = [], [], 0
        with open(path, encoding="utf-8", errors="replace") as f:
            for line_no, line in enumerate(f, 1):
                if line.startswith(": "):
                    sections.append({"section": line[2:].strip(), "correct": [],
                                     "incorrect": []})
                    continue
                words = (line.upper() if case_insensitive else line).split()
                if len(words) != 4:
                    continue
                if not sections:
                    raise ValueError(f"{path}: line {line_no}: a question before any "
                                     "': section' line")
                if all(w in index for w in words):
                    questions.append((len(sections) - 1, tuple(words)))
                else:
                    unknown += 1
                    if dummy4unknown:
                        sections[-1]["incorrect"].append(tuple(words))
        unit = self.unit_vectors[:restrict_vocab]
        for start in range(0, len(questions), QUESTION_BATCH):
            batch = questions[start:start + QUESTION_BATCH]
            ids = np.array([[index[w] for w in q] for _, q in batch])
            targets = unit[ids[:, 1]] - unit[ids[:, 0]] + unit[ids[:, 2]]
            scores = targets @ unit.T  # (questions, V)
            rows = np.arange(len(batch))[:, None]
            scores[rows, ids[:, :3]] = -np.inf
            for (section, question), best, want in zip(batch, scores.argmax(axis=1), ids[:, 3]):
                sections[section]["correct" if best == want else "incorrect"].append(question)
        total = {"section": "Total accuracy",
                 "correct": [q for s in sections for q in s["correct"]],
                 "incorrect": [q for s in sections for q in s["incorrect"]]}
        answered = len(total["correct"]) + len(total["incorrect"])
        sections.append(total)
        return (len(total["correct"]) / answered if answered else 0.0), sections

    def evaluate_word_pairs(self, path, delimiter: str = "\t",
                            restrict_vocab: int = RESTRICT_VOCAB, case_insensitive: bool = True,
                            dummy4unknown: bool = False):
        """Correlation of cosine similarity with human scores on "word word score" lines.

        Returns (pearson, spearman, oov_percent) as gensim does: the two scipy results
        (statistic, p-value) and the percentage of pairs skipped for an unknown word
        (scored 0 with dummy4unknown). Lines starting with # are comments.
        """
        from scipy import stats

        index = self._upper_index(restrict_vocab, case_insensitive)
        gold, model, unknown, total = [], [], 0, 0
        with open(path, encoding="utf-8", errors="replace") as f:
            for line_no, line in enumerate(f, 1):
                if line.startswith("#") or not line.strip():
                    continue
                parts = line.rstrip("\n").split(delimiter)
                try:
                    a, b, score = parts[0], parts[1], float(parts[2])
                except (IndexError, ValueError):
                    continue  # a header or malformed line, skipped as gensim does
                total += 1
                if case_insensitive:
                    a, b = a.upper(), b.upper()
                if a not in index or b not in index:
                    unknown += 1
                    if dummy4unknown:
                        gold.append(score)
                        model.append(0.0)
                    continue
                gold.append(score)
                model.append(self._similarity_as_gensim(index[a], index[b]))
        if len(gold) < 2:
            raise ValueError(f"{path}: fewer than two pairs with both words in the vocabulary")
        return (stats.pearsonr(gold, model), stats.spearmanr(gold, model),
                100.0 * unknown / max(total, 1))

    def _similarity_as_gensim(self, i: int, j: int) -> float:
        """Cosine of rows i and j with gensim's `KeyedVectors.similarity` arithmetic
        (`_gensim_unit` each, then a float32 dot). Spearman ranks the scores, so a near-tie
        rounded differently from gensim moves the correlation by up to ~1e-4; the same
        arithmetic gives the same ranks."""
        return float(np.dot(_gensim_unit(self.vectors[i]), _gensim_unit(self.vectors[j])))

    # -- files and other libraries ----------------------------------------------------------

    def save_word2vec_format(self, path, binary: bool = False) -> None:
        """Write word2vec's text (or binary) format to `path`, atomically."""
        write_word2vec(path, self.words, self.vectors, binary)

    @classmethod
    def load_word2vec_format(cls, path, binary: bool | None = None) -> "Embeddings":
        """Read word2vec's format (text or binary; None: tell them apart by content)."""
        return cls(*read_word2vec(path, binary))

    @classmethod
    def load(cls, path) -> "Embeddings":
        """Vectors from a word2vec-format file or a model file (`Word2Vec.save`)."""
        if is_model_file(path):  # a model or a checkpoint, validated as Word2Vec.load does
            saved = read_trained(path, TRAINED_KINDS)
            return cls(saved.vocab.words, saved.input_vectors)
        return cls.load_word2vec_format(path)

    def to_gensim(self):
        """A gensim KeyedVectors with the same words, order and vectors."""
        from gensim.models import KeyedVectors

        kv = KeyedVectors(vector_size=self.dim)
        kv.add_vectors(self.words, self.vectors)
        return kv

    def to_keras_embedding(self, trainable: bool = False) -> KerasEmbedding:
        """(StringLookup, Embedding) Keras layers holding these vectors.

        lookup maps a word to its row + 1 (0 for unknown words); embedding maps that id to
        the vector (zeros for id 0). trainable=False freezes the vectors in a model.
        """
        import keras

        lookup = keras.layers.StringLookup(vocabulary=self.words, num_oov_indices=1,
                                           mask_token=None)
        embedding = keras.layers.Embedding(len(self) + 1, self.dim, trainable=trainable)
        embedding.build((None,))
        embedding.embeddings.assign(np.vstack([np.zeros((1, self.dim), np.float32),
                                               self.vectors]))
        return KerasEmbedding(lookup, embedding)
