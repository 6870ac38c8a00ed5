"""Notebook 06, parallelism and scale: the exercises ``max_path_length`` (how many attention hops the farthest
connected pair of positions needs, under a mask) and ``decode_step`` (one step of generation with a key/value
cache); its third, ``blockwise_attention``, has a module of its own (:mod:`.nb06_blockwise_attention`).

For each, its visible cases, its hidden cases (for max_path_length, how fresh ones are drawn) and its classic
mistakes, each mistake a model of what a function with that mistake returns, and the hint a student sees for it.
"""

import numpy as np

from helpers.checking import Case
from helpers.grading import reference as ref
from helpers.grading.exercises.common import Exercise, Mistake, _rng, _weights


def _window(n, radius):
    """Local attention: each position attends to the positions at most ``radius`` away."""
    i = np.arange(n)
    return np.abs(i[:, None] - i[None, :]) <= radius


def _chain(n):
    """Each position attends only to the one before it: a recurrent network's path, one hop per step."""
    return np.eye(n, k=-1, dtype=bool)


def _with_global_token(mask):
    """Position 0 attends to every position and every position to it (Longformer's global tokens)."""
    mask = mask.copy()
    mask[0, :] = mask[:, 0] = True
    return mask


def _path_cases():
    return [
        Case("full attention, n = 6", (np.ones((6, 6), dtype=bool),)),
        Case("only the diagonal, n = 4: no position reaches another", (np.eye(4, dtype=bool),)),
        Case("every other position but not itself, n = 5", (~np.eye(5, dtype=bool),)),
        Case("a previous-token chain, n = 6 (mask[i, i - 1] only)", (_chain(6),)),
        Case("a local window of radius 2, n = 9", (_window(9, 2),)),
        Case("causal, n = 5: a later position never reaches an earlier one", (ref.causal_mask(5),)),
        Case(
            "a local window of radius 1 and one global token, n = 10", (_with_global_token(_window(10, 1)),)
        ),
        Case("a previous-token chain, n = 70", (_chain(70),)),
    ]


def _path_hidden():
    r = _rng(113)
    blocks = np.zeros((8, 8), dtype=bool)
    blocks[:3, :3], blocks[3:, 3:] = ref.causal_mask(3), ref.causal_mask(5)
    strided = _window(20, 2) | (np.arange(20)[None, :] % 5 == 0)
    ring = np.roll(np.eye(7, dtype=bool), -1, axis=1)
    return [
        Case("a single position", (np.ones((1, 1), dtype=bool),)),
        Case("two documents side by side, causal within each, n = 8", (blocks,)),
        Case("a local window of radius 2 and every 5th position as a summary, n = 20", (strided,)),
        Case("a causal local window of radius 3, n = 30", (_window(30, 3) & ref.causal_mask(30),)),
        Case("a ring: the first position attends to the last, n = 7", (ring,)),
        Case("a sparse random pattern, n = 12", (r.random((12, 12)) < 0.15,)),
        Case("a denser random pattern, n = 16", (r.random((16, 16)) < 0.3,)),
        Case("a local window of radius 1, n = 100", (_window(100, 1),)),
    ]


def _path_fresh(rng):
    cases = []
    for n, density in zip(rng.integers(2, 25, size=4), rng.uniform(0.05, 0.5, size=4)):
        cases.append(
            Case(f"a random pattern, n = {n}, density {density:.2f}", (rng.random((n, n)) < density,))
        )
    return cases


def _hop(step, reach):
    """Who holds whose information one hop later: some position attended to held it."""
    return (step.astype(np.int64) @ reach.astype(np.int64)) > 0


def _hops(mask, residual=True, stop_when_all=False, most=None):
    """max_path_length's loop, with two classic mistakes to switch on: forgetting that a position keeps what
    it holds (no residual: start from the mask itself, one hop), and waiting until every pair is connected
    (which never happens under a causal mask: bounded here at ``most`` hops, n by default, where a student's loop
    would hang)."""
    n = mask.shape[-1]
    step = mask | np.eye(n, dtype=bool) if residual else mask
    reach, hops = (np.eye(n, dtype=bool), 0) if residual else (mask.copy(), 1)
    while hops < (n if most is None else most):
        if stop_when_all and reach.all():
            return hops
        wider = reach | _hop(step, reach)
        if not stop_when_all and np.array_equal(wider, reach):
            return hops
        reach, hops = wider, hops + 1
    return hops


def _path_counts(mask):
    """Counting paths in int64 until the number of connected pairs stops growing: on a long chain the counts
    wrap around past 2^63 and the loop stops at a wrong hop."""
    n = mask.shape[-1]
    step = mask.astype(np.int64) + np.eye(n, dtype=np.int64)
    paths, hops = np.eye(n, dtype=np.int64), 0
    while True:
        more = step @ paths
        if np.count_nonzero(more > 0) == np.count_nonzero(paths > 0):
            return hops
        paths, hops = more, hops + 1


