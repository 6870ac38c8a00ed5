"""A class on one machine for a whole term: Unix accounts, nbgrader's exchange, the course's grading account and a
JupyterHub, all kept in one folder (the *state*) until the class is torn down.

    python deploy/classroom.py up [STATE] [--roster CSV | --students N] [--instructors NAME,NAME]
                                  [--ip IP] [--port PORT] [--ssl-cert FILE --ssl-key FILE | --no-ssl]
    python deploy/classroom.py stop [STATE]
    python deploy/classroom.py teardown [STATE] [--yes]

All three as root; STATE is /var/lib/attention-course-hub unless given. ``up`` makes the class the first time
(the students' accounts from nbgrader's roster CSV, ``id,first_name,last_name,email,lms_user_id``, or N demo
students; every new account's password is printed once and stored nowhere: ``passwd NAME`` sets another), then
serves its hub until Ctrl-C or SIGTERM, which stop the hub's processes and remove nothing. ``up`` again with the
same STATE resumes the class: the same accounts, gradebook, submissions, the hub's users and cookie secret; a
roster given then adds the students it names that have no account yet. The address, the port and TLS are saved
in classroom.json: options given again replace them, the others are kept. ``stop`` stops a hub whose ``up`` was
killed. ``teardown`` removes the class (accounts, homes, the exchange, the gradebook, STATE) after asking for the
course id or "yes" (``--yes`` does not ask). ``make hub`` runs ``up``, ``make hub-teardown`` ``teardown``.

What the state folder holds:

    classroom.json   what was made (accounts, groups, ports) and the hub's settings, written *before* each thing
                     is made, so that teardown removes exactly that, even after an interruption. Mode 600.
    env/             the class environment: requirements.txt, JupyterHub and the student package's wheel, all
                     pinned by constraints.txt, from a Python that every account can run
    etc/everyone/    nbgrader_config.py for every server: the course id and the exchange
    etc/student/     jupyter-config/student/ (no formgrader, no create-assignment, no course list), and an
                     nbgrader_config.py that submits with helpers.exchange_submit.PrivateSubmit
    etc/instructor/  jupyter-config/hub-instructor/ (instructors grade in the course service, not their server)
    etc/grader/      the course service's Jupyter settings: none of its own (formgrader opens in its own tab; no page
                     may frame it, JupyterHub's default)
    etc/trusted.pem  with TLS: the system's certificate authorities and the hub's certificate, which every server
                     trusts (written at each start)
    exchange/        nbgrader's filesystem exchange (mode 777, as nbgrader's documentation sets it up); its
                     <course>/inbound/ belongs to the grader and the group <prefix>-graders, mode 3733: students
                     may write into it but not list it, nor move or delete what others made (sticky), and each
                     submission takes the group (setgid), so PrivateSubmit can make it readable by its author
                     and the graders alone
    home/<account>/  each account's home (mode 700); the grader's holds course/, a copy of this repository made
                     with the class, with the gradebook and roster.csv (the class's roster, imported into it)
    hub/             the hub's database, cookie secret, pid files and log (root only)

The grader account is ``<prefix>-grader`` and the graders' group ``<prefix>-graders`` (the grader alone:
instructors grade through the course service, as the grader), the demo accounts ``<prefix>-instructor1``,
``<prefix>-student01``..., with a prefix drawn at random. ``up`` refuses a name that exists already: it never
touches an account, group or file it did not make.

Tests and the bench make throw-away classes (:func:`up` without a state folder): under /var/tmp, with the pid of
the process that made them; the next :func:`sweep` removes one whose process is gone.
"""

