"""LTI 1.3 login at a real JupyterHub 5.5.0, from a fake learning platform, on loopback only (docs/login.md).

The fake platform is a small HTTP server in this process, with an RSA key made here: its OIDC authorization
endpoint answers the hub's login redirect as a platform does (response_mode=form_post: a page with a form that
posts the RS256-signed id token, with the LTI 1.3 claims and the hub's nonce and state, to the hub's callback),
and its JWKS endpoint publishes the public key. The hub runs deploy/login.py's configure_lti with a roster and
an instructors' file. Each launch goes as a browser's would: the platform's login initiation to the hub, the
redirect to the platform, the form back to the hub. The tests check that

- a student on the roster, launching from this course, is logged in (the hub's login cookie, /hub/home), and so
  is an instructor;
- a launch signed with another key (the platform's key id, a forger's key) is refused;
- a student of the roster launching from another course of the same platform is refused;
- someone of this course who is not on the roster is refused, and no user but the rosters' exists on the hub;
- a captured launch posted from another browser (without the hub's state cookie) is refused.

No real Canvas or Moodle is used: what their tool settings must say is docs/login.md's, not proven here.
Also: the Zero to JupyterHub values (deploy/kubernetes/values-lti.yaml), loaded as the chart loads them, give the
same authenticator, and use only keys of the chart's values.schema.yaml (when the chart's repository is here).
"""

import asyncio
import html
import html.parser
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import jwt
import pytest
import requests
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from tornado.web import HTTPError
from traitlets import TraitError
from traitlets.config import Config
from traitlets.utils.importstring import import_item

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy"))
import login  # noqa: E402

CLIENT_ID = "10000000000042"
DEPLOYMENT_ID = "1:attention-course"
COURSE = {"id": "4dde05e8ca1973bcca9bffc13e1548820eee93a3", "label": "ATT-101", "title": "Attention"}
OTHER_COURSE = {"id": "9b1d0e5c7f3a2b4d6e8f0a1c3e5b7d9f1a3c5e7b", "label": "CS-202", "title": "Compilers"}
ROSTER = """id,first_name,last_name,email,lms_user_id
ada,Ada,Lovelace,ada@example.org,1001
bob,Bob,Bobby,bob@example.org,1002
dee,Dee,,,
"""
INSTRUCTORS = """id,first_name,last_name,email,lms_user_id
teacher,Tea,Cher,teacher@example.org,9001
"""
INSTRUCTOR_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
LOGIN_COOKIE = "jupyterhub-hub-login"


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _browser():
    """A requests session on loopback only: never through a proxy of the environment."""
    session = requests.Session()
    session.trust_env = False
    return session


