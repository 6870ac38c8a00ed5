"""A tutor that answers questions about the lesson from the course's own text, and says so when it cannot.

Answering is itself a small attention over the course: the question is the query, each section of the released
notebooks is a key (its title, its text and the questions the course's author says it answers,
``tutor_questions.json``), and its text the value. Both are embedded as TF-IDF vectors over the course's vocabulary,
the scores are cosine similarities, and the answer is drawn from the passages that softmax would give the most
weight (softmax keeps the order of the scores, so the scores alone decide).

An answer is marked ``grounded`` only when the cited section can answer the question: the question is first
put in the course's own words (``PHRASES``, from ``tutor_phrasings.json``: "blows up" -> overflow, "peek at
later words" -> causal mask), and then the section must hold most of the question's words (``MIN_COVERAGE``,
weighted by how rare they are in the course), a good part of them in its title or its questions
(``MIN_ABOUT``); a question with many words the course never uses is about something else. Otherwise the tutor
declines instead of guessing. Measured on questions it was not tuned on: ``make bench``.

Deterministic, offline, no model: the passages are in ``course_text.json`` beside this file, generated from
``notebooks/`` by ``python -m helpers.tutor notebooks/attention`` (``make release`` does it; a test keeps it in
step).

    from helpers.tutor import ask
    answer = ask("Why do we divide by sqrt(d_k)?")
    answer.text, answer.sources, answer.grounded
"""

import json
import math
import re
import sys
from collections import Counter
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
    specialis specializ ablation architecture gpt model notebook overflow normalis normaliz blend heatmap""".split()
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
try tries give gives take takes still even ever someone something anything everything quite simply""".split()
)

MIN_COVERAGE = 0.6  # the cited section holds at least this share of the question's (rarity-weighted) words
MIN_ABOUT = 0.25  # and more than this share is in what it is about: its title and its questions
MAX_UNKNOWN = 0.35  # at most this share of the question's weight in words the course never uses
TITLE_WEIGHT = 1.0  # a question's words in what a section is about count twice in its score


@dataclass
class Answer:
    text: str
    sources: list = field(default_factory=list)
    grounded: bool = False

    def _repr_html_(self):
        cite = "".join(f"<li>{s}</li>" for s in self.sources)
        return f"<p>{self.text}</p>" + (f"<p><small>Sources:</small></p><ul>{cite}</ul>" if cite else "")


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


def _clean(markdown):
    text = re.sub(r"<[^>]+>", " ", markdown)  # html tags (hint blocks, ...)
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
    """(heading, [lines]) for each ## or ### section of a notebook's markdown, solutions left out."""
    sections = []
    for cell in cells:
        if cell["cell_type"] != "markdown" or cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            continue
        for line in "".join(cell["source"]).splitlines():
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
            for line in lines:
                if re.match(r"^\| \*\*(.+?)\*\* \|(.*)\|\s*$", line):
                    cells = [_clean(c) for c in line.strip().strip("|").split("|")]
                    text = f"{cells[0]}: {'; '.join(c for c in cells[1:] if c)}."
                    passages.append(
                        {
                            "notebook": path.stem,
                            "section": f"{section}: {cells[0]}",
                            "text": text,
                            "term": True,
                        }
                    )
            text = _clean("\n".join(lines))
            if len(text.split()) >= 8 and section not in NOT_EXPLANATIONS:
                passages.append({"notebook": path.stem, "section": section, "text": text})
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


def terms(text):
    words = [_stem(w) for w in re.findall(r"[a-z0-9_]+", text.lower()) if w not in STOPWORDS and len(w) > 1]
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


def in_course_words(question):
    """The question, lower-cased, with everyday phrasings replaced by the course's words (``PHRASES``)."""

    def replace(match):
        group = next(name for name, found in match.groupdict().items() if found is not None)
        return f" {COURSE_WORDS[int(group[1:])]} "

    return PHRASES.sub(replace, question.lower())


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


def _best_sentences(text, question, count=2):
    sentences = [s for s in re.split(r"(?<=[.!?])\s+|(?<=[.!?;:])\s+(?=- )|^(?=- )", text) if s.strip()]
    sentences = [s[2:] if s.startswith("- ") else s for s in sentences]  # list items read as sentences
    wanted = set(terms(question))
    ranked = sorted(range(len(sentences)), key=lambda i: (-len(wanted & set(terms(sentences[i]))), i))
    chosen = set(ranked[:count])
    # Never mid-thought: a sentence that leans on the one before it brings that one along.
    for i in sorted(chosen, reverse=True):
        while i > 0 and LEANS_BACK.match(sentences[i]):
            i -= 1
            chosen.add(i)
    # A sentence that opens a list ("...are:") ends where the quote does when the list is not quoted.
    quoted = [
        sentences[i][:-1] + "." if sentences[i].endswith(":") and i + 1 not in chosen else sentences[i]
        for i in sorted(chosen)
    ]
    return " ".join(quoted)


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
    best = passages[chosen[0]]
    text = f"From the course: {_best_sentences(best['text'], words)}"
    more = " and ".join(
        f'"{passages[i]["section"]}" in notebook {passages[i]["notebook"][:2]}' for i in chosen
    )
    return Answer(f"{text} Read more in {more}.", [_cite(passages[i]) for i in chosen], True)


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
    reply = w.HTML()

    def answer(_=None):
        if question.value.strip():
            reply.value = ask(question.value)._repr_html_()

    button.on_click(answer)
    question.observe(answer, names="value")
    return explorer([w.HBox([question, button]), reply], "tutor")


if __name__ == "__main__":
    print(json.dumps(build_passages(sys.argv[1]), indent=1, ensure_ascii=False))
