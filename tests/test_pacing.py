"""docs/instructors.md, "A term paced over weeks", run as written on a simulated class.

The course is paced as three assignments with a due date each; two students hand in weeks 1 and 2 through Moodle,
whose participant ids differ from week to week: Ada all right and on time, Bo with a wrong softmax in week 1 and a
right week 2 handed in late. The section's commands run in order (week 1's block again for week 2, naming it),
and then the gradebook, the feedback zips and the grade file say what each week gave each student.
"""

import csv
import re
import subprocess
import sys
import zipfile

import pytest
from conftest import COURSE_ID, ENV, ROOT, make_course, submission, zip_bytes
from mistakes import MISTAKES, NOTEBOOK_OF, REFERENCE
from nbformat import writes
from nbgrader.api import Gradebook

from helpers.grading import course as settings
from helpers.grading import pacing

SECTION = "## A term paced over weeks"
PLAN = """assignment,notebooks,duedate
week1,01 02,2025-02-07 17:00:00 Europe/Berlin
week2,03 04,2025-02-14 17:00:00 Europe/Berlin
week3,05 06 07 08,2025-02-28 17:00:00 Europe/Berlin
"""
WEEKS = {
    "week1": ["01_queries_keys_values", "02_softmax"],
    "week2": ["03_scaled_dot_product_attention", "04_self_attention_and_causal_masks"],
}  # handed in; week3 is not yet
ROSTER = """id,first_name,last_name,email,lms_user_id
ada,Ada,Lovelace,ada@example.org,
bo,Bo,Wrong,bo@example.org,
"""
# Moodle numbers each assignment's participants anew: Bo is 5002 in week 1 and 7001 in week 2.
PARTICIPANT = {("week1", "ada"): 5001, ("week1", "bo"): 5002, ("week2", "ada"): 7002, ("week2", "bo"): 7001}
NAME = {"ada": ("Ada Lovelace", "ada@example.org"), "bo": ("Bo Wrong", "bo@example.org")}
# Submission times in the worksheets (UTC, the collector's default zone). Week 2 is due 2025-02-14 16:00 UTC:
# Bo hands it in 1 day 18 hours late, two started days.
HANDED_IN = {
    ("week1", "ada"): "Thursday, 06 February 2025, 09:00 AM",
    ("week1", "bo"): "Friday, 07 February 2025, 03:00 PM",
    ("week2", "ada"): "Friday, 14 February 2025, 09:00 AM",
    ("week2", "bo"): "Sunday, 16 February 2025, 10:00 AM",
}


def _blocks():
    """The section's console blocks: [[command, ...], ...]."""
    section = (ROOT / "docs" / "instructors.md").read_text().split(SECTION, 1)[1]
    section = re.split(r"^## ", section, flags=re.M)[0]
    return [block.splitlines() for block in re.findall(r"```console\n(.*?)```", section, re.S)]


def _codes(notebook, student):
    codes = {f: REFERENCE[f] for f in REFERENCE if NOTEBOOK_OF[f] == notebook}
    if student == "bo" and notebook == "02_softmax":
        codes["softmax"] = MISTAKES["softmax"]["no_max_subtraction"][0]
    return codes


def _run(command, course):
    return subprocess.run(command, shell=True, cwd=course, capture_output=True, text=True, env=ENV)


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    course = make_course(
        tmp_path_factory.mktemp("paced") / "course"
    )  # as generated: one assignment, attention
    (course / "pacing.csv").write_text(PLAN)
    (course / "roster.csv").write_text(ROSTER)
    setup, week = _blocks()
    runs = {command: _run(command, course) for command in setup}
    for name, notebooks in WEEKS.items():
        release = course / "notebooks" / name
        files, rows = {}, ["Identifier,Full name,Email address,Status,Last modified (submission),Grade"]
        for student, (full_name, email) in NAME.items():
            number = PARTICIPANT[name, student]
            for notebook in notebooks:
                nb = submission(release, notebook, _codes(notebook, student))
                files[f"{full_name}_{number}_assignsubmission_file_/{notebook}.ipynb"] = writes(nb)
            rows.append(f'Participant {number},{full_name},{email},Submitted,"{HANDED_IN[name, student]}",')
        # Someone the worksheet does not list (enrolled after it was downloaded): named, never guessed.
        files[f"Cy Stranger_{PARTICIPANT[name, 'ada'] + 100}_assignsubmission_file_/{notebooks[0]}.ipynb"] = (
            "{}"
        )
        downloaded = course / "downloaded" / name
        (downloaded / "archive").mkdir(parents=True)
        (downloaded / "archive" / f"ATT101-{name}.zip").write_bytes(zip_bytes(files))
        (downloaded / "submission_times.csv").write_text("\n".join(rows) + "\n")
        for command in week:
            command = command.replace("week1", name)
            runs[command] = _run(command, course)
    return course, runs


