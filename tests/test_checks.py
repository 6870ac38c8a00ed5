"""The checks students run: the reference passes, the stub and every classic mistake fail with the right hint,
hidden cases keep their answers to themselves, and a check answers within a second."""

import json
import signal
import time

import numpy as np
import pytest
from conftest import load_function
from mistakes import MEMORY_MISTAKES, MISTAKES, REFERENCE, SAME_MISTAKE, UNUSUAL_BUT_RIGHT

from helpers import checking, checks
from helpers.checking import CheckFailure, decode, encode
from helpers.grading import reference as ref
from helpers.grading.exercises import EXERCISES, check_data, fixtures

FUNCTIONS = list(MISTAKES)
CASES = [(name, mistake) for name in FUNCTIONS for mistake in MISTAKES[name]]


def check(name):
    return getattr(checks, f"check_{name}")


def reference(name):
    return EXERCISES[name].reference


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("hidden", [False, True])
def test_reference_passes(name, hidden, capsys):
    check(name)(reference(name), hidden=hidden)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("name", FUNCTIONS)
def test_student_style_reference_passes(name):
    # A correct solution written differently from helpers.grading.reference must pass too.
    check(name)(load_function(REFERENCE[name], name))
    check(name)(load_function(REFERENCE[name], name), hidden=True)


@pytest.mark.parametrize(
    "name, variant", [(name, variant) for name in UNUSUAL_BUT_RIGHT for variant in UNUSUAL_BUT_RIGHT[name]]
)
def test_unusual_but_right_code_passes(name, variant):
    # Loops, einsum, logsumexp, complex numbers, a breadth-first search: right is right, however it is written.
    fn = load_function(UNUSUAL_BUT_RIGHT[name][variant], name)
    check(name)(fn)
    check(name)(fn, hidden=True)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_stub_says_not_implemented(name):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    stub.__name__ = name
    with pytest.raises(CheckFailure, match="is not implemented yet"):
        check(name)(stub)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_at_least_five_classic_mistakes(name):
    assert len(MISTAKES[name]) >= 5


@pytest.mark.parametrize("name, mistake", CASES)
def test_mistake_fails_with_its_hint(name, mistake):
    code, hint = MISTAKES[name][mistake]
    with pytest.raises(CheckFailure) as failure:
        check(name)(load_function(code, name))
    message = str(failure.value)
    assert hint in message, f"expected hint {hint!r} in:\n{message}"
    assert "failed" in message and "case" in message or "property" in message


@pytest.mark.parametrize("name, mistake", CASES)
def test_hints_are_distinct(name, mistake):
    # Each mistake's hint names that mistake only: no other mistake of the same function shares its text
    # (code that makes the same mistake another way, SAME_MISTAKE, shares it on purpose).
    def kind(m):
        return SAME_MISTAKE.get((name, m), m)

    _, hint = MISTAKES[name][mistake]
    others = [h for m, (_, h) in MISTAKES[name].items() if kind(m) != kind(mistake)]
    assert not any(hint in other for other in others)


def test_every_known_mistake_is_named_never_the_generic_hint():
    # A mistake whose expected text were part of the generic hints would pass test_mistake_fails_with_its_hint unnamed.
    generic = [checking.GENERIC_HINT, "read the error above: it names the line that failed."]
    unnamed = [(n, m) for n, m in CASES if any(MISTAKES[n][m][1] in text for text in generic)]
    assert not unnamed


def test_keys_split_into_num_heads_heads_are_named_where_split_heads_blames_d_model():
    """Where the keys' width does not divide by num_heads, the student's split_heads raises about "d_model", which
    is not what they split: the hint says that the keys and values have num_kv_heads heads."""
    code, hint = MISTAKES["grouped_query_attention"]["kv_split_by_num_heads"]
    with pytest.raises(CheckFailure) as failure:
        check("grouped_query_attention")(load_function(code, "grouped_query_attention"), hidden=True)
    assert "is not divisible by num_heads" in str(failure.value) and hint in str(failure.value)


def test_failure_shows_case_expected_and_got():
    code, _ = MISTAKES["softmax"]["no_max_subtraction"]
    with pytest.raises(CheckFailure) as failure:
        checks.check_softmax(load_function(code, "softmax"))
    message = str(failure.value)
    assert "large scores (overflow test)" in message
    assert "expected: [0.09  , 0.2447, 0.6652]" in message
    assert "got:      [nan, nan, nan]" in message


