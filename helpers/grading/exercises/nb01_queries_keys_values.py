"""Notebook 01, queries, keys and values: the exercises ``similarity_scores`` and ``soft_lookup``.

For each, its visible cases, its hidden cases and its classic mistakes, each mistake a model of what a function
with that mistake returns, and the hint a student sees when their answer matches it.
"""

import numpy as np

from helpers.checking import Case
from helpers.grading import reference as ref
from helpers.grading.exercises.common import Exercise, Mistake, _rng


def _similarity_cases():
    r = _rng(1)
    return [
        Case(
            "one query, three keys", (np.array([1.0, 0.0]), np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]))
        ),
        Case(
            "longer vectors, d=3 and n=4",
            (np.array([1.0, 2.0, -1.0]), r.integers(-3, 4, (4, 3)).astype(float)),
        ),
        Case(
            "a batch of 2 queries, each with its own 4 keys",
            (r.normal(size=(2, 3)), r.normal(size=(2, 4, 3))),
        ),
        # n = 1 keeps an axis of length 1 that `.squeeze()` would drop.
        Case("a single key (n = 1)", (np.array([1.0, 2.0]), np.array([[3.0, -1.0]]))),
    ]


def _similarity_hidden():
    r = _rng(101)
    return [
        Case("a single key", (r.normal(size=5), r.normal(size=(1, 5)))),
        Case("random, d=6 and n=9", (r.normal(size=6), r.normal(size=(9, 6)))),
        Case("two batch dimensions", (r.normal(size=(2, 3, 4)), r.normal(size=(2, 3, 7, 4)))),
        Case("large vectors", (100 * r.normal(size=8), 100 * r.normal(size=(5, 8)))),
    ]


def _cosine(query, keys):
    norms = np.linalg.norm(keys, axis=-1) * np.linalg.norm(query, axis=-1)[..., None]
    return ref.similarity_scores(query, keys) / norms


_EVERY_QUERY = (
    "`query.T` does nothing to one query, but with a batch it turns the queries (batch, d) into (d, batch), so "
    "`keys @ query.T` scores every sequence's keys against every query: (batch, n, batch). np.inner(keys, query) "
    "does the same. Each query must meet only its own keys: multiply each key by its query element by element "
    "and add up over the features, or say it in np.einsum with '...' for the batch axes."
)

SIMILARITY_SCORES = Exercise(
    notebook="01_queries_keys_values",
    name="similarity_scores",
    reference=ref.similarity_scores,
    cases=_similarity_cases,
    hidden_cases=_similarity_hidden,
    mistakes=[
        Mistake(
            "cosine",
            "you normalised the vectors (cosine similarity). Here the score is the plain dot product "
            "query . key, so a longer key gets a larger score.",
            _cosine,
        ),
        Mistake(
            "distance",
            "you computed a distance. The similarity score is the dot product query . key: "
            "large when they point the same way, not small.",
            lambda q, k: np.linalg.norm(k - q[..., None, :], axis=-1),
        ),
        Mistake(
            "negative_distance",
            "you computed a (negative) distance. The similarity score is the dot product query . key.",
            lambda q, k: -np.linalg.norm(k - q[..., None, :], axis=-1),
        ),
        Mistake(
            "softmaxed",
            "you returned weights (after softmax). Return the raw scores; `soft_lookup` turns them into weights.",
            lambda q, k: ref.softmax(ref.similarity_scores(q, k)),
        ),
        Mistake(
            "scaled",
            "you divided by sqrt(d). That scaling belongs to scaled dot-product attention (notebook 03); "
            "here return the plain dot products.",
            lambda q, k: ref.similarity_scores(q, k) / np.sqrt(np.shape(q)[-1]),
        ),
        Mistake(
            "no_sum",
            "you multiplied element by element but did not add up: a dot product is sum_i q_i * k_i, "
            "so sum over the last (feature) axis.",
            lambda q, k: k * q[..., None, :],
        ),
        Mistake(
            "sum_wrong_axis",
            "you summed over the positions axis. Sum over the features (the last axis), one score per key.",
            lambda q, k: (k * q[..., None, :]).sum(axis=-2),
        ),
        # `keys @ query.T` and np.inner(keys, query) are one on a batch of 2-D queries, apart beyond.
        Mistake("query_transposed", _EVERY_QUERY, lambda q, k: k @ q.T),
        Mistake("inner", _EVERY_QUERY, lambda q, k: np.inner(k, q)),
        Mistake(
            "squeezed",
            "`.squeeze()` drops every axis of length 1, not only the one you added: with a single key, n = 1, "
            "the positions axis goes too. Index away only the axis you added ([..., 0]), or squeeze only that "
            "axis.",
            lambda q, k: np.squeeze(ref.similarity_scores(q, k)),
        ),
    ],
)


def _lookup_cases():
    keys = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    values = np.array([[10.0, 0.0], [0.0, 10.0], [5.0, 5.0]])
    r = _rng(2)
    return [
        Case("a query that matches key 0 best", (np.array([2.0, 0.0]), keys, values)),
        Case("a query halfway between keys 0 and 1", (np.array([1.0, 1.0]), keys, values)),
        Case(
            "values wider than keys (d=3, d_v=5)",
            (r.normal(size=3), r.normal(size=(4, 3)), r.normal(size=(4, 5))),
        ),
        Case(
            "a batch of 2 queries with their own keys and values",
            (r.normal(size=(2, 3)), r.normal(size=(2, 4, 3)), r.normal(size=(2, 4, 2))),
        ),
    ]