def test_the_section_has_the_steps():
    setup, week = _blocks()
    assert setup[0] == "python -m helpers.grading.pacing pacing.csv"
    for step in [
        "zip_collect week1",
        "autograde week1",
        "generate_feedback week1",
        "feedback week1",
        "export",
    ]:
        assert any(step in command for command in week), step


def test_every_command_ran(term):
    for command, run in term[1].items():
        assert run.returncode == 0, f"{command}\n{run.stdout}\n{run.stderr}"


def test_the_plan_becomes_one_assignment_per_week_with_its_due_date(term):
    course, runs = term
    log = runs["python -m helpers.grading.pacing pacing.csv"].stdout
    for command in [
        "$ nbgrader db assignment remove attention",
        '$ nbgrader db assignment add week2 "--duedate=2025-02-14 17:00:00 Europe/Berlin"',
        "$ nbgrader generate_assignment week3 --force",
    ]:
        assert command in log, log
    planned = {"week1": ["01", "02"], "week2": ["03", "04"], "week3": ["05", "06", "07", "08"]}
    assert settings.assignments(course) == list(planned)
    for name, prefixes in planned.items():
        for folder in ("source", "notebooks"):
            assert [p.name[:2] for p in sorted((course / folder / name).glob("*.ipynb"))] == prefixes
    assert (
        not (course / "source" / "attention").exists() and not (course / "notebooks" / "attention").exists()
    )
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        found = {a.name: (str(a.duedate), a.max_score) for a in gb.assignments}
    assert found == {
        "week1": (
            "2025-02-07 16:00:00",
            settings.total(course, "week1"),
        ),  # 17:00 in Berlin, UTC in the gradebook
        "week2": ("2025-02-14 16:00:00", settings.total(course, "week2")),
        "week3": ("2025-02-28 16:00:00", settings.total(course, "week3")),
    }
    assert sum(settings.total(course, name) for name in planned) == settings.total(ROOT), "every point kept"


def test_each_week_is_collected_through_that_weeks_participant_ids(term):
    course, _ = term
    for (name, student), _ in PARTICIPANT.items():
        folder = course / "submitted" / student / name
        assert sorted(p.stem for p in folder.glob("*.ipynb")) == WEEKS[name], (name, student)


def test_a_participant_the_worksheet_does_not_list_is_named_not_guessed(term):
    course, runs = term
    for name in WEEKS:
        (log,) = [
            run.stderr + run.stdout
            for command, run in runs.items()
            if command == f"nbgrader zip_collect {name}"
        ]
        number = PARTICIPANT[name, "ada"] + 100
        assert (
            f"Moodle user {number} (Cy Stranger): not in downloaded/{name}/submission_times.csv, or its email is no "
            "roster student's" in log
        ), log
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["ada", "bo"]


def _scores(course, name, student):
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        sub = gb.find_submission(name, student)
        notebooks = {nb.name: (nb.score, nb.max_score) for nb in sub.notebooks}
        return notebooks, sub.total_seconds_late, sub.late_submission_penalty


def test_a_mistake_costs_points_once_in_the_week_that_teaches_it(term):
    course, _ = term
    for name in WEEKS:
        notebooks, late, _ = _scores(course, name, "ada")
        assert late == 0 and all(score == most for score, most in notebooks.values()), (name, notebooks)
    week1, _, _ = _scores(course, "week1", "bo")
    score, most = week1["02_softmax"]
    assert score < most, "Bo's softmax is wrong"
    week2, _, _ = _scores(course, "week2", "bo")
    # Graded, notebook 03 uses the grader's softmax: Bo's week-1 mistake costs nothing in week 2.
    assert all(score == most for score, most in week2.values()), week2


