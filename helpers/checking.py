"""Checks that teach: run a student's function on named cases and, on the first failure, say which case,
what was expected, what came back, and the mistake that most likely explains it.

A check diagnoses rather than guesses: when an answer is wrong it compares it with what each known mistake
returns on the same case and names the one that matches. Cases hold their expected answers and each mistake's
output as data (``check_data/``, made by ``helpers.grading.exercises`` from the course's own implementations),
so the student package ships answers to fixed inputs, never the code that computes them.

The specific checks live in :mod:`helpers.checks`. Students call, e.g., ``check_softmax(softmax)`` right after
writing ``softmax``. The nbgrader test cells call the same functions, so the message in nbgrader's feedback is
the message the student saw while working.
``hidden=True`` runs the extra cases of the hidden tests (computed at grading time, never shipped), and the few
properties that a slip within every case's tolerance would pass; their messages never show the expected answer.
When no known mistake matches a wrong answer, its form still speaks: a wrong shape, nan or float32 gets a hint
of its own (:func:`_unnamed_hint`) before the generic one.
"""

import contextlib
import copy
import functools
import json
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from helpers import being_graded, progress


class CheckFailure(AssertionError):
    """Raised by a check: the message names the failing case and the likely mistake."""

    def _render_traceback_(self):
        # IPython shows this instead of a traceback: the message is the point, not the checker's own frames.
        return [f"\x1b[0;31mCheckFailure\x1b[0m: {self}"]


@dataclass(frozen=True)
class Case:
    """One input, the answer expected on it, and what each known mistake returns on it (data, no code)."""

    name: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    expected: object = None
    mistakes: dict = field(default_factory=dict)  # mistake name -> that mistake's output on this case


@dataclass(frozen=True)
class Spec:
    name: str
    arg_names: list
    cases: Callable[[], list]  # visible cases, loaded on first use so that importing the module stays instant
    hidden_cases: Callable[[], list]
    hints: dict  # mistake name -> the hint shown when an answer matches that mistake's output
    properties: list  # functions (fn) -> None or (description, hint); run after the visible cases
    error_hint: Callable  # (case, exception) -> hint for a function that raised
    returns: tuple = ()  # names of the values a function returns as a tuple, for messages: ("output", "weights")
    hidden_properties: list = field(default_factory=list)  # properties that run after the hidden cases too


# --- check data: arrays as JSON, exactly --------------------------------------------------------------------

DATA = Path(__file__).with_name("check_data")


@functools.cache
def stored(name):
    """``check_data/<name>.json``: a check's cases, expected answers and hints, or the fixtures."""
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def fixture(name):
    """An input that a property check needs and may not compute itself (that would be a solution)."""
    return decode(stored("fixtures")[name])


def encode(value):
    """A function's argument or result as JSON data: arrays keep dtype, shape and every bit of each float."""
    if isinstance(value, tuple):
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, np.ndarray | np.generic):
        array = np.asarray(value)
        return {"dtype": array.dtype.str, "shape": list(array.shape), "data": array.ravel().tolist()}
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    raise TypeError(f"cannot store a {type(value).__name__} as check data")


def decode(data):
    if isinstance(data, dict) and "tuple" in data:
        return tuple(decode(v) for v in data["tuple"])
    if isinstance(data, dict) and "dtype" in data:
        return np.array(data["data"], dtype=np.dtype(data["dtype"])).reshape(data["shape"])
    return data


def case_from_data(data):
    return Case(
        name=data["name"],
        args=tuple(decode(a) for a in data["args"]),
        kwargs={k: decode(v) for k, v in data["kwargs"].items()},
        expected=decode(data["expected"]),
        mistakes={k: decode(v) for k, v in data["mistakes"].items()},
    )


# --- comparing and printing ---------------------------------------------------------------------------------

RTOL, ATOL = 1e-7, 1e-10


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


def _arrays(out):
    try:
        return tuple(np.asarray(o, dtype=float) for o in _as_tuple(out))
    except (TypeError, ValueError):
        return None


