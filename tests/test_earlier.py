"""helpers.earlier: later notebooks get the course's functions in self-study and grading, and in a class the
student's own, as they passed their checks (or a message naming the notebook to finish)."""

import importlib

import numpy as np
import pytest

from helpers import checks, earlier, progress, tiny_model
from helpers.grading import reference as ref

ref_available = earlier.course_solutions_available


def my_softmax(scores, axis=-1):  # a student's own softmax: right, and written differently from the course's
    top = scores.max(axis=axis, keepdims=True)
    return np.exp(scores - top) / np.sum(np.exp(scores - top), axis=axis, keepdims=True)


def my_attention(Q, K, V, mask=None):  # calls `softmax`, as a student's notebook 03 does
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores)  # noqa: F821 - in the notebook, softmax comes from helpers.earlier
    return weights @ V, weights


@pytest.fixture
def class_student(tmp_path, monkeypatch):
    """A student of a class release: no course solutions installed, progress in a fresh file."""
    monkeypatch.setenv(progress.ENV, str(tmp_path / "progress.json"))
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setattr(earlier, "course_solutions_available", lambda: False)


def test_self_study_and_grading_use_the_course_functions():
    assert earlier.course_solutions_available()
    assert earlier.softmax is ref.softmax and earlier.multi_head_attention is ref.multi_head_attention
    with pytest.raises(AttributeError):
        earlier.max_path_length  # noqa: B018 - notebook 06's exercise is not used later


def test_before_the_check_passes_a_class_student_is_told_which_notebook_to_finish(class_student):
    softmax = earlier.softmax
    with pytest.raises(earlier.NotDoneYet, match=r"notebook 02_softmax.*check_softmax\(softmax\)"):
        softmax(np.zeros(3))
    assert isinstance(earlier.NotDoneYet("x"), NotImplementedError), "figures say 'Implement ... first'"


def test_after_the_check_passes_later_notebooks_run_the_students_own_code(class_student):
    checks.check_softmax(my_softmax)
    softmax = earlier.softmax
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 1000.0]])
    np.testing.assert_array_equal(softmax(x), my_softmax(x))
    assert softmax(x, axis=0).shape == (2, 3)
    # An earlier function of the student's can itself use another one: attention calls softmax.
    globals()["softmax"] = softmax
    try:
        checks.check_scaled_dot_product_attention(my_attention)
    finally:
        del globals()["softmax"]
    Q, K, V = np.random.default_rng(0).normal(size=(3, 2, 4, 3))
    out, weights = earlier.scaled_dot_product_attention(Q, K, V, ref.causal_mask(4))
    np.testing.assert_allclose(out, ref.scaled_dot_product_attention(Q, K, V, ref.causal_mask(4))[0])


def test_a_paced_class_s_later_week_uses_the_function_passed_in_an_earlier_weeks_folder(
    class_student, tmp_path, monkeypatch
):
    # Weekly pacing releases each week into a folder of its own (~/week1/, ~/week2/): what passed its check in
    # week 1 is the student's, kept in their progress file, wherever the later notebook runs.
    for week in ("week1", "week2"):
        (tmp_path / week).mkdir()
    monkeypatch.chdir(tmp_path / "week1")
    checks.check_softmax(my_softmax)
    monkeypatch.chdir(tmp_path / "week2")
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 1000.0]])
    np.testing.assert_array_equal(earlier.softmax(x), my_softmax(x))
    assert earlier.softmax.__doc__ == "Your `softmax` from notebook 02."


def test_a_failed_check_keeps_the_last_passing_version(class_student):
    checks.check_softmax(my_softmax)
    with pytest.raises(AssertionError):
        checks.check_softmax(lambda x, axis=-1: np.exp(x) / np.exp(x).sum(axis=axis, keepdims=True))
    assert progress.passed_function("softmax")[1] == "my_softmax"


def my_split_heads(X, num_heads):
    *batch, n, d_model = X.shape
    if d_model % num_heads:
        raise ValueError("d_model must be divisible by num_heads")
    return np.moveaxis(X.reshape(*batch, n, num_heads, d_model // num_heads), -2, -3)


def my_combine_heads(X):
    *batch, num_heads, n, d_head = X.shape
    return np.moveaxis(X, -3, -2).reshape(*batch, n, num_heads * d_head)


def test_the_tiny_model_runs_on_the_students_functions_in_a_class(class_student):
    task = tiny_model.Task(vocab=3, length=4, offsets=(1,))
    params = tiny_model.init(task, num_heads=2, d_head=2, seed=0)
    tokens, _ = task.batch(np.random.default_rng(0), 2)
    course_loss, course_grads = tiny_model.loss_and_grads(params, task, tokens)
    try:
        importlib.reload(tiny_model)  # imported in a class: the student's functions
        with pytest.raises(earlier.NotDoneYet, match="comes from notebook 0"):
            tiny_model.loss_and_grads(params, task, tokens)
        globals()["softmax"] = earlier.softmax
        for check, fn in [
            (checks.check_softmax, my_softmax),
            (checks.check_scaled_dot_product_attention, my_attention),
            (checks.check_causal_mask, ref.causal_mask),
            (checks.check_split_heads, my_split_heads),
            (checks.check_combine_heads, my_combine_heads),
        ]:
            check(fn)
        importlib.reload(tiny_model)
        loss, grads = tiny_model.loss_and_grads(params, task, tokens)
    finally:
        globals().pop("softmax", None)
        earlier.course_solutions_available = ref_available
        importlib.reload(tiny_model)
    assert np.isclose(loss, course_loss)
    for name, grad in course_grads.items():
        np.testing.assert_allclose(grads[name], grad, rtol=1e-10, atol=1e-12)