def test_the_late_week_is_penalised_by_its_own_due_date(term):
    course, _ = term
    _, late, penalty = _scores(course, "week1", "bo")
    assert (late, penalty) == (0, 0), "week 1 was on time"
    notebooks, late, penalty = _scores(course, "week2", "bo")
    assert late == (24 + 18) * 3600
    assert penalty == pytest.approx(0.2 * settings.total(course, "week2")), "two started days, 10% each"


def test_the_feedback_zip_of_each_week_names_that_weeks_participants(term):
    course, _ = term
    for name, notebooks in WEEKS.items():
        with zipfile.ZipFile(course / "feedback" / f"{name}-moodle.zip") as bundle:
            entries = sorted(bundle.namelist())
        assert entries == sorted(
            f"{NAME[student][0]}_{PARTICIPANT[name, student]}_assignfeedback_file/{notebook}.html"
            for student in NAME
            for notebook in notebooks
        )


def test_the_grade_file_has_a_column_per_week(term):
    course, _ = term
    with open(course / "moodle-grades.csv", newline="") as file:
        rows = {row["ID number"]: row for row in csv.DictReader(file)}
    assert sorted(rows) == ["ada", "bo"]
    ada = {name: float(rows["ada"][name]) for name in ("week1", "week2", "week3")}
    assert ada == {
        "week1": settings.total(course, "week1"),
        "week2": settings.total(course, "week2"),
        "week3": 0,
    }
    assert float(rows["bo"]["week2"]) == pytest.approx(0.8 * settings.total(course, "week2"))


def test_a_plan_that_changes_a_week_already_handed_in_is_refused(term):
    course, _ = term
    (course / "replan.csv").write_text(
        PLAN.replace("week1,01 02", "week1,01").replace("week2,03 04", "week2,02 03 04")
    )
    before = sorted(p.relative_to(course) for p in (course / "source").rglob("*"))
    run = _run(f"{sys.executable} -m helpers.grading.pacing replan.csv", course)
    assert run.returncode != 0
    assert "Not paced: students have handed in week1, week2, which this plan changes" in run.stderr
    assert sorted(p.relative_to(course) for p in (course / "source").rglob("*")) == before


NOTEBOOKS = [f"{n:02d}_x" for n in range(1, 5)]


@pytest.mark.parametrize(
    ("rows", "why"),
    [
        ("a,01 02\nb,03", "no assignment has 04_x"),
        ("a,01 02\nb,02 03 04", "02_x is already in a"),
        ("a,01 03\nb,02 04", "must follow the previous assignment's"),
        ("b,03 04\na,01 02", "must follow the previous assignment's"),
        ("a,01 02 09\nb,03 04", "09 is none of the course's notebooks"),
        ("week 1,01 02\nb,03 04", "'week 1' is not an assignment name"),
        ("a,01 02\na,03 04", "a is planned twice"),
        ("a,\nb,01 02 03 04", "a has no notebooks"),
    ],
)
def test_a_plan_that_cannot_be_carried_out_says_why(tmp_path, rows, why):
    path = tmp_path / "plan.csv"
    path.write_text("assignment,notebooks\n" + rows + "\n")
    with pytest.raises(pacing.PlanError, match=re.escape(why)):
        pacing.read_plan(path, NOTEBOOKS)


def test_a_plan_names_notebooks_by_number_or_by_file_name(tmp_path):
    path = tmp_path / "plan.csv"
    path.write_text("assignment,notebooks,duedate\na,01_x.ipynb 02,2025-01-01\nb,03 04_x,\n")
    assert pacing.read_plan(path, NOTEBOOKS) == [
        ("a", ["01_x", "02_x"], "2025-01-01"),
        ("b", ["03_x", "04_x"], ""),
    ]


def test_the_public_clone_stays_one_assignment(tmp_path):
    (tmp_path / "plan.csv").write_text(PLAN)
    with pytest.raises(pacing.PlanError, match="this is the course's repository"):
        pacing.pace(ROOT, tmp_path / "plan.csv")
    assert settings.assignments(ROOT) == ["attention"]
