# Greenlight. `make run` and `make test` need only Python 3.11+ on the machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
WITH_DB := $(PY) -m config.embedded_db

.PHONY: run test venv lint worker clean-db system

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# MLflow's tracking server, a peer of the tests only (see requirements-mlflow.txt).
$(VENV)/mlflow/.installed: requirements-mlflow.txt | $(VENV)/.installed
	$(PYTHON) -m venv $(VENV)/mlflow
	$(VENV)/mlflow/bin/python -m pip install --quiet -r requirements-mlflow.txt
	touch $@

# The Impact Framework CLI, a peer of the tests only (package.json, package-lock.json).
node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

## System packages (Pango for PDFs; Chromium too for the tests): installed when root, else the exact command.
system:
	./bin/system-packages $(SYSTEM_PACKAGES)

## Serve http://127.0.0.1:8000 with demo data (embedded PostgreSQL unless DATABASE_URL is set).
run: venv system
	DEBUG=$${DEBUG:-1} $(WITH_DB) sh -c '$(PY) manage.py migrate --no-input && $(PY) manage.py seed_demo && \
	  { $(PY) manage.py demo_agent --delay 5 & $(PY) manage.py runserver 127.0.0.1:8000; }'

## The whole test suite (against DATABASE_URL when set, the embedded PostgreSQL otherwise).
test: SYSTEM_PACKAGES = chromium prometheus nodejs
test: venv system $(VENV)/mlflow/.installed node_modules/.installed
	DEBUG=$${DEBUG:-1} $(WITH_DB) $(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	DEBUG=1 $(VENV)/bin/mypy

## A Celery worker and beat against CELERY_BROKER_URL (Redis or RabbitMQ).
worker: venv
	$(WITH_DB) $(VENV)/bin/celery -A config worker --beat --loglevel=info

clean-db:
	rm -rf .pgdata
