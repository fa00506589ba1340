# The two commands a newcomer needs: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# `make test` runs against these; override them to use other servers.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/addtocart
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# Settings that let manage.py load for commands that touch no data (lint, collectstatic).
LINT_ENV := DJANGO_SECRET_KEY=lint-only JWT_SIGNING_KEY=lint-only-jwt DATABASE_URL=sqlite:///:memory:

.PHONY: run test lint format install install-dev services static clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Serve on http://localhost:$(PORT) with the embedded defaults (SQLite, in-process cache).
run: install
	PORT=$(PORT) VENV=$(VENV) scripts/run-local.sh

## The whole test suite, against PostgreSQL and Redis.
test: install-dev services static
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest $(PYTEST_ARGS)

# Static files as production serves them (WhiteNoise, hashed names): pages need the manifest.
static: install
	$(LINT_ENV) $(PY) manage.py collectstatic --no-input -v 0

services:
	scripts/ensure-services.sh

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(LINT_ENV) $(PY) manage.py makemigrations --check --dry-run
	$(LINT_ENV) $(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
