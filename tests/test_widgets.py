"""Widgets and figures: a slider move redraws the figure with the right numbers, unwritten student code gets a
friendly note instead of a traceback, and nothing interactive is built while nbgrader grades."""

from xml.etree import ElementTree

import ipywidgets
import numpy as np
import pytest

from helpers import plots, widgets
from helpers.grading import reference as ref


def _figure(widget):
    return widget.children[-1].value


def _sliders(widget):
    found = []

    def walk(w):
        if hasattr(w, "children"):
            for child in w.children:
                walk(child)
        elif isinstance(w, ipywidgets.FloatSlider | ipywidgets.SelectionSlider):
            found.append(w)

    walk(widget)
    return found


def test_softmax_explorer_redraws_on_slider_move():
    explorer = widgets.softmax_explorer(ref.softmax)
    assert "weights = [0.710, 0.158, 0.035, 0.096]" in _figure(explorer)
    scores = [2.0, 0.5, -1.0, 0.0]
    *score_sliders, temperature = _sliders(explorer)
    score_sliders[2].value = 3.0
    scores[2] = 3.0
    expected = ", ".join(f"{w:.3f}" for w in ref.softmax(np.array(scores)))
    assert f"weights = [{expected}]" in _figure(explorer)
    temperature.value = 0.5
    expected = ", ".join(f"{w:.3f}" for w in ref.softmax(np.array(scores) / 0.5))
    assert f"weights = [{expected}]" in _figure(explorer)


def test_unwritten_function_gets_a_friendly_note():
    def softmax(x, axis=-1):
        raise NotImplementedError()

    explorer = widgets.softmax_explorer(softmax)
    assert "Implement <code>softmax</code> above to see this." in _figure(explorer)
    assert "Traceback" not in _figure(explorer)


def test_note_names_the_unwritten_function_inside_another():
    def softmax(x, axis=-1):
        raise NotImplementedError()

    def blend(scores):
        return softmax(scores) @ np.eye(4)

    assert "Implement <code>softmax</code>" in widgets.draw(blend, lambda: blend(np.zeros(4)))


def test_broken_function_points_to_its_check():
    def softmax(x, axis=-1):
        return x @ np.ones((3, 3))

    html = widgets.draw(softmax, lambda: softmax(np.zeros(4)))
    assert "raised ValueError" in html and "check_softmax(softmax)" in html


def test_scaling_explorer_compares_unscaled_and_scaled():
    explorer = widgets.scaling_explorer(ref.scaled_dot_product_attention)
    (d_k,) = _sliders(explorer)
    d_k.value = 1024
    html = _figure(explorer)
    assert "sqrt(1024) = 32.0" in html and "your attention" in html


def test_lookup_explorer_names_the_hard_lookup_answer():
    keys = np.array([[2.0, 0.0], [1.5, 1.0], [-1.0, 2.0]])
    explorer = widgets.lookup_explorer(ref.soft_lookup, keys, np.eye(3), ["cat", "dog", "car"], list("pbh"))
    qx, qy = _sliders(explorer)
    qx.value, qy.value = -2.0, 1.0
    assert "stored under <b>car</b>" in _figure(explorer)


@pytest.mark.parametrize("mode", ["autograde", "validate"])
def test_no_widgets_while_grading(monkeypatch, mode):
    monkeypatch.setenv("NBGRADER_EXECUTION", mode)
    assert widgets.softmax_explorer(ref.softmax) is None
    assert widgets.scaling_explorer(ref.scaled_dot_product_attention) is None
    assert widgets.lookup_explorer(ref.soft_lookup, np.eye(2), np.eye(2), ["a", "b"], ["a", "b"]) is None


def test_bar_chart_labels_every_bar_with_its_value():
    svg = plots.bar_chart_svg(["a", "b", "c"], [0.5, -0.25, 0.25], "title", ylabel="score")
    assert svg.count('class="bar-value"') == 3 and ">-0.250<" in svg and ">title<" in svg and ">score<" in svg


