"""A class on JupyterHub, end to end, between real Unix accounts, through HTTP as people would use it.

deploy/classroom.py makes the class from a roster (accounts, exchange, the grader's course, the class environment)
and starts the hub of deploy/jupyterhub_config.py, serving https with a certificate of its own on loopback. Three
students log in at the hub's login page, the hub starts their servers, they list and fetch the assignment through
nbgrader's server extension (the Assignments tab's API), run notebook 02 in a kernel of their own server, save
answers (right, wrong, none) and submit: two of them hand in only the notebooks they worked on (02 and 08), the
third all eight as fetched. One of them also tries what a student should not be able to do. Then the hub stops,
as Ctrl-C would, and starts again from the same folder with the command an operator runs (`classroom.py up`),
given a roster with a student enrolled late: the accounts, passwords, submissions, logins and the hub's users are
all still there. The instructor's steps then run as the grader account in the course directory (the course
service's terminal): collect, autograde, feedback, export. The students fetch their feedback. The same
submissions, graded in the single-machine workflow, must get the same grades. At the end, SIGTERM stops the hub
and removes nothing, and teardown removes nothing until told yes, then everything.

It needs root (it makes Unix accounts). Everything it makes, it records first and removes at the end, even when
the run is interrupted (the next run's sweep removes a class whose run is gone).
"""

import csv
import datetime
import grp
import hashlib
import io
import ipaddress
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import (
    ASSIGNMENT,
    COURSE_ID,
    ENV,
    NOTEBOOKS,
    QUIZ_KEY,
    ROOT,
    class_environment,
    function_points,
    make_course,
    quiz_cell,
    quiz_points,
)
from hub_client import HubUser
from mistakes import MISTAKES, REFERENCE
from test_browser import SHOTS, chromium

sys.path.insert(0, str(ROOT / "deploy"))
import classroom  # noqa: E402

if os.geteuid() != 0:
    pytest.skip("makes Unix accounts: needs root (CI runs as root)", allow_module_level=True)

SOFTMAX, QUIZ = "02_softmax", "08_end_of_lesson_check"
WRONG_SOFTMAX = MISTAKES["softmax"]["no_max_subtraction"][0]
WRONG_HINT = (
    "np.exp overflowed"  # the start of that mistake's hint (helpers/grading/exercises/nb02_softmax.py)
)
# What each student hands in: {notebook: {grade_id: code}}, and the points it earns.
WORK = {
    "right": (
        {SOFTMAX: {"softmax": REFERENCE["softmax"]}, QUIZ: {"quiz_answers": quiz_cell(QUIZ_KEY)}},
        function_points(SOFTMAX, "softmax") + quiz_points(QUIZ_KEY),
    ),
    "wrong": (
        {SOFTMAX: {"softmax": WRONG_SOFTMAX}, QUIZ: {"quiz_answers": quiz_cell("A" * 15)}},
        quiz_points("A" * len(QUIZ_KEY)),
    ),
    "empty": ({}, 0),
}
MADE_BY_HAND = {"forged", "linked", "locked"}  # the wrong student's folders in inbound/ (_attack)
# The roster (nbgrader's columns), one student per kind of work; the ids get this run's prefix. LATE is on the roster
# the hub is started again with: a student enrolled late, who then opens the course in the browser.
ROSTER = {
    "right": ("Ada", "Lovelace", "ada@example.org", "1001"),
    "wrong": ("Alan", "Turing", "alan@example.org", "1002"),
    "empty": ("Grace", "Hopper", "grace@example.org", "1003"),
}
LATE = ("late", ("Edsger", "Dijkstra", "edsger@example.org", "1004"))
CLASSROOM = [sys.executable, "-u", str(ROOT / "deploy" / "classroom.py")]  # as `make hub` runs it


# The instructor's steps after the students submit, as docs/instructors.md gives them (a test checks it).
INSTRUCTOR_STEPS = [
    ("nbgrader", "collect", ASSIGNMENT),
    ("python", "-m", "helpers.grading.autograde", ASSIGNMENT),
    ("nbgrader", "generate_feedback", ASSIGNMENT),
    ("nbgrader", "release_feedback", ASSIGNMENT),
    ("nbgrader", "export"),
]


