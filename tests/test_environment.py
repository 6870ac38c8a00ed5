"""The project's set-up files agree with each other and with README.md."""

import re
from importlib.metadata import version

from conftest import ROOT


def _pip_pins():
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, pinned = line.split("==")
            pins[name.lower()] = pinned
    return pins


def _conda_pins():
    pins = {}
    for match in re.finditer(
        r"^\s+- ([A-Za-z0-9_.-]+)=([0-9][^\s]*)$", (ROOT / "environment.yml").read_text(), re.M
    ):
        pins[match[1].lower()] = match[2]
    return pins


def test_every_dependency_is_pinned_exactly():
    assert all(re.fullmatch(r"[0-9][0-9a-z.]*", v) for v in _pip_pins().values())


def test_environment_yml_matches_requirements():
    conda = _conda_pins()
    assert conda.pop("python") == "3.11", "the Python the README asks for"
    assert conda == _pip_pins()
    assert "- -e ." in (ROOT / "environment.yml").read_text(), "conda users get the helpers package too"


def test_installed_versions_are_the_pinned_ones():
    for name, pinned in _pip_pins().items():
        assert version(name) == pinned, name


def test_core_dependencies_are_present():
    assert {"jupyterlab", "numpy", "matplotlib", "ipywidgets", "nbgrader", "nbval"} <= set(_pip_pins())


def _readme_commands():
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^(make \w+)\s*(?:#.*)?$", quick_start, re.M)


def test_readme_quick_start_is_two_commands():
    assert _readme_commands() == ["make lab", "make test"]


def test_ci_runs_the_readme_test_command_and_nothing_else():
    script = (ROOT / ".ci" / "run").read_text()
    commands = [
        line.strip() for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    assert commands[-1] == _readme_commands()[1]
    assert all(c.startswith(("set ", "cd ")) for c in commands[:-1])
