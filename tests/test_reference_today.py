"""The reference functions of today's language models (rotary position embedding, grouped-query attention,
decoding with a key/value cache, blockwise attention with an online softmax) agree, in float64, with the
independent loop reference, and keep the course's conventions: batched, stable, inputs untouched."""

import tracemalloc

import loop_reference as loop
import numpy as np
import pytest
from conftest import REFERENCE_TOL, assert_close

from helpers.grading import reference as ref

rng = np.random.default_rng(2025)


def _unchanged(arrays, copies):
    for a, b in zip(arrays, copies):
        np.testing.assert_array_equal(a, b)


def _causal(n):
    return np.tril(np.ones((n, n), dtype=bool))


def _padding(lengths, n):
    """``(batch, 1, n)``: sequence b's queries may attend to its first lengths[b] keys, the rest is padding."""
    return (np.arange(n) < np.asarray(lengths)[:, None])[:, None, :]


# Rotary position embedding


@pytest.mark.parametrize("shape", [(5, 4), (3, 6, 8), (2, 3, 4, 2)])
@pytest.mark.parametrize(
    "positions, base",
    [("from 0", 10000.0), ("from 7", 10000.0), ("scattered", 10000.0), ("from 0", 1e6)],
)
def test_rotary_embedding(shape, positions, base):
    n = shape[-2]
    positions = {
        "from 0": np.arange(n),
        "from 7": np.arange(n) + 7,
        "scattered": rng.choice(500, size=n, replace=False),
    }[positions]
    X = rng.normal(size=shape)
    before = (X.copy(), positions.copy())
    got = ref.rotary_embedding(X, positions, base=base)
    assert got.shape == X.shape
    assert_close(got, loop.rotary_embedding(X, positions, base=base))
    _unchanged((X, positions), before)


@pytest.mark.parametrize("shape, positions", [((4, 5), np.arange(4)), ((4, 6), np.arange(3)), ((4, 6), [0])])
def test_rotary_embedding_rejects_odd_d_and_wrong_positions(shape, positions):
    with pytest.raises(ValueError):
        ref.rotary_embedding(rng.normal(size=shape), positions)


def test_rotary_embedding_turns_pairs_without_stretching_them():
    X = rng.normal(size=(2, 6, 8))
    rotated = ref.rotary_embedding(X, np.arange(6) + 3)
    pair_lengths = [np.hypot(A[..., 0::2], A[..., 1::2]) for A in (X, rotated)]
    np.testing.assert_allclose(*pair_lengths, **REFERENCE_TOL)
    assert not np.allclose(rotated, X)  # it does turn them
    np.testing.assert_array_equal(ref.rotary_embedding(X, np.zeros(6, dtype=int)), X)  # position 0: no turn


def test_rotary_score_depends_only_on_the_offset():
    q, k = rng.normal(size=(2, 1, 8))

    def score(p, s):
        return (ref.rotary_embedding(q, [p]) @ ref.rotary_embedding(k, [s]).T).item()

    assert score(5, 2) == pytest.approx(score(103, 100), rel=1e-12)  # offset 3 twice
    assert score(2, 5) == pytest.approx(score(40, 43), rel=1e-12)  # offset -3
    assert score(9, 9) == pytest.approx((q @ k.T).item(), rel=1e-12)  # offset 0: the plain dot product
    assert score(5, 2) != pytest.approx(score(2, 5), rel=1e-6)  # but the offset itself does matter


# Grouped-query attention