def _fill(notebook, codes):
    for cell in notebook["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in codes:
            cell["source"] = codes[meta["grade_id"]].strip()
    return notebook


def _grades(course_dir):
    """nbgrader export's grades.csv as {student: score}."""
    rows = csv.DictReader(io.StringIO((Path(course_dir) / "grades.csv").read_text()))
    return {row["student_id"]: float(row["score"]) for row in rows}


def _write_roster(path, prefix, kinds):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(classroom.ROSTER_COLUMNS)
        writer.writerows([f"{prefix}-{kind}", *details] for kind, details in kinds)
    return path


def _certificate(folder):
    """A self-signed certificate for 127.0.0.1 (an operator's would name the machine), and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert, private = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    private.chmod(0o600)
    return cert, private


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    """Run the whole term once; the tests below read what happened. ``hub["process"]``: what runs the hub, the
    hub itself at first, then the `classroom.py up` command that resumed the class."""
    started = time.perf_counter()
    environment = class_environment()  # shared with test_class_release.py where every account can reach it
    folder = tmp_path_factory.mktemp("hub")
    prefix = "ac" + secrets.token_hex(3)
    roster = _write_roster(folder / "roster.csv", prefix, ROSTER.items())
    _write_roster(folder / "roster-late.csv", prefix, [*ROSTER.items(), LATE])
    cert, key = _certificate(folder)
    room = classroom.up(
        roster=roster, ssl_cert=cert, ssl_key=key, environment=environment, log=lambda _: None
    )
    hub = {"process": None}
    try:
        hub["process"] = classroom.start_hub(room)
        seen = _teach(room, hub, folder)
        yield seen | {"room": room, "hub": hub, "seconds": time.perf_counter() - started}
    finally:
        process = hub["process"]
        if process is not None and process.poll() is None:
            process.terminate()  # the command stops its hub; the hub its servers
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                process.kill()
        if Path(room["state"]).exists():
            classroom.down(room["state"])
        if process is not None:
            process.wait()


def _teach(room, hub, folder):
    base, ca = classroom.public_url(room).rstrip("/"), str(folder / "cert.pem")
    seen = {"base": base, "ca": ca}
    people = dict(zip(WORK, room["students"]))  # the roster's order
    users = {kind: HubUser(base, name, room["passwords"][name], ca) for kind, name in people.items()}
    for user in users.values():
        seen.setdefault("login", []).append(user.log_in().status_code)
    seen["hub cookies"] = {
        c.name: c.secure for c in users["right"].session.cookies if c.name.startswith("jupyterhub-")
    }
    for kind, user in users.items():
        user.wait_for_server()
        seen.setdefault("listed", {})[kind] = user.assignments(COURSE_ID)
        seen.setdefault("fetched", {})[kind] = user.assignment_action("fetch", COURSE_ID, ASSIGNMENT)

    # The right student runs notebook 02 in a kernel of their own server, then checks what it can see.
    kernel = users["right"].start_kernel(ASSIGNMENT)
    notebook = _fill(users["right"].read_notebook(f"{ASSIGNMENT}/{SOFTMAX}.ipynb"), WORK["right"][0][SOFTMAX])
    seen["ran"] = [kernel.run("".join(c["source"])) for c in notebook["cells"] if c["cell_type"] == "code"]
    seen["identity"] = kernel.run("import getpass, helpers; print(getpass.getuser(), helpers.__file__)")
    seen["grading_package"] = kernel.run("import helpers.grading")
    kernel.shut_down()

    for kind, user in users.items():
        for name, codes in WORK[kind][0].items():
            path = f"{ASSIGNMENT}/{name}.ipynb"
            user.save_notebook(path, _fill(user.read_notebook(path), codes))
        if WORK[kind][0]:  # hands in the notebooks they worked on; the others are deleted, as a student may
            for entry in user.get(f"api/contents/{ASSIGNMENT}").json()["content"]:
                if entry["name"].endswith(".ipynb") and entry["name"][:-6] not in WORK[kind][0]:
                    user.delete(entry["path"])
        seen.setdefault("submitted", {})[kind] = user.assignment_action("submit", COURSE_ID, ASSIGNMENT)

    inbound = Path(room["state"]) / "exchange" / COURSE_ID / "inbound"
    (theirs,) = [name for name in os.listdir(inbound) if name.startswith(f"{people['right']}+")]  # as root
    seen["attacks"] = _attack(room, users["wrong"], people, inbound / theirs)
    seen["inbound"] = {
        str(path.relative_to(inbound)): _owner_group_mode(path) for path in [inbound, *inbound.rglob("*")]
    }

    seen["restart"], users = _restart(room, hub, users, folder)

    course = Path(room["course_dir"])
    ran = {command[1]: classroom.grader_command(room, *command) for command in INSTRUCTOR_STEPS}
    seen["collect"] = ran["collect"]
    seen["grades"] = _grades(course)
    seen["exported"] = {
        row["student_id"]: row for row in csv.DictReader(io.StringIO((course / "grades.csv").read_text()))
    }

    for kind, user in users.items():
        user.assignment_action("fetch_feedback", COURSE_ID, ASSIGNMENT)
        listing = user.get(f"api/contents/{ASSIGNMENT}/feedback").json()["content"]
        (stamp,) = [entry["name"] for entry in listing]
        reply = user.read_file(f"{ASSIGNMENT}/feedback/{stamp}/{SOFTMAX}.html")
        seen.setdefault("feedback", {})[kind] = reply.json()["content"] if reply.ok else ""

    seen["formgrader"] = _formgrader(room, base, ca)
    seen["single_machine"] = _grade_on_one_machine(course, people)
    return seen


def _kept(room):
    """What a stop must leave as it was: accounts, groups, homes, the exchange's submissions, the gradebook's and
    the hub's files (the hub's database changes as it stops servers: it is only there), classroom.json."""
    state, course = Path(room["state"]), Path(room["course_dir"])
    inbound = state / "exchange" / COURSE_ID / "inbound"

    def digest(path):
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None

    return {
        "accounts": sorted(name for name in room["accounts"] if classroom._exists(name)),
        "groups": sorted(name for name in room["groups"] if classroom._group_exists(name)),
        "homes": sorted(path.name for path in (state / "home").iterdir()),
        "inbound": sorted(str(path.relative_to(inbound)) for path in inbound.rglob("*")),
        "gradebook": digest(course / "gradebook.db"),
        "roster": digest(course / "roster.csv"),
        "cookie secret": digest(state / "hub" / "cookie_secret"),
        "hub database": (state / "hub" / "jupyterhub.sqlite").exists(),
        "classroom.json": digest(state / "classroom.json"),
    }


def _processes_of(room):
    """The processes that run as one of the class's accounts (servers, kernels, the course service)."""
    uids = {pwd.getpwnam(name).pw_uid for name in room["accounts"] if classroom._exists(name)}
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid in uids:
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:200])
        except OSError:
            continue
    return found


