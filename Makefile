# The two commands of the README's Quickstart: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/django_chatkit
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test test-sqlite test-postgres lint install clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,s3,redis]"
	@touch $@

install: $(VENV)/.installed

## Serve the example project under ASGI at http://$(HOST):$(PORT) (login demo / demo).
demo: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py ensure_demo_user
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

## Run the whole suite on SQLite, then on PostgreSQL when it is reachable.
test: $(VENV)/.installed
	$(MAKE) --no-print-directory test-sqlite
	@if [ -n "$$DATABASE_URL" ] || $(BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', 5432), 2).close()" 2>/dev/null; then \
		$(MAKE) --no-print-directory test-postgres; \
	else \
		echo "PostgreSQL is not reachable on 127.0.0.1:5432 and DATABASE_URL is not set: PostgreSQL run skipped."; \
	fi

test-sqlite: $(VENV)/.installed
	env -u DATABASE_URL $(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgres: $(VENV)/.installed
	DATABASE_URL=$${DATABASE_URL:-$(PG_URL)} $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache
