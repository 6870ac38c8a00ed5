"""Wrong implementations a student might really write, one per classic mistake, as notebook source code.

Each entry maps a graded function to {mistake id: (solution-cell code, text its hint must contain)}. The code is
written the way a student would write it, independently of the mistake models in ``helpers.checks``, so a test
that the right hint appears is a real test of the diagnosis. The same code is pasted into generated
submissions and graded by real ``nbgrader autograde`` in ``test_grading.py``.
"""

from helpers.grading.exercises import EXERCISES

REFERENCE = {
    "similarity_scores": """
def similarity_scores(query, keys):
    return np.einsum("...nd,...d->...n", keys, query)
""",
    "soft_lookup": """
def soft_lookup(query, keys, values):
    weights = softmax(similarity_scores(query, keys))
    return (weights[..., None] * values).sum(axis=-2)
""",
    "softmax": """
def softmax(x, axis=-1):
    z = np.exp(x - x.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)
""",
    "scaled_dot_product_attention": """
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = np.matmul(Q, np.swapaxes(K, -1, -2)) / np.sqrt(K.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores)
    return weights @ V, weights
""",
    "causal_mask": """
def causal_mask(n):
    return np.arange(n)[None, :] <= np.arange(n)[:, None]
""",
    "positional_encoding": """
def positional_encoding(n, d):
    pe = np.zeros((n, d))
    for i in range(0, d, 2):
        angle = np.arange(n) / 10000 ** (i / d)
        pe[:, i] = np.sin(angle)
        pe[:, i + 1] = np.cos(angle)
    return pe
""",
    "rotary_embedding": """
def rotary_embedding(X, positions, base=10000.0):
    d = X.shape[-1]
    theta = np.outer(positions, 1.0 / base ** (np.arange(0, d, 2) / d))
    x1, x2 = X[..., ::2], X[..., 1::2]
    out = np.zeros(X.shape)
    out[..., ::2] = x1 * np.cos(theta) - x2 * np.sin(theta)
    out[..., 1::2] = x1 * np.sin(theta) + x2 * np.cos(theta)
    return out
""",
    "self_attention": """
def self_attention(X, W_q, W_k, W_v, mask=None):
    return scaled_dot_product_attention(X @ W_q, X @ W_k, X @ W_v, mask=mask)
""",
    "cross_attention": """
def cross_attention(X, memory, W_q, W_k, W_v, mask=None):
    queries, keys, values = X @ W_q, memory @ W_k, memory @ W_v
    return scaled_dot_product_attention(queries, keys, values, mask=mask)
""",
    "split_heads": """
def split_heads(X, num_heads):
    *batch, n, d_model = X.shape
    if d_model % num_heads != 0:
        raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
    return X.reshape(*batch, n, num_heads, d_model // num_heads).swapaxes(-2, -3)
""",
    "combine_heads": """
def combine_heads(X):
    *batch, h, n, d_head = X.shape
    return X.swapaxes(-2, -3).reshape(*batch, n, h * d_head)
""",
    "multi_head_attention": """
def multi_head_attention(X, W_q, W_k, W_v, W_o, num_heads, mask=None):
    Q = split_heads(X @ W_q, num_heads)
    K = split_heads(X @ W_k, num_heads)
    V = split_heads(X @ W_v, num_heads)
    if mask is not None:
        mask = mask[..., None, :, :]
    heads, weights = scaled_dot_product_attention(Q, K, V, mask=mask)
    return combine_heads(heads) @ W_o, weights
""",
    "grouped_query_attention": """
def grouped_query_attention(X, W_q, W_k, W_v, W_o, num_heads, num_kv_heads, mask=None):
    if num_heads % num_kv_heads:
        raise ValueError("num_heads is not divisible by num_kv_heads")
    group = num_heads // num_kv_heads
    Q = split_heads(X @ W_q, num_heads)
    K = np.repeat(split_heads(X @ W_k, num_kv_heads), group, axis=-3)
    V = np.repeat(split_heads(X @ W_v, num_kv_heads), group, axis=-3)
    if mask is not None:
        mask = mask[..., None, :, :]
    heads, weights = scaled_dot_product_attention(Q, K, V, mask=mask)
    return combine_heads(heads) @ W_o, weights
""",
    "decode_step": """
def decode_step(x_t, k_cache, v_cache, W_q, W_k, W_v):
    q = x_t @ W_q
    keys = np.concatenate([k_cache, (x_t @ W_k)[..., None, :]], axis=-2)
    values = np.concatenate([v_cache, (x_t @ W_v)[..., None, :]], axis=-2)
    out, _ = scaled_dot_product_attention(q[..., None, :], keys, values)
    return out[..., 0, :], keys, values
""",
    "blockwise_attention": """
def blockwise_attention(Q, K, V, block_size, mask=None):
    n_k, d_k = K.shape[-2:]
    running_max = np.full(Q.shape[:-1] + (1,), -np.inf)
    running_sum = np.zeros(Q.shape[:-1] + (1,))
    out = np.zeros(Q.shape[:-1] + (V.shape[-1],))
    for start in range(0, n_k, block_size):
        end = min(start + block_size, n_k)
        s = Q @ np.swapaxes(K[..., start:end, :], -1, -2) / np.sqrt(d_k)
        if mask is not None:
            s = np.where(mask[..., start:end], s, -np.inf)
        new_max = np.maximum(running_max, s.max(axis=-1, keepdims=True))
        safe = np.where(np.isinf(new_max), 0.0, new_max)
        p = np.exp(s - safe)
        correction = np.exp(running_max - safe)
        running_sum = running_sum * correction + p.sum(axis=-1, keepdims=True)
        out = out * correction + p @ V[..., start:end, :]
        running_max = new_max
    return out / running_sum
""",
}

MISTAKES = {
    "similarity_scores": {
        "cosine": (
            """
def similarity_scores(query, keys):
    q = query / np.linalg.norm(query, axis=-1, keepdims=True)
    k = keys / np.linalg.norm(keys, axis=-1, keepdims=True)
    return np.einsum("...nd,...d->...n", k, q)
""",
            "cosine similarity",
        ),
        "distance": (
            """
def similarity_scores(query, keys):
    return np.sqrt(((keys - query[..., None, :]) ** 2).sum(axis=-1))
""",
            "you computed a distance",
        ),
        "softmaxed": (
            """
def similarity_scores(query, keys):
    s = np.einsum("...nd,...d->...n", keys, query)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
""",
            "you returned weights (after softmax)",
        ),
        "scaled": (
            """
def similarity_scores(query, keys):
    return np.einsum("...nd,...d->...n", keys, query) / np.sqrt(query.shape[-1])
""",
            "you divided by sqrt(d)",
        ),
        "no_sum": (
            """
def similarity_scores(query, keys):
    return keys * query[..., None, :]
""",
            "did not add up",
        ),
        "query_times_keys": (
            """
def similarity_scores(query, keys):
    return query @ keys
""",
            "keys has one row per position",
        ),
        "not_batched": (
            """
def similarity_scores(query, keys):
    return keys @ query
""",
            "treat the queries as a matrix",
        ),
    },
    "soft_lookup": {
        "no_softmax": (
            """
def soft_lookup(query, keys, values):
    scores = similarity_scores(query, keys)
    return (scores[..., None] * values).sum(axis=-2)
""",
            "raw scores as weights",
        ),
        "hard_lookup": (
            """
def soft_lookup(query, keys, values):
    best = np.argmax(similarity_scores(query, keys), axis=-1)
    return np.take_along_axis(values, best[..., None, None], axis=-2)[..., 0, :]
""",
            "that is the hard lookup",
        ),
        "uniform_average": (
            """
def soft_lookup(query, keys, values):
    return values.mean(axis=-2)
""",
            "averaged the values equally",
        ),
        "blended_keys": (
            """
def soft_lookup(query, keys, values):
    weights = softmax(similarity_scores(query, keys))
    return (weights[..., None] * keys).sum(axis=-2)
""",
            "you blended the keys",
        ),
        "divide_by_sum": (
            """
def soft_lookup(query, keys, values):
    scores = similarity_scores(query, keys)
    weights = scores / scores.sum(axis=-1, keepdims=True)
    return (weights[..., None] * values).sum(axis=-2)
""",
            "dividing the scores by their sum",
        ),
        "softmax_wrong_axis": (
            """
def soft_lookup(query, keys, values):
    exps = np.exp(similarity_scores(query, keys))
    weights = exps / exps.sum(axis=0)
    return (weights[..., None] * values).sum(axis=-2)
""",
            "softmax ran over the wrong axis",
        ),
        "returned_weights": (
            """
def soft_lookup(query, keys, values):
    return softmax(similarity_scores(query, keys))
""",
            "you returned the weights",
        ),
    },
    "softmax": {
        "no_max_subtraction": (
            """
def softmax(x, axis=-1):
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)
""",
            "Subtract the max",
        ),
        # Shifts that are exact on paper and overflow or underflow in float64 (each passed every case once).
        "shift_by_min": (
            """
def softmax(x, axis=-1):
    e = np.exp(x - np.min(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
""",
            "Which shift makes every exponent <= 0?",
        ),
        "shift_by_first_score": (
            """
def softmax(x, axis=-1):
    e = np.exp(x - np.take(x, [0], axis=axis))
    return e / np.sum(e, axis=axis, keepdims=True)
""",
            "Which shift makes every exponent <= 0?",
        ),
        "shift_by_mean": (
            """
def softmax(x, axis=-1):
    e = np.exp(x - np.mean(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
""",
            "Subtract the max",
        ),
        "shift_by_half_the_max": (
            """
def softmax(x, axis=-1):
    e = np.exp(x - 0.5 * np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
""",
            "Subtract the max",
        ),
        "float32": (
            """
def softmax(x, axis=-1):
    x = np.asarray(x, dtype=np.float32)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
""",
            "computed in float32",
        ),
        "global_max": (
            """
def softmax(x, axis=-1):
    e = np.exp(x - np.max(x))
    return e / np.sum(e, axis=axis, keepdims=True)
""",
            "needs its own max",
        ),
        "sum_over_everything": (
            """
def softmax(x, axis=-1):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)
""",
            "sum over the whole array",
        ),
        "wrong_axis": (
            """
def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)
""",
            "wrong axis",
        ),
        "ignores_axis": (
            """
def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)
""",
            "ignored the `axis` argument",
        ),
        "no_keepdims": (
            """
def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis)
""",
            "keepdims=True",
        ),
        "in_place": (
            """
def softmax(x, axis=-1):
    x -= np.max(x, axis=axis, keepdims=True)
    np.exp(x, out=x)
    x /= np.sum(x, axis=axis, keepdims=True)
    return x
""",
            "changed its input array in place",
        ),
        "sigmoid": (
            """
def softmax(x, axis=-1):
    return 1 / (1 + np.exp(-x))
""",
            "that is a sigmoid",
        ),
        "no_exp": (
            """
def softmax(x, axis=-1):
    return x / x.sum(axis=axis, keepdims=True)
""",
            "without exp",
        ),
    },
    "scaled_dot_product_attention": {
        "no_scaling": (
            """
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores)
    return weights @ V, weights
""",
            "you forgot to scale",
        ),
        "scale_by_d_k": (
            """
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / Q.shape[-1]
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores)
    return weights @ V, weights
""",
            "Divide by its square root",
        ),
        "scale_by_d_v": (
            """
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(V.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores)
    return weights @ V, weights
""",
            "scaled by sqrt(d_v)",
        ),
        "mask_after_softmax": (
            """
def scaled_dot_product_attention(Q, K, V, mask=None):
    weights = softmax(Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1]))
    if mask is not None:
        weights = weights * mask
    return weights @ V, weights
""",
            "applied the mask after the softmax",
        ),
        "mask_inverted": (
            """
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores[mask] = -np.inf
    weights = softmax(scores)
    return weights @ V, weights
""",
            "your mask is inverted",
        ),
        "mask_fill_zero": (
            """
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = scores * mask
    weights = softmax(scores)
    return weights @ V, weights
""",
            "set masked scores to 0",
        ),
        "softmax_wrong_axis": (
            """
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores, axis=0)
    return weights @ V, weights
""",
            "softmax ran over the queries axis",
        ),
        "batch_transpose": (
            """
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ K.T / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores)
    return weights @ V, weights
""",
            "`K.T` reverses every axis",
        ),
        "swapped_outputs": (
            """
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores)
    return weights, weights @ V
""",
            "you returned (weights, output)",
        ),
    },
}