def _left_running(room, seconds=15):
    """What still runs of the class after a stop (the hub, its proxy, servers, the course service): nothing,
    within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        saved = classroom.load(room["state"])
        left = _processes_of(room)
        if classroom._hub_pid(saved) is not None:
            left.append("the hub")
        if classroom._proxy_pid(room["state"], saved) is not None:
            left.append("the proxy")
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.3)


def _hub_users(room):
    """{name: created} from the hub's database."""
    path = Path(room["state"]) / "hub" / "jupyterhub.sqlite"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return dict(db.execute("SELECT name, created FROM users"))


def _restart(room, hub, users, folder):
    """Stop the hub after the submissions, as Ctrl-C would (classroom.stop); see what is left; start it again from
    the same folder with the command `make hub` runs, given the roster with a student enrolled late (no other
    option: the address, the port and TLS are the saved ones). The students log in again, with the same
    passwords. Returns what was seen, and the students' new sessions."""
    state, base, ca = Path(room["state"]), classroom.public_url(room).rstrip("/"), str(folder / "cert.pem")
    seen = {"before": _kept(room)}
    classroom.stop(state)
    hub["process"].wait(timeout=30)
    seen["left running"] = _left_running(room)
    seen["after stop"] = _kept(room)
    seen["hub users before"] = _hub_users(room)

    command = [*CLASSROOM, "up", str(state), "--roster", str(folder / "roster-late.csv")]
    hub["process"] = process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    printed = []
    for line in process.stdout:  # until it says how to stop it, once the hub answers (or it ends)
        printed.append(line)
        if line.startswith("Ctrl-C"):
            break
    seen["printed"] = "".join(printed)
    assert process.poll() is None, seen["printed"]
    room.update(classroom.load(state))  # the late student's account; everything but the passwords
    late = room["students"][-1]
    assert late.endswith(f"-{LATE[0]}"), room["students"]
    (password,) = re.findall(rf"^  {late} +password (\S+)$", seen["printed"], re.M)
    room["passwords"][late] = password
    seen["after restart"] = _kept(room)

    # Their browsers' sessions from before: the hub knows them still (its database and cookie secret stayed).
    replies = [user.session.get(f"{base}/hub/home") for user in users.values()]
    seen["sessions"] = [(reply.status_code, reply.url) for reply in replies]
    users = {kind: HubUser(base, user.name, room["passwords"][user.name], ca) for kind, user in users.items()}
    seen["login"] = [user.log_in().status_code for user in users.values()]
    for user in users.values():
        user.wait_for_server()
    # The late student's password works (a redirect into the hub; not followed: no server started for it).
    seen["late login"] = HubUser(base, late, password, ca).log_in(follow=False).status_code
    seen["hub users after"] = _hub_users(room)
    return seen, users


def _owner_group_mode(path):
    info = path.lstat()
    return pwd.getpwuid(info.st_uid).pw_name, grp.getgrgid(info.st_gid).gr_name, stat.filemode(info.st_mode)


