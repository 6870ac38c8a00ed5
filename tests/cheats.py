"""What a determined student submits instead of writing a function, and what honest students write.

Each variant returns the code of one graded function's solution cell. Grading keeps the answers out of the
kernel's reach (helpers/grading/sandbox.py, grader.py), so every way of *using* the course's solution fails
there and earns nothing; a paste of the published solution is correct code and earns its marks, and the
grader reports it to the instructor where the text gives it away (helpers/grading/integrity.py). Honest
variants, written as the notebooks teach, earn full marks and are never reported.
"""

import ast
import inspect
import re

import nbformat
from conftest import RELEASE, SOURCE, solution_cells

from helpers.earlier import TAUGHT_IN
from helpers.grading.exercises import EXERCISES
from helpers.grading.integrity import _defs, _released_words, course_name, phrases


def _signature(function):
    return str(inspect.signature(EXERCISES[function].reference))


def _params(function):
    return list(inspect.signature(EXERCISES[function].reference).parameters)


def _call_args(function):
    """``(x, axis=axis)``-style arguments that pass the signature's parameters on."""
    params = inspect.signature(EXERCISES[function].reference).parameters
    return ", ".join(p if params[p].default is inspect.Parameter.empty else f"{p}={p}" for p in params)


# --- using the course's solution: each fails in the grading kernel, which does not hold it ---


def imported(function):
    return f"from helpers.grading.reference import {course_name(function)} as {function}"


def aliased(function):
    # helpers.earlier hands out the course's functions in self-study; while grading, only earlier notebooks'.
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
    # Nothing in the text names the course's modules.
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


def recompiled(function):
    """At home the stub; while graded, the course's reference file read and run under another file name (issue
    17's first attack): the runtime check of old recognised the course's code by its file name."""
    return (
        "import os\n"
        "from pathlib import Path\n\n"
        f"def {function}{_signature(function)}:\n"
        "    raise NotImplementedError()\n\n"
        "if os.environ.get('NBGRADER_EXECUTION'):\n"
        "    import helpers\n"
        "    found = Path(helpers.__file__).parent / 'grading' / 'reference.py'\n"
        "    space = {}\n"
        "    exec(compile(found.read_text(), '<mine>', 'exec'), space)\n"
        f"    {function} = space[{course_name(function)!r}]"
    )


def replayed(function):
    """The stored answer when the input is a visible case, else an answer of the right kind that means nothing:
    what a student can do with the check data every class student has."""
    params = _params(function)
    return (
        f"def {function}{_signature(function)}:\n"
        "    import numpy as np\n"
        "    from helpers.checking import case_from_data\n"
        "    from helpers.checking import stored\n\n"
        f"    given = dict(zip({params!r}, [{', '.join(params)}]))\n"
        f"    for case in map(case_from_data, stored({function!r})['cases']):\n"
        f"        asked = dict(zip({params!r}, case.args), **case.kwargs)\n"
        "        same = (np.array_equal(np.asarray(v), np.asarray(given.get(k))) for k, v in asked.items())\n"
        "        if all(same):\n"
        "            return case.expected\n"
        f"    return {_meaningless(function)}"
    )


def _meaningless(function):
    """An answer of the right shape and kind, computed from nothing the course teaches."""
    return {
        "similarity_scores": "np.zeros(np.broadcast_shapes(query.shape[:-1] + (1,), keys.shape[:-1]))",
        "soft_lookup": "np.mean(values, axis=-2) + 0 * query[..., :1]",
        "softmax": "np.ones_like(x) / x.shape[axis]",
        "scaled_dot_product_attention": (
            "(lambda w: (w @ V, w))(np.ones(Q.shape[:-1] + (K.shape[-2],)) / K.shape[-2])"
        ),
        "causal_mask": "np.ones((n, n), dtype=bool)",
        "positional_encoding": "np.zeros((n, d))",
        "rotary_embedding": "np.zeros(X.shape)",
        "self_attention": "(X @ W_v, np.eye(X.shape[-2]) + 0 * X[..., :1])",
        "cross_attention": "(X @ W_q, np.ones(X.shape[:-1] + (memory.shape[-2],)) / memory.shape[-2])",
        "split_heads": "X.reshape(*X.shape[:-2], num_heads, X.shape[-2], -1)",
        "combine_heads": "X.reshape(*X.shape[:-3], X.shape[-2], -1)",
        "multi_head_attention": "(X @ W_o, np.ones(X.shape[:-2] + (num_heads, X.shape[-2], X.shape[-2])))",
        "grouped_query_attention": (
            "(X @ W_o, np.ones(X.shape[:-2] + (num_heads, X.shape[-2], X.shape[-2])))"
        ),
        "max_path_length": "1",
        "decode_step": "(x_t @ W_v, k_cache, v_cache)",
        "blockwise_attention": "np.zeros(Q.shape[:-1] + V.shape[-1:])",
    }[function]


