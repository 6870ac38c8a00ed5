"""The end-of-lesson quiz: the lesson's 15 questions, a widget to answer them, and the checks nbgrader grades.

Neither the answer key nor the explanations are in this package: they live in the hidden tests of
``source/attention/08_end_of_lesson_check.ipynb``, one per question (``grade_quiz_answer(answers, n, letter,
explanation)``). So:

- **self-study** (the repository is there): the widget and ``check_quiz_answer`` read the key from that
  notebook and answer at once, right or wrong and why;
- **a class release** (this package alone): answers are recorded, and right/wrong with the explanation comes
  back in nbgrader's feedback after grading;
- **grading**: the visible test checks only that an answer is a letter; the hidden test scores it.
"""

import ast
import functools
import json
from html import escape
from pathlib import Path

from helpers import being_graded, progress
from helpers.checking import CheckFailure

LETTERS = "ABCD"
MASTER = Path(__file__).resolve().parents[1] / "source" / "attention" / "08_end_of_lesson_check.ipynb"

QUESTIONS = [
    (
        "In the attention mechanism, what does the query vector represent?",
        [
            "The information being used to compute similarity scores against keys",
            "The final output that combines all weighted values",
            "The stored representations that are retrieved based on key matches",
            "The information being retrieved from other positions in the sequence",
        ],
    ),
    (
        "What mathematical operation transforms the raw attention scores (query-key dot products) into "
        "probabilities that sum to 1?",
        ["Gradient descent", "Layer normalization", "Sigmoid normalization", "Softmax function"],
    ),
    (
        "A transformer processes a 4-token sequence. After computing dot products between a query and all four "
        "keys, the raw scores are [2.0, 0.5, -1.0, 0.0]. After softmax, which token will receive the highest "
        "attention weight?",
        ["Token 2 (score 0.5)", "Token 4 (score 0.0)", "Token 3 (score -1.0)", "Token 1 (score 2.0)"],
    ),
    (
        "Why is attention described as a 'soft' lookup rather than a 'hard' lookup?",
        [
            "It only works on sequences of a fixed length",
            "It distributes attention across multiple positions rather than selecting exactly one",
            "It can only be used with floating-point numbers",
            "It requires special hardware to run efficiently",
        ],
    ),
    (
        "What determines which values contribute to the output of an attention head for a given query?",
        [
            "Random selection weighted by sequence position",
            "The distance in the sequence from the current position",
            "The similarity between the query and each key",
            "The alphabetical order of tokens in the sequence",
        ],
    ),
    (
        "In the attention mechanism, what are the 'values' and what role do they play in the final output?",
        [
            "They are trainable parameters that never change during processing",
            "They are scalar coefficients that determine how much to weigh each position",
            "They are the query-key products before softmax",
            "They are the actual information content that gets retrieved and aggregated",
        ],
    ),
    (
        "A student says: 'I can tell exactly what concept the model is thinking about by looking at which tokens "
        "have the highest attention weights.' Based on the lesson, why is this problematic?",
        [
            "Attention weights are random and uninterpretable",
            "Attention weights are weights, not direct representations of the model's reasoning or knowledge",
            "Attention only works with numerical tokens, not concepts",
            "The model has no way to store conceptual information",
        ],
    ),
    (
        "What computational breakthrough enabled the 'scale era' in large language models?",
        [
            "Limiting each attention head to process only 10 tokens",
            "Reducing the size of the vocabulary to under 1000 words",
            "Parallelizing the attention computation across all positions",
            "Introducing recursion to process sequences sequentially",
        ],
    ),
    (
        "What does it mean that attention allows a token to 'gather context from anywhere in a sequence'?",
        [
            "The attention mechanism lets any position attend to any other position regardless of distance",
            "Only adjacent tokens can communicate in the attention mechanism",
            "Each token can directly access the raw embeddings of all other tokens without transformation",
            "Tokens must travel through hidden layers to reach distant positions",
        ],
    ),
    (
        "A researcher notices that one attention head in a trained model consistently attends to the token "
        "immediately following the current position. What might explain this?",
        [
            "The head is malfunctioning and needs to be reset",
            "The model has a bug in its implementation",
            "The head learned to focus on next-token prediction as a useful pattern",
            "Attention heads cannot detect positional patterns",
        ],
    ),
    (
        "The lesson states that attention weights are not 'what the model is thinking about.' What are they "
        "actually?",
        [
            "The model's confidence scores for each possible next token",
            "The final predictions of the model",
            "Representations of the input text's emotional content",
            "Learned parameters that determine how information flows during computation",
        ],
    ),
    (
        "Why is the content-addressable memory analogy for attention useful but incomplete?",
        [
            "Content-addressable memory doesn't exist in computer systems",
            "Content-addressable memory is too fast for neural networks to simulate",
            "The lookup is 'soft' (weighted) rather than 'hard' (exact match), and the matching is learned, not "
            "based on stored keys",
            "Attention doesn't use memory at all",
        ],
    ),
    (
        "In a single attention step, what happens to the values after the softmax produces attention weights?",
        [
            "They are discarded and new values are generated",
            "They are averaged equally regardless of attention weights",
            "They are passed through a sigmoid function",
            "They are multiplied by their corresponding weights and summed together",
        ],
    ),
    (
        "If you wanted to predict which architecture variant will outperform others in the future, what does the "
        "lesson suggest?",
        [
            "It cannot be reliably predicted — there are unknown factors",
            "Select the variant that uses the most recent activation function",
            "Choose the variant with highest current benchmark scores",
            "Use the variant with the most parameters",
        ],
    ),
    (
        "What would happen if you removed the softmax function from the attention mechanism and just used the raw "
        "dot products as weights?",
        [
            "The output would be identical since softmax doesn't change relative rankings",
            "The model would train faster but produce the same results",
            "The values would be processed more efficiently",
            "Weights could be negative, and the output would not be a proper weighted blend of values",
        ],
    ),
]


