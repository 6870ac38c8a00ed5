"""Reference implementations of every function the course asks students to write.

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
