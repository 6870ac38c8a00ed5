"""The kernel's side of grading: data-only messages between a grading kernel and the grader.

While nbgrader grades a notebook, the student's code runs in a sandboxed kernel (``helpers.grading.sandbox``) and
every verdict is computed in the grader's own process (``helpers.grading.grader``). The two talk in data only:
arrays (``np.load`` with ``allow_pickle=False``), numbers, strings, tuples, lists and dicts, as JSON text.

- The grader asks, with :func:`handle`, what a name is in the kernel, or for a call of a student's function;
  the reply is the student's answer, and the grader treats it as nothing more: a kernel that changes this
  module only changes its own answers.
- The kernel asks the grader, with :func:`ask_grader`, for an earlier notebook's function on some inputs (the
  course's version, so that a mistake in notebook 02 is charged once, in notebook 02): it gets back the output
  only, never code.

This module ships to every student, in a class release too: it holds no solution.
"""

import base64
import builtins
import io
import json

import numpy as np


class Opaque:
    """Something that is not plain data (a function, a custom object...), as the other side sees it."""

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


MESSAGE_CHARS = 2000


def exception(type_name, message):
    """An exception of the builtin type named ``type_name`` (or a plain Exception subclass of that name, when
    it is a short identifier): never a SystemExit or KeyboardInterrupt, whatever the other side sent, and never
    a name or message longer than a few lines."""
    name = str(type_name)
    if not (name.isidentifier() and len(name) <= 60):
        name = "Exception"
    cls = getattr(builtins, name, None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = type(name, (Exception,), {})
    return cls(str(message)[:MESSAGE_CHARS])


# --- the grader asks the kernel --------------------------------------------------------------------------------


def handle(request_text, namespace):
    """Answer one request from the grader about ``namespace`` (the notebook's globals); returns encoded data."""
    request = decode(request_text)
    name = request["name"]
    if name not in namespace:
        return encode({"missing": name})
    target = namespace[name]
    if request["op"] == "describe":
        return encode({"callable": True} if callable(target) else {"value": target})
    args, kwargs = list(request["args"]), dict(request["kwargs"])
    inputs = [*args, *kwargs.values()]  # the same objects the call receives
    before = [a.copy() if isinstance(a, np.ndarray) else None for a in inputs]
    try:
        reply = {"result": target(*args, **kwargs)}
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are answers too
        reply = {"error": (type(exc).__name__[:60], str(exc)[:MESSAGE_CHARS])}
    # Inputs go back only if the call changed them in place (the checks look for that mistake).
    reply["changed"] = {
        i: new for i, (old, new) in enumerate(zip(before, inputs))
        if old is not None and not np.array_equal(old, new, equal_nan=True)
    }  # fmt: skip
    return encode(reply)


# --- the kernel asks the grader ----------------------------------------------------------------------------


class NotProvided(RuntimeError):
    """The grader did not provide the earlier function asked for (see the message)."""


def ask_grader(name, args, kwargs):
    """``name(*args, **kwargs)`` computed by the grader, for an earlier notebook's function ``name``."""
    request = encode({"earlier": name, "args": list(args), "kwargs": dict(kwargs)})
    reply = decode(builtins.input(request))
    if not isinstance(reply, dict):
        raise NotProvided(f"the grader gave no answer for `{name}`")
    if "error" in reply:
        raise exception(*reply["error"])
    return reply["result"]
