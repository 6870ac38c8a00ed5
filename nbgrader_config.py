"""nbgrader configuration for attention-course. Run every nbgrader command from the repository root."""

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "attention-course"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"

# What a student sees in place of each solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# A cell that hangs is stopped, not waited on for ever: the course's slowest cell takes under 2 s.
c.Execute.timeout = 15

# Submissions are untrusted code, and the kernel that runs them is the student's. nbgrader's Execute step is
# replaced by helpers.grading.grader.TrustedExecute: the kernel runs in an allow-list sandbox (bubblewrap + prlimit,
# helpers/grading/sandbox.py: the student package alone, no course files), a notebook gets 300 s and a cell
# 100,000 characters of output, hidden tests never enter the kernel, and every test cell's verdict is computed
# in the grader's process, where the submission cannot rewrite numpy, builtins or the checks. The other steps
# are nbgrader's defaults.
c.Autograde.autograde_preprocessors = [
    "helpers.grading.grader.TrustedExecute",
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    "helpers.grading.lms_collect.AssignLatePenaltiesWithExtensions",  # nbgrader's, with extensions (below)
    CheckCellMetadata,
]

# Feedback shows each failed test's message (the same hint the student saw), but not the code of hidden tests
# (plain nbgrader prints it, and students would copy it) nor the grader's notes for the instructor.
c.GenerateFeedback.preprocessors = [
    GetGrades,
    ClearHiddenTests,
    "helpers.grading.feedback.DropInstructorNotes",
    CSSHTMLHeaderPreprocessor,
]

# nbgrader collect (a class on JupyterHub, deploy/): a submission counts only if the account that made it is the
# student it names. nbgrader's own collect only warns about a folder handed in under someone else's name.
c.ExchangeFactory.collect = "helpers.grading.exchange.OwnerCheckedCollect"

# nbgrader zip_collect: the files in downloaded/attention/archive/ (or zips of them), as Canvas and Moodle download
# them (the student found through the roster's lms_user_id) or named <student id>_<notebook>.ipynb (this pattern,
# matched against the file's full path). A file it cannot place is named with the reason. docs/instructors.md,
# "A term through an LMS"; submission times from downloaded/attention/submission_times.csv if there is one.
c.ZipCollectApp.collector_plugin = "helpers.grading.lms_collect.LmsCollector"
c.FileNameCollectorPlugin.named_regexp = (
    r".*/(?P<student_id>[A-Za-z0-9-]+)_(?P<file_id>[0-9]{2}_[A-Za-z0-9_]+\.ipynb)$"
)

# The late policy: a hand-in after the due date (`nbgrader db assignment add attention --duedate=...`), or after
# the student's own in extensions/attention.csv (id,duedate), loses 10% of each notebook's score per started day
# late, at most 50%. Change the two numbers here; plugin_class = "nbgrader.plugins.LateSubmissionPlugin" takes
# off nothing. docs/instructors.md, "A term through an LMS".
c.AssignLatePenalties.plugin_class = "helpers.grading.lms_collect.PenaltyPerDayLate"
c.PenaltyPerDayLate.percent_per_day = 10
c.PenaltyPerDayLate.max_percent = 50
