"""The sandbox that grading kernels run in: bubblewrap for isolation, prlimit for resource limits.

A grading kernel runs a student's code, so it is treated as the student's own machine: it starts from an empty
file system and sees only what is on this allow-list (:func:`readable`), all of it read-only unless marked:

- the system's programs and libraries (``/usr``, with ``/bin``, ``/lib``... as links into it);
- the Python installation and virtual environment that run the kernel (their folders, nothing around them),
  with an empty folder in place of ipykernel's debugger (``debugpy``), which a grading kernel does not need;
- the student package, as a class student has it: ``helpers`` without ``helpers/grading`` (no solutions, no
  hidden cases, no grading code), copied out of the course into ``/opt/attention-course``, first on the
  kernel's ``PYTHONPATH``;
- a throw-away copy of the student's own submission folder, writable, as the working directory (what the kernel
  writes there is deleted with it: it never reaches ``autograded/`` or the feedback);
- a private, empty ``/tmp`` (writable), a minimal ``/dev``, its own ``/proc``, and two lines of ``/etc``
  (``passwd`` and ``group`` naming only the grading user) plus ``/etc/fonts`` and ``/etc/localtime``;
- the folder of the kernel's connection sockets.

Nothing else of the course directory (``source/``, ``.git/``, ``tests/``, ``autograded/``, ``downloaded/``, the
gradebook...) or of the machine (homes, other courses, the exchange) exists inside. The kernel also gets a
clean environment (:data:`PASSED_ENV` and the variables set below): no token or secret of the grader's leaks in.
It has no network (a network namespace of its own), its own process, IPC and host-name namespaces, no
capabilities, a new session (no terminal injection), and ``prlimit`` caps on memory, CPU, file size and open
files. It shares the machine's CPU up to those caps.
"""

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

# Generous for a course whose heaviest notebook needs ~300 MB; a runaway allocation fails fast instead.
MEMORY_BYTES = 2 * 1024**3
CPU_SECONDS = 300  # CPU time of the whole kernel: a notebook's cells share it
FILE_BYTES = 64 * 1024**2  # largest file the kernel may write
OPEN_FILES = 256

DISABLE_ENV = "ATTENTION_GRADER_SANDBOX"  # set to "off" to grade without bubblewrap (not recommended)

# The grader's environment variables a kernel keeps (everything else is dropped): locale, and the numeric
# libraries' thread and kernel settings, so that a kernel computes as the grader's machine is set up to.
PASSED_ENV = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
              "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NBGRADER_EXECUTION")  # fmt: skip
SYSTEM_LINKS = {"/bin": "usr/bin", "/sbin": "usr/sbin", "/lib": "usr/lib", "/lib64": "usr/lib64"}
ETC_FILES = ("/etc/fonts", "/etc/localtime")
HOME = "/tmp"


class SandboxUnavailable(RuntimeError):
    pass


@functools.cache
def available():
    """True when bubblewrap exists and can create the namespaces a grading kernel runs in on this machine."""
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return False
    probe = subprocess.run(
        [bwrap, "--ro-bind", "/usr", "/usr", *_links(), "--proc", "/proc", "--dev", "/dev",
         "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv",
         "/usr/bin/true"],
        capture_output=True,
    )  # fmt: skip
    return probe.returncode == 0


def limits_prefix():
    """``prlimit`` and its arguments: the resource limits of a grading kernel."""
    return [
        shutil.which("prlimit") or "prlimit",
        f"--as={MEMORY_BYTES}",
        f"--cpu={CPU_SECONDS}",
        f"--fsize={FILE_BYTES}",
        f"--nofile={OPEN_FILES}",
        "--",
    ]


def _links():
    args = []
    for link, target in SYSTEM_LINKS.items():
        if Path(link).is_symlink() or not Path(link).exists():
            args += ["--symlink", target, link]
        else:  # a system without merged /usr
            args += ["--ro-bind", link, link]
    return args


