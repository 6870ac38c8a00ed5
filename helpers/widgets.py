"""Sliders and live figures, and the friendly guard around a student's function.

Every widget follows one pattern: sliders, plus one ``HTML`` output whose value is redrawn when a slider moves.
Nothing is printed into an output area, so the notebook's stored output is the same on every run (strict nbval
compares it) and a slider move costs one small SVG string. While nbgrader grades (``NBGRADER_EXECUTION`` is
set) no widget is built at all, and ipywidgets is not even imported (0.1 s saved per graded notebook).

Widgets take the student's function as an argument. Until it is written (it raises ``NotImplementedError``),
the figure shows "Implement ``name`` above to see this." instead of a traceback.
"""

import functools
from html import escape

import numpy as np
from IPython.display import HTML, display

from helpers import being_graded, plots


def _raised_in(exc):
    """Name of the function whose body raised ``exc`` (the innermost frame of its traceback)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_name if tb is not None else None


def friendly_html(fn, exc):
    """What to show instead of a figure when ``fn`` cannot produce one yet."""
    name = escape(getattr(fn, "__name__", "this function"))
    if isinstance(exc, NotImplementedError):
        unwritten = escape(_raised_in(exc) or name)
        return f'<p class="todo">✎ Implement <code>{unwritten}</code> above to see this.</p>'
    return (
        f'<p class="todo">⚠ <code>{name}</code> raised {escape(type(exc).__name__)}: {escape(str(exc))}. '
        f"Run <code>check_{name}({name})</code> to find out why.</p>"
    )


def draw(fn, make_figure):
    """HTML for ``make_figure()``, which calls the student's ``fn``; a friendly note if ``fn`` fails."""
    try:
        with np.errstate(all="ignore"):
            return make_figure()
    except Exception as exc:
        return friendly_html(fn, exc)


def show(fn, make_figure):
    """Display ``draw(fn, make_figure)`` once, as a static figure."""
    display(HTML(draw(fn, make_figure)))


def try_it(fn, *args, **kwargs):
    """Call the student's ``fn`` and print the result, or say that it is not written yet."""
    try:
        result = fn(*args, **kwargs)
    except Exception as exc:
        display(HTML(friendly_html(fn, exc)))
        return
    with np.printoptions(precision=3, suppress=True):
        if isinstance(result, tuple):
            for i, part in enumerate(result):
                print(f"[{i}] {np.asarray(part)}")
        else:
            print(np.asarray(result))


def _pairs_and_paths(max_path_length, masks):
    """[(pairs the mask scores, the longest path the student's ``max_path_length`` finds)] for each of ``masks``
    (an iterable, built as it is read); None, with a friendly note instead, while the function fails."""
    try:
        return [(int(mask.sum()), max_path_length(mask)) for mask in masks]
    except Exception as exc:
        display(HTML(friendly_html(max_path_length, exc)))
        return None


def show_path_lengths(max_path_length, patterns):
    """Print the pairs each mask scores and the longest path ``max_path_length`` finds in it, one row per
    ``{name: mask}``; a friendly note instead while the function is not written."""
    rows = _pairs_and_paths(max_path_length, patterns.values())
    if rows is None:
        return
    width = max(len(name) for name in patterns)
    print(f"{'pattern':<{width}} | pairs scored | longest path")
    for name, (pairs, path) in zip(patterns, rows):
        print(f"{name:<{width}} | {pairs:>12,} | {path:>12}")


def plot_window_paths(max_path_length, local_window, n, radii):
    """The figure of :func:`helpers.plots.plot_window_paths`, with the student's ``max_path_length``. Not while
    grading: no one looks at it."""
    if being_graded():
        return
    windows = (local_window(n, r) for r in radii)
    measured = _pairs_and_paths(
        max_path_length, [*windows, np.ones((n, n), dtype=bool), np.eye(n, k=-1, dtype=bool)]
    )
    if measured is None:
        return
    *by_radius, full, chain = measured
    plots.plot_window_paths(*zip(*by_radius), radii, full, chain)


def _slider(value, low, high, step, description, width="320px"):
    import ipywidgets as w

    return w.FloatSlider(
        value=value,
        min=low,
        max=high,
        step=step,
        description=description,
        continuous_update=True,
        readout_format=".1f",
        style={"description_width": "90px"},
        layout=w.Layout(width=width),
    )


@functools.cache
def _explorer_class():
    import ipywidgets as w

    class Explorer(w.VBox):
        def __init__(self, children, title):
            super().__init__(children)
            self._title = title

        def __repr__(self):
            return f"[{self._title}: run this cell in JupyterLab to use its controls]"

    return Explorer


def explorer(children, title):
    """Controls above a live figure, as one box. Its plain-text form (stored in notebooks, compared by nbval,
    shown where widgets cannot render) is one short line instead of the repr of every child widget."""
    return _explorer_class()(children, title)


def _live(title, controls, redraw, layout_controls):
    """Wire ``controls`` to ``redraw`` (which returns HTML) and lay them out above the figure."""
    import ipywidgets as w

    figure = w.HTML()

    def update(_change=None):
        figure.value = redraw()

    for control in controls:
        control.observe(update, names="value")
    update()
    return explorer([layout_controls, figure], title)


def side_by_side(*figures):
    """Several SVG figures in one row."""
    return '<div style="display:flex;flex-wrap:wrap;gap:16px">' + "".join(figures) + "</div>"


# --- notebook 01 --------------------------------------------------------------------------------------------


