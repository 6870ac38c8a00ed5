"""A tutor that answers questions about the lesson from the course's own text, and says so when it cannot.

Answering is itself a small attention over the course: the question is the query, each section of the released
notebooks is a key (its title, its text and the questions the course's author says it answers,
``tutor_questions.json``), and its text the value. Both are embedded as TF-IDF vectors over the course's vocabulary,
the scores are cosine similarities, and the answer is drawn from the passages that softmax would give the most
weight (softmax keeps the order of the scores, so the scores alone decide).

An answer is marked ``grounded`` only when the cited section can answer the question: the question is first
read as typed (``typed``: "whats" as "what's", "atention" as "attention") and put in the course's own words
(``PHRASES``, from ``tutor_phrasings.json``: "blows up" -> overflow, "peek at later words" -> causal mask, "kv
cache" -> key/value cache), and then the section must hold most of the question's words (``MIN_COVERAGE``,
weighted by how rare they are in the course), a good part of them in its title or its questions
(``MIN_ABOUT``); a question with many words the course never uses is about something else. Otherwise the tutor
declines instead of guessing. Measured on questions it was not tuned on: ``make bench``.

The answer quotes the passage as its notebook shows it (``Answer.markdown``: tables, formulas for MathJax),
never a sentence about a code cell's output, which it cannot show.

Deterministic, offline, no model: the passages are in ``course_text.json`` beside this file, generated from
``notebooks/`` by ``python -m helpers.tutor notebooks/attention`` (``make release`` does it; a test keeps it in
step).

    from helpers.tutor import ask
    answer = ask("Why do we divide by sqrt(d_k)?")
    answer.text, answer.sources, answer.grounded, answer.markdown
"""

import json
import math
import re
import sys
from collections import Counter, namedtuple
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

TEXT_FILE = Path(__file__).with_name("course_text.json")
QUESTIONS_FILE = Path(__file__).with_name("tutor_questions.json")  # written by the course's author
PHRASINGS_FILE = Path(__file__).with_name("tutor_phrasings.json")  # written by the course's author
# A second passage is cited when softmax(similarity / 0.05) would give it at least a quarter of the best
# passage's weight: exp((s - best) / 0.05) >= 1/4, that is a similarity within 0.05 * ln 4 of the best.
SECOND_PASSAGE_WITHIN = 0.05 * math.log(4)
# A question must name at least one of these (stemmed) to be about the lesson at all: shared everyday words
# ("car", "like") must not make a question about cooking look like one about attention.
TOPIC = set(
    """attention query key value softmax sigmoid mask causal head weight score token sequence position lookup
    dot product similarity scale scaling sqrt dk d_k d_model d_head temperature transformer embedding matrix
    parallel parallelism recurrent rnn context length layer projection w_q w_k w_v w_o self multi quiz lesson
    specialis specializ ablation architecture gpt model notebook overflow normalis normaliz blend heatmap cache
    rotary rope residual blockwise padding""".split()
)


@cache
def _topic():
    return {_stem(word) for word in TOPIC}


STOPWORDS = set(
    """a an the and or of to in on at for from by with without as is are was were be been being it its this that
    these those there here what which who whom whose why how when where do does did done can could should would
    will shall may might must not no yes i you we they he she me my your our their them us so than then also just
    about into over under between if else very more most much many some any each every all only same other such
    own too again once both few up down out off one two three use used using get gets got make makes like see say
    please tell explain mean means""".split()
)


# Sections that explain nothing themselves: panels about using the course, and summaries of the sections that
# do (a table of terms still gives one passage per term).
NOT_EXPLANATIONS = {"The quiz", "Ask the tutor", "Your progress", "Recap", "Key terms"}
# Sentences that lean on the one before them: never the first sentence of an answer.
LEANS_BACK = re.compile(r"^(That|This|These|Those|It|Its|They|Them|Here|So|But|And|Then|Both|Either way)\b")


# Everyday phrasings of the course's ideas, rewritten in the course's own words before anything is matched:
# {the course's words: phrasings (regular expressions, whole words)}, in the order of tutor_phrasings.json,
# where they are grouped by the notebook that teaches them.
def _phrasings():
    def once(pairs):
        names = [name for name, _ in pairs]
        if len(set(names)) < len(names):
            raise ValueError(f"{PHRASINGS_FILE.name}: an entry appears twice among {names}")
        return dict(pairs)

    sections = json.loads(PHRASINGS_FILE.read_text(encoding="utf-8"), object_pairs_hook=once)["sections"]
    return once([entry for section in sections for entry in section["phrasings"].items()])


