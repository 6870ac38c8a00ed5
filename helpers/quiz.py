"""The end-of-lesson check: 15 questions, instant feedback, and the per-question checks nbgrader grades.

The answer key is stored only as salted hashes, so neither this file nor the released notebook shows it in
plain text; an explanation is shown once a question has been answered.
"""

import hashlib
from html import escape

LETTERS = "ABCD"
SALT = "attention-course/quiz/v1"

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

# Written by us: why the right option is right, where the course teaches it, and where an option is imprecise.
EXPLANATIONS = [
    "The query is what a position is looking for: it is compared with every key to produce the similarity "
    "scores (01 · section 6). Option D describes the values, not the query.",
    "Softmax exponentiates and normalises, so the weights are positive and sum to 1 (02 · section 4). A sigmoid "
    "squashes each score on its own and the results do not sum to 1 (02 · section 3).",
    "Softmax keeps the order of the scores, so the largest score, 2.0, gets the largest weight: about 0.71 "
    "(02 · section 5, where you computed it).",
    "A soft lookup returns a blend of all values weighted by similarity, never exactly one (01 · sections 4-5 "
    "and 7).",
    "The weights come from softmax of the query-key similarities, so the keys that match the query decide how "
    "much of each value goes into the output (01 · section 5; 03 · section 2). Distance plays no role in the "
    "lookup itself (01 · section 7).",
    "Values carry the content: the output is their weighted sum (01 · section 6; 03 · section 2). Option B "
    "describes the attention weights.",
    "Weights say where a head reads from, not what the model computes: the same weights can carry different "
    "content, and a weight can be forced by the mask (07 · section 5). They are not random either: they are "
    "systematic and measurable (07 · section 3).",
    "Attention's scores for all positions are independent, so they are computed at once as matrix products that "
    "parallel hardware runs fast, unlike a recurrent network's sequential steps (06 · sections 1-4). 'Breakthrough' "
    "is loose: the parallelism came with the transformer's design rather than as a separate invention.",
    "Every query is scored against every key, near or far, so any position can draw on any other in one step "
    "(01 · section 7; 04 · section 2). With a causal mask, 'any other' means any earlier position (04 · section 3).",
    "Heads learn useful positional patterns such as 'look one token back' without being told to; you watched it "
    "happen in 07 · sections 3-4. The question is imprecise: in a causal language model a head cannot attend to "
    "the following token at all (04 · section 3); what is commonly observed is a head attending to the previous "
    "token, and the option's phrase 'next-token prediction' is only loosely right. It is the best of the four.",
    "Attention weights say how information flows: which positions each query reads from (07 · section 5). The "
    "option is imprecise: the weights are not themselves learned parameters. They are computed afresh for every "
    "input from the learned matrices W_Q and W_K (04 · section 1). It is still the best of the four.",
    "A dictionary returns one value for an exact key; attention blends all values (soft), and in a transformer the "
    "keys and queries are computed by learned matrices rather than stored (01 · section 7).",
    "Each value is multiplied by its weight and the products are summed: output = weights @ V (01 · section 5; "
    "03 · section 2).",
    "Which variant wins depends on the task, the data, the training budget and more; even in a toy the ranking "
    "flipped with the budget (07 · section 6). Benchmarks, parameter counts and novelty do not settle it.",
    "Raw scores can be negative and do not sum to 1, so the output would not be a weighted average of the values: "
    "you saw a blend fall outside the range of every value (02 · section 2).",
]

