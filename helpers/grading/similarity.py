"""Students compared with each other, for a person to weigh: which pairs wrote a graded function unusually alike?

``python -m helpers.grading.similarity ASSIGNMENT`` (from the course root) reads every submission in
``submitted/<student>/ASSIGNMENT/``, compares each graded function (a solution cell that defines the function its
``grade_id`` names) of every student with the same function of every other, and writes the pairs that stand out
to standard output and to ``similarity-ASSIGNMENT.txt``. Like :mod:`helpers.grading.integrity` (pasted from the
course's own solution), it is a report for the instructor to look at, never a grade: nothing here touches the
gradebook.

How two functions are compared (the winnowing idea behind MOSS and ``copydetect``, on Python's own syntax):

- the code is read as Python's tokenizer reads it: comments, layout and docstrings go, and every name the
  student chose (local variables, helper functions, loop and comprehension targets, as the parser finds them)
  becomes one placeholder, so renaming variables changes nothing; the graded function's own parameters, the
  library calls and the literals stay, as they carry the content;
- each logical line then gives its fingerprints, the runs of :data:`K` consecutive tokens (a shorter line is
  one fingerprint): fingerprints never span two lines, so reordering independent lines changes nothing either;
- **code everyone is given is not shared**: the fingerprints of the released stub (the ``def`` line, the
  docstring, ``raise NotImplementedError()``) are taken out, and so are the class's common ones, held by more
  than :data:`COMMON_SHARE` of the submissions of that function (and more than :data:`COMMON_MIN`): the
  notebooks dictate their formulas step by step, and a line a third of the class writes the same way is the
  course's, not a pair's (MOSS's ``-m``);
- a pair's score is the Jaccard index of what is left of their two functions (shared over held by either),
  flagged at :data:`MIN_SCORE` or more and at least :data:`ABOVE_MEDIAN` above the median of all the class's
  pairs for that function;
- **short functions** (fewer than :data:`SHORT_LINES` lines of their own on either side: ``causal_mask`` is
  one line) are often alike by chance, so they are listed apart and need more: a score of
  :data:`SHORT_SCORE` and code no third student holds.

Why not ``copydetect`` itself (MIT, one maintainer, last release 0.5.0 in March 2024, no release since): it
compares files, so each function of each student would be written to a file of its own and the report read
back; its boilerplate filter would take the stub out, but it has no class-frequency filter for the code the
notebooks dictate, which is what keeps honest students out of this report; its tokens come from Pygments,
which sees token kinds, not which names the student bound; and it is one more package (with tqdm and its other
requirements) to pin in requirements.txt, constraints.txt and environment.yml, for what takes about a hundred
lines of the standard library here (:mod:`tokenize`, :mod:`ast`).
"""

import argparse
import ast
import io
import itertools
import json
import re
import statistics
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

K = 4  # tokens per fingerprint: ``d_k = Q.shape[-1]`` is 8 tokens, a line of a formula 10 to 30
PLACEHOLDER = "_name_"  # every name a student chose (not "V": that is a parameter of the course's)
COMMON_SHARE = 0.3  # a fingerprint more of the class holds than this is the course's way of writing it
COMMON_MIN = 2  # ... and more students than this (in a class under ten, three alike are the course's too)
MIN_SCORE = 0.5
ABOVE_MEDIAN = 0.25
SHORT_LINES = 3  # lines of its own below this: a function of a line or two
SHORT_SCORE = 0.9
SHOWN_LINES = 6  # shared lines shown per pair
SHOWN_PAIRS = 25  # pairs shown per function, highest first: more is a group writing alike, not a list to read
SKIPPED_TOKENS = {
    tokenize.NEWLINE,
    tokenize.NL,
    tokenize.COMMENT,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENDMARKER,
}


@dataclass
class Code:
    """One student's code for one graded function: its logical lines, and each line's fingerprints."""

    lines: list  # as the student wrote them, for the report
    prints: list  # a set of fingerprints per line, names normalised

    def all(self):
        return set().union(*self.prints)


def _bound_names(tree, function):
    """The names the student chose: assigned, looped over, defined, or parameters of their own helpers."""
    graded = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function]
    given = {a.arg for n in graded for a in ast.walk(n.args) if isinstance(a, ast.arg)} | {function}
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.Lambda):
            bound |= {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
            if isinstance(node, ast.FunctionDef):
                bound.add(node.name)
    return bound - given


def _chosen_and_docstrings(tree, source, function):
    """Where the names the student chose start, and where docstrings start: {(row, column)} each, columns in
    characters as :mod:`tokenize` counts them (the parser counts UTF-8 bytes)."""
    lines = source.splitlines()

    def at(node):
        return node.lineno, len(lines[node.lineno - 1].encode()[: node.col_offset].decode(errors="ignore"))

    bound = _bound_names(tree, function)
    chosen, docstrings = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in bound or isinstance(node, ast.arg) and node.arg in bound:
            chosen.add(at(node))
        if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.Module) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                if isinstance(first.value.value, str):
                    docstrings.add(at(first))
    return chosen, docstrings, bound


