"""nbgrader's Execute step, hardened for untrusted submissions (used by ``nbgrader_config.py``).

The kernel is the student's: whatever runs in it can be rewritten by the submission. So answers are made
unreachable from it rather than guarded inside it:

- The kernel runs in the allow-list sandbox of :mod:`helpers.grading.sandbox` (the student package alone, a
  throw-away copy of the submission, no course files), over Unix sockets in a private folder, and is interrupted
  by message (a signal would stop the sandbox).
- Hidden tests never enter the kernel. Each graded test cell runs there with its hidden part removed (what the
  student's own copy of the notebook holds), and then, whole, in this process with the notebook's names replaced
  by proxies into the kernel (:mod:`helpers.grading.remote`). The test earns its points only if the run here
  passes; its output is this run's. The hidden cases include fresh random inputs drawn here
  (:func:`helpers.grading.exercises.fresh_inputs`), so no stored answer passes them.
- A graded value (the quiz's ``answers``) is fetched once, right after the cell that sets it runs and before any
  test cell, and scored here, where the key is.
- Earlier notebooks' functions (``helpers.earlier``) are computed here on the inputs the kernel sends over the
  kernel's stdin channel (:func:`helpers.wire.ask_grader`): outputs, never code, and only of notebooks before
  the one being graded.
- Each cell may print at most ``max_output_chars`` (:mod:`helpers.output_limit` in the kernel, and a cut here),
  and a notebook gets ``notebook_seconds`` of wall time in all.
- A graded function whose code looks pasted from the course's solutions is reported to the instructor (log,
  gradebook flag, a note in the autograded notebook that feedback leaves out), never zeroed
  (:mod:`helpers.grading.integrity`).
"""

import ast
import asyncio
import builtins
import contextlib
import copy
import io
import json
import os
import shutil
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_markdown_cell
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearHiddenTests, Execute
from traitlets import Float, Integer

from helpers import checks, earlier, quiz
from helpers.grading import exercises, integrity, reference, remote, sandbox
from helpers.grading.exercises import EXERCISES
from helpers.output_limit import message as output_limit_message

TAMPERING = "Tampering suspected"
_MISSING = object()  # a graded value its cell should have set, and did not
INSTRUCTOR_NOTE = "<!-- attention-course: instructor only -->"  # feedback leaves out cells that start with it

