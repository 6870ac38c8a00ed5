"""Submissions that use the course's own solution instead of writing it, as solution-cell code.

Each variant returns the code of one graded function's solution cell. Grading must score every such function
zero and say why (helpers/grading/integrity.py); the honest students of tests/mistakes.py must keep their marks.
"""

import ast
import inspect

from conftest import SOURCE, solution_cells

from helpers.earlier import TAUGHT_IN
from helpers.grading.exercises import EXERCISES
from helpers.grading.integrity import DISTINCTIVE_NODES, _defs, course_name, normalised


def _signature(function):
    return str(inspect.signature(EXERCISES[function].reference))


def _call_args(function):
    """``(x, axis=axis)``-style arguments that pass the signature's parameters on."""
    params = inspect.signature(EXERCISES[function].reference).parameters
    return ", ".join(p if params[p].default is inspect.Parameter.empty else f"{p}={p}" for p in params)


def imported(function):
    return f"from helpers.grading.reference import {course_name(function)} as {function}"


def aliased(function):
    # helpers.earlier hands out the course's functions wherever they are installed (self-study, grading).
    return f"from helpers import earlier\n\n{function} = earlier.{course_name(function)}"


def wrapped(function):
    return (
        f"def {function}{_signature(function)}:\n"
        "    import helpers.grading.reference as course\n\n"
        f"    return course.{course_name(function)}({_call_args(function)})"
    )


def dynamic(function):
    return (
        "import importlib\n\n\n"
        f"def {function}{_signature(function)}:\n"
        '    solutions = importlib.import_module("helpers." + "grading.reference")\n'
        f'    return getattr(solutions, "{course_name(function)}")({_call_args(function)})'
    )


def hidden_in_strings(function):
    # Nothing in the text names the course's modules: only running it shows where the answer comes from.
    if course_name(function) in TAUGHT_IN:
        module = '"helpers." + "ear" + "lier"'
    else:  # helpers.earlier holds notebooks 01-05 only
        module = '"helpers." + "gra" + "ding." + "refer" + "ence"'
    return (
        "import importlib as il\n\n"
        'load = getattr(il, "import_" + "module")\n\n\n'
        f"def {function}{_signature(function)}:\n"
        f'    return getattr(load({module}), "{course_name(function)}")({_call_args(function)})'
    )


def _master_solution(function):
    """The master notebook's solution of ``function`` without its docstring, as found in source/."""
    code = solution_cells(SOURCE / f"{EXERCISES[function].notebook}.ipynb")[function]
    (definition,) = _defs(code, function)
    definition.body = definition.body[1:]  # the docstring
    return ast.unparse(definition)


class _Rename(ast.NodeTransformer):
    NEW = {"weights": "w8", "scores": "logits", "d_model": "width", "batch": "lead", "d_k": "size"}

    def visit_Name(self, node):
        node.id = self.NEW.get(node.id, node.id)
        return node

    def visit_arg(self, node):
        node.arg = self.NEW.get(node.arg, node.arg)
        return node


def pasted(function):
    """The master's code with its variables renamed and a comment added: a copy once names are normalised."""
    renamed = ast.unparse(_Rename().visit(ast.parse(_master_solution(function))))
    return "# my own work, honestly\n" + renamed.replace("\n", "\n\n", 1)


VARIANTS = {
    "imported": imported,
    "aliased": aliased,
    "wrapped": wrapped,
    "dynamic": dynamic,
    "hidden_in_strings": hidden_in_strings,
    "pasted": pasted,
}


def distinctive(function):
    """Whether the master's code of ``function`` is long enough for a copy of it to be told from honest work."""
    return normalised(_defs(_master_solution(function), function)[0])[1] >= DISTINCTIVE_NODES


def _applies(name, function):
    if name == "pasted":
        return distinctive(function)
    if name == "aliased":  # through helpers.earlier, which holds notebooks 01-05 only
        return course_name(function) in TAUGHT_IN
    return True


def variants(function):
    """{variant: solution-cell code}: those that never write the function (through helpers.earlier where it
    hands the function out), and a paste where a paste can be told from honest work."""
    return {name: make(function) for name, make in VARIANTS.items() if _applies(name, function)}
