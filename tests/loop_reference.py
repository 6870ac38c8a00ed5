"""An independent float64 reference, written with explicit Python loops and the math module.

It shares no code with ``helpers.grading.reference`` (which is vectorised numpy), so agreement between the two is
evidence that both are right. Slow on purpose: only for small test inputs.
"""

import itertools
import math

import numpy as np


def _rows(shape):
    return itertools.product(*(range(n) for n in shape))


def softmax(x, axis=-1):
    x = np.moveaxis(np.array(x, dtype=float), axis, -1)
    out = np.zeros_like(x)
    for idx in _rows(x.shape[:-1]):
        row = [float(v) for v in x[idx]]
        top = max(row)
        exps = [math.exp(v - top) if v != -math.inf else 0.0 for v in row]
        total = math.fsum(exps)
        out[idx] = [e / total for e in exps]
    return np.moveaxis(out, -1, axis)


def similarity_scores(query, keys):
    query, keys = np.broadcast_arrays(np.asarray(query, float)[..., None, :], np.asarray(keys, float))
    out = np.zeros(keys.shape[:-1])
    for idx in _rows(out.shape):
        out[idx] = math.fsum(q * k for q, k in zip(query[idx], keys[idx]))
    return out


def soft_lookup(query, keys, values):
    weights = softmax(similarity_scores(query, keys))
    values = np.asarray(values, float)
    out = np.zeros(weights.shape[:-1] + values.shape[-1:])
    for idx in _rows(out.shape):
        *batch, j = idx
        out[idx] = math.fsum(w * v for w, v in zip(weights[tuple(batch)], values[tuple(batch)][:, j]))
    return out


def scaled_dot_product_attention(Q, K, V, mask=None):
    Q, K, V = (np.asarray(a, float) for a in (Q, K, V))
    batch = np.broadcast_shapes(Q.shape[:-2], K.shape[:-2], V.shape[:-2])
    n_q, d_k = Q.shape[-2:]
    n_k, d_v = V.shape[-2:]
    allowed = np.ones((n_q, n_k), bool) if mask is None else np.asarray(mask, bool)
    allowed = np.broadcast_to(allowed, batch + (n_q, n_k))
    Q, K, V = (np.broadcast_to(a, batch + a.shape[-2:]) for a in (Q, K, V))
    weights = np.zeros(batch + (n_q, n_k))
    out = np.zeros(batch + (n_q, d_v))
    for b in _rows(batch):
        for i in range(n_q):
            scores = [
                math.fsum(Q[b][i, t] * K[b][j, t] for t in range(d_k)) / math.sqrt(d_k)
                if allowed[b][i, j]
                else -math.inf
                for j in range(n_k)
            ]
            weights[b][i] = softmax(scores)
            for c in range(d_v):
                out[b][i, c] = math.fsum(weights[b][i, j] * V[b][j, c] for j in range(n_k))
    return out, weights


def causal_mask(n):
    return np.array([[j <= i for j in range(n)] for i in range(n)], dtype=bool)


def _project(X, W):
    X, W = np.asarray(X, float), np.asarray(W, float)
    out = np.zeros(X.shape[:-1] + W.shape[-1:])
    for idx in _rows(out.shape):
        *rest, c = idx
        out[idx] = math.fsum(x * w for x, w in zip(X[tuple(rest)], W[:, c]))
    return out


def self_attention(X, W_q, W_k, W_v, mask=None):
    return scaled_dot_product_attention(_project(X, W_q), _project(X, W_k), _project(X, W_v), mask)


def multi_head_attention(X, W_q, W_k, W_v, W_o, num_heads, mask=None):
    """Head by head, slicing columns of the projections: no reshape, no transpose."""
    X = np.asarray(X, float)
    d_model = X.shape[-1]
    if d_model % num_heads:
        raise ValueError("d_model is not divisible by num_heads")
    d_head = d_model // num_heads
    Q, K, V = _project(X, W_q), _project(X, W_k), _project(X, W_v)
    outputs, weights = [], []
    for h in range(num_heads):
        cols = slice(h * d_head, (h + 1) * d_head)
        out, w = scaled_dot_product_attention(Q[..., cols], K[..., cols], V[..., cols], mask)
        outputs.append(out)
        weights.append(w)
    concatenated = np.concatenate(outputs, axis=-1)
    return _project(concatenated, W_o), np.stack(weights, axis=-3)


