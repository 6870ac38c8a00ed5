"""Timing and memory in notebook 06: the n^2 attention scores one pair at a time against one matrix product, a
recurrent network against attention, and one step of generation with and without a key/value cache.

Timings differ between machines and runs, so they are only ever shown in a figure (whose pixels strict nbval
does not compare) and never printed into a notebook's stored output.
"""

import time

import numpy as np
from IPython.display import HTML, display

from helpers import being_graded
from helpers.checking import peak_bytes
from helpers.widgets import friendly_html


def scores_loop(Q, K):
    """All dot products ``Q[i] . K[j]`` of ``Q (n_q, d)`` and ``K (n_k, d)``, one pair at a time: the
    ``(n_q, n_k)`` scores that ``Q @ K.T`` computes in one call."""
    scores = np.zeros((len(Q), len(K)))
    for i in range(len(Q)):  # no pair needs another pair's result: the order is only bookkeeping
        for j in range(len(K)):
            scores[i, j] = np.dot(Q[i], K[j])
    return scores


def scores_at_once(Q, K):
    """The same scores as :func:`scores_loop`, in one matrix product."""
    return Q @ K.T


def best_time(fn, *args, repeat=3, clock=time.perf_counter):
    """The fastest of ``repeat`` calls, in seconds of ``clock`` (wall time unless told): the least disturbed by
    whatever else the machine does."""
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        fn(*args)
        best = min(best, clock() - start)
    return best


def best_taking_turns(calls, repeat=3, clock=time.perf_counter):
    """Best-of-``repeat`` seconds of each ``(fn, *args)`` in ``calls``, with numpy's BLAS held to one thread, so
    that none gets more cores than another. The calls take turns, so that a busy spell on the machine slows all of
    them rather than one."""
    from threadpoolctl import threadpool_limits

    best = [float("inf")] * len(calls)
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(repeat):
            for i, (fn, *args) in enumerate(calls):
                best[i] = min(best[i], best_time(fn, *args, repeat=1, clock=clock))
    return best


def random_qkv(n, d=16, seed=0):
    return np.random.default_rng(seed).normal(size=(3, n, d))


def time_scores(fn, sizes, d=16, repeat=3):
    """Best-of-``repeat`` seconds of ``fn(Q, K)`` for each sequence length in ``sizes``."""
    return [best_time(fn, *random_qkv(n, d)[:2], repeat=repeat) for n in sizes]


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


def compare_loop_and_matmul(loop_sizes, matmul_sizes, d=16):
    """Plot the seconds of :func:`scores_loop` and :func:`scores_at_once` against n, log-log, numpy on one BLAS
    thread (so the gap is not extra cores). Not while grading."""
    if being_graded():
        return
    import matplotlib.pyplot as plt
    from threadpoolctl import threadpool_limits

    loop_times = time_scores(scores_loop, loop_sizes, d, repeat=1)
    with threadpool_limits(limits=1, user_api="blas"):
        matmul_times = time_scores(scores_at_once, matmul_sizes, d)
    common = max(set(loop_sizes) & set(matmul_sizes))
    speedup = loop_times[loop_sizes.index(common)] / matmul_times[matmul_sizes.index(common)]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.loglog(loop_sizes, loop_times, "o-", color="#c44e52", label="scores_loop (one pair at a time)")
    ax.loglog(matmul_sizes, matmul_times, "o-", color="#4c72b0", label="Q @ K.T (one matrix product)")
    ax.set_xlabel("sequence length n")
    ax.set_ylabel("seconds (best of runs)")
    ax.set_title(f"All n x n scores, d = {d}, one core: {speedup:,.0f}x faster at once at n = {common}")
    ax.legend(loc="lower right")
    fig.tight_layout()
    plt.show()


def recurrent_and_attention_seconds(recurrent, attention, n=1024, d=64, repeat=3, clock=time.perf_counter):
    """Best-of-``repeat`` seconds of ``recurrent(X, W_x, W_h)`` and ``attention(Q, K, V)`` on ``n`` positions of
    width ``d``, taking turns on one BLAS thread (:func:`best_taking_turns`). ``time.thread_time`` as the clock
    counts only this thread's CPU time (BLAS on one thread runs in it): what other programs take of the machine
    does not count."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d))
    W_x, W_h = rng.normal(size=(2, d, d)) / np.sqrt(d)
    Q, K, V = random_qkv(n, d)
    return tuple(best_taking_turns([(recurrent, X, W_x, W_h), (attention, Q, K, V)], repeat, clock))


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


def _step_without_cache(attention, X, W_q, W_k, W_v):
    """The newest token's attention output, projecting every token of ``X`` again (no cache)."""
    return attention(X[-1:] @ W_q, X @ W_k, X @ W_v)


