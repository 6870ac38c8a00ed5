"""Notebook 04, self-attention and causal masks: the exercises ``causal_mask``, ``cross_attention`` and
``self_attention``; its two encodings of positions, ``positional_encoding`` and ``rotary_embedding``, have a module
of their own (:mod:`.nb04_positions`).

For each, its visible cases, its hidden cases (and, for causal_mask, how fresh ones are drawn) and its classic
mistakes, each mistake a model of what a function with that mistake returns, and the hint a student sees for it.
"""

import numpy as np

from helpers.checking import Case
from helpers.grading import reference as ref
from helpers.grading.exercises.common import Exercise, Mistake, _rng, _weights


def _causal_cases():
    return [Case(f"n = {n}", (n,)) for n in (4, 1, 2)]  # n = 4 first: it tells every mistake apart


def _causal_hidden():
    return [Case(f"n = {n}", (n,)) for n in (3, 7, 16)]


def _causal_fresh(rng):
    return [Case(f"n = {n} (drawn at random)", (int(n),)) for n in rng.integers(1, 41, size=3)]


CAUSAL_MASK = Exercise(
    notebook="04_self_attention_and_causal_masks",
    name="causal_mask",
    reference=ref.causal_mask,
    cases=_causal_cases,
    hidden_cases=_causal_hidden,
    fresh=_causal_fresh,
    mistakes=[
        Mistake(
            "no_diagonal",
            "a position may attend to itself: keep the diagonal (np.tril with k=0, not k=-1).",
            lambda n: np.tril(np.ones((n, n), dtype=bool), k=-1),
        ),
        Mistake(
            "upper_triangle",
            "True above the diagonal lets each position see the future. Row i (a query) may attend to columns "
            "0..i: that is the lower triangle, np.tril.",
            lambda n: np.triu(np.ones((n, n), dtype=bool)),
        ),
        Mistake(
            "inverted",
            "your mask is inverted: True means 'may attend', so the past and the diagonal are True and the "
            "future is False.",
            lambda n: ~np.tril(np.ones((n, n), dtype=bool)),
        ),
        Mistake(
            "one_ahead",
            "with k=1 each position may see one token ahead. Use k=0: the diagonal and below.",
            lambda n: np.tril(np.ones((n, n), dtype=bool), k=1),
        ),
        Mistake(
            "diagonal_only",
            "each position may attend to every earlier position, not only to itself.",
            lambda n: np.eye(n, dtype=bool),
        ),
        Mistake(
            "additive_float_mask",
            "that is an additive mask of floats, 0 where a position may attend and -inf where it may not, "
            "PyTorch's habit. Here a mask holds booleans, True where a position may attend: the attention itself "
            "turns the False ones into -inf scores. Return the booleans.",
            lambda n: np.triu(np.full((n, n), -np.inf), k=1),
        ),
        Mistake(
            "mirrored",
            "your triangle is mirrored left to right. Row i (a query) may attend to columns 0..i, the first "
            "i + 1 columns: the lower-left triangle, the diagonal from top left to bottom right included.",
            lambda n: np.fliplr(np.tril(np.ones((n, n), dtype=bool))),
        ),
        Mistake(
            "all_true",
            "every entry is True, so nothing is masked: the future must be False.",
            lambda n: np.ones((n, n), dtype=bool),
        ),
    ],
)


def _self_attention_cases():
    r = _rng(4)
    square = (r.normal(size=(4, 4)), _weights(r, 4, 4), _weights(r, 4, 4), _weights(r, 4, 4))
    return [
        # Square first: a transposed or left-multiplied weight runs there and is named, rather than crashing.
        Case("4 tokens, square projections (d_model = d_k = d_v = 4)", square),
        Case(
            "5 tokens, d_model=4, d_k=3, d_v=2",
            (r.normal(size=(5, 4)), _weights(r, 4, 3), _weights(r, 4, 3), _weights(r, 4, 2)),
        ),
        Case(
            "a causal mask",
            (r.normal(size=(5, 6)), _weights(r, 6, 4), _weights(r, 6, 4), _weights(r, 6, 3)),
            {"mask": ref.causal_mask(5)},
        ),
        Case(
            "a batch of 2 sequences with a causal mask",
            (r.normal(size=(2, 4, 6)), _weights(r, 6, 4), _weights(r, 6, 4), _weights(r, 6, 4)),
            {"mask": ref.causal_mask(4)},
        ),
        # Every mask above is one (n, n) shared by the batch: a mask that only fits that shape passes them all.
        Case(
            "a batch of 2 sequences, each with its own padding mask (2, 1, n)",
            (r.normal(size=(2, 4, 6)), _weights(r, 6, 4), _weights(r, 6, 4), _weights(r, 6, 3)),
            {"mask": _padding([4, 2], 4)},
        ),
        Case(
            "scores of magnitude 1e3",
            (30 * r.normal(size=(4, 4)), 30 * _weights(r, 4, 4), _weights(r, 4, 4), _weights(r, 4, 2)),
        ),
    ]


