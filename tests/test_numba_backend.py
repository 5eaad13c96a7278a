"""The numba backend: the fused kernel against the w2v/sgns.py reference, and end to end."""

import numpy as np
import pytest

from numba import njit

from w2v.kernels.cpu import (NO_TREE, TABLE_RANGE, draw_alias, seed_state, sgns_examples_cpu,
                             sgns_term_cpu, sgns_train_cpu, sgns_train_windows_cpu,
                             subsample_cpu, window_bounds)
from tests.conftest import (GROUP_SIZE, GROUPS, planted_batches, random_tables,
                            share_of_neighbours_in_group)
from w2v import sgns
from w2v.config import TrainConfig
from w2v.streams import epoch_streams
from w2v.trainer import train


def numpy_sequential(examples, lr, input_table, output_table):
    """word2vec's per-example SGD, each step from w2v.sgns on a batch of one example."""
    w_in, w_out = input_table.copy(), output_table.copy()
    for row in examples:
        center, targets = row[0], row[1:]
        loss, g_w, g_u = sgns.loss_and_gradients(w_in[[center]], w_out[targets][None])
        # output rows first (word2vec order); a target listed twice gets both updates
        for k, t in enumerate(targets):
            w_out[t] -= lr * g_u[0, k]
        w_in[center] -= lr * g_w[0]
    return w_in, w_out


@njit
def _terms(scores, positive, lr):
    out = np.empty((scores.shape[0], 2))
    for i in range(scores.shape[0]):
        out[i, 0], out[i, 1] = sgns_term_cpu(scores[i], positive, lr)
    return out


@pytest.mark.parametrize("positive", [True, False])
def test_sigmoid_table_is_within_its_stated_error_of_the_exact_terms(positive):
    """The CPU kernels' σ and loss come from an interpolated table inside ±TABLE_RANGE and
    from exp outside it: within 1e-6 (step) and 3e-6 (loss) of the float64 formulas on a
    dense grid across the table, its edges and far beyond them."""
    scores = np.concatenate([np.linspace(-3 * TABLE_RANGE, 3 * TABLE_RANGE, 400_001),
                             [-TABLE_RANGE, TABLE_RANGE, np.nextafter(TABLE_RANGE, 0)]])
    scores = scores.astype(np.float32)
    lr = 0.5
    got = _terms(scores, positive, lr)
    s = scores.astype(np.float64)
    label = 1.0 if positive else 0.0
    want_step = (label - 1.0 / (1.0 + np.exp(-s))) * lr
    want_loss = np.logaddexp(0.0, -s if positive else s)
    assert np.abs(got[:, 1] - want_step).max() < 1e-6 * lr
    assert np.abs(got[:, 0] - want_loss).max() < 3e-6
    assert np.isnan(_terms(np.array([np.nan], np.float32), positive, lr)).all()


def test_example_kernel_equals_the_reference_step_by_step():
    rng = np.random.default_rng(1)
    examples = rng.integers(0, 40, (300, 7)).astype(np.int32)  # 40 words: rows repeat a lot
    w_in, w_out = random_tables(40, 16)
    want = numpy_sequential(examples, 0.05, w_in, w_out)
    got_in, got_out = w_in.copy(), w_out.copy()
    loss = sgns_examples_cpu(examples, 0.05, 0.05, got_in, got_out)
    np.testing.assert_allclose(got_in, want[0], atol=1e-5)
    np.testing.assert_allclose(got_out, want[1], atol=1e-5)
    assert np.isfinite(loss) and loss > 0


@pytest.fixture
def planted(tmp_path):
    with planted_batches(tmp_path, 300, 700, sample=1e-2, window=3, seed=4) as vocab_batches:
        yield vocab_batches


def test_fused_kernel_trains_on_exactly_the_batch_paths_examples(planted):
    vocab, batches = planted
    w_in, w_out = random_tables(len(vocab), 12)
    fused_in, fused_out = w_in.copy(), w_out.copy()
    row = epoch_streams(4, 0, range(1))[0]  # what one thread draws from in epoch 0
    pair_state, noise_state = row[0:1].copy(), row[1:2].copy()
    fused_pairs = 0
    for ids, ends in batches.encoded.chunks():
        n, _ = sgns_train_cpu(ids, ends, batches.sampling, NO_TREE, 3, 5, fused_in, fused_out,
                              0.03, 0.03, pair_state, noise_state)
        fused_pairs += n
    examples = np.concatenate(list(batches.chunk_examples(row)))
    assert fused_pairs == len(examples) == batches.count_pairs(row)
    sgns_examples_cpu(examples, 0.03, 0.03, w_in, w_out)
    np.testing.assert_allclose(fused_in, w_in, atol=1e-6)
    np.testing.assert_allclose(fused_out, w_out, atol=1e-6)


