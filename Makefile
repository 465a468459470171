# Two entry points: `make demo` (install, then run the main job) and `make test`
# (install, then run the whole test suite).  Both work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ifeq ($(shell uname -m),aarch64)
TORCH_PAIR ?= "torch==2.9.1" "torchvision==0.24.1"
else
TORCH_PAIR ?= "torch==2.14.1" "torchvision==0.29.1"
endif

.PHONY: install demo test test-core docs verify bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch and torchvision first (a matching pair), so that the [torch] and [test] extras
	# are already satisfied: on x86_64 the pair that lies on this machine's disk, on
	# aarch64 a CPU build.
	$(BIN)/python -m pip install -q $(TORCH_PAIR)
	$(BIN)/python -m pip install -q -e ".[all,test]"
	touch $@

install: $(STAMP)

# The main job: per-layer certified spectral-norm bounds of the built-in example
# network (a small CNN trained on scikit-learn digits), then a short operator tour.
demo: install
	$(BIN)/toeplitzkit bound
	$(BIN)/python examples/quickstart.py

# The linter, the type checker (the files in pyproject.toml's [tool.mypy]), the whole test
# suite, then the documentation in strict mode (any warning fails).
test: install
	$(BIN)/python -m ruff check src tests benchmarks examples docs
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --quiet --site-dir build/site

docs: install
	$(BIN)/python docs/gen_api.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --site-dir build/site

verify: install
	$(BIN)/toeplitzkit verify


bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info
