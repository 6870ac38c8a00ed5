"""The grading service's start: ``python -m helpers.grading.service [jupyterhub-singleuser's arguments]``.

Runs the probe grading itself runs (:func:`helpers.grading.sandbox.available`: bubblewrap makes the namespaces a
grading kernel needs, /proc included) before serving anything. Where it fails, the service does not start, and
says so in one line: a grader that cannot sandbox must not be one an instructor can grade with, because student
code would then run with the grader's rights. Where it works, it becomes ``jupyterhub-singleuser`` (formgrader,
collect, autograde), with the same arguments. The Kubernetes grading Deployment (deploy/kubernetes/grader.yaml)
starts this way; docs/deploy.md says what a pod needs for the probe to pass.
"""

import os
import shutil
import sys

from helpers.grading import sandbox

REFUSAL = (
    "Not starting the grading service: bubblewrap cannot create the sandbox of grading kernels here (user "
    "namespaces and /proc; docs/deploy.md, 'Grading where the sandbox works'), and student code is never graded "
    "unsandboxed."
)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if os.environ.get(sandbox.DISABLE_ENV) == "off" or not sandbox.available():
        print(REFUSAL, file=sys.stderr)
        return 1
    server = shutil.which("jupyterhub-singleuser")
    if server is None:
        print("Not starting the grading service: jupyterhub-singleuser is not installed.", file=sys.stderr)
        return 1
    os.execv(server, [server, *argv])


if __name__ == "__main__":
    sys.exit(main())