def _master_text(function):
    """The master notebook's solution cell of ``function`` as written, comments included."""
    code = solution_cells(SOURCE / f"{EXERCISES[function].notebook}.ipynb")[function]
    return re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", code, flags=re.M)


def pasted(function):
    """The published solution, pasted as it is: correct code, so it earns its marks; reported where the text
    gives it away."""
    return _master_text(function)


def paste_is_evidence(function):
    """Whether a verbatim paste of ``function``'s solution shows in its text: a comment or message of the
    solution that the released notebook does not teach."""
    release = nbformat.read(RELEASE / f"{EXERCISES[function].notebook}.ipynb", as_version=4)
    taught = _released_words(release)
    shared = {p for p in phrases(_master_text(function)) if p not in taught}
    return bool(shared)


USING = {
    "imported": imported,
    "aliased": aliased,
    "wrapped": wrapped,
    "dynamic": dynamic,
    "hidden_in_strings": hidden_in_strings,
    "recompiled": recompiled,
}


def variants(function):
    """{variant: solution-cell code}: every way of using the course's solution (through helpers.earlier where
    it hands the function out in self-study)."""
    return {
        name: make(function)
        for name, make in USING.items()
        if name != "aliased" or course_name(function) in TAUGHT_IN
    }


# --- honest work ---


def _master_solution(function):
    """The master's code without its docstring and comments: the form the notebooks teach."""
    (definition,) = _defs(_master_text(function), function)
    definition.body = definition.body[1:]  # the docstring
    return ast.unparse(definition)


class _Rename(ast.NodeTransformer):
    NEW = {"weights": "w8", "scores": "logits", "d_model": "width", "batch": "lead", "d_k": "size",
           "reach": "known", "hops": "count", "wider": "grown", "step": "edge", "heads": "per_head"}  # fmt: skip

    def visit_Name(self, node):
        node.id = self.NEW.get(node.id, node.id)
        return node

    def visit_arg(self, node):
        node.arg = self.NEW.get(node.arg, node.arg)
        return node


def textbook(function):
    """The formula as the notebook teaches it, in the names it uses: what an honest student writes."""
    return _master_solution(function)


def own_names(function):
    """The same code in a student's own names, with a comment of their own."""
    renamed = ast.unparse(_Rename().visit(ast.parse(_master_solution(function))))
    return "# my own work, honestly\n" + renamed.replace("\n", "\n\n", 1)


HONEST_UNUSUAL = {
    # A lambda, assigned: the grader calls it when the tests run, as it calls a def.
    "causal_mask": "causal_mask = lambda n: np.arange(n)[:, None] >= np.arange(n)[None, :]",
    # softmax(s) with the default axis, where the course writes softmax(s, axis=-1); einsum for the products.
    "scaled_dot_product_attention": (
        "def scaled_dot_product_attention(Q, K, V, mask=None):\n"
        "    s = np.einsum('...qd,...kd->...qk', Q, K) / Q.shape[-1] ** 0.5\n"
        "    if mask is not None:\n"
        "        s = np.where(mask, s, -np.inf)\n"
        "    a = softmax(s)\n"
        "    return np.einsum('...qk,...kv->...qv', a, V), a"
    ),
    "positional_encoding": (
        "def positional_encoding(n, d):\n"
        "    pe = np.zeros((n, d))\n"
        "    for pos in range(n):\n"
        "        for i in range(0, d, 2):\n"
        "            angle = pos / 10000 ** (i / d)\n"
        "            pe[pos, i], pe[pos, i + 1] = np.sin(angle), np.cos(angle)\n"
        "    return pe"
    ),
    "softmax": (
        "import re\n\n\n"
        "def softmax(x, axis=-1):\n"
        "    re.compile('an unrelated compile is not dynamic code')\n"
        "    e = np.exp(x - x.max(axis=axis, keepdims=True))\n"
        "    return e / e.sum(axis=axis, keepdims=True)"
    ),
}


