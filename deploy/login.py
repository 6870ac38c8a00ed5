"""Who may log in to the class's JupyterHub: the course's people and no one else (docs/login.md).

JupyterHub 5 lets nobody in until an allow rule says who may. The rule here is the class itself: the ids of
nbgrader's roster (``id,first_name,last_name,email,lms_user_id``), the instructors' ids, or the members of
groups. A jupyterhub_config.py imports this module and calls its functions, on one machine
(deploy/jupyterhub_config.py, PAM accounts named by the roster's ids) as in Zero to JupyterHub's
``hub.extraConfig`` (deploy/kubernetes/values-lti.yaml, which mounts this file beside the chart's config):

    c.Authenticator.allowed_users = login.allowed_from_roster("roster.csv") | {"teacher"}

Login from the learning platform (Canvas, Moodle) through LTI 1.3 is ``CourseLTI13Authenticator``, which
``configure_lti`` sets up:

- **Who is this?** A launch names its user by an LMS claim (``username_key``, by default the custom field
  ``lms_user_id``: Canvas's user id, ``$Canvas.user.id``), and the hub gives them the roster id of the row with
  that value in the chosen roster column (``lms_user_id``, or ``email``, or ``id`` itself). The hub's name is
  therefore always nbgrader's student id. A value that no row has is refused: the hub never makes up a name,
  so nobody lands on a roster id by chance, and a person taken off the roster cannot log in again.
- **May they come in?** ``check_allowed``, JupyterHub's hook for it: the launch must come from this course
  (the id of the LTI context claim is one of ``context_ids``), and the name must be in ``allowed_users``
  (the roster's ids, the instructors', the groups'). ``allow_all`` would skip ``check_allowed``: this
  authenticator refuses to start with it. Someone taken off the rosters is logged out at their next request
  after the hub restarts (``refresh_user``).

The signature, issuer, audience, nonce and state of the launch are ltiauthenticator's checks (its callback
handler), made before any of this runs.
"""

import csv
from pathlib import Path

from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.constants import LTI13_CUSTOM_CLAIM
from ltiauthenticator.lti13.error import LoginError
from tornado import web
from traitlets import Dict, Enum, Set, TraitError, Unicode, default, validate

CONTEXT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/context"
ROSTER_COLUMNS = ("id", "first_name", "last_name", "email", "lms_user_id")
# The roster columns a launch's claim may be matched against, and how their values compare.
MATCH = {
    "lms_user_id": str.strip,
    "email": lambda value: value.strip().lower(),
    "id": lambda value: value.strip().lower(),
}


