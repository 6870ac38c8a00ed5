"""docs/instructors.md, "A term through an LMS" (roster, collect, deadlines), run as written on a simulated class.

The class hands in through Canvas and Moodle, in their bulk downloads as they come: an on-time student, a late one
who uploaded the notebook three times, an extended one (Moodle, a zip inside the zip, the times from Moodle's
grading worksheet), a student who handed in nothing, and files that cannot be placed: someone not on the roster,
an LMS id the roster gives twice, a PDF, a .py, Moodle's online text, a misnamed notebook. Every command of the
section's parts runs in a fresh course with the committed configuration; then the gradebook says who was late and
what it cost. Only 02_softmax is graded, once for each of three students.
"""

import re
import subprocess

import pytest
from conftest import ASSIGNMENT, COURSE_ID, ENV, ROOT, function_points, make_course, submission, zip_bytes
from mistakes import MISTAKES, REFERENCE
from nbformat import writes
from nbgrader.api import Gradebook

from helpers.grading.lms_collect import PenaltyPerDayLate, moodle_participants

SOFTMAX = "02_softmax"
PARTS = ["Roster and due date", "Collect the LMS's download", "Deadlines, the late policy and extensions"]
ROSTER = """id,first_name,last_name,email,lms_user_id
ontime,Anna,Ontime,anna@example.org,1001
late,Ben,Late,ben@example.org,1002
silent,Dora,Silent,dora@example.org,1004
extended,Eve,Extended,eve@example.org,2001
twin-a,Gil,Twin,gil@example.org,1005
twin-b,Hal,Twin,hal@example.org,1005
"""
DUE = "2025-03-07 16:00:00"  # the docs' due date, 17:00 in Berlin, in UTC
# Moodle's grading worksheet, as downloaded (times in the instructor's Moodle zone, here UTC): Eve handed in 1.5
# days late, within her extension to 2025-03-10 17:00 Berlin.
WORKSHEET = """Identifier,Full name,Email address,Status,Last modified (submission),Grade
Participant 2001,Eve Extended,eve@example.org,Submitted for grading,"Sunday, 09 March 2025, 04:00 AM",
Participant 2002,Fay Nothing,fay@example.org,No submission,-,
"""
EXTENSIONS = "id,duedate\nextended,2025-03-10 17:00:00 Europe/Berlin\nextnded,2025-03-10 17:00:00\n"  # a typo


def _guide_commands():
    """The commands of the section's parts, in order."""
    section = (ROOT / "docs" / "instructors.md").read_text().split("## A term through an LMS", 1)[1]
    section = re.split(r"^## ", section, flags=re.M)[0]
    parts = dict(re.findall(r"^### (.+?)\n(.*?)(?=^### |\Z)", section, re.S | re.M))
    blocks = [block for part in PARTS for block in re.findall(r"```console\n(.*?)```", parts[part], re.S)]
    return [line for block in blocks for line in block.splitlines()]


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("lms") / "course")
    release = course / "notebooks" / ASSIGNMENT

    def softmax(code=None):
        return writes(submission(release, SOFTMAX, {"softmax": code} if code else None))

    right, wrong = softmax(REFERENCE["softmax"]), softmax(MISTAKES["softmax"]["no_max_subtraction"][0])
    canvas = {
        "ontimeanna_1001_501_02_softmax.ipynb": right,
        "ontimeanna_1001_502_softmax_final.ipynb": right,  # not a notebook of the assignment
        "lateben_LATE_1002_503_02_softmax.ipynb": softmax(),  # uploaded, then uploaded again twice
        "lateben_LATE_1002_504_02_softmax-1.ipynb": wrong,
        "lateben_LATE_1002_505_02_softmax-2.ipynb": right,
        "lateben_LATE_1002_506_notes.pdf": b"%PDF-1.4",
        "lateben_LATE_1002_507_softmax.py": REFERENCE["softmax"],
        "strangerx_9999_508_02_softmax.ipynb": right,  # not on the roster
        "ontimeanna_1001_509_extras.zip": zip_bytes({"notes.txt": "a zip of hers"}),
        "twingil_1005_510_02_softmax.ipynb": right,  # the roster gives two students this LMS id
    }
    moodle = {  # a folder per student; a zip Eve uploaded holds her notebook
        "Eve Extended_2001_assignsubmission_file_/work.zip": zip_bytes({f"{SOFTMAX}.ipynb": right}),
        "Eve Extended_2001_assignsubmission_onlinetext_/onlinetext.html": "<p>see my notebook</p>",
        "Eve Extended_2001_assignsubmission_file_slides.pdf": b"%PDF-1.4",  # Moodle's naming without folders
    }
    archive = course / "downloaded" / ASSIGNMENT / "archive"
    archive.mkdir(parents=True)
    (archive / "submissions.zip").write_bytes(zip_bytes(canvas))
    (archive / "ATT101-Attention-42.zip").write_bytes(zip_bytes(moodle))
    (archive / f"nobody_{SOFTMAX}.ipynb").write_text(right)  # the course's naming, not on the roster
    (archive.parent / "submission_times.csv").write_text(WORKSHEET)
    (course / "roster.csv").write_text(ROSTER)
    (course / "extensions").mkdir()
    (course / "extensions" / f"{ASSIGNMENT}.csv").write_text(EXTENSIONS)

    runs = {}
    for command in _guide_commands():
        runs[command] = subprocess.run(
            command, shell=True, cwd=course, capture_output=True, text=True, env=ENV
        )
    return course, runs, canvas


def _collect_log(runs):
    return next(run.stdout + run.stderr for command, run in runs.items() if "zip_collect" in command)


def test_the_section_has_the_steps():
    commands = _guide_commands()
    for step in ["db student import", "db assignment add", "zip_collect", "autograde"]:
        assert any(step in command for command in commands), step