MISTAKES.update(
    {
        "causal_mask": {
            "no_diagonal": (
                """
def causal_mask(n):
    return np.tril(np.ones((n, n), dtype=bool), k=-1)
""",
                "keep the diagonal",
            ),
            "upper_triangle": (
                """
def causal_mask(n):
    return np.triu(np.ones((n, n))) == 1
""",
                "lets each position see the future",
            ),
            "inverted": (
                """
def causal_mask(n):
    return np.triu(np.ones((n, n), dtype=bool), k=1)
""",
                "your mask is inverted",
            ),
            "one_ahead": (
                """
def causal_mask(n):
    return np.array([[j <= i + 1 for j in range(n)] for i in range(n)])
""",
                "see one token ahead",
            ),
            "diagonal_only": (
                """
def causal_mask(n):
    return np.eye(n) > 0
""",
                "not only to itself",
            ),
            "numbers_not_booleans": (
                """
def causal_mask(n):
    return np.tril(np.ones((n, n)))
""",
                "return booleans",
            ),
        },
        "positional_encoding": {
            "sin_cos_swapped": (
                """
def positional_encoding(n, d):
    angles = np.arange(n)[:, None] / 10000 ** (np.arange(0, d, 2) / d)
    out = np.zeros((n, d))
    out[:, 0::2] = np.cos(angles)
    out[:, 1::2] = np.sin(angles)
    return out
""",
                "which of sin 0",
            ),
            "halves_not_interleaved": (
                """
def positional_encoding(n, d):
    angles = np.arange(n)[:, None] / 10000 ** (np.arange(0, d, 2) / d)
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=-1)
""",
                "all the sines first",
            ),
            "exponent_per_column": (
                """
def positional_encoding(n, d):
    out = np.zeros((n, d))
    for p in range(n):
        for j in range(d):
            angle = p / 10000 ** (j / d)
            out[p, j] = np.sin(angle) if j % 2 == 0 else np.cos(angle)
    return out
""",
                "shares one frequency",
            ),
            "positions_from_one": (
                """
def positional_encoding(n, d):
    angles = np.arange(1, n + 1)[:, None] / 10000 ** (np.arange(0, d, 2) / d)
    out = np.zeros((n, d))
    out[:, 0::2] = np.sin(angles)
    out[:, 1::2] = np.cos(angles)
    return out
""",
                "positions count from 0",
            ),
            "multiplied_by_the_rate": (
                """
def positional_encoding(n, d):
    angles = np.arange(n)[:, None] * 10000 ** (np.arange(0, d, 2) / d)
    out = np.zeros((n, d))
    out[:, 0::2] = np.sin(angles)
    out[:, 1::2] = np.cos(angles)
    return out
""",
                "You multiplied",
            ),
        },
        "rotary_embedding": {
            "turned_backwards": (
                """
def rotary_embedding(X, positions, base=10000.0):
    d = X.shape[-1]
    theta = np.outer(positions, base ** (-np.arange(0, d, 2) / d))
    out = np.zeros(X.shape)
    out[..., 0::2] = X[..., 0::2] * np.cos(theta) + X[..., 1::2] * np.sin(theta)
    out[..., 1::2] = -X[..., 0::2] * np.sin(theta) + X[..., 1::2] * np.cos(theta)
    return out
""",
                "turn the wrong way",
            ),
            "positions_ignored": (
                """
def rotary_embedding(X, positions, base=10000.0):
    n, d = X.shape[-2:]
    theta = np.arange(n)[:, None] * base ** (-np.arange(0, d, 2) / d)
    out = np.zeros(X.shape)
    out[..., 0::2] = X[..., 0::2] * np.cos(theta) - X[..., 1::2] * np.sin(theta)
    out[..., 1::2] = X[..., 0::2] * np.sin(theta) + X[..., 1::2] * np.cos(theta)
    return out
""",
                "Use the positions you are given",
            ),
            "angle_per_feature": (
                """
def rotary_embedding(X, positions, base=10000.0):
    d = X.shape[-1]
    theta = np.asarray(positions)[:, None] * base ** (-np.arange(d) / d)
    cos, sin = np.cos(theta), np.sin(theta)
    out = np.zeros(X.shape)
    out[..., 0::2] = X[..., 0::2] * cos[:, 0::2] - X[..., 1::2] * sin[:, 0::2]
    out[..., 1::2] = X[..., 0::2] * sin[:, 1::2] + X[..., 1::2] * cos[:, 1::2]
    return out
""",
                "turn by one angle",
            ),
            "position_as_angle": (
                """
def rotary_embedding(X, positions, base=10000.0):
    out = np.zeros(X.shape)
    for t, p in enumerate(positions):
        c, s = np.cos(p), np.sin(p)
        out[..., t, 0::2] = X[..., t, 0::2] * c - X[..., t, 1::2] * s
        out[..., t, 1::2] = X[..., t, 0::2] * s + X[..., t, 1::2] * c
    return out
""",
                "turns at its own speed",
            ),
            "exponent_over_pairs": (
                """
def rotary_embedding(X, positions, base=10000.0):
    d = X.shape[-1]
    theta = np.outer(positions, base ** (-np.arange(d // 2) / d))
    out = np.zeros(X.shape)
    out[..., 0::2] = X[..., 0::2] * np.cos(theta) - X[..., 1::2] * np.sin(theta)
    out[..., 1::2] = X[..., 0::2] * np.sin(theta) + X[..., 1::2] * np.cos(theta)
    return out
""",
                "the exponent counts features",
            ),
            "halves_paired": (
                """
def rotary_embedding(X, positions, base=10000.0):
    d = X.shape[-1]
    theta = np.outer(positions, base ** (-np.arange(0, d, 2) / d))
    cos = np.concatenate([np.cos(theta), np.cos(theta)], axis=-1)
    sin = np.concatenate([np.sin(theta), np.sin(theta)], axis=-1)
    rotate_half = np.concatenate([-X[..., d // 2 :], X[..., : d // 2]], axis=-1)
    return X * cos + rotate_half * sin
""",
                "rotate_half",
            ),
        },
        "self_attention": {
            "no_projections": (
                """
def self_attention(X, W_q, W_k, W_v, mask=None):
    return scaled_dot_product_attention(X, X, X, mask=mask)
""",
                "Project first",
            ),
            "transposed_weights": (
                """
def self_attention(X, W_q, W_k, W_v, mask=None):
    Q = np.einsum("kd,...nd->...nk", W_q, X)
    K = np.einsum("kd,...nd->...nk", W_k, X)
    V = np.einsum("kd,...nd->...nk", W_v, X)
    return scaled_dot_product_attention(Q, K, V, mask=mask)
""",
                "transposed matrices",
            ),
            "values_from_keys": (
                """
def self_attention(X, W_q, W_k, W_v, mask=None):
    return scaled_dot_product_attention(X @ W_q, X @ W_k, X @ W_k, mask=mask)
""",
                "the values came from W_k",
            ),
            "left_multiplied": (
                """
def self_attention(X, W_q, W_k, W_v, mask=None):
    return scaled_dot_product_attention(W_q @ X, W_k @ X, W_v @ X, mask=mask)
""",
                "weights multiply from the right",
            ),
            "queries_and_keys_swapped": (
                """
def self_attention(X, W_q, W_k, W_v, mask=None):
    return scaled_dot_product_attention(X @ W_k, X @ W_q, X @ W_v, mask=mask)
""",
                "queries and keys are swapped",
            ),
            "mask_ignored": (
                """
def self_attention(X, W_q, W_k, W_v, mask=None):
    return scaled_dot_product_attention(X @ W_q, X @ W_k, X @ W_v)
""",
                "the mask was ignored",
            ),
        },
        "cross_attention": {
            "roles_swapped": (
                """
def cross_attention(X, memory, W_q, W_k, W_v, mask=None):
    return scaled_dot_product_attention(memory @ W_q, X @ W_k, X @ W_v, mask)
""",
                "The one who asks is the decoder's token",
            ),
            "keys_from_x": (
                """
def cross_attention(X, memory, W_q, W_k, W_v, mask=None):
    return scaled_dot_product_attention(X @ W_q, X @ W_k, memory @ W_v, mask)
""",
                "each role must come from the right one",
            ),
            "values_from_x": (
                """
def cross_attention(X, memory, W_q, W_k, W_v, mask=None):
    return scaled_dot_product_attention(X @ W_q, memory @ W_k, X @ W_v, mask)
""",
                "each role must come from the right one",
            ),
            "self_attention_instead": (
                """
def cross_attention(X, memory, W_q, W_k, W_v, mask=None):
    return scaled_dot_product_attention(X @ W_q, X @ W_k, X @ W_v, mask)
""",
                "memory was never used",
            ),
            "mask_ignored": (
                """
def cross_attention(X, memory, W_q, W_k, W_v, mask=None):
    return scaled_dot_product_attention(X @ W_q, memory @ W_k, memory @ W_v)
""",
                "padding got weight",
            ),
        },
        "split_heads": {
            "reshape_without_transpose": (
                """
def split_heads(X, num_heads):
    *batch, n, d_model = X.shape
    if d_model % num_heads:
        raise ValueError("d_model is not divisible by num_heads")
    return X.reshape(*batch, num_heads, n, d_model // num_heads)
""",
                "That mixes positions",
            ),
            "no_transpose": (
                """
def split_heads(X, num_heads):
    *batch, n, d_model = X.shape
    if d_model % num_heads:
        raise ValueError("d_model is not divisible by num_heads")
    return X.reshape(*batch, n, num_heads, d_model // num_heads)
""",
                "the heads axis must come before the positions",
            ),
            "strided_heads": (
                """
def split_heads(X, num_heads):
    *batch, n, d_model = X.shape
    if d_model % num_heads:
        raise ValueError("d_model is not divisible by num_heads")
    heads = [X[..., h::num_heads] for h in range(num_heads)]
    return np.stack(heads, axis=-3)
""",
                "every num_heads-th column",
            ),
            "heads_and_width_swapped": (
                """
def split_heads(X, num_heads):
    *batch, n, d_model = X.shape
    if d_model % num_heads:
        raise ValueError("d_model is not divisible by num_heads")
    d_head = d_model // num_heads
    return X.reshape(*batch, n, d_head, num_heads).swapaxes(-2, -3)
""",
                "you made d_head heads of size num_heads",
            ),
            "no_divisibility_check": (
                """
def split_heads(X, num_heads):
    return np.swapaxes(X.reshape(*X.shape[:-1], num_heads, -1), -2, -3)
""",
                "d_model is not divisible",
            ),
        },
        "combine_heads": {
            "reshape_without_transpose": (
                """
def combine_heads(X):
    *batch, h, n, d_head = X.shape
    return X.reshape(*batch, n, h * d_head)
""",
                "which mixes positions",
            ),
            "interleaved_heads": (
                """
def combine_heads(X):
    *batch, h, n, d_head = X.shape
    return np.moveaxis(X, -3, -1).reshape(*batch, n, d_head * h)
""",
                "interleaved column by column",
            ),
            "summed_heads": (
                """
def combine_heads(X):
    return X.sum(axis=-3)
""",
                "you added the heads together",
            ),
            "averaged_heads": (
                """
def combine_heads(X):
    return np.mean(X, axis=-3)
""",
                "you averaged the heads",
            ),
            "heads_reversed": (
                """
def combine_heads(X):
    heads = [X[..., h, :, :] for h in range(X.shape[-3])]
    return np.concatenate(heads[::-1], axis=-1)
""",
                "reverse order",
            ),
        },
        "multi_head_attention": {
            "no_w_o": (
                """
def multi_head_attention(X, W_q, W_k, W_v, W_o, num_heads, mask=None):
    Q, K, V = (split_heads(X @ W, num_heads) for W in (W_q, W_k, W_v))
    if mask is not None:
        mask = np.expand_dims(mask, -3)
    heads, weights = scaled_dot_product_attention(Q, K, V, mask)
    return combine_heads(heads), weights
""",
                "you forgot the output projection",
            ),
            "scale_by_d_model": (
                """
def multi_head_attention(X, W_q, W_k, W_v, W_o, num_heads, mask=None):
    Q, K, V = (split_heads(X @ W, num_heads) for W in (W_q, W_k, W_v))
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(X.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return combine_heads(weights @ V) @ W_o, weights
""",
                "you scaled by sqrt(d_model)",
            ),
            "split_without_transpose": (
                """
def multi_head_attention(X, W_q, W_k, W_v, W_o, num_heads, mask=None):
    *batch, n, d_model = X.shape
    if d_model % num_heads:
        raise ValueError("d_model is not divisible by num_heads")
    Q, K, V = (np.reshape(X @ W, (*batch, num_heads, n, -1)) for W in (W_q, W_k, W_v))
    if mask is not None:
        mask = np.expand_dims(mask, -3)
    heads, weights = scaled_dot_product_attention(Q, K, V, mask)
    return np.reshape(heads, (*batch, n, d_model)) @ W_o, weights
""",
                "split_heads reshaped straight",
            ),
            "combine_without_transpose": (
                """
def multi_head_attention(X, W_q, W_k, W_v, W_o, num_heads, mask=None):
    Q, K, V = (split_heads(X @ W, num_heads) for W in (W_q, W_k, W_v))
    if mask is not None:
        mask = np.expand_dims(mask, -3)
    heads, weights = scaled_dot_product_attention(Q, K, V, mask)
    return heads.reshape(X.shape) @ W_o, weights
""",
                "combined without swapping",
            ),
            "combine_interleaved": (
                """
def multi_head_attention(X, W_q, W_k, W_v, W_o, num_heads, mask=None):
    Q, K, V = (split_heads(X @ W, num_heads) for W in (W_q, W_k, W_v))
    if mask is not None:
        mask = np.expand_dims(mask, -3)
    heads, weights = scaled_dot_product_attention(Q, K, V, mask)
    return np.moveaxis(heads, -3, -1).reshape(X.shape) @ W_o, weights
""",
                "interleaved column by column instead",
            ),
            "softmax_wrong_axis": (
                """
def multi_head_attention(X, W_q, W_k, W_v, W_o, num_heads, mask=None):
    Q, K, V = (split_heads(X @ W, num_heads) for W in (W_q, W_k, W_v))
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-2, keepdims=True))
    weights /= weights.sum(axis=-2, keepdims=True)
    return combine_heads(weights @ V) @ W_o, weights
""",
                "each query's weights over the keys",
            ),
        },
    }
)

