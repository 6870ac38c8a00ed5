"""helpers.grading.similarity on a simulated class: the pair who copied each other is reported, honest students,
the released stub and a one-liner everyone writes alike are not."""

import shutil

import nbformat
import pytest
from conftest import RELEASE, ROOT, SOURCE, submission

from helpers.grading import similarity

SDPA = "scaled_dot_product_attention"
DEF = f'def {SDPA}(Q, K, V, mask=None):\n    """softmax(Q K^T / sqrt(d_k)) V."""\n'
# The copy: bob renamed every variable of alice's and swapped two independent lines.
ALICE = (
    DEF
    + """
    d_k = Q.shape[-1]
    K_t = np.swapaxes(K, -1, -2)
    scale = 1.0 / np.sqrt(d_k)
    logits = np.matmul(Q, K_t) * scale
    if mask is not None:
        logits = np.where(mask, logits, -1e9)
    probs = softmax(logits, axis=-1)
    return np.matmul(probs, V), probs
"""
)
BOB = (
    DEF
    + """
    K_T = np.swapaxes(K, -1, -2)  # transpose keys
    dk = Q.shape[-1]
    factor = 1.0 / np.sqrt(dk)
    s = np.matmul(Q, K_T) * factor
    if mask is not None:
        s = np.where(mask, s, -1e9)
    p = softmax(s, axis=-1)
    return np.matmul(p, V), p
"""
)
# Honest students: the formula the notebook dictates, each in their own way.
HONEST = {
    "carol": DEF
    + """
    d_k = Q.shape[-1]
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(d_k)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores, axis=-1)
    return weights @ V, weights
""",
    "dave": DEF
    + """
    scores = np.einsum("...qd,...kd->...qk", Q, K) / math.sqrt(K.shape[-1])
    if mask is not None:
        scores[~mask] = -np.inf
    w = np.exp(scores - scores.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    return w @ V, w
""",
    "erin": DEF
    + """
    scores = (Q @ K.swapaxes(-1, -2)) / Q.shape[-1] ** 0.5
    scores = scores if mask is None else np.where(mask, scores, float("-inf"))
    attention = softmax(scores)
    output = attention @ V
    return output, attention
""",
    "frank": DEF
    + """
    n = Q.shape[-1]
    raw = np.matmul(Q, np.transpose(K, (0, 2, 1)) if K.ndim == 3 else K.T)
    raw = raw / np.sqrt(n)
    if mask is not None:
        raw = np.where(mask, raw, -np.inf)
    a = softmax(raw, axis=-1)
    return a @ V, a
""",
}
CODE = {"alice": ALICE, "bob": BOB, **HONEST}
TRIL = "def causal_mask(n):\n    return np.tril(np.ones((n, n), dtype=bool))"
MASKS = {s: TRIL for s in CODE} | {
    "frank": "def causal_mask(n):\n    return np.arange(n)[:, None] >= np.arange(n)"
}
# Four leave self_attention as released (they share only the stub); alice and bob also share cross_attention,
# the course's own solution in their own names.
CROSS = """def cross_attention(X, memory, W_q, W_k, W_v, mask=None):
    {q} = X @ W_q
    {k} = memory @ W_k
    {v} = memory @ W_v
    return scaled_dot_product_attention({q}, {k}, {v}, mask)"""
