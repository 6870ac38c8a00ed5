"""The course as a student sees it: JupyterLab in a real browser (Debian's Chromium, driven by Playwright).

A JupyterLab server starts on a free loopback port with a one-off token, in a folder holding the released
notebooks and, beside them, "filled" copies whose solutions are written in (a student who has done the work).
The tests run every notebook, move sliders, switch heads, toggle the mask, answer the quiz, ask the tutor, and
press nbgrader's Validate button, reading what the page shows. Screenshots go to build/screenshots/.
"""

import contextlib
import re
import shutil

import nbformat
import numpy as np
import pytest
from conftest import (
    QUIZ_KEY,
    RELEASE,
    ROOT,
    STUDENT_JUPYTER,
    asks_for_functions,
    jupyter_lab,
    nbgrader_meta,
    quiz_cell,
    submission,
)
from mistakes import REFERENCE
from playwright import sync_api as playwright

from helpers.grading import reference as ref

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "build" / "screenshots"
NOTEBOOKS = sorted(p.stem for p in RELEASE.glob("*.ipynb"))
FILLED = {  # notebook -> its solutions, written in
    nb: {f: code for f, code in REFERENCE.items() if f in _functions}
    for nb, _functions in [
        ("01_queries_keys_values", ["similarity_scores", "soft_lookup"]),
        ("02_softmax", ["softmax"]),
        ("03_scaled_dot_product_attention", ["scaled_dot_product_attention"]),
        (
            "04_self_attention_and_causal_masks",
            ["self_attention", "positional_encoding", "rotary_embedding", "causal_mask", "cross_attention"],
        ),
        (
            "05_multi_head_attention",
            ["split_heads", "combine_heads", "multi_head_attention", "grouped_query_attention"],
        ),
    ]
}
FILLED["06_parallelism_and_scale"] = {
    f: REFERENCE[f] for f in ("max_path_length", "decode_step", "blockwise_attention")
}
FILLED["08_end_of_lesson_check"] = {"quiz_answers": quiz_cell(QUIZ_KEY)}


@contextlib.contextmanager
def running_lab(folder):
    """A student's JupyterLab (as `make lab` starts it) serving ``folder``, which holds the released notebooks
    and filled copies: (base url, token, folder)."""
    for notebook in NOTEBOOKS:
        shutil.copy(RELEASE / f"{notebook}.ipynb", folder / f"{notebook}.ipynb")
    for notebook, codes in FILLED.items():
        nbformat.write(submission(RELEASE, notebook, codes), folder / f"filled_{notebook}.ipynb")
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    env = {"ATTENTION_COURSE_PROGRESS": str(folder / "progress.json"), **STUDENT_JUPYTER}
    with jupyter_lab(folder, env) as (url, token):
        yield url, token, folder


@contextlib.contextmanager
def chromium():
    """Debian's Chromium under Playwright: no browser download, and no calls home (the network is closed)."""
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],  # fmt: skip
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with running_lab(tmp_path_factory.mktemp("lab")) as served:
        yield served


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