REFERENCE["max_path_length"] = """
def max_path_length(mask):
    n = len(mask)
    reach = np.eye(n, dtype=bool)
    step = mask | reach
    hops = 0
    while True:
        new = step @ reach
        if (new == reach).all():
            return hops
        reach = new
        hops += 1
"""


def _edited(function, *changes):
    """The reference solution of ``function`` with each ``(old, new)`` change made once: a mistake a small edit away
    from right code, so that the edit is all a reader compares. (Rewrites that are more than an edit stay whole.)"""
    code = REFERENCE[function]
    for old, new in changes:
        assert code.count(old) == 1, (function, old)
        code = code.replace(old, new)
    return code


_GQA_MASK = "    if mask is not None:\n        mask = mask[..., None, :, :]\n"
MISTAKES["grouped_query_attention"] = {
    "groups_interleaved": (
        _edited(
            "grouped_query_attention",
            (
                "np.repeat(split_heads(X @ W_k, num_kv_heads), group, axis=-3)",
                "np.tile(split_heads(X @ W_k, num_kv_heads), (group, 1, 1))",
            ),
            (
                "np.repeat(split_heads(X @ W_v, num_kv_heads), group, axis=-3)",
                "np.tile(split_heads(X @ W_v, num_kv_heads), (group, 1, 1))",
            ),
        ),  # fmt: skip
        "np.repeat keeps",
    ),
    "first_kv_head_only": (
        _edited(
            "grouped_query_attention",
            ("    group = num_heads // num_kv_heads\n", ""),
            (
                "np.repeat(split_heads(X @ W_k, num_kv_heads), group, axis=-3)",
                "split_heads(X @ W_k, num_kv_heads)[..., :1, :, :]",
            ),
            (
                "np.repeat(split_heads(X @ W_v, num_kv_heads), group, axis=-3)",
                "split_heads(X @ W_v, num_kv_heads)[..., :1, :, :]",
            ),
        ),  # fmt: skip
        "read the first key/value head",
    ),
    "values_from_keys": (
        _edited("grouped_query_attention", ("split_heads(X @ W_v,", "split_heads(X @ W_k,")),
        "the values came from W_k",
    ),
    "no_w_o": (
        _edited("grouped_query_attention", ("combine_heads(heads) @ W_o,", "combine_heads(heads),")),
        "output projection",
    ),
    "mask_ignored": (
        _edited("grouped_query_attention", (_GQA_MASK, ""), ("(Q, K, V, mask=mask)", "(Q, K, V)")),
        "the mask was not applied",
    ),
    # The mask handed to every head as it came (see multi_head_attention's below).
    "mask_without_heads_axis": (_edited("grouped_query_attention", (_GQA_MASK, "")), "give it a heads"),
}

MISTAKES["decode_step"] = {
    "projects_cache_again": (
        _edited(
            "decode_step",
            ("[k_cache, (x_t", "[k_cache @ W_k, (x_t"),
            ("[v_cache, (x_t", "[v_cache @ W_v, (x_t"),
        ),
        "project only x_t",
    ),
    "forgets_own_key": (
        """
def decode_step(x_t, k_cache, v_cache, W_q, W_k, W_v):
    q = x_t @ W_q
    out, _ = scaled_dot_product_attention(q[..., None, :], k_cache, v_cache)
    keys = np.concatenate([k_cache, (x_t @ W_k)[..., None, :]], axis=-2)
    values = np.concatenate([v_cache, (x_t @ W_v)[..., None, :]], axis=-2)
    return out[..., 0, :], keys, values
""",
        "attended only to the tokens before it",
    ),
    "caches_not_extended": (
        _edited(
            "decode_step", ("return out[..., 0, :], keys, values", "return out[..., 0, :], k_cache, v_cache")
        ),
        "came back as they were given",
    ),
    "new_token_first": (
        _edited(
            "decode_step",
            ("[k_cache, (x_t @ W_k)[..., None, :]]", "[(x_t @ W_k)[..., None, :], k_cache]"),
            ("[v_cache, (x_t @ W_v)[..., None, :]]", "[(x_t @ W_v)[..., None, :], v_cache]"),
        ),
        "to the front of the caches",
    ),
    "no_scaling": (
        """
def decode_step(x_t, k_cache, v_cache, W_q, W_k, W_v):
    q = x_t @ W_q
    keys = np.concatenate([k_cache, (x_t @ W_k)[..., None, :]], axis=-2)
    values = np.concatenate([v_cache, (x_t @ W_v)[..., None, :]], axis=-2)
    scores = np.einsum("...d,...td->...t", q, keys)
    w = np.exp(scores - scores.max(axis=-1, keepdims=True))
    w = w / w.sum(axis=-1, keepdims=True)
    return np.einsum("...t,...tv->...v", w, values), keys, values
""",
        "not divided by sqrt(d_k)",
    ),
    "query_from_w_k": (_edited("decode_step", ("q = x_t @ W_q", "q = x_t @ W_k")), "the query came from W_k"),
    # Unstable exponentials: right on small scores, nan on large ones (a student walkthrough found that the
    # "magnitude 1e3" cases of decode_step and blockwise_attention once stayed under 709).
    "no_max_subtraction": (
        """
def decode_step(x_t, k_cache, v_cache, W_q, W_k, W_v):
    q = x_t @ W_q
    keys = np.concatenate([k_cache, (x_t @ W_k)[..., None, :]], axis=-2)
    values = np.concatenate([v_cache, (x_t @ W_v)[..., None, :]], axis=-2)
    e = np.exp(np.einsum("...d,...td->...t", q, keys) / np.sqrt(q.shape[-1]))
    return np.einsum("...t,...tv->...v", e / e.sum(axis=-1, keepdims=True), values), keys, values
""",
        "exp overflowed",
    ),
}