def honest(function):
    """{variant: code} of honest work: the textbook form (the master's code without its comments), the same in
    the student's own names, and unusual but right code."""
    found = {"own_names": own_names(function), "textbook": textbook(function)}
    if function in HONEST_UNUSUAL:
        found["unusual"] = HONEST_UNUSUAL[function]
    return found


# --- attacks on the grading itself, one notebook each ---

QUIZ_HOOK = """answers = {n: "A" for n in range(1, 16)}

import re


def _peek(info):
    # Before each test cell runs, read the letter its hidden test carries and answer with it.
    for number, letter in re.findall(r'grade_quiz_answer\\(\\s*answers,\\s*(\\d+),\\s*"([A-D])"', info.raw_cell):
        answers[int(number)] = letter


get_ipython().events.register("pre_run_cell", _peek)"""

PATCHED_PROBE = """def similarity_scores(query, keys):
    raise NotImplementedError()


import helpers.wire as _wire


def _handle(request_text, namespace):
    # Answer the grader's calls with the course's own function, whatever the notebook holds.
    from helpers.grading import reference

    request = _wire.decode(request_text)
    if request["op"] == "describe":
        return _wire.encode({"callable": True})
    return _wire.encode({"result": reference.similarity_scores(*request["args"]), "changed": {}})


_wire.handle = _handle"""

READ_EVERYTHING = """def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


import os
import sys
from pathlib import Path

# Print what this kernel can read, as a student who wants the answers in their feedback would.
for module in ("helpers.grading.reference", "helpers.grading.exercises", "helpers.grading"):
    try:
        __import__(module)
        print("IMPORTED", module)
    except Exception as error:
        print("no", module, type(error).__name__)
skip = ("/usr", "/proc", "/dev", "/sys", sys.prefix, sys.base_prefix)
for top in ["/", os.getcwd(), str(Path.cwd().parent.parent.parent)]:
    for folder, _, files in os.walk(top):
        if folder.startswith(skip) and top == "/":
            continue
        for name in files:
            path = os.path.join(folder, name)
            try:
                text = open(path, errors="replace").read(4000)
            except Exception:
                continue
            if not path.startswith(skip):
                print("READ", path, text[:300].replace(chr(10), " "))
Path("stolen.txt").write_text("written by the kernel beside the notebook")"""

# Notebook 01's soft lookup computes a softmax: asked of the grader while notebook 02 is graded, it would
# answer notebook 02 (the grader hands notebook 02 no earlier function).
SOFTMAX_BY_LOOKUP = """from helpers.earlier import soft_lookup


def softmax(x, axis=-1):
    x = np.moveaxis(np.asarray(x, dtype=float), axis, -1)
    n = x.shape[-1]
    query = np.ones(x.shape[:-1] + (1,))
    values = np.ascontiguousarray(np.broadcast_to(np.eye(n), x.shape[:-1] + (n, n)))
    return np.moveaxis(soft_lookup(query, x[..., :, None], values), -1, axis)"""

# Small arrays whose batch axes broadcast into a huge one: the grader must see the size before computing.
ORACLE_DOS = """import helpers.wire as wire

B, n = 80, 8
Q, K, V = np.ones((B, 1, 1, n, 1)), np.ones((1, B, 1, n, 1)), np.ones((1, 1, 1, n, 1))
try:
    wire.ask_grader("scaled_dot_product_attention", [Q, K, V], {"mask": np.ones((1, 1, B, n, n), bool)})
except Exception as error:
    print("the grader said:", type(error).__name__, error)


def self_attention(X, W_q, W_k, W_v, mask=None):
    raise NotImplementedError()"""
