"""w2v/heads.py (CBOW's input, negative sampling and hierarchical softmax) against
tf.GradientTape, and the Huffman tree against word2vec.c's."""

import numpy as np
import pytest
import tensorflow as tf

from w2v import heads
from w2v.vocab import Vocabulary

B, T, C, D = 16, 7, 6, 5


def problem(seed):
    rng = np.random.default_rng(seed)
    inputs = rng.normal(0, 0.7, (B, D)).astype(np.float32)
    targets = rng.normal(0, 0.7, (B, T, D)).astype(np.float32)
    labels = rng.integers(0, 2, (B, T)).astype(np.float32)  # HS codes, any mix
    mask = (rng.random((B, T)) < 0.7).astype(np.float32)  # paths of many lengths
    context = rng.normal(0, 0.7, (B, C, D)).astype(np.float32)
    context_mask = (rng.random((B, C)) < 0.6).astype(np.float32)
    context_mask[:, 0] = 1  # at least one context word each
    return inputs, targets, labels, mask, context, context_mask


@pytest.mark.parametrize("seed", range(3))
def test_binary_head_gradients_equal_autodiff(seed):
    inputs, targets, labels, mask, _, _ = problem(seed)
    h, u = tf.Variable(inputs), tf.Variable(targets)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(heads.binary_loss(tf.convert_to_tensor(h), tf.convert_to_tensor(u),
                                               labels, mask))
    want = tape.gradient(loss, [h, u])
    got_loss, got_h, got_u = heads.binary_loss_and_gradients(inputs, targets, labels, mask)
    np.testing.assert_allclose(got_h, want[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(got_u, want[1].numpy(), atol=1e-5)
    np.testing.assert_allclose(got_loss.sum(), loss.numpy(), rtol=1e-5)
    # the loss is the log-likelihood of the labels: −log σ(±s)
    s = np.einsum("bd,btd->bt", inputs, targets)
    direct = -(mask * (labels * np.log(1 / (1 + np.exp(-s)))
                       + (1 - labels) * np.log(1 - 1 / (1 + np.exp(-s))))).sum(1)
    np.testing.assert_allclose(got_loss, direct, rtol=1e-4)


@pytest.mark.parametrize("mean", [True, False])
def test_cbow_input_and_its_gradient_equal_autodiff(mean):
    _, targets, labels, mask, context, context_mask = problem(5)
    c, u = tf.Variable(context), tf.Variable(targets)
    with tf.GradientTape() as tape:
        h = heads.cbow_input(tf.convert_to_tensor(c), context_mask, mean)
        loss = tf.reduce_sum(heads.binary_loss(h, tf.convert_to_tensor(u), labels, mask))
    want_c, want_u = tape.gradient(loss, [c, u])
    h = heads.cbow_input(context, context_mask, mean)
    counts = context_mask.sum(1, keepdims=True)
    np.testing.assert_allclose(h, (context * context_mask[..., None]).sum(1)
                               / (counts if mean else 1), rtol=1e-5)
    _, grad_h, grad_u = heads.binary_loss_and_gradients(h, targets, labels, mask)
    np.testing.assert_allclose(heads.cbow_input_gradient(grad_h, context_mask, mean),
                               want_c.numpy(), atol=1e-5)
    np.testing.assert_allclose(grad_u, want_u.numpy(), atol=1e-5)


def test_negative_sampling_is_the_head_with_one_true_target():
    from w2v import sgns

    inputs, targets, *_ = problem(2)
    a = sgns.loss_and_gradients(inputs, targets)
    b = heads.binary_loss_and_gradients(inputs, targets, heads.negative_sampling_labels(T))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert heads.cbow_step_scale(4, True) == 4.0 and heads.cbow_step_scale(4, False) == 1.0


def word2vec_c_tree(counts):
    """word2vec.c's CreateBinaryTree, transcribed line by line: (codes, points) per word."""
    v = len(counts)
    count = list(counts) + [1e15] * v
    parent, binary = [0] * (2 * v), [0] * (2 * v)
    pos1, pos2 = v - 1, v
    for a in range(v - 1):
        mins = []
        for _ in range(2):
            if pos1 >= 0 and count[pos1] < count[pos2]:
                mins.append(pos1)
                pos1 -= 1
            else:
                mins.append(pos2)
                pos2 += 1
        count[v + a] = count[mins[0]] + count[mins[1]]
        parent[mins[0]] = parent[mins[1]] = v + a
        binary[mins[1]] = 1
    paths = []
    for a in range(v):
        code, point, b = [], [], a
        while True:
            code.append(binary[b])
            point.append(b)
            b = parent[b]
            if b == 2 * v - 2:
                break
        n = len(code)
        codes, points = [0] * n, [0] * (n + 1)
        points[0] = v - 2
        for k in range(n):
            codes[n - k - 1] = code[k]
            points[n - k] = point[k] - v
        paths.append((points[:n], codes))
    return paths


@pytest.mark.parametrize("seed", range(4))
def test_the_huffman_tree_is_word2vec_cs(seed):
    rng = np.random.default_rng(seed)
    counts = np.sort(rng.zipf(1.5, 300) + rng.integers(0, 3, 300))[::-1].astype(np.int64)
    vocab = Vocabulary([f"w{i}" for i in range(300)], counts, int(counts.sum()))
    tree = vocab.huffman_tree()
    for w, (points, codes) in enumerate(word2vec_c_tree(counts.tolist())):
        got_points, got_codes = tree.path(w)
        assert got_points.tolist() == points and got_codes.tolist() == codes, w
    # a prefix code over V leaves: every path distinct, none a prefix of another
    words = {"".join(map(str, tree.path(w)[1])) for w in range(300)}
    assert len(words) == 300
    assert not any(a != b and b.startswith(a) for a in words for b in words)
    assert np.diff(tree.offsets)[0] <= np.diff(tree.offsets)[-1]  # frequent words: shorter
    points, codes, mask = tree.padded()
    assert points.shape == codes.shape == mask.shape == (300, tree.depth)
    np.testing.assert_array_equal(points[mask > 0], tree.points)