# What the grader computes for a kernel that asks for an earlier function: inputs of course size, with room.
MAX_REQUEST_CHARS = 8_000_000
MAX_WORK = 4_000_000  # elements of the largest array the call would build (32 MB of float64)
MAX_REPLY_CHARS = 64_000_000  # a kernel's reply to one request, as text


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels start inside the grading sandbox, in a throw-away copy of the student's
    submitted folder (``submission``, set by :class:`TrustedExecute`)."""

    submission = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._shared_dir = tempfile.mkdtemp(prefix="grading-kernel-")
        self.transport = "ipc"
        self.connection_file = os.path.join(self._shared_dir, "kernel.json")
        self.ip = os.path.join(self._shared_dir, "kernel-ipc")

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        wrapped = sandbox.command(
            kernel_cmd,
            workdir=kw.get("cwd") or os.getcwd(),
            shared_dir=self._shared_dir,
            submission=self.submission,
        )
        await super()._async_launch_kernel(wrapped, **kw)

    async def _async_interrupt_kernel(self):
        # By message: SIGINT would reach bubblewrap, which exits, instead of the kernel.
        if self.has_kernel:
            msg = self.session.msg("interrupt_request", content={})
            self._connect_control_socket()
            self.session.send(self._control_socket, msg)

    interrupt_kernel = _async_interrupt_kernel

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self._shared_dir, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


def _trusted_names():
    """What a test cell may use from the grader's own, untouched copy of the course's helpers."""
    names = {name: getattr(checks, name) for name in dir(checks) if name.startswith("check_")}
    names["check_quiz_answer"] = quiz.check_quiz_answer
    names["grade_quiz_answer"] = quiz.grade_quiz_answer
    return names


def _free_names(source):
    tree = ast.parse(source)
    assigned = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    loaded = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
    return list(dict.fromkeys(name for name in loaded if name not in assigned))


def _assigned_names(source):
    """Names a cell assigns at its top level, outside functions and classes (empty if it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names, todo = set(), list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        todo.extend(ast.iter_child_nodes(node))
    return names


def _error_output(exc):
    render = getattr(exc, "_render_traceback_", None)
    lines = render() if render else traceback.format_exception_only(type(exc), exc)
    return NotebookNode(output_type="error", ename=type(exc).__name__, evalue=str(exc), traceback=lines)


def _size(value):
    """A size argument: an exact int from 0 to 4096 (a float, a bool or anything else is refused)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 0 <= value <= 4096:
        raise ValueError("sizes are whole numbers from 0 to 4096")
    return int(value)


def _arrays_of_numbers(*values):
    for value in values:
        if not isinstance(value, np.ndarray) or not (
            np.issubdtype(value.dtype, np.number) or value.dtype == bool
        ):
            raise TypeError("inputs must be arrays of numbers")


def _softmax_work(x, axis=-1):
    _arrays_of_numbers(x)
    return x.size


def _attention_work(Q, K, V, mask=None):
    _arrays_of_numbers(Q, K, V, *([] if mask is None else [mask]))
    if min(Q.ndim, K.ndim, V.ndim) < 2:
        raise ValueError("Q, K and V are (..., n, d)")
    weights = np.broadcast_shapes(Q.shape[:-1] + (K.shape[-2],), K.shape[:-2] + (1, 1), V.shape[:-2] + (1, 1))
    if mask is not None:
        weights = np.broadcast_shapes(weights, mask.shape)
    return max(int(np.prod(weights)), int(np.prod(weights[:-1])) * V.shape[-1], Q.size, K.size, V.size)


def _causal_mask_work(n):
    return _size(n) ** 2


# What the grader computes for a kernel that asks for an earlier function: each function's largest array, from
# the shapes alone (broadcasting included), before anything is computed.
WORK = {
    "softmax": _softmax_work,
    "scaled_dot_product_attention": _attention_work,
    "causal_mask": _causal_mask_work,
}


def provided(source_folder, notebook):
    """The earlier functions the course hands the students of ``notebook`` (``from helpers.earlier import ...``
    in its master or an earlier one), and so the only ones the grader computes for its kernel. Notebook 02 gets
    none: notebook 01's soft lookup would compute its softmax."""
    names = set()
    for master in sorted(Path(source_folder).glob("*.ipynb")):
        if master.stem > notebook:
            continue
        try:
            cells = json.loads(master.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError):
            continue
        for cell in cells:
            if cell.get("cell_type") != "code":
                continue
            with contextlib.suppress(SyntaxError):
                for node in ast.walk(ast.parse("".join(cell.get("source", "")))):
                    if isinstance(node, ast.ImportFrom) and node.module == "helpers.earlier":
                        names |= {alias.name for alias in node.names}
    return names


class TrustedExecute(Execute):
    """nbgrader's ``Execute``, sandboxed and bounded, with every verdict computed outside the kernel."""

    notebook_seconds = Float(300, help="wall time for a whole notebook").tag(config=True)
    max_output_chars = Integer(100_000, help="characters of output a cell may produce").tag(config=True)

    def __init__(self, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        # One stdout and one stderr output per cell: how a print is split into messages depends on timing.
        kwargs.setdefault("coalesce_streams", True)
        # Nothing in a grading kernel needs a graceful exit; waiting for one costs every notebook ~0.5 s.
        kwargs.setdefault("shutdown_kernel", "immediate")
        super().__init__(**kwargs)

    def preprocess(self, nb, resources=None, km=None):
        self._started = time.monotonic()
        self._trusted = _trusted_names()
        self._output_limited = False
        self._nbgrader = dict((resources or {}).get("nbgrader") or {})
        self._notebook = self._nbgrader.get("notebook", "")
        self._values = {}  # graded values fetched right after the cell that sets them: name -> value
        self._coursedir = CourseDirectory(config=self.config)
        self._masters = (
            Path(self._coursedir.root)
            / self._coursedir.source_directory
            / self._nbgrader.get("assignment", "")
        )
        self._hidden = ClearHiddenTests(config=self.config)
        self._test_names = set()
        tests = [
            cell
            for cell in nb.cells
            if cell.cell_type == "code"
            and cell.metadata.get("nbgrader", {}).get("grade")
            and not cell.metadata["nbgrader"].get("solution")
        ]
        if not tests:
            # Nothing in it is graded automatically (notebook 07: a written answer, read by a person): running
            # the student's code would earn nothing and risk nothing less, so it is not run.
            self.log.info("No test cells: the notebook is not run (its answers are graded by hand)")
            return nb, resources
        for cell in tests:
            with contextlib.suppress(SyntaxError):
                self._test_names.update(_free_names(cell.source))
        self._provided = provided(self._masters, self._notebook) & set(earlier.TAUGHT_IN)
        self._flag(False)  # set anew each time the notebook is graded
        nb, resources = super().preprocess(nb, resources, km)
        self._report_copies(nb)
        return nb, resources

    def _submission(self):
        """The student's submitted folder for this notebook (the kernel works in a throw-away copy of it)."""
        student, assignment = self._nbgrader.get("student"), self._nbgrader.get("assignment")
        if not (student and assignment):
            return None
        return self._coursedir.format_path(self._coursedir.submitted_directory, student, assignment)

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.submission = self._submission()
        return km

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        kc.allow_stdin = True  # the kernel's channel for earlier functions (see _serve_stdin)
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        server = asyncio.ensure_future(self._serve_stdin())
        try:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        finally:
            server.cancel()

    execute_cell = run_sync(async_execute_cell)

    def _remaining(self):
        return self.notebook_seconds - (time.monotonic() - self._started)

    def _deadline(self):
        """Seconds a request to the kernel may take: a cell's timeout, within what the notebook has left."""
        return min(self.timeout or 60, max(self._remaining(), 1))

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        self._output_chars, self._cut = 0, False
        if self._remaining() <= 0:
            cell.outputs = [
                NotebookNode(
                    output_type="error",
                    ename="NotRun",
                    evalue="",
                    traceback=[f"NotRun: the notebook used up its {self.notebook_seconds:.0f} s, not run"],
                )
            ]
            return cell, resources
        if not self._output_limited:
            self._limit_output()
        meta = cell.metadata.get("nbgrader", {})
        if not (meta.get("grade") and not meta.get("solution")):
            cell, resources = super().preprocess_cell(cell, resources, index)
            if meta.get("solution"):
                self._fetch_values(cell)
            return cell, resources
        # A test cell: the kernel runs what the student's copy holds, the grader runs it whole.
        whole = cell.source
        visible = copy.deepcopy(cell)
        self._hidden._remove_hidden_test_region(visible)
        cell.source = visible.source
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        finally:
            cell.source = whole
        self._confirm(cell, same_in_kernel=visible.source == whole)
        return cell, resources

    # --- bounded output ---

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        if msg["msg_type"] == "error":  # kept, but bounded: a name or message can be megabytes long
            limit = self.max_output_chars
            content["ename"] = str(content.get("ename", ""))[:200]
            content["evalue"] = str(content.get("evalue", ""))[:limit]
            content["traceback"] = [str(line)[: limit // 10] for line in content.get("traceback", [])[:50]]
        size = len(content.get("text", "")) + sum(len(str(v)) for v in content.get("data", {}).values())
        self._output_chars += size
        if self._output_chars > self.max_output_chars and msg["msg_type"] != "error":
            if not self._cut:
                self._cut = True
                asyncio.ensure_future(self.km.interrupt_kernel())
                outs.append(
                    NotebookNode(output_type="stream", name="stderr", text=f"\n{self._cut_message()}\n")
                )
            return None
        return super().output(outs, msg, display_id, cell_index)

    def _cut_message(self):
        return f"OutputCut: {output_limit_message(self.max_output_chars)}"

    def _limit_output(self):
        """Before the first cell: the kernel's stdout and stderr refuse a cell's output past the limit."""
        code = (
            f"import helpers.output_limit as _limit\n_limit.install(get_ipython(), {self.max_output_chars})"
        )
        self._output_limited = True  # tried once per notebook; the cut in ``output`` still holds if it fails
        try:
            reply = run_sync(self._request)(code, self._deadline())
        except remote.RemoteError as exc:
            reply = {"evalue": str(exc)}
        if reply.get("status") != "ok":
            self.log.warning(f"the kernel's output is not limited: {reply.get('evalue', 'no reply')}")

    # --- the kernel asks: earlier notebooks' functions, as outputs ---

    async def _serve_stdin(self):
        """Answer the kernel's requests for earlier functions (``helpers.wire.ask_grader``) until cancelled."""
        while True:
            try:
                msg = await self.kc.get_stdin_msg(timeout=1)
            except Exception:  # queue.Empty: nothing asked yet
                continue
            if msg.get("msg_type") == "input_request":
                self.kc.input(self._earlier(str(msg.get("content", {}).get("prompt", ""))))

    def _earlier(self, prompt):
        """The reply to one request: the course's function of an earlier notebook on the kernel's inputs."""
        try:
            if len(prompt) > MAX_REQUEST_CHARS:
                raise ValueError("the inputs are too large")
            request = remote.decode(prompt)
            name = request.get("earlier") if isinstance(request, dict) else None
            if name not in self._provided or name not in WORK:
                given = ", ".join(sorted(self._provided)) or "none"
                raise PermissionError(
                    f"while grading {self._notebook}, the grader computes only the earlier functions the course "
                    f"hands this notebook ({given})"
                )
            args, kwargs = request.get("args", []), request.get("kwargs", {})
            if not (isinstance(args, list) and isinstance(kwargs, dict)):
                raise TypeError("arguments must be a list and keywords a dict")
            if WORK[name](*args, **kwargs) > MAX_WORK:
                raise MemoryError("the inputs are too large for the course's function")
            with np.errstate(all="ignore"):
                result = getattr(reference, name)(*args, **kwargs)
            return remote.encode({"result": result})
        except Exception as exc:
            return remote.encode({"error": (type(exc).__name__, str(exc)[:500])})

    # --- verdicts the kernel cannot touch ---

    def _ask(self, request):
        code = f"import helpers.wire as _wire\n_grader_reply = _wire.handle({remote.encode(request)!r}, globals())"
        content = run_sync(self._request)(code, self._deadline())
        try:
            reply = content["user_expressions"]["reply"]["data"]["text/plain"]
            if len(reply) > MAX_REPLY_CHARS:
                raise ValueError("too large")
            text = ast.literal_eval(reply)
            return remote.decode(text)
        except Exception as exc:
            raise remote.RemoteError(f"the kernel did not answer with data ({type(exc).__name__})") from None

    async def _request(self, code, seconds):
        msg_id = self.kc.execute(
            code,
            silent=True,
            store_history=False,
            user_expressions={"reply": "_grader_reply"},
            allow_stdin=True,
        )
        server = asyncio.ensure_future(self._serve_stdin())
        try:
            deadline = time.monotonic() + seconds
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not await self.km.is_alive():
                    if left <= 0:
                        await self.km.interrupt_kernel()
                    raise remote.RemoteError("the kernel died or did not answer in time")
                try:
                    reply = await self.kc.get_shell_msg(timeout=min(left, 1))
                except Exception:  # queue.Empty: keep waiting until the deadline
                    continue
                if reply["parent_header"].get("msg_id") == msg_id:
                    return reply["content"]
        finally:
            server.cancel()

    def _fetch_values(self, cell):
        """Right after a solution cell: the values it sets that tests read (the quiz's ``answers``). Functions
        are called when the tests run; a value is what it was here, whatever runs after."""
        for name in sorted(_assigned_names(cell.source) & self._test_names):
            try:
                value = remote.resolve(self._ask, name)
            except (NameError, remote.RemoteError):
                self._values[name] = _MISSING
                continue
            if isinstance(value, remote.RemoteFunction):
                self._values.pop(name, None)
            else:
                self._values[name] = value

    def _confirm(self, cell, same_in_kernel):
        """Run the whole test cell here, against proxies; its outputs become this run's."""
        kernel_errors = [o for o in cell.outputs if o.output_type == "error"]
        namespace = dict(self._trusted)
        stdout = io.StringIO()
        failed = False
        try:
            if self._cut:
                raise RuntimeError(self._cut_message())
            for name in _free_names(cell.source):
                if name in namespace or hasattr(builtins, name):
                    continue
                if self._values.get(name) is _MISSING:
                    raise NameError(f"name '{name}' is not defined (after the cell that should set it)")
                if name in self._values:
                    namespace[name] = copy.deepcopy(self._values[name])
                else:
                    namespace[name] = remote.resolve(self._ask, name)
            with contextlib.redirect_stdout(stdout), exercises.fresh_inputs(self._seed_text()):
                exec(compile(cell.source, "<test cell>", "exec"), namespace)
            outputs = []
        except Exception as exc:  # the trusted verdict: this test fails, with the checker's message
            outputs, failed = [_error_output(exc)], True
        if stdout.getvalue():
            outputs.insert(0, NotebookNode(output_type="stream", name="stdout", text=stdout.getvalue()))
        for output in outputs:  # the grader's own messages are bounded like the kernel's
            for key in ("text", "evalue"):
                if len(output.get(key, "")) > self.max_output_chars:
                    output[key] = output[key][: self.max_output_chars] + f"\n{self._cut_message()}"
            if "traceback" in output:
                output["traceback"] = [line[: self.max_output_chars] for line in output["traceback"][:50]]
        grade_id = cell.metadata["nbgrader"].get("grade_id")
        if failed and not kernel_errors and same_in_kernel:
            self.log.warning(f"{TAMPERING}: {grade_id} passed in the student's kernel but failed outside it")
        cell.outputs = outputs

    def _seed_text(self):
        n = self._nbgrader
        return f"{n.get('assignment')}/{n.get('student')}/{n.get('notebook')}"

    # --- copies, for people ---

    def _report_copies(self, nb):
        """Note each graded function that looks pasted from the course's solutions: in the log (the grading
        summary), as a gradebook flag (formgrader's list) and as a note atop the autograded notebook."""
        functions = [f for f, e in EXERCISES.items() if e.notebook == self._notebook]
        found = {}
        for function in functions:
            evidence = integrity.copy_evidence(nb, function, self._masters)
            if evidence:
                found[function] = evidence
                self.log.warning(f"{integrity.COPY_EVIDENCE}: {function}: {evidence}")
        if not found:
            return
        lines = "\n".join(f"- `{function}`: {evidence}" for function, evidence in found.items())
        note = (
            f"{INSTRUCTOR_NOTE}\n**For the instructor (not in the student's feedback):** code that looks like the "
            f"course's published solution. Evidence for a person to weigh; no points were taken.\n\n{lines}"
        )
        nb.cells.insert(0, new_markdown_cell(note))
        self._flag()

    def _flag(self, flagged=True):
        """formgrader's flag on this notebook (its list of submissions shows it)."""
        n = self._nbgrader
        if not all(n.get(k) for k in ("db_url", "notebook", "assignment", "student")):
            return
        try:
            with Gradebook(n["db_url"]) as gb:
                submitted = gb.find_submission_notebook(n["notebook"], n["assignment"], n["student"])
                if submitted.flagged != flagged:
                    submitted.flagged = flagged
                    gb.db.commit()
        except MissingEntry:
            pass