class Notebook:
    """A notebook opened in the running JupyterLab app (File > Open from Path), as a student opens one."""

    def __init__(self, app, name):
        self.page = app
        self._reloaded = False
        self._accept_kernel_choice()  # asked late, for a notebook opened before
        assert not self._dialogs(), f"a dialog covers the app: {self._dialogs()}"
        self.page.get_by_role("menuitem", name="File", exact=True).click()
        self.page.get_by_role("menuitem", name=re.compile("^Open from Path")).click()
        self.page.locator(".jp-Dialog input").fill(f"{name}.ipynb")
        self.page.keyboard.press("Enter")
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=60_000)
        self._accept_kernel_choice()
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']")
        self._accept_kernel_choice()
        # Focus it, so that the Run menu acts on this notebook (JupyterLab follows focus).
        self.page.locator(".jp-NotebookPanel .jp-Cell").first.click()
        self.wait_idle()

    def _accept_kernel_choice(self):
        """On a busy machine JupyterLab sometimes asks which kernel to start although the notebook names one
        (seen in fresh clones): accept its proposal, the notebook's own Python kernel, as a student would."""
        dialog = self.page.locator(".jp-Dialog", has_text="Select Kernel")
        if dialog.count():
            choice = dialog.locator("select")
            if choice.count() and "Python 3 (ipykernel)" in choice.inner_text():
                choice.select_option(label="Python 3 (ipykernel)")
            dialog.locator(".jp-mod-accept").click()  # its default button, whatever its label
            try:
                dialog.wait_for(state="detached", timeout=15_000)
            except playwright.TimeoutError:
                # It keeps asking (seen under load, about one full run in five): the page could not connect a
                # kernel, and stays so. Load the page again, once; a second time fails with the dialog's text.
                assert not self._reloaded, f"JupyterLab keeps asking for a kernel: {self._dialogs()}"
                self._reload()

    def wait_idle(self, timeout=60_000):
        # Checked every 100 ms rather than on every animation frame: nothing here needs frame accuracy.
        self.page.wait_for_function(
            "() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
            " const running = [...document.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*'));"
            " return s && s.getAttribute('data-status') === 'idle' && !running; }",
            timeout=timeout,
            polling=100,
        )

    def run_all(self):
        """Run > Run All Cells, until every code cell has run (its prompt shows a number).

        What a busy machine does, and what a student would do about it:
        - a click that came before the kernel was ready starts nothing: click Run All again;
        - JupyterLab replaced the notebook's kernel just after opening it (seen in fresh environments: a kernel
          started and shut down within 150 ms), which drops the queued cells: click Run All again;
        - the cells stay queued and nothing runs for a minute, JupyterLab offering "Select Kernel" again and again
          (seen in fresh clones' first runs, from the first notebook on): reload the page, then Run All.
        A second hang fails, with the cells' state and any dialog on screen."""
        prompts = "[...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent)"
        restarted = False
        for attempt in range(3):
            self._click_run_all()
            try:
                self.page.wait_for_function(f"() => {prompts}.some(p => /[0-9*]/.test(p))", timeout=10_000)
            except playwright.TimeoutError:
                assert attempt < 2, "Run All Cells started nothing"
                continue
            done = f"() => {prompts}.every(p => /[0-9]/.test(p)) || !{prompts}.some(p => p.includes('*'))"
            try:
                self._wait_accepting_kernel_choice(done, seconds=60 if not restarted else 120)
            except playwright.TimeoutError:
                assert not restarted, (
                    f"Run All did not finish; cells still waiting: {self._unfinished()}; dialogs: {self._dialogs()}"
                )
                self._reload()
                restarted = True
                continue
            self.wait_idle()
            if self.page.evaluate(f"() => {prompts}.every(p => /[0-9]/.test(p))"):
                return
            assert attempt < 2, f"Run All stopped early twice; cells never run: {self._unfinished()}"
        raise AssertionError(f"Run All did not finish; cells still waiting: {self._unfinished()}")

    def _wait_accepting_kernel_choice(self, condition, seconds):
        """Wait for ``condition``; a "Select Kernel" dialog that comes up meanwhile holds the queued cells back
        (nothing runs until it is answered), so it is accepted as it comes."""
        for _ in range(seconds // 5):
            try:
                self.page.wait_for_function(condition, timeout=5_000, polling=100)
                return
            except playwright.TimeoutError:
                self._accept_kernel_choice()
        self.page.wait_for_function(condition, timeout=1_000)

    def _reload(self):
        """Load the app again (the notebook's tab comes back): a page that could not connect a kernel for a
        minute stays so for every later notebook (seen in fresh clones), and a reload connects it afresh."""
        self._reloaded = True
        self.page.reload()
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=60_000)
        self._accept_kernel_choice()
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']")
        self.page.locator(".jp-NotebookPanel .jp-Cell").first.click()

    def _click_run_all(self):
        self._accept_kernel_choice()
        assert not self._dialogs(), f"a dialog covers the app: {self._dialogs()}"
        self.page.get_by_role("menuitem", name="Run", exact=True).click()
        self.page.get_by_role("menuitem", name=re.compile("^Run All Cells")).click()

    def _dialogs(self):
        dialogs = self.page.locator(".jp-Dialog")
        return [dialogs.nth(i).inner_text()[:300] for i in range(dialogs.count())]

    def _unfinished(self):
        """The code cells whose prompt has no number yet: their index, prompt and first line."""
        return self.page.evaluate(
            "() => [...document.querySelectorAll('.jp-CodeCell')].map((c, i) => [i,"
            " c.querySelector('.jp-InputPrompt').textContent,"
            " (c.querySelector('.cm-content') || c).textContent.slice(0, 60),"
            " (c.querySelector('.jp-OutputArea') || c).innerText.slice(0, 200)]).filter(x => !/[0-9]/.test(x[1]))"
        )

    def save(self):
        self.page.get_by_role("menuitem", name="File", exact=True).click()
        self.page.get_by_role("menuitem", name=re.compile("^Save Notebook(?! As)")).click()
        self.page.wait_for_selector(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty", state="detached")

    def shot(self, name):
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=SHOTS / f"{name}.png")

    def close(self):
        """Close the tab without saving (the kernel keeps running until the server stops)."""
        if self.page.locator(".jp-Dialog").count():
            self.page.keyboard.press("Escape")
        self.page.get_by_role("menuitem", name="File", exact=True).click()
        self.page.get_by_role("menuitem", name=re.compile("^Close Tab")).click()
        # Unsaved changes bring a dialog; a saved notebook just closes.
        self.page.wait_for_function(
            "() => document.querySelector('.jp-Dialog') || !document.querySelector('.jp-NotebookPanel')",
            polling=50,
        )
        if self.page.locator(".jp-Dialog").count():
            self.page.get_by_role("button", name="Discard").click()
        self.page.wait_for_selector(".jp-NotebookPanel", state="detached")


