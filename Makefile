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
LINT_ENV := DJANGO_SECRET_KEY=lint-only JWT_SIGNING_KEY=lint-only-jwt DATABASE_URL=sqlite:///:memory: \
	ALLOWED_HOSTS=localhost

.PHONY: run test fuzz lint audit format install install-dev services static clean bench bench-workers \
	bench-profile bench-recycling

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
	scripts/ensure-debian-packages.sh /usr/bin/chromium=chromium /usr/bin/chromedriver=chromium-driver haproxy=haproxy \
		pgbouncer=pgbouncer
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest $(PYTEST_ARGS)

## Longer fuzzing: Schemathesis against a live server and the cart invariants, with many more
## (random) examples than `make test` runs; failures found are replayed first next time.
FUZZ_EXAMPLES ?= 300
fuzz: install-dev services
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) HYPOTHESIS_PROFILE=fuzz \
		FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) JWT_ACCESS_MINUTES=120 $(PY) -m pytest tests/fuzz tests/carts/test_invariants.py \
		-o timeout=3600 $(PYTEST_ARGS)

# Static files as production serves them (WhiteNoise, hashed names): pages need the manifest.
static: install
	$(LINT_ENV) $(PY) manage.py collectstatic --no-input -v 0

services:
	scripts/ensure-services.sh

## Load the service as production runs it (gunicorn, PostgreSQL, Redis) with wrk, beside bare
## Django + DRF baselines, and check the budgets; then the webhook workers' delivery rate.
## See docs/performance.md.
bench: install-dev services
	scripts/ensure-debian-packages.sh wrk=wrk
	$(PY) -m bench.run
	$(PY) -m bench.webhook_throughput

## Only the profile: where add-to-cart's and GET cart/'s time goes in a worker (py-spy).
bench-profile: install-dev services
	scripts/ensure-debian-packages.sh wrk=wrk
	$(PY) -m bench.run profile

## Only worker recycling: max_requests 5 000, off and 50 000, alternated.
bench-recycling: install-dev services
	scripts/ensure-debian-packages.sh wrk=wrk
	$(PY) -m bench.run recycling

## Only the gunicorn worker-class comparison: sync vs gthread.
bench-workers: install-dev services
	scripts/ensure-debian-packages.sh wrk=wrk
	$(PY) -m bench.run workers

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(LINT_ENV) $(PY) manage.py makemigrations --check --dry-run
	$(LINT_ENV) $(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

## Known vulnerabilities in the pinned requirements (pip-audit; accept findings in .pip-audit-ignore).
audit: install-dev
	$(PY) scripts/audit_dependencies.py

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Back up $DATABASE_URL with pg_dump into $(BACKUP_DIR)/backup_YYYYmmdd_HHMMSS.sql.
BACKUP_DIR ?= backups
.PHONY: backup restore
backup:
	BACKUP_DIR=$(BACKUP_DIR) scripts/backup.sh

## Restore a backup into $DATABASE_URL: make restore FILE=backups/backup_....sql [FORCE=1].
restore:
	FORCE=$(FORCE) scripts/restore.sh "$(FILE)"

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
