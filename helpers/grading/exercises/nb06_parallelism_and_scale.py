"""Notebook 06, parallelism and scale: the exercises ``max_path_length`` (how many attention hops the farthest
connected pair of positions needs, under a mask), ``decode_step`` (one step of generation with a key/value
cache) and ``blockwise_attention`` (FlashAttention's online softmax over blocks of keys).

For each, its visible cases, its hidden cases (for max_path_length, how fresh ones are drawn; for
blockwise_attention, one case only the grader runs) and its classic mistakes, each mistake a model of what a
function with that mistake returns, and the hint a student sees for it.
"""

import numpy as np

from helpers.checking import Case
from helpers.grading import reference as ref
from helpers.grading.exercises.common import Exercise, Mistake, _rng, _weights
from helpers.grading.exercises.nb05_multi_head_attention import _per_sequence_masks


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
    ]


def _decode_hidden():
    r = _rng(110)
    return [
        Case("two batch dimensions, t = 5", _decode_args(r, (2, 3), 5, 6, 4, 3)),
        Case("scores of magnitude 1e3", _decode_args(r, (), 6, 4, 4, 4, scale=20.0)),
        Case("a batch of 3 starting from empty caches", _decode_args(r, (3,), 0, 4, 4, 4)),
    ]


def _decode_with(
    own_key=True,
    extend=True,
    first=False,
    project_cache=False,
    scale=True,
    query="q",
    stable=True,
    raw="",
    blend_per_row=True,
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
        if attended[0].shape[-2] == 0:
            raise ValueError("nothing to attend to")
        scores = (q[..., None, :] @ np.swapaxes(attended[0], -1, -2))[..., 0, :]
        if scale:
            scores = scores / np.sqrt(q.shape[-1])
        if stable:
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


def _blockwise_args(r, batch, n_q, n_k, d_k, d_v, block_size, scale=1.0):
    Q, K = scale * r.normal(size=(*batch, n_q, d_k)), scale * r.normal(size=(*batch, n_k, d_k))
    return (Q, K, r.normal(size=(*batch, n_k, d_v)), block_size)


def _blockwise_cases():
    r = _rng(11)
    return [
        Case("3 queries, 8 keys in blocks of 4", _blockwise_args(r, (), 3, 8, 4, 2, 4)),
        Case("7 keys in blocks of 3: the last block is shorter", _blockwise_args(r, (), 4, 7, 4, 3, 3)),
        Case(
            "a causal mask, 6 tokens in blocks of 2",
            _blockwise_args(r, (), 6, 6, 4, 3, 2),
            {"mask": ref.causal_mask(6)},
        ),
        Case(
            "a window of radius 1: some rows see nothing in the first block",
            _blockwise_args(r, (), 6, 6, 4, 2, 2),
            {"mask": _window(6, 1)},
        ),
        Case(
            "a batch of 2, scores of magnitude 1e3, blocks of 4",
            _blockwise_args(r, (2,), 3, 8, 4, 2, 4, scale=25.0),
        ),
        Case("scores that climb by more than 1,000 from the first block to the last", _climbing_scores()),
        Case("a query whose every score is below -700 (and one above 700)", _sunken_scores()),
        # A mask per sequence: the one visible case where slicing the mask as if it were (n_q, n_k) fails.
        Case(
            "a batch of 3, a causal padding mask per sequence (batch, n, n), blocks of 2",
            _blockwise_args(r, (3,), 5, 5, 4, 2, 2),
            {"mask": _per_sequence_masks([5, 2, 4], 5)},
        ),
    ]


def _climbing_scores():
    """One query against keys whose scores climb from 0 to 1,500: a later block's scores exceed the first block's
    maximum by far more than exp can take (about 709)."""
    Q = np.array([[30.0, 0.0, 0.0, 0.0]])
    K = np.zeros((8, 4))
    K[:, 0] = np.linspace(0.0, 100.0, 8)
    return (Q, K, _rng(12).normal(size=(8, 2)), 3)


def _sunken_scores():
    """Two queries, the first scoring every key near +800, the second near -800: a running maximum that starts at
    0 instead of -inf underflows every exponential of the second to 0 and divides 0 by 0."""
    Q = np.array([[40.0, 0.0, 0.0, 0.0], [-40.0, 0.0, 0.0, 0.0]])
    K = np.zeros((5, 4))
    K[:, 0] = [40.0, 41.0, 39.5, 40.5, 42.0]
    return (Q, K, _rng(13).normal(size=(5, 3)), 2)


def _blockwise_hidden():
    r = _rng(111)
    return [
        Case(
            "two batch dimensions, causal, 12 keys in blocks of 5",
            _blockwise_args(r, (2, 3), 12, 12, 4, 3, 5),
            {"mask": ref.causal_mask(12)},
        ),
        Case("one block holds every key", _blockwise_args(r, (), 4, 6, 3, 2, 10)),
        Case("blocks of one key", _blockwise_args(r, (), 3, 5, 4, 2, 1)),
        Case(
            "a causal mask over scores of magnitude 1e3, blocks of 3",
            _blockwise_args(r, (), 7, 7, 4, 2, 3, scale=25.0),
            {"mask": ref.causal_mask(7)},
        ),
        Case(
            "a mask per sequence (batch, n_q, n_k), blocks of 2",
            _blockwise_args(r, (3,), 4, 5, 4, 2, 2),
            {"mask": r.random((3, 4, 5)) < 0.6},
        ),
    ]


def _too_big_for_the_whole_matrix():
    """One case, run by the grader only: 2,048 queries over 131,072 keys, whose whole float64 score matrix (2 GiB)
    cannot fit in a grading kernel's 2 GiB of address space, while blocks of 512 keys take 8 MiB each. The keys
    are all zero, so every weight is equal and the answer is the mean of the values: no reference run needed."""
    r = _rng(211)
    Q, K, V = r.normal(size=(2048, 1)), np.zeros((131072, 1)), r.normal(size=(131072, 1))
    expected = np.broadcast_to(V.mean(axis=0), (2048, 1)).copy()
    name = "2,048 queries over 131,072 keys in blocks of 512 (the whole score matrix would take 2 GiB)"
    return [Case(name, (Q, K, V, 512), {}, expected, {})]


def _blockwise_with(
    rescale_sum=True,
    rescale_acc=True,
    alone=False,
    scale=True,
    drop_last=False,
    use_mask=True,
    shift_by_max=True,
    first_top=-np.inf,
    first_block_mask=False,
):
    """Blockwise attention with one thing done differently; each default is the correct choice."""

    def blockwise(Q, K, V, block_size, mask=None):
        n_k = K.shape[-2]
        top = np.full((*Q.shape[:-1], 1), first_top)
        total, acc, outputs = np.zeros((*Q.shape[:-1], 1)), np.zeros((*Q.shape[:-1], V.shape[-1])), []
        stop = n_k - block_size + 1 if drop_last else n_k
        for start in range(0, max(stop, 1), block_size):
            block = slice(start, start + block_size)
            scores = Q @ np.swapaxes(K[..., block, :], -1, -2)
            if scale:
                scores = scores / np.sqrt(Q.shape[-1])
            if mask is not None and use_mask:
                columns = slice(0, block_size) if first_block_mask else block
                whole = np.broadcast_to(mask, (*mask.shape[:-1], n_k))
                scores = np.where(whole[..., columns], scores, -np.inf)
            if alone:  # each block's own softmax, the blocks' outputs averaged
                outputs.append(ref.softmax(scores) @ V[..., block, :])
                continue
            new_top = np.maximum(top, scores.max(axis=-1, keepdims=True))
            shift = np.where(np.isneginf(new_top), 0.0, new_top)
            if not shift_by_max:  # plain exponentials: nothing to move when the maximum grows
                shift = np.zeros_like(shift)
            exps = np.exp(scores - shift)
            factor = np.exp(top - shift) if shift_by_max else 1.0
            total = (total * factor if rescale_sum else total) + exps.sum(axis=-1, keepdims=True)
            acc = (acc * factor if rescale_acc else acc) + exps @ V[..., block, :]
            top = new_top
        return np.mean(outputs, axis=0) if alone else acc / total

    return blockwise


BLOCKWISE_ATTENTION = Exercise(
    notebook="06_parallelism_and_scale",
    name="blockwise_attention",
    reference=ref.blockwise_attention,
    cases=_blockwise_cases,
    hidden_cases=_blockwise_hidden,
    graded_only=_too_big_for_the_whole_matrix,
    mistakes=[
        Mistake(
            "blocks_normalised_alone",
            "each block was normalised on its own and the blocks' outputs averaged. A block's weights must sum to "
            "its share of the whole row, not to 1: keep running sums over the blocks and divide once, at the end.",
            _blockwise_with(alone=True),
        ),
        Mistake(
            "sum_not_rescaled",
            "when a block raises a row's maximum, what was summed so far was measured against the old maximum. "
            "Multiply the running sum by exp(old max - new max) before adding the block's, as you do for the "
            "running output.",
            _blockwise_with(rescale_sum=False),
        ),
        Mistake(
            "nothing_rescaled",
            "when a block raises a row's maximum, the running sum and the running output were both measured "
            "against the old maximum: multiply both by exp(old max - new max) before adding the block's.",
            _blockwise_with(rescale_sum=False, rescale_acc=False),
        ),
        Mistake(
            "last_block_dropped",
            "the keys after the last whole block were left out. When n_k is not a multiple of block_size the last "
            "block is shorter, and it counts too.",
            _blockwise_with(drop_last=True),
        ),
        Mistake(
            "no_scaling",
            "the scores were not divided by sqrt(d_k): blockwise attention computes the same softmax(Q K^T / "
            "sqrt(d_k)) V as scaled_dot_product_attention.",
            _blockwise_with(scale=False),
        ),
        Mistake(
            "mask_ignored",
            "the mask was ignored. Each block needs its own columns of the mask (the same slice as its keys), "
            "applied before the exponentials.",
            _blockwise_with(use_mask=False),
        ),
        Mistake(
            "first_block_mask",
            "every block was masked with the mask's first block_size columns, the first block's. Block "
            "start..start + block_size holds other keys, and needs their columns of the mask: the same slice as "
            "its keys.",
            _blockwise_with(first_block_mask=True),
        ),
        Mistake(
            "no_max_subtraction",
            "exp overflowed on large scores (inf / inf = nan). Keep a running maximum per query, subtract it before "
            "exp, and rescale the sums when it grows: that is what makes the blocks safe.",
            _blockwise_with(shift_by_max=False),
        ),
        Mistake(
            "max_starts_at_zero",
            "the running maximum started at 0. Before any key it must be -inf (no score seen yet): with every score "
            "of a row far below 0, exp(score - 0) underflows to 0 and the division is 0 / 0.",
            _blockwise_with(first_top=0.0),
        ),
    ],
)
