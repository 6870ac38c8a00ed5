"""A step of ``nbgrader generate_feedback`` (``nbgrader_config.py``): the instructor's notes stay out of feedback.

The grader puts a note for the instructor atop an autograded notebook when it finds copy evidence
(:mod:`helpers.grading.grader`); formgrader shows it, and this step removes it from what the student receives.
"""

from nbgrader.preprocessors import NbGraderPreprocessor

from helpers.grading.grader import INSTRUCTOR_NOTE


class DropInstructorNotes(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        nb.cells = [
            cell
            for cell in nb.cells
            if not (cell.cell_type == "markdown" and cell.source.lstrip().startswith(INSTRUCTOR_NOTE))
        ]
        return nb, resources
