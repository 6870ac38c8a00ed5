"""Shared fixtures: paths, a throwaway nbgrader course built from source/, and loading student code."""

import atexit
import contextlib
import io
import linecache
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

from helpers import quiz
from helpers.grading import course
from helpers.grading import reference as ref

# Progress goes to a throwaway file, for this process and every kernel it starts, never to the user's own.
os.environ["ATTENTION_COURSE_PROGRESS"] = os.path.join(tempfile.mkdtemp(prefix="progress-"), "progress.json")

ROOT = Path(__file__).resolve().parent.parent
# What the instructor sets, read where nbgrader reads it (helpers/grading/course.py), never written here: the
# course id (nbgrader_config.py), the assignment (source/'s folder) and the points of each graded part
# ({notebook: {grade_id: points}}, source/'s cell metadata).
COURSE_ID = course.course_id()
(ASSIGNMENT,) = course.assignments()  # the course is one assignment
POINTS = course.points()
TOTAL = course.total()
SOURCE = ROOT / "source" / ASSIGNMENT
# The quiz key, read where it lives: the hidden tests of the quiz's master notebook (nowhere else).
QUIZ_KEY = "".join(letter for _, (letter, _) in sorted(quiz.course_key().items()))
QUIZ = "08_end_of_lesson_check"
RELEASE = ROOT / "notebooks" / ASSIGNMENT
NOTEBOOKS = sorted(p.stem for p in SOURCE.glob("*.ipynb"))
NBGRADER = [sys.executable, "-m", "nbgrader"]
# nbgrader runs the `alembic` command, so the environment's bin/ must be on PATH, as in an activated venv.
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


# The slowest test files (measured), slowest first. Each file runs whole on one worker (pytest-xdist's loadfile,
# see pyproject.toml), handed out in this order, so that the workers finish at about the same time. The browser
# tests come after the other slow files: beside test_grading's class autograde (every core busy) JupyterLab
# could not finish connecting a kernel and kept offering "Select Kernel" (seen in 1 run of 3).
SLOWEST_FIRST = [
    "test_grading.py",
    "test_hub.py",
    "test_instructor_workflow.py",
    "test_notebooks.py",
    "test_safe_grading.py",
    "test_class_release.py",
    "test_lms_export.py",
    "test_pacing.py",
    "test_kubernetes.py",
    "test_lti.py",
    "test_autograde_one.py",
    "test_lms_collect.py",
    "test_browser.py",
]


