"""The notebooks as files: the release is generated from source/, grading runs build no widgets and each
notebook's CPU cost stays under its limit, and each notebook follows the course's layout. (The released
notebooks are run, and their errors checked, in JupyterLab: tests/test_browser.py.)

Strict nbval on source/ (outputs compared) runs in the same pytest session: see pyproject.toml.
"""

import json
import re

import nbformat
import pytest
from conftest import ASSIGNMENT, NOTEBOOKS, RELEASE, SOURCE, asks_for_functions, nbgrader_meta
from nbclient import NotebookClient

# Seconds of CPU per notebook, in its kernel, start-up included: what running the notebook costs, whatever else
# the machine is doing (test files run side by side). `make bench` reports the wall-clock times.
TIME_LIMIT = 10.0
CPU_SECONDS = "import resource\nr = resource.getrusage(resource.RUSAGE_SELF)\nprint(r.ru_utime + r.ru_stime)"


def _read(path):
    return nbformat.read(path, as_version=4)


def _execute(path, env_grading, monkeypatch):
    nb = _read(path)
    monkeypatch.setenv("NBGRADER_EXECUTION", env_grading)
    nb.cells.append(nbformat.v4.new_code_cell(CPU_SECONDS))
    client = NotebookClient(
        nb, timeout=60, allow_errors=True, resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    return nb, float(nb.cells.pop().outputs[0].text)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_release_equals_fresh_generate_assignment(fresh_course, name):
    fresh = json.loads((fresh_course / "notebooks" / ASSIGNMENT / f"{name}.ipynb").read_text())
    committed = json.loads((RELEASE / f"{name}.ipynb").read_text())
    assert committed == fresh, f"notebooks/ is stale: run `make release` after editing source/{name}.ipynb"


def test_release_has_exactly_the_source_notebooks():
    assert sorted(p.stem for p in RELEASE.glob("*.ipynb")) == NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_source_notebook_is_fast_and_builds_no_widgets_while_grading(name, monkeypatch):
    nb, seconds = _execute(SOURCE / f"{name}.ipynb", "autograde", monkeypatch)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", cell.source
            assert "application/vnd.jupyter.widget-view+json" not in output.get("data", {}), cell.source
    assert seconds < TIME_LIMIT, f"{name} took {seconds:.1f} s of CPU"
    print(f"\n{name} (source, grading mode): {seconds:.2f} s of CPU")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_layout(name):
    nb = _read(SOURCE / f"{name}.ipynb")
    cells = nb.cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith(f"# {name[:2]} · ")
    assert "minutes" in cells[0].source, "the opening cell gives a time estimate"
    assert "(..., n, d)" in cells[1].source and "True means" in cells[1].source, "conventions stated"
    assert any(c.cell_type == "markdown" and c.source.startswith("## Recap") for c in cells)
    for i, cell in enumerate(cells):
        meta = nbgrader_meta(cell)
        header = next((c for c in reversed(cells[:i]) if c.source.startswith("### Exercise")), None)
        if meta.get("solution") and cell.cell_type == "markdown":  # a written answer, graded by hand
            assert meta.get("grade") and meta.get("points", 0) > 0
            assert "### BEGIN SOLUTION" in cell.source and "Rubric" in cell.source, (
                "the rubric stays in source/"
            )
            assert header is not None and "Difficulty" in header.source
        elif meta.get("grade_id") == "quiz_answers":
            assert "answers = {\n" + "".join(f"    {n}: None,\n" for n in range(1, 16)) + "}" in cell.source
            tests = [
                c for c in cells if nbgrader_meta(c).get("grade_id", "").startswith("test_quiz_question_")
            ]
            assert [c.source.split("\n### BEGIN HIDDEN TESTS\n")[0] for c in tests] == [
                f"check_quiz_answer(answers, {n})" for n in range(1, 16)
            ]
            assert all("grade_quiz_answer(" in c.source.split("### BEGIN HIDDEN TESTS")[1] for c in tests), (
                "each question is scored by its hidden test"
            )
            assert all(nbgrader_meta(c)["points"] > 0 for c in tests), "each question is worth points"
        elif meta.get("solution"):
            grade_id = meta["grade_id"]
            assert re.search(rf"^def {grade_id}\(", cell.source, re.M), "grade_id is the function's name"
            assert (
                "Difficulty" in header.source and "Importance" in header.source and "minutes" in header.source
            )
            tests = {nbgrader_meta(c).get("grade_id"): c for c in cells if nbgrader_meta(c).get("grade")}
            visible = tests[f"test_{grade_id}"]
            assert visible.source.strip() == f"check_{grade_id}({grade_id})"
            assert "raises-exception" in visible.metadata.get("tags", []), (
                "a failing check must not stop Run All"
            )
            hidden = tests[f"test_{grade_id}_hidden"].source
            assert (
                "### BEGIN HIDDEN TESTS" in hidden and f"check_{grade_id}({grade_id}, hidden=True)" in hidden
            )
    if asks_for_functions(cells):
        assert any("<details><summary>Hint</summary>" in c.source for c in cells if c.cell_type == "markdown")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_source_outputs_are_deterministic_text(name):
    # No timestamps, memory addresses or widget state stored in the masters.
    text = (SOURCE / f"{name}.ipynb").read_text()
    assert not re.search(r"0x[0-9a-f]{6,}", text)
    assert '"widgets"' not in json.loads(text)["metadata"]
    assert "iopub.execute_input" not in text
    assert "application/vnd.jupyter.widget-view+json" not in text, "random widget ids: run `make outputs`"
