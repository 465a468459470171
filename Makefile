# Two entry points: `make demo` (install, then run the main job) and `make test`
# (install, then run the whole test suite).  Both work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-core docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU build of torch first, so that the [torch] extra is already satisfied.
	$(BIN)/python -m pip install -q "torch==2.13.0"
	$(BIN)/python -m pip install -q -e ".[all,test]"
	touch $@

install: $(STAMP)

demo: install
	$(BIN)/python examples/quickstart.py

test: install
	$(BIN)/python -m pytest -q


bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info