def decoding_seconds(decode_step, attention, lengths, d_model=512, d_k=64, repeat=3, clock=time.perf_counter):
    """Best-of-``repeat`` seconds to produce one new token's attention output after ``t`` earlier tokens, for
    each ``t`` in ``lengths``, with numpy's BLAS held to one thread: ``[(t, without a cache, with one)]``.
    Without a cache the step projects every token of the prefix again and attends with the newest one's query;
    with one, ``decode_step`` projects the new token only and reads the cached keys and values. The two take
    turns (:func:`best_taking_turns`)."""
    rng = np.random.default_rng(0)
    W_q, W_k, W_v = rng.normal(size=(3, d_model, d_k)) / np.sqrt(d_model)
    rows = []
    for t in lengths:
        X = rng.normal(size=(t + 1, d_model))
        k_cache, v_cache = X[:-1] @ W_k, X[:-1] @ W_v
        calls = [
            (_step_without_cache, attention, X, W_q, W_k, W_v),
            (decode_step, X[-1], k_cache, v_cache, W_q, W_k, W_v),
        ]
        rows.append((t, *best_taking_turns(calls, repeat, clock)))
    return rows


def compare_decoding(decode_step, attention, lengths, d_model=512, d_k=64):
    """Plot the seconds per generated token against the number of tokens before it, with and without a
    key/value cache (notebook 06). Not while grading, nor before the student's ``decode_step`` runs."""
    if not _ready_to_time(attention, d_k):
        return
    try:
        r = np.random.default_rng(1)
        decode_step(r.normal(size=4), np.zeros((0, 4)), np.zeros((0, 4)), *np.eye(4)[None].repeat(3, 0))
    except Exception as exc:
        display(HTML(friendly_html(decode_step, exc)))
        return
    import matplotlib.pyplot as plt

    rows = decoding_seconds(decode_step, attention, lengths, d_model, d_k)
    t, without, with_cache = (np.array(column) for column in zip(*rows))
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.loglog(
        t, without * 1000, "o-", color="#c44e52", label="without a cache: project the whole prefix again"
    )
    ax.loglog(t, with_cache * 1000, "o-", color="#4c72b0", label="decode_step: project the new token only")
    ax.set_xticks(t, [f"{length:,}" for length in t], minor=False)
    ax.set_xticks([], minor=True)
    ax.set_xlabel("tokens before the new one (t)")
    ax.set_ylabel("milliseconds per new token")
    ax.set_title(
        f"One step of generation, d_model = {d_model}: {without[-1] / with_cache[-1]:.0f}x at t = {t[-1]:,}"
    )
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    plt.show()


def peak_mib(fn, *args):
    """The most memory ``fn(*args)`` held at once, in MiB (:func:`helpers.checking.peak_bytes`)."""
    return peak_bytes(fn, *args) / 2**20


def compare_memory(blockwise_attention, attention, n=4096, d=64, block_size=256):
    """Print the peak memory of ``blockwise_attention`` and of ``attention`` on ``n`` queries and keys (notebook
    06). Not while grading (a grading kernel's time is the class's), nor before the student's function runs."""
    if being_graded():
        return
    Q, K, V = random_qkv(n, d)
    try:
        blockwise_attention(Q[:4], K[:8], V[:8], 4)
    except Exception as exc:
        display(HTML(friendly_html(blockwise_attention, exc)))
        return
    whole = n * n * 8 / 2**20
    full, blocks = peak_mib(attention, Q, K, V), peak_mib(blockwise_attention, Q, K, V, block_size)
    print(f"n = {n:,} queries and keys, d = {d}; the whole float64 score matrix alone takes {whole:,.0f} MiB")
    print(f"{'scaled_dot_product_attention':>40}: {full:6,.0f} MiB at its peak")
    print(f"{f'blockwise_attention, blocks of {block_size}':>40}: {blocks:6,.0f} MiB at its peak")
