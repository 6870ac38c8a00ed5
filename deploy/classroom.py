"""A class on one machine: Unix accounts, nbgrader's exchange, the course's grading account and a JupyterHub.

    python deploy/classroom.py up [--students N]     # as root; prints the address and the accounts, Ctrl-C ends
    python deploy/classroom.py down STATE_DIR        # removes a class that an interrupted run left behind

``make hub`` runs ``up``. Everything a class consists of lives in one folder (the *state*, under /var/tmp):

    classroom.json   what was made (accounts, ports), written *before* each thing is made, so ``down`` can
                     remove exactly that, even after an interruption. Mode 600: it holds the passwords.
    env/             the class environment: requirements.txt, JupyterHub and the student package's wheel, all
                     pinned by constraints.txt, from a Python that every account can run
    etc/everyone/    nbgrader_config.py for every server: the course id and the exchange
    etc/student/     jupyter-config/student/ (no formgrader, no create-assignment, no course list), and an
                     nbgrader_config.py that submits with helpers.exchange_submit.PrivateSubmit
    etc/instructor/  jupyter-config/hub-instructor/ (instructors grade in the course service, not their server)
    etc/grader/      jupyter-config/hub-grader/ (the course service: JupyterLab may show formgrader in a frame)
    exchange/        nbgrader's filesystem exchange (mode 777, as nbgrader's documentation sets it up); its
                     <course>/inbound/ belongs to the grader and the group <prefix>-graders, mode 3733: students
                     may write into it but not list it, nor move or delete what others made (sticky), and each
                     submission takes the group (setgid), so PrivateSubmit can make it readable by its author
                     and the graders alone
    home/<account>/  each account's home (mode 700); the grader's holds course/, a copy of this repository
    hub/             the hub's database, secrets, pid files and log (root only)

Accounts are named ``<prefix>-instructor1``, ``<prefix>-grader``, ``<prefix>-student01``..., the graders' group
``<prefix>-graders`` (the grader alone: instructors grade through the course service, as the grader), with a
prefix drawn at random, and ``up`` refuses a name that exists already: it never touches an account, group or
file it did not make.
"""

import argparse
import grp
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from helpers.grading import course as _course  # the repository's package (make installs it in .venv)

ROOT = Path(__file__).resolve().parents[1]
# What the instructor set, where nbgrader reads it: the course id (nbgrader_config.py), the assignment (source/).
COURSE = _course.course_id(ROOT)
(ASSIGNMENT,) = _course.assignments(ROOT)
BASE = Path(os.environ.get("ATTENTION_HUB_BASE", "/var/tmp"))
STATE_PREFIX = "attention-course-hub-"
# The course directory the grader works in: what nbgrader and the grader read, not the tests or the venv.
COURSE_FILES = ["nbgrader_config.py", "source", "notebooks", "helpers", "pyproject.toml", "LICENSE"]


def _python():
    """A Python 3.11 that other accounts can run: the project's own often lives in a private home (pyenv)."""
    for candidate in (
        os.environ.get("HUB_PYTHON"),
        "/usr/bin/python3.11",
        "/usr/bin/python3",
        sys.executable,
    ):
        if candidate and Path(candidate).exists() and _others_can_run(candidate):
            return candidate
    raise SystemExit("no Python 3.11 that every account can run (set HUB_PYTHON)")


def _others_can_run(path):
    path = Path(path).resolve()
    return path.stat().st_mode & 0o005 == 0o005 and all(p.stat().st_mode & 0o001 for p in path.parents)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _save(room):
    path = Path(room["state"]) / "classroom.json"
    path.write_text(json.dumps(room, indent=1))
    path.chmod(0o600)


def load(state):
    return json.loads((Path(state) / "classroom.json").read_text())


def _run(command, **kwargs):
    return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)