def _attack(room, user, people, submission):
    """From the wrong student's own kernel: read others' work, the answers, the gradebook; submit as another.
    The right student's submission in inbound/ is named by its exact path, as if its random name had leaked."""
    course, exchange = Path(room["course_dir"]), Path(room["state"]) / "exchange" / COURSE_ID
    other_home = Path(room["state"]) / "home" / people["right"]
    targets = {
        "another student's notebooks": other_home / ASSIGNMENT / f"{SOFTMAX}.ipynb",
        "the exchange's inbound folder": exchange / "inbound",
        "another student's submission, by its exact path": submission,
        "a notebook in another student's submission": submission / f"{SOFTMAX}.ipynb",
        "the secret of another student's submission": submission / "submission_secret.txt",
        "the instructor's source/": course / "source" / ASSIGNMENT / f"{SOFTMAX}.ipynb",
        "the gradebook": course / "gradebook.db",
        "the collected submissions": course / "submitted",
        "the solutions' module": course / "helpers" / "grading" / "reference.py",
    }
    kernel = user.start_kernel()
    results = {}
    for what, path in targets.items():
        code = (
            f"import os\np = {str(path)!r}\nprint(os.listdir(p) if os.path.isdir(p) else open(p).read()[:50])"
        )
        results[what] = kernel.run(code)
    # A forged submission: the wrong student's own notebooks, named as the right student's, newer than theirs.
    forged = exchange / "inbound" / f"{people['right']}+{ASSIGNMENT}+2099-01-01 00:00:00.000000 UTC+forged"
    results["forge"] = kernel.run(
        f"import os, shutil\nshutil.copytree(os.path.expanduser('~/{ASSIGNMENT}'), {str(forged)!r})\nprint('written')"
    )
    # Their own, newer: 02 a link to the solution in the grader's source/ (the grader can read it), or unreadable.
    own = exchange / "inbound" / f"{people['wrong']}+{ASSIGNMENT}+2099-01-0"
    solution = course / "source" / ASSIGNMENT / f"{SOFTMAX}.ipynb"
    results["link"] = kernel.run(
        f"import os, shutil\nd = {str(own) + '2 00:00:00.000000 UTC+linked'!r}\n"
        f"shutil.copytree(os.path.expanduser('~/{ASSIGNMENT}'), d)\nos.remove(d + '/{SOFTMAX}.ipynb')\n"
        f"os.symlink({str(solution)!r}, d + '/{SOFTMAX}.ipynb')\nprint('written')"
    )
    results["lock"] = kernel.run(
        f"import os, shutil\nd = {str(own) + '3 00:00:00.000000 UTC+locked'!r}\n"
        f"shutil.copytree(os.path.expanduser('~/{ASSIGNMENT}'), d)\nos.chmod(d, 0o700)\nprint('written')"
    )
    results["move"] = kernel.run(f"import os\nos.rename({str(submission)!r}, {str(submission) + '-moved'!r})")
    kernel.shut_down()
    return results


def _formgrader(room, base, ca):
    """An instructor finds the course in their course list and opens formgrader there; a student is refused."""
    replies = {}
    for who in (room["instructors"][0], room["students"][0]):
        user = HubUser(base, who, room["passwords"][who], ca)
        user.log_in()
        page = user.session.get(f"{base}/services/{COURSE_ID}/formgrader")
        api = user.session.get(f"{base}/services/{COURSE_ID}/formgrader/api/assignments")
        replies[who] = {
            "page": (page.status_code, "<title>nbgrader formgrade</title>" in page.text),
            "frames": page.headers.get("Content-Security-Policy"),
            "assignments": [a["name"] for a in api.json()]
            if api.ok and api.text.startswith("[")
            else api.status_code,
        }
    instructor = HubUser(base, room["instructors"][0], room["passwords"][room["instructors"][0]], ca)
    instructor.log_in()
    instructor.wait_for_server()
    replies["course list"] = instructor.get("formgraders").json()["value"]
    return replies


def _grade_on_one_machine(collected_course, people):
    """The single-machine workflow (docs/instructors.md) on copies of the same submissions."""
    course = make_course(Path(collected_course).parent.parent.parent / "single-machine" / "course")
    shutil.copytree(Path(collected_course) / "submitted", course / "submitted")

    def run(*command):
        return subprocess.run(
            [sys.executable if command[0] == "python" else command[0], *command[1:]],
            cwd=course,
            env=ENV,
            capture_output=True,
            text=True,
            check=True,
        )

    run("python", "-m", "helpers.grading.autograde", ASSIGNMENT)
    run("nbgrader", "export")
    return _grades(course)


def test_each_student_logs_in_and_gets_a_server_of_their_own(term):
    assert term["login"] == [200] * 3
    assert term["base"].startswith("https://127.0.0.1:"), "TLS, on loopback"
    hub_cookies = {
        name: secure for name, secure in term["hub cookies"].items() if name.startswith("jupyterhub-hub")
    }
    assert hub_cookies and all(hub_cookies.values()), (
        f"the hub's login cookie is for https alone: {hub_cookies}"
    )
    name, where = term["identity"][1].split()
    assert name == term["room"]["students"][0], "the kernel runs as the student's own account"
    environment = (Path(term["room"]["state"]) / "env").resolve()  # a link to the shared class environment
    assert Path(where).resolve().is_relative_to(environment), "the class environment's student package"


def test_students_list_and_fetch_the_assignment(term):
    for listed in term["listed"].values():
        (entry,) = listed["value"]
        assert (entry["course_id"], entry["assignment_id"], entry["status"]) == (
            COURSE_ID,
            ASSIGNMENT,
            "released",
        )
        assert len(entry["notebooks"]) == 8
    for fetched in term["fetched"].values():
        assert {e["status"] for e in fetched["value"]} == {"fetched"}


def test_notebook_runs_in_the_students_kernel_and_the_check_passes(term):
    assert [status for status, _, _ in term["ran"]] == ["ok"] * len(term["ran"])
    printed = "".join(text for _, text, _ in term["ran"])
    assert "softmax" in printed and "passed" in printed.lower(), printed[-2000:]


