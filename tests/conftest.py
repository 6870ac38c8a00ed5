"""Shared fixtures: paths, a throwaway nbgrader course built from source/, and loading student code."""

import linecache
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

from helpers import reference as ref

# Progress goes to a throwaway file, for this process and every kernel it starts, never to the user's own.
os.environ["ATTENTION_COURSE_PROGRESS"] = os.path.join(tempfile.mkdtemp(prefix="progress-"), "progress.json")

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "attention"
SOURCE = ROOT / "source" / ASSIGNMENT
RELEASE = ROOT / "notebooks" / ASSIGNMENT
NOTEBOOKS = sorted(p.stem for p in SOURCE.glob("*.ipynb"))
NBGRADER = [sys.executable, "-m", "nbgrader"]
# nbgrader runs the `alembic` command, so the environment's bin/ must be on PATH, as in an activated venv.
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def nbgrader(course, *args, check=True):
    """Run an nbgrader command in ``course``, exactly as an instructor would type it."""
    result = subprocess.run([*NBGRADER, *args], cwd=course, capture_output=True, text=True, env=ENV)
    if check and result.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


_GENERATED = []  # the first course generated in this session; later ones are copies of it


def make_course(dest):
    """A fresh course directory with source/, the committed config, a gradebook and a generated release."""
    if _GENERATED:
        shutil.copytree(_GENERATED[0], dest, dirs_exist_ok=True)
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "source", dest / "source")
    shutil.copy(ROOT / "nbgrader_config.py", dest)
    nbgrader(dest, "generate_assignment", ASSIGNMENT)
    pristine = dest.parent / f"{dest.name}-pristine"
    shutil.copytree(dest, pristine)
    _GENERATED.append(pristine)
    return dest


@pytest.fixture(scope="session")
def fresh_course(tmp_path_factory):
    return make_course(tmp_path_factory.mktemp("course"))


def student_namespace():
    """What a solution cell sees in its notebook: numpy, and the functions defined earlier in the notebook."""
    names = ["softmax", "similarity_scores", "scaled_dot_product_attention", "split_heads", "combine_heads"]
    return {"np": np, **{name: getattr(ref, name) for name in names}}


def load_function(code, name):
    """Define ``name`` from ``code`` as a notebook cell would, source included (checks may read it)."""
    filename = f"<student {name} {abs(hash(code))}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    namespace = student_namespace()
    exec(compile(code, filename, "exec"), namespace)
    return namespace[name]


def solution_cells(notebook_path):
    """{grade_id: source} of the autograded-answer cells of a notebook."""
    nb = nbformat.read(notebook_path, as_version=4)
    return {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"
    }
