# Two commands do all set-up on a fresh machine (Python 3.11 and make):
#   make lab    create .venv, install the pinned dependencies and `helpers`, open JupyterLab on notebooks/
#   make test   the same set-up (plus Debian's bubblewrap and chromium, for grading and browser tests), then
#               every check: ruff, the tests (JupyterLab in a real browser among them), strict nbval on source/
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# nbgrader calls the `alembic` command: put the venv's bin/ first on PATH, as an activated venv would.
export PATH := $(abspath $(BIN)):$(PATH)
# The set-up reruns whenever what it installs, or how, changes.
SETUP_FILES := requirements.txt pyproject.toml Makefile
STAMP := $(VENV)/.installed-$(shell cat $(SETUP_FILES) | cksum | cut -d' ' -f1)

.PHONY: lab test lint release outputs clean system bench

# Also turns off JupyterLab's "get notified about news?" pop-up (it would cover the course and go online).
$(STAMP): $(SETUP_FILES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	mkdir -p $(VENV)/share/jupyter/lab/settings
	echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' \
		> $(VENV)/share/jupyter/lab/settings/overrides.json
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# Jupyter refuses to start as root unless told; some course machines and containers run as root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(BIN)/jupyter lab $(ALLOW_ROOT) notebooks/attention

# Debian packages the tests need, installed if missing: bubblewrap, the sandbox of grading kernels
# (helpers/grading/sandbox.py), and chromium, the browser of tests/test_browser.py (Playwright drives it; it downloads
# no browser of its own). As root here; through sudo elsewhere.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
DEBIAN_PACKAGES := $(if $(shell command -v bwrap),,bubblewrap) $(if $(shell command -v chromium),,chromium)
system:
	@if [ -n "$(strip $(DEBIAN_PACKAGES))" ]; then echo "installing Debian packages: $(DEBIAN_PACKAGES)"; \
		$(SUDO) apt-get install -y -qq $(DEBIAN_PACKAGES) >/dev/null \
		|| { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $(DEBIAN_PACKAGES) >/dev/null; }; fi

test: $(STAMP) system
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

# Performance report: prints measured figures, checks nothing (the tests do).
bench: $(STAMP) system
	$(BIN)/python tests/bench.py

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format helpers tests source

# For maintainers: re-run source/ to refresh its stored outputs, then regenerate the student release (and the
# tutor's copy of the course text, which is read from the release so that it never holds a solution).
# The release comes first as well: the tutor's course_text.json (made from it) is read when source/ runs.
outputs: release
	ATTENTION_COURSE_PROGRESS=$$(mktemp -d)/progress.json $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.record_timing=False --ExecutePreprocessor.store_widget_state=False \
		source/attention/*.ipynb
	$(BIN)/python -m helpers.grading.notebook_outputs source/attention/*.ipynb
	$(MAKE) release

release: $(STAMP)
	$(BIN)/nbgrader generate_assignment attention --force --no-db
	$(BIN)/python -m helpers.tutor notebooks/attention > helpers/course_text.json
	$(BIN)/python -m helpers.grading.exercises helpers/check_data

clean:
	rm -rf $(VENV) .pytest_cache gradebook.db