def test_students_servers_have_no_grading_package(term):
    status, _, error = term["grading_package"]
    assert status == "error" and error.startswith("ModuleNotFoundError")


def test_every_student_submitted(term):
    for submitted in term["submitted"].values():
        assert {e["status"] for e in submitted["value"]} >= {"submitted"}
    # Collected as handed in: the notebooks each worked on; the empty student's eight as fetched.
    people = dict(zip(WORK, term["room"]["students"]))
    for kind, (work, _) in WORK.items():
        folder = Path(term["room"]["course_dir"]) / "submitted" / people[kind] / ASSIGNMENT
        names = sorted(path.stem for path in folder.glob("*.ipynb"))
        assert names == (sorted(work) or sorted(NOTEBOOKS)), kind


@pytest.mark.parametrize(
    "what",
    [
        "another student's notebooks",
        "the exchange's inbound folder",
        "another student's submission, by its exact path",
        "a notebook in another student's submission",
        "the secret of another student's submission",
        "the instructor's source/",
        "the gradebook",
        "the collected submissions",
        "the solutions' module",
    ],
)
def test_a_student_cannot_read(term, what):
    status, printed, error = term["attacks"][what]
    assert status == "error" and error.startswith("PermissionError"), (what, printed)


def test_a_submission_is_readable_by_its_author_and_the_graders_only(term):
    """inbound/: students write, cannot list; what they make there takes the graders' group (setgid).
    PrivateSubmit makes every submission's folders 770 and its files 640: its author and the graders, no one else."""
    room, seen = term["room"], term["inbound"]
    assert seen.pop(".") == (room["grader"], room["graders_group"], "drwx-ws-wt")  # 3733
    genuine = {path for path in seen if "/" not in path and path.rsplit("+")[-1] not in MADE_BY_HAND}
    assert len(genuine) == len(WORK)
    for name in genuine:
        student, assignment, _timestamp, random_part = name.split("+")
        assert student in room["students"] and assignment == ASSIGNMENT
        assert re.fullmatch(r"[A-Za-z0-9_-]{12}", random_part), "nbgrader's 9 random bytes, still there"
        inside = {path: how for path, how in seen.items() if path == name or path.startswith(f"{name}/")}
        assert f"{name}/{SOFTMAX}.ipynb" in inside and f"{name}/submission_secret.txt" in inside
        for path, how in inside.items():
            assert how in {(student, room["graders_group"], mode) for mode in ("drwxrwx---", "-rw-r-----")}, (
                path
            )


def test_a_submission_in_another_students_name_is_not_collected(term):
    assert term["attacks"]["forge"][0] == "ok", "the exchange lets anyone write into inbound/"
    assert "forged" in term["collect"].stderr and "Not collected" in term["collect"].stderr
    right = term["room"]["students"][0]
    assert term["grades"][right] == WORK["right"][1], (
        "the forged, worse work did not replace the student's own"
    )


def test_a_student_cannot_move_another_students_submission(term):
    status, _, error = term["attacks"]["move"]
    assert status == "error" and error.startswith("PermissionError"), "inbound/ is sticky"


def test_a_submission_that_links_elsewhere_or_cannot_be_read_is_not_collected(term):
    """The wrong student's own folders, newer than their submission: 02 a link to the grader's solution (nbgrader
    would copy the solution, with the grader's rights, and send it back as feedback), or a folder made 700."""
    assert term["attacks"]["link"][0] == term["attacks"]["lock"][0] == "ok"
    errors = [line for line in term["collect"].stderr.splitlines() if "Not collected" in line]
    assert any("+linked" in line and "a link" in line for line in errors), errors
    assert any("+locked" in line and "cannot be read" in line for line in errors), errors
    wrong = term["room"]["students"][1]
    assert term["grades"][wrong] == WORK["wrong"][1], "their own submission, not the solution"


def test_grades_are_what_each_submission_earns(term):
    """The export lists the whole roster (imported into the gradebook): the student enrolled late, who handed in
    nothing, with 0, and each student with the roster's names and email."""
    people = dict(zip(WORK, term["room"]["students"]))
    late = term["room"]["students"][-1]
    assert term["grades"] == {people[kind]: points for kind, (_, points) in WORK.items()} | {late: 0.0}
    for kind, (first, last, email, _lms_id) in [*ROSTER.items(), LATE]:
        row = term["exported"][people.get(kind, late)]
        assert (row["first_name"], row["last_name"], row["email"]) == (first, last, email)


def test_grades_equal_the_single_machine_workflow(term):
    single = term["single_machine"]
    assert single == {student: term["grades"][student] for student in single}
    assert set(single) == set(dict(zip(WORK, term["room"]["students"])).values())


def test_feedback_carries_the_hints_and_not_the_hidden_tests(term):
    assert WRONG_HINT in term["feedback"]["wrong"]
    assert WRONG_HINT not in term["feedback"]["right"]
    for page in term["feedback"].values():
        assert page and "BEGIN HIDDEN TESTS" not in page and "hidden_cases" not in page


