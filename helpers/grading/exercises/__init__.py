"""The exercises behind the checks: cases, hidden cases and classic mistakes, computed with the course's own
implementations. Instructor side: a class release never holds this package.

One module per notebook holds that notebook's exercises, each with its cases, hidden cases and mistakes (and their
hints): ``nb01_queries_keys_values.py`` ... ``nb06_parallelism_and_scale.py``, two notebooks' longest exercises in a
second module beside the first (``nb04_positions.py``, ``nb06_blockwise_attention.py``). ``common.py`` says what an
:class:`Exercise` and a :class:`Mistake` are; this file gathers every exercise in :data:`EXERCISES` and turns them
into what the checks and the grader use.

Students' checks (:mod:`helpers.checks`) run on data made here: each visible case with its expected answer and
what each known mistake returns on it, in ``helpers/check_data/<function>.json``. Regenerate it after changing a
case, a mistake or a hint (``make release`` does), and commit it: a test keeps it in step with these files.

    python -m helpers.grading.exercises helpers/check_data

Hidden cases are never written out: :func:`hidden_cases` computes them when nbgrader grades, the fixed ones and
as many again on fresh random inputs (:func:`fresh_inputs`), which no stored answer can pass.
"""

import contextlib
import copy
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

import numpy as np

from helpers.checking import Case, encode
from helpers.grading import reference as ref
from helpers.grading.exercises.common import Exercise, Mistake, _rng, _weights
from helpers.grading.exercises.nb01_queries_keys_values import SIMILARITY_SCORES, SOFT_LOOKUP
from helpers.grading.exercises.nb02_softmax import LESSON_SCORES, SOFTMAX
from helpers.grading.exercises.nb03_scaled_dot_product_attention import SCALED_DOT_PRODUCT_ATTENTION
from helpers.grading.exercises.nb04_positions import POSITIONAL_ENCODING, ROTARY_EMBEDDING
from helpers.grading.exercises.nb04_self_attention_and_causal_masks import (
    CAUSAL_MASK,
    CROSS_ATTENTION,
    SELF_ATTENTION,
)
from helpers.grading.exercises.nb05_multi_head_attention import (
    COMBINE_HEADS,
    GROUPED_QUERY_ATTENTION,
    MULTI_HEAD_ATTENTION,
    SPLIT_HEADS,
)
from helpers.grading.exercises.nb06_blockwise_attention import BLOCKWISE_ATTENTION
from helpers.grading.exercises.nb06_parallelism_and_scale import DECODE_STEP, MAX_PATH_LENGTH

__all__ = [
    "EXERCISES",
    "KEY_FILE",
    "Exercise",
    "Mistake",
    "case_data",
    "check_data",
    "fixtures",
    "fresh_inputs",
    "hidden_cases",
    "write",
    # each exercise on its own, and notebook 02's scores
    "SIMILARITY_SCORES",
    "SOFT_LOOKUP",
    "SOFTMAX",
    "LESSON_SCORES",
    "SCALED_DOT_PRODUCT_ATTENTION",
    "CAUSAL_MASK",
    "POSITIONAL_ENCODING",
    "ROTARY_EMBEDDING",
    "SELF_ATTENTION",
    "CROSS_ATTENTION",
    "SPLIT_HEADS",
    "COMBINE_HEADS",
    "MULTI_HEAD_ATTENTION",
    "GROUPED_QUERY_ATTENTION",
    "MAX_PATH_LENGTH",
    "DECODE_STEP",
    "BLOCKWISE_ATTENTION",
]


EXERCISES = {
    e.name: e
    for e in (
        SIMILARITY_SCORES,
        SOFT_LOOKUP,
        SOFTMAX,
        SCALED_DOT_PRODUCT_ATTENTION,
        CAUSAL_MASK,
        POSITIONAL_ENCODING,
        ROTARY_EMBEDDING,
        SELF_ATTENTION,
        CROSS_ATTENTION,
        SPLIT_HEADS,
        COMBINE_HEADS,
        MULTI_HEAD_ATTENTION,
        GROUPED_QUERY_ATTENTION,
        MAX_PATH_LENGTH,
        DECODE_STEP,
        BLOCKWISE_ATTENTION,
    )
}


