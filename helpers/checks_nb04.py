"""Notebook 04's checks: ``causal_mask``, ``positional_encoding``, ``rotary_embedding``, ``self_attention`` and
``cross_attention``: their property checks and error hints. :mod:`helpers.checks` gathers them with every other
notebook's and gives each its ``check_<name>``."""

import numpy as np

from helpers.checking import fixture, future_leaks, mask_index_error, mask_transposed_error, shape_error


def _rng(seed):
    return np.random.default_rng(seed)


def _weights(r, *shape):
    return r.normal(size=shape) / np.sqrt(shape[0])


def _causal_prop_bool(fn):
    mask = fn(4)
    if not isinstance(mask, np.ndarray):
        return (
            f"causal_mask(4) returned a {type(mask).__name__}, not a numpy array",
            "return a numpy array (np.tril and np.ones make them): the mask is used as one, ~mask and mask.T, "
            "and a list has no ~ or .T.",
        )
    if mask.dtype != bool:
        return (
            f"causal_mask(4) has dtype {mask.dtype}, not bool",
            "return booleans (True = may attend): make the array with dtype=bool. np.where and ~mask treat "
            "0/1 numbers differently from True/False.",
        )
    return None


def _rotary_error_hint(case, exc):
    if shape_error(exc) and np.ndim(case.args[0]) > 2:
        return (
            "with a batch X is (..., n, d), so axes counted from the front move: axis 1 is no longer the "
            "features, and X[:, 0::2] takes every other position of each sequence. Count from the end: the pairs "
            "come from the last axis (`...` stands for any batch axes), and the (n, d/2) angles broadcast against "
            "them."
        )
    if shape_error(exc):
        return (
            "make one angle per position and per pair: an (n, d/2) table, a column of positions times a row of "
            "d/2 speeds. It broadcasts against X[..., 0::2] and X[..., 1::2], each (..., n, d/2)."
        )
    return "read the error above: it names the line that failed."


def _rotary_prop_lengths(fn):
    X = _rng(24).normal(size=(2, 5, 8))
    turned = np.asarray(fn(X.copy(), np.arange(5)), dtype=float)
    if turned.shape == X.shape and not np.allclose(
        np.linalg.norm(turned, axis=-1), np.linalg.norm(X, axis=-1), rtol=1e-9, atol=1e-12
    ):
        return (
            "on random vectors, some tokens' lengths changed",
            "a rotation never changes a length: turn both features of a pair by the same angle, with the cos "
            "and sin of that one angle.",
        )
    return None


def _rotary_prop_offset(fn):
    q, k = _rng(25).normal(size=(2, 1, 8))

    def score(query_position, key_position):
        turned_q = np.asarray(fn(q.copy(), np.array([query_position])), dtype=float)
        turned_k = np.asarray(fn(k.copy(), np.array([key_position])), dtype=float)
        return float(np.sum(turned_q * turned_k))

    scores = [score(m, m - 2) for m in (2, 7, 1000)]
    if not np.allclose(scores, scores[0], rtol=1e-9, atol=1e-9):
        return (
            f"a query and a key 2 positions apart scored {np.round(scores, 4)} at positions 2, 7 and 1000",
            "the score of a turned query and a turned key must depend only on their offset: turn both features "
            "of a pair by one angle, the position times that pair's speed.",
        )
    return None


def _self_attention_error_hint(case, exc):
    if mask_index_error(exc):  # attention written out here, its mask an index
        return mask_index_error(exc)
    if mask_transposed_error(case, exc):
        return mask_transposed_error(case, exc)
    if shape_error(exc) and np.ndim(case.args[0]) > 2:
        return (
            "with a batch, `X.T` reverses every axis, batch axes included, so the column-vector form W_q.T @ X.T "
            "no longer lines one sequence's tokens up. Keep each row of X a token, (..., n, d_model), and multiply "
            "the weights from the right: that works for any number of batch axes."
        )
    if shape_error(exc):
        return (
            "weights multiply from the right: Q = X @ W_q, with X (..., n, d_model) and W_q (d_model, d_k)."
        )
    return "read the error above: it names the line that failed."


def _self_attention_prop_causal(fn):
    r = _rng(13)
    X = r.normal(size=(6, 4))
    W_q, W_k, W_v = _weights(r, 4, 4), _weights(r, 4, 4), _weights(r, 4, 3)
    if future_leaks(lambda X: fn(X, W_q, W_k, W_v, mask=fixture("causal_mask_6"))[0], X):
        return (
            "with a causal mask, changing the last token changed the outputs of earlier positions",
            "earlier positions must not see later ones: pass the mask on to scaled_dot_product_attention.",
        )
    return None


def _causal_error_hint(case, exc):
    return (
        "build an (n, n) boolean array, True on and below the diagonal: numpy has a function for the lower "
        "triangle of a matrix."
    )


def _encoding_error_hint(case, exc):
    if shape_error(exc):
        return "one row per position and one column per feature: an (n, d) array, with d/2 angles per row."
    return "read the error above: it names the line that failed."


def _cross_error_hint(case, exc):
    if mask_index_error(exc):  # attention written out here, its mask an index
        return mask_index_error(exc)
    if mask_transposed_error(case, exc):
        return mask_transposed_error(case, exc)
    if shape_error(exc):
        return (
            "the two sequences have different lengths, so each role must come from the right one: the queries "
            "from X, the keys and the values both from memory (each key belongs to the value it unlocks)."
        )
    return "read the error above: it names the line that failed."


def _cross_prop_padding(fn):
    """Padding carries no information: changing the memory's padded positions must change nothing."""
    r = _rng(17)
    X, memory = r.normal(size=(3, 4)), r.normal(size=(5, 4))
    W = [_weights(r, 4, 4) for _ in range(3)]
    keep = np.array([[True, True, True, False, False]])
    changed = memory.copy()
    changed[3:] += 10.0
    before, after = fn(X, memory, *W, mask=keep)[0], fn(X, changed, *W, mask=keep)[0]
    if not np.allclose(before, after, rtol=1e-12, atol=1e-12):
        return (
            "with a padding mask, changing the padded memory positions changed the output",
            "masked positions must get weight exactly 0: pass the mask on to scaled_dot_product_attention.",
        )
    return None


def _encoding_prop_float64(fn):
    encoding = fn(3, 4)
    if np.asarray(encoding).dtype != np.float64:
        return (
            f"positional_encoding(3, 4) has dtype {np.asarray(encoding).dtype}, not float64",
            "a float32 array (np.zeros(..., dtype=np.float32), or positions made in float32) keeps about 7 "
            "digits, and the angles of far positions lose their last ones: make the array and the angles in "
            "float64, numpy's default.",
        )
    return None


ARG_NAMES = {
    "causal_mask": ["n"],
    "positional_encoding": ["n", "d"],
    "rotary_embedding": ["X", "positions", "base"],
    "self_attention": ["X", "W_q", "W_k", "W_v", "mask"],
    "cross_attention": ["X", "memory", "W_q", "W_k", "W_v", "mask"],
}
PROPERTIES = {
    "causal_mask": [_causal_prop_bool],
    "positional_encoding": [_encoding_prop_float64],
    "rotary_embedding": [_rotary_prop_lengths, _rotary_prop_offset],
    "self_attention": [_self_attention_prop_causal],
    "cross_attention": [_cross_prop_padding],
}
ERROR_HINTS = {
    "causal_mask": _causal_error_hint,
    "positional_encoding": _encoding_error_hint,
    "rotary_embedding": _rotary_error_hint,
    "self_attention": _self_attention_error_hint,
    "cross_attention": _cross_error_hint,
}