def _self_attention_hidden():
    r = _rng(105)
    return [
        Case("one token", (r.normal(size=(1, 3)), _weights(r, 3, 2), _weights(r, 3, 2), _weights(r, 3, 2))),
        Case(
            "two batch dimensions, causal",
            (r.normal(size=(2, 3, 6, 8)), _weights(r, 8, 4), _weights(r, 8, 4), _weights(r, 8, 5)),
            {"mask": ref.causal_mask(6)},
        ),
        Case(
            "scores of magnitude 1e3",
            (30 * r.normal(size=(5, 4)), 30 * _weights(r, 4, 4), _weights(r, 4, 4), _weights(r, 4, 2)),
            {"mask": ref.causal_mask(5)},
        ),
        # No mask, more than one token: attention made causal when no mask is given shows here.
        Case(
            "4 tokens, no mask",
            (r.normal(size=(4, 5)), _weights(r, 5, 3), _weights(r, 5, 3), _weights(r, 5, 2)),
        ),
    ]


def _self_attention_with(q="q", k="k", v="v", use_mask=True, transpose=False):
    """Self-attention built from the projections named: "q", "k", "v" use W_q, W_k, W_v; "x" uses X itself."""

    def attention(X, W_q, W_k, W_v, mask=None):
        weights = {"q": W_q, "k": W_k, "v": W_v}

        def project(which):
            if which == "x":
                return X
            W = weights[which]
            return X @ (W.T if transpose else W)

        return ref.scaled_dot_product_attention(
            project(q), project(k), project(v), mask if use_mask else None
        )

    return attention


def _always_causal(X, W_q, W_k, W_v, mask=None):
    mask = ref.causal_mask(X.shape[-2]) if mask is None else mask
    return ref.scaled_dot_product_attention(X @ W_q, X @ W_k, X @ W_v, mask)


def _scaled_twice(X, W_q, W_k, W_v, mask=None):
    return ref.scaled_dot_product_attention(X @ W_q / np.sqrt(W_q.shape[-1]), X @ W_k, X @ W_v, mask)


def _one_max_for_all(X, W_q, W_k, W_v, mask=None):
    """Attention written out with exp(scores - scores.max()): one max for every row."""
    Q, K, V = X @ W_q, X @ W_k, X @ W_v
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    with np.errstate(all="ignore"):
        exps = np.exp(scores - scores.max())
        weights = exps / exps.sum(axis=-1, keepdims=True)
    return weights @ V, weights


ALWAYS_CAUSAL = (
    "with no mask (mask=None) every token attends to every token, later ones too: only a mask that is passed in "
    "hides anything. Use the mask you are given, and none when it is None."
)


def _padding(lengths, n_k):
    """(batch, 1, n_k): True for each sequence's real tokens, False for its padding."""
    return (np.arange(n_k) < np.asarray(lengths)[:, None])[:, None, :]


def _cross_cases():
    r = _rng(6)
    return [
        # Different lengths first: queries or keys from the wrong sequence cannot pass unnoticed there.
        Case(
            "3 target tokens reading 5 source tokens",
            (
                r.normal(size=(3, 4)),
                r.normal(size=(5, 4)),
                _weights(r, 4, 4),
                _weights(r, 4, 4),
                _weights(r, 4, 2),
            ),
        ),
        Case(
            "a padding mask: the last 2 source tokens are padding",
            (
                r.normal(size=(2, 4)),
                r.normal(size=(6, 4)),
                _weights(r, 4, 3),
                _weights(r, 4, 3),
                _weights(r, 4, 3),
            ),
            {"mask": np.array([[True, True, True, True, False, False]])},
        ),
        Case(
            "a batch of 2 with their own padding",
            (
                r.normal(size=(2, 3, 4)),
                r.normal(size=(2, 5, 4)),
                _weights(r, 4, 2),
                _weights(r, 4, 2),
                _weights(r, 4, 3),
            ),
            {"mask": _padding([5, 2], 5)},
        ),
    ]


def _cross_hidden():
    r = _rng(106)
    return [
        Case(
            "one target token",
            (r.normal(size=(1, 3)), r.normal(size=(4, 3)), *(_weights(r, 3, 2) for _ in "qkv")),
        ),
        Case(
            "two batch dimensions with padding",
            (r.normal(size=(2, 2, 3, 4)), r.normal(size=(2, 2, 6, 4)), *(_weights(r, 4, 4) for _ in "qkv")),
            {"mask": _padding([6, 1], 6)[:, None]},
        ),
        Case(
            "scores of magnitude 1e3",
            (30 * r.normal(size=(4, 4)), 30 * r.normal(size=(7, 4)), *(_weights(r, 4, 4) for _ in "qkv")),
        ),
    ]