def _key_in(notebook_json):
    """{number: (letter, explanation)} from the hidden tests of the quiz's master notebook."""
    key = {}
    for cell in notebook_json["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if "grade_quiz_answer" not in source or cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "grade_quiz_answer":
                number, letter, explanation = (ast.literal_eval(a) for a in node.args[1:4])
                key[number] = (letter, explanation)
    return key


@functools.cache
def course_key():
    """The key and explanations where the course's master notebook is at hand (self-study), else None."""
    try:
        key = _key_in(json.loads(MASTER.read_text(encoding="utf-8")))
    except (OSError, ValueError, SyntaxError):
        return None
    return key if len(key) == len(QUESTIONS) else None


def _letter(answer):
    return answer.strip().upper() if isinstance(answer, str) and answer.strip().upper() in LETTERS else None


def is_correct(number, letter, key):
    """Whether ``letter`` ("A"-"D", any case and spacing) answers question ``number`` (1-15) by ``key``."""
    return _letter(letter) is not None and _letter(letter) == key[number][0]


def feedback_html(number, letter, key=None):
    """Right or wrong and why, where the key is at hand; otherwise that the answer is recorded."""
    if letter is None:
        return ""
    if key is None:
        return f"<p>Recorded: {escape(str(letter))}. Your graded feedback will say whether it is right, and why.</p>"
    verdict = (
        "✓ Right." if is_correct(number, letter, key) else f"✗ {escape(str(letter))} is not the best answer."
    )
    return f"<p><b>{verdict}</b> {escape(key[number][1])}</p>"


def score(answers, key):
    """How many of the 15 answers in ``answers`` ({number: letter}) are right by ``key``."""
    return sum(is_correct(n, answers.get(n), key) for n in range(1, len(QUESTIONS) + 1))


def _record(answers, key):
    answered = sum(_letter(answers.get(n)) is not None for n in range(1, len(QUESTIONS) + 1))
    progress.record_quiz(score(answers, key) if key else None, len(QUESTIONS), answered)


def _valid_letter(answers, number):
    if not isinstance(answers, dict):
        raise CheckFailure("`answers` must be a dict {question number: letter}, as in the cell above")
    letter = answers.get(number)
    if letter is None:
        raise CheckFailure(
            f"question {number} has no answer yet: put 'A', 'B', 'C' or 'D' in answers[{number}]"
        )
    if _letter(letter) is None:
        raise CheckFailure(f"answers[{number}] is {letter!r}: use one of the letters 'A', 'B', 'C', 'D'")
    return letter


def check_quiz_answer(answers, number):
    """The visible test of one question: is it answered with a letter? In self-study, also: is it right?"""
    letter = _valid_letter(answers, number)
    key = None if being_graded() else course_key()
    _record(answers, key)
    if key is None:
        print(f"✓ question {number}: answered ({_letter(letter)}). It is scored when your work is graded.")
        return
    grade_quiz_answer(answers, number, *key[number])


def grade_quiz_answer(answers, number, letter, explanation):
    """The hidden test of one question (one point): right if ``answers[number]`` is ``letter``; says why."""
    given = _valid_letter(answers, number)
    if _letter(given) != letter:
        raise CheckFailure(f"question {number}: {given} is not the best answer. {explanation}")
    print(f"✓ question {number}: right. {explanation}")


def quiz_widget():
    """All 15 questions with radio buttons: in self-study each answer gets its explanation at once, with a
    running score; in a class each answer is recorded, for the graded cell below."""
    if being_graded():
        return None
    import ipywidgets as w

    from helpers.widgets import explorer

    key = course_key()
    chosen = {}
    total = w.HTML()
    rows = []

    def update_total():
        answered = {n: chosen.get(n) for n in range(1, len(QUESTIONS) + 1)}
        so_far = f"Score: {score(chosen, key)} / {len(QUESTIONS)}" if key else f"Answered: {len(chosen)}"
        total.value = (
            f"<p><b>{so_far}</b> ({len(chosen)} answered). For the graded cell below: "
            f"<code>answers = {escape(repr(answered))}</code></p>"
        )
        if chosen:
            _record(chosen, key)

    for number, (question, options) in enumerate(QUESTIONS, start=1):
        buttons = w.RadioButtons(
            options=[(f"{letter}. {text}", letter) for letter, text in zip(LETTERS, options)],
            value=None,
            layout=w.Layout(width="auto"),
        )
        feedback = w.HTML()

        def on_choice(change, number=number, feedback=feedback):
            chosen[number] = change["new"]
            feedback.value = feedback_html(number, change["new"], key)
            update_total()

        buttons.observe(on_choice, names="value")
        rows.append(w.VBox([w.HTML(f"<p><b>{number}.</b> {escape(question)}</p>"), buttons, feedback]))
    update_total()
    return explorer([*rows, total], "end-of-lesson quiz")