KEY = [
    "75ab55ee8d4e97e10ef58b651e7a0323",
    "5202d738e72599f4bb938c82b287c92f",
    "15d134533192f1a8e6cdeb2f13e2ec8d",
    "81fa1c02fdd6df1bfb9e94b071434031",
    "d2559c4e2a03e7b81414fac9a4197cc9",
    "32571d79e573a00dfa7da01e9f9b0866",
    "414f377a520aed871e70c6a80fd5512f",
    "1541386ebaa21518cda3eeb5796f55d7",
    "a339f0a34dde7d65f156a5ad7a5456a7",
    "a9d8a3cc767a2e7b67106b4f9f29998d",
    "90a649e52086fc240a4edf8cd5bbeb97",
    "233bc800049c6641499b5b95a81e9623",
    "90b61959fffb4f1111601e73b2c12f6c",
    "ef13b4718cc0895ab3279fd922ed97d6",
    "4ee63cb77f16027b3fe228d73912daa4",
]


def _digest(number, letter):
    return hashlib.sha256(f"{SALT}:{number}:{letter}".encode()).hexdigest()[:32]


def is_correct(number, letter):
    """Whether ``letter`` ("A"-"D") answers question ``number`` (1-15) correctly."""
    if not isinstance(letter, str) or letter.strip().upper() not in LETTERS:
        return False
    return _digest(number, letter.strip().upper()) == KEY[number - 1]


def feedback_html(number, letter):
    """Right or wrong, and our explanation with where the course teaches it."""
    if letter is None:
        return ""
    verdict = "✓ Right." if is_correct(number, letter) else f"✗ {escape(str(letter))} is not the best answer."
    return f"<p><b>{verdict}</b> {escape(EXPLANATIONS[number - 1])}</p>"


def score(answers):
    """How many of the 15 answers in ``answers`` ({number: letter}) are right."""
    return sum(is_correct(n, answers.get(n)) for n in range(1, len(QUESTIONS) + 1))


def check_quiz_answer(answers, number):
    """nbgrader's test for one question (one point): passes if ``answers[number]`` is the right letter."""
    from helpers import progress
    from helpers.checking import CheckFailure

    if not isinstance(answers, dict):
        raise CheckFailure("`answers` must be a dict {question number: letter}, as in the cell above")
    letter = answers.get(number)
    progress.record_quiz(score(answers), len(QUESTIONS))
    if letter is None:
        raise CheckFailure(
            f"question {number} has no answer yet: put 'A', 'B', 'C' or 'D' in answers[{number}]"
        )
    if not isinstance(letter, str) or letter.strip().upper() not in LETTERS:
        raise CheckFailure(f"answers[{number}] is {letter!r}: use one of the letters 'A', 'B', 'C', 'D'")
    if not is_correct(number, letter):
        raise CheckFailure(f"question {number}: {letter} is not the best answer. {EXPLANATIONS[number - 1]}")
    print(f"✓ question {number}: right.")


def quiz_widget():
    """All 15 questions with radio buttons; each answer gets its explanation at once, with a running score."""
    from helpers import being_graded, progress

    if being_graded():
        return None
    import ipywidgets as w

    from helpers.widgets import explorer

    chosen = {}
    total = w.HTML()
    rows = []

    def update_total():
        right = score(chosen)
        answered = {n: chosen.get(n) for n in range(1, len(QUESTIONS) + 1)}
        total.value = (
            f"<p><b>Score: {right} / {len(QUESTIONS)}</b> ({len(chosen)} answered). For the graded cell below: "
            f"<code>answers = {escape(repr(answered))}</code></p>"
        )
        if chosen:
            progress.record_quiz(right, len(QUESTIONS))

    for number, (question, options) in enumerate(QUESTIONS, start=1):
        buttons = w.RadioButtons(
            options=[(f"{letter}. {text}", letter) for letter, text in zip(LETTERS, options)],
            value=None,
            layout=w.Layout(width="auto"),
        )
        feedback = w.HTML()

        def on_choice(change, number=number, feedback=feedback):
            chosen[number] = change["new"]
            feedback.value = feedback_html(number, change["new"])
            update_total()

        buttons.observe(on_choice, names="value")
        rows.append(w.VBox([w.HTML(f"<p><b>{number}.</b> {escape(question)}</p>"), buttons, feedback]))
    update_total()
    return explorer([*rows, total], "end-of-lesson quiz")
