"""Reference implementations of every function the course asks students to write, and of four functions of
today's models that no notebook asks for yet: ``rotary_embedding``, ``grouped_query_attention``, ``decode_step``
(a key/value cache) and ``blockwise_attention`` (FlashAttention's online softmax).

One convention everywhere:
- shapes are ``(..., n, d)``: any number of leading batch dimensions, then positions, then features;
- softmax runs over the last axis;
- a boolean mask broadcastable to ``(..., n_q, n_k)`` says True = this query may attend to this key;
- weight matrices multiply from the right (``X @ W``);
- inputs are never modified, and large scores never overflow.

The checks in :mod:`helpers.checks` compare a student's function against these, and later notebooks import
them so that, say, notebook 03 does not depend on a student's unfinished softmax from notebook 02.
"""

import numpy as np


def softmax(x, axis=-1):
    """Exponentiate and normalise along ``axis`` so the weights are positive and sum to 1.

    Subtracting the maximum first changes nothing mathematically (softmax(x) == softmax(x - c)) but keeps
    ``exp`` from overflowing on large scores.
    """
    x = np.asarray(x, dtype=float)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    exps = np.exp(shifted)
    return exps / np.sum(exps, axis=axis, keepdims=True)


def similarity_scores(query, keys):
    """Dot product of a query ``(..., d)`` with each of ``n`` keys ``(..., n, d)``: scores ``(..., n)``."""
    query = np.asarray(query, dtype=float)
    keys = np.asarray(keys, dtype=float)
    return np.einsum("...nd,...d->...n", keys, query)


def soft_lookup(query, keys, values):
    """Blend the values ``(..., n, d_v)`` with weights softmax(query . key): result ``(..., d_v)``."""
    weights = softmax(similarity_scores(query, keys))
    return np.einsum("...n,...nv->...v", weights, np.asarray(values, dtype=float))


def scaled_dot_product_attention(Q, K, V, mask=None):
    """softmax(Q K^T / sqrt(d_k)) V for queries ``(..., n_q, d_k)``, keys ``(..., n_k, d_k)``, values
    ``(..., n_k, d_v)``. Returns ``(output (..., n_q, d_v), weights (..., n_q, n_k))``.

    Masked-out positions (mask False) get score -inf before the softmax, so their weight is exactly 0 and the
    remaining weights of each row still sum to 1. Every query must be allowed at least one key.
    """
    Q = np.asarray(Q, dtype=float)
    K = np.asarray(K, dtype=float)
    V = np.asarray(V, dtype=float)
    d_k = Q.shape[-1]
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(d_k)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores, axis=-1)
    return weights @ V, weights


def causal_mask(n):
    """Boolean ``(n, n)`` mask, True on and below the diagonal: position i may attend to positions 0..i."""
    return np.tril(np.ones((n, n), dtype=bool))


def max_path_length(mask):
    """The most hops any position needs to receive information from another, over a boolean ``(n, n)`` mask
    (True at ``[i, j]``: j's information reaches i in one hop) applied again and again, positions keeping what
    they hold (residual connections); pairs never connected do not count, and 0 when no pair is connected."""
    n = np.shape(mask)[-1]
    step = np.asarray(mask, dtype=bool) | np.eye(n, dtype=bool)
    reach, hops = np.eye(n, dtype=bool), 0
    while True:
        wider = (step.astype(np.int64) @ reach.astype(np.int64)) > 0  # counts of at most n: no overflow
        if np.array_equal(wider, reach):
            return hops
        reach, hops = wider, hops + 1


def positional_encoding(n, d):
    """Sinusoidal position encodings ``(n, d)``, d even (Vaswani et al., 2017, section 3.5): column 2i is
    sin(p / 10000^(2i/d)) and column 2i + 1 is cos of the same angle, for positions p = 0..n-1."""
    angles = np.arange(n)[:, None] / 10000.0 ** (np.arange(0, d, 2) / d)  # (n, d/2)
    encoding = np.empty((n, d))
    encoding[:, 0::2] = np.sin(angles)
    encoding[:, 1::2] = np.cos(angles)
    return encoding