def lookup_explorer(soft_lookup, keys, values, key_names, value_names, start=(1.5, 0.0)):
    """Move a 2-D query around and watch the soft lookup's blend of one-hot values (i.e. its weights)."""
    if being_graded():
        return None
    import ipywidgets as w

    qx = _slider(start[0], -3, 3, 0.1, "query[0]")
    qy = _slider(start[1], -3, 3, 0.1, "query[1]")

    def redraw():
        def figure():
            blend = soft_lookup(np.array([qx.value, qy.value]), keys, values)
            chart = plots.bar_chart_svg(
                value_names, blend, "Soft lookup: how much of each value", ylabel="share", ymax=1
            )
            nearest = key_names[int(np.argmax(blend))]  # the values are one-hot: the blend is the weights
            return (
                chart + f"<p>The hard lookup would return only the value stored under <b>{nearest}</b>.</p>"
            )

        return draw(soft_lookup, figure)

    return _live("soft lookup explorer", [qx, qy], redraw, w.VBox([qx, qy]))


# --- notebook 02 --------------------------------------------------------------------------------------------


def softmax_explorer(softmax, scores=(2.0, 0.5, -1.0, 0.0)):
    """Four score sliders and a temperature slider driving a bar chart of softmax(scores / temperature)."""
    if being_graded():
        return None
    import ipywidgets as w

    score_sliders = [_slider(s, -5, 5, 0.1, f"score {i + 1}") for i, s in enumerate(scores)]
    temperature = _slider(1.0, 0.1, 5.0, 0.1, "temperature")
    labels = [f"token {i + 1}" for i in range(len(scores))]

    def redraw():
        def figure():
            x = np.array([s.value for s in score_sliders]) / temperature.value
            weights = softmax(x)
            readout = ", ".join(f"{v:.3f}" for v in np.asarray(weights, dtype=float))
            chart = plots.bar_chart_svg(labels, weights, f"softmax(scores / {temperature.value:.1f})", ymax=1)
            return chart + f'<p class="readout">weights = [{readout}]  (sum = {np.sum(weights):.3f})</p>'

        return draw(softmax, figure)

    controls = w.HBox([w.VBox(score_sliders), temperature])
    return _live("softmax explorer", [*score_sliders, temperature], redraw, controls)


# --- notebook 03 --------------------------------------------------------------------------------------------

SCALING_DIMS = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


def scaling_explorer(attention, n_keys=6, seed=0):
    """A slider for d_k: softmax weights of one query over random keys, without and with 1/sqrt(d_k)."""
    if being_graded():
        return None
    import ipywidgets as w

    d_k = w.SelectionSlider(options=SCALING_DIMS, value=16, description="d_k", continuous_update=True)
    rng = np.random.default_rng(seed)
    q_all = rng.normal(size=(1, max(SCALING_DIMS)))
    k_all = rng.normal(size=(n_keys, max(SCALING_DIMS)))
    labels = [f"key {i + 1}" for i in range(n_keys)]

    def redraw():
        q, k = q_all[:, : d_k.value], k_all[:, : d_k.value]
        scores = (q @ k.T)[0]

        def weights_figure(query, title):
            _, weights = attention(query, k, np.eye(n_keys))
            return plots.bar_chart_svg(labels, weights[0], title, ymax=1, width=340)

        # Your attention divides q.k by sqrt(d_k): a query sqrt(d_k) times longer undoes it.
        unscaled = draw(attention, lambda: weights_figure(q * np.sqrt(d_k.value), "softmax(q.k): unscaled"))
        scaled = draw(attention, lambda: weights_figure(q, "softmax(q.k / sqrt(d_k)): your attention"))
        note = (
            f'<p class="readout">spread (std) of the raw scores q.k: {np.std(scores):.1f}; '
            f"after dividing by sqrt({d_k.value}) = {np.sqrt(d_k.value):.1f}: "
            f"{np.std(scores) / np.sqrt(d_k.value):.1f}</p>"
        )
        return side_by_side(unscaled, scaled) + note

    return _live("scaling explorer", [d_k], redraw, d_k)


# --- notebooks 04 and 05 ------------------------------------------------------------------------------------


def causal_explorer(self_attention, causal_mask, X, W_q, W_k, W_v, tokens):
    """A toggle for the causal mask over a heatmap of self-attention weights."""
    if being_graded():
        return None
    import ipywidgets as w

    causal = w.ToggleButtons(options=["no mask", "causal mask"], value="no mask", description="mask")

    def redraw():
        def figure():
            mask = causal_mask(len(tokens)) if causal.value == "causal mask" else None
            _, weights = self_attention(X, W_q, W_k, W_v, mask=mask)
            return plots.heatmap_svg(weights, tokens, tokens, f"Self-attention weights, {causal.value}")

        return draw(self_attention, figure)

    return _live("causal mask explorer", [causal], redraw, causal)


def head_explorer(multi_head_attention, X, W_q, W_k, W_v, W_o, num_heads, tokens, mask=None):
    """Pick a head and see its attention weights."""
    if being_graded():
        return None
    import ipywidgets as w

    head = w.ToggleButtons(options=[(f"head {h}", h) for h in range(num_heads)], value=0, description="show")

    def redraw():
        def figure():
            _, weights = multi_head_attention(X, W_q, W_k, W_v, W_o, num_heads, mask=mask)
            return plots.heatmap_svg(
                weights[head.value], tokens, tokens, f"Head {head.value}: attention weights"
            )

        return draw(multi_head_attention, figure)

    return _live("head explorer", [head], redraw, head)