def runtime_paths(cmd):
    """The Python installations a kernel needs to start: the grader's own, its base, and the kernel
    command's (each prefix folder as a whole, nothing around it). Each is named as the grader's Python knows
    it and as it resolves (a venv reached through a link is bound at both)."""
    given = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    executable = shutil.which(cmd[0]) if cmd else None
    if executable:
        given.add(str(Path(executable).parent.parent))  # a venv's bin/python: the venv
        given.add(str(Path(executable).resolve().parent.parent))  # the interpreter it links to
    paths = set()
    for p in given:
        if Path(p).exists() and str(Path(p).resolve()) != "/":
            paths |= {Path(os.path.abspath(p)), Path(p).resolve()}
    # /usr is bound anyway; a prefix inside another needs no bind of its own
    paths = {p for p in paths if not p.resolve().is_relative_to("/usr") and not p.is_relative_to("/usr")}
    return sorted(p for p in paths if not any(p != q and p.is_relative_to(q) for q in paths))


# --- the student package, as a class student has it ----------------------------------------------------------

HELPERS = Path(__file__).resolve().parents[1]
# Where a kernel finds the student package: a folder of its own, first on the kernel's PYTHONPATH, so that
# `import helpers` finds it however the grader's own copy of the course was installed.
STUDENT_PACKAGE_ROOT = "/opt/attention-course"
# What the wheel of a class release holds besides helpers/*.py (pyproject.toml's package-data), for a course
# installed without its pyproject.toml.
PACKAGE_DATA = [
    "course_text.json",
    "tutor_questions.json",
    "tutor_phrasings.json",
    "check_data/*.json",
    "README.md",
]


def package_data():
    pyproject = HELPERS.parent / "pyproject.toml"
    if pyproject.exists():
        config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        return config["tool"]["setuptools"]["package-data"]["helpers"]
    return PACKAGE_DATA


def student_package_files():
    """The student package's files (relative paths): the modules of ``helpers`` itself and its package data,
    exactly what the class release's wheel holds; no subpackage, so never ``grading/``."""
    files = {p.relative_to(HELPERS) for p in HELPERS.glob("*.py")}
    for pattern in package_data():
        files |= {p.relative_to(HELPERS) for p in HELPERS.glob(pattern)}
    return sorted(files)


@functools.cache
def student_package():
    """A folder holding a copy of the student package, made once per grading process and removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="attention-student-package-")) / "helpers"
    for relative in student_package_files():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HELPERS / relative, folder / relative)
    import atexit

    atexit.register(shutil.rmtree, folder.parent, True)
    return folder


@functools.cache
def _debugger_folder():
    """The folder of ``debugpy`` (ipykernel's debugger) in the grader's Python, found without importing it."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("debugpy")
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]).resolve() if locations else None


def _debugger_places(runtime):
    """Where the kernel's Python would find the debugger, inside the bound Python installations."""
    debugger = _debugger_folder()
    return [
        path / debugger.relative_to(path.resolve())
        for path in runtime
        if debugger and debugger.is_relative_to(path.resolve())
    ]


def _identity_files(shared_dir):
    """``/etc/passwd`` and ``/etc/group`` that name only the user the kernel runs as."""
    uid, gid = os.getuid(), os.getgid()
    passwd, group = Path(shared_dir) / "passwd", Path(shared_dir) / "group"
    passwd.write_text(f"student:x:{uid}:{gid}:grading kernel:{HOME}:/usr/sbin/nologin\n", encoding="utf-8")
    group.write_text(f"student:x:{gid}:\n", encoding="utf-8")
    return passwd, group


def readable(cmd, *, workdir, shared_dir):
    """Every path a grading kernel can see, with how: [(path inside, what it is, writable)]."""
    entries = [("/usr", "the system's programs and libraries", False)]
    entries += [(link, "a link into /usr", False) for link in SYSTEM_LINKS]
    entries += [(str(p), "a Python installation that runs the kernel", False) for p in runtime_paths(cmd)]
    entries += [
        (
            f"{STUDENT_PACKAGE_ROOT}/helpers",
            "the student package, as a class student has it (a copy, no helpers/grading)",
            False,
        ),
        (str(workdir), "a throw-away copy of the student's own submission folder", True),
        ("/tmp", "an empty private folder", True),
        ("/dev", "a minimal /dev (null, zero, random, urandom, tty, shm)", False),
        ("/proc", "the kernel's own processes", False),
        ("/etc/passwd", "one line: the grading user", False),
        ("/etc/group", "the grading user's group", False),
    ]
    entries += [
        (path, "system settings (fonts, time zone)", False) for path in ETC_FILES if Path(path).exists()
    ]
    entries += [
        (str(p), "an empty folder in place of ipykernel's debugger", False)
        for p in _debugger_places(runtime_paths(cmd))
    ]
    entries.append((str(shared_dir), "the kernel's connection sockets", True))
    return entries


