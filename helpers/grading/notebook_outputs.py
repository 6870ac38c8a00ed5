"""For maintainers: drop the random widget ids from stored notebook outputs, so re-running ``make outputs``
changes nothing that did not change.

A stored widget view only names a model id that is random on every run and means nothing once the kernel is
gone; JupyterLab then shows the output's plain-text form (one line, see ``helpers.widgets.explorer``), and nbval
never compares widget views. Usage: ``python -m helpers.grading.notebook_outputs source/attention/*.ipynb``.
"""

import sys

import nbformat

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def strip_widget_views(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)
    nbformat.write(nb, path)


if __name__ == "__main__":
    for notebook in sys.argv[1:]:
        strip_widget_views(notebook)