def test_hidden_failure_does_not_reveal_the_answer():
    # Right everywhere except on a -inf score, which only the hidden cases use.
    def softmax(x, axis=-1):
        if np.any(np.isneginf(x)):
            return np.full(np.shape(x), np.nan)
        return ref.softmax(x, axis)

    checks.check_softmax(softmax)
    with pytest.raises(CheckFailure) as failure:
        checks.check_softmax(softmax, hidden=True)
    message = str(failure.value)
    assert "hidden case" in message
    assert "expected:" not in message and "got:" not in message


def test_inputs_unchanged_is_a_failure():
    def softmax(x, axis=-1):
        result = ref.softmax(x, axis)
        x[...] = 0.0
        return result

    with pytest.raises(CheckFailure, match="modified its input"):
        checks.check_softmax(softmax)


def test_a_loop_that_never_ends_is_stopped_with_a_hint(monkeypatch):
    # The loop a student writes first: wait until every pair is connected. Under a mask where some pair never is,
    # it runs for ever; the check stops it (a timer signal, in the main thread) and says why.
    def max_path_length(mask):
        reach, hops = np.eye(len(mask), dtype=bool), 0
        while not reach.all():
            reach, hops = reach | (mask @ reach), hops + 1
        return hops

    monkeypatch.setattr(checking, "CASE_SECONDS", 0.5)
    handler = signal.getsignal(signal.SIGALRM)
    start = time.perf_counter()
    with pytest.raises(CheckFailure) as failure:
        checks.check_max_path_length(max_path_length)
    assert time.perf_counter() - start < 5
    message = str(failure.value)
    assert (
        "'only the diagonal, n = 4: no position reaches another': it did not return within 0.5 s" in message
    )
    assert "some pairs are never connected" in message
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0), "the timer is off again"
    assert signal.getsignal(signal.SIGALRM) is handler, "and the signal's handler is what it was"


def test_integer_path_counts_compared_between_hops_are_named(monkeypatch):
    """Counts of paths compared instead of the pattern of connected pairs: on most masks the loop never ends (the
    timeout's hint names this as well as waiting for every pair), on a single position it stops by accident."""

    def max_path_length(mask):
        step = mask.astype(int) + np.eye(len(mask), dtype=int)
        reach, hops = np.eye(len(mask), dtype=int), 0
        while True:
            new = step @ reach
            if np.array_equal(new, reach):
                return hops
            reach, hops = new, hops + 1

    monkeypatch.setattr(checking, "CASE_SECONDS", 0.5)
    with pytest.raises(CheckFailure, match="integer path counts keep growing"):
        checks.check_max_path_length(max_path_length)
    with pytest.raises(CheckFailure, match="'a single position'") as failure:
        checks.check_max_path_length(max_path_length, hidden=True)
    assert "you compared the integer path counts" in str(failure.value)


def test_an_answer_no_mistake_explains_is_described_by_its_form():
    """No known mistake matches: the hint still says what the answer's shape, nans or dtype show."""
    hint = checking._unnamed_hint
    assert "extra axis of length 1" in hint(np.zeros((2, 1, 3)), np.zeros((2, 3)))
    assert "went missing" in hint(np.zeros(()), np.zeros(1))
    assert "transposed" in hint(np.zeros((3, 2)), np.zeros((2, 3)))
    assert "wrong order" in hint(np.zeros((3, 2, 4)), np.zeros((2, 3, 4)))
    assert "every other one" in hint(np.zeros((2, 4, 2)), np.zeros((2, 4)))
    assert "merged into one" in hint(np.zeros((8, 6)), np.zeros((2, 4, 6)))
    assert "0 / 0" in hint(np.array([np.nan, 1.0]), np.array([0.5, 0.5]))
    assert "overflows" in hint(np.array([np.inf, 1.0]), np.array([0.5, 0.5]))
    assert "float32" in hint(np.array([0.1, 0.2], dtype=np.float32), np.array([0.1, 0.2]) + 1e-6)
    assert "return 2 values" in hint(np.zeros(2), (np.zeros(2), np.zeros(2)), ("the output", "the weights"))
    assert hint(np.array([1.0, 2.0]), np.array([1.0, 3.0])) is None, "a plain wrong value says nothing more"


def test_returning_none_is_named():
    with pytest.raises(CheckFailure, match="returned None"):
        checks.check_softmax(lambda x, axis=-1: None)