def test_heatmap_labels_rows_columns_and_cells():
    svg = plots.heatmap_svg(np.array([[1.0, 0.0], [0.25, 0.75]]), ["q1", "q2"], ["k1", "k2"], "weights")
    assert svg.count('class="cell-value"') == 4 and ">0.75<" in svg
    assert all(f">{label}<" in svg for label in ["q1", "q2", "k1", "k2", "weights"])


def test_every_svg_figure_is_well_formed_xml_with_its_labels():
    figures = {
        "bar chart": plots.bar_chart_svg(["a", "b"], [0.5, -0.25], "title"),
        "heatmap": plots.heatmap_svg(np.eye(2), ["q1", "q2"], ["k1", "k2"], "weights"),
        "block": plots.transformer_block_svg(),
    }
    for svg in figures.values():
        ElementTree.fromstring(svg)  # a browser shows nothing but an error for malformed SVG
    texts = [
        t.text for t in ElementTree.fromstring(figures["block"]).iter("{http://www.w3.org/2000/svg}text")
    ]
    assert "causal multi-head self-attention" in texts and texts.count("residual:") == 2
    assert "x + attention(norm(x))" in texts and "the only step where positions mix" in texts


def _sentence():
    X = np.hstack([np.eye(4), np.eye(4)])
    W = np.eye(8)
    return X, W, ["a", "b", "c", "d"]


def test_causal_explorer_empties_the_upper_triangle():
    X, W, tokens = _sentence()
    explorer = widgets.causal_explorer(ref.self_attention, ref.causal_mask, X, W, W, W, tokens)
    toggle = explorer.children[0]
    unmasked = _figure(explorer)
    toggle.value = "causal mask"
    masked = _figure(explorer)
    assert "no mask" in unmasked and "causal mask" in masked
    _, weights = ref.self_attention(X, W, W, W, mask=ref.causal_mask(4))
    cells = [f">{v:.2f}<" for v in weights.ravel()]
    assert all(cell in masked for cell in cells) and masked.count(">0.00<") >= 6


def test_head_explorer_shows_the_picked_head():
    X, W, tokens = _sentence()
    rng = np.random.default_rng(0)
    Ws = [rng.normal(size=(8, 8)) for _ in range(4)]
    explorer = widgets.head_explorer(ref.multi_head_attention, X, *Ws, 2, tokens)
    _, weights = ref.multi_head_attention(X, *Ws, 2)
    for head in (1, 0):
        explorer.children[0].value = head
        html = _figure(explorer)
        assert f"Head {head}" in html
        assert all(f">{v:.2f}<" in html for v in weights[head].ravel())


def test_unwritten_causal_mask_is_named_by_the_explorer():
    def causal_mask(n):
        raise NotImplementedError()

    X, W, tokens = _sentence()
    explorer = widgets.causal_explorer(ref.self_attention, causal_mask, X, W, W, W, tokens)
    explorer.children[0].value = "causal mask"
    assert "Implement <code>causal_mask</code>" in _figure(explorer)


def test_path_lengths_print_a_row_per_mask_or_a_note_until_written(capsys, monkeypatch):
    patterns = {"full": np.ones((4, 4), dtype=bool), "chain": np.eye(4, k=-1, dtype=bool)}
    widgets.show_path_lengths(ref.max_path_length, patterns)
    assert capsys.readouterr().out.splitlines()[1:] == [
        "full  |           16 |            1",
        "chain |            3 |            3",
    ]
    shown = []
    monkeypatch.setattr(widgets, "display", lambda html: shown.append(html.data))

    def max_path_length(mask):
        raise NotImplementedError()

    widgets.show_path_lengths(max_path_length, patterns)
    widgets.plot_window_paths(max_path_length, lambda n, r: np.ones((n, n), dtype=bool), 8, [1, 2])
    assert capsys.readouterr().out == ""
    assert len(shown) == 2 and all("Implement <code>max_path_length</code>" in html for html in shown)


def test_the_path_figure_runs_nothing_while_grading(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    calls = []
    widgets.plot_window_paths(calls.append, lambda n, r: np.ones((n, n), dtype=bool), 8, [1, 2])
    assert calls == []