class FakePlatform:
    """An LMS's LTI 1.3 side: who launches (by login_hint) and from where, the key that signs, the endpoints."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "platform-key-1"
        self.launches = {}  # login_hint: (claims of the person and course, signing key)
        self.requests = []  # the authorization requests the hub sent
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = self.url
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def jwks(self):
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def id_token(self, query):
        """The platform's answer to an authorization request: the launch of login_hint, with the hub's nonce."""
        claims, key = self.launches[query["login_hint"]]
        now = int(time.time())
        token = {
            "iss": self.issuer,
            "aud": query["client_id"],
            "iat": now,
            "exp": now + 300,
            "nonce": query["nonce"],
            "https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiResourceLinkRequest",
            "https://purl.imsglobal.org/spec/lti/claim/version": "1.3.0",
            "https://purl.imsglobal.org/spec/lti/claim/deployment_id": DEPLOYMENT_ID,
            "https://purl.imsglobal.org/spec/lti/claim/target_link_uri": query["redirect_uri"],
            "https://purl.imsglobal.org/spec/lti/claim/resource_link": {"id": "attention-notebooks"},
            **claims,
        }
        return jwt.encode(token, key, algorithm="RS256", headers={"kid": self.kid})

    def _handler(self):
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, body, content_type):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                if url.path == "/jwks":
                    return self._reply(200, json.dumps(platform.jwks()), "application/json")
                if url.path != "/authorize":
                    return self._reply(404, "no such page", "text/plain")
                query = dict(urllib.parse.parse_qsl(url.query))
                platform.requests.append(query)
                expected = {"response_type": "id_token", "scope": "openid", "response_mode": "form_post"}
                if any(query.get(k) != v for k, v in expected.items()) or query.get("client_id") != CLIENT_ID:
                    return self._reply(400, f"not an LTI 1.3 authentication request: {query}", "text/plain")
                if query.get("login_hint") not in platform.launches:
                    return self._reply(400, "unknown login_hint", "text/plain")
                fields = {"id_token": platform.id_token(query), "state": query["state"]}
                inputs = "".join(
                    f'<input type="hidden" name="{name}" value="{value}">' for name, value in fields.items()
                )
                page = (
                    f'<html><body onload="document.forms[0].submit()"><form method="post" '
                    f'action="{query["redirect_uri"]}">{inputs}</form></body></html>'
                )
                return self._reply(200, page, "text/html")

        return Handler


class _Form(html.parser.HTMLParser):
    """The form of a page (its action and inputs), as a browser would submit it."""

    def __init__(self, page):
        super().__init__()
        self.action, self.fields = None, {}
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.action = attrs["action"]
        elif tag == "input":
            self.fields[attrs["name"]] = attrs.get("value", "")


@pytest.fixture(scope="module")
def platform():
    lms = FakePlatform()
    lms.thread.start()
    try:
        yield lms
    finally:
        lms.server.shutdown()
        lms.server.server_close()


def _hub_config(folder, ports, platform, token):
    public, hub, proxy_api = ports
    return f"""\
import sys
sys.path.insert(0, {str(ROOT / "deploy")!r})
import login

c = get_config()  # noqa: F821
c.JupyterHub.bind_url = "http://127.0.0.1:{public}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api}"
c.ConfigurableHTTPProxy.command = [{str(Path(sys.executable).parent / "configurable-http-proxy")!r}]
c.ConfigurableHTTPProxy.pid_file = {str(folder / "proxy.pid")!r}
c.JupyterHub.db_url = "sqlite:///{folder / "jupyterhub.sqlite"}"
c.JupyterHub.cookie_secret_file = {str(folder / "cookie_secret")!r}
c.JupyterHub.pid_file = {str(folder / "jupyterhub.pid")!r}

login.configure_lti(
    c,
    [{str(folder / "roster.csv")!r}, {str(folder / "instructors.csv")!r}],
    column="lms_user_id",
    context_ids=[{COURSE["id"]!r}],
    issuer={platform.issuer!r},
    client_id={CLIENT_ID!r},
    authorize_url={platform.url + "/authorize"!r},
    jwks_endpoint={platform.url + "/jwks"!r},
    username_key="custom_lms_user_id",
)

# This test's own reader of the hub's users (the REST API), no one's login.
c.JupyterHub.services = [{{"name": "lti-test", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{"name": "lti-test", "services": ["lti-test"], "scopes": ["list:users", "read:users"]}}]
"""


@pytest.fixture(scope="module")
def hub(platform, tmp_path_factory):
    """JupyterHub 5.5.0 with deploy/login.py's LTI login, on free loopback ports; stopped however the tests end."""
    folder = tmp_path_factory.mktemp("lti-hub")
    (folder / "roster.csv").write_text(ROSTER)
    (folder / "instructors.csv").write_text(INSTRUCTORS)
    ports, token = _free_ports(3), os.urandom(16).hex()
    config = folder / "jupyterhub_config.py"
    config.write_text(_hub_config(folder, ports, platform, token))
    no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1", "localhost"]))
    env = {**os.environ, "NO_PROXY": no_proxy, "no_proxy": no_proxy}
    log_path = folder / "jupyterhub.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(config)],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{ports[0]}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterHub stopped:\n{log_path.read_text()[-3000:]}")
            try:
                if _browser().get(f"{base}/hub/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterHub did not answer within 60 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield {"base": base, "token": token, "log": log_path}
    finally:
        process.terminate()  # the hub stops the proxy it started
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        try:  # anything of its session still there (the proxy), by the session's process group
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=5)