def as_user(room, account, command, cwd=None, extra_env=None):
    """Run a command as one of the class's accounts, with the class environment on PATH."""
    entry = pwd.getpwnam(account)
    env = {
        "HOME": entry.pw_dir,
        "USER": account,
        "PATH": f"{Path(room['state']) / 'env' / 'bin'}:/usr/bin:/bin",
        "JUPYTER_CONFIG_PATH": room["config"]["everyone"],
        "LANG": "C.UTF-8",
        **(extra_env or {}),
    }
    return subprocess.run(
        command,
        cwd=cwd or entry.pw_dir,
        env=env,
        user=entry.pw_uid,
        group=entry.pw_gid,
        extra_groups=os.getgrouplist(account, entry.pw_gid),  # the account's groups, as a login gives them
        capture_output=True,
        text=True,
        timeout=600,
    )


def grader_command(room, *command):
    """Run a command as the grader, in the course directory (the way the course service's terminal would)."""
    result = as_user(
        room,
        room["grader"],
        list(command),
        cwd=room["course_dir"],
        extra_env={"PYTHONPATH": room["course_dir"]},
    )
    if result.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def _make_group(room, name):
    if _group_exists(name):
        raise SystemExit(f"group {name} exists already: refusing to touch it")
    room["groups"].append(name)  # recorded before it exists, as accounts are
    _save(room)
    _run(["groupadd", name])


def _make_account(room, name, groups=()):
    if _exists(name):
        raise SystemExit(f"account {name} exists already: refusing to touch it")
    room["accounts"].append(name)  # recorded before it exists: down() removes it even if we stop half-way
    _save(room)
    home = Path(room["state"]) / "home" / name
    _run(
        ["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/bash", "--user-group", name]
        + (["--groups", ",".join(groups)] if groups else [])
    )
    _run(["chpasswd"], input=f"{name}:{room['passwords'][name]}\n")
    home.chmod(0o700)


def _exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def up(students=3, log=print, environment=None):
    """Make a class: state folder, environment, accounts, exchange, course; release the assignment.
    ``environment``: a class environment already built by :func:`build_environment` (tests share one), used
    where every account can reach it; otherwise the class gets one of its own."""
    if os.geteuid() != 0:
        raise SystemExit(
            "run as root: it makes Unix accounts, and the hub starts each person's server as them"
        )
    sweep()
    prefix = "ac" + secrets.token_hex(3)
    state = BASE / f"{STATE_PREFIX}{prefix}"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    names = {
        "instructors": [f"{prefix}-instructor1", f"{prefix}-instructor2"],
        "grader": f"{prefix}-grader",
        "graders_group": f"{prefix}-graders",
        "students": [f"{prefix}-student{i:02d}" for i in range(1, students + 1)],
    }
    everyone = [*names["instructors"], names["grader"], *names["students"]]
    public, hub, proxy_api, service = _free_ports(4)
    room = {
        "state": str(state),
        "owner_pid": os.getpid(),
        "course": COURSE,
        "assignment": ASSIGNMENT,
        **names,
        "accounts": [],
        "groups": [],
        "passwords": {name: secrets.token_urlsafe(12) for name in everyone},
        "ports": {"public": public, "hub": hub, "proxy_api": proxy_api, "service": service},
        "config": {
            role: str(state / "etc" / role) for role in ("everyone", "student", "instructor", "grader")
        },
        "course_dir": str(state / "home" / names["grader"] / "course"),
        "hub_pid": None,
    }
    _save(room)
    for folder, mode in (("home", 0o755), ("hub", 0o700), ("exchange", 0o777), ("etc", 0o755)):
        (state / folder).mkdir(mode=mode)
        (state / folder).chmod(mode)

    started = time.perf_counter()
    # A prebuilt environment serves only where every account can reach it (a clone in a private folder cannot).
    if environment and _others_can_run(environment):
        (state / "env").symlink_to(Path(environment).resolve(), target_is_directory=True)
    else:
        build_environment(state / "env")
    log(f"class environment ready in {time.perf_counter() - started:.0f} s")

    (state / "etc" / "everyone").mkdir()
    (state / "etc" / "everyone" / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {COURSE!r}\n"
        f"c.Exchange.root = {str(state / 'exchange')!r}\n"
    )
    shutil.copytree(ROOT / "jupyter-config" / "student", state / "etc" / "student", ignore=_ignore)
    (state / "etc" / "student" / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        "# A submission in inbound/ is readable by its author and the graders' group only (deploy/classroom.py).\n"
        'c.ExchangeFactory.submit = "helpers.exchange_submit.PrivateSubmit"\n'
    )
    shutil.copytree(ROOT / "jupyter-config" / "hub-instructor", state / "etc" / "instructor", ignore=_ignore)
    shutil.copytree(ROOT / "jupyter-config" / "hub-grader", state / "etc" / "grader", ignore=_ignore)
    _make_group(room, names["graders_group"])
    for name in everyone:
        _make_account(room, name, [names["graders_group"]] if name == names["grader"] else ())

    course_dir = Path(room["course_dir"])
    course_dir.mkdir()
    for name in COURSE_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, course_dir / name, ignore=_ignore)
        else:
            shutil.copy(source, course_dir / name)
    grader = pwd.getpwnam(room["grader"])
    _run(["chown", "-R", f"{grader.pw_uid}:{grader.pw_gid}", str(course_dir)])
    # The course's folders in the exchange, as release_assignment would make them, but inbound/ in the graders'
    # group: what a student makes there takes that group (setgid), never one that other students are in; and
    # sticky, so that only its maker (or the grader) may rename or delete it.
    exchange = state / "exchange" / COURSE
    for folder, group, mode in (
        (exchange, grader.pw_gid, 0o755),
        (exchange / "inbound", grp.getgrnam(names["graders_group"]).gr_gid, 0o3733),
    ):
        folder.mkdir()
        os.chown(folder, grader.pw_uid, group)
        folder.chmod(mode)
    # The instructor's first two steps, as the grader: generate (the gradebook learns the assignment), release.
    grader_command(room, "nbgrader", "generate_assignment", ASSIGNMENT, "--force")
    grader_command(room, "nbgrader", "release_assignment", ASSIGNMENT)
    return room


