# JupyterHub for one class of attention-course, laid out as nbgrader's demo "one class, multiple graders":
#  - every person logs in with a Unix account (PAM) and gets a Jupyter server of their own, run as that account;
#  - the course's grading server is a hub *service* run as the course's grader account, in the course directory
#    (a copy of this repository: source/, the gradebook, helpers.grading); the instructors reach it through the
#    JupyterHub group formgrade-<course>, which nbgrader's course list reads;
#  - students' servers run the class environment (the student package as a wheel: no solutions, no grader) with
#    jupyter-config/student/ (no formgrader, no create-assignment); assignments move through nbgrader's
#    filesystem exchange, where a submission is readable by its author and the graders' group alone (students
#    submit with helpers.exchange_submit.PrivateSubmit; the grader account is in the group, and the hub starts
#    the service with the account's groups).
# deploy/classroom.py writes what varies (accounts, ports, folders) to classroom.json and starts the hub with this
# file; see docs/instructors.md, "A class on JupyterHub".
import json
import os
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub defines it)

room = json.loads((Path(os.environ["ATTENTION_CLASSROOM"]) / "classroom.json").read_text())
state = Path(room["state"])
course = room["course"]
env_bin = state / "env" / "bin"
instructors, grader, students = room["instructors"], room["grader"], room["students"]

# Everything listens on loopback: a reverse proxy with TLS in front of the public port is the deployment's job.
c.JupyterHub.bind_url = f"http://127.0.0.1:{room['ports']['public']}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = room["ports"]["hub"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{room['ports']['proxy_api']}"
c.ConfigurableHTTPProxy.command = [str(env_bin / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(state / "hub" / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{state / 'hub' / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "hub" / "cookie_secret")
c.JupyterHub.pid_file = str(state / "hub" / "jupyterhub.pid")

c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(instructors + students)

# The group's name must start with formgrade-: nbgrader's course list finds the grading service through it.
c.JupyterHub.load_groups = {f"formgrade-{course}": {"users": instructors}}
c.JupyterHub.load_roles = [
    {
        "name": f"formgrade-{course}",
        "groups": [f"formgrade-{course}"],
        "scopes": [f"access:services!service={course}", "list:services", f"read:services!service={course}"],
    },
    # A user's server may do what its owner may: the course list asks the hub which services that is.
    {"name": "server", "scopes": ["inherit"]},
]

# The grading server: formgrader in the course directory, as the grader account. PYTHONPATH puts the whole
# course (helpers.grading among it) first, for `python -m helpers.grading.autograde` and the exchange's
# collect step (nbgrader_config.py).
course_dir = Path(room["course_dir"])
c.JupyterHub.services = [
    {
        "name": course,
        "url": f"http://127.0.0.1:{room['ports']['service']}",
        "command": [str(env_bin / "jupyterhub-singleuser"), f"--ServerApp.root_dir={course_dir}"],
        "user": grader,
        # The course's own server: instructors are not asked to confirm that it may know who they are.
        "oauth_no_confirm": True,
        "cwd": str(course_dir),
        "environment": {
            "JUPYTERHUB_DEFAULT_URL": "/lab",
            "JUPYTER_CONFIG_PATH": os.pathsep.join([room["config"]["grader"], room["config"]["everyone"]]),
            "PYTHONPATH": str(course_dir),
            "PATH": f"{env_bin}:/usr/bin:/bin",
        },
    }
]

c.Spawner.cmd = [str(env_bin / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.ip = "127.0.0.1"
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 60


def choose_environment(spawner):
    """Students: no instructor tools; instructors: the course list, which links to the grading service."""
    role = "student" if spawner.user.name in students else "instructor"
    spawner.environment.update(
        {
            "JUPYTER_CONFIG_PATH": os.pathsep.join([room["config"][role], room["config"]["everyone"]]),
            "PATH": f"{env_bin}:/usr/bin:/bin",
        }
    )


c.Spawner.pre_spawn_hook = choose_environment