@contextlib.contextmanager
def opened(app, name, run=True):
    """``name`` open in JupyterLab (after Run All, unless ``run`` is False), closed afterwards."""
    nb = Notebook(app, name)
    try:
        if run:
            nb.run_all()
        yield nb
    except BaseException:
        with contextlib.suppress(Exception):  # the first failure is the one worth reading
            nb.close()
        raise
    nb.close()


def open_lab(browser, lab):
    """A browser page with JupyterLab loaded and ready."""
    url, token, _ = lab
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{url}/lab?reset&token={token}")
    page.wait_for_selector(".jp-DirListing-content", timeout=60_000)
    # The launcher lists the Python kernel once the app knows the kernels it may start: a notebook opened
    # before that asks the student to pick one.
    page.wait_for_selector(".jp-LauncherCard[data-category='Notebook']", timeout=60_000)
    return page


@pytest.fixture(scope="module")
def app(browser, lab):
    """One JupyterLab page for the whole module: loading the app once saves ~2 s per notebook opened."""
    page = open_lab(browser, lab)
    yield page
    page.close()


@pytest.fixture(scope="module")
def released(app, lab):
    """Run All in every released notebook, as a student's first visit, then save it: {notebook: (the notebook
    as saved, with its outputs; widgets shown)}. One tab at a time: with two cores, tabs side by side were
    slower (56 s against 45 s for the eight)."""
    results = {}
    for name in NOTEBOOKS:
        with opened(app, name) as nb:
            widgets = nb.page.locator(".widget-slider, .widget-toggle-buttons, .widget-radio").count()
            nb.shot(f"released_{name}")
            nb.save()
        results[name] = nbformat.read(lab[2] / f"{name}.ipynb", as_version=4), widgets
    return results


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_each_released_notebook_fails_only_in_its_tests(released, name):
    nb, widgets = released[name]
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = {c.id: o for c in code for o in c.outputs if o.output_type == "error"}
    visible_tests = {
        c.id for c in code if nbgrader_meta(c).get("grade") and re.sub(r"#.*", "", c.source).strip()
    }
    stubs = {c.id for c in code if nbgrader_meta(c).get("solution")}
    assert visible_tests <= set(errors) <= visible_tests | stubs, (
        "only unwritten stubs and their tests may fail"
    )
    for cell_id, output in errors.items():
        if cell_id in stubs:  # a stub that runs at the top level of its cell (the quiz's answers)
            assert output.ename == "NotImplementedError"
        else:
            assert output.ename == "CheckFailure"
            assert "is not implemented yet" in output.evalue or "has no answer yet" in output.evalue
    if asks_for_functions(nb.cells):
        html = "".join(str(o.get("data", {}).get("text/html", "")) for c in code for o in c.outputs)
        assert "above to see this" in html, "a figure that needs a student function should say so"
    if name not in {"06_parallelism_and_scale", "07_what_attention_weights_are_not"}:
        assert widgets, "the notebook's widgets rendered"


