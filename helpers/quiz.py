"""The end-of-lesson quiz: the lesson's 15 questions, a widget to answer them, and the checks nbgrader grades.

The stems and the right options are the lesson's word for word; distractors that nobody who read the lesson
would pick are rewritten as misconceptions the course addresses (``tests/test_quiz.py`` lists them).

Neither the answer key nor the explanations are in this package: they live in the hidden tests of
``source/attention/08_end_of_lesson_check.ipynb``, one per question (``grade_quiz_answer(answers, n, letter,
explanation, reasons)``, ``reasons`` saying why each wrong option is wrong). So:

- **self-study** (the repository is there): the widget and ``check_quiz_answer`` read the key from that
  notebook and answer at once, right or wrong and why, with why the option picked is wrong;
- **a class release** (this package alone): answers are collected, and right/wrong with the explanation comes
  back in nbgrader's feedback after grading;
- **grading**: the visible test checks only that an answer is a letter; the hidden test scores it.

The saved quiz score (:mod:`helpers.progress`) is that of the graded ``answers`` cell, saved whenever one of its
visible checks runs; the widget's clicks and trial dicts are practice and never overwrite it.
"""

import ast
import functools
import json
from html import escape

from helpers import being_graded, master_notebook, progress
from helpers.checking import CheckFailure

LETTERS = "ABCD"
MASTER = master_notebook("08_end_of_lesson_check.ipynb")

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
        [
            "Dividing each score by the sum of all the scores",
            "Dividing the scores by the square root of the key dimension",
            "Sigmoid normalization",
            "Softmax function",
        ],
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
            "It returns the value whose key is closest to the query, even when no key matches exactly",
            "It distributes attention across multiple positions rather than selecting exactly one",
            "Its weights can be any real numbers instead of only 0 or 1",
            "Positions that are masked out still get a small share of the weight",
        ],
    ),
    (
        "What determines which values contribute to the output of an attention head for a given query?",
        [
            "The attention weights the model learned in training, the same for every input",
            "The distance in the sequence from the current position",
            "The similarity between the query and each key",
            "The size of each value vector: larger values count more",
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
            "Only because a causal mask can force some weights; without a mask the highest weights show the "
            "concept",
            "Only single heads mislead; averaged over all heads, the weights show the concept",
        ],
    ),
    (
        "What computational breakthrough enabled the 'scale era' in large language models?",
        [
            "Attention needing fewer multiply-adds than a recurrent layer",
            "The key/value cache, which lets a model generate every token of a text at once",
            "Parallelizing the attention computation across all positions",
            "Introducing recursion to process sequences sequentially",
        ],
    ),
    (
        "What does it mean that attention allows a token to 'gather context from anywhere in a sequence'?",
        [
            "The attention mechanism lets any position attend to any other position regardless of distance",
            "Any token can be read, but distant tokens always get less weight",
            "Each token can directly access the raw embeddings of all other tokens without transformation",
            "Tokens must travel through hidden layers to reach distant positions",
        ],
    ),
    (
        "A researcher notices that one attention head in a trained model consistently attends to the token "
        "immediately following the current position. What might explain this?",
        [
            "Softmax gives the most weight to neighbouring positions by default",
            "The causal mask makes every head attend to the position after its own",
            "The head learned to focus on next-token prediction as a useful pattern",
            "Attention heads cannot detect positional patterns",
        ],
    ),
    (
        "The lesson states that attention weights are not 'what the model is thinking about.' What are they "
        "actually?",
        [
            "The model's confidence scores for each possible next token",
            "A fixed ranking of the tokens by importance, learned in training and the same for every input",
            "The information each position passes on to the output",
            "Learned parameters that determine how information flows during computation",
        ],
    ),
    (
        "Why is the content-addressable memory analogy for attention useful but incomplete?",
        [
            "It is complete: attention returns the value whose key best matches the query, like a dictionary",
            "The keys are learned in training and stored in the model, as in a database",
            "The lookup is 'soft' (weighted) rather than 'hard' (exact match), and the matching is learned, not "
            "based on stored keys",
            "Attention can only read earlier positions, while a memory can be read anywhere",
        ],
    ),
    (
        "In a single attention step, what happens to the values after the softmax produces attention weights?",
        [
            "The value with the largest weight is returned and the others are dropped",
            "They are averaged equally regardless of attention weights",
            "Each is multiplied by its weight, and the sum is divided by the square root of the key dimension",
            "They are multiplied by their corresponding weights and summed together",
        ],
    ),
    (
        "If you wanted to predict which architecture variant will outperform others in the future, what does the "
        "lesson suggest?",
        [
            "It cannot be reliably predicted — there are unknown factors",
            "Count the heads: the variant with more heads can learn more patterns, so it will win",
            "Choose the variant with highest current benchmark scores",
            "Use the variant with the most parameters",
        ],
    ),
    (
        "What would happen if you removed the softmax function from the attention mechanism and just used the raw "
        "dot products as weights?",
        [
            "The output would be identical since softmax doesn't change relative rankings",
            "The output would be the same up to a constant factor, which later layers undo",
            "Masking would still work: forbidden scores are set to minus infinity and get weight 0",
            "Weights could be negative, and the output would not be a proper weighted blend of values",
        ],
    ),
]