SELF = {
    "alice": "def self_attention(X, W_q, W_k, W_v, mask=None):\n"
    "    return scaled_dot_product_attention(X @ W_q, X @ W_k, X @ W_v, mask)",
    "bob": "def self_attention(X, W_q, W_k, W_v, mask=None):\n"
    "    Q, K, V = X @ W_q, X @ W_k, X @ W_v\n    return scaled_dot_product_attention(Q, K, V, mask=mask)",
}


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A course root: two released notebooks, their masters and six students' submissions."""
    for name in ("notebooks", "source"):
        (tmp_path / name / "attention").mkdir(parents=True)
    for nb in ("03_scaled_dot_product_attention", "04_self_attention_and_causal_masks"):
        shutil.copy(RELEASE / f"{nb}.ipynb", tmp_path / "notebooks" / "attention")
        shutil.copy(SOURCE / f"{nb}.ipynb", tmp_path / "source" / "attention")
    for student, code in CODE.items():
        folder = tmp_path / "submitted" / student / "attention"
        folder.mkdir(parents=True)
        nb03 = submission(RELEASE, "03_scaled_dot_product_attention", {SDPA: code})
        nbformat.write(nb03, folder / "03_scaled_dot_product_attention.ipynb")
        codes = {"causal_mask": MASKS[student]}
        if student in SELF:
            names = dict(q="Q", k="K", v="V") if student == "alice" else dict(q="q", k="keys", v="vals")
            codes |= {"self_attention": SELF[student], "cross_attention": CROSS.format(**names)}
        nb04 = submission(RELEASE, "04_self_attention_and_causal_masks", codes)
        nbformat.write(nb04, folder / "04_self_attention_and_causal_masks.ipynb")
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _flagged(course):
    pairs, medians, unread = similarity.compare_assignment(
        "attention", course / "notebooks", course / "submitted", course / "source"
    )
    assert not unread
    assert {SDPA, "causal_mask", "self_attention"} <= set(medians)
    return pairs


def test_the_pair_who_copied_is_reported_and_no_one_else(course):
    pairs = _flagged(course)
    assert [(p.function, p.first, p.second) for p in pairs] == [
        (SDPA, "alice", "bob"),
        ("cross_attention", "alice", "bob"),
    ]
    pair, cross = pairs
    assert pair.score >= similarity.MIN_SCORE and not pair.short and not pair.course
    assert cross.course  # what they share is the course's solution too: the report says so
    assert ("logits = np.where(mask, logits, -1e9)", "s = np.where(mask, s, -1e9)") in pair.shown
    # what the release gives everyone is never shown as shared
    assert not any(SDPA in mine or "softmax(Q K^T" in mine for mine, _ in pair.shown)


def test_the_stub_and_the_skeleton_are_not_shared():
    stub = similarity.fingerprint(
        similarity.graded_functions(RELEASE / "03_scaled_dot_product_attention.ipynb")[SDPA], SDPA
    )
    one = similarity.fingerprint(DEF + "    return 1", SDPA)
    two = similarity.fingerprint(DEF + "    # YOUR CODE HERE\n    raise NotImplementedError()", SDPA)
    assert one.all() - stub.all() == {("return", "1")}
    assert two.all() <= stub.all()
    pairs, _ = similarity.compare({"a": one, "b": two, "c": two}, stub)
    assert pairs == []


def test_short_functions_need_a_rarer_match():
    stub = similarity.fingerprint("def causal_mask(n):\n    raise NotImplementedError()", "causal_mask")
    codes = {s: similarity.fingerprint(code, "causal_mask") for s, code in MASKS.items()}
    assert similarity.compare(codes, stub)[0] == []  # the class's own one-liner
    # two students alone in writing it one way: listed, but apart, as short
    odd = "def causal_mask(n):\n    keep = np.tri(n, n, 0, dtype=bool)\n    return keep"
    codes |= {
        "alice": similarity.fingerprint(odd, "causal_mask"),
        "bob": similarity.fingerprint(odd, "causal_mask"),
    }
    (pair,), _ = similarity.compare(codes, stub)
    assert (pair.first, pair.second, pair.short) == ("alice", "bob", True)


def test_the_command_writes_the_report(course, capsys):
    broken = course / "submitted" / "gina" / "attention"
    broken.mkdir(parents=True)
    (broken / "03_scaled_dot_product_attention.ipynb").write_text('{"cells": [ not json')
    nb = submission(
        RELEASE, "04_self_attention_and_causal_masks", {"causal_mask": "def causal_mask(n)\n  return"}
    )
    nbformat.write(nb, broken / "04_self_attention_and_causal_masks.ipynb")
    assert similarity.main(["attention"]) == 0
    text = (course / "similarity-attention.txt").read_text()
    assert text in capsys.readouterr().out
    assert "alice and bob: 2 functions (scaled_dot_product_attention, cross_attention)" in text
    assert "never a grade" in text and "Short functions" in text
    assert "gina: 03_scaled_dot_product_attention.ipynb is not a notebook" in text
    assert "gina: causal_mask does not parse" in text
    for honest in HONEST:
        assert honest not in text