def _matrix_power_counts(mask):
    """(I + mask)^k in int64 by np.linalg.matrix_power, k = 1, 2, ..., until its pattern of non-zero entries stops
    changing: the counts wrap around past 2^63 on a long chain, and the pattern changes where it should not."""
    n = mask.shape[-1]
    step = (mask | np.eye(n, dtype=bool)).astype(np.int64)
    previous = np.eye(n, dtype=bool)
    for k in range(1, n + 1):
        current = np.linalg.matrix_power(step, k) > 0
        if np.array_equal(current, previous):
            return k - 1
        previous = current
    return n


def _until_gains_shrink(mask):
    """Stops when a hop connects fewer new pairs than the hop before, not when it connects none."""
    n = mask.shape[-1]
    step, reach, hops, last = mask | np.eye(n, dtype=bool), np.eye(n, dtype=bool), 0, None
    while True:
        wider = reach | _hop(step, reach)
        gained = int(wider.sum() - reach.sum())
        if gained == 0 or (last is not None and gained < last):
            return hops
        reach, hops, last = wider, hops + 1, gained


def _counts_compared(mask, most=300):
    """Integer path counts compared between hops until equal: on most masks never (a student's loop hangs), on a
    single position by accident, once 2^k has wrapped around to 0. None (no answer) past ``most`` hops."""
    n = mask.shape[-1]
    step = mask.astype(np.int64) + np.eye(n, dtype=np.int64)
    paths = np.eye(n, dtype=np.int64)
    for hops in range(most):
        more = step @ paths
        if np.array_equal(more, paths):
            return hops
        paths = more
    return None


def _has_global_token(mask):
    return bool(mask[0, :].all() and mask[:, 0].all())


def _first_to_last(mask):
    """Hops between the first and the last position only (whichever way they are connected)."""
    n = mask.shape[-1]
    step, reach = mask | np.eye(n, dtype=bool), np.eye(n, dtype=bool)
    for hops in range(n):
        if reach[0, -1] or reach[-1, 0]:
            return hops
        reach = _hop(step, reach)
    return 0


_OVERFLOW = (
    "multiplying integer matrices counts the paths between two positions, and on a long chain those counts pass "
    "2^63 and wrap around (numpy does not warn). Only whether a pair is connected matters: keep booleans, or "
    "compare with 0 after every hop."
)
_UNTIL_ALL = (
    "under this mask some pairs are never connected (with a causal mask the first position never hears from the "
    "last), so waiting until every pair is connected cannot work. Stop when a hop adds no new pair."
)
_FIRST_AND_LAST = (
    "the farthest pair is not always the first and the last position. Take the longest path over every pair "
    "that is connected at all."
)

MAX_PATH_LENGTH = Exercise(
    notebook="06_parallelism_and_scale",
    name="max_path_length",
    reference=ref.max_path_length,
    cases=_path_cases,
    hidden_cases=_path_hidden,
    fresh=_path_fresh,
    mistakes=[  # the overflows first: on the long chain they are the only mistakes left to name
        Mistake("path_counts_overflow", _OVERFLOW, _path_counts),
        Mistake("matrix_power_overflow", _OVERFLOW, _matrix_power_counts),
        Mistake(
            "counts_compared",
            "you compared the integer path counts of one hop with the last hop's. The counts keep growing after "
            "the pattern of connected pairs has settled (until they wrap around past 2^63), so they are never "
            "equal, or equal by accident. Compare True/False patterns: stop when a hop connects no new pair.",
            _counts_compared,
        ),
        Mistake(
            "no_residual",
            "after a hop, does position i still hold its own information when mask[i, i] is False? In a "
            "transformer the residual connection keeps it: every position reaches itself in 0 hops, before any "
            "hop is taken.",
            lambda mask: _hops(mask, residual=False),
        ),
        Mistake(
            "counted_the_last_hop",
            "you counted one hop too many: the last hop you took connected no new pair. Count only the hops "
            "after which some pair is connected that was not before.",
            lambda mask: ref.max_path_length(mask) + 1,
        ),
        Mistake("until_all_connected", _UNTIL_ALL, lambda mask: _hops(mask, stop_when_all=True)),
        Mistake(
            "until_all_connected_capped",
            _UNTIL_ALL,
            lambda mask: _hops(mask, stop_when_all=True, most=mask.shape[-1] - 1),
        ),
        Mistake(
            "until_gains_shrink",
            "you stopped when a hop connected fewer new pairs than the hop before. Fewer is not none: the number "
            "of new pairs can shrink for a while and still not be 0. Stop when a hop connects no new pair at all.",
            _until_gains_shrink,
        ),
        # Where a global token links the first and the last position, say so: elsewhere it would mislead.
        Mistake(
            "first_and_last_only_global",
            f"{_FIRST_AND_LAST} Here a global token links those two in one hop.",
            lambda mask: _first_to_last(mask) if _has_global_token(mask) else None,
        ),
        # After the global token's: there the first and the last position are one hop apart, one too few.
        Mistake(
            "one_hop_too_few",
            "you counted one hop too few: the count starts at 0 before any hop is taken (each position holds only "
            "its own information), and every hop that connects a new pair adds 1, the first one too.",
            lambda mask: max(ref.max_path_length(mask) - 1, 0),
        ),
        Mistake("first_and_last_only", _FIRST_AND_LAST, _first_to_last),
    ],
)