def _hidden_tests(notebook_json):
    """{number: (letter, explanation, reasons)} from the hidden tests of the quiz's master notebook."""
    tests = {}
    for cell in notebook_json["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if "grade_quiz_answer" not in source or cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "grade_quiz_answer":
                number, letter, explanation, reasons = (ast.literal_eval(a) for a in node.args[1:5])
                tests[number] = (letter, explanation, reasons)
    return tests


@functools.cache
def course_tests():
    """{number: (letter, explanation, {wrong letter: why it is wrong})} where the course's master notebook is at
    hand (self-study), else None."""
    try:
        tests = _hidden_tests(json.loads(MASTER.read_text(encoding="utf-8")))
    except (OSError, ValueError, SyntaxError):
        return None
    return tests if len(tests) == len(QUESTIONS) else None


def course_key():
    """{number: (letter, explanation)} where the master notebook is at hand, else None."""
    tests = course_tests()
    return None if tests is None else {n: (letter, why) for n, (letter, why, _) in tests.items()}


def _letter(answer):
    return answer.strip().upper() if isinstance(answer, str) and answer.strip().upper() in LETTERS else None


def is_correct(number, letter, key):
    """Whether ``letter`` ("A"-"D", any case and spacing) answers question ``number`` (1-15) by ``key``."""
    return _letter(letter) is not None and _letter(letter) == key[number][0]


def _why_not(letter, explanation, reasons):
    """Why the option picked is wrong, then why the best answer is right."""
    return f"{reasons.get(letter, '')} The best answer: {explanation}".strip()


def feedback_html(number, letter, tests=None):
    """Right or wrong and why, where the key is at hand (``tests``: :func:`course_tests`); otherwise that the
    answer is noted for the graded cell."""
    if letter is None:
        return ""
    if tests is None:
        return (
            f"<p>Your choice: {escape(str(letter))}. Put it in the graded cell below; your graded feedback will say "
            "whether it is right, and why.</p>"
        )
    _, explanation, reasons = tests[number]
    if is_correct(number, letter, tests):
        return f"<p><b>✓ Right.</b> {escape(explanation)}</p>"
    why_not = escape(reasons.get(_letter(letter), ""))
    return (
        f"<p><b>✗ {escape(str(letter))} is not the best answer.</b> {why_not}</p>"
        f"<p><i>The best answer:</i> {escape(explanation)}</p>"
    )


def score(answers, key):
    """How many of the 15 answers in ``answers`` ({number: letter}) are right by ``key``."""
    return sum(is_correct(n, answers.get(n), key) for n in range(1, len(QUESTIONS) + 1))


def _graded(answers):
    # The graded cell's dict names every question, None until answered; a trial dict names only what it tries.
    return all(n in answers for n in range(1, len(QUESTIONS) + 1))


def _record(answers, tests):
    """Save the graded dict's score: right answers by ``tests``, or None where only grading can tell."""
    answered = sum(_letter(answers.get(n)) is not None for n in range(1, len(QUESTIONS) + 1))
    progress.record_quiz(score(answers, tests) if tests else None, len(QUESTIONS), answered)


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
    """The visible test of one question: is it answered with a letter? In self-study, also: is it right?

    Checking the graded cell's ``answers`` (every question named) saves its score, all 15 questions as they
    stand, so the saved score is what grading would give; a trial dict such as ``{3: "B"}`` saves nothing.
    """
    letter = _valid_letter(answers, number)
    tests = None if being_graded() else course_tests()
    if _graded(answers):
        _record(answers, tests)
    if tests is None:
        print(f"✓ question {number}: answered ({_letter(letter)}). It is scored when your work is graded.")
        return
    grade_quiz_answer(answers, number, *tests[number])


def grade_quiz_answer(answers, number, letter, explanation, reasons):
    """The hidden test of one question (one point): right if ``answers[number]`` is ``letter``; says why, and
    for a wrong answer why that option is wrong (``reasons``: {wrong letter: reason})."""
    given = _letter(_valid_letter(answers, number))
    if given != letter:
        raise CheckFailure(
            f"question {number}: {given} is not the best answer. {_why_not(given, explanation, reasons)}"
        )
    print(f"✓ question {number}: right. {explanation}")


def quiz_widget():
    """All 15 questions with radio buttons: in self-study each answer gets its explanation at once (for a wrong
    one, why that option is wrong), with a running score; in a class the choices are gathered into the dict for
    the graded cell below. Clicks are practice: only the graded cell's checks save the quiz score."""
    if being_graded():
        return None
    import ipywidgets as w

    from helpers.widgets import explorer

    tests = course_tests()
    chosen = {}
    total = w.HTML()
    rows = []

    def update_total():
        answered = {n: chosen.get(n) for n in range(1, len(QUESTIONS) + 1)}
        so_far = f"Score: {score(chosen, tests)} / {len(QUESTIONS)}" if tests else f"Answered: {len(chosen)}"
        total.value = (
            f"<p><b>{so_far}</b> ({len(chosen)} answered). For the graded cell below, which alone saves your "
            f"quiz score: <code>answers = {escape(repr(answered))}</code></p>"
        )

    for number, (question, options) in enumerate(QUESTIONS, start=1):
        buttons = w.RadioButtons(
            options=[(f"{letter}. {text}", letter) for letter, text in zip(LETTERS, options)],
            value=None,
            layout=w.Layout(width="auto"),
        )
        feedback = w.HTML()

        def on_choice(change, number=number, feedback=feedback):
            chosen[number] = change["new"]
            feedback.value = feedback_html(number, change["new"], tests)
            update_total()

        buttons.observe(on_choice, names="value")
        rows.append(w.VBox([w.HTML(f"<p><b>{number}.</b> {escape(question)}</p>"), buttons, feedback]))
    update_total()
    return explorer([*rows, total], "end-of-lesson quiz")
