"""What an instructor sets is written once (docs/instructors.md, "What an instructor sets"): the course id in
nbgrader_config.py, the assignment as source/'s folder, the points in source/'s cells. The rest follows: a course
reweighted or renamed in one file grades, exports and documents itself accordingly."""

import csv
import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from conftest import ASSIGNMENT, COURSE_ID, ENV, POINTS, ROOT, TOTAL, nbgrader
from nbgrader.api import Gradebook

from helpers.grading import course

SOFTMAX = "02_softmax"
STATED = ["README.md", "docs/instructors.md"]


@pytest.mark.parametrize("name", STATED)
def test_the_points_the_docs_state_are_source_s(name):
    text = (ROOT / name).read_text()
    restated, found = course.restate(text)
    assert found == 1, "one paragraph states the points"
    assert restated == text, f"{name} states other points than source/: run `make release`"


def test_the_guide_names_no_total_outside_its_points_paragraph():
    guide = (ROOT / "docs" / "instructors.md").read_text()
    points = guide.split("## Points\n", 1)[1].split("\n## ", 1)[0]
    assert f"{TOTAL} in all" in points
    assert not re.search(rf"\b{TOTAL}\b", guide.replace(points, "")), "say where the total is, not what it is"


def test_the_settings_are_nbgrader_s_own():
    config = (ROOT / "nbgrader_config.py").read_text()
    assert f'c.CourseDirectory.course_id = "{COURSE_ID}"' in config
    assert [p.name for p in (ROOT / "source").iterdir() if p.is_dir()] == [ASSIGNMENT]
    source = nbformat.read(ROOT / "source" / ASSIGNMENT / f"{SOFTMAX}.ipynb", as_version=4)
    cells = [c.metadata.nbgrader for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert POINTS[SOFTMAX] == {meta["grade_id"]: meta["points"] for meta in cells}
    assert TOTAL == sum(sum(parts.values()) for parts in POINTS.values())


def test_the_command_prints_the_settings():
    run = subprocess.run([sys.executable, "-m", "helpers.grading.course"], cwd=ROOT, capture_output=True,
                         text=True, env=ENV, check=True)  # fmt: skip
    assert (
        f"course id: {COURSE_ID}" in run.stdout and f"assignment {ASSIGNMENT}: {TOTAL} points" in run.stdout
    )


def test_the_kubernetes_files_name_the_course_they_cannot_read():
    """The students' image and the Helm values cannot read nbgrader_config.py: they must say the same."""
    image = (ROOT / "deploy" / "kubernetes" / "nbgrader_config.py").read_text()
    assert f'c.CourseDirectory.course_id = "{COURSE_ID}"' in image
    values = (ROOT / "deploy" / "kubernetes" / "values.yaml").read_text()
    for name in (
        f"formgrade-{COURSE_ID}:",
        f"service={COURSE_ID}",
        f"    {COURSE_ID}:",
        f"//{COURSE_ID}-grader.",
    ):
        assert name in values, name


def test_the_hub_takes_the_course_from_nbgrader_config():
    sys.path.insert(0, str(ROOT / "deploy"))
    import classroom

    assert (classroom.COURSE, classroom.ASSIGNMENT) == (COURSE_ID, ASSIGNMENT)


@pytest.fixture(scope="module")
def reweighted(tmp_path_factory):
    """A copy of the course under another id (set in nbgrader_config.py alone), in a term under way (generated, a
    student on the roster), whose instructor then gives softmax's hidden test 2 more points in source/ alone,
    generates again as the guide says, and exports."""
    copy = tmp_path_factory.mktemp("reweighted")
    shutil.copytree(ROOT / "source", copy / "source")
    config = (ROOT / "nbgrader_config.py").read_text()
    (copy / "nbgrader_config.py").write_text(config.replace(f'"{COURSE_ID}"', '"another-course"'))
    nbgrader(copy, "generate_assignment", ASSIGNMENT)
    nbgrader(copy, "db", "student", "add", "ada")
    path = copy / "source" / ASSIGNMENT / f"{SOFTMAX}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_softmax_hidden":
            cell.metadata.nbgrader["points"] += 2
    nbformat.write(notebook, path)
    nbgrader(copy, "generate_assignment", ASSIGNMENT, "--force")
    nbgrader(copy, "export")
    return copy


def test_the_course_follows_the_instructor_s_one_change(reweighted):
    assert course.course_id(reweighted) == "another-course"
    with Gradebook(f"sqlite:///{reweighted / 'gradebook.db'}", "another-course") as gb:
        assert [(a.name, a.course_id) for a in gb.assignments] == [(ASSIGNMENT, "another-course")]
    assert (
        course.points(reweighted)[SOFTMAX]["test_softmax_hidden"]
        == POINTS[SOFTMAX]["test_softmax_hidden"] + 2
    )
    assert course.total(reweighted) == TOTAL + 2


def test_nbgrader_grades_out_of_the_new_total(reweighted):
    (row,) = csv.DictReader(open(reweighted / "grades.csv"))
    assert float(row["max_score"]) == course.total(reweighted)
    assert row["student_id"] == "ada" and float(row["score"]) == 0


def test_make_release_restates_the_new_points(reweighted):
    guide, found = course.restate((ROOT / "docs" / "instructors.md").read_text(), reweighted)
    points = guide.split("## Points\n", 1)[1].split("\n## ", 1)[0]
    softmax = POINTS[SOFTMAX]["test_softmax"] + POINTS[SOFTMAX]["test_softmax_hidden"] + 2
    assert found == 1 and f"02: {softmax}," in points and f"{TOTAL + 2} in all" in points