def max_path_length(mask):
    """Breadth-first search from every position along mask[i, j] (j's information reaches i): the longest of
    the shortest paths, over pairs connected at all."""
    n = len(mask)
    longest = 0
    for source in range(n):
        distance = {source: 0}
        frontier = [source]
        while frontier:
            reached = []
            for j in frontier:
                for i in range(n):
                    if mask[i][j] and i not in distance:
                        distance[i] = distance[j] + 1
                        reached.append(i)
            frontier = reached
        longest = max(longest, *distance.values())
    return longest


def rotary_embedding(X, positions, base=10000.0):
    """Token by token and pair by pair, each pair (x[2i], x[2i+1]) multiplied by its 2x2 rotation matrix."""
    X = np.asarray(X, float)
    n, d = X.shape[-2:]
    if d % 2 or len(positions) != n:
        raise ValueError("d must be even, with one position per token")
    out = np.zeros_like(X)
    for b in _rows(X.shape[:-2]):
        for t in range(n):
            for i in range(d // 2):
                theta = int(positions[t]) * base ** (-2 * i / d)
                rotation = [[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]]
                pair = [float(X[b][t, 2 * i]), float(X[b][t, 2 * i + 1])]
                for r in range(2):
                    out[b][t, 2 * i + r] = rotation[r][0] * pair[0] + rotation[r][1] * pair[1]
    return out


def grouped_query_attention(X, W_q, W_k, W_v, W_o, num_heads, num_kv_heads, mask=None):
    """Head by head, like multi_head_attention above: query head h slices its own columns of X W_q and the
    columns of key/value head h // (num_heads // num_kv_heads) of X W_k and X W_v."""
    X = np.asarray(X, float)
    d_model = X.shape[-1]
    if d_model % num_heads or num_kv_heads < 1 or num_heads % num_kv_heads:
        raise ValueError("the heads do not divide evenly")
    d_head = d_model // num_heads
    Q, K, V = _project(X, W_q), _project(X, W_k), _project(X, W_v)
    outputs, weights = [], []
    for h in range(num_heads):
        g = h // (num_heads // num_kv_heads)
        q_cols, kv_cols = slice(h * d_head, (h + 1) * d_head), slice(g * d_head, (g + 1) * d_head)
        out, w = scaled_dot_product_attention(Q[..., q_cols], K[..., kv_cols], V[..., kv_cols], mask)
        outputs.append(out)
        weights.append(w)
    return _project(np.concatenate(outputs, axis=-1), W_o), np.stack(weights, axis=-3)


def decode_step(x_t, k_cache, v_cache, W_q, W_k, W_v):
    """Per sequence: copy the cached rows and the new token's key and value into fresh lists, then the new
    token's row of attention (every cached token is earlier, so no mask), score by score."""
    x_t, k_cache, v_cache = (np.asarray(a, float) for a in (x_t, k_cache, v_cache))
    batch = x_t.shape[:-1]
    q, k, v = (_project(x_t[..., None, :], W)[..., 0, :] for W in (W_q, W_k, W_v))
    t, d_k, d_v = k_cache.shape[-2], k.shape[-1], v.shape[-1]
    out = np.zeros(batch + (d_v,))
    k_new, v_new = np.zeros(batch + (t + 1, d_k)), np.zeros(batch + (t + 1, d_v))
    for b in _rows(batch):
        keys = [list(k_cache[b][j]) for j in range(t)] + [list(k[b])]
        values = [list(v_cache[b][j]) for j in range(t)] + [list(v[b])]
        scores = [math.fsum(a * c for a, c in zip(q[b], key)) / math.sqrt(d_k) for key in keys]
        weights = softmax(scores)
        out[b] = [math.fsum(w * value[c] for w, value in zip(weights, values)) for c in range(d_v)]
        k_new[b], v_new[b] = keys, values
    return out, k_new, v_new


def blockwise_attention(Q, K, V, block_size, mask=None):
    """Blocks change only the order of the arithmetic, not the result: the output of the attention above."""
    return scaled_dot_product_attention(Q, K, V, mask)[0]