def read_roster(path):
    """The rows of a roster CSV (nbgrader's columns), checked: every row has an id, no id twice, and each id is
    a name JupyterHub keeps as it is (it lowercases names: ``Ada`` would become ``ada`` on the hub but stay
    ``Ada`` in the gradebook)."""
    with open(path, newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        if "id" not in (reader.fieldnames or ()):
            raise ValueError(f"{path}: no id column (a roster has the columns {','.join(ROSTER_COLUMNS)})")
        rows, seen = [], set()
        for line, row in enumerate(reader, start=2):
            ident = (row.get("id") or "").strip()
            if not ident:
                raise ValueError(f"{path}, line {line}: no id")
            if ident != ident.lower() or "/" in ident or any(char.isspace() for char in ident):
                raise ValueError(
                    f"{path}, line {line}: id {ident!r} is not a JupyterHub name (lowercase, no spaces or /)"
                )
            if ident in seen:
                raise ValueError(f"{path}, line {line}: id {ident!r} is there twice")
            seen.add(ident)
            rows.append({column: (row.get(column) or "").strip() for column in ROSTER_COLUMNS})
    return rows


def allowed_from_roster(*paths):
    """The allow rule of a class: the ids of every row of these rosters (students; instructors in a file of
    the same columns)."""
    return {row["id"] for path in paths for row in read_roster(path)}


def members(groups, *names):
    """The users of these groups in a ``JupyterHub.load_groups`` dict (``{group: {"users": [...]}}``, or the
    older ``{group: [...]}``), to allow them too."""
    found = set()
    for name in names:
        group = groups[name]
        found.update(group.get("users", []) if isinstance(group, dict) else group)
    return found


def names_from_roster(*paths, column="lms_user_id"):
    """``{value of column: id}`` over these rosters: how a launch's claim becomes a roster id. Rows without a
    value are left out (they cannot log in through the LMS); two rows with one value stop the hub, which
    could not tell the two people apart."""
    if column not in MATCH:
        raise ValueError(f"column {column!r}: one of {', '.join(MATCH)}")
    names = {}
    for path in paths:
        for row in read_roster(path):
            value = MATCH[column](row[column])
            if not value:
                continue
            if value in names:
                raise ValueError(f"{path}: {names[value]} and {row['id']} have the same {column} {value!r}")
            names[value] = row["id"]
    return names


class CourseLTI13Authenticator(LTI13Authenticator):
    """LTI 1.3 login for one course: launches from its LMS course, by people its rosters name."""

    context_ids = Set(
        Unicode(),
        help="""The LMS course's LTI context id(s): the ``id`` of the claim
        https://purl.imsglobal.org/spec/lti/claim/context in its launches (Canvas: the course's lti_context_id;
        Moodle: the course's id). The hub logs the context of each launch it refuses. Empty: nobody may log in.
        """,
    ).tag(config=True)

    lms_names = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        help="""{value of the username_key claim: the person's hub name (roster id)}, from names_from_roster.
        A launch whose value is not here is refused.""",
    ).tag(config=True)

    lms_names_match = Enum(
        list(MATCH),
        "lms_user_id",
        help="""How the claim's value is compared with lms_names' keys, as the roster column they came from
        compares: lms_user_id as it is, email and id in lowercase.""",
    ).tag(config=True)

    @default("username_key")
    def _default_username_key(self):
        # Canvas's user id, the roster's lms_user_id: the custom field lms_user_id=$Canvas.user.id (docs/login.md;
        # ltiauthenticator's own Canvas configuration, /hub/lti13/config, asks for it as $User.id, the same number).
        return "custom_lms_user_id"

    @default("allow_existing_users")
    def _default_allow_existing_users(self):
        # The rosters say who may log in, each time the hub starts; having logged in once is no reason.
        return False

    @validate("allow_all")
    def _no_allow_all(self, proposal):
        if proposal.value:
            raise TraitError(
                "allow_all would admit every launch of every course of the platform: "
                "CourseLTI13Authenticator admits its course's rosters (docs/login.md)"
            )
        return proposal.value

    def check_allow_config(self):
        super().check_allow_config()
        if not self.context_ids:
            self.log.error("CourseLTI13Authenticator.context_ids is empty: nobody can log in (docs/login.md)")
        unnamed = sorted(set(self.allowed_users) - set(self.lms_names.values()))
        if unnamed:
            self.log.warning(
                "Allowed, but without a %s in the roster, so they cannot log in through the LMS: %s",
                self.lms_names_match,
                ", ".join(unnamed),
            )

    def claim_value(self, token):
        """The value of the username_key claim (``custom_<name>``: in the custom claim), with no fallback to
        another claim (ltiauthenticator's get_username falls back to ``sub``)."""
        key, claims = self.username_key, token
        if key.startswith("custom_"):
            key, claims = key[len("custom_") :], token.get(LTI13_CUSTOM_CLAIM) or {}
        value = claims.get(key)
        if value is None or str(value).strip() == "":
            raise LoginError(
                f"The launch has no {self.username_key} (the LMS's tool configuration: docs/login.md)"
            )
        return MATCH[self.lms_names_match](str(value))

    async def authenticate(self, handler, data=None):
        """The launch's person, named by the roster; their launch (the verified id token) is the auth_state."""
        data = data or {}
        value = self.claim_value(data)
        name = self.lms_names.get(value)
        if name is None:
            context = data.get(CONTEXT_CLAIM) or {}
            self.log.warning(
                "Refused a launch from context %r: %s %r is on no roster of this hub",
                context.get("id"),
                self.username_key,
                value,
            )
            raise web.HTTPError(403, "You are not on this course's roster: ask your instructor.")
        return {"name": name, "auth_state": data}

    def check_allowed(self, username, authentication=None):
        """Allowed: the launch comes from this course, and the name is in the allow rule (allowed_users)."""
        token = (authentication or {}).get("auth_state") or {}
        context = token.get(CONTEXT_CLAIM) or {}
        context_id = str(context.get("id", ""))
        if context_id not in self.context_ids:
            self.log.warning(
                "Refused %s: the launch comes from LMS context %r (%s), not this course's (context_ids)",
                username,
                context_id,
                context.get("label") or context.get("title") or "no label",
            )
            # JupyterHub shows an HTTPError's message; False would say only "User missing or null".
            raise web.HTTPError(
                403, "This launch comes from another course: open the hub from its own course."
            )
        return super().check_allowed(username, authentication)

    async def refresh_user(self, user, handler=None):
        """Someone no longer in the allow rule (taken off a roster, the hub restarted with the new file) is sent
        to log in again, which the rule then refuses, instead of keeping their login cookie until it expires."""
        if user.name in self.allowed_users:
            return True
        self.log.warning("%s is no longer allowed (rosters): their login ends", user.name)
        return False


def configure_lti(c, rosters, *, column="lms_user_id", context_ids=None, also_allowed=(), **lti):
    """Set up LTI 1.3 login on the hub's config ``c``: the people are the rows of ``rosters`` (CSV files of
    nbgrader's columns: the students' roster, the instructors' file), named by ``column`` (``lms_user_id``,
    ``email`` or ``id``), and allowed with ``also_allowed`` (e.g. ``members(load_groups, ...)``).

    ``context_ids`` and the keyword arguments (LTI13Authenticator's traits: ``issuer``, ``client_id``,
    ``authorize_url``, ``jwks_endpoint``, ``username_key``, ...) are set only when given, so that Zero to
    JupyterHub's ``hub.config`` may hold them instead."""
    rosters = [str(path) for path in ([rosters] if isinstance(rosters, str | Path) else rosters)]
    c.JupyterHub.authenticator_class = CourseLTI13Authenticator
    c.Authenticator.allowed_users = allowed_from_roster(*rosters) | set(also_allowed)
    c.Authenticator.allow_existing_users = False
    c.CourseLTI13Authenticator.lms_names = names_from_roster(*rosters, column=column)
    c.CourseLTI13Authenticator.lms_names_match = column
    if context_ids is not None:
        c.CourseLTI13Authenticator.context_ids = {str(ident) for ident in context_ids}
    for name, value in lti.items():
        if not LTI13Authenticator.class_traits(config=True).get(name):
            raise TypeError(f"configure_lti: LTI13Authenticator has no setting {name!r}")
        if name == "client_id":  # one id or several
            value = {value} if isinstance(value, str) else set(value)
        setattr(c.LTI13Authenticator, name, value)
