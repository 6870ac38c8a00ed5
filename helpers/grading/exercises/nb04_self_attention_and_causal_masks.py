"""Notebook 04, self-attention and causal masks: the exercises ``causal_mask``, ``positional_encoding``,
``rotary_embedding``, ``cross_attention`` and ``self_attention``.

For each, its visible cases, its hidden cases (and, for the first two, how fresh ones are drawn) and its classic
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


def _encoding_cases():
    return [
        Case("n = 4 positions, d = 4", (4, 4)),
        Case("one position (sin 0 = 0, cos 0 = 1)", (1, 6)),
        Case("n = 3, d = 2: a single frequency", (3, 2)),
        Case("n = 6, d = 8", (6, 8)),
    ]


def _encoding_hidden():
    return [
        Case("n = 50, d = 16", (50, 16)),
        Case("n = 10, d = 64", (10, 64)),
        Case("n = 2, d = 128", (2, 128)),
    ]


def _encoding_fresh(rng):
    sizes = zip(rng.integers(1, 61, size=3), 2 * rng.integers(1, 33, size=3))
    return [Case(f"n = {n}, d = {d} (drawn at random)", (int(n), int(d))) for n, d in sizes]


def _encoding_with(columns=None, first_position=0, exponent=None, cos_first=False, multiply=False):
    """The reference with one thing changed, for the mistakes below."""

    def encoding(n, d):
        p = np.arange(first_position, first_position + n)[:, None]
        j = np.arange(d)
        pair = j - j % 2 if exponent is None else exponent(j)
        rate = 10000.0 ** (pair / d)
        angles = p * rate if multiply else p / rate
        sin_column = (j % 2 == 0) if columns is None else columns(j, d)
        if cos_first:
            sin_column = ~sin_column
        return np.where(sin_column, np.sin(angles), np.cos(angles))

    return encoding


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
            "all_true",
            "every entry is True, so nothing is masked: the future must be False.",
            lambda n: np.ones((n, n), dtype=bool),
        ),
    ],
)


POSITIONAL_ENCODING = Exercise(
    notebook="04_self_attention_and_causal_masks",
    name="positional_encoding",
    reference=ref.positional_encoding,
    cases=_encoding_cases,
    hidden_cases=_encoding_hidden,
    fresh=_encoding_fresh,
    mistakes=[
        Mistake(
            "sin_cos_swapped",
            "your even columns hold cosines and your odd columns sines. Look at position 0: which of sin 0 and "
            "cos 0 is 0? The formula puts that one in the even columns.",
            _encoding_with(cos_first=True),
        ),
        Mistake(
            "halves_not_interleaved",
            "you put all the sines first and all the cosines after. In the formula they alternate: column 2i "
            "is a sine and column 2i + 1 the cosine of the same angle.",
            _encoding_with(columns=lambda j, d: j < d // 2, exponent=lambda j: 2 * (j % (len(j) // 2))),
        ),
        Mistake(
            "exponent_per_column",
            "each pair of columns (2i, 2i + 1) shares one frequency, 10000^(2i/d). You used a new frequency for "
            "every column.",
            _encoding_with(exponent=lambda j: j),
        ),
        Mistake(
            "positions_from_one",
            "positions count from 0: the first row is sin 0, cos 0, ... = 0, 1, 0, 1.",
            _encoding_with(first_position=1),
        ),
        Mistake(
            "multiplied_by_the_rate",
            "the angle is the position divided by 10000^(2i/d), so that later columns turn more slowly. You "
            "multiplied.",
            _encoding_with(multiply=True),
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


def _cross_with(q="x", k="m", v="m", use_mask=True):
    """Cross-attention with each role's sequence named: "x" the target X, "m" the memory."""

    def attention(X, memory, W_q, W_k, W_v, mask=None):
        source = {"x": X, "m": memory}
        return ref.scaled_dot_product_attention(
            source[q] @ W_q, source[k] @ W_k, source[v] @ W_v, mask if use_mask else None
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
    ],
)


def _rotary_cases():
    r = _rng(24)
    return [
        # One pair first: the turn's direction and the given position show alone there.
        Case("one pair at position 1: turned by 1 radian", (np.array([[1.0, 0.0]]), np.array([1]))),
        Case("4 tokens at positions 0..3, d = 4", (r.normal(size=(4, 4)), np.arange(4))),
        Case(
            "positions 5, 0, 9 (any integers), d = 6, base 100",
            (r.normal(size=(3, 6)), np.array([5, 0, 9])),
            {"base": 100.0},
        ),
        Case("a batch of 2 sequences, n = 3, d = 8", (r.normal(size=(2, 3, 8)), np.arange(3))),
    ]


