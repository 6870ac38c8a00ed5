"""A term through an LMS: Canvas's and Moodle's downloads collected, deadlines, late penalties, extensions.

Each class is selected in ``nbgrader_config.py``; docs/instructors.md, "A term through an LMS", is the how-to.

- :class:`LmsCollector` (``ZipCollectApp.collector_plugin``) lets ``nbgrader zip_collect`` take the zips Canvas
  and Moodle hand out as they are: it finds each file's student through the roster's ``lms_user_id`` (for
  Moodle, whose participant ids differ from one assignment to the next, through the assignment's grading
  worksheet and the roster's emails, when the worksheet is there: :func:`moodle_participants`), drops a
  re-upload's suffix, gives each student a submission time, and names every file it cannot place and why.
- :class:`PenaltyPerDayLate` (``AssignLatePenalties.plugin_class``): the late policy, a share of a notebook's
  score per started day late, capped.
- :class:`AssignLatePenaltiesWithExtensions` (in ``Autograde.autograde_preprocessors``): nbgrader's late-penalty
  step, after writing the student's extension from ``extensions/<assignment>.csv`` into the gradebook.
"""

import csv
import math
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import dateutil.parser
import dateutil.tz
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import FileNameCollectorPlugin, LateSubmissionPlugin
from nbgrader.preprocessors import AssignLatePenalties
from nbgrader.utils import find_all_notebooks, parse_utc
from traitlets import Float, Unicode

# Moodle: a folder per student and plugin, <Full Name>_<participant id>_assignsubmission_file_/ (onlinetext_
# for text typed in); downloaded without folders, <Full Name>_<participant id>_assignsubmission_file_<file>.
MOODLE_FOLDER = re.compile(r"(?P<name>.+)_(?P<lms_id>\d+)_assignsubmission_[a-z]+_")
MOODLE_FILE = re.compile(r"(?P<name>.+)_(?P<lms_id>\d+)_assignsubmission_file_(?P<upload>.+)")
# Canvas: <sortable name>_[LATE_]<user id>_<submission id>_<uploaded file name>.
CANVAS = re.compile(r"(?P<name>.+?)_(?:(?P<late>LATE)_)?(?P<lms_id>\d+)_\d+_(?P<upload>.+)")
# Canvas numbers a file uploaded again: 02_softmax-1.ipynb, 02_softmax-2.ipynb. The highest is the latest.
REUPLOAD = re.compile(r"(?P<stem>.+)-(?P<number>\d+)(?P<ext>\.[^.]+)")
# Where a hand-in the LMS marks late, with no time given, is put: the least lateness there is, one started day.
LATE_WITHOUT_TIME = timedelta(days=1)


