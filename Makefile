# formula-intake: the two commands are `make run` and `make test`.
# Both create .venv on first use (needs only Python 3.11 and make). `make run` installs only what
# serving needs (requirements-serve.txt); `make test`, `make check`, `make bench` and
# `make run-aws-local` add the development set (requirements-dev.txt).

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
SERVE_STAMP := $(VENV)/.installed-serve
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
STAGE  ?= local
WORKER ?= auto
SERVER_CPU ?= auto
AUTORELOAD ?= 0

.PHONY: run run-aws-local test check lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(SERVE_STAMP): $(BIN)/python requirements.txt requirements-serve.txt constraints.txt
	$(BIN)/python -m pip install --quiet -r requirements-serve.txt -c constraints.txt
	touch $(SERVE_STAMP)

$(STAMP): $(BIN)/python requirements.txt requirements-serve.txt requirements-dev.txt constraints.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $(STAMP) $(SERVE_STAMP)

run: $(SERVE_STAMP)
	$(BIN)/python -m chalicelib.devserver --host $(HOST) --port $(PORT) --stage $(STAGE) --worker $(WORKER) --cpu $(SERVER_CPU) \
		$(if $(filter 1,$(AUTORELOAD)),--autoreload,--no-autoreload)

run-aws-local: $(STAMP)
	$(BIN)/python -m scripts.run_aws_local --host $(HOST) --port $(PORT) --worker $(WORKER) --cpu $(SERVER_CPU)

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