import argparse
import csv
import grp
import ipaddress
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STATE = Path("/var/lib/attention-course-hub")  # kept across reboots (FHS: a program's state)
BASE = Path(os.environ.get("ATTENTION_HUB_BASE", "/var/tmp"))  # throw-away classes of tests and the bench
STATE_PREFIX = "attention-course-hub-"
# The course directory the grader works in: what nbgrader and the grader read, not the tests or the venv.
COURSE_FILES = ["nbgrader_config.py", "source", "notebooks", "helpers", "pyproject.toml", "LICENSE"]
# nbgrader's roster (nbgrader db student import); a student's id is also their account's name.
ROSTER_COLUMNS = ["id", "first_name", "last_name", "email", "lms_user_id"]
ACCOUNT_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
# How long the hub has to stop its users' servers and the course service when asked to stop.
STOP_SECONDS = 60


def _course(name):
    """COURSE or ASSIGNMENT: what the instructor set, where nbgrader reads it, the course id (nbgrader_config.py)
    and the assignment (source/). Read when first needed (making a class), not on import: the repository's
    helpers.grading.course imports nbgrader, a second that stop and teardown need not wait for."""
    if name not in _COURSE:
        from helpers.grading import course  # the repository's package (make installs it in .venv)

        (assignment,) = course.assignments(ROOT)
        _COURSE.update(COURSE=course.course_id(ROOT), ASSIGNMENT=assignment)
    return _COURSE[name]


_COURSE = {}


def __getattr__(name):  # classroom.COURSE, classroom.ASSIGNMENT
    if name in ("COURSE", "ASSIGNMENT"):
        return _course(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def _free_port(ip="127.0.0.1"):
    with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET) as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def _port_is_free(ip, port):
    """Whether a server could listen on ip:port now (as the hub's would: SO_REUSEADDR, so that the port of a hub
    stopped a moment ago counts as free)."""
    with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))
            return True
        except OSError:
            return False


def _save(room):
    """classroom.json: everything but the passwords, which are printed once and stored nowhere."""
    path = Path(room["state"]) / "classroom.json"
    path.write_text(json.dumps({key: value for key, value in room.items() if key != "passwords"}, indent=1))
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