def test_every_command_ran(term):
    _, runs, _ = term
    for command, run in runs.items():
        assert run.returncode == 0, f"{command}\n{run.stdout}\n{run.stderr}"


def test_every_submitter_is_collected_under_their_roster_id(term):
    course, _, canvas = term
    submitted = course / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == ["extended", "late", "ontime"]
    for student in ("extended", "late", "ontime"):
        folder = submitted / student / ASSIGNMENT
        assert sorted(p.name for p in folder.iterdir()) == [f"{SOFTMAX}.ipynb", "timestamp.txt"], student
    latest = (submitted / "late" / ASSIGNMENT / f"{SOFTMAX}.ipynb").read_text()
    assert latest == canvas["lateben_LATE_1002_505_02_softmax-2.ipynb"], "the latest re-upload wins"


def test_files_that_cannot_be_placed_are_listed_with_the_reason(term):
    log = _collect_log(term[1])
    reasons = {
        "strangerx_9999_508_02_softmax.ipynb": "Canvas user 9999 (strangerx) is not on the roster",
        "ontimeanna_1001_502_softmax_final.ipynb": "softmax_final.ipynb is not a notebook of attention",
        "lateben_LATE_1002_506_notes.pdf": "not a notebook",
        "lateben_LATE_1002_507_softmax.py": "not a notebook",
        "onlinetext.html": "from extended: not a notebook",
        "Eve Extended_2001_assignsubmission_file_slides.pdf": "from extended: not a notebook",
        "extras/notes.txt": "from ontime: not a notebook",
        "work.zip": "a zip inside the download: extracted beside it",
        f"nobody_{SOFTMAX}.ipynb": "student nobody is not on the roster",
        "twingil_1005_510_02_softmax.ipynb": "the roster gives this lms_user_id to twin-a and twin-b",
        "lateben_LATE_1002_503_02_softmax.ipynb": "an earlier upload of late's 02_softmax.ipynb",
        "lateben_LATE_1002_504_02_softmax-1.ipynb": "an earlier upload of late's 02_softmax.ipynb",
    }
    for name, reason in reasons.items():
        line = next((line for line in log.splitlines() if "Not collected" in line and name in line), "")
        assert reason in line, f"{name}: {line or 'not listed'}\n{log}"
    assert "nothing collected from: silent, twin-a, twin-b" in log


def test_submission_times_follow_the_documented_rule(term):
    course, runs, _ = term
    stamps = {
        student: (course / "submitted" / student / ASSIGNMENT / "timestamp.txt").read_text()
        for student in ("ontime", "late", "extended")
    }
    assert stamps == {
        "ontime": DUE,  # not marked late: the due date
        "late": "2025-03-08 16:00:00",  # Canvas's LATE_, no time: the due date + 1 day
        "extended": "2025-03-09 04:00:00",  # from Moodle's worksheet
    }
    log = _collect_log(runs)
    assert (
        "Submission time of late: 2025-03-08 16:00:00 UTC, after the due date (the LMS marks it late" in log
    )
    assert "Submission time of extended: 2025-03-09 04:00:00 UTC, after the due date (from downloaded" in log


def test_the_late_one_is_penalised_and_the_extended_one_is_not(term):
    course = term[0]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        graded = {s: gb.find_submission(ASSIGNMENT, s) for s in ("ontime", "late", "extended")}
        late = {
            s: (sub.total_seconds_late, sub.score, sub.late_submission_penalty) for s, sub in graded.items()
        }
        extension = graded["extended"].extension
    full = function_points(SOFTMAX, "softmax")  # a right softmax, source/'s points
    assert late == {
        "ontime": (0, full, 0),
        "late": (24 * 3600, full, pytest.approx(full / 10)),  # one started day: 10% of the points
        "extended": (0, full, 0),
    }
    assert str(extension) == "3 days, 0:00:00"  # 2025-03-10 16:00 UTC less the due date


def test_an_extension_for_an_id_not_in_the_gradebook_is_named_before_grading(term):
    _, runs, _ = term
    (log,) = [run.stdout for command, run in runs.items() if "helpers.grading.autograde" in command]
    assert f"extensions/{ASSIGNMENT}.csv names extnded, not in the gradebook" in log


@pytest.mark.parametrize(
    ("hours_late", "percent"), [(0.01, 10), (24, 10), (24.01, 20), (72, 30), (24 * 5, 50), (24 * 30, 50)]
)
def test_the_policy_is_10_percent_per_started_day_at_most_50(hours_late, percent):
    assert PenaltyPerDayLate().late_submission_penalty("s", 8, hours_late * 3600) == pytest.approx(
        8 * percent / 100
    )


class _Student:
    def __init__(self, id, email):
        self.id, self.email = id, email


def test_moodle_participants_are_found_by_email_and_a_shared_email_finds_no_one(tmp_path):
    worksheet = tmp_path / "submission_times.csv"
    worksheet.write_text(
        "Identifier,Full name,Email address,Status\n"
        "Participant 7001,Bo Wrong,BO@example.org ,Submitted\n"  # as Moodle may case and pad it
        "Participant 7002,Twin One,twin@example.org,Submitted\n"
        "Participant 7003,No Email,,Submitted\n"
    )
    roster = [
        _Student("bo", "bo@example.org"),
        _Student("t1", "twin@example.org"),
        _Student("t2", "twin@example.org"),
    ]
    assert moodle_participants(worksheet, roster) == {"7001": "bo"}
    (tmp_path / "times.csv").write_text("id,submitted_at\nbo,2025-03-08 09:30:00\n")  # not a worksheet
    assert moodle_participants(tmp_path / "times.csv", roster) == {}
    assert moodle_participants(tmp_path / "missing.csv", roster) == {}
