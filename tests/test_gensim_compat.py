"""gensim's own usage examples, and every keyword of its Word2Vec and train, on w2v.Word2Vec;
exports people expect (the TensorFlow Embedding Projector, gensim's KeyedVectors file)."""

import inspect
import os
import re

import numpy as np
import pytest

gensim_word2vec = pytest.importorskip("gensim.models.word2vec")
from gensim.models import KeyedVectors  # noqa: E402
from gensim.models.callbacks import CallbackAny2Vec  # noqa: E402
from gensim.test.utils import common_texts  # noqa: E402

from w2v import Embeddings, Word2Vec  # noqa: E402
from w2v.word2vec import GENSIM_IGNORED  # noqa: E402


def docstring_examples() -> list[str]:
    """The `>>>` code of gensim.models.word2vec's docstring, one string per example block."""
    blocks = re.split(r"\.\. sourcecode:: pycon", gensim_word2vec.__doc__)[1:]
    examples = []
    for block in blocks:
        lines = [line.strip()[4:] for line in block.splitlines()
                 if line.strip().startswith((">>> ", "... "))]
        examples.append("\n".join(lines))
    return examples


def test_gensims_usage_examples_run_on_w2v(tmp_path, monkeypatch):
    """Every example that needs no network, in order and in one namespace, with gensim's
    `Word2Vec` swapped for ours (KeyedVectors and the rest stay gensim's)."""
    monkeypatch.chdir(tmp_path)
    examples = docstring_examples()
    assert len(examples) >= 6
    namespace, ran = {}, 0
    for code in examples:
        if "gensim.downloader" in code:
            continue  # fetches pretrained models over the network
        code = code.replace("from gensim.models import Word2Vec", "from w2v import Word2Vec")
        exec(compile(code, "gensim example", "exec"), namespace)
        ran += 1
    assert ran >= 6 and isinstance(namespace["model"], Word2Vec)
    assert namespace["wv"]["computer"].shape == (100,)  # gensim loaded what wv.save wrote


def test_every_gensim_keyword_is_taken_or_refused_by_name():
    ours = inspect.signature(Word2Vec.__init__).parameters
    theirs = inspect.signature(gensim_word2vec.Word2Vec.__init__).parameters
    assert set(theirs) - {"self"} <= set(ours)
    for name, value, why in [("hashfxn", lambda w: 1, "hashfxn=.* `seed` alone"),
                             ("null_word", 1, "null_word=1 .* CBOW concatenation"),
                             ("sorted_vocab", 0, "sorted_vocab=False .* falling count"),
                             ("shrink_windows", False, "shrink_windows=False")]:
        with pytest.raises(ValueError, match=why):
            Word2Vec(**{name: value})
    train_theirs = inspect.signature(gensim_word2vec.Word2Vec.train).parameters
    train_ours = set(inspect.signature(Word2Vec.train).parameters) | set(GENSIM_IGNORED)
    assert set(train_theirs) - {"self", "kwargs"} <= train_ours
    with pytest.raises(TypeError, match="unexpected keyword argument 'sentences_total'"):
        Word2Vec([["a", "b"]] * 5, min_count=1, vector_size=4, epochs=1).train(
            [["a", "b"]], sentences_total=3)


@pytest.mark.parametrize("sg, hs, negative, cbow_mean", [(1, 0, 5, 1), (0, 0, 5, 1),
                                                         (0, 1, 0, 0), (1, 1, 3, 1)])
def test_gensims_mode_names(sg, hs, negative, cbow_mean):
    model = Word2Vec(common_texts * 20, vector_size=8, min_count=1, sg=sg, hs=hs,
                     negative=negative, cbow_mean=cbow_mean, epochs=2, compute_loss=True)
    assert (model.sg, model.hs, model.negative, model.cbow_mean) == (sg, hs, negative, cbow_mean)
    assert model.config.cbow == (not sg) and model.config.hs == bool(hs)
    assert model.get_latest_training_loss() > 0
    again = Word2Vec.load(_saved(model))  # the mode is in the model file
    assert (again.sg, again.hs, again.negative, again.cbow_mean) == (sg, hs, negative, cbow_mean)
    summary = again.train(common_texts, total_examples=len(common_texts), epochs=1,
                          start_alpha=0.01, end_alpha=0.001, compute_loss=True)
    assert summary.history[-1]["learning_rate"] == pytest.approx(0.001)


def _saved(model, _count=[0]):
    import tempfile

    _count[0] += 1
    path = os.path.join(tempfile.mkdtemp(), f"m{_count[0]}.w2v")
    model.save(path)
    return path


def test_trim_rule_pruning_and_final_vocabulary():
    from gensim.utils import RULE_DISCARD, RULE_KEEP

    texts = [["rare", "common", "common", "other"]] * 3 + [["unique", "common"]]

    def rule(word, count, min_count):
        return RULE_KEEP if word == "unique" else RULE_DISCARD if word == "other" else 0

    model = Word2Vec(vector_size=4, min_count=2, trim_rule=rule)
    model.build_vocab(texts)
    assert model.vocab.words == ["common", "rare", "unique"]
    capped = Word2Vec(vector_size=4, min_count=1, max_final_vocab=2)
    assert capped.build_vocab(texts).vocab.words == ["common", "other"]
    pruned = Word2Vec(vector_size=4, min_count=1, max_vocab_size=2)  # gensim's: prune counting
    assert "unique" not in pruned.build_vocab(texts).vocab.words


def test_gensim_callbacks_see_the_model_at_each_epoch():
    seen = []

    class Spy(CallbackAny2Vec):
        def on_train_begin(self, model):
            seen.append("begin")

        def on_epoch_end(self, model):
            seen.append(round(model.wv.vectors.std(), 6))

        def on_train_end(self, model):
            seen.append("end")

    Word2Vec(common_texts * 10, vector_size=8, min_count=1, epochs=3, callbacks=[Spy()])
    assert seen[0] == "begin" and seen[-1] == "end" and len(seen) == 5
    assert len(set(seen[1:4])) == 3  # each epoch's vectors, as they were then


def test_exports_for_the_projector_and_gensim(tmp_path):
    words = ["whale", "ship", "naïve", "日本"]
    vectors = Embeddings(words, np.arange(12, dtype=np.float32).reshape(4, 3) / 7)
    tsv, meta = vectors.save_projector(tmp_path / "projector")
    rows = [list(map(float, line.split("\t"))) for line in open(tsv).read().splitlines()]
    np.testing.assert_allclose(rows, vectors.vectors, rtol=1e-5)
    assert open(meta, encoding="utf-8").read().splitlines() == words
    vectors.save(tmp_path / "kv")
    loaded = KeyedVectors.load(str(tmp_path / "kv"))
    assert loaded.index_to_key == words
    np.testing.assert_array_equal(loaded.vectors, vectors.vectors)


def test_the_export_command(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "v.txt"
    Embeddings(["a", "b", "c"], np.eye(3, dtype=np.float32)).save_word2vec_format(path)
    code = "import sys; from w2v.tools import export_main; sys.exit(export_main())"
    result = subprocess.run([sys.executable, "-c", code, str(path), "--projector",
                             str(tmp_path / "p"), "--gensim", str(tmp_path / "kv")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "p" / "metadata.tsv").read_text() == "a\nb\nc\n"
    assert KeyedVectors.load(str(tmp_path / "kv")).index_to_key == ["a", "b", "c"]
    refused = subprocess.run([sys.executable, "-c", code, str(path), "--gensim", str(path)],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "is an input file" in refused.stderr
