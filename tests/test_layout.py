"""The layout a newcomer reads (helpers/README.md): the student package reaches the grading side only through its
documented seams, never at import; no module imports itself back through others; no module outgrows a reading.

The rule: the grading side (helpers/grading/) may import the student package (helpers/), and the student package
reaches the grading side only where helpers/README.md says, inside a function, so that every module of it imports
without helpers.grading (a class release has none).
"""

import ast
import importlib.util
import os
import subprocess
import sys

import pytest
from conftest import ROOT

HELPERS = ROOT / "helpers"
GRADING = "helpers.grading"
# The seams (helpers/README.md, "The grading side"): (module, function) where the student package imports
# helpers.grading.
SEAMS = {
    ("helpers.checks", "_hidden_cases"),  # the hidden cases of a check, computed while grading
    ("helpers.earlier", "_resolve"),  # earlier notebooks' functions: the course's own in self-study
}
MAX_LINES = 600


def _module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


STUDENT_MODULES = sorted(HELPERS.glob("*.py"))
ALL_MODULES = sorted(p for p in HELPERS.rglob("*.py") if "__pycache__" not in p.parts)
NAMES = {_module_name(p) for p in ALL_MODULES}


def _imports(path, module_level_only):
    """[(imported module, enclosing function or None)] for each import in ``path``: with ``module_level_only``,
    the imports that run when the module is imported (not those inside a function, which run when it is called).
    A name taken from a package counts as its submodule where there is one (``from helpers import progress``)."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                if not module_level_only:
                    visit(child, getattr(child, "name", function))
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name, function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = importlib.util.resolve_name("." * child.level + (child.module or ""), package)
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    found.append((sub if sub in NAMES else base, function))
            visit(child, function)

    visit(ast.parse(path.read_text(encoding="utf-8")), None)
    return found


def _is_grading(module):
    return module == GRADING or module.startswith(GRADING + ".")


@pytest.mark.parametrize("path", STUDENT_MODULES, ids=lambda p: p.name)
def test_the_student_package_never_imports_the_grading_side_at_module_level(path):
    assert not [m for m, _ in _imports(path, module_level_only=True) if _is_grading(m)]


def test_the_student_package_reaches_the_grading_side_only_through_its_seams():
    seams = {
        (_module_name(path), function)
        for path in STUDENT_MODULES
        for module, function in _imports(path, module_level_only=False)
        if _is_grading(module)
    }
    assert seams == SEAMS, "a new way into helpers.grading: document it in helpers/README.md and here"


@pytest.mark.parametrize("module_level_only", [True, False], ids=["at import", "inside functions too"])
def test_no_module_imports_itself_back_through_others(module_level_only):
    # Not even through a seam: helpers.checks reaches helpers.grading.exercises, which must not import it back.
    edges = {
        _module_name(path): {
            m for m, _ in _imports(path, module_level_only) if m in NAMES and m != _module_name(path)
        }
        for path in ALL_MODULES
    }
    done, path = set(), []

    def walk(module):
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(module) :], module]))
        if module in done:
            return
        path.append(module)
        for other in sorted(edges.get(module, ())):
            walk(other)
        path.pop()
        done.add(module)

    for module in sorted(edges):
        walk(module)


# One fresh interpreter imports the libraries the modules use (numpy, IPython...), never a helpers module; then,
# for each module, a child forked from it imports that module alone and exits. An import cycle among the course's
# modules shows when its module is imported first; the libraries, loaded once, cost no time per module.
IMPORT_ALONE = """
import importlib, os, sys, traceback
for library in sys.argv[1].split():
    try:
        importlib.import_module(library)
    except ImportError:
        pass  # a module that needs it fails below, in its own child
failed = {}
for key in sys.argv[2:]:
    module, where = key.split(":")
    child = os.fork()
    if child == 0:
        try:
            if where == "class":
                sys.modules["helpers.grading"] = None  # what `import helpers.grading` meets in a class release
            importlib.import_module(module)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    if os.waitpid(child, 0)[1]:
        failed[key] = True
print(sorted(failed))
sys.exit(bool(failed))
"""


def _libraries():
    """The top-level libraries the course's modules import (anywhere in them), helpers itself left out."""
    found = set()
    for path in ALL_MODULES:
        for module, _ in _imports(path, module_level_only=False):
            top = module.split(".")[0]
            if top and top != "helpers":
                found.add(module)
    return sorted(found)


def test_each_module_imports_alone_and_the_student_package_without_the_grading_side():
    # Each module imported first, alone. The student package's modules are imported twice: as in self-study,
    # and as in a class release (no helpers.grading).
    imports = [f"{m}:self-study" for m in sorted(NAMES)]
    imports += [f"{m}:class" for m in sorted(NAMES) if not _is_grading(m)]
    run = subprocess.run(
        [sys.executable, "-c", IMPORT_ALONE, " ".join(_libraries()), *imports],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},  # no BLAS threads in a process that forks
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert run.stdout.strip() == "[]"


def test_no_module_is_longer_than_a_reading():
    lines = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines()) for p in ALL_MODULES}
    assert not {path: n for path, n in lines.items() if n > MAX_LINES}
