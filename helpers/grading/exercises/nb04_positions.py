"""Notebook 04's two encodings of positions: the exercises ``positional_encoding`` (sines and cosines added to
the tokens) and ``rotary_embedding`` (pairs of features turned by an angle), beside
:mod:`.nb04_self_attention_and_causal_masks`'s other three.

For each, its visible cases, its hidden cases (and, for positional_encoding, how fresh ones are drawn) and its
classic mistakes, each mistake a model of what a function with that mistake returns, and the hint a student sees
for it.
"""

import numpy as np

from helpers.checking import Case
from helpers.grading import reference as ref
from helpers.grading.exercises.common import Exercise, Mistake, _rng


def _encoding_cases():
    return [
        Case("n = 4 positions, d = 6", (4, 6)),  # not square: a transposed encoding shows in its shape
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


def _encoding_with(columns=None, first_position=0, exponent=None, cos_first=False, multiply=False, over=0):
    """The reference with one thing changed, for the mistakes below: ``over`` is added to the d the exponent is
    divided by."""

    def encoding(n, d):
        p = np.arange(first_position, first_position + n)[:, None]
        j = np.arange(d)
        pair = j - j % 2 if exponent is None else exponent(j)
        rate = 10000.0 ** (pair / (d + over))
        angles = p * rate if multiply else p / rate
        sin_column = (j % 2 == 0) if columns is None else columns(j, d)
        if cos_first:
            sin_column = ~sin_column
        return np.where(sin_column, np.sin(angles), np.cos(angles))

    return encoding


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
        Mistake(
            "exponent_over_pair_index",
            "the exponent is 2i/d with i the pair's index (0, 2/d, 4/d, ... for the pairs 0, 1, 2), the number "
            "of the pair's even column over d. You used i/d, so the waves slow down only half as fast.",
            _encoding_with(exponent=lambda j: j // 2),
        ),
        Mistake(
            "exponent_over_d_minus_1",
            "the exponent is 2i/d, with d the number of features (columns). You divided by d - 1.",
            _encoding_with(over=-1),
        ),
        Mistake(
            "integer_division",
            "every pair turns at the same speed, one radian per position: the exponent 2i // d is an integer "
            "division, 0 for every pair. Divide with /: 2i/d is a fraction between 0 and 1.",
            _encoding_with(exponent=lambda j: 0 * j),
        ),
        Mistake(
            "integer_array",
            "your array holds integers (np.zeros(..., dtype=int), or zeros_like of an integer array): every sine "
            "and cosine written into it was cut to 0, 1 or -1. Make it a float array.",
            lambda n, d: ref.positional_encoding(n, d).astype(int),
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


def _rotary_with(
    angles=None,
    pairs="interleaved",
    direction=1.0,
    own_positions=False,
    cos_sin_swapped=False,
    sequential=False,
):
    """The reference with one thing changed, for the mistakes below. ``angles(p, d, base)`` gives the (n, d/2)
    angles of the pairs, or (n, d) for one angle per feature; ``sequential`` turns the second feature of a pair
    from the first one already turned."""

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
        cos, sin = (np.sin, np.cos) if cos_sin_swapped else (np.cos, np.sin)
        new_first = first * cos(first_angle) - direction * second * sin(first_angle)
        new_second = direction * (new_first if sequential else first) * sin(second_angle) + second * cos(
            second_angle
        )
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
            "base_ignored",
            "the base argument was ignored: the speeds are base^(-2i/d) with the base you are given (100, or "
            "500000 in Llama 3), not always 10000.",
            _rotary_with(angles=lambda p, d, base: p[:, None] * 10000.0 ** (-np.arange(0, d, 2) / d)),
        ),
        Mistake(
            "cos_and_sin_swapped",
            "cos and sin swapped places. Turning the pair (x1, x2) by an angle a gives x1 cos a - x2 sin a and "
            "x1 sin a + x2 cos a: at angle 0 (position 0) every pair must come back unchanged.",
            _rotary_with(cos_sin_swapped=True),
        ),
        Mistake(
            "second_from_turned_first",
            "the second feature of each pair was computed from the first one already turned. Both new features "
            "come from the old pair (x1, x2): compute both from the originals, into a new array.",
            _rotary_with(sequential=True),
        ),
        Mistake(
            "multiplied_by_the_rate",
            "the angle is the position times base^(-2i/d), a speed that falls with i, so that later pairs turn "
            "more slowly. You multiplied by base^(+2i/d).",
            _rotary_with(angles=lambda p, d, base: p[:, None] * base ** (np.arange(0, d, 2) / d)),
        ),
        Mistake(
            "exponent_over_d_minus_1",
            "the exponent is 2i/d, with d the number of features. You divided by d - 1.",
            _rotary_with(angles=lambda p, d, base: p[:, None] * base ** (-np.arange(0, d, 2) / (d - 1))),
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