def _rotary_hidden():
    r = _rng(124)
    return [
        Case("two batch dimensions, d = 16", (r.normal(size=(2, 2, 5, 16)), np.arange(5))),
        Case("d = 64 at positions up to 4000", (r.normal(size=(3, 64)), np.array([0, 1000, 4000]))),
        Case(
            "base 500000 (Llama 3's), positions from 100",
            (r.normal(size=(4, 32)), np.arange(100, 104)),
            {"base": 500000.0},
        ),
    ]


def _rotary_with(angles=None, pairs="interleaved", direction=1.0, own_positions=False):
    """The reference with one thing changed, for the mistakes below. ``angles(p, d, base)`` gives the (n, d/2)
    angles of the pairs, or (n, d) for one angle per feature."""

    def rotary(X, positions, base=10000.0):
        d = X.shape[-1]
        p = np.arange(X.shape[-2]) if own_positions else np.asarray(positions)
        theta = p[:, None] * base ** (-np.arange(0, d, 2) / d) if angles is None else angles(p, d, base)
        if theta.shape[-1] == d:  # one angle per feature: each feature turns by its own
            first_angle, second_angle = theta[:, 0::2], theta[:, 1::2]
        else:
            first_angle = second_angle = theta
        if pairs == "interleaved":
            first, second = X[..., 0::2], X[..., 1::2]
        else:  # feature i with feature i + d/2
            first, second = X[..., : d // 2], X[..., d // 2 :]
        new_first = first * np.cos(first_angle) - direction * second * np.sin(first_angle)
        new_second = direction * first * np.sin(second_angle) + second * np.cos(second_angle)
        out = np.empty(X.shape)
        if pairs == "interleaved":
            out[..., 0::2], out[..., 1::2] = new_first, new_second
        else:
            out[..., : d // 2], out[..., d // 2 :] = new_first, new_second
        return out

    return rotary


ROTARY_EMBEDDING = Exercise(
    notebook="04_self_attention_and_causal_masks",
    name="rotary_embedding",
    reference=ref.rotary_embedding,
    cases=_rotary_cases,
    hidden_cases=_rotary_hidden,
    mistakes=[
        Mistake(
            "turned_backwards",
            "your pairs turn the wrong way, by minus the angle. Turning the point (1, 0) by a positive angle a "
            "gives (cos a, sin a): the first feature of the pair gets -sin, the second +sin.",
            _rotary_with(direction=-1.0),
        ),
        Mistake(
            "positions_ignored",
            "you numbered the tokens 0, 1, 2, ... yourself. Use the positions you are given: a token can sit "
            "anywhere, as one new token at position 1000 does while a model generates.",
            _rotary_with(own_positions=True),
        ),
        Mistake(
            "angle_per_feature",
            "features 2i and 2i + 1 are one point in the plane and turn by one angle, p * base^(-2i/d). You gave "
            "each feature an angle of its own, so your 'rotation' changes the vectors' lengths. Make d/2 angles "
            "per position, not d.",
            _rotary_with(angles=lambda p, d, base: p[:, None] * base ** (-np.arange(d) / d)),
        ),
        Mistake(
            "position_as_angle",
            "every pair turned by the position itself, in radians. Each pair turns at its own speed: pair i by "
            "p * base^(-2i/d), fast for the first pairs and ever slower after, like the waves of "
            "positional_encoding.",
            _rotary_with(angles=lambda p, d, base: np.repeat(p[:, None] * 1.0, d // 2, axis=1)),
        ),
        Mistake(
            "exponent_over_pairs",
            "pair i turns by p * base^(-2i/d): the exponent counts features (2i of d), not pairs. With i/d the "
            "last pairs turn far faster than they should.",
            _rotary_with(angles=lambda p, d, base: p[:, None] * base ** (-np.arange(d // 2) / d)),
        ),
        Mistake(
            "halves_paired",
            "you turned feature i together with feature i + d/2, the 'rotate_half' layout of GPT-NeoX and of "
            "Hugging Face's Llama code. That rotates other pairs; this exercise asks for RoFormer's, where "
            "features 2i and 2i + 1 (the even and the odd columns) turn together.",
            _rotary_with(pairs="halves"),
        ),
    ],
)