def read_roster(path):
    """nbgrader's roster CSV as rows of ROSTER_COLUMNS (id required, the others may be missing or empty)."""
    with open(path, newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        if "id" not in [name.strip() for name in reader.fieldnames or []]:
            raise SystemExit(f"{path}: no id column (nbgrader's roster: {','.join(ROSTER_COLUMNS)})")
        rows = [{key.strip(): (value or "").strip() for key, value in row.items() if key} for row in reader]
    rows = [{column: row.get(column, "") for column in ROSTER_COLUMNS} for row in rows]
    if not rows:
        raise SystemExit(f"{path}: no students")
    ids = [row["id"] for row in rows]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise SystemExit(f"{path}: an id appears twice: {', '.join(twice)}")
    return rows


def _check_new_names(names):
    """Refuse, before anything is made, a name that cannot be an account or that is taken."""
    problems = []
    for name in names:
        if not ACCOUNT_NAME.fullmatch(name):
            problems.append(f"{name!r}: not an account name (a lowercase letter, then lowercase letters, digits,"
                            " - or _; at most 32)")  # fmt: skip
        elif _exists(name) or _group_exists(name):
            problems.append(f"{name}: an account or group of that name exists already: refusing to touch it")
    if len(set(names)) < len(names):
        problems.append(
            "a name appears twice: " + ", ".join(sorted({n for n in names if names.count(n) > 1}))
        )
    if problems:
        raise SystemExit("\n".join(problems))


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
    room["passwords"][name] = secrets.token_urlsafe(12)
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


def _need_root():
    if os.geteuid() != 0:
        raise SystemExit(
            "run as root: it makes Unix accounts, and the hub starts each person's server as them"
        )


def _settings(room, ip=None, port=None, ssl_cert=None, ssl_key=None, no_ssl=False):
    """Where the hub listens, and with which certificate: what is given replaces what classroom.json holds."""
    if ip is not None:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise SystemExit(
                f"--ip {ip}: not an IP address (0.0.0.0: every address of this machine)"
            ) from None
        room["ip"] = ip
    if port is not None:
        if not 0 < port < 65536:
            raise SystemExit(f"--port {port}: not a port")
        room["ports"]["public"] = port
    if no_ssl:
        room["ssl_cert"] = room["ssl_key"] = None
    if ssl_cert or ssl_key:
        if not (ssl_cert and ssl_key):
            raise SystemExit("--ssl-cert and --ssl-key go together")
        for path in (ssl_cert, ssl_key):
            if not Path(path).is_file():
                raise SystemExit(f"{path}: no such file")
        room["ssl_cert"], room["ssl_key"] = str(Path(ssl_cert).resolve()), str(Path(ssl_key).resolve())


def public_url(room, host=None):
    """The hub's address for people: this machine's name when it listens on every address."""
    ip = room.get("ip", "127.0.0.1")
    host = host or (socket.getfqdn() if ip in ("0.0.0.0", "::") else ip)
    host = f"[{host}]" if ":" in host else host
    return f"{'https' if room.get('ssl_cert') else 'http'}://{host}:{room['ports']['public']}/"


def _local_url(room):
    """The hub's address from this machine (where a hub that listens on every address answers too)."""
    ip = room.get("ip", "127.0.0.1")
    return public_url(room, {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(ip, ip))


def up(state=None, *, students=None, roster=None, instructors=None, ip="127.0.0.1", port=None, ssl_cert=None,
       ssl_key=None, environment=None, log=print):  # fmt: skip
    """Make a class: state folder, environment, accounts, exchange, course, roster; release the assignment.
    Returns classroom.json's content with the new accounts' passwords (``passwords``, in memory only).

    ``state``: the folder to keep the class in (it must not exist, or be empty); none: a throw-away class under
    BASE, which :func:`sweep` removes once this process is gone (tests, the bench). ``roster``: nbgrader's roster
    CSV, one account per id; otherwise ``students`` demo students (3). ``instructors``: their account names
    (two demo instructors otherwise). ``environment``: a class environment already built by
    :func:`build_environment` (tests share one), used where every account can reach it; otherwise the class gets
    one of its own. If making it fails or is interrupted, what was made is removed."""
    _need_root()
    sweep()
    prefix = "ac" + secrets.token_hex(3)
    if state is None:
        state, owner = BASE / f"{STATE_PREFIX}{prefix}", os.getpid()
    else:
        state, owner = Path(state).resolve(), None
        if state.exists() and any(state.iterdir()):
            raise SystemExit(f"{state} exists and is not empty: a class is made in a new or empty folder")
        if not all(p.stat().st_mode & 0o001 for p in state.parents if p.exists()):
            raise SystemExit(f"{state}: every account must be able to reach its home there (a folder above is"
                             " closed to others)")  # fmt: skip
    rows = read_roster(roster) if roster else [
        {**dict.fromkeys(ROSTER_COLUMNS, ""), "id": f"{prefix}-student{i:02d}"} for i in range(1, (students or 3) + 1)
    ]  # fmt: skip
    names = {
        "instructors": list(instructors or [f"{prefix}-instructor1", f"{prefix}-instructor2"]),
        "grader": f"{prefix}-grader",
        "graders_group": f"{prefix}-graders",
        "students": [row["id"] for row in rows],
    }
    everyone = [*names["instructors"], names["grader"], *names["students"]]
    _check_new_names([*everyone, names["graders_group"]])
    room = {
        "state": str(state),
        "owner_pid": owner,
        "made": False,
        "course": _course("COURSE"),
        "assignment": _course("ASSIGNMENT"),
        **names,
        "accounts": [],
        "groups": [],
        "ip": "127.0.0.1",
        "ssl_cert": None,
        "ssl_key": None,
        "ports": dict(zip(("hub", "proxy_api", "service"), (_free_port() for _ in range(3)))),
        "config": {
            role: str(state / "etc" / role) for role in ("everyone", "student", "instructor", "grader")
        },
        "course_dir": str(state / "home" / names["grader"] / "course"),
        "hub_pid": None,
        "passwords": {},
    }
    _settings(room, ip=ip, port=port, ssl_cert=ssl_cert, ssl_key=ssl_key)
    room["ports"].setdefault("public", _free_port(room["ip"]))
    state.mkdir(mode=0o755, parents=True, exist_ok=True)
    try:
        state.chmod(0o755)
        _save(room)
        _make(room, rows, everyone, environment, log)
    except BaseException:  # interrupted too: a class half made is of no use, and teardown would ask
        down(state)
        raise
    return room


def _make(room, rows, everyone, environment, log):
    state = Path(room["state"])
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
        f"c.CourseDirectory.course_id = {room['course']!r}\n"
        f"c.Exchange.root = {str(state / 'exchange')!r}\n"
    )
    shutil.copytree(ROOT / "jupyter-config" / "student", state / "etc" / "student", ignore=_ignore)
    (state / "etc" / "student" / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        "# A submission in inbound/ is readable by its author and the graders' group only (deploy/classroom.py).\n"
        'c.ExchangeFactory.submit = "helpers.exchange_submit.PrivateSubmit"\n'
    )
    shutil.copytree(ROOT / "jupyter-config" / "hub-instructor", state / "etc" / "instructor", ignore=_ignore)
    # No frame relaxation for the course service (jupyter-config/hub-grader-subdomains/ is for hubs that serve
    # every server from its own subdomain): on one origin, a student's page could frame formgrader.
    (state / "etc" / "grader").mkdir(exist_ok=True)
    _make_group(room, room["graders_group"])
    for name in everyone:
        _make_account(room, name, [room["graders_group"]] if name == room["grader"] else ())

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
    exchange = state / "exchange" / room["course"]
    for folder, group, mode in (
        (exchange, grader.pw_gid, 0o755),
        (exchange / "inbound", grp.getgrnam(room["graders_group"]).gr_gid, 0o3733),
    ):
        folder.mkdir()
        os.chown(folder, grader.pw_uid, group)
        folder.chmod(mode)
    _import_roster(room, rows)
    # The instructor's first two steps, as the grader: generate (the gradebook learns the assignment), release.
    grader_command(room, "nbgrader", "generate_assignment", room["assignment"], "--force")
    grader_command(room, "nbgrader", "release_assignment", room["assignment"])
    room["made"] = True
    _save(room)


def _import_roster(room, rows):
    """The course directory's roster.csv (the class's roster: what it held, updated by ``rows``), imported into
    the gradebook (nbgrader db student import, as the grader), so that formgrader and the export know everyone."""
    path = Path(room["course_dir"]) / "roster.csv"
    roster = {row["id"]: row for row in (read_roster(path) if path.exists() else [])}
    roster.update({row["id"]: row for row in rows})
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, ROSTER_COLUMNS)
        writer.writeheader()
        writer.writerows(roster.values())
    grader = pwd.getpwnam(room["grader"])
    os.chown(path, grader.pw_uid, grader.pw_gid)
    path.chmod(0o600)
    grader_command(room, "nbgrader", "db", "student", "import", "roster.csv")