def test_window_kernel_equals_the_reference_window_by_window(planted):
    """HogBatch: each window is one w2v.sgns batch (its inputs against shared targets)."""
    vocab, b = planted
    w_in, w_out = random_tables(len(vocab), 12)
    got_in, got_out = w_in.copy(), w_out.copy()
    streams = [seed_state(21), seed_state(22)]
    ids, ends = b.encoded.chunk(0)
    sgns_train_windows_cpu(ids, ends, b.sampling, NO_TREE, 3, 4, got_in, got_out, 0.05, 0.05,
                           *streams)
    pair_state, noise_state = seed_state(21), seed_state(22)  # replay the same draws
    start, kept = 0, np.empty(len(ids), np.int32)
    for end in ends:
        n = subsample_cpu(ids[start:end], b.keep_prob, pair_state, kept)
        for i in range(n):
            lo, hi = window_bounds(pair_state, i, n, 3)
            inputs = np.r_[kept[lo:i], kept[i + 1:hi]]
            targets = [kept[i]]
            while len(targets) < 5:
                noise = draw_alias(noise_state, b.accept, b.alias)
                if noise != kept[i]:
                    targets.append(noise)
            _, g_w, g_u = sgns.loss_and_gradients(
                w_in[inputs], np.broadcast_to(w_out[targets], (len(inputs), 5, 12)))
            np.add.at(w_in, inputs, -0.05 * g_w)
            np.add.at(w_out, np.tile(targets, len(inputs)), -0.05 * g_u.reshape(-1, 12))
        start = end
    np.testing.assert_allclose(got_in, w_in, atol=1e-5)
    np.testing.assert_allclose(got_out, w_out, atol=1e-5)


@pytest.mark.parametrize("threads,shared", [(1, False), (2, False), (2, True)])
def test_planted_groups_become_nearest_neighbours(planted_corpus, threads, shared):
    config = TrainConfig(dim=16, window=3, min_count=1, sample=0, epochs=3, seed=3,
                         backend="numba", threads=threads, shared_negatives=shared)
    vectors, summary = train(planted_corpus, config)
    share = share_of_neighbours_in_group(vectors)
    assert len(vectors) == GROUPS * GROUP_SIZE
    assert share > 0.95, f"only {share:.1%} of neighbours in the right group"
    assert summary.final_loss < 2.5


@pytest.mark.parametrize("shared", [False, True])
def test_one_thread_is_deterministic(tiny_corpus, shared):
    config = TrainConfig(dim=8, min_count=1, epochs=2, backend="numba", threads=1, seed=5,
                         shared_negatives=shared)
    a, _ = train(tiny_corpus, config)
    b, _ = train(tiny_corpus, config)
    np.testing.assert_array_equal(a.vectors, b.vectors)


def test_auto_backend_is_numba_unless_a_keras_optimizer_is_asked():
    assert TrainConfig().resolved_backend == "numba"
    assert TrainConfig(optimizer="heun").resolved_backend == "keras"
    assert TrainConfig(steps_per_update=4).resolved_backend == "keras"
    with pytest.raises(ValueError, match="optimizer other than sgd needs the keras backend"):
        TrainConfig(backend="numba", optimizer="rk4").validated()