_RESCALED = (
    "        running_sum = running_sum * correction + p.sum(axis=-1, keepdims=True)\n"
    "        out = out * correction + p @ V[..., start:end, :]\n"
)
MISTAKES["blockwise_attention"] = {
    "blocks_normalised_alone": (
        """
def blockwise_attention(Q, K, V, block_size, mask=None):
    n_k = K.shape[-2]
    outputs = []
    for start in range(0, n_k, block_size):
        s = Q @ np.swapaxes(K[..., start : start + block_size, :], -1, -2) / np.sqrt(K.shape[-1])
        if mask is not None:
            s = np.where(mask[..., start : start + block_size], s, -np.inf)
        w = np.exp(s - s.max(axis=-1, keepdims=True))
        w = w / w.sum(axis=-1, keepdims=True)
        outputs.append(w @ V[..., start : start + block_size, :])
    return sum(outputs) / len(outputs)
""",
        "normalised on its own",
    ),
    "sum_not_rescaled": (
        _edited(
            "blockwise_attention",
            ("running_sum = running_sum * correction + p.sum", "running_sum = running_sum + p.sum"),
        ),
        "Multiply the running sum",
    ),  # fmt: skip
    "nothing_rescaled": (
        _edited("blockwise_attention", (_RESCALED, _RESCALED.replace(" * correction", ""))),
        "both measured",
    ),
    "last_block_dropped": (
        _edited(
            "blockwise_attention", ("range(0, n_k, block_size)", "range(0, n_k - block_size + 1, block_size)")
        ),
        "last block is shorter",
    ),
    "no_scaling": (_edited("blockwise_attention", (" / np.sqrt(d_k)", "")), "not divided by sqrt(d_k)"),
    "mask_ignored": (
        _edited(
            "blockwise_attention",
            (
                "        if mask is not None:\n            s = np.where(mask[..., start:end], s, -np.inf)\n",
                "",
            ),
        ),
        "the mask was ignored",
    ),  # fmt: skip
    "no_max_subtraction": (
        """
def blockwise_attention(Q, K, V, block_size, mask=None):
    total = np.zeros(Q.shape[:-1] + (1,))
    out = np.zeros(Q.shape[:-1] + (V.shape[-1],))
    for start in range(0, K.shape[-2], block_size):
        s = Q @ np.swapaxes(K[..., start : start + block_size, :], -1, -2) / np.sqrt(K.shape[-1])
        e = np.exp(s)
        if mask is not None:
            e = np.where(mask[..., start : start + block_size], e, 0.0)
        total = total + e.sum(axis=-1, keepdims=True)
        out = out + e @ V[..., start : start + block_size, :]
    return out / total
""",
        "exp overflowed",
    ),
    "max_starts_at_zero": (
        """
def blockwise_attention(Q, K, V, block_size, mask=None):
    m = np.zeros(Q.shape[:-1] + (1,))
    total = np.zeros(Q.shape[:-1] + (1,))
    out = np.zeros(Q.shape[:-1] + (V.shape[-1],))
    for start in range(0, K.shape[-2], block_size):
        s = Q @ np.swapaxes(K[..., start : start + block_size, :], -1, -2) / np.sqrt(K.shape[-1])
        if mask is not None:
            s = np.where(mask[..., start : start + block_size], s, -np.inf)
        new_m = np.maximum(m, s.max(axis=-1, keepdims=True))
        e = np.exp(s - new_m)
        total = total * np.exp(m - new_m) + e.sum(axis=-1, keepdims=True)
        out = out * np.exp(m - new_m) + e @ V[..., start : start + block_size, :]
        m = new_m
    return out / total
""",
        "started at 0",
    ),
}


MISTAKES["max_path_length"] = {
    "path_counts_overflow": (
        """
def max_path_length(mask):
    n = len(mask)
    step = mask.astype(int) + np.eye(n, dtype=int)
    paths = np.eye(n, dtype=int)  # paths[i, j]: how many ways j's information reaches i
    hops = 0
    while True:
        more = step @ paths
        if np.count_nonzero(more > 0) == np.count_nonzero(paths > 0):
            return hops
        paths = more
        hops += 1
""",
        "pass 2^63 and wrap around",
    ),
    "no_residual": (
        """
def max_path_length(mask):
    reach = mask.copy()
    hops = 1
    while True:
        new = reach | (reach @ mask)
        if (new == reach).all():
            return hops
        reach = new
        hops += 1
""",
        "the residual connection keeps it",
    ),
    "counted_the_last_hop": (
        """
def max_path_length(mask):
    n = len(mask)
    reach = np.eye(n, dtype=bool)
    hops = 0
    while True:
        hops += 1
        new = reach | (mask @ reach)
        if (new == reach).all():
            return hops
        reach = new
""",
        "one hop too many",
    ),
    "until_all_connected": (
        """
def max_path_length(mask):
    n = len(mask)
    reach = np.eye(n, dtype=bool)
    for hops in range(n):
        if reach.all():
            return hops
        reach = reach | (mask @ reach)
    return n
""",
        "waiting until every pair is connected",
    ),
    "first_and_last_only": (
        """
def max_path_length(mask):
    n = len(mask)
    reach = np.eye(n, dtype=bool)
    for hops in range(n):
        if reach[0, n - 1] or reach[n - 1, 0]:
            return hops
        reach = reach | (mask @ reach)
    return 0
""",
        "not always the first and the last position",
    ),
}

# Functions whose reference solution calls the student's own earlier function: a mistake there costs them too.
CALLS = {
    "soft_lookup": ["similarity_scores"],
    "multi_head_attention": ["split_heads", "combine_heads"],
    "grouped_query_attention": ["split_heads", "combine_heads"],
}

# Which notebook each graded function lives in.
NOTEBOOK_OF = {name: exercise.notebook for name, exercise in EXERCISES.items()}

# Different code, the same mistake (it fails on the same case with the same output, so it gets that hint; or it
# fails elsewhere, with a hint that names the same mistake).
SAME_MISTAKE = {
    ("similarity_scores", "dot_not_batched"): "not_batched",
    ("soft_lookup", "dot_on_batch"): "matmul_on_batch",
    ("self_attention", "column_vectors_transposed_back"): "column_vectors",
    ("grouped_query_attention", "kv_split_by_num_heads_no_repeat"): "kv_split_by_num_heads",
    ("cross_attention", "values_from_x"): "keys_from_x",
    ("softmax", "shift_by_first_score"): "shift_by_min",
    ("softmax", "shift_by_mean"): "no_max_subtraction",
    ("softmax", "shift_by_half_the_max"): "no_max_subtraction",
}

# Right values, all the memory: no stored case tells it apart. The check's memory properties do where the function
# runs in the check's own process (self-study); while grading, a hidden case whose whole score matrix cannot fit in
# the grading kernel's memory does, for all but one query at a time (FITS_WHILE_GRADING).
MEMORY_MISTAKES = {
    ("blockwise_attention", "whole_matrix"): (
        """
def blockwise_attention(Q, K, V, block_size, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(K.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    w = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (w / w.sum(axis=-1, keepdims=True)) @ V
""",
        "one block of keys at a time",
    ),
    # Blocks of block_size queries, each against every key: with as many queries as a block, the whole matrix.
    ("blockwise_attention", "query_blocks"): (
        """
def blockwise_attention(Q, K, V, block_size, mask=None):
    n_q, d_k = Q.shape[-2:]
    outs = []
    for start in range(0, n_q, block_size):
        rows = slice(start, start + block_size)
        s = Q[..., rows, :] @ np.swapaxes(K, -1, -2) / np.sqrt(d_k)
        if mask is not None:
            m = np.broadcast_to(mask, mask.shape[:-2] + (n_q, K.shape[-2]))
            s = np.where(m[..., rows, :], s, -np.inf)
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        outs.append((s / s.sum(axis=-1, keepdims=True)) @ V)
    return np.concatenate(outs, axis=-2)
""",
        "one block of keys at a time",
    ),
    ("blockwise_attention", "query_rows"): (
        """
def blockwise_attention(Q, K, V, block_size, mask=None):
    n_q, d_k = Q.shape[-2:]
    outs = []
    for i in range(n_q):
        s = Q[..., i:i + 1, :] @ np.swapaxes(K, -1, -2) / np.sqrt(d_k)
        if mask is not None:
            m = np.broadcast_to(mask, mask.shape[:-2] + (n_q, K.shape[-2]))
            s = np.where(m[..., i:i + 1, :], s, -np.inf)
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        outs.append((s / s.sum(axis=-1, keepdims=True)) @ V)
    return np.concatenate(outs, axis=-2)
""",
        "still builds a row of n_k scores",
    ),
}
# One query at a time holds one row of scores, no larger than K itself: it fits in the grading kernel, where the
# function runs out of the memory property's sight, so only self-study's instant check names it.
FITS_WHILE_GRADING = {("blockwise_attention", "query_rows")}

# The mask handed to every head as it came, without a heads axis: right for one (n, n) mask shared by the batch,
# wrong for a mask per sequence (batch, n, n), silently when the batch is as large as the number of heads.
MISTAKES["multi_head_attention"]["mask_without_heads_axis"] = (
    """
def multi_head_attention(X, W_q, W_k, W_v, W_o, num_heads, mask=None):
    Q = split_heads(X @ W_q, num_heads)
    K = split_heads(X @ W_k, num_heads)
    V = split_heads(X @ W_v, num_heads)
    heads, weights = scaled_dot_product_attention(Q, K, V, mask=mask)
    return combine_heads(heads) @ W_o, weights
""",
    "give it a heads axis",
)