# What `make lab` adds to a student's JupyterLab: the config that turns off nbgrader's instructor tools.
STUDENT_JUPYTER = {"JUPYTER_CONFIG_PATH": str(ROOT / "jupyter-config" / "student")}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyter_lab(folder, env=None):
    """JupyterLab serving ``folder`` on a free loopback port with a one-off token: (base url, token)."""
    port, token = _free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}"]
    command += [f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}"]
    if os.getuid() == 0:
        command.append("--allow-root")
    # The server's log goes to a file beside the folder: a pipe that nobody reads while the server runs fills up.
    log = folder.with_name(f"{folder.name}-jupyterlab.log")
    server = subprocess.Popen(
        command, cwd=folder, env={**ENV, **(env or {})}, stdout=subprocess.DEVNULL, stderr=log.open("w")
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("JupyterLab did not start:\n" + log.read_text()) from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.terminate()
        server.wait(timeout=20)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


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
    # Kept apart from ``dest``: a test may delete its course (and all beside it) while others still copy this.
    keep = Path(tempfile.mkdtemp(prefix="course-pristine-"))
    atexit.register(shutil.rmtree, keep, ignore_errors=True)
    shutil.copytree(dest, keep / "course")
    _GENERATED.append(keep / "course")
    return dest


def make_clone_course(dest):
    """A course directory as an instructor who cloned the repository has it: outside /tmp (grading kernels have a
    /tmp of their own), with the tests beside the course's files and all of it committed to git, so that the
    history holds source/ (every solution and the quiz key)."""
    make_course(dest)
    shutil.copytree(ROOT / "tests", dest / "tests", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    git = ["git", "-c", "user.name=instructor", "-c", "user.email=instructor@example.org"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "the course"]):
        subprocess.run([*git, *command], cwd=dest, check=True, capture_output=True)
    return dest


@contextlib.contextmanager
def course_outside_tmp():
    """A folder for test courses under the repository (removed afterwards, unless KEEP_TEST_COURSES is set)."""
    (ROOT / ".test-courses").mkdir(exist_ok=True)
    folder = ROOT / ".test-courses" / secrets.token_hex(8)
    folder.mkdir()
    try:
        yield folder
    finally:
        if not os.environ.get("KEEP_TEST_COURSES"):
            shutil.rmtree(folder, ignore_errors=True)


# What the class environment's packages are made of: a change to any of them builds it anew. The student
# package (its own files) is reinstalled alone when it changes, in seconds.
CLASS_ENVIRONMENT_INPUTS = ["constraints.txt", "requirements.txt", "deploy/requirements.txt", "pyproject.toml",
                            "deploy/classroom.py", "jupyter-config/lab-overrides.json"]  # fmt: skip
STUDENT_PACKAGE_INPUTS = ["pyproject.toml", "LICENSE", "deploy/build_wheel.py"]


def _digest(paths):
    import hashlib

    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def class_environment():
    """The class environment (deploy/classroom.py's build_environment: the pinned packages and the student
    package's wheel), built once per content of its packages in build/class-env-<hash>/ and shared by the tests
    that need it (test_hub.py, test_class_release.py, on any worker: a lock makes the second wait for the
    first). It stays for the next run, as .venv does; an older one is removed when a new one is built. A change
    to the student package reinstalls that package alone."""
    import fcntl

    sys.path.insert(0, str(ROOT / "deploy"))
    import classroom

    from helpers.grading import sandbox

    packages = _digest([ROOT / name for name in CLASS_ENVIRONMENT_INPUTS])
    student = _digest(
        [ROOT / name for name in STUDENT_PACKAGE_INPUTS]
        + [ROOT / "helpers" / relative for relative in sandbox.student_package_files()]
    )
    build = ROOT / "build"
    build.mkdir(exist_ok=True)
    folder = build / f"class-env-{packages}"
    installed = folder / f".student-package-{student}"
    with open(build / "class-env.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".built").exists():
            for old in build.glob("class-env-*"):
                if old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
            classroom.build_environment(folder)  # the student package with it
            (folder / ".built").touch()
        elif not installed.exists():
            classroom.install_student_package(folder)
        if not installed.exists():
            for old in folder.glob(".student-package-*"):
                old.unlink()
            installed.touch()
    return folder


# Float64 results against the loop reference: close, never bit-exact. BLAS computes vectorised products in an
# order that depends on the CPU (and its kernels), so the last bits differ from machine to machine; 1e-12 is still
# far below any real mistake.
REFERENCE_TOL = dict(rtol=1e-12, atol=1e-12)


def assert_close(a, b):
    """``a`` equals ``b`` within :data:`REFERENCE_TOL`, shapes exactly; tuples (an output and its weights)
    element by element."""
    if isinstance(b, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_close(x, y)
        return
    assert np.shape(a) == np.shape(b)
    np.testing.assert_allclose(a, b, **REFERENCE_TOL)


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


def nbgrader_meta(cell):
    """The cell's nbgrader metadata (grade_id, solution, grade, points...), or {} for a plain cell."""
    return cell.metadata.get("nbgrader", {})


def solution_cells(notebook_path):
    """{grade_id: source} of the autograded-answer cells of a notebook."""
    nb = nbformat.read(notebook_path, as_version=4)
    return {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nb.cells
        if nbgrader_meta(c).get("solution") and c.cell_type == "code"
    }


def submission(release_dir, notebook, codes=None):
    """The released notebook with the solution cells in ``codes`` ({grade_id: code}) filled in."""
    nb = nbformat.read(release_dir / f"{notebook}.ipynb", as_version=4)
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution") and codes and meta["grade_id"] in codes:
            cell.source = codes[meta["grade_id"]].strip()
    return nb


def asks_for_functions(cells):
    """Whether a notebook asks the student for functions (then its figures wait for them, with a message)."""
    return any(nbgrader_meta(c).get("solution") and re.search(r"^def ", c.source, re.M) for c in cells)


def delete_test_cells(nb):
    """What a student who deletes the test cells submits (nbgrader restores them from source/)."""
    nb.cells = [c for c in nb.cells if not nbgrader_meta(c).get("grade")]


def quiz_points(letters):
    """The points a quiz answered with ``letters`` earns: each right letter (any case) its question's points."""
    return sum(
        POINTS[QUIZ][f"test_quiz_question_{n}"]
        for n, letter in enumerate(letters, 1)
        if letter.upper() == QUIZ_KEY[n - 1]
    )


def function_points(notebook, *functions):
    """The points of graded functions of ``notebook``: their visible and hidden test cells."""
    return sum(POINTS[notebook][f"test_{f}"] + POINTS[notebook][f"test_{f}_hidden"] for f in functions)


def quiz_cell(letters):
    """The quiz_answers cell of a student who chose ``letters`` (one per question, in order)."""
    return "answers = {\n" + "".join(f"    {n}: {letter!r},\n" for n, letter in enumerate(letters, 1)) + "}"


def zip_bytes(files):
    """A zip archive, as bytes, of ``files`` ({name in the archive: text or bytes}): an LMS's bulk download."""
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as bundle:
        for name, content in files.items():
            bundle.writestr(name, content)
    return data.getvalue()