def _decode_args(r, batch, t, d_model, d_k, d_v, scale=1.0):
    x_t = scale * r.normal(size=(*batch, d_model))
    k_cache, v_cache = scale * r.normal(size=(*batch, t, d_k)), r.normal(size=(*batch, t, d_v))
    W_q, W_k, W_v = scale * _weights(r, d_model, d_k), _weights(r, d_model, d_k), _weights(r, d_model, d_v)
    return (x_t, k_cache, v_cache, W_q, W_k, W_v)


def _decode_cases():
    r = _rng(10)
    return [
        # Square projections first: a cache projected again runs there and is named, rather than crashing.
        Case(
            "t = 3 cached tokens, square projections (d_model = d_k = d_v = 4)",
            _decode_args(r, (), 3, 4, 4, 4),
        ),
        Case("the first token: empty caches (t = 0)", _decode_args(r, (), 0, 4, 4, 3)),
        Case("t = 2, d_model = 6, d_k = 3, d_v = 2", _decode_args(r, (), 2, 6, 3, 2)),
        Case("a batch of 2 sequences, t = 4", _decode_args(r, (2,), 4, 4, 4, 4)),
        Case("scores of magnitude 1e3, t = 3", _decode_args(r, (), 3, 4, 4, 4, scale=12.0)),
        Case("a batch of 2 on very different scales", _far_apart_scales()),
    ]


def _far_apart_scales(first=0):
    """Two sequences, one's scores near 800 (the ``first``) and the other's near 0: one max for the whole batch
    underflows every exponential of the other to 0, and 0 / 0 is nan."""
    r = _rng(14 + first)
    x_t, k_cache, v_cache, W_q, W_k, W_v = _decode_args(r, (2,), 3, 4, 4, 4)
    x_t[first], k_cache[first] = [40.0, 0.0, 0.0, 0.0], 0.1 * r.normal(size=(3, 4))
    W_q, W_k = np.eye(4), np.eye(4)
    k_cache[first, :, 0] = [40.0, 39.0, 41.0]  # with x_t's own key, 40 * 40: scores near 800
    return (x_t, k_cache, v_cache, W_q, W_k, W_v)


def _decode_hidden():
    r = _rng(110)
    return [
        Case("two batch dimensions, t = 5", _decode_args(r, (2, 3), 5, 6, 4, 3)),
        Case("scores of magnitude 1e3", _decode_args(r, (), 6, 4, 4, 4, scale=20.0)),
        Case("a batch of 3 starting from empty caches", _decode_args(r, (3,), 0, 4, 4, 4)),
        Case("a batch of 2 on very different scales, the larger second", _far_apart_scales(first=1)),
    ]


def _decode_with(
    own_key=True,
    extend=True,
    first=False,
    project_cache=False,
    scale=True,
    query="q",
    stable=True,
    one_max=False,
    scale_by=None,
    raw="",
    blend_per_row=True,
    first_key_only=False,
):
    """One decoding step with one thing done differently; each default is the correct choice. ``raw`` names what
    is x_t itself, unprojected ("k" the key, "kv" the key and the value)."""

    def step(x_t, k_cache, v_cache, W_q, W_k, W_v):
        q = x_t @ (W_k if query == "k" else W_q)
        k = (x_t if "k" in raw else x_t @ W_k)[..., None, :]
        v = (x_t if "v" in raw else x_t @ W_v)[..., None, :]
        old_k = k_cache @ W_k if project_cache else k_cache
        old_v = v_cache @ W_v if project_cache else v_cache
        parts = ([k, old_k], [v, old_v]) if first else ([old_k, k], [old_v, v])
        keys, values = (np.concatenate(p, axis=-2) for p in parts)
        attended = (old_k, old_v) if not own_key else (keys, values)
        if first_key_only:
            attended = (keys[..., :1, :], values[..., :1, :])
        if attended[0].shape[-2] == 0:
            raise ValueError("nothing to attend to")
        scores = (q[..., None, :] @ np.swapaxes(attended[0], -1, -2))[..., 0, :]
        if scale:
            scores = scores / np.sqrt(q.shape[-1] if scale_by is None else scale_by(x_t, q))
        if one_max:  # one max for every sequence of the batch
            with np.errstate(all="ignore"):
                exps = np.exp(scores - scores.max())
                weights = exps / exps.sum(axis=-1, keepdims=True)
        elif stable:
            weights = ref.softmax(scores)
        else:
            with np.errstate(all="ignore"):
                weights = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
        # weights (..., t) @ values (..., t, d_v) takes the weights of a batch as one matrix: every row meets
        # every sequence's values. One row per sequence, (..., 1, t), keeps them apart.
        output = (weights[..., None, :] @ attended[1])[..., 0, :] if blend_per_row else weights @ attended[1]
        return output, (keys if extend else k_cache), (values if extend else v_cache)

    return step