def _same(got, expected, equal_nan=False):
    """True when ``got`` has the shapes and values of ``expected`` (both raw function outputs)."""
    a, b = _arrays(got), _arrays(expected)
    if a is None or b is None or len(a) != len(b):
        return False
    return all(
        x.shape == y.shape and np.allclose(x, y, rtol=RTOL, atol=ATOL, equal_nan=equal_nan)
        for x, y in zip(a, b)
    )


SHOW_CHARS = 800  # a value shown in a message is cut past this: a function may return anything, of any size


def _show(value):
    text = _show_whole(value)
    return text if len(text) <= SHOW_CHARS else text[:SHOW_CHARS] + f"... ({len(text)} characters in all)"


def _show_whole(value):
    with np.printoptions(precision=4, suppress=True, threshold=24, edgeitems=2, linewidth=100):
        if isinstance(value, tuple):
            return (
                "("
                + ",\n            ".join(_show(v) for v in value[:8])
                + (", ...)" if len(value) > 8 else ")")
            )
        if isinstance(value, np.ndarray) or isinstance(value, list):
            try:
                arr = np.asarray(value)
            except (ValueError, TypeError):
                return repr(value)[: SHOW_CHARS + 1]
            text = np.array2string(arr, separator=", ")
            return text.replace("\n", "\n            ") + (f"  shape {arr.shape}" if arr.ndim > 1 else "")
        return repr(value)[: SHOW_CHARS + 1]


def _describe_difference(got, expected, names=()):
    a, b = _arrays(got), _arrays(expected)
    if got is None:
        return "it returned None (is a `return` missing?)"
    if a is None:
        return f"it returned a {type(got).__name__}, not numbers"
    if len(a) != len(b):
        return f"it returned {len(a)} value(s) where {len(b)} were expected"
    for i, (x, y) in enumerate(zip(a, b)):
        # "output 0" read as row 0 of the output: name the value, and count from 1 as a person does.
        which = f"{names[i] if i < len(names) else 'the value'} (value {i + 1} of {len(b)} returned) "
        which = which if len(b) > 1 else ""
        if x.shape != y.shape:
            return f"{which}has shape {x.shape}, expected {y.shape}"
        if not np.all(np.isfinite(x)) and np.all(np.isfinite(y)):
            return f"{which}contains nan or inf"
        if not np.allclose(x, y, rtol=RTOL, atol=ATOL):
            return f"{which}has the right shape but wrong values"
    return None


# --- running a check ----------------------------------------------------------------------------------------


CASE_SECONDS = 10  # every case is small: a correct function answers in milliseconds


class TookTooLong(Exception):
    """A case ran longer than :data:`CASE_SECONDS`: most likely a loop that never ends."""