def test_instructors_open_formgrader_and_students_cannot(term):
    instructor, student = term["room"]["instructors"][0], term["room"]["students"][0]
    (course,) = term["formgrader"]["course list"]
    assert (course["course_id"], course["kind"]) == (COURSE_ID, "jupyterhub")
    assert course["url"] == f"{term['base']}/services/{COURSE_ID}/lab?formgrader=true", "https, as it came in"
    assert (
        term["formgrader"][instructor]
        == {
            "page": (200, True),
            "frames": "frame-ancestors 'none'",  # formgrader in its own tab; no page may frame it (nbgrader's advice)
            "assignments": [ASSIGNMENT],
        }
    )
    assert term["formgrader"][student]["page"] == (403, False)
    assert term["formgrader"][student]["assignments"] == 403


def _log_in_with_the_browser(browser, term, name):
    # The hub's certificate is its own (self-signed): the browser is told to accept it.
    page = browser.new_page(viewport={"width": 1400, "height": 900}, ignore_https_errors=True)
    page.goto(f"{term['base']}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", term["room"]["passwords"][name])
    page.click("#login_submit")
    page.wait_for_selector("#jp-main-dock-panel", timeout=120_000)  # the hub started their JupyterLab
    return page


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def test_in_a_browser_a_student_fetches_and_opens_a_notebook(term, browser):
    page = _log_in_with_the_browser(browser, term, term["room"]["students"][-1])
    page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
    page.get_by_role("menuitem", name="Assignment List").click()
    page.get_by_text("Released assignments").wait_for()
    page.get_by_role("button", name="Fetch", exact=True).click()
    page.get_by_role("button", name="Submit", exact=True).wait_for()  # now under "Downloaded assignments"
    page.get_by_text(ASSIGNMENT, exact=True).click()
    page.get_by_text(SOFTMAX).click()
    page.wait_for_selector(
        ".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "hub-student-notebook.png")
    title = page.locator(".jp-NotebookPanel .jp-RenderedMarkdown h1").first
    title.wait_for()
    assert title.inner_text().startswith("02 · Softmax")
    page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
    tools = page.locator(".lm-Menu-content .lm-Menu-itemLabel").all_inner_texts()
    page.keyboard.press("Escape")
    assert "Assignment List" in tools and not {"Formgrader", "Course List", "Create assignment"} & set(tools)


def test_in_a_browser_an_instructor_opens_formgrader_from_the_hub(term, browser):
    page = _log_in_with_the_browser(browser, term, term["room"]["instructors"][1])
    page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
    page.get_by_role("menuitem", name="Course List").click()
    link = page.get_by_role("link", name=COURSE_ID)
    with page.context.expect_page() as opened:
        link.click()
    grading = opened.value
    grading.wait_for_load_state()
    assert f"/services/{COURSE_ID}/lab" in grading.url, "the course service's JupyterLab, through the hub"
    # Formgrader in a tab of its own, as nbgrader advises where users are not trusted (no page may frame it).
    grading.goto(grading.url.split("/lab")[0] + "/formgrader")
    row = grading.locator("tr", has_text=ASSIGNMENT).first
    row.wait_for(timeout=60_000)
    grading.screenshot(path=SHOTS / "hub-instructor-formgrader.png")
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == ASSIGNMENT and "released" in cells and "3" in cells, (
        f"three submissions collected: {cells}"
    )


def test_the_hub_stopped_and_started_again_from_its_folder_loses_nothing(term):
    """Between the submissions and the collection, the hub stopped as Ctrl-C stops it, and `classroom.py up`,
    given the class's folder and a roster with a student enrolled late, started it again."""
    seen, room, base = term["restart"], term["room"], term["base"]
    late, students = room["students"][-1], list(dict(zip(WORK, room["students"])).values())
    assert seen["left running"] == [], "stopping stops the hub, its proxy, the servers and the course service"
    assert seen["after stop"] == seen["before"], "stopping removes nothing"
    after = seen["after restart"]
    assert after["accounts"] == sorted([*seen["before"]["accounts"], late]), (
        "the accounts, and the late one's"
    )
    assert after["homes"] == sorted([*seen["before"]["homes"], late])
    for what in ("groups", "inbound", "cookie secret", "hub database"):
        assert after[what] == seen["before"][what], what
    assert sum("/" not in path for path in after["inbound"]) == len(WORK) + len(MADE_BY_HAND), "submissions"
    # The address, the port and TLS were saved: the command was given the roster alone.
    assert f"JupyterHub: {base}/  (loopback only, TLS)" in seen["printed"], seen["printed"]
    # Logins from before the restart are still good (the hub's database and cookie secret stayed), and so are
    # the passwords; only the new account's is printed, and none is stored.
    assert seen["sessions"] == [(200, f"{base}/hub/home")] * len(WORK)
    assert seen["login"] == [200] * len(WORK)
    assert seen["late login"] == 302, "a redirect into the hub: the late student's password works"
    assert re.findall(r"^  (\S+) +password ", seen["printed"], re.M) == [late]
    assert "passwords" not in json.loads((Path(room["state"]) / "classroom.json").read_text())
    # The hub's users (the students who logged in, the instructors of its formgrade group): the same ones, made
    # when they first came, and the late student.
    assert set(students) <= set(seen["hub users before"])
    assert {name: seen["hub users after"][name] for name in seen["hub users before"]} == seen[
        "hub users before"
    ]
    assert late in seen["hub users after"]


def test_sigterm_stops_the_hub_and_teardown_removes_the_class_once_told_yes(term):
    """The last test of the term (it ends it; the tests above run first, in file order). SIGTERM to `classroom.py
    up` (as systemd or kill sends it) stops the hub and removes nothing; `teardown` removes nothing when the answer
    is not the course id or yes (or there is none); with --yes, it removes everything, the accounts included."""
    room, process = term["room"], term["hub"]["process"]
    state = Path(room["state"])
    before = _kept(room)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=90) == 0
    assert _left_running(room) == []
    assert _kept(room) == before, "stopping removes nothing"
    teardown = [*CLASSROOM, "teardown", str(state)]
    for answer in ("no\n", ""):
        refused = subprocess.run(teardown, input=answer, cwd=ROOT, capture_output=True, text=True)
        assert refused.returncode == 1 and "Nothing removed." in refused.stdout, refused
    assert _kept(room) == before
    removed = subprocess.run([*teardown, "--yes"], cwd=ROOT, capture_output=True, text=True)
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert not state.exists()
    assert [name for name in room["accounts"] if classroom._exists(name)] == []
    assert [name for name in room["groups"] if classroom._group_exists(name)] == []


