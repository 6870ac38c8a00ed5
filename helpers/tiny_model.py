"""A tiny one-layer attention model, trained in numpy in well under a second, for notebook 07.

Tokens are random, so the only way to predict a token from its neighbours is by position: the task "output the
token `shift` places back" needs a head that attends `shift` positions back. The model:

    X = [one-hot token | one-hot position]                    (batch, n, vocab + n), fixed
    head h: A_h = softmax(causal(X Wq_h (X Wk_h)^T / sqrt(d_head))),  Z_h = A_h X Wv_h
    logits = [Z_0 ... Z_{H-1}] W_out                          (batch, n, vocab)

trained with cross-entropy on the positions that have a token `shift` places back, by Adam. The backward pass is
written out by hand; tests/test_tiny_model.py checks it against finite differences.
"""

from dataclasses import dataclass

import numpy as np

# The attention itself is the course's: in a class release, the student's own functions from notebooks 02-05.
from helpers.earlier import causal_mask, combine_heads, scaled_dot_product_attention, softmax, split_heads


@dataclass(frozen=True)
class Task:
    """Name the tokens ``offsets`` places back: one answer class per combination of those tokens."""

    vocab: int = 4
    length: int = 8
    offsets: tuple = (1,)
    positions: bool = True  # False: the position block of each input is zeros (notebook 07, section 2)

    @property
    def shift(self):  # the first position that has all its tokens to look back at
        return max(self.offsets)

    @property
    def classes(self):
        return self.vocab ** len(self.offsets)

    def targets(self, tokens):
        """The answer at each position shift..length-1: the tokens ``offsets`` back, as one class number."""
        return sum(
            tokens[:, self.shift - o : self.length - o] * self.vocab**i for i, o in enumerate(self.offsets)
        )

    def batch(self, rng, size):
        tokens = rng.integers(0, self.vocab, size=(size, self.length))
        return tokens, self.targets(tokens)

    def inputs(self, tokens):
        one_hot_tokens = np.eye(self.vocab)[tokens]
        positions = np.broadcast_to(np.eye(self.length) * self.positions, tokens.shape + (self.length,))
        return np.concatenate([one_hot_tokens, positions], axis=-1)


def init(task, num_heads, d_head, seed):
    rng = np.random.default_rng(seed)
    d_in = task.vocab + task.length
    scale = 1 / np.sqrt(d_in)
    return {
        "W_q": rng.normal(0, scale, (num_heads, d_in, d_head)),
        "W_k": rng.normal(0, scale, (num_heads, d_in, d_head)),
        "W_v": rng.normal(0, scale, (num_heads, d_in, d_head)),
        "W_out": rng.normal(0, 1 / np.sqrt(num_heads * d_head), (num_heads * d_head, task.classes)),
    }


def forward(params, X):
    """Logits ``(batch, n, vocab)`` and what the backward pass needs; ``cache["A"]`` holds every head's weights
    ``(batch, heads, n, n)``."""
    Xh = X[:, None]  # (batch, 1, n, d_in): broadcast over heads
    Q, K, V = Xh @ params["W_q"], Xh @ params["W_k"], Xh @ params["W_v"]  # (batch, heads, n, d_head)
    Z, A = scaled_dot_product_attention(Q, K, V, causal_mask(X.shape[1]))
    Z_cat = combine_heads(Z)  # (batch, n, heads * d_head)
    return Z_cat @ params["W_out"], {"X": X, "Q": Q, "K": K, "V": V, "A": A, "Z_cat": Z_cat}


def loss_and_grads(params, task, tokens):
    X = task.inputs(tokens)
    logits, cache = forward(params, X)
    targets = task.targets(tokens)
    graded = logits[:, task.shift :]  # positions that have a token `shift` places back
    probs = softmax(graded)
    count = targets.size
    picked = np.take_along_axis(probs, targets[..., None], axis=-1)[..., 0]
    loss = -np.log(picked).mean()

    d_logits = np.zeros_like(logits)
    d_logits[:, task.shift :] = (probs - np.eye(task.classes)[targets]) / count  # softmax cross-entropy

    flat = lambda a: a.reshape(-1, a.shape[-1])  # noqa: E731 - (batch, n, k) -> (batch * n, k)
    grads = {"W_out": flat(cache["Z_cat"]).T @ flat(d_logits)}
    heads, d_head = params["W_q"].shape[0], params["W_q"].shape[-1]
    dZ_cat = d_logits @ params["W_out"].T
    dZ = split_heads(dZ_cat, heads)  # (batch, heads, n, d_head)
    A, Q, K, V = cache["A"], cache["Q"], cache["K"], cache["V"]
    dA = dZ @ np.swapaxes(V, -1, -2)
    dV = np.swapaxes(A, -1, -2) @ dZ
    dS = A * (dA - (dA * A).sum(axis=-1, keepdims=True)) / np.sqrt(d_head)
    dQ, dK = dS @ K, np.swapaxes(dS, -1, -2) @ Q
    for name, d in (("W_q", dQ), ("W_k", dK), ("W_v", dV)):  # sum over batch and positions, per head
        grads[name] = flat(X).T @ np.swapaxes(d, 0, 1).reshape(heads, -1, d_head)
    return loss, grads


def train(task, num_heads=2, d_head=8, seed=0, steps=300, batch=64, lr=0.05):
    """Adam on fresh random batches. Returns the parameters and the loss curve."""
    params = init(task, num_heads, d_head, seed)
    rng = np.random.default_rng(seed + 1000)
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    losses = []
    for step in range(1, steps + 1):
        tokens, _ = task.batch(rng, batch)
        loss, grads = loss_and_grads(params, task, tokens)
        losses.append(loss)
        for k in params:
            m[k] = 0.9 * m[k] + 0.1 * grads[k]
            v[k] = 0.999 * v[k] + 0.001 * grads[k] ** 2
            params[k] -= lr * (m[k] / (1 - 0.9**step)) / (np.sqrt(v[k] / (1 - 0.999**step)) + 1e-8)
    return params, np.array(losses)


def accuracy(params, task, seed=123, size=512):
    tokens, targets = task.batch(np.random.default_rng(seed), size)
    logits, _ = forward(params, task.inputs(tokens))
    return float((logits[:, task.shift :].argmax(-1) == targets).mean())


def head_weights(params, task, seed=7, size=256):
    """Every head's attention weights averaged over random sequences: ``(heads, n, n)``."""
    tokens, _ = task.batch(np.random.default_rng(seed), size)
    _, cache = forward(params, task.inputs(tokens))
    return cache["A"].mean(axis=0)


def weight_on_shift(weights, shift):
    """How much weight each head puts, on average, exactly ``shift`` places back (positions that have one)."""
    n = weights.shape[-1]
    rows = np.arange(shift, n)
    return weights[:, rows, rows - shift].mean(axis=-1)