@contextlib.contextmanager
def _time_limit(seconds):
    """Stop the code inside after ``seconds`` with :class:`TookTooLong`, where a timer signal can: in the main
    thread of a Unix process (a notebook's kernel). While grading, nbgrader's cell timeout does this instead."""
    if (
        being_graded()
        or not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def stop(signum, frame):
        raise TookTooLong(f"it did not return within {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _call(fn, case):
    args = copy.deepcopy(case.args)
    kwargs = copy.deepcopy(case.kwargs)
    with _time_limit(CASE_SECONDS):
        out = fn(*args, **kwargs)
    return out, args, kwargs


def _inputs_changed(case, args, kwargs):
    before = list(case.args) + list(case.kwargs.values())
    after = list(args) + list(kwargs.values())
    return any(
        isinstance(b, np.ndarray) and not np.array_equal(b, a, equal_nan=True) for b, a in zip(before, after)
    )


def _diagnose(spec, case, got):
    for name, modelled in case.mistakes.items():
        if _same(got, modelled, equal_nan=True):
            return spec.hints[name]
    return None


def _fail(spec, case, problem, hint, hidden, shown=()):
    kind = "hidden case" if hidden else "case"
    lines = [f"{spec.name} failed on {kind} '{case.name}': {problem}."]
    if not hidden:
        lines += [f"  {label:<9} {_show(value)}" for label, value in shown]
    else:
        lines.append("  (hidden cases do not show the expected answer)")
    lines.append(f"  Hint: {hint}")
    raise CheckFailure("\n".join(lines))


NOT_IMPLEMENTED = "`{name}` is not implemented yet: replace `raise NotImplementedError()` with your code"
GENERIC_HINT = "compare your code with the formula in the text above, one step at a time."


# --- what an answer that no known mistake explains still shows: its form ---


def _shape_hint(got, expected):
    """What a wrong shape says about the code that made it, or None."""
    squeezed = tuple(n for n in got if n != 1)
    if len(got) > len(expected) and squeezed == tuple(n for n in expected if n != 1):
        return (
            f"your result has an extra axis of length 1, {got} where {expected} is expected. An axis added for a "
            "product (`[..., None, :]`, a row of shape (1, n)) stays until you take it away: index it away once "
            "the product is done."
        )
    if len(got) < len(expected) and squeezed == tuple(n for n in expected if n != 1):
        return (
            f"an axis of length 1 went missing, {got} where {expected} is expected. `.squeeze()` drops every axis "
            "of length 1, not only the one you added: here a real axis (a single key, a single position) happens "
            "to have length 1. Index away only the axis you added, or squeeze only that axis."
        )
    if len(got) == len(expected) >= 2 and got == (*expected[:-2], expected[-1], expected[-2]):
        return (
            f"your result is transposed, {got} where {expected} is expected: its last two axes are swapped. Each "
            "row is one query (or position), each column one key (or feature): a transpose is one too many, or "
            "missing."
        )
    if sorted(got) == sorted(expected):
        return (
            f"the right axes in the wrong order, {got} where {expected} is expected. An axis counted from the "
            "front (axis=0, X.T, np.concatenate, np.stack or np.split over the first axis) lands on a batch axis "
            "when there is one: count axes from the end (-1, -2, -3) so that any batch axes stay in front."
        )
    extra = list(got)
    for n in expected:
        if n in extra:
            extra.remove(n)
    if len(got) > len(expected) and tuple(sorted(extra)) == tuple(sorted(expected[: len(extra)])):
        return (
            f"every sequence of the batch met every other one: {got} where {expected} is expected, the batch "
            "axes twice. np.dot, np.inner, and `@` with a transposed batch pair each sequence with all the others; "
            "`@` (np.matmul) with the batch axes in front, or np.einsum with '...', keeps them apart."
        )
    if len(got) < len(expected) and got[-1:] == expected[-1:] and np.prod(got) == np.prod(expected):
        return (
            f"the batch axes were merged into one, {got} where {expected} is expected, as a reshape to (-1, ...) "
            "does. Keep the axes you do not mean to change: reshape to (*batch, ...), with batch the axes in front "
            "of those you change, as they came."
        )
    return None


NAN_HINT = (
    "your result has nan where the answer is a number. In numpy nan comes from 0 / 0 (every exp of a row "
    "underflowed to 0, say after subtracting a max larger than the row's own), from -inf - (-inf) (a row whose "
    "scores are all masked, or a running max still at -inf), or from 0 * inf (a 0/1 mask multiplied by -inf): "
    "find which your code can do."
)
INF_HINT = (
    "your result has inf where the answer is a number: exp overflows to inf above about 709 in float64, and a "
    "huge number divided by 0 is inf. Subtract each row's max before exp."
)
FLOAT32_HINT = (
    "your result is float32, which keeps about 7 significant digits: the checks compare to float64's 16. "
    "Compute in float64, numpy's default: a float32 array, or a dtype=np.float32 on the way, rounds every step."
)


def _unnamed_hint(got, expected, names=()):
    """The hint for a wrong answer that no known mistake explains, from its form (shape, nan, dtype), or None."""
    a, b = _arrays(got), _arrays(expected)
    if a is None or b is None:
        return None
    if len(a) != len(b) and len(b) == 1:
        return "return one array, not a tuple of them."
    if len(a) != len(b):
        wanted = f" ({', '.join(names)})" if len(names) == len(b) else ""
        return f"return {len(b)} values{wanted}, in that order: `return a, b` returns the tuple (a, b)."
    for x, y, raw in zip(a, b, _as_tuple(got)):
        if x.shape != y.shape:
            return _shape_hint(x.shape, y.shape)
        if np.allclose(x, y, rtol=RTOL, atol=ATOL):
            continue
        if np.any(np.isnan(x) & ~np.isnan(y)):
            return NAN_HINT
        if np.any(np.isinf(x) & np.isfinite(y)):
            return INF_HINT
        if getattr(raw, "dtype", None) == np.float32:
            return FLOAT32_HINT
        return None
    return None


def _run_case(fn, spec, case, hidden):
    inputs = [(f"{k}=", v) for k, v in zip(spec.arg_names, case.args)] + [
        (f"{k}=", v) for k, v in case.kwargs.items()
    ]
    try:
        with np.errstate(all="ignore"):
            got, args, kwargs = _call(fn, case)
    except NotImplementedError:
        raise CheckFailure(NOT_IMPLEMENTED.format(name=spec.name)) from None
    except Exception as exc:
        problem = str(exc) if isinstance(exc, TookTooLong) else f"it raised {type(exc).__name__}: {exc}"
        _fail(spec, case, problem, spec.error_hint(case, exc), hidden, inputs)
    if _inputs_changed(case, args, kwargs):
        hint = "your function changed its input array in place (e.g. `x -= ...`); compute into a new array."
        _fail(spec, case, "it modified its input", hint, hidden, inputs)
    expected = case.expected
    problem = _describe_difference(got, expected, spec.returns)
    if problem:
        hint = _diagnose(spec, case, got) or _unnamed_hint(got, expected, spec.returns) or GENERIC_HINT
        _fail(spec, case, problem, hint, hidden, inputs + [("expected:", expected), ("got:", got)])


def run_check(fn, spec, hidden=False):
    """Run ``spec``'s cases on ``fn``; raise :class:`CheckFailure` at the first failure, else print a pass."""
    if not callable(fn):
        raise CheckFailure(f"check_{spec.name} expects your function `{spec.name}`, got {type(fn).__name__}")
    cases = spec.hidden_cases() if hidden else spec.cases()
    for case in cases:
        _run_case(fn, spec, case, hidden)
    properties = spec.hidden_properties if hidden else spec.properties
    for prop in properties:
        try:
            with np.errstate(all="ignore"):
                result = prop(fn)
        except Exception as exc:
            result = (f"it raised {type(exc).__name__}: {exc}", GENERIC_HINT)
        if result:
            problem, hint = result
            raise CheckFailure(f"{spec.name} failed the property check: {problem}.\n  Hint: {hint}")
    print(f"✓ {spec.name}: all {len(cases) + len(properties)} {'hidden ' if hidden else ''}checks passed.")
    if not hidden:
        progress.record_check(spec.name, fn)


# --- diagnoses the checks share: what kind of wrong an answer or an error is ---


def mask_index_error(exc):
    """The hint for a mask used as a boolean index of the scores where it does not fit them exactly, else None: the
    habit of masked_fill, right for one mask of the scores' own shape, wrong for a mask that broadcasts."""
    if isinstance(exc, IndexError) and "boolean index" in str(exc):
        return (
            "indexing the scores with the mask (scores[~mask] or scores[..., ~mask]) needs a mask of exactly the "
            "shape of the axes it indexes. A mask that broadcasts has not: one causal mask (n, n) shared by a "
            "batch, or one padding row per sequence, (batch, 1, n_k). Pick between the scores and -inf with "
            "np.where, which broadcasts the mask against the scores."
        )
    return None


def mask_transposed_error(case, exc):
    """The hint for a mask used transposed, (n_k, n_q) against scores (n_q, n_k), where the error names that
    shape, else None."""
    mask = case.kwargs.get("mask")
    if mask is None or np.ndim(mask) < 2 or not shape_error(exc):
        return None
    turned = np.swapaxes(mask, -1, -2).shape
    if turned != np.shape(mask) and str(turned).replace(" ", "") in str(exc).replace(" ", ""):
        return (
            "the mask was transposed. It comes as the scores do, one row per query and one column per key, "
            "(..., n_q, n_k) (a padding mask has a single row, (..., 1, n_k), that every query shares): use it "
            "as it is given."
        )
    return None


def shape_error(exc):
    text = str(exc)
    return isinstance(exc, ValueError | IndexError) and any(
        word in text for word in ("matmul", "shape", "broadcast", "mismatch", "axis", "dimension")
    )


def not_distribution(w, axis=-1):
    """Describe how ``w`` fails to be non-negative weights summing to 1 along ``axis``, or None."""
    float32 = getattr(w, "dtype", None) == np.float32
    w = np.asarray(w, dtype=float)
    if not np.all(np.isfinite(w)):
        return "some weights are nan or inf"
    if np.any(w < 0):
        return "some weights are negative"
    sums = w.sum(axis=axis)
    # float64 rounding leaves a sum of a few weights off 1 by about 1e-16: anything past 1e-12 was put there.
    if not np.allclose(sums, 1.0, rtol=1e-12, atol=1e-14):
        worst = float(sums.ravel()[np.argmax(np.abs(sums.ravel() - 1.0))])
        if abs(worst - 1.0) < 1e-3:  # nearly 1: rounding would print 1.0 and hide the problem
            off = f"weights along axis {axis} sum to {worst!r}, off by {abs(worst - 1.0):.1e}"
            if float32:
                return f"{off}: they were computed in float32, which keeps about 7 digits (float64 keeps 16)"
            return (
                f"{off}, where float64 arithmetic is off by about 1e-16: something small was added to the sum "
                "before dividing (an epsilon 'for safety', + 1e-8?), or a step ran in float32"
            )
        return f"weights along axis {axis} sum to {np.round(sums.ravel()[:3], 4)}..., not 1"
    return None


NEARLY_ONE_HINT = (
    "divide each exp by the plain sum of its row's exps, in float64. Once each row's max is subtracted that sum "
    "is at least 1 (the max's own exp(0)), so it is never 0 and needs no epsilon."
)


def distribution_hint(problem, otherwise):
    """The hint for ``not_distribution``'s ``problem``: sums off by a hair come from an epsilon or from float32,
    not from a wrong axis (``otherwise``)."""
    return NEARLY_ONE_HINT if " off by " in problem else otherwise


def future_leaks(outputs, X):
    """Whether ``outputs(X)`` (one row per position) changes at earlier positions when only the last token does."""
    changed = X.copy()
    changed[-1] += 5.0
    return not np.allclose(outputs(X)[:-1], outputs(changed)[:-1], rtol=1e-12, atol=1e-12)


def raises_clear_value_error(call, description, hint):
    """None if ``call`` raises a ValueError whose message says what is not divisible, else a failure."""
    try:
        call()
    except ValueError as exc:
        if "divisible" in str(exc):
            return None
        return f"{description} raised ValueError({str(exc)!r}), which does not say what is wrong", hint
    except Exception as exc:
        return f"{description} raised {type(exc).__name__}, not ValueError", hint
    return f"{description} did not raise ValueError", hint


def peak_bytes(fn, *args):
    """The most memory ``fn(*args)`` held at once, in bytes, as Python's tracemalloc counts it (numpy's arrays
    included, BLAS's own scratch space not)."""
    import tracemalloc  # here, not at the top: every grading kernel imports this module, few measure memory

    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
