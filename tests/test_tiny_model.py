"""The tiny model of notebook 07: its hand-written gradients match finite differences, it learns, and its
results are reproducible (the notebook's printed numbers depend on it)."""

import numpy as np
import pytest

from helpers import tiny_model
from helpers.grading import reference as ref


@pytest.mark.parametrize("offsets, num_heads", [((1,), 1), ((1, 2), 2), ((1, 3), 3)])
def test_gradients_match_finite_differences(offsets, num_heads):
    task = tiny_model.Task(vocab=3, length=5, offsets=offsets)
    params = tiny_model.init(task, num_heads, d_head=3, seed=0)
    tokens, _ = task.batch(np.random.default_rng(0), 4)
    _, grads = tiny_model.loss_and_grads(params, task, tokens)
    rng = np.random.default_rng(1)
    for name, value in params.items():
        for _ in range(5):
            index = tuple(rng.integers(0, s) for s in value.shape)
            original = value[index]
            value[index] = original + 1e-6
            plus, _ = tiny_model.loss_and_grads(params, task, tokens)
            value[index] = original - 1e-6
            minus, _ = tiny_model.loss_and_grads(params, task, tokens)
            value[index] = original
            assert grads[name][index] == pytest.approx((plus - minus) / 2e-6, rel=1e-5, abs=1e-8), name


def test_forward_is_causal_multi_head_attention():
    # The model's attention is the course's multi-head attention with per-head weights laid side by side.
    task = tiny_model.Task(vocab=3, length=6, offsets=(1,))
    params = tiny_model.init(task, num_heads=2, d_head=4, seed=3)
    tokens, _ = task.batch(np.random.default_rng(2), 3)
    X = task.inputs(tokens)
    logits, cache = tiny_model.forward(params, X)
    heads = [
        ref.self_attention(X, *(params[k][h] for k in ("W_q", "W_k", "W_v")), mask=ref.causal_mask(6))
        for h in (0, 1)
    ]
    np.testing.assert_allclose(cache["A"], np.stack([w for _, w in heads], axis=1), atol=1e-12)
    np.testing.assert_allclose(cache["Z_cat"], np.concatenate([o for o, _ in heads], axis=-1), atol=1e-12)
    np.testing.assert_allclose(logits, cache["Z_cat"] @ params["W_out"], atol=1e-12)


def test_targets_name_the_tokens_back():
    task = tiny_model.Task(vocab=4, length=5, offsets=(1, 2))
    tokens = np.array([[3, 1, 2, 0, 1]])
    # position 2: 1 back is 1, 2 back is 3 -> 1 + 4 * 3 = 13
    np.testing.assert_array_equal(task.targets(tokens), [[1 + 4 * 3, 2 + 4 * 1, 0 + 4 * 2]])


def test_training_learns_and_is_reproducible():
    task = tiny_model.Task(vocab=4, length=8, offsets=(1, 2))
    params, losses = tiny_model.train(task, num_heads=2, d_head=4, seed=0)
    again, losses_again = tiny_model.train(task, num_heads=2, d_head=4, seed=0)
    np.testing.assert_array_equal(losses, losses_again)  # exact: the same seed, twice, on this one CPU
    assert losses[-1] < 0.01 < 2.5 < losses[0]
    assert tiny_model.accuracy(params, task) == 1.0
