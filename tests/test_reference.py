"""helpers.grading.reference and the source notebooks' solutions agree, in float64, with an independent loop reference,
and keep the course's conventions: batched, stable, inputs untouched."""

import loop_reference as loop
import numpy as np
import pytest
from conftest import REFERENCE_TOL, SOURCE, assert_close, solution_cells, student_namespace

from helpers.grading import reference as ref
from helpers.timing import scores_at_once, scores_loop

rng = np.random.default_rng(2024)


def _solutions():
    """Each notebook's solution cells, run in order, so later functions call the notebook's own earlier ones."""
    found = {}
    for path in sorted(SOURCE.glob("*.ipynb")):
        namespace = student_namespace()
        for code in solution_cells(path).values():
            exec(code, namespace)
        found.update(
            {name: namespace[name] for name in solution_cells(path) if callable(namespace.get(name))}
        )
    return found


FUNCTIONS = [
    "similarity_scores",
    "soft_lookup",
    "softmax",
    "scaled_dot_product_attention",
    "causal_mask",
    "self_attention",
    "split_heads",
    "combine_heads",
    "multi_head_attention",
]


@pytest.fixture(params=["helpers.grading.reference", "source solutions"], scope="module")
def impl(request):
    if request.param == "helpers.grading.reference":
        return {name: getattr(ref, name) for name in FUNCTIONS}
    solutions = _solutions()
    assert set(FUNCTIONS) <= set(solutions)
    return solutions


SOFTMAX_INPUTS = [
    (np.array([2.0, 0.5, -1.0, 0.0]), -1),
    (rng.normal(size=(3, 4, 5)), -1),
    (rng.normal(size=(3, 4, 5)), 1),
    (1e3 * rng.normal(size=(4, 6)), -1),
    (np.array([0.0, -np.inf, 3.0]), -1),
]


@pytest.mark.parametrize("x, axis", SOFTMAX_INPUTS)
def test_softmax(impl, x, axis):
    before = x.copy()
    assert_close(impl["softmax"](x, axis=axis), loop.softmax(x, axis=axis))
    np.testing.assert_array_equal(x, before)


def test_softmax_known_values(impl):
    # The lesson's scores: token 1 (score 2.0) gets the most weight.
    w = impl["softmax"](np.array([2.0, 0.5, -1.0, 0.0]))
    e = np.exp([2.0, 0.5, -1.0, 0.0])
    np.testing.assert_allclose(w, e / e.sum(), **REFERENCE_TOL)
    assert np.argmax(w) == 0


def test_softmax_properties(impl):
    x = rng.normal(size=(5, 7))
    w = impl["softmax"](x)
    assert np.all(w >= 0)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, **REFERENCE_TOL)
    np.testing.assert_allclose(impl["softmax"](x + 123.0), w, **REFERENCE_TOL)
    assert_close(np.stack([impl["softmax"](row) for row in x]), w)


SCORE_INPUTS = [
    (np.array([1.0, 0.0]), np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])),
    (rng.normal(size=5), rng.normal(size=(7, 5))),
    (rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 6, 4))),
]


@pytest.mark.parametrize("query, keys", SCORE_INPUTS)
def test_similarity_scores(impl, query, keys):
    before = (query.copy(), keys.copy())
    assert_close(impl["similarity_scores"](query, keys), loop.similarity_scores(query, keys))
    np.testing.assert_array_equal(query, before[0])
    np.testing.assert_array_equal(keys, before[1])


@pytest.mark.parametrize(
    "query, keys, values",
    [
        (np.array([2.0, 0.0]), np.eye(2), np.array([[10.0, 0.0, 1.0], [0.0, 10.0, 1.0]])),
        (30 * rng.normal(size=4), 30 * rng.normal(size=(6, 4)), rng.normal(size=(6, 3))),
        (rng.normal(size=(3, 2, 4)), rng.normal(size=(3, 2, 5, 4)), rng.normal(size=(3, 2, 5, 2))),
    ],
)
def test_soft_lookup(impl, query, keys, values):
    assert_close(impl["soft_lookup"](query, keys, values), loop.soft_lookup(query, keys, values))


