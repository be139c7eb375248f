# Two commands do everything on a fresh machine (Python >= 3.10 with venv):
#   make sweep   # set up .venv, then run the CNN sweep on the embedded 5,000 MNIST digits
#   make test    # set up .venv, then run the test suite
# Extra flags: make sweep ARGS="--smoke-test"   make test PYTEST_ARGS="-m 'not slow'"

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: sweep test clean

# uv installs what pip would, from the same registry, in half the time (parallel downloads).
# Bytecode is compiled now, as pip does: where PYTHONDONTWRITEBYTECODE is set, every process
# would otherwise compile TensorFlow and Ray again at import.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --progress-bar off uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -e ".[test]"
	touch $(STAMP)

sweep: $(STAMP)
	$(BIN)/python sweeps/cnn_search.py $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .venv-py310 results leaderboards .pytest_cache
