"""Performance report (``make bench``): what a student and an instructor wait for, measured on this machine.

Not a test (nothing here asserts a speed); the tests check behaviour, this prints figures. Sections can be run
alone: ``python tests/bench.py autograde``.
"""

import contextlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from conftest import ASSIGNMENT, ENV, NBGRADER, ROOT, make_course  # noqa: E402

from helpers.timing import best_time, scores_loop  # noqa: E402


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
    """Serial `nbgrader autograde` vs `python -m helpers.grading.autograde` on the simulated class of 20 students."""
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
        parallel = [sys.executable, "-m", "helpers.grading.autograde", ASSIGNMENT]
        cores = os.cpu_count()
        for label, command in [
            ("serial: nbgrader autograde", [*NBGRADER, "autograde", ASSIGNMENT]),
            ("helpers.grading.autograde --jobs 1", [*parallel, "--jobs", "1"]),
            (f"helpers.grading.autograde (default: --jobs {cores})", parallel),
            (f"helpers.grading.autograde --jobs {cores + 1}", [*parallel, "--jobs", str(cores + 1)]),
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


def test_command():
    """`make test`'s stages, and pytest's time split by test file (from its JUnit report)."""
    import xml.etree.ElementTree as ET

    print("## The test command (make test), by stage")
    report = Path(tempfile.mkdtemp()) / "junit.xml"
    stages = [
        ("ruff check", [str(ROOT / ".venv/bin/ruff"), "check", "-q", "."]),
        ("ruff format --check", [str(ROOT / ".venv/bin/ruff"), "format", "--check", "-q", "."]),
        ("pytest", [sys.executable, "-m", "pytest", "-q", "-p", "no:warnings", f"--junitxml={report}"]),
    ]
    for label, command in stages:
        start = time.monotonic()
        subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True)
        print(f"  {label:<22} {time.monotonic() - start:6.2f} s")
    per_file = {}
    for case in ET.parse(report).iter("testcase"):
        name = ".".join(case.get("classname", "").split(".")[:2]) or "?"
        per_file[name] = per_file.get(name, 0.0) + float(case.get("time", 0))
    for name, seconds in sorted(per_file.items(), key=lambda item: -item[1]):
        print(f"    {name:<48} {seconds:6.1f} s")


def notebooks():
    """Each master notebook executed top to bottom in a fresh kernel (as nbval and students do)."""
    import nbformat
    from nbclient import NotebookClient

    print("## Notebook execution (source/, fresh kernel each, kernel start included)")
    for path in sorted((ROOT / "source" / ASSIGNMENT).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        start = time.monotonic()
        with _kernel_stderr_silenced():
            NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(path.parent)}}).execute()
        print(f"  {path.stem:<40} {time.monotonic() - start:5.2f} s")