def _causal(n):
    return np.tril(np.ones((n, n), dtype=bool))


ATTENTION_INPUTS = [
    ((2, 4), (3, 4), (3, 5), None),
    ((4, 8), (4, 8), (4, 3), _causal(4)),
    ((2, 3, 5, 8), (2, 3, 5, 8), (2, 3, 5, 2), _causal(5)),
    ((2, 3, 6), (2, 4, 6), (2, 4, 3), np.array([[[True, True, True, False]], [[True, False, True, True]]])),
]


@pytest.mark.parametrize("q_shape, k_shape, v_shape, mask", ATTENTION_INPUTS)
@pytest.mark.parametrize("magnitude", [1.0, 1e3])
def test_attention(impl, q_shape, k_shape, v_shape, mask, magnitude):
    Q, K, V = (
        magnitude * rng.normal(size=q_shape),
        magnitude * rng.normal(size=k_shape),
        rng.normal(size=v_shape),
    )
    before = [a.copy() for a in (Q, K, V)]
    out, w = impl["scaled_dot_product_attention"](Q, K, V, mask=mask)
    assert_close((out, w), loop.scaled_dot_product_attention(Q, K, V, mask))
    if mask is not None:
        assert np.all(w[..., ~np.broadcast_to(mask, w.shape)] == 0.0)  # exactly zero, not just small
    for a, b in zip((Q, K, V), before):
        np.testing.assert_array_equal(a, b)


def test_attention_batched_equals_looped(impl):
    attention = impl["scaled_dot_product_attention"]
    Q, K, V = rng.normal(size=(3, 5, 4)), rng.normal(size=(3, 5, 4)), rng.normal(size=(3, 5, 2))
    out, w = attention(Q, K, V, mask=_causal(5))
    for i in range(3):
        assert_close(attention(Q[i], K[i], V[i], mask=_causal(5)), (out[i], w[i]))


def test_loop_reference_is_not_trivially_wrong():
    # Guard the guard: the loop reference itself on a case small enough to do by hand.
    out, w = loop.scaled_dot_product_attention(
        np.array([[1.0, 0.0]]), np.array([[1.0, 0.0], [0.0, 1.0]]), np.eye(2)
    )
    a = np.exp(1 / np.sqrt(2))
    np.testing.assert_allclose(w, [[a / (a + 1), 1 / (a + 1)]], **REFERENCE_TOL)
    np.testing.assert_allclose(out, w, **REFERENCE_TOL)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_causal_mask(impl, n):
    mask = impl["causal_mask"](n)
    assert mask.dtype == bool
    np.testing.assert_array_equal(mask, loop.causal_mask(n))


def _projections(d_model, d_k, d_v, scale=1.0):
    return [scale * rng.normal(size=(d_model, d)) / np.sqrt(d_model) for d in (d_k, d_k, d_v)]


@pytest.mark.parametrize("shape, d_k, d_v", [((5, 4), 3, 2), ((2, 3, 6, 8), 4, 5)])
@pytest.mark.parametrize("magnitude", [1.0, 1e3])
@pytest.mark.parametrize("causal", [False, True])
def test_self_attention(impl, shape, d_k, d_v, magnitude, causal):
    X = rng.normal(size=shape)
    W = _projections(shape[-1], d_k, d_v, scale=np.sqrt(magnitude))
    mask = loop.causal_mask(shape[-2]) if causal else None
    got = impl["self_attention"](X, *W, mask=mask)
    assert_close(got, loop.self_attention(X, *W, mask))


@pytest.mark.parametrize("shape, heads", [((3, 4), 2), ((2, 5, 12), 4), ((2, 3, 4, 6), 6), ((3, 5), 1)])
def test_split_and_combine_heads(impl, shape, heads):
    X = rng.normal(size=shape)
    split = impl["split_heads"](X, heads)
    d_head = shape[-1] // heads
    assert split.shape == shape[:-2] + (heads, shape[-2], d_head)
    for h in range(heads):  # head h holds columns h*d_head:(h+1)*d_head of every position
        np.testing.assert_array_equal(split[..., h, :, :], X[..., h * d_head : (h + 1) * d_head])
    np.testing.assert_array_equal(impl["combine_heads"](split), X)