def moodle_participants(path, students):
    """{participant id: roster id} from Moodle's grading worksheet at ``path`` (its ``Identifier``, "Participant
    1234", and ``Email address`` columns), each participant found on the roster (nbgrader's students) by email;
    {} when there is no such file or it is not a worksheet. Moodle numbers the participants of each assignment
    anew, so each assignment's worksheet maps its own numbers; an email two roster students share maps no one."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            rows = list(csv.DictReader(file))
    except OSError:
        return {}
    if not rows or not {"Identifier", "Email address"} <= set(rows[0]):
        return {}
    by_email = {}
    for student in students:
        if student.email:
            by_email.setdefault(student.email.strip().lower(), []).append(student.id)
    found = {}
    for row in rows:
        number = re.sub(r"\D", "", row.get("Identifier") or "")
        ids = by_email.get((row.get("Email address") or "").strip().lower(), [])
        if number and len(ids) == 1:
            found[number] = ids[0]
    return found


@dataclass
class HandIn:
    student: str  # the roster's id
    notebook: str  # the release's name for it
    number: int  # the re-upload's number, 0 for the first upload
    late: bool  # the LMS marks it late


class LmsCollector(FileNameCollectorPlugin):
    """``nbgrader zip_collect``'s collector for Canvas's and Moodle's downloads, and the course's own naming
    (``named_regexp``). It sees all the extracted files before the first is collected, so that it can keep a
    student's latest upload of each notebook and give each student one submission time."""

    times_file = Unicode(
        "submission_times.csv",
        help="Submission times, in downloaded/<assignment>/ beside archive/: columns id (or lms_user_id) and "
        "submitted_at, or Moodle's grading worksheet as downloaded (Identifier, Last modified (submission)).",
    ).tag(config=True)
    times_zone = Unicode(
        "UTC", help="The time zone of times in times_file that name none (Moodle's: your Moodle profile's)."
    ).tag(config=True)

    _plan = None  # {extracted file: HandIn, or why it is not collected}

    def collect(self, submitted_file):
        if self._plan is None:
            self._plan = self._make_plan()
        placed = self._plan.get(submitted_file) or self._place(submitted_file)
        if isinstance(placed, str):
            self.log.warning("Not collected: %s: %s", os.path.relpath(submitted_file, self._root), placed)
            return None
        return {
            "student_id": placed.student,
            "file_id": placed.notebook,
            "timestamp": self._times.get(placed.student),
        }

    def _make_plan(self):
        app, coursedir = self.parent, self.parent.coursedir  # nbgrader's ZipCollectApp
        self._assignment = coursedir.assignment_id
        self._root = app._format_collect_path(app.extracted_directory)
        release = coursedir.format_path(coursedir.release_directory, ".", self._assignment)
        self._released = set(find_all_notebooks(release)) if os.path.isdir(release) else set()
        with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
            self._roster = {student.id for student in gb.students}
            by_lms = {}  # a roster may give two students one LMS id by mistake: neither gets its files
            for student in gb.students:
                if student.lms_user_id:
                    by_lms.setdefault(student.lms_user_id.strip(), []).append(student.id)
            self._by_lms = {lms_id: ids[0] for lms_id, ids in by_lms.items() if len(ids) == 1}
            self._shared = {lms_id: ids for lms_id, ids in by_lms.items() if len(ids) > 1}
            # Moodle's participant ids, per assignment, from its worksheet when there is one (times_file).
            self._times_path = os.path.relpath(os.path.join(os.path.dirname(self._root), self.times_file))
            self._by_participant = moodle_participants(self._times_path, gb.students)
            try:
                due = gb.find_assignment(self._assignment).duedate
            except MissingEntry:
                due = None

        files = sorted(
            os.path.join(folder, name) for folder, _, names in os.walk(self._root) for name in names
        )
        plan = {path: self._place(path) for path in files}
        uploads = {}  # (student, notebook): its files
        for path, placed in plan.items():
            if isinstance(placed, HandIn):
                uploads.setdefault((placed.student, placed.notebook), []).append(path)
        for (student, notebook), paths in uploads.items():
            *earlier, latest = sorted(paths, key=lambda path: (plan[path].number, path))
            for path in earlier:
                same = plan[path].number == plan[latest].number
                plan[path] = (
                    f"{student} handed in {notebook} twice with nothing to tell which is later: kept "
                    if same
                    else f"an earlier upload of {student}'s {notebook}: the latest is "
                ) + os.path.relpath(latest, self._root)

        handed_in = {}
        for placed in plan.values():
            if isinstance(placed, HandIn):
                handed_in[placed.student] = handed_in.get(placed.student, False) or placed.late
        self._times = self._submission_times(handed_in, due)
        missing = sorted(self._roster - set(handed_in))
        if missing and self._by_lms:
            self.log.warning("On the roster, nothing collected from: %s", ", ".join(missing))
        return plan

    def _identify(self, path):
        """(LMS, the name's match, uploaded file name, late) of a file named by Canvas or Moodle, or None. The
        folders a file was extracted into count too (a student's Moodle folder, a zip the student uploaded), but
        not the top one, which is the downloaded zip's own."""
        parts = Path(path).relative_to(self._root).parts
        own = parts[-1]
        if match := MOODLE_FILE.fullmatch(own):
            return "Moodle", match, match["upload"], False
        if match := CANVAS.fullmatch(own):
            return "Canvas", match, match["upload"], bool(match["late"])
        for folder in reversed(parts[1:-1]):
            if match := MOODLE_FOLDER.fullmatch(folder):
                return "Moodle", match, own, False
            if match := CANVAS.fullmatch(folder):
                return "Canvas", match, own, bool(match["late"])
        return None

    def _place(self, path):
        """The file's HandIn, or why it cannot be collected."""
        if os.path.splitext(path)[1] in self.parent.extractor_plugin_inst.zip_ext:
            return "a zip inside the download: extracted beside it, its files are collected one by one"
        if found := self._identify(path):
            lms, match, upload, late = found
            who = f"{lms} user {match['lms_id']} ({match['name']})"
            if lms == "Moodle" and self._by_participant:  # this assignment's own numbers
                student = self._by_participant.get(match["lms_id"])
                if student is None:
                    return f"{who}: not in {self._times_path}, or its email is no roster student's"
            else:
                student = self._by_lms.get(match["lms_id"])
                if shared := self._shared.get(match["lms_id"]):
                    return f"{who}: the roster gives this lms_user_id to {' and '.join(shared)}"
                if student is None:
                    return f"{who} is not on the roster (lms_user_id)"
        elif self.named_regexp and (match := re.match(self.named_regexp, path)):
            student, upload, late = match["student_id"], match["file_id"], False
            if self._roster and student not in self._roster:
                return f"student {student} is not on the roster"
        else:
            return (
                "names no student: neither Canvas's <name>_<user id>_<submission id>_<file>, Moodle's "
                "<Full Name>_<participant id>_assignsubmission_file_, nor <student id>_<notebook>.ipynb"
            )
        return self._notebook_of(student, upload, late)

    def _notebook_of(self, student, upload, late):
        """The HandIn of ``student``'s uploaded file, or why it is not one of the assignment's notebooks."""
        if os.path.splitext(upload)[1] not in self.valid_ext:
            return f"from {student}: not a notebook (only {', '.join(self.valid_ext)} files are graded)"
        notebook, number = upload, 0
        if notebook not in self._released and (reupload := REUPLOAD.fullmatch(upload)):
            notebook, number = reupload["stem"] + reupload["ext"], int(reupload["number"])
        if self._released and notebook not in self._released:
            names = ", ".join(sorted(self._released))
            return f"from {student}: {upload} is not a notebook of {self._assignment} ({names})"
        return HandIn(student, notebook, number, late)

    def _submission_times(self, handed_in, due):
        """{student: submission time (naive UTC, as nbgrader keeps times) or None}, each student's rule logged."""
        path = self._times_path
        given = self._read_times(path) if os.path.exists(path) else {}
        times = {}
        for student, late in sorted(handed_in.items()):
            if student in given:
                when, rule = given[student], f"from {path}"
            elif due is None:
                when, rule = None, "no time given"
            elif late:
                when = due + LATE_WITHOUT_TIME
                rule = "the LMS marks it late and gives no time: the due date + 1 day"
            else:
                when, rule = due, "the LMS does not mark it late and gives no time: the due date"
            times[student] = when
            after = bool(when and due and when > due)
            verdict = "no due date" if due is None else "after the due date" if after else "by the due date"
            log = self.log.info
            if late and not after:  # no due date yet, or the times file says otherwise
                log, rule = self.log.warning, f"{rule}; but the LMS marks it late"
            log("Submission time of %s: %s, %s (%s)", student, when and f"{when} UTC", verdict, rule)
        return times

    def _read_times(self, path):
        times = {}
        with open(path, newline="", encoding="utf-8-sig") as file:
            for line, row in enumerate(csv.DictReader(file), 2):
                when = (row.get("submitted_at") or row.get("Last modified (submission)") or "").strip()
                participant = re.sub(r"\D", "", row.get("Identifier") or "")
                lms_id = (row.get("lms_user_id") or participant).strip()
                by_id = self._by_participant if participant and self._by_participant else self._by_lms
                student = (row.get("id") or "").strip() or by_id.get(lms_id)
                if not student or when in ("", "-"):  # Moodle writes - for no submission
                    continue
                try:
                    times[student] = self._utc(when)
                except (ValueError, OverflowError):
                    self.log.warning(
                        "%s, line %d: cannot read the time %r; the row is ignored", path, line, when
                    )
        return times

    def _utc(self, when):
        """``when`` as nbgrader keeps times, naive UTC. It may end with a zone, as ``--duedate`` does
        (``2025-03-08 09:30:00 Europe/Berlin``), or give an offset; else it is in ``times_zone``."""
        date, _, name = when.rpartition(" ")
        zone = dateutil.tz.gettz(name) if date and name[:1].isalpha() else None
        stamp = dateutil.parser.parse(date if zone else when)
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=zone or dateutil.tz.gettz(self.times_zone))
        return parse_utc(stamp)


