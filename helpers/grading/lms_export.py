"""Grades and feedback back to the learning platform (Canvas, Moodle), in the files their bulk imports take.

Grades, as nbgrader's plugins are chosen (``nbgrader export --exporter=...``), one row per student of the
gradebook (the roster, and anyone graded), scored as ``nbgrader export`` scores them (autograded plus manual
points, minus the late penalty; 0 without a submission):

- ``helpers.grading.lms_export.CanvasExport`` writes ``canvas-grades.csv`` for Canvas's gradebook import: the
  columns Student, ID, SIS User ID, SIS Login ID, Section, then one per assignment named
  ``<name> (<Canvas assignment id>)``, and a "Points Possible" row. Canvas finds each student by ID, its user
  id (the roster's ``lms_user_id``), and each assignment by the id in brackets (``CanvasExport.assignment_ids``).
- ``helpers.grading.lms_export.MoodleExport`` writes ``moodle-grades.csv`` for Moodle's grade import from CSV:
  First name, Last name, ID number (the nbgrader id), Email address, then one column per assignment; the
  instructor maps "Email address" to the users' email and each assignment column to its grade item.

Feedback, ``python -m helpers.grading.lms_export feedback ASSIGNMENT --lms canvas|moodle``: every student's
feedback pages (``nbgrader generate_feedback``'s ``feedback/<student>/<assignment>/*.html``) in one zip, named
as the platform's bulk upload expects:

- Canvas ("Re-Upload Submissions"): ``<sortable name>_<user id>_<submitted file id>_<notebook>.html``, the
  beginning of the name of a file the student handed in, as Canvas's "Download Submissions" named it (read from
  ``downloaded/<assignment>/``): Canvas attaches each file to that student's submission as a comment.
- Moodle ("Upload multiple feedback files in a zip"): ``<Full Name>_<participant id>_assignfeedback_file/``
  ``<notebook>.html``, the participant id being this assignment's in its grading worksheet in
  ``downloaded/<assignment>/`` when it is there (Moodle numbers participants per assignment), else the roster's
  ``lms_user_id``.
"""

import argparse
import csv
import re
import sys
import zipfile
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps.api import NbGraderAPI
from nbgrader.apps.generatefeedbackapp import GenerateFeedbackApp
from nbgrader.plugins import ExportPlugin
from traitlets import Dict

from helpers.grading.lms_collect import LmsCollector, moodle_participants

# Canvas's download: <sortable name>[_LATE]_<user id>_<submitted file id>_<file name as uploaded>
CANVAS_FILE = re.compile(r"(?P<prefix>.*?_(?P<user>\d+)_\d+)_(?P<name>.+)")


def _points(value):
    """Points as both platforms read them: at most two decimals, no trailing zeros (4, 18.75)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _table(gradebook, plugin):
    """The assignments, and [(student, [score per assignment])] for every student in the gradebook (or those
    of ``--student``), scored as nbgrader's own CSV export scores them."""
    wanted = {str(name) for name in plugin.assignment}
    assignments = [a for a in gradebook.assignments if not wanted or a.name in wanted]
    chosen = {str(student) for student in plugin.student}
    rows = []
    for student in sorted(gradebook.students, key=lambda s: s.id):
        if chosen and student.id not in chosen:
            continue
        scores = []
        for assignment in assignments:
            try:
                submission = gradebook.find_submission(assignment.name, student.id)
            except MissingEntry:  # handed in nothing
                scores.append(0.0)
            else:
                scores.append(max(0.0, submission.score - submission.late_submission_penalty))
        rows.append((student, scores))
    return assignments, rows


def _write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)


class CanvasExport(ExportPlugin):
    """Grades for Canvas's gradebook import (Grades, Import), ``canvas-grades.csv`` unless ``--to``."""

    assignment_ids = Dict(
        help="Canvas's id of each assignment, {nbgrader assignment: Canvas assignment id}: the number that ends "
        "the assignment's address in Canvas (.../assignments/<id>). Without one, the column is the bare name, "
        "which Canvas matches to an assignment of exactly that title, or offers to create.",
    ).tag(config=True)

    def export(self, gradebook):
        assignments, rows = _table(gradebook, self)
        columns = [
            f"{a.name} ({self.assignment_ids[a.name]})" if a.name in self.assignment_ids else a.name
            for a in assignments
        ]
        lines = [["Points Possible", "", "", "", "", *(_points(a.max_score) for a in assignments)]]
        for student, scores in rows:
            name = ", ".join(part for part in (student.last_name, student.first_name) if part) or student.id
            lines.append(
                [name, student.lms_user_id or "", "", student.email or "", "", *map(_points, scores)]
            )
        path = self.to or "canvas-grades.csv"
        _write(path, ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *columns], lines)
        self.log.info("Wrote %d students' grades for Canvas to %s", len(rows), path)
        unknown = [student.id for student, _ in rows if not student.lms_user_id]
        if unknown:
            self.log.warning(
                "No lms_user_id (Canvas user id) in the roster for %s: Canvas will look them up by login "
                "(their email) and then by name",
                ", ".join(unknown),
            )