def test_not_a_function():
    with pytest.raises(CheckFailure, match="expects your function"):
        checks.check_softmax(None)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_check_answers_within_a_second(name):
    code, _ = next(iter(MISTAKES[name].values()))
    wrong = load_function(code, name)
    for fn in (reference(name), wrong):
        # This process's CPU time, not wall time: other programs on the machine (a parallel test run) do not count.
        start = time.process_time()
        try:
            check(name)(fn)
        except CheckFailure:
            pass
        assert time.process_time() - start < 1.0


# Check data is computed through BLAS (matrix products), and BLAS rounds differently from one CPU to another:
# OpenBLAS picks a kernel per CPU family, and the kernels add a dot product's terms in different orders. So the
# committed data (written on one CPU) and the data recomputed here may differ in the last bits. The error of a
# sum is a few ulp of its largest terms, not of its result (which may be a small difference of large terms), so
# the tolerance is relative to each array's largest magnitude: measured at most 7e-16 of it across OpenBLAS's
# Haswell, SkylakeX, Sandybridge, Nehalem and Prescott kernels (OPENBLAS_CORETYPE); 1e-12 leaves a thousandfold
# margin and still fails a change in the 12th significant digit of an array's largest values. Everything else
# (names, hints, structure, dtypes, shapes, booleans, where nan and inf are) must be equal.
BLAS_RTOL = 1e-12


def _assert_close(got, want, where):
    """Arrays of equal dtype and shape; floats equal but for BLAS's rounding, nan and inf in the same places."""
    got, want = np.asarray(got), np.asarray(want)  # a count comes back as a Python int
    assert (got.dtype, got.shape) == (want.dtype, want.shape), where
    if not np.issubdtype(want.dtype, np.floating):
        np.testing.assert_array_equal(got, want, err_msg=where)
        return
    finite = np.abs(want[np.isfinite(want)])
    scale = finite.max() if finite.size else 0.0
    np.testing.assert_allclose(
        got, want, rtol=BLAS_RTOL, atol=BLAS_RTOL * scale, equal_nan=True, err_msg=where
    )


def _assert_same_data(got, want, where=""):
    """JSON check data: the same structure and everything but float arrays exactly, those with _assert_close."""
    assert type(got) is type(want), where
    if isinstance(want, dict) and "dtype" in want:
        assert got.keys() == want.keys(), where
        _assert_close(decode(got), decode(want), where)
    elif isinstance(want, dict):
        assert got.keys() == want.keys(), where
        for key in want:
            _assert_same_data(got[key], want[key], f"{where}/{key}")
    elif isinstance(want, list):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_same_data(g, w, f"{where}/{i}")
    elif isinstance(want, float):
        _assert_close(got, want, where)
    else:
        assert got == want, where


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


@pytest.mark.parametrize("name", list(EXERCISES))
def test_committed_check_data_is_in_step_with_the_exercises(name):
    # `make release` writes it; a changed case, mistake or hint without it would check against stale answers.
    committed = json.loads((checking.DATA / f"{name}.json").read_text())
    _assert_same_data(committed, json.loads(json.dumps(check_data(name))), name)
    _assert_same_data(
        json.loads((checking.DATA / "fixtures.json").read_text()), json.loads(json.dumps(fixtures()))
    )


@pytest.mark.parametrize("name", list(EXERCISES))
def test_check_data_reads_back_every_bit(name):
    exercise = EXERCISES[name]
    for case in checks._spec(name).cases():
        expected = exercise.reference(*case.args, **case.kwargs)
        # The file format loses nothing: this machine's answer, written as check data and read back as a check
        # reads it, is the same value to the last bit (nan and inf included). No BLAS between the two.
        stored = decode(json.loads(json.dumps(encode(expected), separators=(",", ":"))))
        for got, want in zip(_as_tuple(stored), _as_tuple(expected), strict=True):
            got, want = np.asarray(got), np.asarray(want)
            assert (got.dtype, got.shape) == (want.dtype, want.shape), case.name
            np.testing.assert_array_equal(got, want, err_msg=case.name)
        # And the committed answer, written on another CPU, is this one but for BLAS's rounding (see BLAS_RTOL).
        for got, want in zip(_as_tuple(expected), _as_tuple(case.expected), strict=True):
            _assert_close(got, want, case.name)


