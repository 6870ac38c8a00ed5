"""nbgrader's filesystem exchange, collected as the grader can trust it: a submission is its owner's own files.

Students submit by writing a folder named ``<student>+<assignment>+<timestamp>+<random>`` into the exchange's
``inbound/``, which every student may write to. Plain ``nbgrader collect`` compares the name with the folder's Unix
owner, but only warns and collects it anyway, so one student can hand in work, or a later, worse version, in
another's name. It also follows symbolic links, with the grader's rights: a folder a student makes by hand, with
``02_softmax.ipynb`` a link to the grader's ``source/``, would be collected as the solution, and come back to
them as feedback. Here a folder is not collected, with an error naming it, when it names another student, holds
a link or anything but files and folders, or cannot be read whole (its author may make it so); the student it
names keeps their own latest submission, and the others are collected as usual. The copy never follows a link,
even one put in place after that check.

On a class's JupyterHub (deploy/), the grader reads submissions through the graders' group, which ``inbound/``
hands to every folder made in it, and students submit with ``helpers.exchange_submit.PrivateSubmit``, which keeps
them from each other. ``nbgrader_config.py`` selects this class (``ExchangeFactory.collect``).
"""

import csv
import os
import pwd
import shutil
import stat

from nbgrader.exchange.default.collect import ExchangeCollect
from traitlets import Unicode

from helpers.exchange_submit import copy_limits


def _owner(path, uids=None):
    """The name of the owner of ``path``: from ``uids`` ({uid: name}) where given, else the system's accounts."""
    uid = os.lstat(path).st_uid
    if uids is not None:
        return uids.get(uid)
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def _problem(path):
    """Why the grader should not collect this folder, or None: links, odd files, what it cannot read."""
    if not stat.S_ISDIR(os.lstat(path).st_mode):
        return "is not a folder"
    if not os.access(path, os.R_OK | os.X_OK):
        return "cannot be read by the grader"
    unreadable = []
    for folder, folders, files in os.walk(path, onerror=unreadable.append):
        for name in folders + files:
            mode = os.lstat(os.path.join(folder, name)).st_mode
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                return f"holds {os.path.join(folder, name)}, a link or not a file"
            if not os.access(os.path.join(folder, name), os.R_OK | (os.X_OK if stat.S_ISDIR(mode) else 0)):
                return f"holds {os.path.join(folder, name)}, which the grader cannot read"
    return "cannot be read whole by the grader" if unreadable else None


class OwnerCheckedCollect(ExchangeCollect):
    uid_table = Unicode(
        "",
        help="A CSV file with columns id and uid that names the owner of each uid, where the system has no account "
        "for them (the grading pod on Kubernetes: deploy/kubernetes/course_spawner.py); empty: the system's.",
    ).tag(config=True)

    def _uids(self):
        if not self.uid_table:
            return None
        with open(self.uid_table, newline="", encoding="utf-8-sig") as file:
            return {int(row["uid"]): row["id"].strip() for row in csv.DictReader(file) if row.get("uid")}

    def _path_to_record(self, path):
        record = super()._path_to_record(path)
        owner = _owner(path, self._owners)
        problem = (
            f"names student {record['username']} but belongs to {owner}"
            if owner != record["username"]
            else _problem(path)
        )
        if problem:
            self.log.error("Not collected: %s %s.", path, problem)
            record["username"] = None  # its own group below, so it never hides the named student's own work
        return record

    def init_src(self):
        self._owners = self._uids()  # read once per collect, before the records are made
        super().init_src()
        self.src_records = [record for record in self.src_records if record["username"] is not None]

    def do_copy(self, src, dest, log=None):
        """nbgrader's do_copy (its size limits and ignore patterns), opening every entry without following links."""
        ignore = copy_limits(self, src)
        folder = os.open(src, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            self._copy_folder(folder, src, dest, ignore)
        finally:
            os.close(folder)

    def _copy_folder(self, folder, src, dest, ignore):
        os.makedirs(dest)
        entries = list(os.scandir(folder))
        skipped = set(ignore(src, [entry.name for entry in entries]))
        for entry in entries:
            if entry.name in skipped:
                continue
            source, target = os.path.join(src, entry.name), os.path.join(dest, entry.name)
            try:
                if entry.is_dir(follow_symlinks=False):
                    inner = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder)
                    try:
                        self._copy_folder(inner, source, target, ignore)
                    finally:
                        os.close(inner)
                    continue
                flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK  # a link: an error; a pipe: no waiting
                with open(os.open(entry.name, flags, dir_fd=folder), "rb") as reader:
                    if not stat.S_ISREG(os.fstat(reader.fileno()).st_mode):
                        raise OSError(f"{source} is not a file")
                    with open(target, "wb") as writer:
                        shutil.copyfileobj(reader, writer)
            except OSError as error:  # changed since _problem looked: left out, never followed
                self.log.error("Not collected: %s (%s).", source, error)
