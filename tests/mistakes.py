"""Wrong implementations a student might really write, one per classic mistake, as notebook source code.

Each entry maps a graded function to {mistake id: (solution-cell code, text its hint must contain)}. The code is
written the way a student would write it, independently of the mistake models in ``helpers.checks``, so a test
that the right hint appears is a real test of the diagnosis. The same code is pasted into generated
submissions and graded by real ``nbgrader autograde`` in ``test_grading.py``.
"""

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
            "with a batch",
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
    weights = softmax(similarity_scores(query, keys), axis=0)
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

# Which notebook each graded function lives in.
NOTEBOOK_OF = {
    "similarity_scores": "01_queries_keys_values",
    "soft_lookup": "01_queries_keys_values",
    "softmax": "02_softmax",
    "scaled_dot_product_attention": "03_scaled_dot_product_attention",
}
