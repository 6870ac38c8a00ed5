"""helpers.grading.integrity on the text of submissions: every way of using the course's solution that can be
seen in the text is seen, honest work (every correct and every wrong implementation the tests know) is not
flagged, and a copy is told from honest work only where the code is long enough to tell."""

import cheats
import nbformat
import pytest
from conftest import RELEASE, SOURCE, submission
from mistakes import MISTAKES, NOTEBOOK_OF, REFERENCE

from helpers.grading import integrity


def _findings(function, code):
    nb = submission(RELEASE, NOTEBOOK_OF[function], {function: code})
    return integrity.static_findings(nb, function, SOURCE)


@pytest.mark.parametrize("function", list(MISTAKES))
def test_honest_work_is_not_flagged(function):
    assert _findings(function, REFERENCE[function]) is None
    for mistake, (code, _) in MISTAKES[function].items():
        assert _findings(function, code) is None, mistake


@pytest.mark.parametrize(
    "function, variant",
    [(f, v) for f in MISTAKES for v in cheats.variants(f) if v != "hidden_in_strings"],
    ids=lambda value: value,
)
def test_what_the_text_shows_is_seen(function, variant):
    code = cheats.variants(function)[variant]
    assert _findings(function, code), code


@pytest.mark.parametrize("function", list(MISTAKES))
def test_what_only_running_shows_is_left_to_the_kernel(function):
    # The grader asks the kernel what calling the function runs (tests/test_grading.py grades this variant).
    assert _findings(function, cheats.hidden_in_strings(function)) is None


def test_short_solutions_are_not_called_copies():
    # One natural form, written by honest students too: `return np.tril(np.ones((n, n), dtype=bool))`.
    master = cheats._master_solution("causal_mask")
    assert _findings("causal_mask", master) is None
    assert integrity.normalised(integrity._defs(master, "causal_mask")[0])[1] < integrity.DISTINCTIVE_NODES


def test_the_given_imports_of_later_notebooks_are_not_a_flag():
    # Notebook 04 imports scaled_dot_product_attention from notebook 03 for its students to use.
    nb = nbformat.read(RELEASE / "04_self_attention_and_causal_masks.ipynb", as_version=4)
    assert "from helpers.earlier import scaled_dot_product_attention" in "".join(c.source for c in nb.cells)
    assert _findings("self_attention", REFERENCE["self_attention"]) is None
