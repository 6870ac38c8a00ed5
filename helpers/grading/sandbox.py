"""The sandbox that grading kernels run in: bubblewrap for isolation, prlimit for resource limits.

A grading kernel runs a student's code, so it sees the machine through ``bwrap`` (Debian's ``bubblewrap``):

- no network (a network namespace of its own, with only loopback);
- the whole file system read-only, with the course's private parts hidden behind empty folders: ``source/``
  (hidden tests and solutions), ``submitted/``, ``autograded/``, ``feedback/``, ``release/`` and the gradebook;
- one writable folder, the submission's own ``autograded/<student>/<assignment>/``, plus a private ``/tmp``;
- its own process, IPC and host-name namespaces, no capabilities, a new session (no terminal injection);
- ``prlimit`` caps on address space, CPU seconds, file size and open files.

What is *not* isolated: the kernel still reads everything else on the machine that the grader's user can read
(the Python installation, the course's public files such as ``notebooks/`` and ``helpers/``, other users' files
permitted to that user), and it shares the machine's CPU and memory up to the limits below.
"""

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

# Generous for a course whose heaviest notebook needs ~300 MB; a runaway allocation fails fast instead.
MEMORY_BYTES = 2 * 1024**3
CPU_SECONDS = 300  # CPU time of the whole kernel: a notebook's cells share it
FILE_BYTES = 64 * 1024**2  # largest file the kernel may write
OPEN_FILES = 256

# Folders and files of an nbgrader course that a student's code must never read or write.
PRIVATE = ("source", "submitted", "autograded", "feedback", "release", "gradebook.db")

DISABLE_ENV = "ATTENTION_GRADER_SANDBOX"  # set to "off" to grade without bubblewrap (not recommended)


class SandboxUnavailable(RuntimeError):
    pass


@functools.cache
def available():
    """True when bubblewrap exists and can create its namespaces on this machine."""
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return False
    probe = subprocess.run(
        [bwrap, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--proc", "/proc", "true"],
        capture_output=True,
    )
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


def _runtime_paths(cmd):
    """Folders a kernel needs to start: its interpreter's installation and the helpers package."""
    executable = shutil.which(cmd[0]) if cmd else None
    paths = {sys.prefix, sys.base_prefix, str(Path(__file__).resolve().parents[1])}  # helpers/, grading in it
    if executable:
        paths.add(str(Path(executable).resolve().parent.parent))
    return {str(Path(p).resolve()) for p in paths if Path(p).exists()}


def command(cmd, *, workdir, shared_dir, course_root):
    """``cmd`` wrapped in the sandbox: writable ``workdir`` and ``shared_dir`` (the kernel's connection
    sockets), the course's private parts of ``course_root`` hidden, limits applied."""
    if os.environ.get(DISABLE_ENV) == "off":
        print(f"WARNING: {DISABLE_ENV}=off: grading WITHOUT a sandbox", file=sys.stderr)
        return limits_prefix() + list(cmd)
    if not available():
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is missing or cannot create namespaces here; install Debian's `bubblewrap` "
            f"(`make test` does) or set {DISABLE_ENV}=off to grade unsandboxed at your own risk."
        )
    workdir, shared_dir, course_root = (Path(p).resolve() for p in (workdir, shared_dir, course_root))
    args = [
        shutil.which("bwrap"),
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--tmpfs", "/tmp",
        "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
        "--die-with-parent", "--new-session", "--cap-drop", "ALL",
    ]  # fmt: skip
    for name in PRIVATE:
        path = course_root / name
        if path.is_dir():
            args += ["--tmpfs", str(path)]
        elif path.exists():
            args += ["--ro-bind", "/dev/null", str(path)]
    # The Python that runs the kernel, and the course's helpers, stay visible (read-only) even where they live
    # under a folder hidden above, such as a clone in /tmp.
    for path in sorted(_runtime_paths(cmd)):
        args += ["--ro-bind", path, path]
    args += ["--bind", str(workdir), str(workdir), "--bind", str(shared_dir), str(shared_dir)]
    # Kernels write progress and caches under $HOME, which is read-only here: send them to the private /tmp.
    private_tmp = {"ATTENTION_COURSE_PROGRESS": "/tmp/progress.json", "MPLCONFIGDIR": "/tmp/matplotlib",
                   "IPYTHONDIR": "/tmp/ipython"}  # fmt: skip
    for name, value in private_tmp.items():
        args += ["--setenv", name, value]
    # ipykernel exits when the pid it was given (from outside the pid namespace) is not its parent. 1 means "no
    # parent to watch"; bubblewrap's --die-with-parent already ends the kernel with the grader.
    args += ["--setenv", "JPY_PARENT_PID", "1"]
    args += ["--chdir", str(workdir), "--"]
    return args + limits_prefix() + list(cmd)
