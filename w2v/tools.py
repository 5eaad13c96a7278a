"""w2v-eval, w2v-similar, w2v-plot: look at trained vectors from the command line;
w2v-export, for the TensorFlow Embedding Projector and gensim; and w2v-vocab, the
vocabulary the workers of a cluster share.

    w2v-vocab corpus/ -o vocab.tsv               # count once; w2v-train --vocab vocab.tsv
    w2v-eval vectors.txt                         # analogies and word pairs, as a table
    w2v-similar vectors.txt whale king-man+woman # nearest neighbours, or an analogy
    w2v-plot vectors.txt emma harriet ship sea -o words.png
    w2v-export vectors.txt --projector projector/   # vectors.tsv + metadata.tsv

VECTORS is word2vec's text or binary format (told apart by content) or a model file from
`Word2Vec.save`. Errors end with one line on stderr: exit 2 for usage, 1 for the rest.
None of these imports TensorFlow.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path


def _run(prog: str, body, argv) -> int:
    """Run body(argv); a user's error becomes one line on stderr and exit status 1."""
    from w2v.errors import FormatError

    try:
        return body(argv)
    except (FileNotFoundError, IsADirectoryError) as error:
        print(f"{prog}: error: no such file: {error.filename}", file=sys.stderr)
    except (FormatError, ValueError, KeyError, OSError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"{prog}: error: {message}", file=sys.stderr)
    return 1


def _load(path: Path):
    from w2v.vectors import Embeddings

    return Embeddings.load(path)


# -- w2v-vocab --------------------------------------------------------------------------


def vocab_main(argv=None) -> int:
    from w2v.config import TrainConfig

    d = TrainConfig()
    p = argparse.ArgumentParser(prog="w2v-vocab", description="Count a corpus once and write "
                                "its vocabulary (word<TAB>count, by id) for w2v-train --vocab.")
    p.add_argument("corpus", nargs="+", type=Path, help="text files or directories, as w2v-train")
    p.add_argument("-o", "--output", type=Path, required=True, help="where to write vocab.tsv")
    p.add_argument("--min-count", type=int, default=d.min_count,
                   help=f"drop words rarer than this (default {d.min_count})")
    p.add_argument("--max-vocab-size", type=int, default=None,
                   help="keep only the N most frequent words (default: no cap)")
    args = p.parse_args(argv)
    for name, value in (("--min-count", args.min_count), ("--max-vocab-size", args.max_vocab_size)):
        if value is not None and value < 1:
            p.exit(2, f"w2v-vocab: error: {name} must be at least 1, got {value}\n")

    def body(_):
        from w2v.config import TrainConfig
        from w2v.io.files import check_outputs
        from w2v.prepare import build_vocabulary, sentences_of

        check_outputs({"-o": args.output}, inputs=args.corpus)
        config = TrainConfig(min_count=args.min_count, max_vocab_size=args.max_vocab_size)
        vocab = build_vocabulary(sentences_of(args.corpus, config), config)
        vocab.save(args.output)
        print(f"wrote {len(vocab):,} words (of {vocab.corpus_words:,} corpus words) to "
              f"{args.output}; fingerprint {vocab.fingerprint()[:16]}")
        return 0
    return _run("w2v-vocab", body, argv)


# -- w2v-eval ---------------------------------------------------------------------------


def eval_table(vectors, analogies: list[str], pair_sets: dict[str, str]) -> list[dict]:
    """One row per evaluation set: name, measure, score, items used, share unknown."""
    rows = []
    for path in analogies:
        accuracy, sections = vectors.evaluate_word_analogies(path)
        total = sections[-1]
        used = len(total["correct"]) + len(total["incorrect"])
        asked = sum(1 for line in open(path, encoding="utf-8", errors="replace")
                    if len(line.split()) == 4 and not line.startswith(":"))
        rows.append({"set": Path(path).stem, "measure": "accuracy", "score": accuracy,
                     "used": used, "unknown": 1 - used / max(asked, 1)})
    for name, path in pair_sets.items():
        try:
            _, spearman, oov = vectors.evaluate_word_pairs(path)
            score, unknown = float(spearman[0]), oov / 100
        except ValueError:  # fewer than two known pairs
            score, unknown = float("nan"), 1.0
        rows.append({"set": name, "measure": "spearman", "score": score, "used": None,
                     "unknown": unknown})
    return rows


