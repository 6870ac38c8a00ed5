"""The data-only channel between the grader and a student's kernel (helpers.grading.remote), without a kernel."""

import base64
import io
import json

import numpy as np
import pytest

from helpers import wire
from helpers.grading import remote


def _through_kernel(namespace):
    """An `ask` that sends each request through the kernel's handler, encoded both ways as on the wire."""
    return lambda request: remote.decode(wire.handle(remote.encode(request), namespace))


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        3,
        -2.5,
        float("inf"),
        "text",
        np.arange(6.0).reshape(2, 3),
        np.array([[True, False]]),
        np.float64(1.5),
        (np.ones(2), np.zeros((1, 1))),
        [1, "a", None],
        {1: "A", 2: None},
    ],
)
def test_plain_data_survives_the_round_trip(value):
    back = remote.decode(remote.encode(value))
    assert type(back) is type(value)
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and np.array_equal(back, value)
    elif isinstance(value, tuple):
        assert all(np.array_equal(a, b) for a, b in zip(back, value))
    else:
        assert back == value


def test_anything_else_comes_back_inert():
    for value in [lambda x: x, object(), np.array([object()]), {1, 2}]:
        back = remote.decode(remote.encode(value))
        assert isinstance(back, remote.Opaque)
    # A kernel that sends a pickled array anyway is refused: the grader never unpickles what a kernel sends.
    buffer = io.BytesIO()
    np.save(buffer, np.array([object()]), allow_pickle=True)
    forged = json.dumps({"__nd__": base64.b64encode(buffer.getvalue()).decode()})
    with pytest.raises(ValueError, match="allow_pickle"):
        remote.decode(forged)


def test_a_remote_function_returns_results_errors_and_in_place_changes():
    def softmax(x, axis=-1):
        if x.ndim == 0:
            raise ValueError("need at least one axis")
        x -= x.max(axis=axis, keepdims=True)  # the in-place mistake
        return np.exp(x) / np.exp(x).sum(axis=axis, keepdims=True)

    ask = _through_kernel({"softmax": softmax, "answers": {1: "A"}})
    fn = remote.resolve(ask, "softmax", source="def softmax(x, axis=-1): ...")
    assert isinstance(fn, remote.RemoteFunction) and fn.source.startswith("def softmax")
    x = np.array([1.0, 2.0, 3.0])
    out = fn(x, axis=-1)
    assert np.allclose(out, np.exp([-2, -1, 0]) / np.exp([-2, -1, 0]).sum())
    assert np.array_equal(x, [-2.0, -1.0, 0.0]), "the caller sees its input changed, as a check must"
    with pytest.raises(ValueError, match="need at least one axis"):
        fn(np.array(1.0))
    assert remote.resolve(ask, "answers") == {1: "A"}
    with pytest.raises(NameError):
        remote.resolve(ask, "missing")


def test_student_exceptions_never_become_the_graders_own_interrupts():
    def quits():
        raise SystemExit(0)

    fn = remote.resolve(_through_kernel({"quits": quits}), "quits")
    with pytest.raises(Exception) as caught:
        fn()
    assert type(caught.value).__name__ == "SystemExit" and isinstance(caught.value, Exception)