PHRASINGS = _phrasings()
# One pattern, one pass: words put in never get rewritten again ("-infinity" is not an overflow). Alternative
# p<i> stands for the i-th entry of PHRASINGS.
COURSE_WORDS = list(PHRASINGS)
PHRASES = re.compile(
    "|".join(rf"(?P<p{i}>\b(?:{'|'.join(ways)})\b)" for i, ways in enumerate(PHRASINGS.values()))
)

# Words of asking, not of the topic: a section need not contain them to answer.
GENERIC = set(
    """happen happens happened really just actually exactly wrong right stop stops
handle handles decide decides point having have has had put back together apart test tests whether best always
never represent represents need needs needed don doesn isn aren can't cannot go goes going come comes thing things
way ways kind sort lot lots bit mean means meant know knows tell show shows shown look looks find found want wants
try tries give gives take takes still even ever someone something anything everything quite simply basically
good bad enough okay""".split()
)

MIN_COVERAGE = 0.6  # the cited section holds at least this share of the question's (rarity-weighted) words
MIN_ABOUT = 0.25  # and more than this share is in what it is about: its title and its questions
MAX_UNKNOWN = 0.35  # at most this share of the question's weight in words the course never uses
TITLE_WEIGHT = 1.0  # a question's words in what a section is about count twice in its score


@dataclass
class Answer:
    """``text`` in plain words; ``markdown`` as the notebooks show the passages it quotes (tables, formulas in
    $...$ for JupyterLab's MathJax, code), and the sources."""

    text: str
    sources: list = field(default_factory=list)
    grounded: bool = False
    markdown: str = field(default="", repr=False)

    def __post_init__(self):
        self.markdown = self.markdown or _escaped(self.text)

    # Markdown, not HTML: a front end shows an object's HTML before its Markdown, and only its Markdown goes
    # through the same renderer (and MathJax) as the notebook's own cells.
    def _repr_markdown_(self):
        return self.markdown


def _escaped(text):
    """``text`` as Markdown that shows it as it is."""
    return re.sub(r"([\\`*_\[\]<>$|#])", r"\\\1", text)


# --- building the passages ----------------------------------------------------------------------------------


# LaTeX commands in plain words; function names stay as they are, other commands (spacing, fonts) go.
LATEX = {
    "le": "<=",
    "ge": ">=",
    "infty": "infinity",
    "to": "->",
    "times": "x",
    "cdot": "·",
    "dots": "...",
    "top": "T",
    "tanh": "tanh",
    "log": "log",
    "exp": "exp",
    "max": "max",
    "min": "min",
    "sum": "sum",
}


RULE = re.compile(r"^\|[-:| ]+\|?\s*$", re.M)  # the line under a table's header
# Where a code cell stands among a section's Markdown: what it shows is not in the text, and is never quoted.
CODE_CELL = "<!-- code cell -->"


def _row(cells):
    """A table's row as text: its cells, "; " between them, "." at the end."""
    text = "; ".join(c.strip() for c in cells.split("|") if c.strip())
    return text if text.endswith(".") else text + "."


def _clean(markdown):
    text = RULE.sub(" ", markdown)
    text = re.sub(r"^\|(.*)\|\s*$", lambda m: _row(m[1]), text, flags=re.M)  # rows read as sentences
    text = re.sub(r"<[^>]+>", " ", text)  # html tags (hint blocks, ...)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # [link text](target) -> link text
    text = re.sub(r"^> \*\*Difficulty\*\*.*$", " ", text, flags=re.M)  # exercise headers: not content
    text = re.sub(r"\\sqrt\{([^}]*)\}", r"sqrt(\1)", text)
    text = re.sub(r"\\operatorname\{([^}]*)\}", r"\1", text)
    # Whole command names only: "\\top" is not "\\to" followed by "p".
    text = re.sub(r"\\([a-zA-Z]+)", lambda m: LATEX.get(m[1], " "), text)
    text = re.sub(r"[$`*{}|>#]", " ", text)
    text = re.sub(r"\s+([.,;:?!])", r"\1", text)  # "sqrt(d_k) ?" (where a formula ended) -> "sqrt(d_k)?"
    return re.sub(r"\s+", " ", text).strip()