def self_attention(X, W_q, W_k, W_v, mask=None):
    """Attention of a sequence ``X (..., n, d_model)`` to itself: Q = X W_q, K = X W_k, V = X W_v.

    ``W_q`` and ``W_k`` are ``(d_model, d_k)``, ``W_v`` is ``(d_model, d_v)``. Returns ``(output, weights)``.
    """
    X = np.asarray(X, dtype=float)
    return scaled_dot_product_attention(X @ W_q, X @ W_k, X @ W_v, mask)


def _check_heads(d_model, num_heads):
    if num_heads < 1 or d_model % num_heads:
        raise ValueError(f"d_model = {d_model} is not divisible by num_heads = {num_heads}")


def cross_attention(X, memory, W_q, W_k, W_v, mask=None):
    """Attention of ``X (..., n_q, d_model)`` to another sequence ``memory (..., n_k, d_model)``: the queries
    come from X, the keys and values from memory (a decoder reading its encoder). Returns ``(output, weights)``
    with weights ``(..., n_q, n_k)``."""
    return scaled_dot_product_attention(X @ W_q, memory @ W_k, memory @ W_v, mask)


def split_heads(X, num_heads):
    """``(..., n, d_model)`` -> ``(..., num_heads, n, d_head)``; head h takes columns h*d_head:(h+1)*d_head."""
    X = np.asarray(X, dtype=float)
    *batch, n, d_model = X.shape
    _check_heads(d_model, num_heads)
    return np.swapaxes(X.reshape(*batch, n, num_heads, d_model // num_heads), -2, -3)


def combine_heads(X):
    """The inverse of :func:`split_heads`: ``(..., num_heads, n, d_head)`` -> ``(..., n, num_heads * d_head)``."""
    X = np.asarray(X, dtype=float)
    *batch, num_heads, n, d_head = X.shape
    return np.swapaxes(X, -2, -3).reshape(*batch, n, num_heads * d_head)


def multi_head_attention(X, W_q, W_k, W_v, W_o, num_heads, mask=None):
    """Multi-head self-attention of ``X (..., n, d_model)``; every ``W`` is ``(d_model, d_model)``.

    Project, split into heads, attend within each head (d_k = d_head), combine, then project with ``W_o``.
    Returns ``(output (..., n, d_model), weights (..., num_heads, n, n))``. A mask broadcastable to
    ``(..., n, n)`` applies to every head.
    """
    X = np.asarray(X, dtype=float)
    _check_heads(X.shape[-1], num_heads)
    Q, K, V = (split_heads(X @ W, num_heads) for W in (W_q, W_k, W_v))
    if mask is not None and np.ndim(mask) >= 2:
        mask = np.expand_dims(mask, -3)  # the same mask for every head
    heads, weights = scaled_dot_product_attention(Q, K, V, mask)
    return combine_heads(heads) @ W_o, weights


def rotary_embedding(X, positions, base=10000.0):
    """Rotary position embedding (RoFormer, Su et al., 2021) of ``X (..., n, d)``, d even, for the integer
    ``positions (n,)`` of its tokens: features 2i and 2i + 1 of the token at position p turn together, as a
    point in the plane, by the angle p * base^(-2i/d). Returns the same shape.

    Applied to queries and keys, it makes each score <R(p) q, R(s) k> depend on the positions only through p - s.
    """
    X = np.asarray(X, dtype=float)
    positions = np.asarray(positions)
    n, d = X.shape[-2:]
    if d % 2:
        raise ValueError(f"d = {d} is odd: rotary embedding turns the features in pairs, so d must be even")
    if positions.shape != (n,):
        raise ValueError(f"positions has shape {positions.shape}: it needs one position per token, ({n},)")
    # (n, d/2): pair i turns by p * base^(-2i/d), the later pairs ever more slowly, as in positional_encoding.
    angles = positions[:, None] * base ** (-np.arange(0, d, 2) / d)
    cos, sin = np.cos(angles), np.sin(angles)
    even, odd = X[..., 0::2], X[..., 1::2]
    rotated = np.empty_like(X)
    rotated[..., 0::2] = even * cos - odd * sin
    rotated[..., 1::2] = even * sin + odd * cos
    return rotated


def grouped_query_attention(X, W_q, W_k, W_v, W_o, num_heads, num_kv_heads, mask=None):
    """Grouped-query attention of ``X (..., n, d_model)``: ``num_heads`` query heads share ``num_kv_heads`` key
    and value heads, query head h reading key/value head h // (num_heads // num_kv_heads).

    ``W_q`` and ``W_o`` are ``(d_model, d_model)``; ``W_k`` and ``W_v`` are ``(d_model, num_kv_heads * d_head)``
    with d_head = d_model // num_heads. Returns ``(output (..., n, d_model), weights (..., num_heads, n, n))``.
    num_kv_heads == num_heads is multi-head attention; num_kv_heads == 1 is multi-query attention. A mask
    broadcastable to ``(..., n, n)`` applies to every head.
    """
    X = np.asarray(X, dtype=float)
    d_model = X.shape[-1]
    _check_heads(d_model, num_heads)
    if num_kv_heads < 1 or num_heads % num_kv_heads:
        raise ValueError(f"num_heads = {num_heads} is not divisible by num_kv_heads = {num_kv_heads}")
    d_head, group = d_model // num_heads, num_heads // num_kv_heads
    for name, W in (("W_k", W_k), ("W_v", W_v)):
        if np.shape(W)[-1] != num_kv_heads * d_head:
            raise ValueError(
                f"{name} has {np.shape(W)[-1]} columns, not num_kv_heads * d_head = {num_kv_heads * d_head}"
            )
    Q = split_heads(X @ W_q, num_heads)  # (..., num_heads, n, d_head)
    K, V = (split_heads(X @ W, num_kv_heads)[..., None, :, :] for W in (W_k, W_v))  # (..., kv, 1, n, d_head)
    # Query heads g*group .. (g+1)*group - 1 form group g. Folding them into (num_kv_heads, group) lets each key
    # and value head broadcast over its group: the same result as repeating it group times, without the copies.
    Q = Q.reshape(*Q.shape[:-3], num_kv_heads, group, *Q.shape[-2:])
    if mask is not None and np.ndim(mask) >= 2:
        mask = np.expand_dims(mask, (-4, -3))  # the same mask for every head of every group
    heads, weights = scaled_dot_product_attention(Q, K, V, mask)
    heads = heads.reshape(*heads.shape[:-4], num_heads, *heads.shape[-2:])
    weights = weights.reshape(*weights.shape[:-4], num_heads, *weights.shape[-2:])
    return combine_heads(heads) @ W_o, weights


def decode_step(x_t, k_cache, v_cache, W_q, W_k, W_v):
    """One step of generation with a key/value cache: the new token ``x_t (..., d_model)`` attends to the cached
    keys ``(..., t, d_k)`` and values ``(..., t, d_v)`` of the t tokens before it (t may be 0) and to itself.

    Returns ``(output_t (..., d_v), k_cache_new (..., t + 1, d_k), v_cache_new (..., t + 1, d_v))``, the caches
    new arrays with the token's key and value appended. Step by step from empty caches, the outputs are the rows
    of causal self-attention: earlier tokens' keys and values never change, so each is computed only once.
    Caches with fewer leading axes broadcast to the token's (one empty ``(0, d_k)`` cache can start a batch).
    """
    x_t = np.asarray(x_t, dtype=float)
    k_cache, v_cache = np.asarray(k_cache, dtype=float), np.asarray(v_cache, dtype=float)
    q, k, v = ((x_t @ W)[..., None, :] for W in (W_q, W_k, W_v))  # (..., 1, d): a sequence of one token
    # The caches take the token's batch axes where theirs are fewer (an empty (0, d_k) cache to start a batch).
    batch = np.broadcast_shapes(x_t.shape[:-1], k_cache.shape[:-2], v_cache.shape[:-2])
    k_cache, v_cache = (np.broadcast_to(c, batch + c.shape[-2:]) for c in (k_cache, v_cache))
    k, v = (np.broadcast_to(a, batch + a.shape[-2:]) for a in (k, v))
    # concatenate makes new arrays: the callers' caches are never written, so an earlier state stays usable.
    k_cache_new = np.concatenate([k_cache, k], axis=-2)
    v_cache_new = np.concatenate([v_cache, v], axis=-2)
    output, _ = scaled_dot_product_attention(q, k_cache_new, v_cache_new)
    return output[..., 0, :], k_cache_new, v_cache_new


def blockwise_attention(Q, K, V, block_size, mask=None):
    """The output of :func:`scaled_dot_product_attention` (queries ``(..., n_q, d_k)``, keys ``(..., n_k, d_k)``,
    values ``(..., n_k, d_v)``: output ``(..., n_q, d_v)``), computed over blocks of ``block_size`` keys with an
    online softmax, as FlashAttention does (Dao et al., 2022): only ``(..., n_q, block_size)`` scores at a time,
    never the whole ``(n_q, n_k)`` matrix.

    Each row keeps a running maximum of its scores, the running sum of exp(score - maximum) and the running sum
    of exp(score - maximum) * value; one division at the end gives softmax(scores) @ V.
    """
    if not isinstance(block_size, int | np.integer) or block_size < 1:
        raise ValueError(f"block_size = {block_size!r} must be a positive integer")
    Q, K, V = (np.asarray(A, dtype=float) for A in (Q, K, V))
    n_q, d_k = Q.shape[-2:]
    n_k = K.shape[-2]
    if mask is not None:  # a view with the full last two axes, to slice per block: no n_q x n_k memory
        mask = np.broadcast_to(mask, np.broadcast_shapes(np.shape(mask), (n_q, n_k)))
    batch = np.broadcast_shapes(Q.shape[:-2], K.shape[:-2], np.shape(mask)[:-2])  # the scores' batch axes
    top = np.full((*batch, n_q, 1), -np.inf)  # the largest score seen so far in each row
    total = np.zeros((*batch, n_q, 1))  # sum of exp(score - top) over the keys seen so far
    acc = np.zeros((*batch, n_q, V.shape[-1]))  # sum of exp(score - top) * value over the same keys
    for start in range(0, n_k, block_size):
        block = slice(start, start + block_size)  # the last block may be shorter
        scores = Q @ np.swapaxes(K[..., block, :], -1, -2) / np.sqrt(d_k)  # (..., n_q, <= block_size)
        if mask is not None:
            scores = np.where(mask[..., block], scores, -np.inf)
        new_top = np.maximum(top, np.max(scores, axis=-1, keepdims=True))
        # A row whose keys have all been masked so far has top -inf: subtracting 0 instead of -inf keeps
        # -inf - -inf = nan away, and exp(-inf) = 0 both drops its masked scores and zeroes its (empty) old sums.
        shift = np.where(np.isneginf(new_top), 0.0, new_top)
        rescale = np.exp(top - shift)  # what was summed against the old maximum, moved to the new one
        # In place, as exp below: the block's scores are a fresh array, and memory is the point.
        scores -= shift
        exps = np.exp(scores, out=scores)
        total = total * rescale + np.sum(exps, axis=-1, keepdims=True)
        acc = acc * rescale + exps @ V[..., block, :]
        top = new_top
    return acc / total