def export_main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="w2v-export", description="Write vectors for other "
                                "tools: the TensorFlow Embedding Projector (vectors.tsv and "
                                "metadata.tsv), or gensim's KeyedVectors file.")
    p.add_argument("vectors", type=Path, help="word2vec text/binary file or model file")
    p.add_argument("--projector", type=Path, default=None, metavar="DIR",
                   help="write DIR/vectors.tsv and DIR/metadata.tsv (load both at "
                        "projector.tensorflow.org)")
    p.add_argument("--gensim", type=Path, default=None, metavar="FILE",
                   help="write gensim's KeyedVectors file (gensim's KeyedVectors.load)")
    args = p.parse_args(argv)
    if args.projector is None and args.gensim is None:
        p.exit(2, "w2v-export: error: say what to write: --projector DIR and/or --gensim FILE\n")

    def body(_):
        from w2v.io.files import check_outputs

        outputs = {"--gensim": args.gensim}
        if args.projector is not None:
            outputs |= {"--projector vectors.tsv": args.projector / "vectors.tsv",
                        "--projector metadata.tsv": args.projector / "metadata.tsv"}
            if args.projector.exists() and not args.projector.is_dir():
                raise ValueError(f"--projector {str(args.projector)!r} is not a directory")
            args.projector.mkdir(parents=True, exist_ok=True)
        check_outputs(outputs, inputs=[args.vectors])
        vectors = _load(args.vectors)
        if args.projector is not None:
            written = vectors.save_projector(args.projector)
            print(f"wrote {len(vectors):,} vectors to {written[0]} and their words to "
                  f"{written[1]}")
        if args.gensim is not None:
            vectors.save(args.gensim)
            print(f"wrote gensim's KeyedVectors file {args.gensim}")
        return 0
    return _run("w2v-export", body, argv)