def _cross_with(q="x", k="m", v="m", use_mask=True, invert=False, values_by_w_k=False):
    """Cross-attention with each role's sequence named: "x" the target X, "m" the memory."""

    def attention(X, memory, W_q, W_k, W_v, mask=None):
        source = {"x": X, "m": memory}
        if mask is not None and invert:
            mask = ~np.asarray(mask)
        return ref.scaled_dot_product_attention(
            source[q] @ W_q,
            source[k] @ W_k,
            source[v] @ (W_k if values_by_w_k else W_v),
            mask if use_mask else None,
        )

    return attention


CROSS_ATTENTION = Exercise(
    notebook="04_self_attention_and_causal_masks",
    name="cross_attention",
    reference=ref.cross_attention,
    cases=_cross_cases,
    hidden_cases=_cross_hidden,
    mistakes=[
        Mistake(
            "roles_swapped",
            "the queries came from the memory and the keys and values from X. The one who asks is the decoder's "
            "token (X); what it reads is the encoder's output (memory).",
            _cross_with("m", "x", "x"),
        ),
        Mistake(
            "self_attention_instead",
            "that is self-attention on X: memory was never used. Which sequence do the keys and values describe?",
            _cross_with("x", "x", "x"),
        ),
        Mistake(
            "mask_ignored",
            "the mask was not passed on: padding got weight. Give the mask to scaled_dot_product_attention.",
            _cross_with(use_mask=False),
        ),
        Mistake(
            "mask_inverted",
            "your mask is inverted. Here True means 'may attend' and False marks padding; PyTorch's "
            "key_padding_mask is the other way round (True = padding). Pass the mask on as it is given.",
            _cross_with(invert=True),
        ),
        Mistake(
            "values_from_keys",
            "the values came from W_k. Values have their own projection: memory @ W_v.",
            _cross_with(values_by_w_k=True),
        ),
        Mistake(
            "queries_from_memory",
            "the queries came from memory too: that is self-attention on the memory, one output per source token. "
            "The queries come from X, one per target token; only the keys and the values come from memory.",
            _cross_with("m", "m", "m"),
        ),
    ],
)


SELF_ATTENTION = Exercise(
    notebook="04_self_attention_and_causal_masks",
    name="self_attention",
    reference=ref.self_attention,
    cases=_self_attention_cases,
    hidden_cases=_self_attention_hidden,
    mistakes=[
        Mistake(
            "no_projections",
            "you used X itself as queries, keys and values. Project first: each role has its own matrix (W_q, W_k, "
            "W_v), multiplied from the right.",
            _self_attention_with("x", "x", "x"),
        ),
        Mistake(
            "transposed_weights",
            "you multiplied by the transposed matrices. Use them as they are: X @ W_q, with W_q of shape "
            "(d_model, d_k).",
            _self_attention_with(transpose=True),
        ),
        Mistake(
            "left_multiplied",
            "weights multiply from the right: Q = X @ W_q, not W_q @ X (each row of X is one token).",
            lambda X, W_q, W_k, W_v, mask=None: ref.scaled_dot_product_attention(
                W_q @ X, W_k @ X, W_v @ X, mask
            ),
        ),
        Mistake(
            "column_vectors",
            "you projected the column-vector way, W_q.T @ X.T, which gives one column per token: the transpose "
            "of the queries. In this course each row of X is a token and so is each row of Q, K and V, as "
            "scaled_dot_product_attention expects: the weights multiply the rows of X from the right.",
            lambda X, W_q, W_k, W_v, mask=None: ref.scaled_dot_product_attention(
                W_q.T @ X.T, W_k.T @ X.T, W_v.T @ X.T, mask
            ),
        ),
        Mistake(
            "values_from_keys",
            "the values came from W_k. Values have their own projection: V = X @ W_v.",
            _self_attention_with(v="k"),
        ),
        Mistake(
            "keys_from_queries",
            "the keys came from W_q. Keys have their own projection: K = X @ W_k.",
            _self_attention_with(k="q"),
        ),
        Mistake(
            "queries_and_keys_swapped",
            "queries and keys are swapped: Q = X @ W_q asks, K = X @ W_k is matched against.",
            _self_attention_with(q="k", k="q"),
        ),
        Mistake(
            "mask_ignored",
            "the mask was ignored: scaled_dot_product_attention takes it as its fourth argument.",
            _self_attention_with(use_mask=False),
        ),
        Mistake("always_causal", ALWAYS_CAUSAL, _always_causal),
        Mistake(
            "scaled_twice",
            "scaled_dot_product_attention already divides the scores by sqrt(d_k): dividing the queries by it too "
            "scales twice. Pass the plain projections.",
            _scaled_twice,
        ),
        Mistake(
            "one_max_for_all",
            "you subtracted one max for all the scores. A query whose scores sit far below the largest has every "
            "exp underflow to 0, and 0 / 0 is nan: each query's row needs its own max, along the last axis with "
            "keepdims=True, as softmax takes it.",
            _one_max_for_all,
        ),
    ],
)