def _ignore(_folder, names):
    return [n for n in names if n in ("__pycache__", ".ipynb_checkpoints") or n.endswith(".egg-info")]


def build_environment(folder):
    """The class environment in ``folder``, readable by every account: what a class's image would hold
    (requirements.txt, deploy/requirements.txt and the student package's wheel, pinned by constraints.txt)."""
    folder = Path(folder)
    _run([_python(), "-m", "venv", str(folder)])
    constraints = ["-c", str(ROOT / "constraints.txt")]
    requirements = ["-r", str(ROOT / "requirements.txt"), "-r", str(ROOT / "deploy" / "requirements.txt")]
    _pip_install(folder, *constraints, *requirements)
    settings = folder / "share" / "jupyter" / "lab" / "settings"  # as make lab: no "news?" pop-up
    settings.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "jupyter-config" / "lab-overrides.json", settings / "overrides.json")
    install_student_package(folder)


def install_student_package(folder):
    """Build the student package's wheel (deploy/build_wheel.py) and install it into the class environment in
    ``folder`` (its dependencies are there already), replacing an older one; then make all readable."""
    folder = Path(folder)
    with tempfile.TemporaryDirectory() as wheel_dir:
        _run([sys.executable, str(ROOT / "deploy" / "build_wheel.py"), wheel_dir])
        (wheel,) = Path(wheel_dir).glob("attention_course-*.whl")
        _pip_install(folder, "--no-deps", "--force-reinstall", str(wheel))
    _run(["chmod", "-R", "go+rX", str(folder)])