def test_without_the_grading_package_hidden_cases_say_they_run_when_graded(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_grading(name, *args, **kwargs):
        if name.startswith("helpers.grading"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_grading)
    with pytest.raises(CheckFailure, match="run when your work is graded"):
        checks.check_softmax(ref.softmax, hidden=True)


@pytest.mark.parametrize("name, mistake", sorted(MEMORY_MISTAKES))
def test_right_values_in_too_much_memory_fail_the_instant_check_with_its_hint(name, mistake):
    code, hint = MEMORY_MISTAKES[name, mistake]
    with pytest.raises(CheckFailure, match="failed the property check") as failure:
        check(name)(load_function(code, name))
    assert hint in str(failure.value) and "MiB at its peak" in str(failure.value)


def test_copies_of_the_inputs_are_not_mistaken_for_rows_of_scores():
    """A copy of K or V is n_k long, as a row of scores is; the memory property tells them apart by the features,
    which a copy grows with and a row of scores does not."""
    code = REFERENCE["blockwise_attention"].replace(
        "    n_k, d_k = K.shape[-2:]\n",
        "    Q, K, V = (np.array(A, dtype=float) for A in (Q, K, V))\n    n_k, d_k = K.shape[-2:]\n",
    )
    check("blockwise_attention")(load_function(code, "blockwise_attention"))


def test_the_graded_only_memory_case_needs_more_than_a_grading_kernel_has_for_the_whole_matrix():
    """The hidden memory test of blockwise_attention rests on the sandbox's address-space limit: a kernel allowed
    more would hold the whole matrix and pass it. Keep the two in step."""
    from helpers.grading import sandbox
    from helpers.grading.exercises import EXERCISES, fresh_inputs, hidden_cases

    (case,) = EXERCISES["blockwise_attention"].graded_only()
    Q, K, V, block_size = case.args
    assert Q.shape[-2] * K.shape[-2] * 8 >= sandbox.MEMORY_BYTES, (
        "the whole float64 score matrix must not fit"
    )
    assert 8 * Q.shape[-2] * block_size * 8 < sandbox.MEMORY_BYTES / 16, (
        "eight arrays of one block fit easily"
    )
    assert block_size >= Q.shape[-2], (
        "a block of block_size queries against every key is the whole matrix too"
    )
    np.testing.assert_allclose(case.expected[:4], ref.blockwise_attention(Q[:4], K, V, block_size), rtol=1e-9)
    assert case.name not in {c.name for c in hidden_cases("blockwise_attention")}, "not in self-study"
    with fresh_inputs("attention/student/06_parallelism_and_scale"):
        assert case.name in {c.name for c in hidden_cases("blockwise_attention")}, "but while grading"


def test_a_wrong_value_is_named_not_numbered_from_zero():
    """ "output 0 has wrong values" read as row 0 of the output: the message names which returned value is wrong."""

    def wrong_weights(Q, K, V, mask=None):
        output, weights = ref.scaled_dot_product_attention(Q, K, V, mask)
        return output, weights + 0.1

    with pytest.raises(
        CheckFailure, match=r"the weights \(value 2 of 2 returned\) has the right shape but wrong"
    ):
        check("scaled_dot_product_attention")(wrong_weights)
    with pytest.raises(CheckFailure, match=r"it returned 1 value\(s\) where 2 were expected"):
        check("scaled_dot_product_attention")(lambda Q, K, V, mask=None: Q)


def test_every_case_said_to_have_scores_of_magnitude_1e3_overflows_an_unstable_softmax(monkeypatch):
    """A case named for large scores must be one that an exp without the max trick cannot survive (past ~709):
    two such cases once stopped at 121 and 57, and a softmax without the max passed them."""

    def unstable_softmax(x, axis=-1):
        e = np.exp(np.asarray(x, dtype=float))
        return e / e.sum(axis=axis, keepdims=True)

    monkeypatch.setattr(ref, "softmax", unstable_softmax)
    from helpers.grading.exercises import EXERCISES

    no_max = {m.name: m.model for m in EXERCISES["blockwise_attention"].mistakes}["no_max_subtraction"]
    found = 0
    for name, exercise in EXERCISES.items():
        for case in exercise.cases() + exercise.hidden_cases():
            if "1e3" not in case.name:
                continue
            found += 1
            fn = {"blockwise_attention": no_max, "softmax": unstable_softmax}.get(name, exercise.reference)
            with np.errstate(all="ignore"):
                out = fn(*case.args, **case.kwargs)
            outputs = out if isinstance(out, tuple) else (out,)
            assert not all(np.all(np.isfinite(o)) for o in outputs), (name, case.name)
    assert found >= 8, found