def launch(hub, platform, hint, lms_user_id, context=COURSE, role=LEARNER_ROLE, key=None):
    """One launch, as a browser goes through it: the platform's login initiation posted to the hub, the hub's
    redirect to the platform's authorization endpoint, the platform's form posted back to the hub's callback.
    Returns (browser session, the hub's answer to the callback)."""
    platform.launches[hint] = (
        {
            "sub": f"sub-{hint}",
            "https://purl.imsglobal.org/spec/lti/claim/roles": [role],
            "https://purl.imsglobal.org/spec/lti/claim/context": {
                **context,
                "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
            },
            "https://purl.imsglobal.org/spec/lti/claim/custom": {"lms_user_id": lms_user_id},
            "email": f"{hint}@example.org",
        },
        key or platform.key,
    )
    browser = _browser()
    start = browser.post(
        f"{hub['base']}/hub/lti13/oauth_login",
        data={
            "iss": platform.issuer,
            "login_hint": hint,
            "target_link_uri": f"{hub['base']}/hub/home",
            "lti_message_hint": f"message-{hint}",
            "client_id": CLIENT_ID,
            "lti_deployment_id": DEPLOYMENT_ID,
        },
        allow_redirects=False,
    )
    assert start.status_code == 302, start.text
    assert start.headers["Location"].startswith(f"{platform.url}/authorize?")
    page = browser.get(start.headers["Location"], allow_redirects=False)
    assert page.status_code == 200, page.text
    form = _Form(page.text)
    assert form.action == f"{hub['base']}/hub/lti13/oauth_callback"
    return browser, browser.post(form.action, data=form.fields, allow_redirects=False)


def _logged_in_as(hub, browser):
    """The name /hub/home greets (JupyterHub's page header), or None when it sends the browser to log in."""
    home = browser.get(f"{hub['base']}/hub/home", allow_redirects=False)
    if home.status_code != 200:
        assert home.status_code == 302 and "/hub/login" in home.headers["Location"], home.status_code
        return None
    names = re.findall(r'<span class="me-1">([^<]+)</span>', home.text)
    assert len(names) == 1, home.text[:2000]
    return names[0]


def test_a_student_on_the_roster_is_admitted(hub, platform):
    browser, callback = launch(hub, platform, "ada-launch", 1001)  # Canvas may send the user id as a number
    assert callback.status_code == 302, callback.text
    assert callback.headers["Location"] == "/hub/home"  # the launch's target_link_uri, kept in the state
    assert LOGIN_COOKIE in browser.cookies
    assert _logged_in_as(hub, browser) == "ada"
    # The platform was asked as LTI 1.3 says, with the hub's own nonce and state (which the hub then checked).
    asked = platform.requests[-1]
    assert asked["redirect_uri"] == f"{hub['base']}/hub/lti13/oauth_callback"
    assert asked["prompt"] == "none" and asked["lti_message_hint"] == "message-ada-launch"
    assert len(asked["nonce"]) == 64 and asked["state"]


def test_an_instructor_is_admitted(hub, platform):
    browser, callback = launch(hub, platform, "teacher-launch", "9001", role=INSTRUCTOR_ROLE)
    assert callback.status_code == 302, callback.text
    assert _logged_in_as(hub, browser) == "teacher"


def test_a_launch_signed_with_another_key_is_refused(hub, platform):
    browser, callback = launch(hub, platform, "forged-launch", "1001", key=platform.forger)
    assert callback.status_code == 400
    assert "Signature verification failed" in callback.text
    assert LOGIN_COOKIE not in browser.cookies
    assert _logged_in_as(hub, browser) is None


def test_a_launch_from_another_course_is_refused(hub, platform):
    """bob is on the roster, but launches from another course of the same platform."""
    browser, callback = launch(hub, platform, "bob-elsewhere", "1002", context=OTHER_COURSE)
    assert callback.status_code == 403
    assert "This launch comes from another course" in callback.text
    assert LOGIN_COOKIE not in browser.cookies
    assert _logged_in_as(hub, browser) is None
    # The hub's log names the course the launch came from: how an instructor finds their course's context id.
    assert (
        f"Refused bob: the launch comes from LMS context {OTHER_COURSE['id']!r} (CS-202)"
        in hub["log"].read_text()
    )


