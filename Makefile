# make demo / make test: each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: demo test test-all sync clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# the CPU build of torch first: the project's torch range then installs nothing more
	$(PIP) install -q torch==2.13.0
	# strict editable mode: the default mode hides hydra_plugins/ from Hydra's plugin scan
	$(PIP) install -q -e '.[test]' --config-settings editable_mode=strict
	# upstream sweeper for the compatibility test only; its optuna<3 pin is why it is not a dependency
	$(PIP) install -q --no-deps hydra-optuna-sweeper==1.3.0
	touch $@

# strict editable installs link files, not folders: re-link when the set of package files changes
sync: $(VENV)/.installed
	@find budgetsweep conf hydra_plugins \( -name '*.py' -o -name '*.yaml' \) | sort > $(VENV)/.files.new
	@cmp -s $(VENV)/.files.new $(VENV)/.files || { \
	  $(PIP) install -q -e . --no-deps --config-settings editable_mode=strict && mv $(VENV)/.files.new $(VENV)/.files; }

demo: sync
	$(PY) -m budgetsweep.demo

# one intra-op thread: tiny models gain nothing from two, and spin-waiting threads slow a shared machine.
# Tests run in TEST_WORKERS processes (pytest-xdist; every test is isolated in its own tmp_path and
# PostgreSQL is started per process on a free port): most of the suite is real training and whole
# Hydra processes, so two workers use both cores of a two-core machine. TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= 2
test: sync
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n $(TEST_WORKERS)

test-all: sync
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n $(TEST_WORKERS) -m ""

clean:
	rm -rf $(VENV) build *.egg-info
