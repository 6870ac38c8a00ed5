"""Calling a student's function in their kernel from the grader's own process.

While grading, the student's code runs in a sandboxed kernel that the student controls entirely: it can rewrite
numpy, builtins or the checks before anything runs. The grader therefore runs every test cell in its own
process (see :mod:`helpers.grading.grader`), with each name the test uses from the notebook (``softmax``,
``answers``) replaced by a proxy. Calling the proxy sends the arguments to the kernel as plain data
(:mod:`helpers.wire`), calls the student's function there and brings back only data. The verdict is computed
where the student's code never ran; all the kernel can do is return answers, right or wrong, and whatever it
returns is taken as the student's answer, never as evidence of anything else.
"""

import numpy as np

from helpers.wire import Opaque, decode, encode, exception  # noqa: F401 - the grader's side of the wire


class RemoteError(Exception):
    """The kernel could not answer (it died, timed out, or replied with something that is not data)."""


class RemoteFunction:
    """Stands for the student's function ``name``: calling it calls the function in the kernel."""

    # What a check measures about a call in its own process (memory, as blockwise_attention's does) is not the
    # function's: the function runs in the kernel. Checks read this and leave such measures to the hidden cases.
    runs_elsewhere = True

    def __init__(self, ask, name, source=None):
        self._ask, self.__name__, self.source = ask, name, source

    def __repr__(self):
        return f"<your function {self.__name__}>"

    def __call__(self, *args, **kwargs):
        reply = self._ask({"op": "call", "name": self.__name__, "args": list(args), "kwargs": kwargs})
        if not isinstance(reply, dict) or not ({"result", "error"} & set(reply)):
            raise RemoteError("the kernel did not answer with a result")
        # An input changed in place in the kernel is changed here too, so checks can see it.
        inputs = [*args, *kwargs.values()]
        changed = reply.get("changed", {})
        for i, theirs in changed.items() if isinstance(changed, dict) else ():
            mine = inputs[i] if isinstance(i, int) and 0 <= i < len(inputs) else None
            if isinstance(mine, np.ndarray) and isinstance(theirs, np.ndarray) and mine.shape == theirs.shape:
                if mine.flags.writeable:
                    np.copyto(mine, theirs, casting="unsafe")
        if "error" in reply:
            error = reply["error"]
            raise (
                exception(*error) if isinstance(error, tuple) and len(error) == 2 else exception("Error", "")
            )
        return reply["result"]


def resolve(ask, name, source=None):
    """What ``name`` is in the kernel: a :class:`RemoteFunction` or a copy of its value."""
    reply = ask({"op": "describe", "name": name})
    if not isinstance(reply, dict) or "missing" in reply:
        raise NameError(f"name '{name}' is not defined")
    if reply.get("callable"):
        return RemoteFunction(ask, name, source)
    return reply.get("value")
