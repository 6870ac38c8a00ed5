"""A student's progress, saved locally: which checks passed, the quiz score, and so which notebooks are done.

Where: ``~/.attention-course/progress.json``, or the file named by the environment variable
``ATTENTION_COURSE_PROGRESS``; it keeps the code of each function whose check passed too. Nothing is saved
while nbgrader grades (``NBGRADER_EXECUTION`` is set).

Safety: a missing file is an empty record. A file that cannot be read or parsed never breaks a notebook: it is
treated as empty, and before anything is written over it, it is copied to ``progress.json.corrupt-N``. Writes
go to a temporary file in the same folder and then replace the old file in one step, so a crash never leaves
half a file.
"""

import inspect
import json
import os
import tempfile
import textwrap
import time
from pathlib import Path

from helpers import being_graded

ENV = "ATTENTION_COURSE_PROGRESS"
DEFAULT = Path("~/.attention-course/progress.json")

# Which checks make up each notebook (the quiz counts for notebook 08).
NOTEBOOK_CHECKS = {
    "01_queries_keys_values": ["similarity_scores", "soft_lookup"],
    "02_softmax": ["softmax"],
    "03_scaled_dot_product_attention": ["scaled_dot_product_attention"],
    "04_self_attention_and_causal_masks": [
        "self_attention",
        "positional_encoding",
        "rotary_embedding",
        "causal_mask",
        "cross_attention",
    ],
    "05_multi_head_attention": [
        "split_heads",
        "combine_heads",
        "multi_head_attention",
        "grouped_query_attention",
    ],
    "06_parallelism_and_scale": ["max_path_length", "decode_step", "blockwise_attention"],
    "07_what_attention_weights_are_not": [],
    "08_end_of_lesson_check": ["quiz"],
}


def path():
    return Path(os.environ.get(ENV) or DEFAULT).expanduser()


def _empty():
    return {"version": 1, "checks": {}, "quiz": None}


def _read(file):
    """The record in ``file``, or None if it is missing, unreadable or not a progress record. Never raises."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("checks"), dict) else None


def load():
    """The saved record, or an empty one if there is none or it cannot be read. Never raises."""
    return {**_empty(), **(_read(path()) or {})}


def _back_up_if_corrupt(file):
    if file.exists() and _read(file) is None:
        n = 1
        while file.with_name(f"{file.name}.corrupt-{n}").exists():
            n += 1
        file.with_name(f"{file.name}.corrupt-{n}").write_bytes(file.read_bytes())


def save(record):
    """Write ``record`` atomically. Returns False (and changes nothing) if the folder cannot be written."""
    file = path()
    temporary = None
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        _back_up_if_corrupt(file)
        handle, temporary = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(record, out, indent=2, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, file)
        return True
    except OSError:
        if temporary and os.path.exists(temporary):
            os.remove(temporary)
        return False


def record_check(name, fn=None):
    """Remember that the check for ``name`` passed, and the code of ``fn`` that passed it (not while grading).

    Later notebooks of a class release run that code (:mod:`helpers.earlier`), so a student who finished
    notebook 02 keeps using their own softmax.
    """
    if being_graded():
        return
    record = load()
    record["checks"][name] = {"passed": True, "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    try:
        source = textwrap.dedent(inspect.getsource(fn)) if fn is not None else None
    except (OSError, TypeError):  # a built-in, or code typed where Python keeps no source
        source = None
    if source:
        record.setdefault("functions", {})[name] = {"source": source, "defines": fn.__name__}
    save(record)


def passed_function(name):
    """(source, name it defines) of the student's ``name`` as it last passed its check, or None."""
    entry = load().get("functions", {}).get(name)
    if (
        isinstance(entry, dict)
        and isinstance(entry.get("source"), str)
        and isinstance(entry.get("defines"), str)
    ):
        return entry["source"], entry["defines"]
    return None


def record_quiz(correct, total, answered=None):
    """The quiz: ``correct`` out of ``total``, or None where only grading can tell (a class release).

    It is the score of notebook 08's graded ``answers`` cell, saved by that cell's visible checks
    (:func:`helpers.quiz.check_quiz_answer`); the widget's clicks and trial dicts never call this.
    """
    if being_graded():
        return
    record = load()
    when = time.strftime("%Y-%m-%d %H:%M:%S")
    record["quiz"] = {"correct": correct, "total": total, "answered": answered, "when": when}
    if (correct if correct is not None else answered) == total:
        record["checks"]["quiz"] = {"passed": True, "when": when}
    save(record)


def summary(record=None):
    """{notebook: (checks passed, checks in it)} and the quiz score, for the progress widget."""
    record = load() if record is None else record
    done = {name for name, entry in record["checks"].items() if entry.get("passed")}
    notebooks = {nb: (len(set(checks) & done), len(checks)) for nb, checks in NOTEBOOK_CHECKS.items()}
    return notebooks, record.get("quiz")


def summary_html(record=None):
    notebooks, quiz = summary(record)
    rows = []
    for notebook, (done, total) in notebooks.items():
        if total == 0:
            status = "no checks: read and run it"
        elif done == total:
            status = "✓ done"
        else:
            status = f"{done} of {total} checks passed"
        rows.append(f"<tr><td>{notebook}</td><td>{status}</td></tr>")
    if not quiz:
        quiz_line = "not taken yet"
    elif quiz.get("correct") is None:
        quiz_line = f"{quiz.get('answered')} of {quiz['total']} answered (scored when your work is graded)"
    else:
        quiz_line = f"{quiz['correct']} / {quiz['total']}"
    return (
        f"<table><tr><th>notebook</th><th>progress</th></tr>{''.join(rows)}</table>"
        f"<p>Quiz score: {quiz_line}. Saved in <code>{path()}</code>.</p>"
    )


def progress_widget():
    """The saved progress as a table, with a button to read it again."""
    if being_graded():
        return None
    import ipywidgets as w

    from helpers.widgets import explorer

    table = w.HTML(summary_html())
    refresh = w.Button(description="Refresh", icon="refresh")
    refresh.on_click(lambda _: setattr(table, "value", summary_html()))
    return explorer([refresh, table], "progress")