def _gqa_weights(d_model, num_heads, num_kv_heads, scale=1.0):
    d_kv = num_kv_heads * (d_model // num_heads)
    return [scale * rng.normal(size=(d_model, d)) / np.sqrt(d_model) for d in (d_model, d_kv, d_kv, d_model)]


@pytest.mark.parametrize("shape, heads", [((4, 8), 2), ((2, 5, 8), 4), ((2, 3, 4, 6), 3), ((3, 4), 1)])
@pytest.mark.parametrize("causal", [False, True])
def test_gqa_with_a_kv_head_per_query_head_is_multi_head_attention(shape, heads, causal):
    X = rng.normal(size=shape)
    W = _gqa_weights(shape[-1], heads, heads)
    mask = _causal(shape[-2]) if causal else None
    assert_close(
        ref.grouped_query_attention(X, *W, heads, heads, mask=mask),
        ref.multi_head_attention(X, *W, heads, mask=mask),
    )


GQA_INPUTS = [
    ((5, 8), 4, 2, None),  # groups of 2
    ((2, 5, 8), 4, 1, "causal"),  # groups of 4: multi-query
    ((2, 6, 16), 8, 2, "padding"),  # groups of 4
    ((2, 3, 4, 12), 6, 3, "causal"),  # groups of 2, two batch axes
    ((2, 5, 12), 4, 2, "padding"),
]


@pytest.mark.parametrize("shape, heads, kv_heads, mask_kind", GQA_INPUTS)
@pytest.mark.parametrize("magnitude", [1.0, 30.0])
def test_grouped_query_attention(shape, heads, kv_heads, mask_kind, magnitude):
    X = rng.normal(size=shape)
    W = _gqa_weights(shape[-1], heads, kv_heads, scale=np.sqrt(magnitude))
    n = shape[-2]
    mask = {None: None, "causal": _causal(n), "padding": _padding([n, n - 2], n)}[mask_kind]
    before = [a.copy() for a in (X, *W)]
    out, weights = ref.grouped_query_attention(X, *W, heads, kv_heads, mask=mask)
    assert weights.shape == shape[:-2] + (heads, n, n)
    assert out.shape == shape
    assert_close((out, weights), loop.grouped_query_attention(X, *W, heads, kv_heads, mask))
    if mask is not None:
        assert np.all(weights[..., ~np.broadcast_to(mask[..., None, :, :], weights.shape)] == 0.0)
    _unchanged((X, *W), before)


def test_multi_query_attention_shares_one_key_and_value_head():
    X = rng.normal(size=(2, 6, 8))
    W_q, W_k, W_v, W_o = _gqa_weights(8, 4, 1)
    mask = _causal(6)
    out, weights = ref.grouped_query_attention(X, W_q, W_k, W_v, W_o, 4, 1, mask=mask)
    K, V = X @ W_k, X @ W_v  # (2, 6, 2): the single key and value head, d_head = 2
    heads = []
    for h in range(4):
        head_out, head_weights = ref.scaled_dot_product_attention(
            (X @ W_q)[..., 2 * h : 2 * h + 2], K, V, mask
        )
        assert_close(weights[:, h], head_weights)
        heads.append(head_out)
    assert_close(out, np.concatenate(heads, axis=-1) @ W_o)


@pytest.mark.parametrize(
    "d_model, heads, kv_heads, message",
    [(6, 4, 1, "divisible"), (8, 4, 3, "divisible"), (8, 4, 0, "num_kv_heads"), (8, 4, -2, "num_kv_heads")],
)
def test_gqa_rejects_heads_that_do_not_divide(d_model, heads, kv_heads, message):
    X = rng.normal(size=(3, d_model))
    W = [np.eye(d_model)] * 4
    with pytest.raises(ValueError, match=message):
        ref.grouped_query_attention(X, *W, heads, kv_heads)


# Decoding with a key/value cache


@pytest.mark.parametrize("shape, d_k, d_v", [((6, 8), 4, 3), ((2, 5, 8), 4, 4), ((2, 3, 4, 6), 2, 5)])
def test_decoding_from_empty_caches_is_causal_self_attention(shape, d_k, d_v):
    X = rng.normal(size=shape)
    W_q, W_k, W_v = (rng.normal(size=(shape[-1], d)) / np.sqrt(shape[-1]) for d in (d_k, d_k, d_v))
    k_cache, v_cache = np.zeros(shape[:-2] + (0, d_k)), np.zeros(shape[:-2] + (0, d_v))
    outputs = []
    for t in range(shape[-2]):
        out_t, k_cache, v_cache = ref.decode_step(X[..., t, :], k_cache, v_cache, W_q, W_k, W_v)
        assert out_t.shape == shape[:-2] + (d_v,)
        assert k_cache.shape == shape[:-2] + (t + 1, d_k)
        outputs.append(out_t)
    expected, _ = loop.self_attention(X, W_q, W_k, W_v, loop.causal_mask(shape[-2]))
    assert_close(np.stack(outputs, axis=-2), expected)
    assert_close(
        np.stack(outputs, axis=-2), ref.self_attention(X, W_q, W_k, W_v, mask=ref.causal_mask(shape[-2]))[0]
    )
    assert_close((k_cache, v_cache), (X @ W_k, X @ W_v))


@pytest.mark.parametrize("batch, t", [((), 0), ((), 4), ((3,), 2), ((2, 3), 5)])
@pytest.mark.parametrize("magnitude", [1.0, 30.0])
def test_decode_step(batch, t, magnitude):
    d_model, d_k, d_v = 6, 4, 3
    x_t = rng.normal(size=batch + (d_model,))
    k_cache = magnitude * rng.normal(size=batch + (t, d_k))
    v_cache = rng.normal(size=batch + (t, d_v))
    W = [magnitude * rng.normal(size=(d_model, d)) / np.sqrt(d_model) for d in (d_k, d_k, d_v)]
    before = [a.copy() for a in (x_t, k_cache, v_cache, *W)]
    got = ref.decode_step(x_t, k_cache, v_cache, *W)
    assert_close(got, loop.decode_step(x_t, k_cache, v_cache, *W))
    _unchanged((x_t, k_cache, v_cache, *W), before)
    _, k_new, v_new = got
    for new, old in ((k_new, k_cache), (v_new, v_cache)):
        assert new is not old and not np.shares_memory(new, old)  # new arrays, not the caches grown in place
        np.testing.assert_array_equal(new[..., :t, :], old)  # copied, so exactly


def test_decode_step_starts_a_batch_from_one_empty_cache():
    # A generation loop may start every sequence of a batch from one empty (0, d) cache.
    d_model, d_k, d_v = 6, 4, 3
    x_t = rng.normal(size=(3, d_model))
    W = [rng.normal(size=(d_model, d)) for d in (d_k, d_k, d_v)]
    shared = ref.decode_step(x_t, np.zeros((0, d_k)), np.zeros((0, d_v)), *W)
    batched = ref.decode_step(x_t, np.zeros((3, 0, d_k)), np.zeros((3, 0, d_v)), *W)
    assert_close(shared, batched)
    assert shared[1].shape == (3, 1, d_k) and shared[2].shape == (3, 1, d_v)


# Blockwise attention


BLOCKWISE_INPUTS = [
    ((4, 6), (7, 6), (7, 3), None),
    ((2, 3, 7, 4), (2, 3, 7, 4), (2, 3, 7, 2), "causal"),
    ((3, 7, 4), (3, 7, 4), (3, 7, 5), "padding"),
    ((3, 7, 4), (3, 7, 4), (3, 7, 5), "left padding"),  # rows with every key of the first blocks masked
    ((2, 5, 4), (2, 7, 4), (2, 7, 3), "random"),
]


def _blockwise_mask(kind, n_q, n_k):
    if kind == "causal":
        return _causal(n_k)
    if kind == "padding":
        return _padding([n_k, 3, 1], n_k)
    if kind == "left padding":
        return ~_padding([0, 4, n_k - 1], n_k)  # sequence b's first few keys are padding
    if kind == "random":
        return (rng.random((2, n_q, n_k)) < 0.4) | np.eye(n_q, n_k, dtype=bool)
    return None


@pytest.mark.parametrize("q_shape, k_shape, v_shape, mask_kind", BLOCKWISE_INPUTS)
@pytest.mark.parametrize("block", [1, 3, "n_k", "n_k + 5"])
@pytest.mark.parametrize("magnitude", [1.0, 1e3])
def test_blockwise_attention(q_shape, k_shape, v_shape, mask_kind, block, magnitude):
    n_k = k_shape[-2]
    block_size = {"n_k": n_k, "n_k + 5": n_k + 5}.get(block, block)
    # Scores of about `magnitude`: the entries of Q and K have standard deviation sqrt(magnitude).
    Q, K = (np.sqrt(magnitude) * rng.normal(size=s) for s in (q_shape, k_shape))
    V = rng.normal(size=v_shape)
    mask = _blockwise_mask(mask_kind, q_shape[-2], n_k)
    before = [a.copy() for a in (Q, K, V)]
    with np.errstate(all="raise", under="ignore"):  # no overflow, no nan from -inf - -inf, no 0 / 0
        got = ref.blockwise_attention(Q, K, V, block_size, mask=mask)
    assert np.all(np.isfinite(got))
    assert_close(got, loop.blockwise_attention(Q, K, V, block_size, mask))
    assert_close(got, ref.scaled_dot_product_attention(Q, K, V, mask=mask)[0])
    _unchanged((Q, K, V), before)


@pytest.mark.parametrize("block_size", [0, -3, 2.5, "3", None])
def test_blockwise_attention_rejects_a_block_size_that_is_not_a_positive_integer(block_size):
    Q = rng.normal(size=(3, 4))
    with pytest.raises(ValueError, match="block_size"):
        ref.blockwise_attention(Q, Q, Q, block_size)


def _peak_bytes(f, *args):
    """The most memory allocated at once while ``f(*args)`` runs (numpy reports its arrays to tracemalloc)."""
    tracemalloc.start()
    try:
        f(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_blockwise_attention_never_holds_the_score_matrix():
    n, d = 2048, 16
    Q, K, V = (rng.normal(size=(n, d)) for _ in range(3))
    matrix = n * n * 8  # one float64 (n, n) matrix: 32 MiB
    # Measured (numpy 2, Linux x86-64): blockwise 4.6 MB, 0.14 of the matrix (a (n, 128) block of scores is
    # 2 MiB, at most two alive at once); the full attention 134 MB, 4.0 matrices (scores, exps, weights, ...).
    assert _peak_bytes(ref.blockwise_attention, Q, K, V, 128) < matrix / 4
    assert _peak_bytes(ref.scaled_dot_product_attention, Q, K, V) > matrix