class PenaltyPerDayLate(LateSubmissionPlugin):
    """The late policy: ``percent_per_day`` of the notebook's score per started day late (24 h after the due
    date, or the student's extended one), at most ``max_percent``."""

    percent_per_day = Float(10, help="Percent of a notebook's score taken off per started day late.").tag(
        config=True
    )
    max_percent = Float(50, help="The most taken off a late notebook, in percent of its score.").tag(
        config=True
    )

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        days = math.ceil(total_seconds_late / 86400)
        percent = min(days * self.percent_per_day, self.max_percent)
        self.log.warning("%s: %d day(s) late, %g%% of %g points off", student_id, days, percent, score)
        return score * percent / 100


class AssignLatePenaltiesWithExtensions(AssignLatePenalties):
    """nbgrader's late-penalty step, after recording the student's extension in the gradebook (nbgrader's own
    ``SubmittedAssignment.extension``, so that formgrader and the lateness nbgrader computes both honour it). The
    file is the record: a student it no longer lists loses the extension when next graded."""

    extensions_file = Unicode(
        "extensions/{assignment}.csv",
        help="Extensions, relative to the course root: columns id (the roster's) and duedate (the student's new "
        "due date, as nbgrader's --duedate takes it).",
    ).tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        new_due = self._extended_due(info["assignment"], info["student"])
        with Gradebook(info["db_url"]) as gb:
            submission = gb.find_submission(info["assignment"], info["student"])
            due = submission.assignment.duedate
            submission.extension = new_due - due if new_due and due and new_due > due else None
            gb.db.commit()
        return super().preprocess(nb, resources)

    def _rows(self, path):
        """{id: the due date written for it (the last row wins)} of the extensions file; {} if there is none."""
        if not os.path.exists(path):
            return {}
        with open(path, newline="", encoding="utf-8-sig") as file:
            return {
                (row.get("id") or "").strip(): (row.get("duedate") or "").strip()
                for row in csv.DictReader(file)
            }

    def unknown_ids(self, root, assignment, roster):
        """The file's path and the ids in it that are not on ``roster``: a typo there gives no one the
        extension, so the autograde command names them before it grades."""
        path = os.path.join(root, self.extensions_file.format(assignment=assignment))
        return path, sorted(i for i in self._rows(path) if i and i not in roster)

    def _extended_due(self, assignment, student):
        """The student's due date in the extensions file (naive UTC), or None. A date it cannot read stops this
        notebook's grading with the reason, rather than grade the student as if there were no extension."""
        path = self.extensions_file.format(assignment=assignment)
        if student not in (rows := self._rows(path)):
            return None
        date = rows[student]
        try:
            due = parse_utc(date)
        except (ValueError, OverflowError) as error:
            raise ValueError(f"{path}: cannot read {student}'s due date {date!r}") from error
        self.log.info("%s: due %s UTC, an extension from %s", student, due, path)
        return due
