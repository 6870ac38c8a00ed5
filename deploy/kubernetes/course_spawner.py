"""The course's student pods on Zero to JupyterHub: every person's server runs as their own Unix uid.

nbgrader's filesystem exchange keeps students apart by Unix owners (docs/deploy.md, "The exchange"): a
submission belongs to its author, ``inbound/`` hands it to the graders' group, and the grader collects a folder
only if its owner is the student it names. On one machine the accounts give each person a uid; here KubeSpawner
does, from a table the instructor keeps (``uids.csv``: columns ``id`` and ``uid``), and the grading pod reads
the same table to know whose a uid is. A person without a uid gets no server: never the shared default uid, under
which everyone could read everyone's work.

Loaded by the hub from ``jupyterhub_config.d/`` (values.yaml, ``hub.extraFiles``). Also a command, which adds
the roster's new ids to the table and never changes a uid already given (files on the exchange keep theirs)::

    python deploy/kubernetes/course_spawner.py roster.csv uids.csv
"""

import csv
import os
import sys

# hub.extraFiles mounts the instructor's uids.csv here (ATTENTION_COURSE_UIDS elsewhere, e.g. in the tests).
UIDS = os.environ.get("ATTENTION_COURSE_UIDS", "/usr/local/etc/jupyterhub/course/uids.csv")
FIRST_UID = 20000  # above the system's and the images' own accounts
STUDENTS_GID = 20000  # every server's primary group; the graders' group (GRADERS_GID) is none of theirs
GRADERS_GID = 19999
EXCHANGE = "/srv/nbgrader/exchange"  # the ReadWriteMany volume (grader.yaml), as nbgrader_config.py says


def read_uids(path=UIDS):
    """{person id: uid} from the table at ``path``."""
    with open(path, newline="", encoding="utf-8-sig") as file:
        return {
            row["id"].strip(): int(row["uid"]) for row in csv.DictReader(file) if row.get("id", "").strip()
        }


def configure(c, path=UIDS):
    """Set the KubeSpawner traits of the course's pods on the hub's config ``c``."""
    uids = read_uids(path)

    def uid(spawner):
        name = spawner.user.name
        if name not in uids:
            raise ValueError(
                f"{name} has no uid in {path}: add them with course_spawner.py, then helm upgrade"
            )
        return uids[name]

    c.KubeSpawner.uid = uid
    c.KubeSpawner.gid = STUDENTS_GID
    c.KubeSpawner.fs_gid = STUDENTS_GID  # the home volume is writable by its server, whatever its uid
    c.KubeSpawner.supplemental_gids = []  # never the graders' group


def add_roster(roster, table):
    """Give each id of ``roster`` (nbgrader's roster CSV, or any CSV with an ``id`` column) without a uid in
    ``table`` the next free one; write ``table``. Returns the ids added."""
    uids = read_uids(table) if os.path.exists(table) else {}
    with open(roster, newline="", encoding="utf-8-sig") as file:
        ids = [row["id"].strip() for row in csv.DictReader(file) if row.get("id", "").strip()]
    added = [i for i in dict.fromkeys(ids) if i not in uids]
    next_uid = max([FIRST_UID - 1, *uids.values()]) + 1
    for offset, person in enumerate(added):
        uids[person] = next_uid + offset
    with open(table, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "uid"])
        writer.writerows(sorted(uids.items(), key=lambda item: item[1]))
    return added


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python deploy/kubernetes/course_spawner.py ROSTER.csv UIDS.csv")
    new = add_roster(sys.argv[1], sys.argv[2])
    print(f"{len(new)} new uid(s) in {sys.argv[2]}" + (f": {', '.join(new)}" if new else ""))
elif "get_config" in globals():  # loaded by JupyterHub as a config file
    configure(get_config())  # noqa: F821 (JupyterHub's config loader defines it)
