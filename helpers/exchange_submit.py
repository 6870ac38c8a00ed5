"""Submitting through nbgrader's filesystem exchange so that only the author and the graders can read the work.

nbgrader's own submit leaves a submission in the exchange's ``inbound/`` as a mode 777 folder of 644 files:
hidden by its random name only, readable by anyone who learns that name. On a class's JupyterHub (deploy/),
``inbound/`` belongs to a group of the course's graders, with the setgid bit, so every folder made in it takes
that group. This submit makes the submission's folders 770 and its files 640: the author and the graders may
read it (and the graders remove it, as nbgrader's 777 meant), nobody else may, even knowing its path. It is
private from its first byte, and it refuses to submit, saying why, where ``inbound/`` is not set up that way.
Selected in the students' nbgrader configuration (``c.ExchangeFactory.submit``); it holds nothing secret.
"""

import os
import secrets
import shutil
import stat

from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.utils import ignore_patterns

FOLDER, FILE = 0o770, 0o640


def copy_limits(exchange, src):
    """nbgrader's do_copy limits, for an exchange step that copies ``src`` its own way: a folder over the
    course's size limit is refused; the ignore function of its patterns and file-size limit is returned."""
    size, limit = exchange.get_size(src), 1000 * exchange.coursedir.max_dir_size
    if size > limit:
        exchange.log.error("Directory size is too big")
        raise RuntimeError(f"Directory size is too big. Size is {size}, maximum size is {limit}")
    return ignore_patterns(
        exclude=exchange.coursedir.ignore,
        include=exchange.coursedir.include,
        max_file_size=exchange.coursedir.max_file_size,
        log=exchange.log,
    )


class PrivateSubmit(ExchangeSubmit):
    def init_dest(self):
        super().init_dest()
        if not inbound_is_private(self.inbound_path):
            self.fail(
                f"Not submitted: {self.inbound_path} should belong to a group of the graders that you are not "
                "in, with the setgid bit, or other students could read your work. Please tell your instructor."
            )

    def copy_files(self):
        """nbgrader's ExchangeSubmit.copy_files, but the copy in inbound/ is made with private permissions."""
        self.init_release()
        submission_secret = secrets.token_hex(64)
        dest_path = os.path.join(self.inbound_path, self.assignment_filename)
        cached = (
            self.assignment_filename.rsplit("+", 1)[0] if self.add_random_string else self.assignment_filename
        )
        cache_path = os.path.join(self.cache_path, cached)
        self.log.info(f"Source: {self.src_path}")
        self.log.info(f"Destination: {dest_path}")
        self.check_filename_diff()

        _copy_private(self.src_path, dest_path, copy_limits(self, self.src_path))
        _write_private(os.path.join(dest_path, "timestamp.txt"), self.timestamp)
        _write_private(os.path.join(dest_path, "submission_secret.txt"), submission_secret)
        # The umask took bits of FOLDER (022 takes the group's w): set them now that every file is in. Not
        # before: a folder that its owner, outside the graders' group, changes keeps the group, loses the setgid.
        for folder, _, _ in os.walk(dest_path, topdown=False):
            if os.stat(folder).st_mode & 0o777 != FOLDER:
                os.chmod(folder, FOLDER)

        # The student's own copy (their home): as nbgrader makes it.
        os.makedirs(self.cache_path, exist_ok=True)
        self.do_copy(self.src_path, cache_path)
        with open(os.path.join(cache_path, "timestamp.txt"), "w") as fh:
            fh.write(self.timestamp)
        with open(os.path.join(cache_path, "submission_secret.txt"), "w") as fh:
            fh.write(submission_secret)
        self.log.info(
            f"Submitted as: {self.coursedir.course_id} {self.coursedir.assignment_id} {self.timestamp}"
        )


def inbound_is_private(path):
    """Does what this account makes in ``path`` take a group it is not in (setgid)? Then that group (the graders)
    and the author alone may read it. Not when the group is one of this account's: a group of students, say."""
    info = os.stat(path)
    return bool(info.st_mode & stat.S_ISGID) and info.st_gid not in {os.getegid(), *os.getgroups()}


def _copy_private(source, dest, ignore):
    """shutil.copytree without its copystat: each folder is made private, and inherits inbound/'s group."""
    os.mkdir(dest, FOLDER)
    names = os.listdir(source)
    skipped = set(ignore(source, names))
    for name in names:
        if name in skipped:
            continue
        if os.path.isdir(os.path.join(source, name)):
            _copy_private(os.path.join(source, name), os.path.join(dest, name), ignore)
        else:
            shutil.copyfile(os.path.join(source, name), os.path.join(dest, name))
            os.chmod(os.path.join(dest, name), FILE)


def _write_private(path, text):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE), "w") as fh:
        fh.write(text)
    os.chmod(path, FILE)  # whatever the umask took
