"""Hostile and broken submissions, graded for real: by the parallel command, and a few by plain nbgrader.

Every submission here answers notebook 02 (softmax, all its points) and then attacks the grader. Each must earn what
its answer is worth (nothing, for a wrong softmax), be graded without stopping the run, change no file outside
its own folder and no one else's grade. The course lives under the repository, not under /tmp, because the
sandbox gives kernels a private /tmp: a course there would be hidden from them whatever the sandbox hid.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import nbformat
import pytest
from conftest import (
    ASSIGNMENT,
    COURSE_ID,
    ENV,
    NBGRADER,
    ROOT,
    delete_test_cells,
    function_points,
    make_clone_course,
    make_course,
    nbgrader_meta,
    submission,
)
from mistakes import MISTAKES, REFERENCE
from nbgrader.api import Gradebook

from helpers.grading import sandbox

SOFTMAX = "02_softmax"
RIGHT = REFERENCE["softmax"]
FULL = function_points(SOFTMAX, "softmax")  # what a right softmax earns (source/'s points)
WRONG = MISTAKES["softmax"]["no_max_subtraction"][0]  # right on small scores, nan on large ones
CANARY = f"attention-canary-{uuid.uuid4().hex}"  # a file name no one else uses
ROGUE_TMP, ROGUE_HOME = Path("/tmp") / CANARY, Path.home() / CANARY
HOME_SECRET = Path.home() / f"{CANARY}-secret"  # a file of the grader's home, made for the test


def _tests_edited(nb):
    for cell in nb.cells:
        if nbgrader_meta(cell).get("grade"):
            cell.source = "pass  # all good here"


def _ids_duplicated(nb):
    for cell in nb.cells:
        cell.id = "same"


# Walks the kernel's whole file system: each file it can read, and whether each probe exists. The Python
# installations and /usr are only listed at their top (they are on the allow-list, and large).
WALK = """
import os, sys
skip = tuple(os.path.realpath(p) for p in ("/usr", "/proc", "/dev", sys.prefix, sys.base_prefix))
for folder, subfolders, files in os.walk("/"):
    if os.path.realpath(folder).startswith(skip):
        subfolders.clear()
        continue
    for name in files:
        path = os.path.join(folder, name)
        try:
            open(path, "rb").close()
            note("readable " + path)
        except OSError:
            pass
for path in {probes!r}:
    note(("probe found " if os.path.exists(path) else "probe absent ") + path)
