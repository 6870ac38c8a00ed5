"""Calling a student's function in their kernel from the grader's own process.

While grading, the student's code and the test cells share one kernel, so a submission could rewrite the checks
(``helpers.checks.check_softmax = lambda *a: None``), numpy, or builtins before the tests run. The grader
therefore runs every test cell a second time in its own process (see :mod:`helpers.grading.grader`), with each name the
test uses from the notebook (``softmax``, ``answers``) replaced by a proxy. Calling the proxy sends the arguments
to the kernel as plain data, calls the student's function there and brings back only data: arrays (``np.load``
with ``allow_pickle=False``), numbers, strings, tuples, lists and dicts. The verdict is computed where the
student's code never ran; all the kernel can do is return answers, right or wrong.
"""

import base64
import builtins
import io
import json
import sys

import numpy as np

# --- data only, both ways -----------------------------------------------------------------------------------


class Opaque:
    """Something the kernel returned that is not plain data (a function, a custom object...)."""

    def __init__(self, type_name):
        self.type_name = type_name

    def __repr__(self):
        return f"<{self.type_name} object>"


def _pack(value):
    if isinstance(value, np.generic):
        value = np.asarray(value)
        return {"__scalar__": _pack(value)["__nd__"]}
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            return {"__opaque__": "ndarray of objects"}
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        return {"__nd__": base64.b64encode(buffer.getvalue()).decode()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"__tuple__": [_pack(v) for v in value]}
    if isinstance(value, list):
        return [_pack(v) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[_pack(k), _pack(v)] for k, v in value.items()]}
    return {"__opaque__": type(value).__name__}


def _unpack(data):
    if isinstance(data, list):
        return [_unpack(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "__nd__" in data:
        return np.load(io.BytesIO(base64.b64decode(data["__nd__"])), allow_pickle=False)
    if "__scalar__" in data:
        return _unpack({"__nd__": data["__scalar__"]})[()]
    if "__tuple__" in data:
        return tuple(_unpack(v) for v in data["__tuple__"])
    if "__dict__" in data:
        return {_freeze(_unpack(k)): _unpack(v) for k, v in data["__dict__"]}
    return Opaque(str(data.get("__opaque__", "unknown")))


def _freeze(key):
    return key if not isinstance(key, (list, np.ndarray)) else repr(key)


def encode(value):
    return json.dumps(_pack(value))


def decode(text):
    return _unpack(json.loads(text))


# --- the kernel's side: it runs in the student's process and may be tampered with; it only ever returns data ---


def handle(request_text, namespace):
    """Answer one request from the grader; returns an encoded reply (a str)."""
    request = decode(request_text)
    name = request["name"]
    if name not in namespace:
        return encode({"missing": name})
    target = namespace[name]
    if request["op"] == "describe":
        if not callable(target):
            return encode({"value": target})
        inner = (
            getattr(target, "func", None) or getattr(target, "__wrapped__", None) or target
        )  # partial, wraps
        code = getattr(inner, "__code__", None)
        return encode({"callable": True, "code_file": code.co_filename if code else None})
    args, kwargs = list(request["args"]), dict(request["kwargs"])
    inputs = [*args, *kwargs.values()]  # the same objects the call receives
    before = [a.copy() if isinstance(a, np.ndarray) else None for a in inputs]
    watch, ran = request.get("watch"), []
    if watch:  # which of the course's own functions the call runs (named by name and file)

        def profile(frame, event, arg):
            code = frame.f_code
            if event == "call" and code.co_name in watch["names"] and code.co_filename == watch["file"]:
                ran.append(code.co_name)

        sys.setprofile(profile)
    try:
        reply = {"result": target(*args, **kwargs)}
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are answers too
        reply = {"error": (type(exc).__name__, str(exc)[:2000])}
    finally:
        if watch:
            sys.setprofile(None)
    if watch:
        reply["solution_called"] = sorted(set(ran))
    # Inputs go back only if the call changed them in place (the checks look for that mistake).
    reply["changed"] = {
        i: new for i, (old, new) in enumerate(zip(before, inputs))
        if old is not None and not np.array_equal(old, new, equal_nan=True)
    }  # fmt: skip
    return encode(reply)


# --- the grader's side --------------------------------------------------------------------------------------


class RemoteError(Exception):
    """The kernel could not answer (it died, timed out, or replied with something that is not data)."""


def _exception(type_name, message):
    cls = getattr(builtins, type_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = type(type_name, (Exception,), {})  # same name in messages, but never a KeyboardInterrupt here
    return cls(message)


class RemoteFunction:
    """Stands for the student's function ``name``: calling it calls the function in the kernel."""

    def __init__(self, ask, name, source=None):
        self._ask, self.__name__, self.source = ask, name, source

    def __repr__(self):
        return f"<your function {self.__name__}>"

    def __call__(self, *args, **kwargs):
        reply = self._ask({"op": "call", "name": self.__name__, "args": list(args), "kwargs": kwargs})
        # An input changed in place in the kernel is changed here too, so checks can see it.
        inputs = [*args, *kwargs.values()]
        for i, theirs in reply.get("changed", {}).items():
            mine = inputs[i] if isinstance(i, int) and 0 <= i < len(inputs) else None
            if isinstance(mine, np.ndarray) and isinstance(theirs, np.ndarray) and mine.shape == theirs.shape:
                if mine.flags.writeable:
                    np.copyto(mine, theirs, casting="unsafe")
        if "error" in reply:
            raise _exception(*reply["error"])
        return reply["result"]


def resolve(ask, name, source=None):
    """What ``name`` is in the kernel: a :class:`RemoteFunction` or a copy of its value."""
    reply = ask({"op": "describe", "name": name})
    if "missing" in reply:
        raise NameError(f"name '{name}' is not defined")
    if reply.get("callable"):
        return RemoteFunction(ask, name, source)
    return reply["value"]
