"""Copy evidence, for a person to weigh: does a graded function look taken from the course's published solution?

Grading keeps the answers out of the student's reach (the grading kernel holds the student package alone, and
hidden tests run in the grader), so a function that imports or calls the course's solution simply fails there.
What remains is a student pasting the solution from somewhere else, such as the public repository's
``source/``. That is a question for a person, so nothing here changes a score: the grader reports what it
found (:mod:`helpers.grading.grader`) in the grading summary, as a gradebook flag and as a note that formgrader
shows and the feedback leaves out.

Evidence, in the student's notebook text only:

- **shared phrases**: a comment or message string of the course's solution (four words or more) that the
  student's function holds too, and that the released notebook does not (a phrase the course teaches is no
  evidence);
- the same code alone is no evidence: the notebooks dictate their formulas step by step (attention, the
  positional encoding, multi-head attention), and honest students write them name for name;
- **code the grading kernel cannot run**: the function names the course's solutions (``helpers.grading``, or
  ``helpers.earlier`` for a function of its own notebook), or runs code built at run time (the builtins
  ``eval``, ``exec``, ``compile`` and ``__import__``; ``importlib``'s ``import_module`` and ``reload``).
  Using ``helpers.earlier`` itself is the course's way of handing out earlier notebooks' functions: only
  taking this notebook's own function from it counts.
  Such a function scores what it earns in the kernel (usually nothing); the note says why.
"""

import ast
import functools
import inspect
import io
import json
import re
import tokenize
from pathlib import Path

from helpers.grading import reference
from helpers.grading.exercises import EXERCISES

COPY_EVIDENCE = "Copy evidence"
PHRASE_WORDS = 4
DYNAMIC_BUILTINS = {"eval", "exec", "compile", "__import__"}
DYNAMIC_IMPORTLIB = {"import_module", "reload"}


def course_name(function):
    """The course's function that ``function`` must not use: its own reference (vectorised attention is
    scaled dot-product attention)."""
    return EXERCISES[function].reference.__name__


def _course_import(module, name, notebook_functions):
    """Whether ``from module import name`` (or ``import module`` when name is None) brings in a solution:
    anything of helpers.grading, and from helpers.earlier a function of the notebook's own (the module itself
    is the course's way of handing students earlier notebooks' functions)."""
    if module == "helpers.grading" or module.startswith("helpers.grading."):
        return True
    if module == "helpers":
        return name == "grading"
    return module == "helpers.earlier" and name in notebook_functions


def _earlier_aliases(trees):
    """Names bound to the module helpers.earlier itself."""
    names = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "helpers":
                names |= {a.asname or a.name for a in node.names if a.name == "earlier"}
            elif isinstance(node, ast.Import):
                names |= {a.asname for a in node.names if a.name == "helpers.earlier" and a.asname}
    return names


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


def _importlib_bindings(trees):
    """Names bound to ``importlib`` itself, and to its ``import_module`` or ``reload``."""
    modules, functions = set(), set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules |= {a.asname or a.name for a in node.names if a.name == "importlib"}
            elif isinstance(node, ast.ImportFrom) and node.module == "importlib":
                functions |= {a.asname or a.name for a in node.names if a.name in DYNAMIC_IMPORTLIB}
    return modules, functions


def _rebound(trees):
    """Every name the notebook binds itself (so an ``eval`` defined there is not the builtin)."""
    names = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                names.add(node.id)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.arg):
                names.add(node.arg)
    return names


def _dynamic_call(call, rebound, importlib_names):
    """The dynamic-code function ``call`` calls, or None: builtins only as builtins, importlib's as importlib's."""
    modules, functions = importlib_names
    func = call.func
    if isinstance(func, ast.Name):
        if func.id in DYNAMIC_BUILTINS and func.id not in rebound:
            return func.id
        if func.id in functions:
            return f"importlib.{func.id}"
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        owner = func.value.id
        if owner in modules and func.attr in DYNAMIC_IMPORTLIB:
            return f"importlib.{func.attr}"
        if owner in ("builtins", "__builtins__") and func.attr in DYNAMIC_BUILTINS:
            return func.attr
    return None


