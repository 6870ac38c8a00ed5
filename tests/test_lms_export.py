"""Grades and feedback back to Canvas and Moodle: the commands of docs/instructors.md, "Grades and feedback back to
the LMS", run as written on a class of four on the roster: ada (02 right), bob (02 as released, uploaded three
times and late in Canvas), cyd and dee (nothing handed in; dee has no LMS id and no email). The files are read back
with the csv and zipfile modules, and each name is parsed as Canvas's and Moodle's own import code parses it."""

import csv
import re
import subprocess
import sys
import zipfile

import nbformat
import pytest
from conftest import ASSIGNMENT, ENV, ROOT, make_course, nbgrader, submission, zip_bytes
from mistakes import REFERENCE

SOFTMAX = "02_softmax"
ROSTER = """id,first_name,last_name,email,lms_user_id
ada,Ada,Lovelace,ada@example.org,1001
bob,Bob,Bobby,bob@example.org,1002
cyd,Cyd,Charisse,cyd@example.org,1003
dee,Dee,,,
"""
CANVAS_ID = "4321"  # the assignment's Canvas id in the guide's command
# Canvas's "Download Submissions": <sortable name>[_LATE]_<user id>_<file id>_<file name>; bob uploaded three
# times (Canvas adds -1, -2 to the name; its file ids grow).
DOWNLOAD = {
    "lovelaceada_1001_9001_02_softmax.ipynb": "ada",
    "bobbybob_LATE_1002_9002_02_softmax.ipynb": "bob",
    "bobbybob_LATE_1002_9004_02_softmax-1.ipynb": "bob",
    "bobbybob_LATE_1002_9005_02_softmax-2.ipynb": "bob",
}


def _guide_commands():
    text = (ROOT / "docs" / "instructors.md").read_text()
    section = text.split("### Grades and feedback back to the LMS", 1)[1].split("\n#", 1)[0]
    return [
        line for block in re.findall(r"```console\n(.*?)```", section, re.S) for line in block.splitlines()
    ]


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("lms") / "course")
    (course / "roster.csv").write_text(ROSTER)
    nbgrader(course, "db", "student", "import", "roster.csv")
    release = course / "notebooks" / ASSIGNMENT
    handed_in = {
        "ada": submission(release, SOFTMAX, {"softmax": REFERENCE["softmax"]}),
        "bob": submission(release, SOFTMAX),
    }
    for student, notebook in handed_in.items():
        (course / "submitted" / student / ASSIGNMENT).mkdir(parents=True)
        nbformat.write(notebook, course / "submitted" / student / ASSIGNMENT / f"{SOFTMAX}.ipynb")
    archive = course / "downloaded" / ASSIGNMENT / "archive"
    archive.mkdir(parents=True)
    downloaded = {name: nbformat.writes(handed_in[student]) for name, student in DOWNLOAD.items()}
    (archive / "submissions.zip").write_bytes(zip_bytes(downloaded))
    run = subprocess.run(
        [sys.executable, "-m", "helpers.grading.autograde", ASSIGNMENT],
        cwd=course, capture_output=True, text=True, env=ENV,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    nbgrader(course, "generate_feedback", ASSIGNMENT)
    nbgrader(course, "export")  # nbgrader's own grades.csv: the scores to compare with
    runs = {
        command: subprocess.run(command, shell=True, cwd=course, capture_output=True, text=True, env=ENV)
        for command in _guide_commands()
    }
    scores = {row["student_id"]: row for row in csv.DictReader(open(course / "grades.csv"))}
    return course, runs, scores


def _read(path):
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def test_the_guide_has_the_commands_and_each_ran(term):
    _, runs, _ = term
    assert len(runs) == 4
    for command, run in runs.items():
        assert run.returncode == 0, f"{command}\n{run.stdout}\n{run.stderr}"


def test_canvas_grades_have_canvas_columns_and_every_roster_student(term):
    course, runs, scores = term
    header, points, *rows = _read(course / "canvas-grades.csv")
    assert header == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        f"{ASSIGNMENT} ({CANVAS_ID})",
    ]
    # Canvas's GradebookImporter: "Student" and "ID" first, the SIS pair, "Section" the last student column, then
    # "<title> (<assignment id>)"; a row whose first cell holds "Points Possible" gives the points.
    assert re.fullmatch(r"(.+) \((\d+)\)", header[5]).group(2) == CANVAS_ID
    assert points == ["Points Possible", "", "", "", "", f"{float(scores['ada']['max_score']):g}"]
    by_id = {row[1]: row for row in rows}
    assert len(rows) == 4 and set(by_id) == {"1001", "1002", "1003", ""}
    assert by_id["1001"][:5] == ["Lovelace, Ada", "1001", "", "ada@example.org", ""]
    lms_ids = {"ada": "1001", "bob": "1002", "cyd": "1003", "dee": ""}
    for student, lms_id in lms_ids.items():
        assert float(by_id[lms_id][5]) == float(scores[student]["score"]), student
    assert float(by_id["1001"][5]) > 0 and by_id["1003"][5] == "0", "a non-submitter scores 0"
    assert "No lms_user_id (Canvas user id) in the roster for dee" in next(
        run.stderr for command, run in runs.items() if "CanvasExport" in command
    )