def test_a_student_does_not_submit_into_an_inbound_where_other_students_could_read_it(tmp_path):
    """PrivateSubmit's precondition: inbound/ hands its group to what is made in it (setgid), and that group is
    not one of the student's own (a group of all students, say), or the submission is refused."""
    from helpers.exchange_submit import inbound_is_private

    inbound = tmp_path / "inbound"
    inbound.mkdir()
    mine = {os.getegid(), *os.getgroups()}
    graders = next(group.gr_gid for group in grp.getgrall() if group.gr_gid not in mine)
    os.chown(inbound, -1, graders)
    inbound.chmod(0o2733)
    assert inbound_is_private(inbound)
    inbound.chmod(0o733)
    assert not inbound_is_private(inbound), "no setgid: a submission would keep its author's own group"
    os.chown(inbound, -1, os.getegid())
    inbound.chmod(0o2733)
    assert not inbound_is_private(inbound), "a group the student is in"


def test_a_class_left_behind_by_an_interrupted_run_is_removed_by_the_next(tmp_path, monkeypatch):
    """A run killed before it cleaned up (its owner process gone): sweep() removes what it recorded, only that."""
    monkeypatch.setattr(classroom, "BASE", tmp_path)
    state = tmp_path / f"{classroom.STATE_PREFIX}acdead1"
    state.mkdir()
    name = "acdead1-student01"
    dead = subprocess.Popen(["true"])
    dead.wait()
    room = {
        "state": str(state),
        "owner_pid": dead.pid,
        "accounts": [name, "acdead1-never-made"],
        "hub_pid": None,
    }
    classroom._save(room)
    subprocess.run(["useradd", "--no-create-home", "--user-group", name], check=True)
    bystander = tmp_path / f"{classroom.STATE_PREFIX}alive"  # a class whose run is still going: left alone
    bystander.mkdir()
    classroom._save({**room, "state": str(bystander), "owner_pid": os.getpid(), "accounts": []})
    kept = (
        tmp_path / f"{classroom.STATE_PREFIX}kept"
    )  # a class kept for a term (no owner process): left alone
    kept.mkdir()
    classroom._save({**room, "state": str(kept), "owner_pid": None, "accounts": []})
    try:
        classroom.sweep()
        assert not state.exists() and not classroom._exists(name)
        assert bystander.exists() and kept.exists()
    finally:
        if classroom._exists(name):
            subprocess.run(["userdel", name])
            subprocess.run(["groupdel", name], capture_output=True)


