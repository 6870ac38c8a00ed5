# Two commands do all set-up on a fresh machine (Python 3.11 and make):
#   make lab    create .venv, install what a student needs (requirements.txt) and `helpers`, open JupyterLab on
#               notebooks/ without nbgrader's instructor tools
#   make test   the same, plus the test tools (requirements-dev.txt) and Debian's bubblewrap and chromium, then
#               every check: ruff, the tests (JupyterLab in a real browser among them), strict nbval on source/
# Instructors set up grading alone with `make grader`. `make help` lists every target.
# Every installed package is pinned by constraints.txt; `make lock` writes it anew.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# nbgrader calls the `alembic` command: put the venv's bin/ first on PATH, as an activated venv would.
export PATH := $(abspath $(BIN)):$(PATH)
# The assignment is source/'s folder, as nbgrader reads it (the course id is in nbgrader_config.py, the points in
# source/'s cells: docs/instructors.md, "What an instructor sets").
ASSIGNMENT := $(notdir $(patsubst %/,%,$(wildcard source/*/)))
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt
# Each set-up reruns whenever what it installs, or how, changes.
LAB_FILES := requirements.txt constraints.txt pyproject.toml Makefile jupyter-config/lab-overrides.json
LAB_STAMP := $(VENV)/.lab-$(shell cat $(LAB_FILES) | cksum | cut -d' ' -f1)
DEV_STAMP := $(VENV)/.dev-$(shell cat $(LAB_FILES) requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: help lab grader formgrader test lint release outputs clean system bench lock class-release hub

# `make help` prints each target's "## " line.
help: ## list the targets, one line each
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 22

# Also turns off JupyterLab's "get notified about news?" pop-up (it would cover the course and go online).
$(LAB_STAMP): $(LAB_FILES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.txt
	$(PIP) --no-deps -e .
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp jupyter-config/lab-overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	rm -f $(VENV)/.lab-*
	touch $(LAB_STAMP)

$(DEV_STAMP): $(LAB_STAMP) requirements-dev.txt
	$(PIP) -r requirements-dev.txt
	rm -f $(VENV)/.dev-*
	touch $(DEV_STAMP)

# Jupyter refuses to start as root unless told; some course machines and containers run as root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

# Students' JupyterLab: jupyter-config/student/ turns off nbgrader's formgrader, create-assignment and course
# list (nbgrader's documented switches, as config files that apply to this command only).
STUDENT_CONFIG := JUPYTER_CONFIG_PATH=$(abspath jupyter-config/student)
lab: $(LAB_STAMP) ## students: set up .venv and open the course in JupyterLab (notebooks/attention)
	$(STUDENT_CONFIG) $(BIN)/jupyter lab $(ALLOW_ROOT) notebooks/$(ASSIGNMENT)

# Instructors: JupyterLab from the course root, with formgrader (Nbgrader menu > Formgrader).
formgrader: $(LAB_STAMP) ## instructors: JupyterLab from the course root, with formgrader
	$(BIN)/jupyter lab $(ALLOW_ROOT) --ServerApp.root_dir=$(CURDIR)

# Debian packages the tests need, installed if missing: bubblewrap, the sandbox of grading kernels
# (helpers/grading/sandbox.py), and chromium, the browser of tests/test_browser.py (Playwright drives it; it downloads
# no browser of its own). As root here; through sudo elsewhere.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
DEBIAN_PACKAGES := $(if $(shell command -v bwrap),,bubblewrap) $(if $(shell command -v chromium),,chromium)
system: ## install Debian's bubblewrap and chromium if missing (as root, or through sudo)
	@if [ -n "$(strip $(DEBIAN_PACKAGES))" ]; then echo "installing Debian packages: $(DEBIAN_PACKAGES)"; \
		$(SUDO) apt-get install -y -qq $(DEBIAN_PACKAGES) >/dev/null \
		|| { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $(DEBIAN_PACKAGES) >/dev/null; }; fi

# Instructors: what grading needs and nothing else (the course's packages and Debian's bubblewrap, the sandbox
# of grading kernels), then a check that the sandbox works here. docs/instructors.md, "1. Set up".
GRADER_PACKAGES := $(if $(shell command -v bwrap),,bubblewrap)
grader: $(LAB_STAMP) ## instructors: set up grading alone (the course's packages, bubblewrap) and check the sandbox
	@if [ -n "$(strip $(GRADER_PACKAGES))" ]; then echo "installing Debian packages: $(GRADER_PACKAGES)"; \
		$(SUDO) apt-get install -y -qq $(GRADER_PACKAGES) >/dev/null \
		|| { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $(GRADER_PACKAGES) >/dev/null; }; fi
	@$(BIN)/python -c "from helpers.grading import sandbox; import sys; ok = sandbox.available(); \
		print('grading sandbox: ' + ('ready' if ok else 'bubblewrap cannot create namespaces here')); sys.exit(not ok)"
	@echo "next: . .venv/bin/activate, then the commands of docs/instructors.md from this folder"

test: $(DEV_STAMP) system ## maintainers and CI: set up, then every check (ruff, the tests, strict nbval)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

# Performance report: prints measured figures, checks nothing (the tests do).
bench: $(DEV_STAMP) system ## a performance report: measured figures, checks nothing
	$(BIN)/python tests/bench.py

lint: $(DEV_STAMP) ## fix what ruff can fix, and format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format helpers tests source

# For maintainers: re-run source/ to refresh its stored outputs, then regenerate the student release (and the
# tutor's copy of the course text, which is read from the release so that it never holds a solution).
# The release comes first as well: the tutor's course_text.json (made from it) is read when source/ runs.
outputs: release ## re-run source/ to refresh its stored outputs, then regenerate the release
	ATTENTION_COURSE_PROGRESS=$$(mktemp -d)/progress.json $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.record_timing=False --ExecutePreprocessor.store_widget_state=False \
		source/$(ASSIGNMENT)/*.ipynb
	$(BIN)/python -m helpers.grading.notebook_outputs source/$(ASSIGNMENT)/*.ipynb
	$(MAKE) release

# It also restates source/'s points where README.md and docs/instructors.md give them ("N in all").
release: $(DEV_STAMP) ## regenerate notebooks/, the tutor's course text, the check data and the stated points
	$(BIN)/nbgrader generate_assignment $(ASSIGNMENT) --force --no-db
	$(BIN)/python -m helpers.tutor notebooks/$(ASSIGNMENT) > helpers/course_text.json
	$(BIN)/python -m helpers.grading.exercises helpers/check_data
	$(BIN)/python -m helpers.grading.course --restate README.md docs/instructors.md

# Pin every package anew: a fresh venv installs requirements-dev.txt (its direct pins) and pip freeze writes
# what it got. Run it to upgrade on purpose, then make test, and commit constraints.txt.
lock: ## pin every package anew in constraints.txt (a fresh venv, then pip freeze)
	rm -rf build/lock-venv
	$(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	{ echo "# Every package the course installs, pinned: make lab and make test install with -c constraints.txt, so a"; \
	  echo "# fresh machine next year gets what CI tested. Written by make lock (a fresh venv, requirements-dev.txt, pip freeze)."; \
	  build/lock-venv/bin/python -m pip freeze --all --exclude pip; } > constraints.txt
	rm -rf build/lock-venv

# What an instructor hands a class: the released notebooks and the student package as a wheel (helpers without
# helpers.grading: no solution, no quiz key). See docs/instructors.md, "Self-study or a class".
CLASS_RELEASE := build/class-release
class-release: $(DEV_STAMP) ## what a class gets: the released notebooks and the student package as a wheel
	rm -rf $(CLASS_RELEASE) build/wheel
	mkdir -p $(CLASS_RELEASE)/notebooks
	cp notebooks/$(ASSIGNMENT)/*.ipynb $(CLASS_RELEASE)/notebooks/
	cp -r jupyter-config $(CLASS_RELEASE)/
	$(BIN)/python deploy/build_wheel.py $(CLASS_RELEASE)
	@echo "class release in $(CLASS_RELEASE):"; ls $(CLASS_RELEASE)

# A class on this machine, as root, kept in HUB_STATE for the term: Unix accounts (instructors, the grader, the
# students of ROSTER, nbgrader's roster CSV, or STUDENTS demo students, 3 unless set), nbgrader's exchange, the
# course's grading service and JupyterHub (127.0.0.1 and a free port unless HUB_OPTIONS says otherwise, e.g.
# --ip 0.0.0.0 --port 443 --ssl-cert F --ssl-key F). The first run makes the class, the next ones resume it;
# Ctrl-C stops the hub and removes nothing. make hub-teardown removes the class, once told yes.
# deploy/classroom.py; docs/instructors.md, "A class on JupyterHub". tests/test_hub.py runs the same class.
HUB_STATE ?= /var/lib/attention-course-hub
hub: $(DEV_STAMP) ## a class on JupyterHub on this machine, as root, kept in HUB_STATE; Ctrl-C stops it
	$(BIN)/python deploy/classroom.py up $(HUB_STATE) $(if $(ROSTER),--roster $(ROSTER)) \
		$(if $(STUDENTS),--students $(STUDENTS)) $(HUB_OPTIONS)

.PHONY: hub-teardown
hub-teardown: $(LAB_STAMP) ## remove the class of make hub: its accounts, homes, submissions, gradebook (asks first)
	$(BIN)/python deploy/classroom.py teardown $(HUB_STATE)

clean: ## remove .venv and caches
	rm -rf $(VENV) .pytest_cache gradebook.db
