"""Hints teach before they tell: no hint, error message or check output prints a whole line of a solution.

A student who fails a check should learn which idea is missing, not receive the line to paste. Every line of
every solution (source/'s solution cells and helpers/grading/reference.py) is looked for, whitespace ignored,
in every text a student can be shown: each check's mistake hints (helpers/check_data/), every string in the
check module (error hints, property messages), and the hint blocks of the released notebooks.
"""

import ast
import builtins
import json
import re

import pytest
from conftest import RELEASE, ROOT, SOURCE


def _squash(text):
    return re.sub(r"\s+", "", text)


def _solution_lines():
    lines = set()
    for path in SOURCE.glob("*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            text = "".join(cell["source"])
            for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", text, re.S):
                lines.update(block.splitlines())
    reference = (ROOT / "helpers" / "grading" / "reference.py").read_text()
    for node in ast.walk(ast.parse(reference)):
        if isinstance(node, ast.FunctionDef):
            body = node.body[1:] if ast.get_docstring(node) else node.body
            lines.update(line for statement in body for line in ast.unparse(statement).splitlines())
    # Lines that teach nothing by themselves (a return of a name, a bare loop header) are not answers.
    meaningful = {_squash(line.split("#")[0]) for line in lines}
    return sorted(line for line in meaningful if len(line) >= 20 and not line.startswith(("def", '"""')))


def _shown_texts():
    texts = {}
    for path in sorted((ROOT / "helpers" / "check_data").glob("*.json")):
        for mistake, hint in json.loads(path.read_text()).get("hints", {}).items():
            texts[f"{path.stem} hint '{mistake}'"] = hint
    # The checks' own messages (error hints, property messages), and the ones they share.
    for module in ("checks.py", "checks_nb04.py", "checks_nb06.py", "checking.py"):
        for node in ast.walk(ast.parse((ROOT / "helpers" / module).read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) > 20:
                texts[f"helpers/{module} line {node.lineno}"] = node.value
    for path in sorted(RELEASE.glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            text = "".join(cell["source"])
            if cell["cell_type"] == "markdown" and "<summary>Hint" in text:
                texts[f"{path.stem} hint block"] = texts.get(f"{path.stem} hint block", "") + text
    return texts


SOLUTION_LINES = _solution_lines()
SHOWN = _shown_texts()


def test_there_is_something_to_compare():
    assert len(SOLUTION_LINES) > 20 and len(SHOWN) > 50


@pytest.mark.parametrize("where", sorted(SHOWN))
def test_no_text_a_student_sees_prints_a_solution_line(where):
    shown = _squash(SHOWN[where])
    leaked = [line for line in SOLUTION_LINES if line in shown]
    assert not leaked, f"{where} gives away: {leaked}"


def test_a_pasted_solution_line_would_be_found():
    """The comparison has teeth: a hint that spells out the stable softmax's last line, spaced differently."""
    pasted = "Hint: write   return exps / np.sum(exps, axis=axis,\n keepdims=True) at the end."
    assert [line for line in SOLUTION_LINES if line in _squash(pasted)] == [
        "returnexps/np.sum(exps,axis=axis,keepdims=True)"
    ]


def _bound_names(code):
    """Names a notebook's code binds at its top level: imports, functions, classes, assignments."""
    names = set()
    for node in ast.parse(code).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.With)):
            names |= {
                n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
    return names


def _free_names(code):
    """Global names a function's code reads without defining them."""
    tree = ast.parse(code)
    stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    stored |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments) for a in n.args + n.kwonlyargs}
    stored |= {
        n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ExceptHandler)) and n.name
    }
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return loaded - stored - set(dir(builtins))


def test_every_known_mistake_uses_only_names_its_notebook_has():
    # Graded in the student's notebook by real autograde (test_grading.py), a mistake that calls a function the
    # notebook never imports fails with a NameError instead of its mistake: found here in milliseconds.
    from mistakes import MISTAKES, NOTEBOOK_OF

    available = {}
    for path in SOURCE.glob("*.ipynb"):
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        available[path.stem] = _bound_names(re.sub(r"(?m)^\s*[%!].*$", "", code))
    for function, mistakes in MISTAKES.items():
        for mistake, (code, _) in mistakes.items():
            missing = _free_names(code) - available[NOTEBOOK_OF[function]]
            assert not missing, (function, mistake, missing)