class MoodleExport(ExportPlugin):
    """Grades for Moodle's grade import from CSV, ``moodle-grades.csv`` unless ``--to``."""

    def export(self, gradebook):
        assignments, rows = _table(gradebook, self)
        lines = [
            [s.first_name or "", s.last_name or "", s.id, s.email or "", *map(_points, scores)]
            for s, scores in rows
        ]
        path = self.to or "moodle-grades.csv"
        _write(
            path,
            ["First name", "Last name", "ID number", "Email address", *(a.name for a in assignments)],
            lines,
        )
        self.log.info("Wrote %d students' grades for Moodle to %s", len(rows), path)
        unknown = [student.id for student, _ in rows if not student.email]
        if unknown:
            self.log.warning(
                "No email in the roster for %s: Moodle cannot find them by email", ", ".join(unknown)
            )


def canvas_downloads(folder):
    """{Canvas user id: {file name as uploaded: name prefix}} from the names of Canvas's downloaded files in
    ``folder`` (the files, and the members of zips, at any depth)."""
    names = []
    for path in sorted(Path(folder).rglob("*")):
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as bundle:
                names += [Path(member).name for member in bundle.namelist()]
        elif path.is_file():
            names.append(path.name)
    found = {}
    for name in names:
        if match := CANVAS_FILE.fullmatch(name):
            found.setdefault(match["user"], {})[match["name"]] = match["prefix"]
    return found


def _canvas_prefix(files, notebook):
    """The name prefix of the student's latest file for ``notebook`` (a re-upload's -1, -2 ignored; Canvas's file
    ids grow with time), else of their latest file: Canvas needs a file of the student's current submission."""
    same = [prefix for name, prefix in files.items() if re.sub(r"-\d+$", "", Path(name).stem) == notebook]
    return max(same or files.values(), key=lambda prefix: int(prefix.rsplit("_", 1)[1]))


def feedback_zip(api, assignment, lms, to, downloaded, worksheet=None):
    """Write the zip; return ({student: [entry names]}, {student: why their feedback is not in it}).
    ``worksheet``: Moodle's grading worksheet of the assignment, whose participant ids win over the roster's."""
    placed, missing = {}, {}
    canvas = canvas_downloads(downloaded) if lms == "canvas" else {}
    feedback = Path(api.coursedir.root) / api.coursedir.feedback_directory
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        students = {s.id: s for s in gb.students}
        participants = moodle_participants(worksheet, gb.students) if lms == "moodle" and worksheet else {}
    participant_of = {student: number for number, student in participants.items()}
    with zipfile.ZipFile(to, "w", zipfile.ZIP_DEFLATED) as bundle:
        for folder in sorted(feedback.glob(f"*/{assignment}")):
            pages = sorted(folder.glob("*.html"))
            if not pages:
                continue
            student = students.get(folder.parent.name)
            lms_id = (student.lms_user_id or "") if student else ""
            if participants and student:
                lms_id = participant_of.get(student.id, "")
            if student is None:
                missing[folder.parent.name] = "not in the gradebook"
            elif participants and not lms_id:
                missing[student.id] = (
                    f"not in {worksheet} (found by email): upload their pages in Moodle by hand"
                )
            elif not lms_id.isdigit():
                missing[student.id] = f"no numeric lms_user_id in the roster ({lms_id or 'none'})"
            elif lms == "canvas" and lms_id not in canvas:
                missing[student.id] = (
                    f"Canvas user {lms_id} has no file in {downloaded}/: put Canvas's Download Submissions zip "
                    "there, or attach their pages in SpeedGrader"
                )
            else:
                full_name = f"{student.first_name or ''} {student.last_name or ''}".strip() or student.id
                for page in pages:
                    if lms == "canvas":
                        entry = f"{_canvas_prefix(canvas[lms_id], page.stem)}_{page.name}"
                    else:  # Moodle splits a folder name at "_": the name may hold none
                        entry = f"{re.sub(r'[_/]', ' ', full_name)}_{lms_id}_assignfeedback_file/{page.name}"
                    bundle.write(page, entry)
                    placed.setdefault(student.id, []).append(entry)
    return placed, missing


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m helpers.grading.lms_export",
        description="Every student's feedback pages in one zip for the platform's bulk upload.",
        allow_abbrev=False,
        epilog="Any other option goes to nbgrader (--Class.trait=value, --course-dir=PATH); its configuration "
        "files are read as nbgrader reads them.",
    )
    parser.add_argument("command", choices=["feedback"])
    parser.add_argument("assignment")
    parser.add_argument("--lms", choices=["canvas", "moodle"], required=True)
    parser.add_argument("--to", help="the zip to write (default: feedback/<assignment>-<lms>.zip)")
    args, nbgrader_args = parser.parse_known_args(argv)
    from helpers.grading.autograde import load_config  # imports the grader: only when run as a command

    config = load_config([args.assignment, *nbgrader_args], GenerateFeedbackApp)
    api = NbGraderAPI(config=config)
    root = Path(api.coursedir.root)
    to = Path(args.to or root / api.coursedir.feedback_directory / f"{args.assignment}-{args.lms}.zip")
    to.parent.mkdir(parents=True, exist_ok=True)
    downloaded = root / config.ZipCollectApp.get("downloaded_directory", "downloaded") / args.assignment
    worksheet = downloaded / LmsCollector(config=config).times_file  # where zip_collect reads it
    placed, missing = feedback_zip(api, args.assignment, args.lms, to, downloaded, worksheet)
    if not placed and not missing:
        to.unlink()
        print(
            f"No feedback for {args.assignment!r} yet: run `nbgrader generate_feedback {args.assignment}` first."
        )
        return 2
    files = sum(len(entries) for entries in placed.values())
    print(f"Wrote {files} feedback files of {len(placed)} students to {to}.")
    for student, reason in sorted(missing.items()):
        print(f"  not in the zip: {student}: {reason}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