DECODE_STEP = Exercise(
    notebook="06_parallelism_and_scale",
    name="decode_step",
    reference=ref.decode_step,
    cases=_decode_cases,
    hidden_cases=_decode_hidden,
    mistakes=[
        Mistake(
            "projects_cache_again",
            "the cache already holds keys and values, projected when their tokens were new: project only x_t. "
            "Multiplying the cache by W_k or W_v again recomputes the prefix, and wrongly.",
            _decode_with(project_cache=True),
        ),
        Mistake(
            "forgets_own_key",
            "the new token attended only to the tokens before it. It may attend to itself too, as on the diagonal "
            "of a causal mask: append its key and value to the caches first, then attend over them.",
            _decode_with(own_key=False),
        ),
        Mistake(
            "caches_not_extended",
            "the caches came back as they were given. Return them with the new token's key and value appended, "
            "so that the next step can read them.",
            _decode_with(extend=False),
        ),
        Mistake(
            "new_token_first",
            "the new key and value went to the front of the caches. Position t comes after positions 0..t-1: "
            "append at the end (axis -2).",
            _decode_with(first=True),
        ),
        Mistake(
            "no_scaling",
            "the scores were not divided by sqrt(d_k). A decoding step computes one row of scaled dot-product "
            "attention: the same scale.",
            _decode_with(scale=False),
        ),
        Mistake(
            "query_from_w_k",
            "the query came from W_k. The new token asks with its own projection: q = x_t @ W_q.",
            _decode_with(query="k"),
        ),
        Mistake(
            "no_max_subtraction",
            "exp overflowed on large scores (inf / inf = nan). Subtract the largest score before exp, as in "
            "notebook 02: the weights do not change, and nothing overflows.",
            _decode_with(stable=False),
        ),
        Mistake(
            "global_max",
            "you subtracted one max for the whole batch. A sequence whose scores sit far below another's has "
            "every exp underflow to 0, and 0 / 0 is nan: each sequence (each row of scores) needs its own max, "
            "along the last axis with keepdims=True, as softmax takes it.",
            _decode_with(one_max=True),
        ),
        Mistake(
            "scale_by_d_model",
            "you scaled by sqrt(d_model), the token's width. The scores are dot products of a query and keys of "
            "width d_k: divide by sqrt(d_k), the width of x_t @ W_q.",
            _decode_with(scale_by=lambda x_t, q: x_t.shape[-1]),
        ),
        Mistake(
            "first_token_only",
            "the new token attended to the first token only, as row 0 of a causal mask allows. The new token is "
            "the last one: it may attend to every cached token and to itself, so it needs no mask at all.",
            _decode_with(first_key_only=True),
        ),
        Mistake(
            "raw_token_as_key",
            "the new token's key was x_t itself, the raw token. Every key in the cache was projected by W_k when "
            "its token was new, and the query is projected by W_q: the new key must be projected too, x_t @ W_k, "
            "or it is compared in another space (it only fits here because d_model = d_k).",
            _decode_with(raw="k"),
        ),
        Mistake(
            "raw_token_as_key_and_value",
            "the new token's key and value were x_t itself, the raw token. The cache holds projections: each new "
            "token's key is x_t @ W_k and its value x_t @ W_v, like every key and value before it (the raw token "
            "only fits here because d_model = d_k = d_v).",
            _decode_with(raw="kv"),
        ),
        Mistake(
            "matmul_on_batch",
            "with a batch, `weights @ values` takes the weights (batch, t) as one matrix and multiplies it into "
            "every sequence's values, so each token blends every sequence's values: (batch, batch, d_v). Give "
            "the weights a row axis, (..., 1, t), so that each sequence's weights meet only its own values, or "
            "say it in np.einsum with '...'.",
            _decode_with(blend_per_row=False),
        ),
    ],
)
