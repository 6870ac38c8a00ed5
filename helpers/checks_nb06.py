"""Notebook 06's checks: ``max_path_length``, ``decode_step`` (the key/value cache) and ``blockwise_attention``
(FlashAttention's online softmax): their property checks and error hints. :mod:`helpers.checks` gathers them
with every other notebook's and gives each its ``check_<name>``."""

import numpy as np

from helpers.checking import TookTooLong, fixture, peak_bytes, shape_error


def _decode_error_hint(case, exc):
    if shape_error(exc):
        return (
            "x_t is one token, (..., d_model), so its key x_t @ W_k is (..., d_k): give it a positions axis of "
            "length 1 before joining it to the cache, (..., t, d_k), along axis -2. The same for the value."
        )
    if case.args[1].shape[-2] == 0:
        return "with empty caches (the first token) the new token attends to itself alone: its weight is 1."
    return "read the error above: it names the line that failed."


def _decode_prop_causal(fn):
    """Decoding token by token from empty caches gives the rows of causal self-attention (fixture data)."""
    X, W_q, W_k, W_v, expected = (
        fixture(f"decode_{name}") for name in ("X", "W_q", "W_k", "W_v", "expected")
    )
    k_cache, v_cache = np.zeros((0, W_k.shape[1])), np.zeros((0, W_v.shape[1]))
    rows = []
    for x_t in X:
        output, k_cache, v_cache = fn(x_t.copy(), k_cache, v_cache, W_q, W_k, W_v)
        rows.append(np.asarray(output, dtype=float))
    if not np.allclose(np.stack(rows), expected, rtol=1e-9, atol=1e-12):
        return (
            "decoding 5 tokens one at a time from empty caches did not give the rows of causal self-attention",
            "pass each step's returned caches to the next step: token t attends to tokens 0..t, as row t of a "
            "causal mask allows.",
        )
    return None


def _path_error_hint(case, exc):
    if isinstance(exc, TookTooLong) and len(case.args[0]) < 50:
        return (
            "your loop waits for something that never comes. Waiting until every pair is connected cannot work "
            "where some pairs are never connected (under a causal mask, say); and integer path counts keep "
            "growing with every hop after the pattern of connected pairs has settled, so two hops' counts are "
            "never equal. Stop when a hop adds no new pair: compare True/False patterns."
        )
    if isinstance(exc, TookTooLong):
        return (
            "your loop never ended on a long sequence. If you multiply integer matrices, the counts of paths grow "
            "with every hop and pass what int64 holds, so the pattern of non-zero entries may never settle. Keep "
            "only whether a pair is connected."
        )
    return (
        "mask is a boolean (n, n) array. One hop is a matrix product of the mask with what each position "
        "reaches; turn counts back into True/False after each hop, and count hops until nothing new is reached."
    )


def _blockwise_error_hint(case, exc):
    if isinstance(exc, MemoryError):
        return (
            "your function ran out of memory: it builds the whole n_q x n_k score matrix, or another array as "
            "large (a block of queries against every key is as large when there are as many queries as the block "
            "holds). Build the scores of one block of keys at a time, and keep only running sums between blocks."
        )
    if shape_error(exc) and np.ndim(case.kwargs.get("mask")) > 2:
        return (
            "here the mask has one (n_q, n_k) mask per sequence, (batch, n_q, n_k), so its axis 1 is the "
            "queries, not the keys. Take a block's columns from the last axis, counting from the end (`...` for "
            "any batch axes), as you take its keys from K."
        )
    if shape_error(exc):
        return (
            "a block's scores are (..., n_q, block_size): Q against that block's keys only. The running maximum "
            "and sum are (..., n_q, 1) (keepdims=True), the running output (..., n_q, d_v)."
        )
    return "read the error above: it names the line that failed."