# Found by a student walkthrough (issue 20): 2-D habits that break on a batch, and slips that once got the generic
# hint or another mistake's.
MISTAKES["similarity_scores"] |= {
    # numpy lines keys (batch, n, d) and queries (batch, d) up from the right: the batch meets the positions.
    "broadcast_without_positions_axis": (
        """
def similarity_scores(query, keys):
    return (keys * query).sum(-1)
""",
        "`keys * query` lines the queries",
    ),
    "dot_not_batched": (
        """
def similarity_scores(query, keys):
    return np.dot(keys, query)
""",
        "treat the queries as a matrix",
    ),
    "query_transposed": (
        """
def similarity_scores(query, keys):
    return keys @ query.T
""",
        "`query.T` does nothing to one query",
    ),
}
_BLEND = "(weights[..., None] * values).sum(axis=-2)"
MISTAKES["soft_lookup"] |= {
    "sum_over_features": (_edited("soft_lookup", ("sum(axis=-2)", "sum(axis=-1)")), "features of each value"),
    "sum_over_axis_0": (_edited("soft_lookup", ("sum(axis=-2)", "sum(axis=0)")), "you added up over axis 0"),
    # The same habit with the weights' new axis counted from the front: it raises on a batch, not silently wrong.
    "axes_from_the_front": (
        _edited("soft_lookup", (_BLEND, "(weights[:, None] * values).sum(axis=0)")),
        "an index or axis counted from the front",
    ),
    "matmul_on_batch": (
        _edited("soft_lookup", (_BLEND, "weights @ values")),
        "`weights @ values` (or np.dot)",
    ),
    "dot_on_batch": (
        _edited("soft_lookup", (_BLEND, "np.dot(weights, values)")),
        "`weights @ values` (or np.dot)",
    ),
    "values_transposed": (
        _edited("soft_lookup", (_BLEND, "values.T @ weights")),
        "`values.T` reverses every axis",
    ),
    "einsum_without_ellipsis": (
        _edited("soft_lookup", (_BLEND, 'np.einsum("n,nv->v", weights, values)')),
        "your np.einsum names the axes of one query only",
    ),
}
# A mask that broadcasts, one padding row per sequence, cannot index the scores: np.where takes it.
MISTAKES["scaled_dot_product_attention"]["mask_by_boolean_index"] = (
    """
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores[..., ~mask] = -np.inf
    weights = softmax(scores)
    return weights @ V, weights
""",
    "indexing the scores with the mask",
)
# The same mask as an index, with the attention written out in the function that takes the mask.
MISTAKES["self_attention"]["mask_by_boolean_index"] = (
    """
def self_attention(X, W_q, W_k, W_v, mask=None):
    Q, K, V = X @ W_q, X @ W_k, X @ W_v
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores[..., ~mask] = -np.inf
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ V, weights
""",
    "indexing the scores with the mask",
)
MISTAKES["cross_attention"]["mask_by_boolean_index"] = (
    """
def cross_attention(X, memory, W_q, W_k, W_v, mask=None):
    Q, K, V = X @ W_q, memory @ W_k, memory @ W_v
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores[..., ~mask] = -np.inf
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ V, weights
""",
    "indexing the scores with the mask",
)
# The column-vector habit of linear algebra texts, W x: transposed back it is right without a batch only.
MISTAKES["self_attention"] |= {
    "column_vectors": (
        """
def self_attention(X, W_q, W_k, W_v, mask=None):
    Q, K, V = W_q.T @ X.T, W_k.T @ X.T, W_v.T @ X.T
    return scaled_dot_product_attention(Q, K, V, mask=mask)
""",
        "column-vector",
    ),
    "column_vectors_transposed_back": (
        """
def self_attention(X, W_q, W_k, W_v, mask=None):
    Q = (W_q.T @ X.T).T
    K = (W_k.T @ X.T).T
    V = (W_v.T @ X.T).T
    return scaled_dot_product_attention(Q, K, V, mask=mask)
""",
        "column-vector",
    ),
}
MISTAKES["rotary_embedding"]["pairs_along_axis_1"] = (
    _edited(
        "rotary_embedding",
        ("x1, x2 = X[..., ::2], X[..., 1::2]", "x1, x2 = X[:, ::2], X[:, 1::2]"),
        ("out[..., ::2] =", "out[:, ::2] ="),
        ("out[..., 1::2] =", "out[:, 1::2] ="),
    ),
    "axis 1 is no longer the features",
)
MISTAKES["decode_step"] |= {
    "raw_token_as_key": (
        _edited("decode_step", ("[k_cache, (x_t @ W_k)[..., None, :]]", "[k_cache, x_t[..., None, :]]")),
        "the new token's key was x_t itself",
    ),
    "raw_token_as_key_and_value": (
        _edited(
            "decode_step",
            ("[k_cache, (x_t @ W_k)[..., None, :]]", "[k_cache, x_t[..., None, :]]"),
            ("[v_cache, (x_t @ W_v)[..., None, :]]", "[v_cache, x_t[..., None, :]]"),
        ),
        "the new token's key and value were x_t itself",
    ),
    "matmul_on_batch": (
        """
def decode_step(x_t, k_cache, v_cache, W_q, W_k, W_v):
    q = x_t @ W_q
    keys = np.concatenate([k_cache, (x_t @ W_k)[..., None, :]], axis=-2)
    values = np.concatenate([v_cache, (x_t @ W_v)[..., None, :]], axis=-2)
    scores = np.einsum("...d,...td->...t", q, keys) / np.sqrt(q.shape[-1])
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ values, keys, values
""",
        "`weights @ values` takes the weights",
    ),
}
MISTAKES["blockwise_attention"] |= {
    "first_block_mask": (
        _edited("blockwise_attention", ("mask[..., start:end]", "mask[..., :block_size]")),
        "the mask's first block_size columns",
    ),
    # Right for one (n_q, n_k) mask, which every case but one has: axis 1 is the queries of a mask per sequence.
    "mask_sliced_as_2d": (
        _edited("blockwise_attention", ("mask[..., start:end]", "mask[:, start:end]")),
        "its axis 1 is the queries",
    ),
}
MISTAKES["grouped_query_attention"] |= {
    "kv_split_by_num_heads": (
        _edited(
            "grouped_query_attention",
            ("split_heads(X @ W_k, num_kv_heads)", "split_heads(X @ W_k, num_heads)"),
            ("split_heads(X @ W_v, num_kv_heads)", "split_heads(X @ W_v, num_heads)"),
        ),
        "so split them into num_kv_heads heads",
    ),
    "kv_split_by_num_heads_no_repeat": (
        """
def grouped_query_attention(X, W_q, W_k, W_v, W_o, num_heads, num_kv_heads, mask=None):
    Q, K, V = (split_heads(X @ W, num_heads) for W in (W_q, W_k, W_v))
    if mask is not None:
        mask = mask[..., None, :, :]
    heads, weights = scaled_dot_product_attention(Q, K, V, mask=mask)
    return combine_heads(heads) @ W_o, weights
""",
        "so split them into num_kv_heads heads",
    ),
}


