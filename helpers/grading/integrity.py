"""Did a submission use the course's own solution for a graded function? Instructor side, run by the grader.

A public repository means a student can always find the solutions; grading makes sure the instructor sees who
used them. A graded function is flagged, and scores zero, when it

- **is** the course's function: its name is bound to something imported from the course's solutions
  (``helpers.grading``, or ``helpers.earlier`` for a function of the notebook being graded), or the object the
  kernel holds was defined in the course's files;
- **imports** or **wraps** it: its body uses such a name, imports such a module, imports dynamically
  (``importlib``, ``__import__``, ``exec``, ``eval``), or calling it runs the course's function of the same name;
- **copies** it: its code equals a course solution's once names, comments, docstrings and whitespace are
  normalised. Short solutions have one natural form that honest students write too, so only solutions of at
  least :data:`DISTINCTIVE_NODES` syntax nodes count (attention, split_heads, multi-head and vectorised
  attention); for the others the first three rules still apply.

Everything here reads the notebook's text in the grader's process; :mod:`helpers.grading.grader` adds what the
kernel reports about the function object (where it was defined, which course functions a call ran).
"""

import ast
import functools
import inspect
import json
from pathlib import Path

from helpers.grading import reference
from helpers.grading.exercises import EXERCISES

SOLUTION_USED = "Uses the course's solution"
DISTINCTIVE_NODES = 60
DYNAMIC = {"import_module", "__import__", "exec", "eval", "compile", "reload"}
REFERENCE_FILE = str(Path(reference.__file__).resolve())
COURSE_FOLDER = str(Path(reference.__file__).resolve().parents[1])  # helpers/


def course_name(function):
    """The course's function that ``function`` must not use: its own reference (vectorised attention is
    scaled dot-product attention)."""
    return EXERCISES[function].reference.__name__


def _course_import(module, name, notebook_functions):
    """Whether ``from module import name`` (or ``import module`` when name is None) brings in a solution."""
    if module == "helpers.grading" or module.startswith("helpers.grading."):
        return True
    if module == "helpers":
        return name in ("grading", "earlier")
    return module == "helpers.earlier" and (name is None or name in notebook_functions)


def _forbidden_bindings(tree, notebook_functions):
    """Names bound to the course's solutions anywhere in ``tree``: {name: what it is}."""
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _course_import(alias.name, None, notebook_functions):
                    bound[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if _course_import(node.module or "", alias.name, notebook_functions):
                    bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def _uses(node, names, notebook_functions):
    """The first name of ``names`` that ``node`` reads, a course module it reaches or imports, or a dynamic
    import; None if it does none of these."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in names:
            return f"it uses `{sub.id}` ({names[sub.id]})"
        if isinstance(sub, ast.Attribute):
            chain = ast.unparse(sub)
            if chain.startswith("helpers.grading") or any(
                chain == f"helpers.earlier.{name}" for name in notebook_functions
            ):
                return f"it uses {chain}"
        if isinstance(sub, ast.Import | ast.ImportFrom):
            for alias in sub.names:
                module = sub.module if isinstance(sub, ast.ImportFrom) else alias.name
                name = alias.name if isinstance(sub, ast.ImportFrom) else None
                if module and _course_import(module, name, notebook_functions):
                    return f"it imports {module}"
        if isinstance(sub, ast.Call):
            called = getattr(sub.func, "attr", getattr(sub.func, "id", ""))
            if called in DYNAMIC:
                return f"it imports or runs code dynamically (`{called}`)"
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and "helpers.grading" in sub.value:
            return "it names the course's solutions module in a string"
    return None


class _Normalise(ast.NodeTransformer):
    """Identifiers renamed in order of appearance; docstrings dropped. Attributes, keywords and constants stay."""

    def __init__(self):
        self.names = {}

    def _canon(self, name):
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node):
        return ast.copy_location(ast.Name(id=self._canon(node.id), ctx=node.ctx), node)

    def visit_arg(self, node):
        return ast.copy_location(ast.arg(arg=self._canon(node.arg)), node)

    def visit_FunctionDef(self, node):
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]
        node.body = body or [ast.Pass()]
        node.name = "f"
        node.returns = None
        node.decorator_list = []
        self.generic_visit(node)
        return node


def normalised(function_def):
    """The code of a ``def`` with names, comments, docstrings and whitespace normalised, and its size in nodes."""
    tree = _Normalise().visit(ast.parse(ast.unparse(function_def)))
    return ast.dump(tree, annotate_fields=False), sum(1 for _ in ast.walk(tree))


def _defs(source, name):
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name]


@functools.cache
def course_solutions(function, source_folder):
    """Normalised forms of the course's own solutions of ``function``: the reference implementation and the
    master notebook's solution cell."""
    forms = set()
    ref = getattr(reference, course_name(function))
    for node in _defs(inspect.getsource(ref), ref.__name__):
        forms.add(normalised(node))
    notebook = Path(source_folder) / f"{EXERCISES[function].notebook}.ipynb"
    if notebook.exists():
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            meta = cell["metadata"].get("nbgrader", {})
            if meta.get("solution") and meta.get("grade_id") == function:
                forms.update(normalised(node) for node in _defs("".join(cell["source"]), function))
    return frozenset(forms)


def _code_cells(nb):
    """The notebook's code, one parsed cell at a time (a cell that does not parse is skipped)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(
            line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        try:
            yield ast.parse(source)
        except SyntaxError:
            continue


def static_findings(nb, function, source_folder):
    """Why ``function`` in notebook ``nb`` uses the course's solution, from its text alone, or None."""
    notebook_functions = {n for n, e in EXERCISES.items() if e.notebook == EXERCISES[function].notebook}
    notebook_functions |= {course_name(n) for n in notebook_functions}
    trees = list(_code_cells(nb))
    forbidden = {}
    for tree in trees:
        forbidden.update(_forbidden_bindings(tree, notebook_functions))
    for tree in trees:
        for node in tree.body:
            targets = []
            if isinstance(node, ast.Assign):
                targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
                targets = [node.target.id]
            if function in targets and node.value is not None:
                found = _uses(node.value, forbidden, notebook_functions)
                if found:
                    return f"`{function}` is the course's solution, not the student's: {found}"
            if isinstance(node, ast.Import | ast.ImportFrom) and function in _forbidden_bindings(
                node, notebook_functions
            ):
                return f"`{function}` is imported from the course's solutions ({ast.unparse(node)})"
    defs = [
        n for tree in trees for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function
    ]
    for node in defs:
        found = _uses(node, forbidden, notebook_functions)
        if found:
            return f"`{function}` wraps the course's solution: {found}"
    for node in defs[-1:]:  # the definition in force is the last one
        form = normalised(node)
        if form[1] >= DISTINCTIVE_NODES and form in course_solutions(function, str(source_folder)):
            return (
                f"`{function}` is a copy of the course's solution (the same code once names are normalised)"
            )
    return None


def defined_in_course(code_file):
    """Whether a function whose code lives in ``code_file`` comes from the course's own package."""
    return bool(code_file) and str(Path(code_file).resolve()).startswith(COURSE_FOLDER)


def runtime_findings(function, described, probe):
    """Why the kernel's object for ``function`` is the course's solution, from what the kernel reported."""
    if defined_in_course(described.get("code_file")):
        return f"`{function}` is the course's own function ({Path(described['code_file']).name})"
    if probe and probe.get("solution_called"):
        return f"calling `{function}` runs the course's `{course_name(function)}`"
    return None
