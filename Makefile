# Every target sets up what it needs first: a fresh clone needs only Python 3.11+, a C/C++
# compiler and cmake. The local runtime (llama-cpp-python) compiles from source once, for a
# portable x86-64 baseline (AVX2), never -march=native: about 4 minutes on 2 cores. The wheel
# is kept in a folder named by its flags (agent/runtime.py), so no other build is picked up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
QUESTION ?= A farmer has 3 pens with 12 chickens in each pen. He sells 7 chickens. How many chickens are left?

.PHONY: install runtime demo ask test lint unit clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: agent/runtime.py | $(BIN)/python
	$(BIN)/python agent/runtime.py install --quiet
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.runtime | $(BIN)/python
	$(BIN)/python -m pip install --quiet --only-binary llama-cpp-python \
		--find-links "$$($(BIN)/python agent/runtime.py where)" -e ".[local,dev]"
	touch $@

install: $(VENV)/.installed  ## Install the package, the local runtime and the dev tools.

runtime:  ## Rebuild the local runtime portably (after a crash, or a copied venv).
	rm -f $(VENV)/.runtime
	$(MAKE) $(VENV)/.runtime

demo: install  ## Ask one question on the embedded local model and stream the thinking.
	$(BIN)/reflect ask "$(QUESTION)"

ask: demo

lint: install  ## ruff and mypy.
	$(BIN)/ruff check agent tests
	$(BIN)/ruff format --check agent tests
	$(BIN)/mypy

unit: install  ## The fast tests only (scripted model, no real model).
	$(BIN)/pytest -m "not real" -q

test: lint  ## Lint, then every test (real-model ones and the notebooks included).
	$(BIN)/pytest -q --durations=8 --nbmake --nbmake-timeout=900 tests agent notebooks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache dist build
