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
