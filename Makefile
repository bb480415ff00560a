# The README's two commands are `make setup` and `make test`; .ci/run runs exactly those.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# uv resolves the environment: fast, and it honours constraints/overrides.txt, which keeps
# mediapipe from pulling in the GUI build of OpenCV beside opencv-python-headless.
UV     := $(BIN)/uv pip install --python $(BIN)/python --override constraints/overrides.txt

.PHONY: setup test lint format clean

setup:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv>=0.4"
	$(UV) -e '.[train,export,dev]'
	$(BIN)/edgeage models fetch

test: lint
	$(BIN)/python -m pytest -q -m "not slow"

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
