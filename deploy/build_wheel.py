"""Build the student package's wheel into a folder: ``python deploy/build_wheel.py DEST`` (``make class-release``).

setuptools builds in the source tree (``build/``, ``*.egg-info``); building from a copy of what the wheel needs
keeps the working tree untouched, so a build never races with anything else reading it (tests, an editor).
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_wheel(dest):
    dest = Path(dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "src"
        source.mkdir()
        for name in ("pyproject.toml", "LICENSE"):
            shutil.copy(ROOT / name, source / name)
        shutil.copytree(ROOT / "helpers", source / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
        command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
        subprocess.run([*command, "--wheel-dir", str(dest), str(source)], check=True, cwd=scratch)
    (wheel,) = dest.glob("attention_course-*.whl")
    return wheel


if __name__ == "__main__":
    print(build_wheel(sys.argv[1]))