def _lookup_hidden():
    r = _rng(102)
    return [
        Case("one key and value", (r.normal(size=4), r.normal(size=(1, 4)), r.normal(size=(1, 3)))),
        # Notebook 01's softmax is the plain formula (notebook 02 makes it stable): scores stay well below 709.
        Case("scores in the tens", (3 * r.normal(size=6), 3 * r.normal(size=(5, 6)), r.normal(size=(5, 2)))),
        Case(
            "two batch dimensions",
            (r.normal(size=(3, 2, 4)), r.normal(size=(3, 2, 6, 4)), r.normal(size=(3, 2, 6, 5))),
        ),
    ]


def _lookup_with(weigh):
    """A soft lookup whose weights come from ``weigh(scores)`` instead of softmax."""

    def lookup(q, k, v):
        w = weigh(ref.similarity_scores(q, k))
        return np.einsum("...n,...nv->...v", w, v)

    return lookup


def _weighted_then_summed(axis):
    """Each value times its weight, added up along ``axis`` (the right one is -2, the positions)."""

    def lookup(q, k, v):
        return (ref.softmax(ref.similarity_scores(q, k))[..., None] * v).sum(axis=axis)

    return lookup


_MATMUL_ON_BATCH = (
    "with a batch, `weights @ values` (or np.dot) takes the weights (batch, n) as one matrix and multiplies it into "
    "every sequence's values, so each query blends every sequence's values: (batch, batch, d_v). Each query must "
    "blend only its own values: multiply each value by its weight (give the weights a trailing axis) and add up "
    "over the positions, or say it in np.einsum with '...'."
)


def _hard_lookup(q, k, v):
    best = np.argmax(ref.similarity_scores(q, k), axis=-1)
    return np.take_along_axis(v, best[..., None, None], axis=-2)[..., 0, :]


SOFT_LOOKUP = Exercise(
    notebook="01_queries_keys_values",
    name="soft_lookup",
    reference=ref.soft_lookup,
    cases=_lookup_cases,
    hidden_cases=_lookup_hidden,
    mistakes=[
        Mistake(
            "no_softmax",
            "you used the raw scores as weights. Turn the scores into weights with `softmax` first, so they "
            "are positive and sum to 1.",
            _lookup_with(lambda s: s),
        ),
        Mistake(
            "hard_lookup",
            "that is the hard lookup: you returned the single best-matching value. A soft lookup blends all "
            "values, each weighted by softmax of its score.",
            _hard_lookup,
        ),
        Mistake(
            "uniform_average",
            "you averaged the values equally. The weights must come from how similar the query is to each key.",
            lambda q, k, v: np.mean(v, axis=-2),
        ),
        Mistake(
            "blended_keys",
            "you blended the keys. Keys are only for matching; the output is a blend of the values.",
            lambda q, k, v: np.einsum("...n,...nv->...v", ref.softmax(ref.similarity_scores(q, k)), k),
        ),
        Mistake(
            "divide_by_sum",
            "you normalised by dividing the scores by their sum. With negative scores that gives negative or "
            "huge weights; softmax makes every weight positive.",
            _lookup_with(lambda s: s / s.sum(axis=-1, keepdims=True)),
        ),
        Mistake(
            "softmax_wrong_axis",
            "softmax ran over the wrong axis: normalise over the keys (the last axis), once per query.",
            _lookup_with(lambda s: ref.softmax(s, axis=0)),
        ),
        Mistake(
            "normalised_over_the_batch",
            "you normalised over the whole batch: a sum with no axis adds up every query's exps together. Each "
            "query's weights sum to 1 over its own keys: sum along the last axis with keepdims=True, or use "
            "softmax.",
            _lookup_with(lambda s: np.exp(s) / np.exp(s).sum()),
        ),
        Mistake(
            "scaled",
            "you divided the scores by sqrt(d). That scale belongs to scaled dot-product attention (notebook 03): "
            "the soft lookup weighs the values by softmax of the plain scores.",
            lambda q, k, v: np.einsum(
                "...n,...nv->...v", ref.softmax(ref.similarity_scores(q, k) / np.sqrt(np.shape(q)[-1])), v
            ),
        ),
        Mistake(
            "returned_weights",
            "you returned the weights. Return the blend of the values, each weighted by its weight.",
            lambda q, k, v: ref.softmax(ref.similarity_scores(q, k)),
        ),
        Mistake(
            "sum_over_features",
            "you added up over the last axis, the features of each value, which leaves one number per position. "
            "The blend adds up over the positions: the n values, each times its weight, along the values' axis "
            "-2.",
            _weighted_then_summed(axis=-1),
        ),
        Mistake(
            "sum_over_axis_0",
            "you added up over axis 0. Without a batch that is the positions axis, but with a batch it is the "
            "batch axis, which mixes the sequences. Count axes from the end: the positions are the values' axis "
            "-2, whatever the number of batch axes.",
            _weighted_then_summed(axis=0),
        ),
        # @ and np.dot pair the sequences up in different orders: two outputs, one mistake.
        Mistake(
            "matmul_on_batch", _MATMUL_ON_BATCH, lambda q, k, v: ref.softmax(ref.similarity_scores(q, k)) @ v
        ),
        Mistake(
            "dot_on_batch",
            _MATMUL_ON_BATCH,
            lambda q, k, v: np.dot(ref.softmax(ref.similarity_scores(q, k)), v),
        ),
        Mistake(
            "values_transposed",
            "`values.T` reverses every axis, batch axes included: with a batch it is (d_v, n, batch), not one "
            "(d_v, n) matrix per sequence, so the weights meet the wrong numbers. Leave the values as they are: "
            "multiply each value by its weight and add up over the positions, or say it in np.einsum with '...'.",
            lambda q, k, v: v.T @ ref.softmax(ref.similarity_scores(q, k)),
        ),
    ],
)