def test_a_launch_replayed_from_another_browser_is_refused(hub, platform):
    """A signed launch of ada's, captured and posted from another browser: the state cookie is not there."""
    launch(hub, platform, "ada-captured", "1001")
    captured = platform.requests[-1]
    thief = _browser()
    replay = thief.post(
        captured["redirect_uri"],
        data={"id_token": platform.id_token(captured), "state": captured["state"]},
        allow_redirects=False,
    )
    assert replay.status_code == 400 and "OAuth state missing from cookies" in replay.text
    assert LOGIN_COOKIE not in thief.cookies


def test_someone_of_the_course_not_on_the_roster_is_refused(hub, platform):
    browser, callback = launch(hub, platform, "eve-launch", "1099")
    assert callback.status_code == 403
    assert "You are not on this course's roster" in html.unescape(callback.text)
    assert LOGIN_COOKIE not in browser.cookies
    assert _logged_in_as(hub, browser) is None


def test_no_user_but_the_rosters_exists(hub, platform):
    launch(hub, platform, "eve-again", "1099")
    users = _browser().get(f"{hub['base']}/hub/api/users", headers={"Authorization": f"token {hub['token']}"})
    users.raise_for_status()
    assert {user["name"] for user in users.json()} == {"ada", "bob", "dee", "teacher"}
    assert "User logged in: bob" not in hub["log"].read_text()


# deploy/login.py on its own


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_allow_rule_is_the_rosters_and_the_groups(tmp_path):
    roster = _write(tmp_path, "roster.csv", ROSTER)
    instructors = _write(tmp_path, "instructors.csv", INSTRUCTORS)
    assert login.allowed_from_roster(roster) == {"ada", "bob", "dee"}
    assert login.allowed_from_roster(roster, instructors) == {"ada", "bob", "dee", "teacher"}
    groups = {"formgrade-attention-course": {"users": ["teacher", "ta"]}, "old-style": ["x"]}
    assert login.members(groups, "formgrade-attention-course", "old-style") == {"teacher", "ta", "x"}
    # dee has no lms_user_id (nor email): she is allowed, but cannot be named from the LMS.
    assert login.names_from_roster(roster, instructors) == {"1001": "ada", "1002": "bob", "9001": "teacher"}
    assert login.names_from_roster(roster, column="email") == {
        "ada@example.org": "ada",
        "bob@example.org": "bob",
    }


@pytest.mark.parametrize(
    "rows, error",
    [
        ("Ada,Ada,Lovelace,,1\n", "id 'Ada' is not a JupyterHub name"),
        ("ada,Ada,,,1\nada,Ada,,,2\n", "id 'ada' is there twice"),
        (",Nobody,,,3\n", "line 2: no id"),
        ("ada,Ada,,,7\nbob,Bob,,,7\n", "ada and bob have the same lms_user_id '7'"),
    ],
)
def test_a_roster_the_hub_would_misread_stops_it(tmp_path, rows, error):
    roster = _write(tmp_path, "roster.csv", "id,first_name,last_name,email,lms_user_id\n" + rows)
    with pytest.raises(ValueError, match=error):
        login.configure_lti(Config(), [roster])


def test_configure_lti_sets_the_authenticator(tmp_path):
    roster = _write(tmp_path, "roster.csv", ROSTER)
    c = Config()
    login.configure_lti(
        c, roster, context_ids=["course-1"], client_id="one", issuer="https://lms.example.org"
    )
    authenticator = login.CourseLTI13Authenticator(config=c)
    assert c.JupyterHub.authenticator_class is login.CourseLTI13Authenticator
    assert authenticator.allowed_users == {"ada", "bob", "dee"}
    assert authenticator.allow_existing_users is False and authenticator.allow_all is False
    assert authenticator.context_ids == {"course-1"} and authenticator.client_id == {"one"}
    assert authenticator.username_key == "custom_lms_user_id"
    with pytest.raises(TypeError, match="no setting 'isuer'"):
        login.configure_lti(c, roster, isuer="https://typo.example.org")