def _outcome(fn, case):
    """What ``fn`` returns on ``case`` (on copies of its inputs), or None if it raises."""
    try:
        with np.errstate(all="ignore"):
            return fn(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
    except Exception:
        return None


def _materialise(exercise, cases):
    """Cases with their expected answers and every mistake's output (a mistake that raises is left out)."""
    done = []
    for case in cases:
        mistakes = {m.name: _outcome(m.model, case) for m in exercise.mistakes}
        done.append(
            Case(
                case.name,
                case.args,
                case.kwargs,
                exercise.reference(*case.args, **case.kwargs),
                {name: out for name, out in mistakes.items() if out is not None},
            )
        )
    return done


KEY_FILE = ".grading-key"  # in the course root: makes each student's fresh inputs unpredictable, repeatable
_fresh_seed = None  # what the grader's current test is about (assignment/student/notebook), or None


@contextlib.contextmanager
def fresh_inputs(about):
    """Draw the fresh random inputs of hidden checks run inside from a seed made of ``about`` and the course's
    grading key: the same for a regrade of the same student's notebook, unknowable without the key."""
    global _fresh_seed
    previous, _fresh_seed = _fresh_seed, about
    try:
        yield
    finally:
        _fresh_seed = previous


def _grading_key():
    path = Path.cwd() / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as file:
        file.write(secrets.token_bytes(32))
    return path.read_bytes()


def _fresh_rng(name):
    if _fresh_seed is None:  # self-study: new inputs every time
        return np.random.default_rng()
    digest = hmac.new(_grading_key(), f"{_fresh_seed}/{name}".encode(), hashlib.sha256).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))


def _redrawn(value, rng):
    """``value`` with every finite float drawn anew at its scale; masks, sizes and infinities kept."""
    if isinstance(value, tuple):
        return tuple(_redrawn(v, rng) for v in value)
    if not (isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating)):
        return value
    finite = np.isfinite(value)
    scale = (
        float(np.std(value[finite])) if finite.sum() > 1 else float(np.abs(value[finite]).max(initial=1.0))
    )
    drawn = rng.normal(size=value.shape) * max(scale, 1e-3)
    return np.where(finite, drawn, value).astype(value.dtype)


def _fresh_cases(exercise, rng):
    if exercise.fresh:
        return exercise.fresh(rng)
    return [
        Case(
            f"{case.name}, with numbers drawn at random",
            tuple(_redrawn(a, rng) for a in case.args),
            {k: _redrawn(v, rng) for k, v in case.kwargs.items()},
        )
        for case in exercise.hidden_cases()
    ]


def hidden_cases(name):
    """The hidden cases of ``name``'s check, ready to run (grading time only): the fixed ones, then as many
    again on fresh random inputs, then, while the grader grades, the exercise's ``graded_only`` cases."""
    exercise = EXERCISES[name]
    cases = _materialise(exercise, exercise.hidden_cases() + _fresh_cases(exercise, _fresh_rng(name)))
    if exercise.graded_only and _fresh_seed is not None:  # the grader's trusted run, in its sandboxed kernel
        cases += exercise.graded_only()
    return cases


def case_data(case):
    """One case (with its expected answer and mistakes' outputs) as JSON-ready data."""
    return {
        "name": case.name,
        "args": [encode(a) for a in case.args],
        "kwargs": {k: encode(v) for k, v in case.kwargs.items()},
        "expected": encode(case.expected),
        "mistakes": {k: encode(v) for k, v in case.mistakes.items()},
    }


def check_data(name):
    """Everything a student's check of ``name`` needs, as JSON-ready data."""
    exercise = EXERCISES[name]
    return {
        "function": name,
        "notebook": exercise.notebook,
        "hints": {m.name: m.hint for m in exercise.mistakes},
        "cases": [case_data(c) for c in _materialise(exercise, exercise.cases())],
    }


def fixtures():
    """Inputs that the property checks need and may not compute themselves (that would be a solution)."""
    X = _rng(14).normal(size=(2, 5, 12))
    r = _rng(15)
    tokens, W_q, W_k, W_v = r.normal(size=(5, 6)), _weights(r, 6, 4), _weights(r, 6, 4), _weights(r, 6, 3)
    causal, _ = ref.self_attention(tokens, W_q, W_k, W_v, ref.causal_mask(5))
    return {
        "causal_mask_6": encode(ref.causal_mask(6)),
        "split_heads_input": encode(X),
        "split_heads_4": encode(ref.split_heads(X, 4)),
        **{f"decode_{k}": encode(v) for k, v in zip(("X", "W_q", "W_k", "W_v"), (tokens, W_q, W_k, W_v))},
        "decode_expected": encode(causal),
    }


def write(folder):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {f"{name}.json": check_data(name) for name in EXERCISES} | {"fixtures.json": fixtures()}
    for file, data in files.items():
        (folder / file).write_text(json.dumps(data, separators=(",", ":")) + "\n")