def test_the_guide_gives_the_commands_this_test_ran():
    """docs/instructors.md, "A class on JupyterHub": make hub and make hub-teardown, which run the commands run
    above (classroom.py up and teardown on the class's folder), and the instructor's commands."""
    section = (ROOT / "docs" / "instructors.md").read_text().split("## A class on JupyterHub", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks = re.findall(r"```console\n(.*?)```", section, re.S)
    commands = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    assert commands[0] == "make hub" and "make hub-teardown" in commands
    assert [" ".join(command) for command in INSTRUCTOR_STEPS] in [block.splitlines() for block in blocks]
    recipes = (ROOT / "Makefile").read_text()
    for command in ("up", "teardown"):
        assert f"$(BIN)/python deploy/classroom.py {command} $(HUB_STATE)" in recipes, command


def test_the_hub_serves_where_its_class_says_and_keeps_the_rest_on_loopback(tmp_path, monkeypatch):
    """`up --ip 0.0.0.0 --port 443 --ssl-cert F --ssl-key F`, as classroom.json keeps them: JupyterHub serves
    https on every address itself (its proxy started with TLS); the hub's API, the proxy's API, the course
    service and the servers stay on loopback. Options given later replace only themselves. (The term above
    serves TLS on loopback for real.)"""
    from traitlets.config import Config

    for name in ("cert.pem", "key.pem"):
        (tmp_path / name).write_text("")
    room = {
        "state": str(tmp_path),
        "course": COURSE_ID,
        "instructors": ["acconf-instructor1"],
        "grader": "acconf-grader",
        "students": ["acconf-student01"],
        "ip": "127.0.0.1",
        "ports": {"public": 8000, "hub": 8081, "proxy_api": 8001, "service": 8002},
        "config": {role: str(tmp_path / role) for role in ("everyone", "student", "instructor", "grader")},
        "course_dir": str(tmp_path / "course"),
    }
    monkeypatch.setenv("ATTENTION_CLASSROOM", str(tmp_path))

    def hub_config(**settings):
        classroom._settings(room, **settings)
        classroom._save(room)
        config, path = Config(), ROOT / "deploy" / "jupyterhub_config.py"
        exec(
            compile(path.read_text(), str(path), "exec"),
            {"get_config": lambda: config, "__file__": str(path)},
        )
        return config

    c = hub_config(ip="0.0.0.0", port=443, ssl_cert=tmp_path / "cert.pem", ssl_key=tmp_path / "key.pem")
    assert c.JupyterHub.bind_url == "https://0.0.0.0:443"
    assert (c.JupyterHub.ssl_cert, c.JupyterHub.ssl_key) == (
        str(tmp_path / "cert.pem"),
        str(tmp_path / "key.pem"),
    )
    assert c.ConfigurableHTTPProxy.command[1] == "-c"
    assert c.ConfigurableHTTPProxy.command[-1].endswith("configurable-http-proxy"), "as _proxy_pid finds it"
    assert c.JupyterHub.hub_ip == c.Spawner.ip == "127.0.0.1"
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:8001"
    (service,) = c.JupyterHub.services
    assert service["url"] == "http://127.0.0.1:8002"
    assert service["environment"]["SSL_CERT_FILE"] == str(tmp_path / "etc" / "trusted.pem"), (
        "its own certificate"
    )
    assert classroom._local_url(room) == "https://127.0.0.1:443/"
    c = hub_config(no_ssl=True, port=8443)
    assert c.JupyterHub.bind_url == "http://0.0.0.0:8443" and "ssl_cert" not in c.JupyterHub
    assert c.ConfigurableHTTPProxy.command == [str(tmp_path / "env" / "bin" / "configurable-http-proxy")]


@pytest.mark.parametrize(
    ("roster", "folder", "refusal"),
    [
        ("name,email\njsmith,j@example.org\n", None, "no id column"),
        ("id,first_name\nJane Smith,Jane\n", None, "not an account name"),
        ("id\nacroster-a\nacroster-a\n", None, "appears twice"),
        ("id\nroot\n", None, "exists already"),
        ("id\nacroster-a\n", "private/class", "closed to others"),  # homes no account could reach
    ],
)
def test_a_class_that_cannot_be_made_is_refused_before_anything_is_made(
    tmp_path, monkeypatch, roster, folder, refusal
):
    monkeypatch.setattr(classroom, "BASE", tmp_path)
    monkeypatch.setattr(classroom, "sweep", lambda: None)
    (tmp_path / "private").mkdir(mode=0o700)
    (tmp_path / "roster.csv").write_text(roster)
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(SystemExit, match=refusal):
        classroom.up(folder and tmp_path / folder, roster=tmp_path / "roster.csv")
    assert sorted(tmp_path.rglob("*")) == before


def test_the_proxy_the_hub_left_running_is_stopped_with_its_class(tmp_path, monkeypatch):
    """JupyterHub runs configurable-http-proxy in a session of its own: a hub stopped hard leaves it running
    (six were found after clean-clone runs). down() stops it by the pid file, and only if it is this class's."""
    monkeypatch.setattr(classroom, "BASE", tmp_path)
    state = tmp_path / f"{classroom.STATE_PREFIX}acproxy"
    (state / "hub").mkdir(parents=True)
    sleep = [sys.executable, "-c", "import time; time.sleep(120)"]
    proxy = subprocess.Popen(
        [*sleep, "configurable-http-proxy", "--api-port", "40123"], start_new_session=True
    )
    other = subprocess.Popen(
        [*sleep, "configurable-http-proxy", "--api-port", "40124"], start_new_session=True
    )
    try:
        (state / "hub" / "proxy.pid").write_text(f"{proxy.pid}\n")
        classroom._save({"state": str(state), "owner_pid": os.getpid(), "accounts": [], "hub_pid": None,
                         "ports": {"proxy_api": 40123}})  # fmt: skip
        assert classroom._proxy_pid(state, classroom.load(state)) == proxy.pid
        classroom.down(state)
        assert proxy.wait(timeout=10) is not None and not state.exists()
        assert other.poll() is None, "another class's proxy is left alone"
    finally:
        for process in (proxy, other):
            process.kill()
            process.wait()
