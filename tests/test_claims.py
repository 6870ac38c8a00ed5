"""What the notebooks' prose states is what their own code computes: each number or trend a markdown cell states
is asserted here on the values the notebook's code cells produce (run in-process, as nbgrader would: no
figures, no widgets), so a later edit cannot make text and output disagree silently."""

import json
import re

import numpy as np
import pytest
from conftest import SOURCE

from helpers import quiz, tiny_model


def _cells(notebook):
    return json.loads((SOURCE / f"{notebook}.ipynb").read_text())["cells"]


def _prose(notebook):
    return " ".join(
        " ".join("".join(c["source"]).split()) for c in _cells(notebook) if c["cell_type"] == "markdown"
    )


def _run(notebook, until):
    """The namespace after the notebook's code cells up to the one that defines ``until``."""
    namespace = {}
    for cell in _cells(notebook):
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), notebook, "exec"), namespace)
            if until in namespace:
                return namespace
    raise AssertionError(f"{notebook} never defines {until}")


@pytest.fixture(scope="module")
def nb03(monkeypatch_module):
    return _run("03_scaled_dot_product_attention", "scaled")


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    mp.setenv("NBGRADER_EXECUTION", "autograde")  # no figure, no widget: the values only
    yield mp
    mp.undo()


def test_03_saturation_numbers(nb03):
    prose = _prose("03_scaled_dot_product_attention")
    unscaled, scaled = nb03["unscaled"], nb03["scaled"]
    assert f"one key takes {unscaled[-1]:.2f} of the weight on average" in prose
    assert np.all(np.diff(unscaled) > 0), "climbs towards 1 as d_k grows"
    low, high = (
        float(x) for x in re.search(r"stays between ([0-9.]+) and ([0-9.]+) at every size", prose).groups()
    )
    assert low <= min(scaled) and max(scaled) <= high
    assert min(scaled) > 3 * (1 / 16), "not equal weights (1/16 each)"
    assert "1/16, about 0.06" in prose and f"{1 / 16:.2f}" == "0.06"


def test_03_a_tokens_score_with_itself_is_its_squared_length(nb03):
    X = _run("03_scaled_dot_product_attention", "tokens")["X"]
    scores = X @ X.T
    np.testing.assert_allclose(np.diag(scores), (X**2).sum(axis=1))
    longer = 2 * X[1]  # the same direction as "cat", twice as long
    assert longer @ X[1] > X[1] @ X[1], "a longer vector pointing the same way scores higher still"
    assert "every token matches itself at least as well" not in _prose("03_scaled_dot_product_attention")


def test_01_points_to_where_positions_are_given():
    assert "the tiny model of notebook 07 gets each token's position as part of its input vector" in _prose(
        "01_queries_keys_values"
    )
    task = tiny_model.Task(vocab=4, length=8)
    inputs = task.inputs(np.zeros((1, 8), dtype=int))
    np.testing.assert_array_equal(inputs[0, :, task.vocab :], np.eye(task.length))


def test_quiz_explanations_8_and_10_say_what_is_true():
    key = quiz.course_key()
    assert "one enabler among others" in key[8][1] and "ConvS2S" in key[8][1]
    assert "bidirectional (encoder) models" in key[10][1] and "impossible under a causal mask" in key[10][1]