def test_someone_taken_off_the_roster_is_logged_out(tmp_path):
    """After a restart with a new roster, JupyterHub refreshes each logged-in user's login (refresh_user)."""
    c = Config()
    login.configure_lti(c, _write(tmp_path, "roster.csv", ROSTER), context_ids=["course-1"])
    authenticator = login.CourseLTI13Authenticator(config=c)
    assert asyncio.run(authenticator.refresh_user(SimpleNamespace(name="ada"))) is True
    assert asyncio.run(authenticator.refresh_user(SimpleNamespace(name="teacher"))) is False


def test_check_allowed_wants_this_course_and_the_allow_rule(tmp_path):
    c = Config()
    login.configure_lti(c, _write(tmp_path, "roster.csv", ROSTER), context_ids=[COURSE["id"]])
    c.Authenticator.allowed_users = {"ada"}  # a narrower rule than the roster that names people
    authenticator = login.CourseLTI13Authenticator(config=c)
    here = {"auth_state": {login.CONTEXT_CLAIM: COURSE}}
    elsewhere = {"auth_state": {login.CONTEXT_CLAIM: OTHER_COURSE}}
    assert authenticator.check_allowed("ada", here) is True
    assert authenticator.check_allowed("bob", here) is False
    with pytest.raises(HTTPError, match="another course"):
        authenticator.check_allowed("ada", elsewhere)
    with pytest.raises(HTTPError, match="another course"):
        authenticator.check_allowed("ada", {"auth_state": {}})  # no context claim at all


def test_allow_all_cannot_open_the_hub():
    c = Config()
    c.Authenticator.allow_all = True
    with pytest.raises(TraitError, match="allow_all would admit every launch"):
        login.CourseLTI13Authenticator(config=c)


# Zero to JupyterHub: deploy/kubernetes/values-lti.yaml

VALUES = ROOT / "deploy" / "kubernetes" / "values-lti.yaml"
SET_FILES = {"login": ROOT / "deploy" / "login.py", "roster": None, "instructors": None}  # --set-file ...


def test_the_kubernetes_values_load_the_same_login(tmp_path):
    """hub.config, the mounted files and hub.extraConfig, loaded as the chart's jupyterhub_config.py loads them
    (pass-through sections, then extraConfig snippets in key order), give the course's authenticator."""
    values = yaml.safe_load(VALUES.read_text())
    files = values["hub"]["extraFiles"]
    assert set(files) == set(SET_FILES)
    text = VALUES.read_text()
    for key in SET_FILES:
        assert f"--set-file hub.extraFiles.{key}.stringData=" in text
    mount = {"roster": ROSTER, "instructors": INSTRUCTORS}
    c = Config()
    for section, settings in values["hub"]["config"].items():
        c[section].update(settings)
    for key, snippet in sorted(values["hub"]["extraConfig"].items()):
        for name, content in mount.items():
            local = _write(tmp_path, f"{name}.csv", content)
            snippet = snippet.replace(files[name]["mountPath"], str(local))
        assert (
            files["login"]["mountPath"] == "/usr/local/etc/jupyterhub/login.py"
        )  # beside the chart's config
        exec(compile(snippet, key, "exec"), {"c": c})
    assert (
        import_item(values["hub"]["config"]["JupyterHub"]["authenticator_class"])
        is login.CourseLTI13Authenticator
    )
    authenticator = login.CourseLTI13Authenticator(config=c)
    assert authenticator.allowed_users == {"ada", "bob", "dee", "teacher"}
    assert authenticator.lms_names == {"1001": "ada", "1002": "bob", "9001": "teacher"}
    assert authenticator.allow_existing_users is False
    assert authenticator.username_key == "custom_lms_user_id" and authenticator.uri_scheme == "https"
    assert authenticator.context_ids == {"<LTI context id of the course>"}
    assert authenticator.client_id == {"<client id of the Canvas developer key>"}
