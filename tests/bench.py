"""Performance report (``make bench``): what a student and an instructor wait for, measured on this machine.

Not a test (nothing here asserts a speed); the tests check behaviour, this prints figures. Sections can be run
alone: ``python tests/bench.py autograde``.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import ASSIGNMENT, ENV, NBGRADER, ROOT, make_course  # noqa: E402


def _tree_rss_mb(pid):
    """Resident memory of a process and all its descendants, in MB (from /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent and p not in tree]
        tree.update(children)
        frontier += children
    total = 0
    for p in tree:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def _measure(command, cwd):
    """Wall time, peak memory of the whole process tree, and the output of ``command``."""
    start = time.monotonic()
    process = subprocess.Popen(
        command, cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    peak = [0.0]

    def sample():
        while process.poll() is None:
            peak[0] = max(peak[0], _tree_rss_mb(process.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample)
    sampler.start()
    out = process.communicate()[0]
    sampler.join()
    return time.monotonic() - start, peak[0], out


def autograde():
    """Serial `nbgrader autograde` vs `python -m helpers.autograde` on the simulated class of 20 students."""
    from test_instructor_workflow import _class

    print("## Autograde: the simulated class of 20 students (tests/test_instructor_workflow.py)")
    base = Path(
        tempfile.mkdtemp(
            prefix="bench-", dir=ROOT / ".test-courses" if (ROOT / ".test-courses").exists() else None
        )
    )
    try:
        course = make_course(base / "course")
        files, _ = _class(course / "notebooks" / ASSIGNMENT)
        for name, text in files.items():
            if "_" not in name or " " in name:
                continue
            student, notebook = name.split("_", 1)
            folder = course / "submitted" / student / ASSIGNMENT
            folder.mkdir(parents=True, exist_ok=True)
            (folder / notebook).write_text(text)
        pristine = base / "pristine"
        shutil.copytree(course, pristine)
        runs = {}
        parallel = [sys.executable, "-m", "helpers.autograde", ASSIGNMENT]
        cores = os.cpu_count()
        for label, command in [
            ("serial: nbgrader autograde", [*NBGRADER, "autograde", ASSIGNMENT]),
            ("helpers.autograde --jobs 1", [*parallel, "--jobs", "1"]),
            (f"helpers.autograde (default: --jobs {cores})", parallel),
            (f"helpers.autograde --jobs {cores + 1}", [*parallel, "--jobs", str(cores + 1)]),
        ]:
            shutil.rmtree(course)
            shutil.copytree(pristine, course)
            runs[label] = _measure(command, course)
        serial = runs["serial: nbgrader autograde"][0]
        notebooks = sum(1 for _ in (pristine / "submitted").glob(f"*/{ASSIGNMENT}/*.ipynb"))
        print(f"{notebooks} submitted notebooks, {os.cpu_count()} cores")
        for label, (seconds, peak, out) in runs.items():
            print(f"  {label:<42} {seconds:6.1f} s  x{serial / seconds:4.2f}  peak memory {peak:5.0f} MB")
            summary = [line for line in out.splitlines() if line.startswith("Graded ")]
            if summary:
                print(f"    {summary[0]}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


SECTIONS = {"autograde": autograde}

if __name__ == "__main__":
    for name in sys.argv[1:] or SECTIONS:
        SECTIONS[name]()
        print()