def _pip_install(folder, *arguments):
    _run([str(Path(folder) / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          *arguments])  # fmt: skip


def start_hub(room):
    """Start JupyterHub (as root: it starts each person's server as their account) and wait until it answers."""
    state = Path(room["state"])
    log = open(state / "hub" / "jupyterhub.log", "ab")  # noqa: SIM115 (the hub keeps writing to it)
    process = subprocess.Popen(
        [str(state / "env" / "bin" / "jupyterhub"), "-f", str(ROOT / "deploy" / "jupyterhub_config.py")],
        cwd=state / "hub",
        env={
            "PATH": f"{state / 'env' / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin",
            "ATTENTION_CLASSROOM": str(state),
            "LANG": "C.UTF-8",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    room["hub_pid"] = process.pid
    _save(room)
    url = f"http://127.0.0.1:{room['ports']['public']}/hub/health"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterHub stopped: see {state / 'hub' / 'jupyterhub.log'}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return process
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"JupyterHub did not answer within 60 s: see {state / 'hub' / 'jupyterhub.log'}")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except (ProcessLookupError, TypeError):
        return False


def _proxy_pid(state, room):
    """The pid of this class's configurable-http-proxy, from the pid file JupyterHub writes, if that process is
    still this class's proxy (its API port is the class's, so a reused pid is never taken for it)."""
    try:
        pid = int((Path(state) / "hub" / "proxy.pid").read_text().strip())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    port = str(room.get("ports", {}).get("proxy_api", "")).encode()
    named = any(a.endswith(b"configurable-http-proxy") for a in argv)
    return pid if named and b"--api-port" in argv and port in argv else None


def _stop(pid):
    """SIGTERM, up to 5 s to exit, then SIGKILL."""
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def down(state):
    """Remove one class: stop its hub, its proxy and every process of its accounts, delete the accounts, then the
    folder."""
    state = Path(state)
    room = load(state)
    # JupyterHub starts its proxy in a session of its own (so that it can outlive a restart of the hub): stopping
    # the hub's process group does not reach it, and a hub stopped hard never stops it. Found before anything goes.
    proxy = _proxy_pid(state, room)
    if room.get("hub_pid") and _pid_alive(room["hub_pid"]):
        os.killpg(room["hub_pid"], signal.SIGTERM)  # the hub, its proxy and the course service
        for _ in range(50):
            if not _pid_alive(room["hub_pid"]):
                break
            time.sleep(0.1)
    for name in room["accounts"]:
        if _exists(name):
            subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
    for name in room["accounts"]:
        if _exists(name):
            for _ in range(20):  # userdel refuses while a process of the account is still exiting
                if subprocess.run(["userdel", name], capture_output=True).returncode in (0, 6):
                    break
                time.sleep(0.1)
        if subprocess.run(["getent", "group", name], capture_output=True).returncode == 0:
            subprocess.run(["groupdel", name], capture_output=True)
    for name in room.get("groups", []):
        if _group_exists(name):
            subprocess.run(["groupdel", name], capture_output=True)
    if room.get("hub_pid") and _pid_alive(room["hub_pid"]):
        os.killpg(room["hub_pid"], signal.SIGKILL)
    if proxy and _proxy_pid(state, room) == proxy:  # still there: the hub did not stop it
        _stop(proxy)
    shutil.rmtree(state)


def sweep():
    """Remove the classes of runs that ended without cleaning up (their owner process is gone)."""
    for state in BASE.glob(f"{STATE_PREFIX}*"):
        try:
            room = load(state)
        except (OSError, ValueError):
            continue
        if not _pid_alive(room.get("owner_pid")):
            down(state)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="make a class and run its hub until Ctrl-C")
    start.add_argument("--students", type=int, default=3)
    stop = commands.add_parser("down", help="remove a class left behind")
    stop.add_argument("state")
    args = parser.parse_args()
    if args.command == "down":
        down(args.state)
        return
    room = up(args.students)
    try:
        start_hub(room)
        print(f"\nJupyterHub: http://127.0.0.1:{room['ports']['public']}/  (loopback only)")
        print(f"formgrader: log in as an instructor, then Nbgrader > Courses > {COURSE}\n")
        for name in [*room["instructors"], *room["students"]]:
            print(f"  {name:28} password {room['passwords'][name]}")
        print("\nCtrl-C stops the hub and removes the accounts and", room["state"])
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        down(room["state"])


if __name__ == "__main__":
    main()