note("top " + " ".join(sorted(os.listdir("/"))))
import ipykernel.debugger
note("debugger " + ("on" if ipykernel.debugger._is_debugpy_available else "off"))
"""


def _probes(course):
    """What a grading kernel must not find: the clone's history, tests and masters, the solutions, the
    instructor's files, every student's downloads, the grading key, the home folder."""
    return [
        ROOT / ".git",
        ROOT / "tests" / "loop_reference.py",
        ROOT / "source",
        ROOT / "helpers" / "grading" / "reference.py",
        ROOT / "helpers" / "grading",
        ROOT / "Makefile",
        course / "source",
        course / "gradebook.db",
        course / ".grading-key",
        course / "downloaded",
        course / "submitted",
        course / "nbgrader_config.py",
        course / ".git",
        course / "tests" / "loop_reference.py",
        HOME_SECRET,
        Path("/home"),
    ]


def _attacks(course, port):
    """{student: (softmax cell, change to the notebook or None, points it must earn)}."""
    root = course.resolve()
    # What a kernel finds, it prints: its output is all that leaves it (files it writes are thrown away).
    record = "\ndef note(text):\n    print('LEAK ' + text)\n    open('leak.txt', 'a').write(text + '\\n')\n"
    return {
        "victim": (RIGHT, None, FULL),  # a good student graded alongside the attackers
        "loops-forever": ("while True:\n    pass", None, 0),
        "exits": ("import os\nos._exit(0)", None, 0),
        "prints-gigabytes": ("while True:\n    print('x' * 1_000_000)", None, 0),
        # Reserves memory until the address-space limit (2 GiB) stops it with MemoryError. Reserved, not written:
        # the limit counts both alike, and writing 2 GiB took this machine up to 24 s at times (the host handing
        # out pages), past the 15 s cell timeout, which then stopped the notebook first.
        "eats-memory": ("hog = []\nwhile True:\n    hog.append(np.empty(50_000_000))", None, 0),
        "patches-numpy": (
            WRONG + "\nnp.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
            "np.isfinite = lambda x: np.ones(np.shape(x), bool)\n"
            "np.testing.assert_allclose = lambda *a, **k: None",
            None,
            0,
        ),
        "patches-helpers": (
            WRONG + "\nimport helpers.checks, helpers.checking\n"
            "check_softmax = helpers.checks.check_softmax = lambda *a, **k: print('✓ softmax: all passed.')\n"
            "helpers.checking.run_check = lambda *a, **k: None",
            None,
            0,
        ),
        "patches-builtins": (
            WRONG + "\nimport builtins\nbuiltins.check_softmax = lambda *a, **k: None\ndel check_softmax\n"
            "builtins.all = lambda it: True\nbuiltins.any = lambda it: False",
            None,
            0,
        ),
        "rewrites-test-cells": (  # IPython runs this on every later cell's code before executing it
            WRONG + "\nget_ipython().input_transformers_cleanup.append(\n"
            "    lambda lines: ['pass\\n'] if any('check_' in line for line in lines) else lines)",
            None,
            0,
        ),
        "reads-hidden-tests": (
            WRONG + record + f"for path in ['{root}/source/{ASSIGNMENT}/{SOFTMAX}.ipynb',"
            f" '../../../source/{ASSIGNMENT}/{SOFTMAX}.ipynb', '{root}/gradebook.db']:\n"
            "    try:\n        note(path + ': read ' + open(path, errors='replace').read()[:2000])\n"
            "    except OSError as exc:\n        note(path + ': blocked ' + type(exc).__name__)",
            None,
            0,
        ),
        "writes-gradebook": (
            WRONG + record + "import sqlite3\n"
            f"try:\n    db = sqlite3.connect('{root}/gradebook.db')\n"
            "    db.execute('update grade set auto_score = 3')\n    db.commit()\n    note('wrote the gradebook')\n"
            "except Exception as exc:\n    note('blocked ' + type(exc).__name__)",
            None,
            0,
        ),
        "writes-elsewhere": (
            WRONG
            + record
            + "for path in ["
            + ", ".join(
                f"'{p}'"
                for p in [
                    f"{root}/submitted/victim/{ASSIGNMENT}/{SOFTMAX}.ipynb",
                    f"{root}/autograded/victim/{ASSIGNMENT}/{SOFTMAX}.ipynb",
                    f"{root}/nbgrader_config.py",
                    f"{ROOT}/helpers/checks.py",
                    ROGUE_TMP,
                    ROGUE_HOME,
                ]
            )
            + "]:\n    try:\n        open(path, 'a').write('pwned')\n        note(path + ': written')\n"
            "    except OSError as exc:\n        note(path + ': blocked ' + type(exc).__name__)",
            None,
            0,
        ),
        "uses-network": (
            WRONG + record + "import socket\n"
            f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=5)\n    note('connected')\n"
            "except OSError as exc:\n    note('blocked ' + type(exc).__name__)",
            None,
            0,
        ),
        "deleted-tests": (WRONG, delete_test_cells, 0),  # restored from source/ by nbgrader
        # Answers too large to show: the grader's own messages are bounded like the kernel's output.
        "returns-megabytes": ("def softmax(x, axis=-1):\n    return 'A' * 3_000_000", None, 0),
        "raises-a-long-name": (
            "def softmax(x, axis=-1):\n    raise type('E' * 3_000_000, (Exception,), {})('boom')",
            None,
            0,
        ),
        "walks-the-machine": (WRONG + record + WALK.format(probes=[str(p) for p in _probes(root)]), None, 0),
        "edited-tests": (WRONG, _tests_edited, 0),
        # Repaired by nbgrader: a right answer keeps its points.
        "duplicate-ids": (RIGHT, _ids_duplicated, FULL),
    }


# Three of the attacks again, through plain `nbgrader autograde` with the committed configuration.
PLAIN = ["patches-helpers", "rewrites-test-cells", "writes-gradebook"]
BROKEN = {"corrupt-json": "the file is not a notebook", "misnamed": "misnamed", "exits": "the kernel died"}


def _private_files(course):
    """Hashes of the course's files that grading must not change."""
    return {
        p.relative_to(course): hash(p.read_bytes())
        for folder in ["source", "submitted", "notebooks"]
        for p in (course / folder).rglob("*")
        if p.is_file()
    } | {Path("nbgrader_config.py"): hash((course / "nbgrader_config.py").read_bytes())}


