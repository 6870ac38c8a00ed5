"""Notebook 07's written answer: its rubric and a model answer, for a student working on their own.

Like the quiz's key, the rubric lives only in the master notebook (``source/attention/07_...``): nbgrader's release
replaces it by "YOUR ANSWER HERE", and the student package does not hold it. So:

- **self-study** (the repository is there): ``compare_with_rubric()`` shows the rubric once the answer is written;
- **a class release** (this package alone) and **grading**: it says that the instructor grades the answer.

Whether the answer is written is read from the notebook as last saved, which JupyterLab's kernel knows
(``JPY_SESSION_NAME``). Where it does not (another front end, a test run), the rubric is folded away for the
student to open once they have written.
"""

import json
import os
from pathlib import Path

from IPython.display import Markdown

from helpers import being_graded, master_notebook

NOTEBOOK = "07_what_attention_weights_are_not.ipynb"
GRADE_ID = "weights_are_not_thoughts"
MASTER = master_notebook(NOTEBOOK)
UNWRITTEN = {"", "YOUR ANSWER HERE"}  # the release's text stub (nbgrader_config.py)


def _answer_cell(notebook_path):
    """The source of the written answer's cell in a saved notebook, or None if it cannot be read."""
    try:
        cells = json.loads(Path(notebook_path).read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for cell in cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == GRADE_ID:
            source = cell.get("source", "")
            return "".join(source) if isinstance(source, list) else source
    return None


def rubric():
    """The rubric and model answer from the master notebook (self-study), else None (a class release)."""
    text = _answer_cell(MASTER)
    if not text or "### BEGIN SOLUTION" not in text:
        return None
    return text.split("### BEGIN SOLUTION", 1)[1].split("### END SOLUTION", 1)[0].strip()


def saved_answer():
    """The student's answer as last saved, where the kernel knows its notebook; else None."""
    session = os.environ.get("JPY_SESSION_NAME", "")
    return _answer_cell(session) if session.endswith(NOTEBOOK) else None


def compare_with_rubric():
    """Show the rubric after the student has written (self-study); otherwise say who grades the answer."""
    text = None if being_graded() else rubric()
    if text is None:
        return Markdown(
            "Your instructor grades this answer; the rubric's verdict comes back with your feedback."
        )
    answer = saved_answer()
    if answer is not None and answer.strip() in UNWRITTEN:
        return Markdown(
            "Write your answer in the cell above first, save the notebook (Ctrl+S), then run this cell again: "
            "the rubric means more once you have committed to an answer."
        )
    opened = " open" if answer is not None else ""
    summary = "The rubric and a model answer" + ("" if opened else " (open once you have written yours)")
    # A blank line after <summary> lets JupyterLab render the Markdown inside <details>.
    return Markdown(f"<details{opened}><summary><b>{summary}</b></summary>\n\n{text}\n\n</details>")