@pytest.mark.parametrize("name", ["split_heads", "multi_head_attention"])
def test_indivisible_heads_raise_a_clear_error(impl, name):
    X = rng.normal(size=(3, 6))
    args = (X, 4) if name == "split_heads" else (X, *[np.eye(6)] * 4, 4)
    with pytest.raises(ValueError, match="divisible"):
        impl[name](*args)


MHA_INPUTS = [
    ((4, 4), 2, None),
    ((5, 8), 4, "causal"),
    ((2, 3, 6, 8), 2, "causal"),
    ((2, 4, 6), 3, "per-sequence"),
]


@pytest.mark.parametrize("shape, heads, mask_kind", MHA_INPUTS)
@pytest.mark.parametrize("magnitude", [1.0, 1e3])
def test_multi_head_attention(impl, shape, heads, mask_kind, magnitude):
    X = rng.normal(size=shape)
    d = shape[-1]
    W = [np.sqrt(magnitude) * rng.normal(size=(d, d)) / np.sqrt(d) for _ in range(4)]
    n = shape[-2]
    mask = {
        None: None,
        "causal": loop.causal_mask(n),
        "per-sequence": (rng.random((shape[0], n, n)) < 0.7) | np.eye(n, dtype=bool),
    }[mask_kind]
    before = [a.copy() for a in (X, *W)]
    out, weights = impl["multi_head_attention"](X, *W, heads, mask=mask)
    expected_out, expected_weights = loop.multi_head_attention(X, *W, heads, mask)
    assert weights.shape == shape[:-2] + (heads, n, n)
    np.testing.assert_allclose(weights, expected_weights, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(
        out, expected_out, rtol=1e-10, atol=1e-10 * max(1.0, np.abs(expected_out).max())
    )
    for a, b in zip((X, *W), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["self_attention", "multi_head_attention"])
def test_causal_outputs_ignore_later_tokens(impl, name):
    X = rng.normal(size=(2, 6, 8))
    W = [rng.normal(size=(8, 8)) / np.sqrt(8) for _ in range(4)]
    args = W[:3] if name == "self_attention" else (*W, 2)
    out, _ = impl[name](X, *args, mask=loop.causal_mask(6))
    for t in range(6):
        changed = X.copy()
        changed[:, t:] += rng.normal(size=changed[:, t:].shape)
        out_changed, _ = impl[name](changed, *args, mask=loop.causal_mask(6))
        # Exact, on any CPU: both calls run here, on the same kernel and shapes, and a masked weight is exactly 0,
        # so a later token adds exactly 0 * value. Any leak, however small, shows.
        np.testing.assert_array_equal(out_changed[:, :t], out[:, :t])


def test_given_scores_loop_is_right():
    # Notebook 06 shows scores_loop as the n^2 dot products that Q @ K.T computes at once.
    Q, K = rng.normal(size=(7, 5)), rng.normal(size=(9, 5))
    assert_close(scores_loop(Q, K), np.array([[sum(a * b for a, b in zip(q, k)) for k in K] for q in Q]))
    assert_close(scores_at_once(Q, K), scores_loop(Q, K))


def _masks():
    r = np.random.default_rng(7)
    masks = [np.ones((1, 1), dtype=bool), np.zeros((3, 3), dtype=bool), np.eye(100, k=-1, dtype=bool)]
    masks += [r.random((n, n)) < p for n in (2, 5, 9, 17, 33) for p in (0.05, 0.15, 0.4)]
    return masks


@pytest.mark.parametrize("source", ["reference", "notebook"])
def test_max_path_length_is_breadth_first_search(source):
    fn = ref.max_path_length if source == "reference" else _solutions()["max_path_length"]
    for mask in _masks():
        before = mask.copy()
        assert fn(mask) == loop.max_path_length(mask.tolist()), mask.astype(int)
        np.testing.assert_array_equal(mask, before)
