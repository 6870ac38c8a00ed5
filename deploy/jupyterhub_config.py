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
# deploy/classroom.py writes what varies (accounts, ports, address, TLS, folders) to classroom.json and starts the
# hub with this file; the hub's database and cookie secret stay in the class's folder, so that a hub started again
# knows its users and their logins. See docs/instructors.md, "A class on JupyterHub".
import json
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub defines it)

room = json.loads((Path(os.environ["ATTENTION_CLASSROOM"]) / "classroom.json").read_text())
state = Path(room["state"])
course = room["course"]
env_bin = state / "env" / "bin"
instructors, grader, students = room["instructors"], room["grader"], room["students"]

# The public port listens where classroom.json says (127.0.0.1 unless the operator chose, 0.0.0.0 for everyone),
# with TLS when it names a certificate; the hub's API, the proxy's API, the course service and every server stay
# on loopback.
ip = room.get("ip", "127.0.0.1")
tls = bool(room.get("ssl_cert"))
c.JupyterHub.bind_url = (
    f"{'https' if tls else 'http'}://{f'[{ip}]' if ':' in ip else ip}:{room['ports']['public']}"
)
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = room["ports"]["hub"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{room['ports']['proxy_api']}"
c.ConfigurableHTTPProxy.command = [str(env_bin / "configurable-http-proxy")]
# The proxy is the Python configurable-http-proxy (no Node.js), whose command line refuses --ssl-key and
# --ssl-cert ("not supported yet"), although its server (tornado's) can serve TLS. So with a certificate it is
# started through the few lines below: they take those two options off its command line and hand tornado's server
# of the public port (not the API's) a TLS context. They also make X-Forwarded-Proto say https, as Node's proxy
# would (this one takes the scheme from the request's URI, which holds the path alone, so it always says http):
# the hub and the servers behind it then know that a request came in https, mark their cookies secure, and
# nbgrader's course list links to https. The proxy's script stays on the command line, by which
# deploy/classroom.py recognises the proxy.
TLS_PROXY = """
import ssl, sys
from configurable_http_proxy import cli, handlers
args = sys.argv[2:]
def take(flag):
    at = args.index(flag)
    value = args[at + 1]
    del args[at : at + 2]
    return value
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(take("--ssl-cert"), take("--ssl-key"))
made, plain = [], cli.HTTPServer
class Proxy(cli.PythonProxy):
    def __init__(self, *arguments, **keywords):
        super().__init__(*arguments, **keywords)
        made.append(self)
def server(app, **keywords):
    return plain(app, ssl_options=context if app is made[0].proxy_app else None, **keywords)
build = handlers.ProxyHandler._get_proxy_request
def forwarded_https(self, url):
    request = build(self, url)
    headers = {k: v for k, v in request.headers.items() if k.lower() != "x-forwarded-proto"}
    request.headers = {**headers, "X-Forwarded-Proto": "https"}
    return request
cli.PythonProxy, cli.HTTPServer, handlers.ProxyHandler._get_proxy_request = Proxy, server, forwarded_https
cli.main(args, prog_name="configurable-http-proxy")
"""
if tls:
    c.JupyterHub.ssl_cert = room["ssl_cert"]
    c.JupyterHub.ssl_key = room["ssl_key"]
    c.ConfigurableHTTPProxy.command = [
        str(env_bin / "python"),
        "-c",
        TLS_PROXY,
        str(env_bin / "configurable-http-proxy"),
    ]

# Every server trusts the hub's certificate, besides the system's authorities (etc/trusted.pem, which
# deploy/classroom.py writes when the hub starts): nbgrader's course list calls the hub's public address from the
# instructor's server, which must work with a self-signed certificate too.
trusted = {"SSL_CERT_FILE": str(state / "etc" / "trusted.pem")} if tls else {}

c.ConfigurableHTTPProxy.pid_file = str(state / "hub" / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{state / 'hub' / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "hub" / "cookie_secret")
c.JupyterHub.pid_file = str(state / "hub" / "jupyterhub.pid")

# Who may log in (deploy/login.py, docs/login.md): the class's roster (kept in the course directory and imported
# into the gradebook) and the instructors; nobody else, not even someone the hub's database remembers.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import login  # noqa: E402

roster = Path(room["course_dir"]) / "roster.csv"
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(instructors) | (
    login.allowed_from_roster(roster) if roster.exists() else set(students)
)
c.Authenticator.allow_existing_users = False

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
        # The sandbox probe first (helpers/grading/service.py): without a working sandbox it does not start.
        "command": [
            str(env_bin / "python"),
            "-m",
            "helpers.grading.service",
            f"--ServerApp.root_dir={course_dir}",
        ],
        "user": grader,
        # The course's own server: instructors are not asked to confirm that it may know who they are.
        "oauth_no_confirm": True,
        "cwd": str(course_dir),
        "environment": {
            "JUPYTERHUB_DEFAULT_URL": "/lab",
            "JUPYTER_CONFIG_PATH": os.pathsep.join([room["config"]["grader"], room["config"]["everyone"]]),
            "PYTHONPATH": str(course_dir),
            "PATH": f"{env_bin}:/usr/bin:/bin",
            **trusted,
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
            **trusted,
        }
    )


c.Spawner.pre_spawn_hook = choose_environment
