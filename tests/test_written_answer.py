"""Notebook 07's written answer: the rubric comes after the student writes (self-study), never in a class."""

import json

import pytest
from conftest import POINTS, RELEASE, ROOT

from helpers import written_answer

RELEASED = RELEASE / written_answer.NOTEBOOK


def _shown(monkeypatch, session=None, graded=False):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    if session is not None:
        monkeypatch.setenv("JPY_SESSION_NAME", str(session))
    if graded:
        monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    return written_answer.compare_with_rubric().data


def _with_answer(tmp_path, text):
    notebook = json.loads(RELEASED.read_text())
    cell = next(c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id"))
    cell["source"] = text
    path = tmp_path / written_answer.NOTEBOOK
    path.write_text(json.dumps(notebook))
    return path


def test_the_rubric_is_the_masters_and_the_release_does_not_hold_it():
    rubric = written_answer.rubric()
    points = sum(POINTS[written_answer.NOTEBOOK.removesuffix(".ipynb")].values())  # its cell's, in source/
    assert rubric.startswith(f"**Rubric ({points} points).**") and "**A model answer.**" in rubric
    assert "SOLUTION" not in rubric
    assert rubric[:200] not in RELEASED.read_text()
    for path in (ROOT / "helpers").rglob("*.py"):
        assert "Robust roles, arbitrary places" not in path.read_text(), path


def test_an_unwritten_answer_gets_a_request_to_write_first(monkeypatch):
    shown = _shown(monkeypatch, session=RELEASED)  # the release's cell: "YOUR ANSWER HERE"
    assert shown.startswith("Write your answer in the cell above first") and "Rubric" not in shown


def test_a_written_answer_opens_the_rubric(monkeypatch, tmp_path):
    shown = _shown(monkeypatch, session=_with_answer(tmp_path, "Head 1 reads one back in this model only..."))
    assert shown.startswith("<details open>") and written_answer.rubric() in shown


def test_without_a_known_notebook_the_rubric_is_folded_away(monkeypatch):
    shown = _shown(monkeypatch)
    assert shown.startswith("<details><summary>") and "open once you have written yours" in shown


@pytest.mark.parametrize("where", ["a class release", "grading"])
def test_a_class_and_the_grader_see_only_who_grades(monkeypatch, tmp_path, where):
    if where == "a class release":
        monkeypatch.setattr(written_answer, "MASTER", tmp_path / "no-master.ipynb")
    shown = _shown(monkeypatch, session=_with_answer(tmp_path, "my answer"), graded=where == "grading")
    assert shown.startswith("Your instructor grades this answer") and "Rubric" not in shown