def _sections(cells):
    """(heading, [lines]) for each ## or ### section of a notebook's markdown, solutions left out; a code cell
    is a line ``CODE_CELL``, and each cell ends with a blank line."""
    sections = []
    for cell in cells:
        if cell["cell_type"] == "code" and sections:
            sections[-1][1].append(CODE_CELL)
        if cell["cell_type"] != "markdown" or cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            continue
        for line in [*"".join(cell["source"]).splitlines(), ""]:
            heading = re.match(r"^#{2,3} (.*)", line)
            if heading:
                sections.append((_clean(re.sub(r"^\d+\.\s*", "", heading[1])), []))
            elif sections:
                sections[-1][1].append(line)
    return sections


def build_passages(folder):
    """One passage per section (## or ###) of every released notebook in ``folder``, and one per row of a
    table of terms (rows that start with a bold term)."""
    passages = []
    for path in sorted(Path(folder).glob("*.ipynb")):
        for section, lines in _sections(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            if section.startswith("Exercise"):
                continue  # a prompt, not an explanation: citing it answers nothing
            head = []  # the table's header and rule: each row of terms is shown as a table of one row
            for before, line in zip(["", *lines], lines):
                head = [before, line] if RULE.match(line) else head
                if re.match(r"^\| \*\*(.+?)\*\* \|(.*)\|\s*$", line):
                    cells = [_clean(c) for c in line.strip().strip("|").split("|")]
                    text = f"{cells[0]}: {'; '.join(c for c in cells[1:] if c)}."
                    passages.append(
                        {
                            "notebook": path.stem,
                            "section": f"{section}: {cells[0]}",
                            "text": text,
                            "markdown": "\n".join([*head, line]),
                            "term": True,
                        }
                    )
            text = _clean("\n".join(line for line in lines if line != CODE_CELL))
            if len(text.split()) >= 8 and section not in NOT_EXPLANATIONS:
                markdown = "\n".join(lines).strip()
                passages.append(
                    {"notebook": path.stem, "section": section, "text": text, "markdown": markdown}
                )
    return passages


# --- embedding and retrieval --------------------------------------------------------------------------------


def _stem(word):
    """A light stemmer, enough to match "scores", "scored" and "score", or "queries" and "query"."""
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 4 and word.endswith(("sses", "shes", "ches", "xes")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    for suffix in ("ation", "ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) > 4 and word.endswith("e") else word


# A model and its version are one word: "gpt 4" is not the course's GPT-2, and "llama 3" not Llama 2.
VERSIONED = re.compile(r"\b(gpt|llama|mistral)[ -]?(\d+)")


def terms(text):
    text = VERSIONED.sub(r"\1_\2", text.lower())
    words = [_stem(w) for w in re.findall(r"[a-z0-9_]+", text) if w not in STOPWORDS and len(w) > 1]
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


@cache
def _questions():
    """{citation: the questions its section answers, in a student's words} (``QUESTIONS_FILE``)."""
    return json.loads(QUESTIONS_FILE.read_text(encoding="utf-8"))["questions"]


def _about(passage):
    """What a passage is about: its title and the questions the course's author says it answers."""
    return " ".join([passage["section"], *_questions().get(_cite(passage), [])])


@cache
def _index():
    passages = json.loads(TEXT_FILE.read_text(encoding="utf-8"))
    # What a section is about (its title, its questions) counts three times.
    docs = [Counter(terms(" ".join([_about(p)] * 3 + [p["text"]]))) for p in passages]
    vocab = sorted({t for d in docs for t in d})
    position = {t: i for i, t in enumerate(vocab)}
    df = np.zeros(len(vocab))
    for d in docs:
        for t in d:
            df[position[t]] += 1
    idf = np.log((len(docs) + 1) / (df + 1)) + 1
    keys = np.stack([_embed(d, position, idf) for d in docs])
    return passages, position, idf, keys


def _embed(counts, position, idf):
    vector = np.zeros(len(idf))
    for term, count in counts.items():
        if term in position:
            vector[position[term]] = (1 + math.log(count)) * idf[position[term]]
    norm = np.linalg.norm(vector)
    return vector / norm if norm else vector


# As students type: "whats", "dont", "cant" are words the course never uses, and such words make a question look
# off topic; with the apostrophe back they read as "what's" does.
CONTRACTED = re.compile(
    r"\b(what|that|there|where|who|how|why|here)s\b|\b(do|does|did|is|are|was|were|ha[sdv]e?|ca|wo)nt\b"
)
QUOTES = str.maketrans("\u2018\u2019\u02bc\u00b4\u201c\u201d", "''''\"\"")


def typed(question):
    """The question as the course would write it: lower case, straight quotes, apostrophes back, "??" once."""
    text = question.translate(QUOTES).lower()
    text = CONTRACTED.sub(lambda m: f"{m[1]}'s" if m[1] else f"{m[2]}n't", text)
    text = re.sub(r"\b[a-z]{6,}\b", lambda m: _respelled(m[0]), text)
    return re.sub(r"([?!.,])\1+", r"\1", text)


def _respelled(word):
    """A word the course never uses that is one slip of the fingers from a topic word ("atention"): that word."""
    return word if _stem(word) in _index()[1] else _slips().get(word, word)


@cache
def _slips():
    """{a topic word of six letters or more with a letter left out, one added or two swapped: the word}, for the
    slips that lead back to one word only. Not a letter changed: "height" is a word, not a slip of "weight"."""
    found = {}
    for word in (w for w in TOPIC if len(w) >= 6 and w.isalpha()):
        cuts = [(word[:i], word[i:]) for i in range(len(word) + 1)]
        slips = {a + b[1:] for a, b in cuts if b} | {a + b[1] + b[0] + b[2:] for a, b in cuts if len(b) > 1}
        slips |= {a + c + b for a, b in cuts for c in "abcdefghijklmnopqrstuvwxyz"}
        for slip in slips - {word}:
            found.setdefault(slip, set()).add(word)
    return {slip: words.pop() for slip, words in found.items() if len(words) == 1}


def in_course_words(question):
    """The question as typed (``typed``), with everyday phrasings and abbreviations replaced by the course's
    words (``PHRASES``)."""

    def replace(match):
        group = next(name for name, found in match.groupdict().items() if found is not None)
        return f" {COURSE_WORDS[int(group[1:])]} "

    return PHRASES.sub(replace, typed(question))


def _content(text):
    """The words a section must hold to answer ``text``: stemmed, no stopwords, no words of asking."""
    generic = _generic()
    return {t for t in terms(text) if " " not in t and t not in generic}


@cache
def _generic():
    return {_stem(word) for word in GENERIC}


@cache
def _section_words():
    """For each passage: the words it holds, the words of what it is about, and whether it is a row of a table
    of terms."""
    passages = _index()[0]
    abouts = [_content(_about(p)) for p in passages]
    bodies = [_content(p["text"]) | about for p, about in zip(passages, abouts)]
    return bodies, abouts, np.array([bool(p.get("term")) for p in passages])


def retrieve(question):
    """Cosine similarity of the question to every passage: one query, many keys."""
    passages, position, idf, keys = _index()
    query = _embed(Counter(terms(question)), position, idf)
    return keys @ query


def coverage(question):
    """For a question in the course's words: the share of its words (weighted by rarity) that each passage
    holds, the share in what it is about (its title and questions), and the share of the question's weight in
    words the course never uses."""
    _, position, idf, _ = _index()
    words = _content(question)
    known = {t: idf[position[t]] for t in words if t in position}
    unknown = (len(words) - len(known)) * idf.max()  # a word the course never uses is as rare as it gets
    if not known:
        return None, None, 1.0
    total = sum(known.values())
    bodies, abouts, _ = _section_words()
    held = np.array([sum(w for t, w in known.items() if t in body) for body in bodies]) / total
    about = np.array([sum(w for t, w in known.items() if t in topic) for topic in abouts]) / total
    return held, about, unknown / (unknown + total)


# Sentences about what a code cell shows (a printout, a plot, a slider): an answer shows no output, so it never
# quotes them. Those that name it, those beside a cell that read it ("Each row is a query"), and the sentence
# that opens a cell (it ends with ":").
ABOUT_OUTPUT = re.compile(
    r"\b(printed|prints|drawn as|on the (left|right)|sliders?|with your function|pick a head|move the|drag the"
    r"|(this|that) picture|(heatmap|plot|figure|picture|output|table|answers) (above|below))\b"
    r"|^(Measure|Time|Run) (it|both|this)\b",
    re.I,
)
READS_OUTPUT = re.compile(
    r'^(Each (row|column|diagonal|")|Read it|Zero|Exactly|Mostly|Nearly all|The answer is|One call|The output row'
    r"|The first \w+ rows)\b"
)
MARK = re.compile(r"^\s*(\d+\.|[-*+]|>)\s+")  # a list item's or a quote's mark
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?]\*\*)\s+")
Unit = namedtuple("Unit", "md plain block mark kind skip")


def _blocks(markdown):
    """[kind, mark, markdown] for each block of a section: "prose" (a paragraph, a list item or a quote, with its
    mark), "table", "math" (a displayed formula), "code" (a code cell), "gap" (a blank line)."""
    blocks = [["gap", "", ""]]
    for line in markdown.splitlines():
        last, mark = blocks[-1], MARK.match(line)
        kind = "math" if line.lstrip().startswith("$$") else "table" if line.startswith("|") else "prose"
        if last[0] == "math" and last[2].count("$$") % 2:  # a formula not closed yet
            last[2] += "\n" + line
        elif line == CODE_CELL or not line.strip() or re.fullmatch(r"(\s*<[^>]*>)+\s*", line):
            blocks.append(["code" if line == CODE_CELL else "gap", "", ""])  # html alone (a hint's frame) too
        elif kind == last[0] and not mark:  # the same table, formula or paragraph going on
            last[2] += "\n" + line
        else:
            blocks.append([kind, mark[1] if mark else "", line[mark.end() :] if mark else line])
    return blocks


def _units(passage):
    """What an answer can quote from a passage, in order: each sentence of its prose, each table and formula
    whole; ``skip`` when it is about an output, or a quoted draft that the course asks students to check."""
    if passage.get("term"):  # a row of terms: the row, shown as a table of one row
        return [Unit(passage.get("markdown", passage["text"]), passage["text"], 0, "", "table", False)]
    blocks = [b for b in _blocks(passage.get("markdown", passage["text"])) if b[0] != "gap"]
    units = []
    for n, (kind, mark, md) in enumerate(blocks):
        if kind == "code":
            continue
        beside = {blocks[m][0] for m in (n - 1, n + 1) if 0 <= m < len(blocks)}
        opens = n + 1 < len(blocks) and blocks[n + 1][0] == "code"
        masked = re.sub(r"\$\$.+?\$\$|\$[^$]+\$|`[^`]+`", lambda m: "x" * len(m[0]), md, flags=re.S)
        cuts = [0, *(x for gap in SENTENCE_END.finditer(masked) for x in gap.span()), len(md)]
        pieces = [md[a:b].strip() for a, b in zip(cuts[::2], cuts[1::2])] if kind == "prose" else [md]
        for k, piece in enumerate(pieces):
            plain = _clean(piece)
            skip = (
                bool(ABOUT_OUTPUT.search(plain) or "code" in beside and READS_OUTPUT.search(plain))
                or (opens and k == len(pieces) - 1 and plain.endswith(":"))
                or mark == ">"
            )
            units.append(Unit(piece, plain, n, mark, kind, skip))
    return [u for u in units if u.plain]


def _opens(units, i):
    """Whether ``units[i]`` opens the next unit, a table, formula or list: it ends with ":" (or no stop at all)."""
    after = units[i + 1] if i + 1 < len(units) else None
    return (
        after is not None
        and (after.kind != "prose" or after.mark not in ("", ">"))
        and units[i].plain[-1] not in ".!?"
    )


def _quote(passage, question, count=2):
    """The passage's best units for ``question``, in its order: as plain text, as Markdown, and whether the
    Markdown starts with a sentence (which can follow "From the course:" on its line)."""
    units = _units(passage)
    wanted = set(terms(question))
    usable = [i for i, u in enumerate(units) if not u.skip] or list(range(len(units)))

    def score(i):
        return len(wanted & set(terms(units[i].plain)))

    chosen = set(sorted(usable, key=lambda i: (-score(i), i))[:count])
    # Never mid-thought: a sentence that leans on the one before it brings that one along, and so does a table,
    # formula or list that the sentence before it opens; sentences about an output are passed over.
    for i in sorted(chosen, reverse=True):
        while LEANS_BACK.match(units[i].plain) or (
            i and _opens(units, i - 1) and units[i - 1].block != units[i].block
        ):
            i = max((j for j in usable if j < i), default=None)
            if i is None:
                break
            chosen.add(i)
    # A sentence that opens a table, a formula or a short list brings it along (unless it is only there to make
    # up the count); one that opens a longer list ends where the quote does.
    for i in [i for i in sorted(chosen) if _opens(units, i) and score(i)]:
        items = next((n for n, u in enumerate(units[i + 1 :]) if u.mark in ("", ">")), len(units) - i - 1)
        if units[i + 1].kind != "prose":
            chosen.add(i + 1)
        elif items <= 4:
            chosen |= {j for j in range(i + 1, i + 1 + items) if not units[j].skip}
    plain, groups = [], []  # groups: [block, its first unit, the Markdown of its chosen units]
    for i in sorted(chosen):
        unit, first = units[i], not i or units[i - 1].block != units[i].block
        md, text = unit.md, f"{unit.mark} {unit.plain}" if unit.mark and first else unit.plain
        if _opens(units, i) and i + 1 not in chosen:
            md, text = md.rstrip(":") + ".", text.rstrip(":") + "."
        plain.append(text)
        if groups and groups[-1][0] == unit.block:
            groups[-1][2].append(md)
        else:
            groups.append([unit.block, unit, [md]])
    markdown = "\n\n".join((f"{u.mark} " if u.mark else "") + " ".join(mds) for _, u, mds in groups)
    return " ".join(plain), markdown, groups[0][1].kind == "prose" and not groups[0][1].mark


def _cite(passage):
    return f"{passage['notebook']}: {passage['section']}"


DECLINE = (
    "I don't know: I can only answer from this course's notebooks, and nothing in them is about that. "
    "Try asking about queries, keys and values, softmax, scaling, masks, heads, or what attention weights mean."
)


def ask(question):
    """Answer ``question`` in two or three sentences from the course text, citing the sections used."""
    passages = _index()[0]
    words = in_course_words(question)
    on_topic = any(
        w in _topic() or any(w.startswith(t) for t in _topic() if len(t) > 6) for w in terms(words)
    )
    held, about, unknown = coverage(words)
    if not on_topic or unknown > MAX_UNKNOWN:
        return Answer(DECLINE, [], False)
    similarity = retrieve(words)
    # A row of a table of terms says what its term means, no more: it is a candidate only for a question
    # mostly about that term.
    candidate = ~_section_words()[2] | (about >= MIN_COVERAGE)
    score = np.where(candidate, held + TITLE_WEIGHT * about + similarity, -np.inf)
    answers = (held >= MIN_COVERAGE) & (about > MIN_ABOUT)
    order = [i for i in np.argsort(-score, kind="stable") if answers[i]]
    if not order or order[0] != int(np.argmax(score)):  # the best match must itself answer
        return Answer(DECLINE, [], False)
    chosen = [i for i in order[:2] if similarity[i] >= similarity[order[0]] - SECOND_PASSAGE_WITHIN]
    plain, quoted, inline = _quote(passages[chosen[0]], words)
    sources = [_cite(passages[i]) for i in chosen]
    more = " and ".join(
        f'"{passages[i]["section"]}" in notebook {passages[i]["notebook"][:2]}' for i in chosen
    )
    markdown = "\n\n".join(
        [
            ("From the course: " if inline else "From the course:\n\n") + quoted,
            f"Read more in {_escaped(more)}.",
            "<small>Sources:</small>",
            "\n".join(f"- {_escaped(s)}" for s in sources),
        ]
    )
    return Answer(f"From the course: {plain} Read more in {more}.", sources, True, markdown)


def tutor_widget():
    """A text box and a button; the answer appears below."""
    from helpers import being_graded

    if being_graded():
        return None
    import ipywidgets as w

    from helpers.widgets import explorer

    question = w.Text(
        placeholder="Ask about this lesson, e.g. why divide by sqrt(d_k)?",
        continuous_update=False,  # answer on Enter, not on every key
        layout=w.Layout(width="70%"),
    )
    button = w.Button(description="Ask", button_style="primary")
    reply = w.Output()  # shows Markdown as a notebook's cells do: tables, formulas, code

    def answer(_=None):
        if question.value.strip():
            found = ask(question.value)
            data = {"text/markdown": found.markdown, "text/plain": found.text}
            reply.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)

    button.on_click(answer)
    question.observe(answer, names="value")
    return explorer([w.HBox([question, button]), reply], "tutor")


if __name__ == "__main__":
    print(json.dumps(build_passages(sys.argv[1]), indent=1, ensure_ascii=False))
