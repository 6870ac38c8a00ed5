"""Runs inside a grading kernel: a cell that prints without end is stopped by its own ``print``.

The grader also cuts a cell's output as it arrives (:class:`helpers.grading.grader.TrustedExecute`), but that
alone is a race: ipykernel collects a cell's prints for 0.2 s between sends, and ``while True: print('x' *
10**6)`` fills gigabytes in that time, so on a busy machine the kernel could run out of memory and die before
the grader's interrupt arrived (the notebook then could not be graded at all). Here, in the kernel, the write
that would take a cell past the limit raises instead, so the buffer never holds more than the limit.

A submission can undo this; it then only risks its own notebook, which the grader still cuts and bounds.
"""

import sys


class OutputCut(Exception):
    """A cell wrote more than the grader allows."""


def message(max_chars):
    return f"the cell printed more than {max_chars} characters and was stopped"


def install(shell, max_chars):
    """Limit what each execution in ``shell`` may write to stdout and stderr together to ``max_chars``.

    The first write past the limit raises :class:`OutputCut` in the code that wrote it; later writes in the same
    execution are dropped (code that catches the error and keeps printing runs into the cell's time limit).
    """

    def limit(stream, state):
        write = stream.write  # IPython puts its own ``write`` back after each execution: wrap it every time

        def write_within_limit(text):
            state["written"] += len(text)
            if state["written"] <= max_chars:
                return write(text)
            if not state["cut"]:
                state["cut"] = True
                raise OutputCut(message(max_chars))
            return 0

        stream.write = write_within_limit

    def new_execution():
        state = {"written": 0, "cut": False}  # stdout and stderr share one budget
        for stream in (sys.stdout, sys.stderr):
            limit(stream, state)

    shell.events.register("pre_execute", new_execution)