def test_in_jupyterlab_the_rubric_waits_for_a_written_answer(released):
    # JupyterLab tells the kernel its notebook (JPY_SESSION_NAME): the rubric cell reads the saved, unwritten
    # answer and asks for one first, rather than folding the rubric away as it must where it cannot know.
    nb, _ = released["07_what_attention_weights_are_not"]
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and c.source.strip() == "compare_with_rubric()"]
    shown = "".join(str(o.get("data", {}).get("text/markdown", "")) for o in cell.outputs)
    assert shown.startswith("Write your answer in the cell above first") and "Rubric" not in shown, shown


def _readout(page):
    text = page.locator("p.readout").first.inner_text()
    return np.array([float(v) for v in re.search(r"weights = \[([^\]]*)\]", text).group(1).split(",")])


def _wait_for_weights(page, weights, changed):
    """Wait until the readout shows the new ``weights[changed]``, then compare every weight shown."""
    page.wait_for_function(
        "expected => document.querySelector('p.readout').innerText.includes(expected)",
        arg=f"{weights[changed]:.3f}",
    )
    assert np.allclose(_readout(page), weights, atol=5e-4)


def _slider(page, description):
    return page.locator(".widget-slider", has=page.get_by_text(description, exact=True))


def _set_slider(page, description, value):
    """Type a value into the slider's readout, as a student can, and press Enter."""
    _slider(page, description).locator(".widget-readout").click()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(value))
    page.keyboard.press("Enter")


LATENCY_JS = """() => {
  const figure = document.querySelector('p.readout').closest('.widget-html');
  window.__latency = {};
  document.addEventListener('keydown', () => { window.__latency.start = performance.now(); }, true);
  new MutationObserver(() => {
    if (window.__latency.start && !window.__latency.end) window.__latency.end = performance.now();
  }).observe(figure, {subtree: true, childList: true, characterData: true});
}"""


def slider_latencies(page, moves=8):
    """Milliseconds from a key press on the "score 2" slider's handle (one step of 0.1 to the right, as a
    student moves it from the keyboard) to the chart showing the new weights."""
    page.evaluate(LATENCY_JS)
    handle = _slider(page, "score 2").locator(".noUi-handle")
    latencies = []
    for _ in range(moves):
        page.evaluate("() => { window.__latency = {}; }")
        handle.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("() => window.__latency.end !== undefined")
        latencies.append(page.evaluate("() => window.__latency.end - window.__latency.start"))
    return latencies


def test_softmax_sliders_change_the_weights_to_the_right_values(app):
    with opened(app, "filled_02_softmax") as nb:
        page = nb.page
        page.locator("p.readout").first.scroll_into_view_if_needed()
        scores = np.array([2.0, 0.5, -1.0, 0.0])
        assert np.allclose(_readout(page), ref.softmax(scores), atol=5e-4)
        nb.shot("02_softmax_explorer")
        _set_slider(page, "score 1", 4.0)
        scores[0] = 4.0
        _wait_for_weights(page, ref.softmax(scores), changed=0)
        _set_slider(page, "temperature", 2.5)
        _wait_for_weights(page, ref.softmax(scores / 2.5), changed=0)
        nb.shot("02_softmax_explorer_moved")
        # Kernel round trip included. The goal is 150 ms (make bench reports it); the bound here only catches a
        # widget that stopped updating at interactive speed, not a busy CI machine.
        latencies = slider_latencies(page)  # score 2 moves 8 steps: 0.5 -> 1.3
        assert np.median(latencies) < 1000, latencies
        scores[1] = 1.3
        _wait_for_weights(page, ref.softmax(scores / 2.5), changed=1)


