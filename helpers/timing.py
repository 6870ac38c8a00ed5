"""The loop that notebook 06 asks students to vectorise, and timing a student's function against it.

Timings differ between machines and runs, so they are only ever shown in a figure (whose pixels strict nbval
does not compare) and never printed into a notebook's stored output.
"""

import time

import numpy as np
from IPython.display import HTML, display

from helpers import being_graded
from helpers.widgets import friendly_html


def attention_loop(Q, K, V, mask=None):
    """Scaled dot-product attention one query and one key at a time, for ``Q (n_q, d_k)``, ``K (n_k, d_k)``,
    ``V (n_k, d_v)``: the same numbers as ``scaled_dot_product_attention``, computed the slow way, for you to
    vectorise (notebook 06).
    """
    n_q, d_k = Q.shape
    n_k, d_v = V.shape
    weights = np.zeros((n_q, n_k))
    output = np.zeros((n_q, d_v))
    for i in range(n_q):  # each query waits for the previous one, in Python
        scores = np.full(n_k, -np.inf)
        for j in range(n_k):
            if mask is None or mask[i, j]:
                scores[j] = np.dot(Q[i], K[j]) / np.sqrt(d_k)
        exps = np.exp(scores - scores.max())
        weights[i] = exps / exps.sum()
        for j in range(n_k):
            output[i] += weights[i, j] * V[j]
    return output, weights


def best_time(fn, *args, repeat=3):
    """The fastest of ``repeat`` calls, in seconds: the least disturbed by whatever else the machine does."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - start)
    return best


def random_qkv(n, d=16, seed=0):
    return np.random.default_rng(seed).normal(size=(3, n, d))


def time_attention(fn, sizes, d=16, repeat=3):
    return [best_time(fn, *random_qkv(n, d), repeat=repeat) for n in sizes]


def _ready_to_time(attention, d):
    """Whether to draw a timing figure: not while grading, and not before the student's ``attention`` runs on
    a small input (then a note says what to write first)."""
    if being_graded():
        return False
    try:
        attention(*random_qkv(4, d))
    except Exception as exc:
        display(HTML(friendly_html(attention, exc)))
        return False
    return True


def compare_loop_and_vectorized(loop, vectorized, loop_sizes, vectorized_sizes, d=16):
    """Time both for growing sequence lengths and plot seconds against n, log-log, with the speed-up."""
    if not _ready_to_time(vectorized, d):
        return
    import matplotlib.pyplot as plt

    loop_times = time_attention(loop, loop_sizes, d, repeat=1)
    vec_times = time_attention(vectorized, vectorized_sizes, d)
    common = max(set(loop_sizes) & set(vectorized_sizes))
    speedup = loop_times[loop_sizes.index(common)] / vec_times[vectorized_sizes.index(common)]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.loglog(loop_sizes, loop_times, "o-", color="#c44e52", label="attention_loop (Python loops)")
    ax.loglog(vectorized_sizes, vec_times, "o-", color="#4c72b0", label="your vectorized_attention")
    ax.set_xlabel("sequence length n")
    ax.set_ylabel("seconds (best of runs)")
    ax.set_title(f"At n = {common}, the vectorized version is {speedup:,.0f}x faster")
    ax.legend(loc="lower right")
    fig.tight_layout()
    plt.show()


def recurrent_and_attention_seconds(recurrent, attention, n=1024, d=64, repeat=3):
    """Best-of-``repeat`` seconds of ``recurrent(X, W_x, W_h)`` and ``attention(Q, K, V)`` on ``n`` positions of
    width ``d``, with numpy's BLAS held to one thread, so that neither gets more cores than the other."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d))
    W_x, W_h = rng.normal(size=(2, d, d)) / np.sqrt(d)
    Q, K, V = random_qkv(n, d)
    with threadpool_limits(limits=1, user_api="blas"):
        return best_time(recurrent, X, W_x, W_h, repeat=repeat), best_time(attention, Q, K, V, repeat=repeat)


def compare_recurrent_and_attention(recurrent, attention, n=1024, d=64):
    """Bar chart of one forward pass of each, on one thread (notebook 06). Not run while grading."""
    if not _ready_to_time(attention, d):
        return
    import matplotlib.pyplot as plt

    seconds = recurrent_and_attention_seconds(recurrent, attention, n, d)
    labels = [f"recurrent network\n{n:,} sequential steps", "attention\na few matrix products"]
    fig, ax = plt.subplots(figsize=(6, 2.4))
    ax.barh(labels, seconds, color=["#55a868", "#4c72b0"])
    for y, s in enumerate(seconds):
        ax.text(s, y, f" {s * 1000:.0f} ms", va="center")
    ax.set_xlabel("seconds for one forward pass (best of 3), numpy on one thread")
    ax.set_xlim(0, max(seconds) * 1.3)
    ax.set_title(f"n = {n:,} positions, d = {d}: on one CPU core")
    fig.tight_layout()
    plt.show()