def test_moodle_grades_map_by_email(term):
    course, runs, scores = term
    header, *rows = _read(course / "moodle-grades.csv")
    assert header == ["First name", "Last name", "ID number", "Email address", ASSIGNMENT]
    assert [row[2] for row in rows] == ["ada", "bob", "cyd", "dee"]
    assert rows[0][:4] == ["Ada", "Lovelace", "ada", "ada@example.org"]
    for row in rows:
        assert float(row[4]) == float(scores[row[2]]["score"]), row
    assert sum(float(row[4]) for row in rows) == sum(float(r["score"]) for r in scores.values())
    assert "No email in the roster for dee" in next(
        run.stderr for c, run in runs.items() if "MoodleExport" in c
    )


def _pages(course, student):
    return {p.name: p.read_bytes() for p in (course / "feedback" / student / ASSIGNMENT).glob("*.html")}


def _zip_entries(course, lms):
    """{entry name: content} of the feedback zip for ``lms``."""
    with zipfile.ZipFile(course / "feedback" / f"{ASSIGNMENT}-{lms}.zip") as bundle:
        return {name: bundle.read(name) for name in bundle.namelist()}


def _canvas_ids(name):
    """Canvas's Assignment#infer_comment_context_from_filename: the first two all-digit parts of a file's name are
    the user id and the id of a file in that user's submission."""
    return [part for part in name.split("_") if part.isdigit()][:2]


def test_canvas_feedback_zip_names_each_page_as_canvas_downloaded_the_student_file(term):
    course, runs, _ = term
    entries = _zip_entries(course, "canvas")
    assert set(entries) == {
        "lovelaceada_1001_9001_02_softmax.html",
        "bobbybob_LATE_1002_9005_02_softmax.html",  # the file of 02_softmax-2.ipynb, bob's latest upload
    }
    owner = {tuple(_canvas_ids(name)): student for name, student in DOWNLOAD.items()}
    for name, content in entries.items():
        user_id, file_id = _canvas_ids(name)
        student = owner[user_id, file_id]  # a file of that very student's submission
        assert content == _pages(course, student)[name.split(f"_{file_id}_", 1)[1]]
    assert "Wrote 2 feedback files of 2 students" in next(r.stdout for c, r in runs.items() if "canvas" in c)


def test_moodle_feedback_zip_has_a_folder_per_participant(term):
    course, _, _ = term
    entries = _zip_entries(course, "moodle")
    assert set(entries) == {
        "Ada Lovelace_1001_assignfeedback_file/02_softmax.html",
        "Bob Bobby_1002_assignfeedback_file/02_softmax.html",
    }
    for name, content in entries.items():
        # Moodle's assignfeedback_file_zip_importer: explode('_', folder, 5) gives name, participant id, plugin
        folder, page = name.split("/")
        full_name, participant, plugin_type, plugin = folder.split("_", 4)
        assert (plugin_type, plugin) == ("assignfeedback", "file") and participant.isdigit()
        student = {"1001": "ada", "1002": "bob"}[participant]
        assert content == _pages(course, student)[page]


def test_feedback_that_cannot_be_placed_is_named(term, tmp_path):
    course, _, _ = term
    dee = course / "feedback" / "dee" / ASSIGNMENT
    dee.mkdir(parents=True)
    (dee / f"{SOFTMAX}.html").write_text("<html></html>")
    try:
        run = subprocess.run(
            [sys.executable, "-m", "helpers.grading.lms_export", "feedback", ASSIGNMENT, "--lms", "canvas",
             "--to", str(tmp_path / "canvas.zip")],
            cwd=course, capture_output=True, text=True, env=ENV,
        )  # fmt: skip
    finally:
        (dee / f"{SOFTMAX}.html").unlink()
    assert run.returncode == 1, run.stdout + run.stderr
    assert "not in the zip: dee: no numeric lms_user_id in the roster" in run.stdout
    assert len(zipfile.ZipFile(tmp_path / "canvas.zip").namelist()) == 2, "everyone else is in it"
