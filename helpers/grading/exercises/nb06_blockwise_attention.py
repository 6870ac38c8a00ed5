"""Notebook 06, parallelism and scale: the exercise ``blockwise_attention`` (FlashAttention's online softmax over
blocks of keys), beside :mod:`.nb06_parallelism_and_scale`'s other two.

Its visible cases, its hidden cases, the one case only the grader runs (a whole score matrix too large for the
grading kernel) and its classic mistakes, each mistake a model of what a function with that mistake returns, and
the hint a student sees for it.
"""

import numpy as np

from helpers.checking import Case
from helpers.grading import reference as ref
from helpers.grading.exercises.common import Exercise, Mistake, _rng
from helpers.grading.exercises.nb05_multi_head_attention import _per_sequence_masks
from helpers.grading.exercises.nb06_parallelism_and_scale import _window


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
    """One case, run by the grader only: 1,024 queries over 262,144 keys, whose whole float64 score matrix (2 GiB)
    cannot fit in a grading kernel's 2 GiB of address space, while blocks of 1,024 keys take 8 MiB each. Blocks
    of 1,024 queries instead (every query, here) against every key are the whole matrix again. The keys are all
    zero, so every weight is equal and the answer is the mean of the values: no reference run needed.

    One query at a time against every key holds a row of 2 MiB and passes: a case whose single row of scores
    could not fit would need keys as large, which could not be sent to the kernel. The instant check's memory
    property names that mistake where the function runs in the check's own process."""
    r = _rng(211)
    Q, K, V = r.normal(size=(1024, 1)), np.zeros((262144, 1)), r.normal(size=(262144, 1))
    expected = np.broadcast_to(V.mean(axis=0), (1024, 1)).copy()
    name = "1,024 queries over 262,144 keys in blocks of 1,024 (the whole score matrix would take 2 GiB)"
    return [Case(name, (Q, K, V, 1024), {}, expected, {})]


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
    guard=True,
    rescale="old - new",
    update_top=True,
    overlap=0,
    one_top=False,
):
    """Blockwise attention with one thing done differently; each default is the correct choice."""

    def blockwise(Q, K, V, block_size, mask=None):
        n_k = K.shape[-2]
        top = np.full((*Q.shape[:-1], 1), first_top)
        total, acc, outputs = np.zeros((*Q.shape[:-1], 1)), np.zeros((*Q.shape[:-1], V.shape[-1])), []
        stop = n_k - block_size + 1 if drop_last else n_k
        for start in range(0, max(stop, 1), block_size):
            block = slice(start, start + block_size + overlap)
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
            new_top = np.maximum(top, scores.max() if one_top else scores.max(axis=-1, keepdims=True))
            shift = np.where(np.isneginf(new_top), 0.0, new_top) if guard else new_top
            if not shift_by_max:  # plain exponentials: nothing to move when the maximum grows
                shift = np.zeros_like(shift)
            exps = np.exp(scores - shift)
            factor = np.exp(top - shift) if shift_by_max else 1.0
            if (
                rescale == "new - old"
            ):  # the correction turned upside down (0 for a row with nothing summed yet)
                factor = np.where(
                    np.isneginf(top), 0.0, np.exp(shift - np.where(np.isneginf(top), shift, top))
                )
            total = (total * factor if rescale_sum else total) + exps.sum(axis=-1, keepdims=True)
            acc = (acc * factor if rescale_acc else acc) + exps @ V[..., block, :]
            top = new_top if update_top else top
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
            "no_inf_guard",
            "a row whose keys are all masked so far still has its running maximum at -inf, and -inf - (-inf) is "
            "nan: subtract 0 instead of the maximum while it is -inf (np.where), as the text warns. exp(score - 0) "
            "of a masked score is still exp(-inf) = 0.",
            _blockwise_with(guard=False),
        ),
        Mistake(
            "rescale_inverted",
            "the correction is upside down. What was summed against the old maximum becomes, against a larger "
            "new one, smaller: multiply by exp(old max - new max), which is <= 1, not by its inverse.",
            _blockwise_with(rescale="new - old"),
        ),
        Mistake(
            "max_starts_at_zero",
            "the running maximum started at 0. Before any key it must be -inf (no score seen yet): with every score "
            "of a row far below 0, exp(score - 0) underflows to 0 and the division is 0 / 0.",
            _blockwise_with(first_top=0.0),
        ),
        # Before max_not_updated, whose nans it shares where a row is masked to the end; after max_starts_at_zero,
        # whose nans it shares where one query's scores all sink.
        Mistake(
            "one_max_for_all",
            "you kept one running maximum for every query. A query whose scores sit far below another's has every "
            "exp underflow to 0, and 0 / 0 is nan: each query (each row) needs its own, (..., n_q, 1), along the "
            "last axis with keepdims=True.",
            _blockwise_with(one_top=True, guard=False),
        ),
        Mistake(
            "max_not_updated",
            "the running maximum was never updated, so each block's correction exp(old max - new max) is "
            "exp(-inf) = 0 and wipes out every earlier block: after the block, the new maximum becomes the running "
            "one.",
            _blockwise_with(update_top=False),
        ),
        Mistake(
            "blocks_overlap",
            "your blocks overlap: the key at the boundary of two blocks counted twice. Block start..start + "
            "block_size ends where the next one begins: slice(start, start + block_size).",
            _blockwise_with(overlap=1),
        ),
    ],
)
