"""helpers.grading.integrity on the text of submissions: copy evidence for the instructor, never for honest work.

Every correct and wrong implementation the tests know, the textbook forms the notebooks teach, the same code in
a student's own names and unusual but right code carry no evidence; a verbatim paste of the published solution
does where its text gives it away, and so does every way of using the course's solution that the text shows.
"""

import cheats
import nbformat
import pytest
from conftest import RELEASE, SOURCE, submission
from mistakes import MISTAKES, NOTEBOOK_OF, REFERENCE

from helpers.grading import integrity


def _evidence(function, code):
    nb = submission(RELEASE, NOTEBOOK_OF[function], {function: code})
    return integrity.copy_evidence(nb, function, SOURCE)


@pytest.mark.parametrize("function", list(MISTAKES))
def test_honest_work_carries_no_evidence(function):
    assert _evidence(function, REFERENCE[function]) is None
    for mistake, (code, _) in MISTAKES[function].items():
        assert _evidence(function, code) is None, mistake
    for variant, code in cheats.honest(function).items():
        assert _evidence(function, code) is None, (variant, code)


@pytest.mark.parametrize(
    "function, variant",
    [(f, v) for f in MISTAKES for v in cheats.variants(f) if v not in ("hidden_in_strings", "recompiled")],
    ids=lambda value: value,
)
def test_what_the_text_shows_is_seen(function, variant):
    assert _evidence(function, cheats.variants(function)[variant])


@pytest.mark.parametrize("function", list(MISTAKES))
def test_a_verbatim_paste_is_reported_where_its_text_shows(function):
    evidence = _evidence(function, cheats.pasted(function))
    assert bool(evidence) == cheats.paste_is_evidence(function), evidence
    if evidence:
        assert function in evidence and ("shares" in evidence or "names included" in evidence)


def test_some_pastes_show_and_the_textbook_forms_do_not():
    showing = {f for f in MISTAKES if cheats.paste_is_evidence(f)}
    assert {"multi_head_attention", "max_path_length"} <= showing
    # The forms the notebooks teach are written name for name by honest students: never evidence, however long.
    for function in MISTAKES:
        assert _evidence(function, cheats.textbook(function)) is None, function


@pytest.mark.parametrize("alias", ["from helpers import earlier", "import helpers.earlier as earlier"])
def test_helpers_earlier_as_the_course_hands_it_out_is_no_evidence(alias):
    uses = (
        f"{alias}\n\n\ndef self_attention(X, W_q, W_k, W_v, mask=None):\n"
        "    return earlier.scaled_dot_product_attention(X @ W_q, X @ W_k, X @ W_v, mask)"
    )
    assert _evidence("self_attention", uses) is None
    # Taking this notebook's own function from it is.
    assert "earlier.self_attention" in _evidence(
        "self_attention", f"{alias}\n\nself_attention = earlier.self_attention"
    )


@pytest.mark.parametrize(
    "code, dynamic",
    [
        ("eval('1')", True),
        ("exec('x = 1')", True),
        ("compile('1', 'f', 'eval')", True),
        ("__import__('os')", True),
        ("builtins.eval('1')", True),
        ("importlib.import_module('os')", True),
        ("import_module('os')", True),
        ("re.compile('x')", False),
        ("model.eval()", False),
        ("torch.compile(model)", False),
        ("reload(x)", False),  # not importlib's
    ],
)
def test_dynamic_code_is_the_builtins_and_importlibs_only(code, dynamic):
    imports = "import builtins\nimport importlib\nfrom importlib import import_module\n"
    body = f"{imports}\ndef softmax(x, axis=-1):\n    {code}\n    return x"
    found = _evidence("softmax", body)
    assert bool(found) == dynamic, found
    if dynamic:
        assert "code built at run time" in found


def test_a_shadowed_builtin_is_not_dynamic_code():
    body = "def eval(x):\n    return x\n\n\ndef softmax(x, axis=-1):\n    return eval(x)"
    assert _evidence("softmax", body) is None


def test_the_given_imports_of_later_notebooks_are_not_evidence():
    # Notebook 04 imports scaled_dot_product_attention from notebook 03 for its students to use.
    nb = nbformat.read(RELEASE / "04_self_attention_and_causal_masks.ipynb", as_version=4)
    assert "from helpers.earlier import scaled_dot_product_attention" in "".join(c.source for c in nb.cells)
    assert _evidence("self_attention", REFERENCE["self_attention"]) is None
