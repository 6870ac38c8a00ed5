"""nbgrader's Execute step, hardened for untrusted submissions (used by ``nbgrader_config.py``).

- The kernel runs in the sandbox of :mod:`helpers.grading.sandbox`, over Unix sockets in a private folder (no TCP ports,
  so parallel graders never race for a port), and is interrupted by message (a signal would stop the sandbox).
- Each cell may print at most ``max_output_chars``: the kernel's own stdout and stderr refuse more
  (:mod:`helpers.grading.output_limit`), and output beyond it that still arrives is cut and the cell interrupted.
- A notebook gets ``notebook_seconds`` of wall time in all; cells left when it runs out are not run and say so.
- Every graded test cell is run twice: in the kernel, as plain nbgrader does, and again in this process with the
  notebook's names replaced by proxies into the kernel (:mod:`helpers.grading.remote`). The test earns its points only
  if both pass, and its output is the trusted run's, so no code in the kernel can fake a pass.
"""

import ast
import asyncio
import builtins
import contextlib
import io
import os
import shutil
import tempfile
import time
import traceback
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Float, Integer

from helpers import checks, quiz
from helpers.grading import integrity, output_limit, remote, sandbox
from helpers.grading.exercises import EXERCISES

TAMPERING = "Tampering suspected"


class SolutionUsed(Exception):
    """A graded function is, wraps, imports or copies the course's own solution (helpers.grading.integrity)."""

    def _render_traceback_(self):
        return [f"\x1b[0;31m{integrity.SOLUTION_USED}\x1b[0m: {self}"]


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels start inside the grading sandbox. nbgrader runs from the course
    directory, so the current directory is the course whose private parts the kernel must not see."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._shared_dir = tempfile.mkdtemp(prefix="grading-kernel-")
        self.transport = "ipc"
        self.connection_file = os.path.join(self._shared_dir, "kernel.json")
        self.ip = os.path.join(self._shared_dir, "kernel-ipc")

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        workdir = kw.get("cwd") or os.getcwd()
        wrapped = sandbox.command(
            kernel_cmd,
            workdir=workdir,
            shared_dir=self._shared_dir,
            course_root=os.getcwd(),
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


def _error_output(exc):
    render = getattr(exc, "_render_traceback_", None)
    lines = render() if render else traceback.format_exception_only(type(exc), exc)
    return NotebookNode(output_type="error", ename=type(exc).__name__, evalue=str(exc), traceback=lines)


class TrustedExecute(Execute):
    """nbgrader's ``Execute``, sandboxed, bounded, and with verdicts computed outside the kernel."""

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
        self._solution_use = {}
        self._assignment = ((resources or {}).get("nbgrader") or {}).get("assignment", "")
        self._output_limited = False
        return super().preprocess(nb, resources, km)

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
        cell, resources = super().preprocess_cell(cell, resources, index)
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            self._confirm(cell)
        return cell, resources

    # --- bounded output ---

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
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
        return f"OutputCut: {output_limit.message(self.max_output_chars)}"

    def _limit_output(self):
        """Before the first cell: the kernel's stdout and stderr refuse a cell's output past the limit."""
        code = f"import helpers.grading.output_limit as _limit\n_limit.install(get_ipython(), {self.max_output_chars})"
        self._output_limited = True  # tried once per notebook; the cut in ``output`` still holds if it fails
        try:
            reply = run_sync(self._request)(code, self._deadline())
        except remote.RemoteError as exc:
            reply = {"evalue": str(exc)}
        if reply.get("status") != "ok":
            self.log.warning(f"the kernel's output is not limited: {reply.get('evalue', 'no reply')}")

    # --- verdicts the kernel cannot touch ---

    def _ask(self, request):
        code = (
            "import helpers.grading.remote as _grader_remote\n"
            f"_grader_reply = _grader_remote.handle({remote.encode(request)!r}, globals())"
        )
        content = run_sync(self._request)(code, self._deadline())
        try:
            text = ast.literal_eval(content["user_expressions"]["reply"]["data"]["text/plain"])
            return remote.decode(text)
        except Exception as exc:
            raise remote.RemoteError(f"the kernel did not answer with data ({type(exc).__name__})") from None

    async def _request(self, code, seconds):
        msg_id = self.kc.execute(
            code, silent=True, store_history=False, user_expressions={"reply": "_grader_reply"}
        )
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

    def _refuse_solution_use(self, cell):
        """Fail the tests of a graded function that is, wraps, imports or copies the course's solution."""
        grade_id = cell.metadata["nbgrader"].get("grade_id", "")
        function = grade_id.removeprefix("test_").removesuffix("_hidden")
        if function not in EXERCISES:
            return
        if function not in self._solution_use:
            self._solution_use[function] = self._find_solution_use(function)
        reason = self._solution_use[function]
        if reason:
            self.log.warning(f"{integrity.SOLUTION_USED}: {function}: {reason}")
            raise SolutionUsed(f"{function} scores zero: {reason}. Ask your instructor if this is a mistake.")

    def _find_solution_use(self, function):
        found = integrity.static_findings(self.nb, function, Path.cwd() / "source" / self._assignment)
        if found:
            return found
        try:
            described = self._ask({"op": "describe", "name": function})
            case = checks._spec(function).cases()[0]
            watch = {"names": [integrity.course_name(function)], "file": integrity.REFERENCE_FILE}
            probe = self._ask(
                {
                    "op": "call",
                    "name": function,
                    "args": list(case.args),
                    "kwargs": case.kwargs,
                    "watch": watch,
                }
            )
        except remote.RemoteError:
            return None  # a kernel that cannot answer fails the test anyway
        return integrity.runtime_findings(function, described, probe)

    def _solution_source(self, name):
        for cell in self.nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution") and meta.get("grade_id") == name:
                return cell.source
        return None

    def _confirm(self, cell):
        """Run the test cell again here, against proxies; its outputs become this run's."""
        kernel_errors = [o for o in cell.outputs if o.output_type == "error"]
        namespace = dict(self._trusted)
        stdout = io.StringIO()
        failed = False
        try:
            if self._cut:
                raise RuntimeError(self._cut_message())
            for name in _free_names(cell.source):
                if name not in namespace and not hasattr(builtins, name):
                    namespace[name] = remote.resolve(self._ask, name, self._solution_source(name))
            self._refuse_solution_use(cell)
            with contextlib.redirect_stdout(stdout):
                exec(compile(cell.source, "<test cell>", "exec"), namespace)
            outputs = []
        except Exception as exc:  # the trusted verdict: this test fails, with the checker's message
            outputs, failed = [_error_output(exc)], True
        if stdout.getvalue():
            outputs.insert(0, NotebookNode(output_type="stream", name="stdout", text=stdout.getvalue()))
        if not failed:
            outputs += kernel_errors  # both runs must pass
        elif not kernel_errors:
            grade_id = cell.metadata["nbgrader"].get("grade_id")
            self.log.warning(f"{TAMPERING}: {grade_id} passed in the student's kernel but failed outside it")
        cell.outputs = outputs