def test_numba_backend_never_imports_tensorflow(tiny_corpus):
    import subprocess
    import sys

    code = ("import sys, w2v\n"
            f"w2v.train({str(tiny_corpus)!r}, w2v.TrainConfig(dim=8, min_count=1, epochs=1, "
            "backend='numba'))\n"
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.stdout.strip().splitlines()[-1] == "False False", result.stderr


# -- hierarchical softmax and CBOW: each fused kernel against w2v.heads, draw by draw ----


def reference_step(w_in, w_out, inputs, targets, labels, lr, cbow=None):
    """One exact step of w2v.heads for a window: skip-gram, the batch of (input row,
    targets) examples; CBOW (cbow = mean?), one example from the inputs' mean or sum, every
    context row moved by −lr ∂loss/∂h (word2vec.c's rule)."""
    from w2v import heads

    rows = w_out[targets]
    if cbow is None:
        _, g_in, g_out = heads.binary_loss_and_gradients(
            w_in[inputs], np.broadcast_to(rows, (len(inputs), *rows.shape)), labels)
        np.add.at(w_in, inputs, -lr * g_in)
    else:
        mask = np.ones((1, len(inputs)), np.float32)
        h = heads.cbow_input(w_in[inputs][None], mask, cbow)
        _, g_h, g_out = heads.binary_loss_and_gradients(h, rows[None], labels)
        np.add.at(w_in, inputs, -lr * g_h[0] * heads.cbow_step_scale(len(inputs), cbow)
                  * heads.cbow_input_gradient(np.ones_like(g_h), mask, cbow)[0])
    np.add.at(w_out, np.tile(targets, len(g_out)), -lr * g_out.reshape(-1, w_in.shape[1]))


def replay(b, ids, ends, tree, negative, mode, w_in, w_out, lr, cbow_mean=True):
    """The kernels' draws replayed in Python (pair stream: subsampling, windows; noise
    stream: negatives), each window trained by `reference_step`."""
    from w2v.kernels.cpu import draw_alias

    pair_state, noise_state = seed_state(21), seed_state(22)
    start, kept, v = 0, np.empty(len(ids), np.int32), len(b.keep_prob)

    def targets_of(word):
        targets, labels = [], []
        if negative:
            targets, labels = [word], [1.0]
            while len(targets) < 1 + negative:
                noise = draw_alias(noise_state, b.accept, b.alias)
                while noise == word:
                    noise = draw_alias(noise_state, b.accept, b.alias)
                targets.append(noise)
                labels.append(0.0)
        if tree is not None:
            points, codes = tree.path(word)
            targets += (v + points).tolist()
            labels += (1.0 - codes).tolist()
        return np.array(targets), np.array(labels, np.float32)

    for end in ends:
        n = subsample_cpu(ids[start:end], b.keep_prob, pair_state, kept)
        for i in range(n):
            lo, hi = window_bounds(pair_state, i, n, b.window)
            context = np.r_[kept[lo:i], kept[i + 1:hi]]
            if mode == "pairs":
                for c in context:
                    targets, labels = targets_of(c)
                    reference_step(w_in, w_out, [kept[i]], targets, labels, lr)
            elif len(context):
                targets, labels = targets_of(kept[i])
                reference_step(w_in, w_out, context, targets, labels, lr,
                               cbow_mean if mode == "cbow" else None)
        start = end


@pytest.mark.parametrize("mode", ["pairs", "windows", "cbow", "cbow-sum"])
@pytest.mark.parametrize("hs,negative", [(True, 0), (True, 3), (False, 3)])
def test_every_fused_kernel_equals_the_reference_window_by_window(planted, mode, hs, negative):
    from w2v.kernels.cpu import NO_TREE, cbow_train_cpu

    vocab, b = planted
    tree = vocab.huffman_tree() if hs else None
    tree_arrays = (tree.codes, tree.points, tree.offsets) if hs else NO_TREE
    w_in, w_out = random_tables(len(vocab), 12)
    w_out = np.vstack([w_out, random_tables(len(vocab) - 1, 12, seed=1)[1]]) if hs else w_out
    got_in, got_out = w_in.copy(), w_out.copy()
    ids, ends = b.encoded.chunk(0)
    streams = seed_state(21), seed_state(22)
    if mode.startswith("cbow"):
        cbow_train_cpu(ids, ends, b.sampling, tree_arrays, 3, negative, mode == "cbow", got_in,
                       got_out, 0.05, 0.05, *streams)
    else:
        kernel = sgns_train_cpu if mode == "pairs" else sgns_train_windows_cpu
        kernel(ids, ends, b.sampling, tree_arrays, 3, negative, got_in, got_out, 0.05, 0.05,
               *streams)
    replay(b, ids, ends, tree, negative, mode.split("-")[0], w_in, w_out, 0.05,
           cbow_mean=mode == "cbow")
    np.testing.assert_allclose(got_in, w_in, atol=1e-5)
    np.testing.assert_allclose(got_out, w_out, atol=1e-5)


def test_thread_rows_are_the_hot_words_and_the_top_nodes():
    """A thread's private rows: the most frequent words' (input rows; output rows only
    under negative sampling) and the tree's top nodes, each capped at what the table has."""
    from w2v.kernels.cpu import thread_rows

    inputs = np.zeros((50, 4), np.float32)
    words, nodes = np.zeros((50, 4), np.float32), np.ones((49, 4), np.float32)
    tree = np.vstack([words, nodes])

    def private(input_rows, output_rows, negative, hot, top):
        got = thread_rows(input_rows, output_rows, 50, negative, hot, top)
        return [(rows.hot, rows.first_node, len(rows.private)) for rows in got]

    assert private(inputs, words, 5, 0, 255) == [(0, 50, 0), (0, 50, 0)]
    assert private(inputs, words, 5, 10, 255) == [(10, 50, 10), (10, 50, 10)]
    assert private(inputs, tree, 0, 10, 10) == [(10, 50, 10), (0, 89, 10)]
    assert private(inputs, tree, 5, 80, 255) == [(50, 50, 50), (50, 50, 99)]


def test_only_the_per_pair_kernel_steps_hot_words_in_private_copies():
    """Where private hot words paid when measured (benchmarks/results/private_rows.md): the
    per-pair skip-gram kernel; the tree's top nodes are private in every mode."""
    from w2v.backends.numba_backend import HOT_WORDS_PER_PAIR, private_rows

    def hot(**settings):
        rows = private_rows(TrainConfig(backend="numba", **settings))
        assert rows.tree_nodes > 0
        return rows.hot_words

    assert hot(shared_negatives=False) == HOT_WORDS_PER_PAIR > 0
    assert hot(shared_negatives=False, hs=True, negative=0) == HOT_WORDS_PER_PAIR
    assert hot() == hot(hs=True) == hot(cbow=True) == hot(cbow=True, shared_negatives=False) == 0


@pytest.mark.parametrize("hot_words,private_nodes", [(0, 1), (0, 7), (0, 10_000), (3, 0),
                                                     (40, 7), (10_000, 10_000)])
@pytest.mark.parametrize("negative", [0, 3])
@pytest.mark.parametrize("mode", ["pairs", "windows", "cbow"])
def test_private_rows_train_what_the_shared_rows_would(planted, mode, hot_words, private_nodes,
                                                      negative):
    """A thread stepping the hot words' rows and the tree's top nodes in its own copies,
    merged every so many predictions, trains what the shared rows would: on one thread, to
    rounding."""
    from w2v.kernels.cpu import cbow_train_cpu

    vocab, b = planted
    tree = vocab.huffman_tree()
    w_in, w_out = random_tables(len(vocab), 12)
    w_out = np.vstack([w_out, random_tables(len(vocab) - 1, 12, seed=1)[1]])
    got_in, got_out = w_in.copy(), w_out.copy()
    ids, ends = b.encoded.chunk(0)
    tree_arrays = (tree.codes, tree.points, tree.offsets)
    streams = seed_state(21), seed_state(22)
    private = hot_words, private_nodes, 100
    if mode == "cbow":
        n, _ = cbow_train_cpu(ids, ends, b.sampling, tree_arrays, 3, negative, True, got_in,
                              got_out, 0.05, 0.05, *streams, *private)
    else:
        kernel = sgns_train_cpu if mode == "pairs" else sgns_train_windows_cpu
        n, _ = kernel(ids, ends, b.sampling, tree_arrays, 3, negative, got_in, got_out, 0.05,
                      0.05, *streams, *private)
    assert n > 300  # merged mid-chunk as well as at its end
    replay(b, ids, ends, tree, negative, mode, w_in, w_out, 0.05, cbow_mean=True)
    np.testing.assert_allclose(got_in, w_in, atol=1e-5)
    np.testing.assert_allclose(got_out, w_out, atol=1e-5)


@pytest.mark.parametrize("cbow,hs,negative", [(False, True, 0), (True, False, 5), (True, True, 0),
                                              (True, True, 5)])
def test_every_mode_learns_the_planted_groups(planted_corpus, cbow, hs, negative):
    config = TrainConfig(dim=16, window=3, min_count=1, sample=0, epochs=3, seed=3,
                         backend="numba", threads=2, cbow=cbow, hs=hs, negative=negative,
                         alpha=0.05 if cbow else 0.025)
    vectors, summary = train(planted_corpus, config)
    share = share_of_neighbours_in_group(vectors)
    assert share > 0.95, f"only {share:.1%} of neighbours in the right group"


def test_fused_cbow_trains_on_exactly_the_batch_paths_examples(tmp_path):
    """CBOW's batch path (what keras trains on) draws what the fused kernel draws."""
    from w2v.heads import negative_sampling_labels
    from w2v.kernels.cpu import cbow_train_cpu

    with planted_batches(tmp_path, 300, 700, sample=1e-2, window=3, seed=4, cbow=True,
                         negative=5) as (vocab, b):
        row = epoch_streams(4, 0, range(1))[0]
        pair_state, noise_state = row[0:1].copy(), row[1:2].copy()
        w_in, w_out = random_tables(len(vocab), 12)
        fused_in, fused_out = w_in.copy(), w_out.copy()
        predictions = sum(cbow_train_cpu(ids, ends, b.sampling, NO_TREE, 3, 5, True, fused_in,
                                         fused_out, 0.03, 0.03, pair_state, noise_state)[0]
                          for ids, ends in b.encoded.chunks())
        examples = np.concatenate(list(b.chunk_examples(row)))
        assert predictions == len(examples) == b.count_pairs(row) > 100
        labels = negative_sampling_labels(6)
        for example in examples:
            context = example[1:7][example[1:7] >= 0]
            reference_step(w_in, w_out, context, np.r_[example[:1], example[7:]], labels, 0.03,
                           cbow=True)
        np.testing.assert_allclose(fused_in, w_in, atol=1e-5)
        np.testing.assert_allclose(fused_out, w_out, atol=1e-5)