def eval_main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="w2v-eval", description="Score word vectors: analogy "
                                "accuracy and word-pair Spearman correlation (gensim's rules).")
    p.add_argument("vectors", type=Path, help="word2vec text/binary file or model file")
    p.add_argument("--analogies", action="append", metavar="FILE",
                   help="questions in questions-words.txt's format (default: gensim's copy)")
    p.add_argument("--pairs", action="append", default=[], metavar="NAME=FILE",
                   help="tab-separated word, word, score lines (default: gensim's "
                        "WordSim353 and SimLex-999)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = p.parse_args(argv)
    pairs = {}
    for item in args.pairs:
        if "=" not in item:
            p.error(f"--pairs takes NAME=FILE, got {item!r}")
        name, path = item.split("=", 1)
        pairs[name] = path

    def body(_):
        from gensim.test.utils import datapath

        from w2v.evaluate import ANALOGY_SET, PAIR_SETS

        analogies = args.analogies or [datapath(ANALOGY_SET)]
        sets = pairs or {name: datapath(file) for name, file in PAIR_SETS.items()}
        for path in [*analogies, *sets.values()]:
            if not Path(path).is_file():
                raise FileNotFoundError(2, "no such file", path)
        vectors = _load(args.vectors)
        rows = eval_table(vectors, analogies, sets)
        if args.json:
            import json
            print(json.dumps(rows))
            return 0
        print(f"{args.vectors}: {len(vectors):,} words, dim {vectors.dim}")
        print(f"{'set':<20} {'measure':<9} {'score':>7} {'used':>8} {'unknown':>8}")
        for r in rows:
            used = f"{r['used']:,}" if r["used"] is not None else "–"
            print(f"{r['set']:<20} {r['measure']:<9} {r['score']:>7.4f} {used:>8} "
                  f"{r['unknown']:>7.1%}")
        return 0

    return _run("w2v-eval", body, argv)


# -- w2v-similar ------------------------------------------------------------------------

_TERM = re.compile(r"([+-]?)([^+-]+)")


def parse_query(query: str, vocabulary=()) -> tuple[list[str], list[str]]:
    """'king-man+woman' -> (['king', 'woman'], ['man']); 'whale' -> (['whale'], []).
    A query that is itself a word of `vocabulary` ('well-known') is that word, whole."""
    if query in vocabulary:
        return [query], []
    positive, negative = [], []
    for sign, word in _TERM.findall(query):
        (negative if sign == "-" else positive).append(word)
    return positive, negative


def similar_main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="w2v-similar", description="Nearest neighbours of words (cosine); a query "
        "such as king-man+woman is an analogy (3CosAdd). A query that is a word of the "
        "vocabulary as it stands (well-known) is looked up whole, before + and - are read "
        "as arithmetic.")
    p.add_argument("vectors", type=Path, help="word2vec text/binary file or model file")
    p.add_argument("words", nargs="+", metavar="WORD", help="a word, or words joined by + and -")
    p.add_argument("-n", "--topn", type=int, default=10, help="neighbours per query (default 10)")
    args = p.parse_args(argv)
    if args.topn < 1:
        p.error(f"--topn must be at least 1, got {args.topn}")

    def body(_):
        vectors = _load(args.vectors)
        unknown = [w for q in args.words for w in sum(parse_query(q, vectors), [])
                   if w not in vectors]
        if unknown:
            raise ValueError(f"not in the vocabulary of {args.vectors}: {', '.join(unknown)}")
        for query in args.words:
            positive, negative = parse_query(query, vectors)
            print(query)
            for word, score in vectors.most_similar(positive, negative, topn=args.topn):
                print(f"  {score:.4f}  {word}")
        return 0

    return _run("w2v-similar", body, argv)


# -- w2v-plot ---------------------------------------------------------------------------


def pca_2d(matrix):
    """(n, d) -> (n, 2): the rows projected on their two principal axes (centred SVD)."""
    import numpy as np

    centred = matrix - matrix.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    return centred @ axes[:2].T


def plot_main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="w2v-plot",
                                description="Draw chosen words in 2-D (PCA of their vectors).")
    p.add_argument("vectors", type=Path, help="word2vec text/binary file or model file")
    p.add_argument("words", nargs="+", metavar="WORD")
    p.add_argument("-o", "--output", type=Path, default=Path("words.png"),
                   help="image file, format from its suffix (default words.png)")
    p.add_argument("--title", default=None)
    args = p.parse_args(argv)
    if len(args.words) < 3:
        p.error(f"give at least 3 words to project, got {len(args.words)}")

    def body(_):
        try:
            import matplotlib
        except ImportError:
            raise ValueError("w2v-plot needs matplotlib: pip install matplotlib") from None
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from w2v.io.files import atomic_write, check_outputs

        check_outputs({"-o": args.output}, inputs=[args.vectors])
        vectors = _load(args.vectors)
        unknown = [w for w in args.words if w not in vectors]
        if unknown:
            raise ValueError(f"not in the vocabulary of {args.vectors}: {', '.join(unknown)}")
        points = pca_2d(vectors[args.words])
        fig, ax = plt.subplots(figsize=(7, 6))
        ax.scatter(points[:, 0], points[:, 1], s=14)
        for word, (x, y) in zip(args.words, points):
            ax.annotate(word, (x, y), xytext=(4, 3), textcoords="offset points")
        ax.set_title(args.title or f"{len(args.words)} words of {args.vectors.name}, PCA")
        ax.set_xlabel("first principal axis")
        ax.set_ylabel("second principal axis")
        fig.tight_layout()
        with atomic_write(args.output) as out:
            fig.savefig(out, format=args.output.suffix.lstrip(".") or "png", dpi=120)
        plt.close(fig)
        print(f"wrote {args.output}")
        return 0

    return _run("w2v-plot", body, argv)