def _explorer(page, control):
    """The explorer (controls above a live figure) whose controls include ``control``."""
    return page.locator(".widget-vbox", has=page.locator(control)).first


def _cells(explorer):
    values = np.array([float(v) for v in explorer.locator("text.cell-value").all_text_contents()])
    n = int(round(np.sqrt(values.size)))
    return values.reshape(n, n)


def _heatmaps_around_click(nb, button, new_title):
    """The live heatmap's values before and after clicking ``button`` (once its title shows ``new_title``)."""
    explorer = _explorer(nb.page, ".widget-toggle-buttons")
    explorer.scroll_into_view_if_needed()
    before = _cells(explorer)
    # A click that lands while the widget is still connecting to its kernel is lost (seen once in ten full runs:
    # the title never changed). Clicking a toggle button again selects the same option, so it is safe to retry.
    for attempt in range(3):
        explorer.get_by_role("button", name=button).click()
        try:
            nb.page.wait_for_function(
                "([el, title]) => el.textContent.includes(title)",
                arg=[explorer.element_handle(), new_title],
                timeout=15_000,
            )
            break
        except playwright.TimeoutError:
            if attempt == 2:
                raise
    return before, _cells(explorer)


def test_the_causal_mask_toggle_zeroes_the_future(app):
    with opened(app, "filled_04_self_attention_and_causal_masks") as nb:
        before, after = _heatmaps_around_click(nb, "causal mask", "weights, causal mask")
        assert np.triu(before, 1).max() > 0.05, "without the mask, tokens attend to later tokens"
        assert np.all(np.triu(after, 1) == 0) and np.allclose(after.sum(axis=1), 1, atol=0.02)
        nb.shot("04_causal_mask_toggled")


def test_the_head_picker_shows_each_heads_own_weights(app):
    with opened(app, "filled_05_multi_head_attention") as nb:
        head0, head1 = _heatmaps_around_click(nb, "head 1", "Head 1")
        assert head0.shape == head1.shape and not np.allclose(head0, head1)
        assert np.allclose(head1.sum(axis=1), 1, atol=0.02)
        nb.shot("05_head_picker")


def test_the_quiz_and_the_tutor_answer_in_the_browser(app):
    with opened(app, "filled_08_end_of_lesson_check") as nb:
        page = nb.page
        first = page.locator(".widget-radio").first
        first.scroll_into_view_if_needed()
        first.get_by_text(f"{QUIZ_KEY[0]}. ", exact=False).first.click()
        page.get_by_text("✓ Right.").first.wait_for()
        wrong = next(letter for letter in "ABCD" if letter != QUIZ_KEY[1])
        page.locator(".widget-radio").nth(1).get_by_text(f"{wrong}. ", exact=False).first.click()
        page.get_by_text(f"✗ {wrong} is not the best answer.").first.wait_for()
        page.get_by_text("Score: 1 / 15").first.wait_for()
        nb.shot("08_quiz")
        box = page.get_by_placeholder(re.compile("Ask about this lesson"))
        box.scroll_into_view_if_needed()
        box.fill("Why do we divide by sqrt(d_k)?")
        box.press("Enter")
        page.get_by_text("Sources:").first.wait_for()
        sources = page.locator("li", has_text="03_scaled_dot_product_attention").count()
        assert sources >= 1, "the tutor cites the notebook that teaches it"
        nb.shot("08_tutor")


def _validate(app, name):
    with opened(app, name, run=False) as nb:
        nb.page.locator(".jp-NotebookPanel").get_by_role("button", name="Validate").click()
        dialog = nb.page.locator(".jp-Dialog")
        dialog.wait_for(timeout=120_000)
        nb.page.wait_for_function(
            "() => !document.querySelector('.jp-Dialog').innerText.includes('Validating')", timeout=120_000
        )
        return dialog.inner_text()


def test_validate_passes_a_completed_notebook(app):
    assert "Success" in _validate(app, "filled_02_softmax")


def test_validate_names_the_failing_cells_of_an_incomplete_one(app):
    text = _validate(app, "02_softmax")
    assert "Success" not in text and "not implemented yet" in text