def resume(state, *, roster=None, ip=None, port=None, ssl_cert=None, ssl_key=None, no_ssl=False, log=print):
    """Take up the class kept in ``state``: settings given replace the saved ones; a roster adds accounts for the
    students it names that have none yet (their passwords in ``passwords``) and updates the gradebook's roster.
    Nothing else changes: the accounts, their passwords, the gradebook, the exchange and the hub's database stay."""
    _need_root()
    state = Path(state).resolve()
    room = load(state)
    if not room.get("made"):
        raise SystemExit(f"the class in {state} was never finished: remove it (teardown) and make it again")
    if (running := _hub_pid(room)) is not None:
        raise SystemExit(f"its hub runs already (pid {running}): python deploy/classroom.py stop {state}")
    room["passwords"] = {}
    _settings(room, ip=ip, port=port, ssl_cert=ssl_cert, ssl_key=ssl_key, no_ssl=no_ssl)
    if roster:
        rows = read_roster(roster)
        new = [row["id"] for row in rows if row["id"] not in room["students"]]
        _check_new_names(new)
        for name in new:
            _make_account(room, name)
            room["students"].append(name)  # a student once the account is there
        _import_roster(room, rows)
        absent = sorted(set(room["students"]) - {row["id"] for row in rows})
        if absent:
            log(f"not on this roster, kept (teardown removes them with the class): {', '.join(absent)}")
    _save(room)
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
    """Start JupyterHub (as root: it starts each person's server as their account) and wait until it answers.
    An internal port taken since the last start moves; the public one does not (it is the class's address)."""
    state = Path(room["state"])
    if (running := _hub_pid(room)) is not None:
        raise RuntimeError(f"the hub of {state} runs already (pid {running})")
    if not (state / "env" / "bin" / "jupyterhub").exists():
        raise RuntimeError(f"{state / 'env'}: the class environment is missing")
    for path in filter(None, (room.get("ssl_cert"), room.get("ssl_key"))):
        if not Path(path).is_file():
            raise RuntimeError(f"{path}: no such file (--ssl-cert/--ssl-key, or --no-ssl)")
    ip = room.get("ip", "127.0.0.1")
    if not _port_is_free(ip, room["ports"]["public"]):
        raise RuntimeError(f"{ip}:{room['ports']['public']} is in use: free it, or give another --port")
    for name in ("hub", "proxy_api", "service"):
        if not _port_is_free("127.0.0.1", room["ports"][name]):
            room["ports"][name] = _free_port()
    _write_trusted(room)
    # A proxy left by a hub stopped hard is stopped; a pid file naming another process (after a reboot) goes,
    # or JupyterHub would signal whatever has that pid now.
    proxy_pid_file = state / "hub" / "proxy.pid"
    if (proxy := _proxy_pid(state, room)) is not None:
        _stop(proxy)
    proxy_pid_file.unlink(missing_ok=True)
    with open(state / "hub" / "jupyterhub.log", "ab") as log:
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
    url = f"{_local_url(room)}hub/health"
    # Whether it answers, not who it is: any certificate will do.
    unverified = ssl._create_unverified_context()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterHub stopped: see {state / 'hub' / 'jupyterhub.log'}")
        try:
            with urllib.request.urlopen(url, timeout=2, context=unverified) as reply:
                if reply.status == 200:
                    return process
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"JupyterHub did not answer within 60 s: see {state / 'hub' / 'jupyterhub.log'}")


