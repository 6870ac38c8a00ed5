"""The image's build context (the repository root) carries what the Dockerfile copies and none of a term's files:
.dockerignore read with Docker's rules (a pattern matches a path or any folder above it; the last match wins)."""

import fnmatch
import re

import pytest
from conftest import ROOT


def _patterns():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _matches(pattern, path):
    pattern = pattern.rstrip("/")
    if pattern.startswith("**/"):  # at any depth
        return any(_matches(pattern[3:], "/".join(path.split("/")[i:])) for i in range(len(path.split("/"))))
    parts = path.split("/")
    return any(fnmatch.fnmatchcase("/".join(parts[:i]), pattern) for i in range(1, len(parts) + 1))


def excluded(path):
    verdict = False
    for pattern in _patterns():
        if pattern.startswith("!"):
            verdict = False if _matches(pattern[1:], path) else verdict
        elif _matches(pattern, path):
            verdict = True
    return verdict


def test_what_a_term_writes_stays_out_of_the_image():
    term = [
        ".venv/bin/python",
        ".git/HEAD",
        "gradebook.db",
        "gradebook.db-journal",
        "submitted/alice/attention/02_softmax.ipynb",
        "autograded/alice/attention/02_softmax.ipynb",
        "feedback/alice/attention/02_softmax.html",
        "downloaded/attention/archive/submissions.zip",
        "release/attention/02_softmax.ipynb",
        "exchange/attention-course/inbound/x.ipynb",
        "extensions/attention.csv",
        "roster.csv",
        "grades.csv",
        "similarity-attention.txt",
        "build/class-env-0123/bin/python",
        "helpers/__pycache__/quiz.cpython-311.pyc",
    ]
    assert [path for path in term if not excluded(path)] == []


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.grader"])
def test_what_each_dockerfile_copies_is_in_the_context(dockerfile):
    text = (ROOT / "deploy" / "kubernetes" / dockerfile).read_text()
    sources = [
        source
        for line in text.splitlines()
        if line.startswith("COPY ")
        for source in re.sub(r"--\S+", "", line).split()[1:-1]
    ]
    assert sources
    wheel = "build/class-release/attention_course-0.2.0-py3-none-any.whl"
    assert [s for s in sources if excluded(wheel if "*" in s else s.rstrip("/"))] == []
    assert all((ROOT / s).exists() for s in sources if "*" not in s), "each source is in the repository"
    if dockerfile == "Dockerfile":
        assert "build/class-release/attention_course-*.whl" in sources
        assert "source/" not in sources and "helpers/" not in sources, "the students' image: the wheel alone"
