"""The project's set-up files agree with each other and with README.md."""

import re
import subprocess
import sysconfig
from importlib.metadata import distributions, version

from conftest import ROOT


def _pins(file):
    """{name: version} of the exact pins in a requirements or constraints file (``-r`` lines skipped)."""
    pins = {}
    for line in (ROOT / file).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name, pinned = line.split("==")
            pins[name.lower().replace("_", "-")] = pinned
    return pins


def _conda_pins():
    pins = {}
    for match in re.finditer(
        r"^\s+- ([A-Za-z0-9_.-]+)=([0-9][^\s]*)$", (ROOT / "environment.yml").read_text(), re.M
    ):
        pins[match[1].lower()] = match[2]
    return pins


STUDENT, DEV, LOCK = _pins("requirements.txt"), _pins("requirements-dev.txt"), _pins("constraints.txt")
HUB = _pins(
    "deploy/requirements.txt"
)  # what a class's hub adds (deploy/); in the dev venv, so the lock pins it


def test_every_dependency_is_pinned_exactly():
    for pins in (STUDENT, DEV, LOCK, HUB):
        assert pins and all(re.fullmatch(r"[0-9][0-9a-z.]*", v) for v in pins.values())
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text()
    assert "-r deploy/requirements.txt" in (ROOT / "requirements-dev.txt").read_text()


def test_environment_yml_is_the_student_environment():
    conda = _conda_pins()
    assert conda.pop("python") == "3.11", "the Python the README asks for"
    assert conda == STUDENT
    assert "- -e ." in (ROOT / "environment.yml").read_text(), "conda users get the helpers package too"
    assert not set(conda) & (set(DEV) | set(HUB)), (
        "test tools and the hub do not belong in a student's environment"
    )


def test_the_lock_pins_every_installed_package_at_the_version_installed():
    installed = {
        d.metadata["Name"].lower().replace("_", "-"): d.version
        for d in distributions(path=[sysconfig.get_paths()["purelib"]])  # what this venv has installed
        if d.metadata["Name"] and d.metadata["Name"].lower() not in ("pip", "attention-course")
    }
    assert installed == LOCK, "run make lock after changing requirements, and commit constraints.txt"


def test_direct_pins_agree_with_the_lock():
    for name, pinned in {**STUDENT, **DEV, **HUB}.items():
        assert LOCK[name] == pinned, name
        assert version(name) == pinned, name


def test_core_dependencies_are_present():
    assert {"jupyterlab", "numpy", "matplotlib", "ipywidgets", "nbgrader"} <= set(STUDENT)
    assert {"nbval", "pytest"} <= set(DEV)


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


def test_binder_builds_the_student_environment_from_the_same_files():
    """binder/ (repo2docker) installs what make lab installs, and opens what the README's badge promises."""
    binder = ROOT / "binder"
    lines = [
        line for line in (binder / "requirements.txt").read_text().splitlines() if not line.startswith("#")
    ]
    assert lines == ["-c ../constraints.txt", "-r ../requirements.txt"]
    assert (binder / "runtime.txt").read_text().strip() == "python-3.11", "the Python the README asks for"
    assert "pip install --no-deps --quiet -e ." in (binder / "postBuild").read_text()
    assert "jupyter-config/student" in (binder / "start").read_text()
    for script in ("postBuild", "start"):
        assert (binder / script).stat().st_mode & 0o111, f"binder/{script} must be executable"
    (badge,) = re.findall(
        r"\(https://mybinder\.org/v2/gh/[^)]*\?urlpath=lab/tree/([^)]+)\)", (ROOT / "README.md").read_text()
    )
    assert badge == "notebooks/attention/01_queries_keys_values.ipynb" and (ROOT / badge).exists()


def test_binder_start_script_turns_off_the_instructor_tools():
    """Run binder/start as repo2docker does: the command it wraps sees jupyter-config/student/ first."""
    printed = subprocess.run(
        [str(ROOT / "binder" / "start"), "sh", "-c", "echo $JUPYTER_CONFIG_PATH"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "JUPYTER_CONFIG_PATH": "/other"},
    ).stdout.strip()
    assert printed == f"{ROOT}/jupyter-config/student:/other"