@pytest.fixture(scope="module")
def attacked():
    (ROOT / ".test-courses").mkdir(exist_ok=True)
    base = Path(sandbox_dir := (ROOT / ".test-courses" / uuid.uuid4().hex))
    course, plain = make_clone_course(base / "course"), make_course(base / "plain")
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    connections = []

    def listen():
        while not stop.is_set():
            try:
                connections.append(server.accept())
            except TimeoutError:
                pass

    stop = threading.Event()
    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    attacks = _attacks(course, server.getsockname()[1])
    release = course / "notebooks" / ASSIGNMENT
    for target, students in [(course, attacks), (plain, PLAIN)]:
        for student in students:
            code, change, _ = attacks[student]
            nb = submission(release, SOFTMAX, {"softmax": code})
            if change:
                change(nb)
            folder = target / "submitted" / student / ASSIGNMENT
            folder.mkdir(parents=True)
            # Raw JSON, as the student's file holds it: nbformat.write would validate and repair duplicate ids.
            (folder / f"{SOFTMAX}.ipynb").write_text(json.dumps(nb))
    broken = course / "submitted"
    first = "01_queries_keys_values"  # graded although the same student's kernel dies in notebook 02
    codes = {name: REFERENCE[name] for name in ["similarity_scores", "soft_lookup"]}
    (broken / "exits" / ASSIGNMENT / f"{first}.ipynb").write_text(
        nbformat.writes(submission(release, first, codes))
    )
    (broken / "corrupt-json" / ASSIGNMENT).mkdir(parents=True)
    (broken / "corrupt-json" / ASSIGNMENT / f"{SOFTMAX}.ipynb").write_text('{"cells": [ not json')
    (broken / "misnamed" / ASSIGNMENT).mkdir(parents=True)
    (broken / "misnamed" / ASSIGNMENT / "softmax.ipynb").write_text(
        nbformat.writes(submission(release, SOFTMAX, {"softmax": RIGHT}))
    )
    downloads = course / "downloaded" / ASSIGNMENT / "archive"  # every student's files, as an LMS gives them
    downloads.mkdir(parents=True)
    (downloads / f"victim_{SOFTMAX}.ipynb").write_text(nbformat.writes(submission(release, SOFTMAX)))
    before = _private_files(course)
    HOME_SECRET.write_text("the grader's own file")

    start = time.monotonic()
    parallel = subprocess.Popen(
        [sys.executable, "-m", "helpers.grading.autograde", ASSIGNMENT, "--jobs", "2"],
        cwd=course, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    serial = subprocess.run(
        [*NBGRADER, "autograde", ASSIGNMENT], cwd=plain, capture_output=True, text=True, env=ENV
    )
    out, err = parallel.communicate()
    seconds = time.monotonic() - start
    stop.set()
    listener.join()

    scores = {}
    for target, students in [(course, list(attacks) + list(BROKEN)), (plain, PLAIN)]:
        with Gradebook(f"sqlite:///{target / 'gradebook.db'}", COURSE_ID) as gb:
            for student in students:
                grades = gb.find_submission_notebook(SOFTMAX, ASSIGNMENT, student).grades
                scores[target.name, student] = sum(g.score for g in grades)
            if target == course:
                scores["exits-01"] = gb.find_submission_notebook(
                    "01_queries_keys_values", ASSIGNMENT, "exits"
                ).score
    yield {
        "course": course,
        "attacks": attacks,
        "scores": scores,
        "run": (parallel.returncode, out, err),
        "serial": serial,
        "seconds": seconds,
        "connections": connections,
        "unchanged": before == _private_files(course),
    }
    server.close()
    HOME_SECRET.unlink(missing_ok=True)
    if not os.environ.get("KEEP_TEST_COURSES"):
        shutil.rmtree(sandbox_dir, ignore_errors=True)


def _leak(attacked, student):
    graded = nbformat.read(attacked["course"] / "autograded" / student / ASSIGNMENT / f"{SOFTMAX}.ipynb", 4)
    text = "".join(o.get("text", "") for c in graded.cells for o in c.get("outputs", []))
    return "\n".join(line.removeprefix("LEAK ") for line in text.splitlines() if line.startswith("LEAK "))


@pytest.mark.parametrize("student", list(_attacks(Path("."), 0)))
def test_an_attack_earns_nothing_it_did_not_answer(attacked, student):
    assert attacked["scores"]["course", student] == attacked["attacks"][student][2]


def test_the_good_student_beside_them_keeps_full_marks(attacked):
    assert attacked["scores"]["course", "victim"] == FULL


@pytest.mark.parametrize("student", PLAIN)
def test_plain_nbgrader_with_the_committed_config_is_as_safe(attacked, student):
    assert attacked["serial"].returncode == 0, attacked["serial"].stderr
    assert attacked["scores"]["plain", student] == 0


KERNEL_FOOLED = ["patches-numpy", "patches-helpers", "patches-builtins", "rewrites-test-cells"]


def test_attacks_that_fooled_the_kernel_are_flagged(attacked):
    # Each of these made the test pass inside the student's kernel: only the grader's own run failed it.
    table = attacked["run"][1].split("Could not be graded", 1)[1]
    for student in KERNEL_FOOLED:
        assert any(student in line and "tampering suspected" in line for line in table.splitlines()), student
    assert not any("victim" in line for line in table.splitlines())


def test_the_checks_shown_are_the_graders_not_the_kernels(attacked):
    graded = nbformat.read(
        attacked["course"] / "autograded" / "patches-helpers" / ASSIGNMENT / f"{SOFTMAX}.ipynb", as_version=4
    )
    test = next(c for c in graded.cells if nbgrader_meta(c).get("grade_id") == "test_softmax")
    text = json.dumps(test.outputs)
    assert "Subtract the max of each row first" in text and "all passed" not in text


def test_broken_submissions_are_graded_zero_with_a_reason(attacked):
    code, out, _ = attacked["run"]
    assert code == 1, "a notebook that could not be graded makes the command fail, after grading everyone"
    table = out.split("Could not be graded", 1)[1]
    for student, reason in BROKEN.items():
        assert attacked["scores"]["course", student] == 0
        assert any(student in line and reason in line for line in table.splitlines()), (student, table)
    assert attacked["scores"]["exits-01"] == 8, "the student's other notebook is still graded"


def test_runaway_notebooks_are_stopped_in_bounded_time(attacked):
    assert attacked["seconds"] < 120, "one 15 s cell timeout, the rest in seconds"
    folder = attacked["course"] / "autograded"
    loop = (folder / "loops-forever" / ASSIGNMENT / f"{SOFTMAX}.ipynb").read_text()
    assert "CellTimeoutError" in loop
    printed = folder / "prints-gigabytes" / ASSIGNMENT / f"{SOFTMAX}.ipynb"
    assert printed.exists(), attacked["run"][1]  # the table of notebooks that could not be graded, and why
    # Stopped by the kernel's own print at the limit, not by running out of memory first (a race it used to lose
    # on a busy machine, when the kernel died and the notebook could not be graded).
    text = printed.read_text()
    assert printed.stat().st_size < 1_000_000 and "OutputCut" in text and "MemoryError" not in text
    assert "MemoryError" in (folder / "eats-memory" / ASSIGNMENT / f"{SOFTMAX}.ipynb").read_text()


def test_hidden_tests_and_the_gradebook_cannot_be_read(attacked):
    leak = _leak(attacked, "reads-hidden-tests")
    assert "BEGIN HIDDEN TESTS" not in leak and "check_softmax" not in leak and "SQLite" not in leak
    assert leak.count("blocked") == 3, "source/ is gone, the gradebook cannot be opened"


def test_nothing_outside_the_submission_can_be_written(attacked):
    course = attacked["course"]
    targets = [
        course / "submitted" / "victim" / ASSIGNMENT / f"{SOFTMAX}.ipynb",
        course / "autograded" / "victim" / ASSIGNMENT / f"{SOFTMAX}.ipynb",
        course / "nbgrader_config.py",
        ROOT / "helpers" / "checks.py",
    ]
    # A write may "succeed" inside the sandbox (its /tmp is private, so a course under /tmp is an empty folder
    # there): what counts is that nothing reached the real files.
    for target in targets:
        assert "pwned" not in target.read_text(), target
    assert not ROGUE_TMP.exists() and not ROGUE_HOME.exists()
    assert attacked["unchanged"], "source/, submitted/, notebooks/ and the config are as they were"
    assert attacked["scores"]["course", "victim"] == FULL
    assert "wrote the gradebook" not in _leak(attacked, "writes-gradebook")
    if not str(course.resolve()).startswith("/tmp/"):  # where the course is visible, the writes are refused
        lines = _leak(attacked, "writes-elsewhere").splitlines()
        assert all("blocked" in line for line in lines if not line.startswith(str(ROGUE_TMP))), lines


def test_a_grading_kernel_reads_only_what_the_guide_lists(attacked):
    course, student = attacked["course"], "walks-the-machine"
    leak = _leak(attacked, student).splitlines()
    probes = [line for line in leak if line.startswith("probe ")]
    assert len(probes) == len(_probes(course)) and all(line.startswith("probe absent") for line in probes), (
        probes
    )
    workdir = course.resolve() / "autograded" / student / ASSIGNMENT
    allowed = [sandbox.STUDENT_PACKAGE_ROOT, str(workdir), "/tmp/", "/etc/passwd", "/etc/group", "/etc/fonts/",
               "/etc/localtime"]  # fmt: skip
    readable = [line.removeprefix("readable ") for line in leak if line.startswith("readable ")]
    assert readable, "the walk ran"
    assert [path for path in readable if not path.startswith(tuple(allowed))] == []
    assert not any("/grading/" in path for path in readable), "no helpers/grading anywhere"
    # Its own submission is there (a copy), and nothing of the course around it.
    assert any(path.startswith(str(workdir)) for path in readable)
    (top,) = [line.removeprefix("top ").split() for line in leak if line.startswith("top ")]
    runtime = {Path(p).parts[1] for p in [sandbox.STUDENT_PACKAGE_ROOT, workdir, sys.prefix, sys.base_prefix]}
    assert set(top) <= {"usr", "bin", "lib", "lib64", "sbin", "etc", "tmp", "dev", "proc"} | runtime, top
    assert "debugger off" in leak, "ipykernel's debugger is left out (an empty folder in its place)"
    # The guide says what a kernel can read, item by item.
    guide = " ".join((ROOT / "docs" / "instructors.md").read_text(encoding="utf-8").split())
    for _path, what, _ in sandbox.readable([sys.executable], workdir="WORKDIR", shared_dir="SOCKETS"):
        assert what in guide, what


@pytest.mark.parametrize("student", ["returns-megabytes", "raises-a-long-name"])
def test_what_a_function_returns_cannot_swell_the_graded_notebook(attacked, student):
    graded = attacked["course"] / "autograded" / student / ASSIGNMENT / f"{SOFTMAX}.ipynb"
    assert graded.stat().st_size < 400_000, graded.stat().st_size


def test_files_a_kernel_writes_go_nowhere(attacked):
    for folder in ("autograded", "submitted"):
        assert not list((attacked["course"] / folder).rglob("leak.txt")), folder


def test_no_network(attacked):
    assert _leak(attacked, "uses-network").startswith("blocked")
    assert attacked["connections"] == []


def test_the_sandbox_is_really_in_use():
    assert sandbox.available(), "bubblewrap must work here: `make test` installs it"