def _write_trusted(room):
    """With TLS, etc/trusted.pem: the system's certificate authorities and the hub's own certificate, which every
    server trusts (jupyterhub_config.py), a self-signed one too. Written at each start: a certificate is renewed."""
    path = Path(room["state"]) / "etc" / "trusted.pem"
    if not room.get("ssl_cert"):
        path.unlink(missing_ok=True)
        return
    system = ssl.get_default_verify_paths().cafile
    authorities = Path(system).read_text() if system else ""
    path.write_text(f"{authorities.rstrip()}\n{Path(room['ssl_cert']).read_text()}".lstrip())
    path.chmod(0o644)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except (ProcessLookupError, TypeError):
        return False


def _hub_pid(room):
    """The pid of this class's hub if it runs: the recorded pid, if that process was started for this state
    folder (so that a pid reused after a reboot, or an exited hub not yet waited for, is never taken for it)."""
    pid = room.get("hub_pid")
    try:
        environ = Path(f"/proc/{int(pid)}/environ").read_bytes().split(b"\0")
    except (OSError, TypeError, ValueError):
        return None
    return pid if f"ATTENTION_CLASSROOM={room['state']}".encode() in environ else None


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
            if _exited(pid):
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _exited(pid):
    """Gone, or a zombie (it has exited; only its parent has not collected it yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def stop(state, seconds=STOP_SECONDS):
    """Stop the class's hub: JupyterHub stops its users' servers, the course service and its proxy itself
    (SIGTERM); what is still running after ``seconds`` is killed. Removes nothing."""
    state = Path(state)
    room = load(state)
    proxy = _proxy_pid(state, room)  # found before the hub goes: a hub stopped hard leaves its proxy running
    if (hub := _hub_pid(room)) is not None:
        os.kill(hub, signal.SIGTERM)
        deadline = time.monotonic() + seconds
        while _hub_pid(room) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        if _hub_pid(room) is not None:
            os.killpg(hub, signal.SIGKILL)
    if proxy and _proxy_pid(state, room) == proxy:
        _stop(proxy)


def down(state):
    """Remove one class, without asking: stop its hub, its proxy and every process of its accounts, delete the
    accounts and groups, then the folder. :func:`sweep`, the tests and ``teardown`` (once confirmed) use it."""
    state = Path(state)
    room = load(state)
    # JupyterHub starts its proxy in a session of its own (so that it can outlive a restart of the hub): stopping
    # the hub's process group does not reach it, and a hub stopped hard never stops it. Found before anything goes.
    proxy = _proxy_pid(state, room)
    if (hub := _hub_pid(room)) is not None:
        os.killpg(hub, signal.SIGTERM)  # the hub, its proxy and the course service
        for _ in range(50):
            if _hub_pid(room) is None:
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
    if (hub := _hub_pid(room)) is not None:
        os.killpg(hub, signal.SIGKILL)
    if proxy and _proxy_pid(state, room) == proxy:  # still there: the hub did not stop it
        _stop(proxy)
    shutil.rmtree(state)


def sweep():
    """Remove the throw-away classes of runs that ended without cleaning up (their owner process is gone). A
    class kept for a term has no owner process: it is never swept."""
    for state in BASE.glob(f"{STATE_PREFIX}*"):
        try:
            room = load(state)
        except (OSError, ValueError):
            continue
        if room.get("owner_pid") and not _pid_alive(room["owner_pid"]):
            down(state)


def teardown(state, yes=False, ask=input):
    """``teardown``: say what goes, ask for the course id or "yes" (unless ``yes``), then remove the class.
    Returns whether it was removed."""
    _need_root()
    state = Path(state).resolve()
    try:
        room = load(state)
    except OSError:
        raise SystemExit(f"{state}: no class here (no classroom.json)") from None
    if Path(room["state"]) != state:
        raise SystemExit(f"{state}: its classroom.json describes {room['state']}: refusing")
    print(f"This removes the class {room['course']} kept in {state}:")
    print(f"  {len(room['accounts'])} Unix accounts ({', '.join(room['accounts'][:4])}"
          f"{', ...' if len(room['accounts']) > 4 else ''}) with their homes and work,")  # fmt: skip
    print("  nbgrader's exchange with every submission, the course directory with its gradebook,")
    print(f"  the hub's database, and {state} itself.")
    if not yes:
        try:
            answer = ask(f"Type the course id ({room['course']}) or yes to remove it: ").strip()
        except EOFError:
            answer = ""
        if answer not in (room["course"], "yes"):
            print("Nothing removed.")
            return False
    down(state)
    print("Removed.")
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    where = {
        "nargs": "?",
        "default": str(DEFAULT_STATE),
        "help": f"the class's folder (default {DEFAULT_STATE})",
    }
    start = commands.add_parser(
        "up", help="make the class, or resume it; run its hub until Ctrl-C or SIGTERM"
    )
    start.add_argument("state", **where)
    made_from = start.add_mutually_exclusive_group()
    made_from.add_argument("--roster", help="nbgrader's roster CSV: an account for each id not made yet")
    made_from.add_argument("--students", type=int, help="demo students, when the class is made (default 3)")
    start.add_argument(
        "--instructors", help="instructors' account names, comma-separated, when the class is made"
    )
    start.add_argument("--ip", help="the address to listen on (saved; at first 127.0.0.1; 0.0.0.0: all)")
    start.add_argument("--port", type=int, help="the port to listen on (saved; at first a free one)")
    start.add_argument("--ssl-cert", help="TLS certificate (chain) file: the hub serves https (saved)")
    start.add_argument("--ssl-key", help="its private key file (saved)")
    start.add_argument("--no-ssl", action="store_true", help="serve http again (a TLS proxy in front)")
    halt = commands.add_parser("stop", help="stop the class's hub (its up was killed); removes nothing")
    halt.add_argument("state", **where)
    remove = commands.add_parser(
        "teardown", help="remove the class: accounts, homes, exchange, gradebook, folder"
    )
    remove.add_argument("state", **where)
    remove.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    args = parser.parse_args()
    if args.command == "teardown":
        sys.exit(0 if teardown(args.state, yes=args.yes) else 1)
    _need_root()
    if args.command == "stop":
        stop(args.state)
        return
    state = Path(args.state).resolve()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM (systemd, kill) stops as Ctrl-C does
    signal.signal(signal.SIGHUP, signal.default_int_handler)
    settings = {"ip": args.ip, "port": args.port, "ssl_cert": args.ssl_cert, "ssl_key": args.ssl_key}
    try:
        if (state / "classroom.json").exists():
            if args.students or args.instructors:
                raise SystemExit(f"the class in {state} exists: --students and --instructors apply when it is"
                                 " made (--roster adds students)")  # fmt: skip
            room = resume(state, roster=args.roster, no_ssl=args.no_ssl, **settings)
        else:
            instructors = (
                [n.strip() for n in args.instructors.split(",") if n.strip()] if args.instructors else None
            )
            room = up(state, students=args.students, roster=args.roster, instructors=instructors, **settings)
    except KeyboardInterrupt:
        raise SystemExit("interrupted") from None
    try:
        try:
            process = start_hub(room)
        except RuntimeError as error:
            raise SystemExit(str(error)) from None
        _announce(room)
        process.wait()
        print(f"JupyterHub stopped on its own: see {state / 'hub' / 'jupyterhub.log'}", flush=True)
        sys.exit(1)
    except KeyboardInterrupt:
        print("stopping the hub (the class stays: up resumes it, teardown removes it)", flush=True)
    finally:
        try:
            stop(state)
        except OSError:  # a teardown (or the sweep of a throw-away class) removed the class meanwhile
            pass


def _announce(room):
    ip, state = room.get("ip", "127.0.0.1"), room["state"]
    where = "loopback only" if ipaddress.ip_address(ip).is_loopback else f"listening on {ip}"
    print(f"\nJupyterHub: {public_url(room)}  ({where}{', TLS' if room.get('ssl_cert') else ''})")
    print(f"formgrader: log in as an instructor, then Nbgrader > Courses > {room['course']}")
    if room["passwords"]:
        print("\nNew accounts. Their passwords are shown this once and stored nowhere (as root, passwd NAME sets"
              " another):")  # fmt: skip
        for name, password in room["passwords"].items():
            if name != room["grader"]:  # nobody logs in as the grader: the course service runs as it
                print(f"  {name:28} password {password}")
    print(f"\nThe class is kept in {state}: up resumes it, teardown removes it (python deploy/classroom.py")
    print(f"teardown {state}, or make hub-teardown).")
    print("Ctrl-C (or SIGTERM) stops the hub and removes nothing.", flush=True)


if __name__ == "__main__":
    main()