def command(cmd, *, workdir, shared_dir, submission=None):
    """``cmd`` wrapped in the sandbox, with the kernel's working directory ``workdir`` holding a throw-away copy
    of ``submission`` (the student's submitted folder; empty if None), ``shared_dir`` for the kernel's
    connection sockets, and limits applied."""
    if os.environ.get(DISABLE_ENV) == "off":
        print(f"WARNING: {DISABLE_ENV}=off: grading WITHOUT a sandbox", file=sys.stderr)
        return limits_prefix() + list(cmd)
    if not available():
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is missing or cannot create namespaces here; install Debian's `bubblewrap` "
            f"(`make test` does) or set {DISABLE_ENV}=off to grade unsandboxed at your own risk."
        )
    workdir, shared_dir = Path(workdir).resolve(), Path(shared_dir).resolve()
    scratch = shared_dir / "work"  # removed with shared_dir when the kernel is cleaned up
    if submission and Path(submission).is_dir():
        shutil.copytree(submission, scratch, symlinks=True, ignore=shutil.ignore_patterns(".*"))
    else:
        scratch.mkdir()
    passwd, group = _identity_files(shared_dir)
    args = [
        shutil.which("bwrap"),
        "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv",
        "--ro-bind", "/usr", "/usr", *_links(),
        "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
        "--ro-bind", str(passwd), "/etc/passwd", "--ro-bind", str(group), "/etc/group",
    ]  # fmt: skip
    for path in ETC_FILES:
        if Path(path).exists():
            args += ["--ro-bind", path, path]
    runtime = runtime_paths(cmd)
    for path in runtime:
        args += ["--ro-bind", str(path.resolve()), str(path)]
    # The debugger ipykernel loads at start when it can: a grading kernel needs none, and importing it costs
    # every kernel ~0.1 s of CPU. An empty read-only folder in its place turns it off.
    for inside in _debugger_places(runtime):
        args += ["--tmpfs", str(inside), "--remount-ro", str(inside)]
    args += ["--ro-bind", str(student_package()), f"{STUDENT_PACKAGE_ROOT}/helpers"]
    # Where the grader's own helpers lie inside a folder bound above (a course installed into site-packages),
    # the student package hides them there too: no helpers/grading anywhere inside.
    if any(HELPERS.is_relative_to(path) for path in runtime):
        args += ["--ro-bind", str(student_package()), str(HELPERS)]
    args += ["--bind", str(scratch), str(workdir), "--bind", str(shared_dir), str(shared_dir)]
    args += ["--remount-ro", "/"]  # the empty root itself (where the folders above hang) takes no writes
    env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    env |= {
        "PATH": f"{Path(cmd[0]).parent}:/usr/local/bin:/usr/bin:/bin" if cmd else "/usr/bin:/bin",
        "HOME": HOME,
        "USER": "student",
        "ATTENTION_COURSE_PROGRESS": "/tmp/progress.json",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "IPYTHONDIR": "/tmp/ipython",
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter",
        "PYTHONPATH": STUDENT_PACKAGE_ROOT,
        "ATTENTION_COURSE_EARLIER": "grader",  # helpers.earlier asks the grader (helpers.wire.ask_grader)
        # ipykernel exits when the pid it was given (from outside the pid namespace) is not its parent. 1 means
        # "no parent to watch"; bubblewrap's --die-with-parent already ends the kernel with the grader.
        "JPY_PARENT_PID": "1",
    }
    for name, value in env.items():
        args += ["--setenv", name, value]
    args += ["--chdir", str(workdir), "--"]
    return args + limits_prefix() + list(cmd)
