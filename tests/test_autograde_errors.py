"""`python -m helpers.grading.autograde` says in one line what stops it and how to fix it: never a traceback."""

import os
import shutil
import subprocess
import sys

import pytest
from conftest import ASSIGNMENT, ENV, ROOT, make_course

COMMAND = [sys.executable, "-m", "helpers.grading.autograde"]


def _autograde(course, *args, env=None):
    return subprocess.run(
        [*COMMAND, *args], cwd=course, capture_output=True, text=True, env={**ENV, **(env or {})}, timeout=120
    )


def _one_line_error(run, *needles):
    assert run.returncode == 2, run.stdout + run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Cannot grade: "), run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def course(tmp_path):
    return make_course(tmp_path / "course")


def test_no_gradebook_yet(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
    _one_line_error(
        _autograde(tmp_path, ASSIGNMENT), "no gradebook yet", "nbgrader generate_assignment attention"
    )
    assert not (tmp_path / "gradebook.db").exists(), "and it creates none"


def test_unknown_assignment(course):
    _one_line_error(_autograde(course, "atention"), "no assignment 'atention'", "it has: attention")


def test_nothing_submitted(course):
    _one_line_error(_autograde(course, ASSIGNMENT), "nothing submitted", "nbgrader collect", "zip_collect")


def test_no_bubblewrap(course, tmp_path):
    (course / "submitted" / "ada" / ASSIGNMENT).mkdir(parents=True)
    bin_without_bwrap = tmp_path / "bin"
    bin_without_bwrap.mkdir()
    for tool in ("alembic", "prlimit"):
        if shutil.which(tool):
            os.symlink(shutil.which(tool), bin_without_bwrap / tool)
    env = {"PATH": str(bin_without_bwrap), "ATTENTION_GRADER_SANDBOX": ""}
    _one_line_error(_autograde(course, ASSIGNMENT, env=env), "bubblewrap", "apt-get install bubblewrap")


def test_an_empty_submitted_folder_is_named_in_the_summary(course):
    (course / "submitted" / "ada" / ASSIGNMENT).mkdir(parents=True)
    run = _autograde(course, ASSIGNMENT)
    assert run.returncode == 0 and "Traceback" not in run.stdout + run.stderr, run.stdout + run.stderr
    row = next(line for line in run.stdout.splitlines() if line.strip().startswith("ada"))
    assert "the submitted folder is empty: scored 0" in row