# Found by a second student walkthrough (80 wrong implementations, 27 right ones): blind spots that passed,
# mistakes that got the generic hint or another mistake's. Each now gets its own.
MISTAKES["similarity_scores"] |= {
    "squeezed": (
        """
def similarity_scores(query, keys):
    return (keys @ query[..., None]).squeeze()
""",
        "`.squeeze()` drops every axis of length 1",
    ),
    "inner": (
        """
def similarity_scores(query, keys):
    return np.inner(keys, query)
""",
        "np.inner(keys, query) does the same",
    ),
    "float32": (
        """
def similarity_scores(query, keys):
    return np.einsum("...nd,...d->...n", keys.astype(np.float32), query.astype(np.float32))
""",
        "your result is float32",
    ),
}
MISTAKES["soft_lookup"] |= {
    "normalised_over_the_batch": (
        """
def soft_lookup(query, keys, values):
    e = np.exp(similarity_scores(query, keys))
    weights = e / e.sum()
    return (weights[..., None] * values).sum(axis=-2)
""",
        "you normalised over the whole batch",
    ),
    "scaled": (
        """
def soft_lookup(query, keys, values):
    weights = softmax(similarity_scores(query, keys) / np.sqrt(query.shape[-1]))
    return (weights[..., None] * values).sum(axis=-2)
""",
        "you divided the scores by sqrt(d)",
    ),
}
MISTAKES["softmax"] |= {
    "clipped": (
        """
def softmax(x, axis=-1):
    e = np.exp(np.clip(x, -500, 500))
    return e / e.sum(axis=axis, keepdims=True)
""",
        "you clipped the scores",
    ),
    "epsilon": (
        """
def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / (e.sum(axis=axis, keepdims=True) + 1e-8)
""",
        "an epsilon 'for safety'",
    ),
    "small_epsilon": (
        """
def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / (e.sum(axis=axis, keepdims=True) + 1e-10)
""",
        "an epsilon 'for safety'",
    ),
    "sum_along_last_axis": (
        """
def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
""",
        "but the sum along the last axis",
    ),
    "not_divided": (
        """
def softmax(x, axis=-1):
    return np.exp(x - np.max(x, axis=axis, keepdims=True))
""",
        "without dividing by their sum",
    ),
}
MISTAKES["scaled_dot_product_attention"] |= {
    "scale_by_axis_1": (
        """
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores)
    return weights @ V, weights
""",
        "you scaled by sqrt(Q.shape[1])",
    ),
    "additive_mask_times_inf": (
        """
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = scores + (~mask) * -np.inf
    weights = softmax(scores)
    return weights @ V, weights
""",
        "0 * -inf = nan",
    ),
    "np_dot_on_batch": (
        """
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = np.dot(Q, np.swapaxes(K, -1, -2)) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores)
    return np.dot(weights, V), weights
""",
        "np.dot pairs every sequence",
    ),
    "weights_transposed": (
        """
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores)
    return weights @ V, np.swapaxes(weights, -1, -2)
""",
        "you returned the weights transposed",
    ),
    "scaled_after_softmax": (
        """
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores) / np.sqrt(Q.shape[-1])
    return weights @ V, weights
""",
        "divided the weights by sqrt(d_k) after the softmax",
    ),
    "finite_fill": (
        """
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -100.0)
    weights = softmax(scores)
    return weights @ V, weights
""",
        "not exactly 0",
    ),
    "mask_after_softmax_renormalised": (
        """
def scaled_dot_product_attention(Q, K, V, mask=None):
    weights = softmax(Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1]))
    if mask is not None:
        weights = weights * mask
        weights = weights / weights.sum(axis=-1, keepdims=True)
    return weights @ V, weights
""",
        "divided by what was left",
    ),
}
MISTAKES["causal_mask"] |= {
    "additive_float_mask": (
        """
def causal_mask(n):
    return np.triu(np.full((n, n), -np.inf), k=1)
""",
        "an additive mask of floats",
    ),
    "list": (
        """
def causal_mask(n):
    return [[j <= i for j in range(n)] for i in range(n)]
""",
        "a list has no ~ or .T",
    ),
    "mirrored": (
        """
def causal_mask(n):
    return np.fliplr(np.tril(np.ones((n, n), dtype=bool)))
""",
        "mirrored left to right",
    ),
}
MISTAKES["positional_encoding"] |= {
    "exponent_over_pair_index": (
        """
def positional_encoding(n, d):
    angles = np.arange(n)[:, None] / 10000 ** (np.arange(d // 2) / d)
    pe = np.zeros((n, d))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles)
    return pe
""",
        "You used i/d",
    ),
    "exponent_over_d_minus_1": (
        """
def positional_encoding(n, d):
    angles = np.arange(n)[:, None] / 10000 ** (np.arange(0, d, 2) / (d - 1))
    pe = np.zeros((n, d))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles)
    return pe
""",
        "You divided by d - 1",
    ),
    "integer_division": (
        """
def positional_encoding(n, d):
    angles = np.arange(n)[:, None] / 10000 ** (np.arange(0, d, 2) // d)
    pe = np.zeros((n, d))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles)
    return pe
""",
        "is an integer division",
    ),
    "transposed": (
        """
def positional_encoding(n, d):
    angles = np.arange(n)[None, :] / 10000 ** (np.arange(0, d, 2)[:, None] / d)
    pe = np.zeros((d, n))
    pe[0::2] = np.sin(angles)
    pe[1::2] = np.cos(angles)
    return pe
""",
        "your result is transposed",
    ),
    "integer_array": (
        """
def positional_encoding(n, d):
    angles = np.arange(n)[:, None] / 10000 ** (np.arange(0, d, 2) / d)
    pe = np.zeros((n, d), dtype=int)
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles)
    return pe
""",
        "your array holds integers",
    ),
    "float32": (
        """
def positional_encoding(n, d):
    angles = np.arange(n)[:, None] / 10000 ** (np.arange(0, d, 2) / d)
    pe = np.zeros((n, d), dtype=np.float32)
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles)
    return pe
""",
        "has dtype float32, not float64",
    ),
    "float32_angles": (
        """
def positional_encoding(n, d):
    pos = np.arange(n, dtype=np.float32)[:, None]
    angles = pos / np.float32(10000) ** (np.arange(0, d, 2, dtype=np.float32) / np.float32(d))
    pe = np.zeros((n, d), dtype=np.float32)
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles)
    return pe
""",
        "your result is float32",
    ),
}
MISTAKES["rotary_embedding"] |= {
    "cos_and_sin_swapped": (
        """
def rotary_embedding(X, positions, base=10000.0):
    d = X.shape[-1]
    theta = np.outer(positions, base ** (-np.arange(0, d, 2) / d))
    x1, x2 = X[..., 0::2], X[..., 1::2]
    out = np.empty(X.shape)
    out[..., 0::2] = x1 * np.sin(theta) - x2 * np.cos(theta)
    out[..., 1::2] = x1 * np.cos(theta) + x2 * np.sin(theta)
    return out
""",
        "cos and sin swapped places",
    ),
    "second_from_turned_first": (
        """
def rotary_embedding(X, positions, base=10000.0):
    d = X.shape[-1]
    theta = np.outer(positions, base ** (-np.arange(0, d, 2) / d))
    out = X.copy()
    out[..., 0::2] = X[..., 0::2] * np.cos(theta) - X[..., 1::2] * np.sin(theta)
    out[..., 1::2] = out[..., 0::2] * np.sin(theta) + X[..., 1::2] * np.cos(theta)
    return out
""",
        "from the first one already turned",
    ),
    "multiplied_by_the_rate": (
        """
def rotary_embedding(X, positions, base=10000.0):
    d = X.shape[-1]
    theta = np.outer(positions, base ** (np.arange(0, d, 2) / d))
    x1, x2 = X[..., 0::2], X[..., 1::2]
    out = np.empty(X.shape)
    out[..., 0::2] = x1 * np.cos(theta) - x2 * np.sin(theta)
    out[..., 1::2] = x1 * np.sin(theta) + x2 * np.cos(theta)
    return out
""",
        "You multiplied by base^(+2i/d)",
    ),
    "exponent_over_d_minus_1": (
        """
def rotary_embedding(X, positions, base=10000.0):
    d = X.shape[-1]
    theta = np.outer(positions, base ** (-np.arange(0, d, 2) / (d - 1)))
    x1, x2 = X[..., 0::2], X[..., 1::2]
    out = np.empty(X.shape)
    out[..., 0::2] = x1 * np.cos(theta) - x2 * np.sin(theta)
    out[..., 1::2] = x1 * np.sin(theta) + x2 * np.cos(theta)
    return out
""",
        "You divided by d - 1",
    ),
    "base_ignored": (
        """
def rotary_embedding(X, positions, base=10000.0):
    d = X.shape[-1]
    theta = np.outer(positions, 10000.0 ** (-np.arange(0, d, 2) / d))
    x1, x2 = X[..., 0::2], X[..., 1::2]
    out = np.empty(X.shape)
    out[..., 0::2] = x1 * np.cos(theta) - x2 * np.sin(theta)
    out[..., 1::2] = x1 * np.sin(theta) + x2 * np.cos(theta)
    return out
""",
        "the base argument was ignored",
    ),
}
MISTAKES["self_attention"] |= {
    "always_causal": (
        """
def self_attention(X, W_q, W_k, W_v, mask=None):
    if mask is None:
        n = X.shape[-2]
        mask = np.tril(np.ones((n, n), dtype=bool))
    return scaled_dot_product_attention(X @ W_q, X @ W_k, X @ W_v, mask)
""",
        "with no mask (mask=None)",
    ),
    "scaled_twice": (
        """
def self_attention(X, W_q, W_k, W_v, mask=None):
    Q = X @ W_q / np.sqrt(W_q.shape[-1])
    return scaled_dot_product_attention(Q, X @ W_k, X @ W_v, mask)
""",
        "scales twice",
    ),
    "output_only": (
        """
def self_attention(X, W_q, W_k, W_v, mask=None):
    out, _ = scaled_dot_product_attention(X @ W_q, X @ W_k, X @ W_v, mask)
    return out
""",
        "return 2 values (the output, the weights)",
    ),
    "one_max_for_all": (
        """
def self_attention(X, W_q, W_k, W_v, mask=None):
    Q, K, V = X @ W_q, X @ W_k, X @ W_v
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    e = np.exp(scores - scores.max())
    w = e / e.sum(axis=-1, keepdims=True)
    return w @ V, w
""",
        "one max for all the scores",
    ),
}
MISTAKES["cross_attention"] |= {
    "mask_inverted": (
        """
def cross_attention(X, memory, W_q, W_k, W_v, mask=None):
    if mask is not None:
        mask = ~mask
    return scaled_dot_product_attention(X @ W_q, memory @ W_k, memory @ W_v, mask)
""",
        "key_padding_mask is the other way round",
    ),
    "values_from_keys": (
        """
def cross_attention(X, memory, W_q, W_k, W_v, mask=None):
    return scaled_dot_product_attention(X @ W_q, memory @ W_k, memory @ W_k, mask)
""",
        "the values came from W_k",
    ),
    "queries_from_memory": (
        """
def cross_attention(X, memory, W_q, W_k, W_v, mask=None):
    return scaled_dot_product_attention(memory @ W_q, memory @ W_k, memory @ W_v, mask)
""",
        "the queries came from memory too",
    ),
    "mask_transposed": (
        """
def cross_attention(X, memory, W_q, W_k, W_v, mask=None):
    if mask is not None:
        mask = np.swapaxes(mask, -1, -2)
    return scaled_dot_product_attention(X @ W_q, memory @ W_k, memory @ W_v, mask)
""",
        "the mask was transposed",
    ),
}
MISTAKES["split_heads"] |= {
    "heads_axis_in_front": (
        """
def split_heads(X, num_heads):
    if X.shape[-1] % num_heads:
        raise ValueError("d_model is not divisible by num_heads")
    return np.array(np.split(X, num_heads, axis=-1))
""",
        "the right axes in the wrong order",
    ),
    "one_sequence_only": (
        """
def split_heads(X, num_heads):
    n, d_model = X.shape[-2:]
    if d_model % num_heads:
        raise ValueError("d_model is not divisible by num_heads")
    return X.reshape(n, num_heads, d_model // num_heads).transpose(1, 0, 2)
""",
        "leaves the batch out",
    ),
}
MISTAKES["combine_heads"] |= {
    "concatenate_along_axis_0": (
        """
def combine_heads(X):
    return np.concatenate(X, axis=-1)
""",
        "take X apart along its first axis",
    ),
    "hstack": (
        """
def combine_heads(X):
    return np.hstack(X)
""",
        "take X apart along its first axis",
    ),
    "batch_flattened": (
        """
def combine_heads(X):
    h, n, d_head = X.shape[-3:]
    return np.swapaxes(X, -3, -2).reshape(-1, h * d_head)
""",
        "the batch axes were merged into one",
    ),
}
MISTAKES["multi_head_attention"] |= {
    "weights_averaged": (
        """
def multi_head_attention(X, W_q, W_k, W_v, W_o, num_heads, mask=None):
    Q, K, V = (split_heads(X @ W, num_heads) for W in (W_q, W_k, W_v))
    if mask is not None:
        mask = np.expand_dims(mask, -3)
    heads, weights = scaled_dot_product_attention(Q, K, V, mask)
    return combine_heads(heads) @ W_o, weights.mean(axis=-3)
""",
        "averaged over the heads",
    ),
    "w_o_per_head": (
        """
def multi_head_attention(X, W_q, W_k, W_v, W_o, num_heads, mask=None):
    Q, K, V = (split_heads(X @ W, num_heads) for W in (W_q, W_k, W_v))
    if mask is not None:
        mask = np.expand_dims(mask, -3)
    heads, weights = scaled_dot_product_attention(Q, K, V, mask)
    d_head = X.shape[-1] // num_heads
    return (heads @ W_o[:d_head]).sum(axis=-3), weights
""",
        "the same first d_head rows of W_o",
    ),
    "split_before_projecting": (
        """
def multi_head_attention(X, W_q, W_k, W_v, W_o, num_heads, mask=None):
    Xh = split_heads(X, num_heads)
    d = Xh.shape[-1]
    Q, K, V = (Xh @ W[:d, :d] for W in (W_q, W_k, W_v))
    if mask is not None:
        mask = np.expand_dims(mask, -3)
    heads, weights = scaled_dot_product_attention(Q, K, V, mask)
    return combine_heads(heads) @ W_o, weights
""",
        "you split X into heads before projecting",
    ),
    "always_causal": (
        """
def multi_head_attention(X, W_q, W_k, W_v, W_o, num_heads, mask=None):
    if mask is None:
        n = X.shape[-2]
        mask = np.tril(np.ones((n, n), dtype=bool))
    Q, K, V = (split_heads(X @ W, num_heads) for W in (W_q, W_k, W_v))
    heads, weights = scaled_dot_product_attention(Q, K, V, np.expand_dims(mask, -3))
    return combine_heads(heads) @ W_o, weights
""",
        "with no mask (mask=None)",
    ),
}
MISTAKES["grouped_query_attention"] |= {
    "kv_head_by_num_kv_heads": (
        """
def grouped_query_attention(X, W_q, W_k, W_v, W_o, num_heads, num_kv_heads, mask=None):
    if num_heads % num_kv_heads:
        raise ValueError("num_heads is not divisible by num_kv_heads")
    Q = split_heads(X @ W_q, num_heads)
    K = split_heads(X @ W_k, num_kv_heads)
    V = split_heads(X @ W_v, num_kv_heads)
    which = [h // num_kv_heads for h in range(num_heads)]
    K, V = K[..., which, :, :], V[..., which, :, :]
    if mask is not None:
        mask = np.expand_dims(mask, -3)
    heads, weights = scaled_dot_product_attention(Q, K, V, mask)
    return combine_heads(heads) @ W_o, weights
""",
        "h // num_kv_heads divides by the number",
    ),
    "scale_by_d_model": (
        """
def grouped_query_attention(X, W_q, W_k, W_v, W_o, num_heads, num_kv_heads, mask=None):
    if num_heads % num_kv_heads:
        raise ValueError("num_heads is not divisible by num_kv_heads")
    group = num_heads // num_kv_heads
    Q = split_heads(X @ W_q, num_heads)
    K = np.repeat(split_heads(X @ W_k, num_kv_heads), group, axis=-3)
    V = np.repeat(split_heads(X @ W_v, num_kv_heads), group, axis=-3)
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(X.shape[-1])
    if mask is not None:
        scores = np.where(np.expand_dims(mask, -3), scores, -np.inf)
    exps = np.exp(scores - scores.max(axis=-1, keepdims=True))  # notebook 05 imports no softmax
    weights = exps / exps.sum(axis=-1, keepdims=True)
    return combine_heads(weights @ V) @ W_o, weights
""",
        "you scaled by sqrt(d_model)",
    ),
    "always_causal": (
        """
def grouped_query_attention(X, W_q, W_k, W_v, W_o, num_heads, num_kv_heads, mask=None):
    if num_heads % num_kv_heads:
        raise ValueError("num_heads is not divisible by num_kv_heads")
    group = num_heads // num_kv_heads
    if mask is None:
        n = X.shape[-2]
        mask = np.tril(np.ones((n, n), dtype=bool))
    Q = split_heads(X @ W_q, num_heads)
    K = np.repeat(split_heads(X @ W_k, num_kv_heads), group, axis=-3)
    V = np.repeat(split_heads(X @ W_v, num_kv_heads), group, axis=-3)
    heads, weights = scaled_dot_product_attention(Q, K, V, np.expand_dims(mask, -3))
    return combine_heads(heads) @ W_o, weights
""",
        "with no mask (mask=None)",
    ),
}
MISTAKES["max_path_length"] |= {
    "one_hop_too_few": (
        """
def max_path_length(mask):
    n = len(mask)
    step = mask | np.eye(n, dtype=bool)
    reach = step.copy()
    hops = 0
    while True:
        new = (step.astype(int) @ reach.astype(int)) > 0
        if (new == reach).all():
            return hops
        reach = new
        hops += 1
""",
        "one hop too few",
    ),
    "matrix_power_overflow": (
        """
def max_path_length(mask):
    n = len(mask)
    step = (mask | np.eye(n, dtype=bool)).astype(np.int64)
    prev = np.eye(n, dtype=bool)
    for k in range(1, n + 1):
        cur = np.linalg.matrix_power(step, k) > 0
        if (cur == prev).all():
            return k - 1
        prev = cur
    return n
""",
        "pass 2^63 and wrap around",
    ),
    "until_gains_shrink": (
        """
def max_path_length(mask):
    n = len(mask)
    step = mask | np.eye(n, dtype=bool)
    reach = np.eye(n, dtype=bool)
    hops, last_new = 0, None
    while True:
        new = (step.astype(int) @ reach.astype(int)) > 0
        gained = int(new.sum() - reach.sum())
        if gained == 0 or (last_new is not None and gained < last_new):
            return hops
        reach, hops, last_new = new, hops + 1, gained
""",
        "Fewer is not none",
    ),
    "until_all_connected_capped": (
        """
def max_path_length(mask):
    n = len(mask)
    step = mask | np.eye(n, dtype=bool)
    reach = np.eye(n, dtype=bool)
    for hops in range(n):
        if reach.all():
            return hops
        reach = (step.astype(int) @ reach.astype(int)) > 0
    return n - 1
""",
        "waiting until every pair is connected",
    ),
}
MISTAKES["decode_step"] |= {
    "positions_axis_kept": (
        """
def decode_step(x_t, k_cache, v_cache, W_q, W_k, W_v):
    q = (x_t @ W_q)[..., None, :]
    keys = np.concatenate([k_cache, (x_t @ W_k)[..., None, :]], axis=-2)
    values = np.concatenate([v_cache, (x_t @ W_v)[..., None, :]], axis=-2)
    out, _ = scaled_dot_product_attention(q, keys, values)
    return out, keys, values
""",
        "an extra axis of length 1",
    ),
    "scale_by_d_model": (
        """
def decode_step(x_t, k_cache, v_cache, W_q, W_k, W_v):
    q = x_t @ W_q
    keys = np.concatenate([k_cache, (x_t @ W_k)[..., None, :]], axis=-2)
    values = np.concatenate([v_cache, (x_t @ W_v)[..., None, :]], axis=-2)
    scores = np.einsum("...d,...td->...t", q, keys) / np.sqrt(x_t.shape[-1])
    exps = np.exp(scores - scores.max(axis=-1, keepdims=True))  # notebook 06 imports no softmax
    w = exps / exps.sum(axis=-1, keepdims=True)
    return np.einsum("...t,...tv->...v", w, values), keys, values
""",
        "you scaled by sqrt(d_model), the token's width",
    ),
    "first_token_only": (
        """
def decode_step(x_t, k_cache, v_cache, W_q, W_k, W_v):
    q = (x_t @ W_q)[..., None, :]
    keys = np.concatenate([k_cache, (x_t @ W_k)[..., None, :]], axis=-2)
    values = np.concatenate([v_cache, (x_t @ W_v)[..., None, :]], axis=-2)
    t1 = keys.shape[-2]
    out, _ = scaled_dot_product_attention(q, keys, values, np.tril(np.ones((t1, t1), dtype=bool))[:1])
    return out[..., 0, :], keys, values
""",
        "attended to the first token only",
    ),
    "global_max": (
        """
def decode_step(x_t, k_cache, v_cache, W_q, W_k, W_v):
    q = x_t @ W_q
    keys = np.concatenate([k_cache, (x_t @ W_k)[..., None, :]], axis=-2)
    values = np.concatenate([v_cache, (x_t @ W_v)[..., None, :]], axis=-2)
    s = np.einsum("...d,...td->...t", q, keys) / np.sqrt(q.shape[-1])
    e = np.exp(s - s.max())
    w = e / e.sum(axis=-1, keepdims=True)
    return np.einsum("...t,...tv->...v", w, values), keys, values
""",
        "one max for the whole batch",
    ),
}
MISTAKES["blockwise_attention"] |= {
    "no_inf_guard": (
        """
def blockwise_attention(Q, K, V, block_size, mask=None):
    n_k, d_k = K.shape[-2:]
    top = np.full(Q.shape[:-1] + (1,), -np.inf)
    total = np.zeros(Q.shape[:-1] + (1,))
    out = np.zeros(Q.shape[:-1] + V.shape[-1:])
    for start in range(0, n_k, block_size):
        s = Q @ np.swapaxes(K[..., start:start + block_size, :], -1, -2) / np.sqrt(d_k)
        if mask is not None:
            s = np.where(mask[..., start:start + block_size], s, -np.inf)
        new_top = np.maximum(top, s.max(axis=-1, keepdims=True))
        p = np.exp(s - new_top)
        r = np.exp(top - new_top)
        total = total * r + p.sum(axis=-1, keepdims=True)
        out = out * r + p @ V[..., start:start + block_size, :]
        top = new_top
    return out / total
""",
        "-inf - (-inf) is nan",
    ),
    "rescale_inverted": (
        """
def blockwise_attention(Q, K, V, block_size, mask=None):
    n_k, d_k = K.shape[-2:]
    top = np.full(Q.shape[:-1] + (1,), -np.inf)
    total = np.zeros(Q.shape[:-1] + (1,))
    out = np.zeros(Q.shape[:-1] + V.shape[-1:])
    for start in range(0, n_k, block_size):
        s = Q @ np.swapaxes(K[..., start:start + block_size, :], -1, -2) / np.sqrt(d_k)
        if mask is not None:
            s = np.where(mask[..., start:start + block_size], s, -np.inf)
        new_top = np.maximum(top, s.max(axis=-1, keepdims=True))
        shift = np.where(np.isneginf(new_top), 0.0, new_top)
        old = np.where(np.isneginf(top), shift, top)
        r = np.where(np.isneginf(top), 0.0, np.exp(shift - old))
        p = np.exp(s - shift)
        total = total * r + p.sum(axis=-1, keepdims=True)
        out = out * r + p @ V[..., start:start + block_size, :]
        top = new_top
    return out / total
""",
        "the correction is upside down",
    ),
    "max_not_updated": (
        """
def blockwise_attention(Q, K, V, block_size, mask=None):
    n_k, d_k = K.shape[-2:]
    top = np.full(Q.shape[:-1] + (1,), -np.inf)
    total = np.zeros(Q.shape[:-1] + (1,))
    out = np.zeros(Q.shape[:-1] + V.shape[-1:])
    for start in range(0, n_k, block_size):
        s = Q @ np.swapaxes(K[..., start:start + block_size, :], -1, -2) / np.sqrt(d_k)
        if mask is not None:
            s = np.where(mask[..., start:start + block_size], s, -np.inf)
        new_top = np.maximum(top, s.max(axis=-1, keepdims=True))
        shift = np.where(np.isneginf(new_top), 0.0, new_top)
        p = np.exp(s - shift)
        r = np.exp(top - shift)
        total = total * r + p.sum(axis=-1, keepdims=True)
        out = out * r + p @ V[..., start:start + block_size, :]
    return out / total
""",
        "was never updated",
    ),
    "blocks_overlap": (
        """
def blockwise_attention(Q, K, V, block_size, mask=None):
    n_k, d_k = K.shape[-2:]
    top = np.full(Q.shape[:-1] + (1,), -np.inf)
    total = np.zeros(Q.shape[:-1] + (1,))
    out = np.zeros(Q.shape[:-1] + V.shape[-1:])
    for start in range(0, n_k, block_size):
        block = slice(start, start + block_size + 1)
        s = Q @ np.swapaxes(K[..., block, :], -1, -2) / np.sqrt(d_k)
        if mask is not None:
            s = np.where(mask[..., block], s, -np.inf)
        new_top = np.maximum(top, s.max(axis=-1, keepdims=True))
        shift = np.where(np.isneginf(new_top), 0.0, new_top)
        p = np.exp(s - shift)
        r = np.exp(top - shift)
        total = total * r + p.sum(axis=-1, keepdims=True)
        out = out * r + p @ V[..., block, :]
        top = new_top
    return out / total
""",
        "your blocks overlap",
    ),
    "one_max_for_all": (
        """
def blockwise_attention(Q, K, V, block_size, mask=None):
    n_k, d_k = K.shape[-2:]
    top = -np.inf
    total = np.zeros(Q.shape[:-1] + (1,))
    out = np.zeros(Q.shape[:-1] + V.shape[-1:])
    for start in range(0, n_k, block_size):
        s = Q @ np.swapaxes(K[..., start:start + block_size, :], -1, -2) / np.sqrt(d_k)
        if mask is not None:
            s = np.where(mask[..., start:start + block_size], s, -np.inf)
        new_top = max(top, s.max())
        r = np.exp(top - new_top)
        p = np.exp(s - new_top)
        total = total * r + p.sum(axis=-1, keepdims=True)
        out = out * r + p @ V[..., start:start + block_size, :]
        top = new_top
    return out / total
""",
        "one running maximum for every query",
    ),
}