@contextlib.contextmanager
def _kernel_stderr_silenced():
    """Kernels inherit our stderr and warn about TCP on every start: keep the report readable."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def browser():
    """Slider move to updated chart in JupyterLab, in Chromium (goal: under 150 ms)."""
    import test_browser as tb

    print(
        "## Browser: a softmax score slider moved one step (arrow key on its handle) -> new weights on the chart"
    )
    with (
        tempfile.TemporaryDirectory() as folder,
        tb.running_lab(Path(folder)) as lab,
        tb.chromium() as chrome,
    ):
        with tb.opened(tb.open_lab(chrome, lab), "filled_02_softmax") as nb:
            nb.page.locator("p.readout").first.scroll_into_view_if_needed()
            latencies = sorted(tb.slider_latencies(nb.page))
    rounded = ", ".join(f"{x:.0f}" for x in latencies)
    print(f"  median {statistics.median(latencies):.0f} ms, max {latencies[-1]:.0f} ms (all, ms: {rounded})")


def checks():
    """How long a student waits for `check_<function>(their function)` with a correct answer."""
    from helpers import checks as c
    from helpers import quiz
    from helpers.grading import reference as ref
    from helpers.progress import summary  # noqa: F401 - imported here so the first check is not charged for it

    print("## Check-call latency (correct answer, visible cases and properties; best of 5)")
    os.environ.setdefault("ATTENTION_COURSE_PROGRESS", str(Path(tempfile.mkdtemp()) / "progress.json"))
    vectorized = ref.scaled_dot_product_attention
    calls = {
        "check_similarity_scores": lambda: c.check_similarity_scores(ref.similarity_scores),
        "check_soft_lookup": lambda: c.check_soft_lookup(ref.soft_lookup),
        "check_softmax": lambda: c.check_softmax(ref.softmax),
        "check_scaled_dot_product_attention": lambda: c.check_scaled_dot_product_attention(vectorized),
        "check_causal_mask": lambda: c.check_causal_mask(ref.causal_mask),
        "check_self_attention": lambda: c.check_self_attention(ref.self_attention),
        "check_split_heads": lambda: c.check_split_heads(ref.split_heads),
        "check_combine_heads": lambda: c.check_combine_heads(ref.combine_heads),
        "check_multi_head_attention": lambda: c.check_multi_head_attention(ref.multi_head_attention),
        "check_max_path_length": lambda: c.check_max_path_length(ref.max_path_length),
        "check_quiz_answer": lambda: quiz.check_quiz_answer({1: "A"}, 1),
    }
    with contextlib.redirect_stdout(io.StringIO()):
        times = {name: best_time(call, repeat=5) for name, call in calls.items()}
    for name, seconds in times.items():
        print(f"  {name:<36} {seconds * 1000:7.1f} ms")


def _two_matmuls(Q, K, V):
    """The two products attention cannot avoid: the scores and the weighted sum."""
    return (Q @ K.T) @ V


def attention_speed():
    """The reference attention against bare matrix products of the same size, and notebook 06's loop over the
    scores alone (the n^2 dot products, one pair at a time)."""
    from helpers.grading import reference as ref

    print("## Attention speed (float64, d = 64; best of 5)")
    for n in (256, 1024, 2048):
        Q, K, V = np.random.default_rng(0).normal(size=(3, n, 64))
        vectorized = best_time(ref.scaled_dot_product_attention, Q, K, V, repeat=5)
        matmuls = best_time(_two_matmuls, Q, K, V, repeat=5)
        loop = best_time(scores_loop, Q, K, repeat=1) if n <= 1024 else float("nan")
        flops = 2 * 2 * n * n * 64
        print(
            f"  n = {n:>4}: scores loop {loop * 1000:9.1f} ms  attention {vectorized * 1000:7.2f} ms "
            f"(x{loop / vectorized:5.0f})  two matmuls {matmuls * 1000:7.2f} ms "
            f"({flops / matmuls / 1e9:5.1f} GFLOP/s): attention takes {vectorized / matmuls:4.2f}x the matmuls"
        )


def hub(students=30):
    """A class of 30 on this machine's JupyterHub: all log in, fetch and submit at once; then the grading."""
    from concurrent.futures import ThreadPoolExecutor

    from hub_client import HubUser

    sys.path.insert(0, str(ROOT / "deploy"))
    import classroom

    if os.geteuid() != 0:
        print("## Hub: needs root (it makes Unix accounts); skipped")
        return
    print(f"## A class of {students} on JupyterHub (deploy/, loopback): log in, fetch, submit, all at once")
    started = time.monotonic()
    room = classroom.up(students=students, log=lambda _message: None)
    try:
        print(
            f"  class made (environment, {students + 3} accounts, course, release): {time.monotonic() - started:.0f} s"
        )
        hub_process = classroom.start_hub(room)
        base = f"http://127.0.0.1:{room['ports']['public']}"
        peak, done = [0.0], threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], _tree_rss_mb(hub_process.pid))
                time.sleep(0.5)

        def attend(name):
            t0 = time.monotonic()
            user = HubUser(base, name, room["passwords"][name])
            user.log_in()
            user.wait_for_server(timeout=300)
            user.assignment_action("fetch", "attention-course", ASSIGNMENT)
            reply = user.assignment_action("submit", "attention-course", ASSIGNMENT)
            assert {e["status"] for e in reply["value"]} >= {"submitted"}, reply
            return time.monotonic() - t0

        sampler = threading.Thread(target=sample)
        sampler.start()
        t0 = time.monotonic()
        with ThreadPoolExecutor(students) as pool:
            futures = [pool.submit(attend, name) for name in room["students"]]
        each = sorted(f.result() for f in futures if f.exception() is None)
        failures = [repr(f.exception()) for f in futures if f.exception() is not None]
        last = time.monotonic() - t0
        done.set()
        sampler.join()
        print(
            f"  last of {students} done after {last:.1f} s (each: median {statistics.median(each):.1f} s,"
            f" max {each[-1]:.1f} s); failures: {len(failures)} {failures[:3]}"
        )
        print(f"  peak memory of the hub, its proxy, the course service and every server: {peak[0]:.0f} MB")
        t0 = time.monotonic()
        classroom.grader_command(room, "nbgrader", "collect", ASSIGNMENT)
        collected = time.monotonic() - t0
        t0 = time.monotonic()
        classroom.grader_command(room, "python", "-m", "helpers.grading.autograde", ASSIGNMENT)
        graded = time.monotonic() - t0
        notebooks = students * len(list((ROOT / "notebooks" / ASSIGNMENT).glob("*.ipynb")))
        print(
            f"  collect {collected:.1f} s; autograde {notebooks} notebooks {graded:.0f} s on {os.cpu_count()} cores"
            f" ({notebooks / graded:.2f} notebooks/s, {graded / notebooks * os.cpu_count():.2f} core-s each)"
        )
    finally:
        classroom.down(room["state"])


def tutor_quality():
    """Precision and recall of the tutor's `grounded` on questions it was not written for (tests/tutor_eval.py)."""
    from tutor_eval import report

    report()


SECTIONS = {
    "test": test_command,
    "notebooks": notebooks,
    "browser": browser,
    "checks": checks,
    "attention": attention_speed,
    "autograde": autograde,
    "hub": hub,
    "tutor": tutor_quality,
}

if __name__ == "__main__":
    for name in sys.argv[1:] or SECTIONS:
        SECTIONS[name]()
        print()
