"""nbgrader configuration for attention-course. Run every nbgrader command from the repository root."""

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

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

# A notebook that hangs is stopped, not waited on for ever; each of ours runs in seconds.
c.Execute.timeout = 60

# Feedback shows each failed test's message (the same hint the student saw), but not the code of hidden tests:
# plain nbgrader prints it, and students would copy it.
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]

# nbgrader zip_collect: submissions downloaded as <student id>_<notebook>.ipynb (or zips of them) into
# downloaded/attention/archive/. The pattern is matched against the file's full path.
c.FileNameCollectorPlugin.named_regexp = (
    r".*/(?P<student_id>[A-Za-z0-9-]+)_(?P<file_id>[0-9]{2}_[A-Za-z0-9_]+\.ipynb)$"
)