SAME_MISTAKE |= {
    ("similarity_scores", "inner"): "query_transposed",
    ("softmax", "small_epsilon"): "epsilon",
    ("combine_heads", "hstack"): "concatenate_along_axis_0",
    ("max_path_length", "matrix_power_overflow"): "path_counts_overflow",
    ("max_path_length", "until_all_connected_capped"): "until_all_connected",
}


# Right code written in unusual ways, found by the same walkthrough: every check must pass it, visible and hidden,
# whatever new case or mistake a change brings (einsum, loops, logsumexp, complex numbers, BFS...).
UNUSUAL_BUT_RIGHT = {
    "similarity_scores": {
        # explicit loops over every index (ndindex)
        "loop": """
def similarity_scores(query, keys):
    out = np.zeros(keys.shape[:-1])
    for idx in np.ndindex(*keys.shape[:-1]):
        total = 0.0
        for f in range(keys.shape[-1]):
            total += keys[idx][f] * query[idx[:-1]][f]
        out[idx] = total
    return out
""",
        # matmul with an explicit trailing axis, indexed away with [..., 0]
        "matvec": """
def similarity_scores(query, keys):
    return np.matmul(keys, query[..., None])[..., 0]
""",
        # numpy 2's np.vecdot with the query given a positions axis
        "vecdot": """
def similarity_scores(query, keys):
    return np.vecdot(keys, query[..., None, :])
""",
    },
    "soft_lookup": {
        # weights as a (…, 1, n) row times values, then [..., 0, :]
        "matmul_row": """
def soft_lookup(query, keys, values):
    w = softmax(similarity_scores(query, keys))
    return (w[..., None, :] @ values)[..., 0, :]
""",
    },
    "softmax": {
        # exp(x - logsumexp(x)) written out
        "logsumexp": """
def softmax(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    lse = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return np.exp(x - lse)
""",
        # moves `axis` to the end and loops over rows in Python
        "moveaxis_loop": """
def softmax(x, axis=-1):
    y = np.moveaxis(np.array(x, dtype=float), axis, -1)
    out = np.empty_like(y)
    for idx in np.ndindex(*y.shape[:-1]):
        row = y[idx]
        e = np.exp(row - row.max())
        out[idx] = e / e.sum()
    return np.moveaxis(out, -1, axis)
""",
    },
    "scaled_dot_product_attention": {
        # einsum and a -1e9 fill (PyTorch-tutorial style)
        "fill_1e9_einsum": """
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = np.einsum("...qd,...kd->...qk", Q, K) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -1e9)
    weights = softmax(scores)
    return np.einsum("...qk,...kv->...qv", weights, V), weights
""",
        # additive mask built with np.where(mask, 0, -inf)
        "additive_where": """
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = scores + np.where(mask, 0.0, -np.inf)
    weights = softmax(scores)
    return weights @ V, weights
""",
    },
    "causal_mask": {
        # np.tri(n, dtype=bool)
        "tri": """
def causal_mask(n):
    return np.tri(n, dtype=bool)
""",
        # ~np.triu(ones bool, k=1)
        "not_triu": """
def causal_mask(n):
    return ~np.triu(np.ones((n, n), dtype=bool), k=1)
""",
    },
    "positional_encoding": {
        # PyTorch tutorial's exp(-log(10000) * 2i/d) and an interleaving stack + reshape
        "exp_log_stack": """
def positional_encoding(n, d):
    div = np.exp(np.arange(0, d, 2) * (-np.log(10000.0) / d))
    angles = np.arange(n)[:, None] * div
    return np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(n, d)
""",
        # double loop with math.sin / math.cos
        "double_loop": """
import math
def positional_encoding(n, d):
    pe = np.zeros((n, d))
    for p in range(n):
        for i in range(d // 2):
            a = p / 10000 ** (2 * i / d)
            pe[p, 2 * i] = math.sin(a)
            pe[p, 2 * i + 1] = math.cos(a)
    return pe
""",
    },
    "rotary_embedding": {
        # complex numbers: (x1 + i x2) * exp(i theta)
        "complex": """
def rotary_embedding(X, positions, base=10000.0):
    d = X.shape[-1]
    theta = np.outer(positions, base ** (-np.arange(0, d, 2) / d))
    z = (X[..., 0::2] + 1j * X[..., 1::2]) * np.exp(1j * theta)
    out = np.empty(X.shape)
    out[..., 0::2], out[..., 1::2] = z.real, z.imag
    return out
""",
        # explicit 2x2 rotation matrices and einsum over pairs
        "rotmat": """
def rotary_embedding(X, positions, base=10000.0):
    n, d = X.shape[-2:]
    theta = np.asarray(positions)[:, None] * base ** (-np.arange(0, d, 2) / d)
    c, s = np.cos(theta), np.sin(theta)
    R = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)  # (n, d/2, 2, 2)
    pairs = X.reshape(*X.shape[:-1], d // 2, 2)
    return np.einsum("npij,...npj->...npi", R, pairs).reshape(X.shape)
""",
    },
    "self_attention": {
        # np.tensordot(X, W, axes=1) and np.dot for the projections
        "tensordot": """
def self_attention(X, W_q, W_k, W_v, mask=None):
    Q, K = np.tensordot(X, W_q, axes=1), np.dot(X, W_k)
    return scaled_dot_product_attention(Q, K, np.einsum("...nd,dv->...nv", X, W_v), mask)
""",
    },
    "split_heads": {
        # np.stack(np.split(X, h, axis=-1), axis=-3)
        "stack_split": """
def split_heads(X, num_heads):
    if X.shape[-1] % num_heads:
        raise ValueError(f"{X.shape[-1]} is not divisible by {num_heads}")
    return np.stack(np.split(X, num_heads, axis=-1), axis=-3)
""",
    },
    "combine_heads": {
        # concatenate a list of the heads along the last axis
        "list": """
def combine_heads(X):
    return np.concatenate([X[..., h, :, :] for h in range(X.shape[-3])], axis=-1)
""",
        # einsum to move axes, then reshape
        "einsum": """
def combine_heads(X):
    Y = np.einsum("...hnd->...nhd", X)
    return Y.reshape(*Y.shape[:-2], -1)
""",
        # np.concatenate over the heads moved to the front
        "moveaxis_concat": """
def combine_heads(X):
    return np.concatenate(list(np.moveaxis(X, -3, 0)), axis=-1)
""",
    },
    "multi_head_attention": {
        # loop over heads with column slices of the projection matrices, concatenate
        "loop_heads": """
def multi_head_attention(X, W_q, W_k, W_v, W_o, num_heads, mask=None):
    d_model = X.shape[-1]
    if d_model % num_heads:
        raise ValueError("d_model is not divisible by num_heads")
    d = d_model // num_heads
    outs, ws = [], []
    for h in range(num_heads):
        cols = slice(h * d, (h + 1) * d)
        o, w = scaled_dot_product_attention(X @ W_q[:, cols], X @ W_k[:, cols], X @ W_v[:, cols], mask)
        outs.append(o)
        ws.append(w)
    return np.concatenate(outs, axis=-1) @ W_o, np.stack(ws, axis=-3)
""",
    },
    "grouped_query_attention": {
        # loop over query heads, each slicing its group's key/value columns
        "loop": """
def grouped_query_attention(X, W_q, W_k, W_v, W_o, num_heads, num_kv_heads, mask=None):
    if num_heads % num_kv_heads:
        raise ValueError("num_heads is not divisible by num_kv_heads")
    d = X.shape[-1] // num_heads
    group = num_heads // num_kv_heads
    outs, ws = [], []
    for h in range(num_heads):
        g = h // group
        q = X @ W_q[:, h * d:(h + 1) * d]
        k = X @ W_k[:, g * d:(g + 1) * d]
        v = X @ W_v[:, g * d:(g + 1) * d]
        o, w = scaled_dot_product_attention(q, k, v, mask)
        outs.append(o)
        ws.append(w)
    return np.concatenate(outs, axis=-1) @ W_o, np.stack(ws, axis=-3)
""",
    },
    "max_path_length": {
        # breadth-first search from every position, max over finite distances
        "bfs": """
from collections import deque
def max_path_length(mask):
    n = len(mask)
    best = 0
    for src in range(n):
        dist = {src: 0}
        todo = deque([src])
        while todo:
            j = todo.popleft()
            for i in np.nonzero(mask[:, j])[0]:
                if int(i) not in dist:
                    dist[int(i)] = dist[j] + 1
                    todo.append(int(i))
        best = max(best, max(dist.values()))
    return best
""",
        # Floyd-Warshall on hop distances (inf for unconnected), max over finite off-diagonal
        "floyd": """
def max_path_length(mask):
    n = len(mask)
    dist = np.where(mask, 1.0, np.inf)
    np.fill_diagonal(dist, 0.0)
    for k in range(n):
        dist = np.minimum(dist, dist[:, k:k + 1] + dist[k:k + 1, :])
    finite = dist[np.isfinite(dist)]
    return int(finite.max()) if finite.size else 0
""",
        # boolean @ boolean (numpy's logical matmul), no int conversion
        "bool_matmul": """
def max_path_length(mask):
    n = len(mask)
    step = mask | np.eye(n, dtype=bool)
    reach = np.eye(n, dtype=bool)
    hops = 0
    while True:
        new = step @ reach
        if np.array_equal(new, reach):
            return hops
        reach, hops = new, hops + 1
""",
        # np.linalg.matrix_power on a boolean matrix, k = 0, 1, 2, ...
        "matrix_power_bool": """
def max_path_length(mask):
    n = len(mask)
    step = mask | np.eye(n, dtype=bool)
    prev = np.eye(n, dtype=bool)
    for k in range(1, n + 1):
        cur = np.linalg.matrix_power(step, k)
        if np.array_equal(cur, prev):
            return k - 1
        prev = cur
    return n
""",
    },
    "decode_step": {
        # np.append along axis -2 and the weights written out with einsum
        "append": """
def decode_step(x_t, k_cache, v_cache, W_q, W_k, W_v):
    q, k, v = x_t @ W_q, x_t @ W_k, x_t @ W_v
    keys = np.append(k_cache, k[..., None, :], axis=-2)
    values = np.append(v_cache, v[..., None, :], axis=-2)
    s = np.einsum("...d,...td->...t", q, keys) / np.sqrt(q.shape[-1])
    w = np.exp(s - s.max(axis=-1, keepdims=True))
    w = w / w.sum(axis=-1, keepdims=True)
    return np.einsum("...t,...tv->...v", w, values), keys, values
""",
    },
    "blockwise_attention": {
        # keeps the running output already normalised (divides at every block), with max and sum
        "normalised_online": """
def blockwise_attention(Q, K, V, block_size, mask=None):
    n_k, d_k = K.shape[-2:]
    m = np.full(Q.shape[:-1] + (1,), -np.inf)
    l = np.zeros(Q.shape[:-1] + (1,))
    o = np.zeros(Q.shape[:-1] + V.shape[-1:])
    for start in range(0, n_k, block_size):
        s = Q @ np.swapaxes(K[..., start:start + block_size, :], -1, -2) / np.sqrt(d_k)
        if mask is not None:
            s = np.where(mask[..., start:start + block_size], s, -np.inf)
        m_new = np.maximum(m, s.max(axis=-1, keepdims=True))
        safe = np.where(np.isneginf(m_new), 0.0, m_new)
        p = np.exp(s - safe)
        l_new = l * np.exp(m - safe) + p.sum(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            summed = o * l * np.exp(m - safe) + p @ V[..., start:start + block_size, :]
            o = np.where(l_new > 0, summed / np.where(l_new > 0, l_new, 1.0), 0.0)
        m, l = m_new, l_new
    return o
""",
    },
}
