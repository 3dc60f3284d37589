# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
JAX_TESTS := tests/losses tests/callbacks/test_reweighting.py tests/training/test_fused_jax.py tests/models

.PHONY: run test lint format bench clean

# Create the virtual environment and install balanceflow with the CPU TensorFlow and the
# development tools; redone only when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[tensorflow-cpu,dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/balanceflow compare

# The whole suite on TensorFlow, then what must also run on JAX: the losses, deferred
# re-weighting, the fused engine and the built-in models.
test: $(STAMP) lint
	$(BIN)/python -m pytest
	KERAS_BACKEND=jax $(BIN)/python -m pytest -q -p no:cacheprovider $(JAX_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/quality_dev_suite.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .hypothesis
