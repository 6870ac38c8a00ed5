"""Notebook 06, parallelism and scale: the exercise ``max_path_length`` (how many attention hops the farthest
connected pair of positions needs, under a mask).

Its visible cases, its hidden cases, how fresh ones are drawn (random masks) and its classic mistakes, each
mistake a model of what a function with that mistake returns, and the hint a student sees for it.
"""

import numpy as np

from helpers.checking import Case
from helpers.grading import reference as ref
from helpers.grading.exercises.common import Exercise, Mistake, _rng


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


def _hops(mask, residual=True, stop_when_all=False):
    """max_path_length's loop, with two classic mistakes to switch on: forgetting that a position keeps what
    it holds (no residual: start from the mask itself, one hop), and waiting until every pair is connected
    (which never happens under a causal mask: bounded here at n hops, where a student's loop would hang)."""
    n = mask.shape[-1]
    step = mask | np.eye(n, dtype=bool) if residual else mask
    reach, hops = (np.eye(n, dtype=bool), 0) if residual else (mask.copy(), 1)
    while hops < n:
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


def _first_to_last(mask):
    """Hops between the first and the last position only (whichever way they are connected)."""
    n = mask.shape[-1]
    step, reach = mask | np.eye(n, dtype=bool), np.eye(n, dtype=bool)
    for hops in range(n):
        if reach[0, -1] or reach[-1, 0]:
            return hops
        reach = _hop(step, reach)
    return 0


MAX_PATH_LENGTH = Exercise(
    notebook="06_parallelism_and_scale",
    name="max_path_length",
    reference=ref.max_path_length,
    cases=_path_cases,
    hidden_cases=_path_hidden,
    fresh=_path_fresh,
    mistakes=[  # the overflow first: on the long chain it is the only mistake left to name
        Mistake(
            "path_counts_overflow",
            "multiplying integer matrices counts the paths between two positions, and on a long chain those "
            "counts pass 2^63 and wrap around (numpy does not warn). Only whether a pair is connected matters: "
            "keep booleans, or compare with 0 after every hop.",
            _path_counts,
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
        Mistake(
            "until_all_connected",
            "under this mask some pairs are never connected (with a causal mask the first position never hears "
            "from the last), so waiting until every pair is connected cannot work. Stop when a hop adds no new "
            "pair.",
            lambda mask: _hops(mask, stop_when_all=True),
        ),
        Mistake(
            "first_and_last_only",
            "the farthest pair is not always the first and the last position (here a global token links those "
            "two in one hop). Take the longest path over every pair that is connected at all.",
            _first_to_last,
        ),
    ],
)
