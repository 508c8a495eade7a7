# formula-intake: the two commands are `make run` and `make test`.
# Both create .venv on first use (needs only Python 3.11 and make).

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
STAGE  ?= local
WORKER ?= auto
AUTORELOAD ?= 0

.PHONY: run run-aws-local test check lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt constraints.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m chalicelib.devserver --host $(HOST) --port $(PORT) --stage $(STAGE) --worker $(WORKER) \
		$(if $(filter 1,$(AUTORELOAD)),--autoreload,--no-autoreload)

run-aws-local: $(STAMP)
	$(BIN)/python -m scripts.run_aws_local --host $(HOST) --port $(PORT) --worker $(WORKER)

check: lint typecheck

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: check pytest

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
