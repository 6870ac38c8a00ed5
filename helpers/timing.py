"""Timing a student's function against a reference, for notebook 06 and the benchmark.

Timings differ between machines and runs, so they are only ever shown in a figure (whose pixels strict nbval
does not compare) and never printed into a notebook's stored output.
"""

import time

import numpy as np
from IPython.display import HTML, display

from helpers import grading
from helpers.widgets import friendly_html


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


def compare_loop_and_vectorized(loop, vectorized, loop_sizes, vectorized_sizes, d=16):
    """Time both for growing sequence lengths and plot seconds against n, log-log, with the speed-up."""
    if grading():
        return
    try:
        vectorized(*random_qkv(4, d))
    except Exception as exc:
        display(HTML(friendly_html(vectorized, exc)))
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