def _source(cell):
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    # IPython's magics and shell lines are not Python (integrity.py skips them the same way)
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def fingerprint(source, function):
    """The :class:`Code` of a solution cell, or None if it does not parse: fingerprints per logical line, with
    the student's own names replaced and docstrings and comments left out."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return None
    chosen, docstrings, bound = _chosen_and_docstrings(tree, source, function)
    rows = source.splitlines()
    code, line, previous = Code([], []), [], ""
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.NEWLINE and line:  # one logical line, however many rows it spans
                start = line[0][0]
                if start not in docstrings:
                    code.lines.append(" ".join(r.strip() for r in rows[start[0] - 1 : token.start[0]]))
                    strings = [string for _, string in line]
                    code.prints.append(
                        {tuple(strings[i : i + K]) for i in range(max(1, len(strings) - K + 1))}
                    )
                line = []
            elif token.type not in SKIPPED_TOKENS:
                # a name the student chose (a helper's own name is the one after "def") becomes the placeholder
                mine = token.type == tokenize.NAME and (
                    token.start in chosen or previous == "def" and token.string in bound
                )
                line.append((token.start, PLACEHOLDER if mine else token.string))
                previous = token.string
    except (tokenize.TokenError, SyntaxError):
        return None
    return code


def graded_functions(notebook_path):
    """{grade_id: the released stub's source} of the solution cells that define the function they are named after
    (the quiz's answer cell is no function: the same right answers are expected)."""
    found = {}
    for cell in json.loads(Path(notebook_path).read_text(encoding="utf-8"))["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        name = meta.get("grade_id")
        if cell.get("cell_type") == "code" and meta.get("solution") and name:
            if re.search(rf"^\s*def {re.escape(name)}\b", _source(cell), re.M):
                found[name] = _source(cell)
    return found


def _solution_cells(notebook_path):
    """{grade_id: source} of a notebook's solution cells, or None if it cannot be read."""
    try:
        cells = json.loads(Path(notebook_path).read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    found = {}
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") == "code" and meta.get("solution") and meta.get("grade_id"):
            found[meta["grade_id"]] = _source(cell)
    return found


@dataclass
class Pair:
    function: str
    score: float
    first: str
    second: str
    shown: list  # [(first's line, second's line)]
    course: bool  # the shared code is mostly the course's own solution's
    short: bool


def _shared_lines(a, b, shared):
    """Each of a's lines holding shared fingerprints, beside the line of b that holds most of the same."""
    shown = []
    for line, prints in zip(a.lines, a.prints):
        mine = prints & shared
        if mine:
            best = max(range(len(b.lines)), key=lambda i: len(b.prints[i] & mine))
            shown.append((line.strip(), b.lines[best].strip()))
    return shown


def compare(codes, stub=None, course=None):
    """The pairs of {student: Code} for one function that stand out, and the median of all pairs' scores.
    ``stub`` (the released cell's Code) is taken out of everyone's; ``course`` (the course's solution) marks a
    pair whose shared code is mostly the course's."""
    given = stub.all() if stub else set()
    held = {student: code.all() - given for student, code in codes.items()}
    counts = {}
    for prints in held.values():
        for p in prints:
            counts[p] = counts.get(p, 0) + 1
    common = {p for p, n in counts.items() if n > max(COMMON_MIN, COMMON_SHARE * len(held))}
    own = {student: prints - common for student, prints in held.items()}

    def own_lines(code):  # lines holding something the release does not give
        return sum(1 for prints in code.prints if prints - given)

    course_prints = course.all() if course else set()
    scores, pairs = [], []
    for first, second in itertools.combinations(sorted(own), 2):
        a, b = own[first], own[second]
        union = a | b
        score = len(a & b) / len(union) if union else 0.0
        scores.append(score)
        if score:
            pairs.append((score, first, second))
    median = statistics.median(scores) if scores else 0.0
    found = []
    for score, first, second in pairs:
        shared = own[first] & own[second]
        short = min(own_lines(codes[first]), own_lines(codes[second])) < SHORT_LINES
        if short:  # a line or two: identical, and code no third student holds
            if score < SHORT_SCORE or any(counts[p] > 2 for p in shared):
                continue
        elif score < MIN_SCORE or score - median < ABOVE_MEDIAN:
            continue
        shown = _shared_lines(codes[first], codes[second], shared)
        from_course = len(shared & course_prints) >= 0.8 * len(shared)
        found.append(Pair("", score, first, second, shown, from_course, short))
    return sorted(found, key=lambda p: (-p.score, p.first, p.second)), median


def compare_assignment(assignment, release, submitted, source=None):
    """Every function of ``assignment`` compared across the class: ([Pair], {function: median},
    [what could not be compared]). ``release``, ``submitted`` and ``source`` are nbgrader's folders."""
    pairs, medians, unread = [], {}, []
    for notebook in sorted(Path(release, assignment).glob("*.ipynb")):
        stubs = graded_functions(notebook)
        if not stubs:
            continue
        master = _solution_cells(Path(source, assignment, notebook.name)) if source else None
        cells = {}
        for folder in sorted(Path(submitted).glob(f"*/{assignment}")):
            path = folder / notebook.name
            if path.exists():
                student_cells = _solution_cells(path)
                if student_cells is None:
                    unread.append(f"{folder.parent.name}: {notebook.name} is not a notebook it can read")
                cells[folder.parent.name] = student_cells or {}
        for function, stub in stubs.items():
            codes = {}
            for student, found in cells.items():
                if function in found:
                    code = fingerprint(found[function], function)
                    if code is None:
                        unread.append(f"{student}: {function} does not parse")
                    else:
                        codes[student] = code
            course = fingerprint(master[function], function) if master and function in master else None
            found, medians[function] = compare(codes, fingerprint(stub, function), course)
            for pair in found:
                pair.function = function
            pairs += found
    return pairs, medians, unread


def _pair_text(pair):
    lines = [f"  {pair.score:.2f}  {pair.first} and {pair.second}"]
    if pair.course:
        lines[0] += "  (what they share is in the course's own solution too: both may have it from there)"
    width = max(len(pair.first), len(pair.second)) + 1
    for mine, theirs in pair.shown[:SHOWN_LINES]:
        lines.append(f"      {pair.first + ':':{width}} {mine}")
        lines.append(f"      {pair.second + ':':{width}} {theirs}")
    if len(pair.shown) > SHOWN_LINES:
        lines.append(f"      ... and {len(pair.shown) - SHOWN_LINES} more shared lines")
    return lines


def report(assignment, pairs, medians, unread):
    """The report's text."""
    out = [
        f"Students compared with each other: {assignment}",
        "",
        "Pairs whose graded functions are unusually alike, for you to look at: evidence to weigh, never a grade.",
        "Code the release gives everyone (the def line, the docstring) and the ways a third or more of the class",
        "writes a line are left out; names each student chose count as the same name. Score: shared code over",
        f"the code either holds, 0 to 1; listed at {MIN_SCORE} or more and {ABOVE_MEDIAN} above the class's median.",
        "",
    ]
    counts = {}
    for pair in pairs:
        counts.setdefault((pair.first, pair.second), []).append(pair.function)
    repeated = {k: v for k, v in counts.items() if len(v) > 1}
    if repeated:
        out.append("Pairs alike in more than one function (the strongest signal):")
        for (first, second), functions in sorted(repeated.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            out.append(f"  {first} and {second}: {len(functions)} functions ({', '.join(functions)})")
        out.append("")
    long_pairs = [p for p in pairs if not p.short]
    out.append(
        f"Functions, pairs found: {len(long_pairs)}" if long_pairs else "Functions: no pair stands out."
    )
    for function in medians:
        mine = [p for p in long_pairs if p.function == function]
        if mine:
            out.append(f"{function} (class median {medians[function]:.2f}):")
            for pair in mine[:SHOWN_PAIRS]:
                out += _pair_text(pair)
            if len(mine) > SHOWN_PAIRS:
                out.append(f"  ... and {len(mine) - SHOWN_PAIRS} more pairs over the bar (lower scores)")
    short_pairs = [p for p in pairs if p.short]
    out += [
        "",
        "Short functions (a line or two): honest students often write these the same way, so a pair is listed only",
        f"when their code is alike ({SHORT_SCORE} or more) and no third student writes it so. Weak evidence alone.",
    ]
    if not short_pairs:
        out.append("  none")
    for pair in short_pairs[: SHOWN_PAIRS * 2]:
        out.append(f"{pair.function}:")
        out += _pair_text(pair)
    if len(short_pairs) > SHOWN_PAIRS * 2:
        out.append(f"  ... and {len(short_pairs) - SHOWN_PAIRS * 2} more")
    if unread:
        out += ["", "Not compared:"] + [f"  {line}" for line in unread]
    return "\n".join(out) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m helpers.grading.similarity",
        description="Pairs of students whose graded functions are unusually alike: a report for the "
        "instructor, never a grade. Run from the course root; nbgrader's configuration gives the folders.",
    )
    parser.add_argument("assignment")
    parser.add_argument("--output", type=Path, help="where the report goes (similarity-ASSIGNMENT.txt)")
    args = parser.parse_args(argv)
    from helpers.grading.autograde import load_config  # nbgrader's own loader: the folders it would use

    folders = load_config([args.assignment]).CourseDirectory
    root = Path(folders.get("root", "."))
    release = root / folders.get("release_directory", "release")
    submitted = root / folders.get("submitted_directory", "submitted")
    source = root / folders.get("source_directory", "source")
    if not Path(release, args.assignment).is_dir():
        print(f"No released notebooks in {release / args.assignment}.", file=sys.stderr)
        return 2
    text = report(args.assignment, *compare_assignment(args.assignment, release, submitted, source))
    output = args.output or root / f"similarity-{args.assignment}.txt"
    output.write_text(text, encoding="utf-8")
    print(text, end="")
    print(f"(written to {output})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