def _blockwise_prop_any_block_size(fn):
    r = np.random.default_rng(26)
    Q, K, V = r.normal(size=(4, 3)), r.normal(size=(9, 3)), r.normal(size=(9, 2))
    outputs = [np.asarray(fn(Q.copy(), K.copy(), V.copy(), size), dtype=float) for size in (1, 2, 4, 9)]
    if not all(np.allclose(out, outputs[-1], rtol=1e-9, atol=1e-12) for out in outputs):
        return (
            "on the same 9 keys, blocks of 1, 2, 4 and 9 keys gave different outputs",
            "the block size changes how the work is split, never the answer: every key counts once, and the "
            "running sums carry each row's weights across blocks.",
        )
    return None


def _blockwise_prop_memory(fn):
    """The peak memory of one call, measured by tracemalloc where the function runs (self-study). While grading,
    the function runs in the grading kernel, out of this process's sight: there the hidden checks try a case whose
    whole score matrix does not fit in the kernel's memory (helpers.grading.exercises, ``graded_only``)."""
    if getattr(fn, "runs_elsewhere", False):
        return None
    # Few queries, many keys: blocks taken over the queries instead of the keys hold whole rows, and show it.
    r = np.random.default_rng(27)
    n_q, n_k, block = 256, 8192, 64
    Q, K, V = r.normal(size=(n_q, 16)), r.normal(size=(n_k, 16)), r.normal(size=(n_k, 16))
    whole_matrix = n_q * n_k * 8  # float64 scores
    peak = peak_bytes(fn, Q, K, V, block)
    if peak > whole_matrix / 2:
        return (
            f"with {n_q} queries, {n_k} keys and blocks of {block}, it held {peak / 2**20:.1f} MiB at its peak, where "
            f"the whole score matrix takes {whole_matrix / 2**20:.0f} MiB",
            "build the scores of one block of keys at a time, (..., n_q, block_size), for every query at once, and "
            "keep only the running maximum, sum and output between blocks.",
        )
    return None


def _blockwise_prop_few_queries(fn):
    """Few queries, many keys: one query (or a block of queries) at a time against every key still holds whole rows
    of scores, n_k wide. A copy of K or V is n_k wide too, but grows with the features where a row of scores does
    not: measured at two widths, the part of the peak that does not grow is the scores'."""
    if getattr(fn, "runs_elsewhere", False):
        return None
    r = np.random.default_rng(28)
    n_q, n_k, block, widths = 2, 32768, 128, (1, 9)
    peaks = []
    for width in widths:
        Q, K, V = r.normal(size=(n_q, width)), r.normal(size=(n_k, width)), r.normal(size=(n_k, width))
        peaks.append(peak_bytes(fn, Q, K, V, block))
    per_feature = (peaks[1] - peaks[0]) / (widths[1] - widths[0])
    not_growing = peaks[0] - per_feature * widths[0]
    row = n_k * 8  # one query's float64 scores for every key
    if not_growing > row / 2:
        return (
            f"with {n_q} queries, {n_k:,} keys and blocks of {block}, it held {not_growing / 2**20:.2f} MiB at its "
            f"peak that do not grow with the features, where one query's scores for every key take "
            f"{row / 2**20:.2f} MiB",
            "one query (or one block of queries) at a time against every key still builds a row of n_k scores: "
            "take the blocks over the keys, (..., n_q, block_size) scores for every query at once, and keep only "
            "the running maximum, sum and output between blocks.",
        )
    return None


ARG_NAMES = {
    "max_path_length": ["mask"],
    "decode_step": ["x_t", "k_cache", "v_cache", "W_q", "W_k", "W_v"],
    "blockwise_attention": ["Q", "K", "V", "block_size", "mask"],
}
PROPERTIES = {
    "max_path_length": [],
    "decode_step": [_decode_prop_causal],
    "blockwise_attention": [
        _blockwise_prop_any_block_size,
        _blockwise_prop_memory,
        _blockwise_prop_few_queries,
    ],
}
ERROR_HINTS = {
    "max_path_length": _path_error_hint,
    "decode_step": _decode_error_hint,
    "blockwise_attention": _blockwise_error_hint,
}