def _uses(node, names, notebook_functions, rebound, importlib_names, earlier_aliases=()):
    """The first course solution ``node`` reads or imports, or dynamic code it runs; None if neither."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in names:
            return f"it uses `{sub.id}` ({names[sub.id]})"
        if isinstance(sub, ast.Attribute):
            if (
                isinstance(sub.value, ast.Name)
                and sub.value.id in earlier_aliases
                and sub.attr in notebook_functions
            ):
                return f"it uses {sub.value.id}.{sub.attr} (helpers.earlier.{sub.attr}, this notebook's own)"
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
            called = _dynamic_call(sub, rebound, importlib_names)
            if called:
                return f"it runs code built at run time (`{called}`)"
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and "helpers.grading" in sub.value:
            return "it names the course's solutions module in a string"
    return None


def _defs(source, name):
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name]


def _words(text):
    return " ".join(re.findall(r"[a-z0-9_]+", text.lower()))


def phrases(source):
    """The comments and message strings in ``source`` of at least :data:`PHRASE_WORDS` words, normalised."""
    found = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                found.add(_words(token.string.lstrip("#")))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    try:
        tree = ast.parse(source)
    except SyntaxError:
        tree = None
    for node in ast.walk(tree) if tree else []:
        if isinstance(node, ast.JoinedStr):
            found.add(_words(" ".join(v.value for v in node.values if isinstance(v, ast.Constant))))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(_words(node.value))
    for node in ast.walk(tree) if tree else []:  # docstrings are the stub's, given to every student
        if isinstance(node, ast.FunctionDef) and node.body and isinstance(node.body[0], ast.Expr):
            value = node.body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.discard(_words(value.value))
    return {p for p in found if len(p.split()) >= PHRASE_WORDS}


@functools.cache
def course_solutions(function, source_folder):
    """The course's own solutions of ``function``: [(where, code)], the reference implementation and the master
    notebook's solution cell."""
    ref = getattr(reference, course_name(function))
    found = [(f"helpers/grading/reference.py:{ref.__name__}", inspect.getsource(ref))]
    notebook = Path(source_folder) / f"{EXERCISES[function].notebook}.ipynb"
    if notebook.exists():
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            meta = cell["metadata"].get("nbgrader", {})
            if meta.get("solution") and meta.get("grade_id") == function:
                found.append((f"source/{notebook.parent.name}/{notebook.name}", "".join(cell["source"])))
    return tuple(found)


def _code_cells(nb):
    """The notebook's code, one parsed cell at a time (a cell that does not parse is skipped)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(
            line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        try:
            yield ast.parse(source), source
        except SyntaxError:
            continue


def _released_words(nb):
    """Everything the notebook says outside its solution cells: what the course teaches, in words."""
    return _words(
        " ".join(cell.source for cell in nb.cells if not cell.metadata.get("nbgrader", {}).get("solution"))
    )


def copy_evidence(nb, function, source_folder):
    """What in notebook ``nb`` suggests ``function`` was taken from the course's solutions, or None."""
    notebook_functions = {n for n, e in EXERCISES.items() if e.notebook == EXERCISES[function].notebook}
    notebook_functions |= {course_name(n) for n in notebook_functions}
    cells = list(_code_cells(nb))
    trees = [tree for tree, _ in cells]
    forbidden, rebound, importlib_names = {}, _rebound(trees), _importlib_bindings(trees)
    for tree in trees:
        forbidden.update(_forbidden_bindings(tree, notebook_functions))
    aliases = _earlier_aliases(trees)

    def uses(node):
        return _uses(node, forbidden, notebook_functions, rebound, importlib_names, aliases)

    for tree in trees:
        for node in tree.body:
            targets = []
            if isinstance(node, ast.Assign):
                targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
                targets = [node.target.id]
            if function in targets and node.value is not None and uses(node.value):
                return f"`{function}` is not written but taken: {uses(node.value)}"
            if isinstance(node, ast.Import | ast.ImportFrom) and function in _forbidden_bindings(
                node, notebook_functions
            ):
                return f"`{function}` is imported from the course's solutions ({ast.unparse(node)})"
    defs = [
        (n, src)
        for tree, src in cells
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef) and n.name == function
    ]
    for node, _ in defs:
        found = uses(node)
        if found:
            return f"`{function}` {found.removeprefix('it ')}"
    if not defs:
        return None
    node, cell_source = defs[-1]  # the definition in force is the last one
    mine = ast.get_source_segment(cell_source, node) or ast.unparse(node)
    taught = _released_words(nb)
    for where, code in course_solutions(function, str(source_folder)):
        shared = sorted(p for p in phrases(mine) & phrases(code) if p not in taught)
        if shared:
            return f'`{function}` shares {len(shared)} comment(s) or message(s) with {where}: "{shared[0]}"'
    return None
