# The two commands of the README's Quickstart: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/django_chatkit
HOST ?= 127.0.0.1
PORT ?= 8000
# Extra requirements for the install step (e.g. "django>=6.0" for the Django 6 run).
PIP_EXTRA ?=
# Tests run against the built wheel (make test-wheel): those that need what the package
# ships besides its modules (templates, static files, migrations, management commands)
# and the live servers importing it. `make test-wheel WHEEL_TESTS=tests` runs them all.
WHEEL_TESTS ?= tests/test_migrations.py tests/test_checks.py \
	tests/templatetags/test_chatkit_tag.py tests/admin/test_threads.py tests/admin/test_markdown.py \
	tests/example/test_project.py tests/example/test_live.py tests/views/test_live_servers.py \
	tests/views/test_endpoint.py tests/attachments/test_local_disk.py \
	tests/client/test_chatkit_chat.py tests/management/test_purge.py
# A Python 3.12 for the Django 6 run: pyenv's, else python3.12 on PATH.
PYTHON312 ?= $(shell (command -v pyenv >/dev/null && ls -d "$$(pyenv root)"/versions/3.12*/bin/python 2>/dev/null | tail -n 1) || command -v python3.12)

.PHONY: chromium demo test test-sqlite test-postgres test-wheel test-django6 lint docs install \
	clean bench bench-streams bench-profile

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,s3,redis]" $(if $(PIP_EXTRA),"$(PIP_EXTRA)")
	@touch $@

install: $(VENV)/.installed

## Serve the example project under ASGI at http://$(HOST):$(PORT) (login demo / demo).
demo: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py ensure_demo_user
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

## Browser tests drive Debian's chromium through Playwright (never a downloaded browser).
CHROMIUM ?= $(or $(CHATKIT_CHROMIUM),/usr/bin/chromium)
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installing Debian's chromium for the browser tests..."; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "The browser tests need Chromium at $(CHROMIUM): apt-get install chromium, or set CHATKIT_CHROMIUM."; \
			exit 1; \
		fi; \
	fi

## Run the whole suite on SQLite, then on PostgreSQL when it is reachable.
test: $(VENV)/.installed chromium
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

## The suite against the built wheel (not the source tree): templates, static files and
## migrations must be inside the package.
test-wheel: $(VENV)/.installed
	rm -rf build/wheel-test && mkdir -p build/wheel-test/dist build/wheel-test/site
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir build/wheel-test/dist .
	$(BIN)/python -m pip install --quiet --no-deps --target build/wheel-test/site build/wheel-test/dist/*.whl
	cp -r tests example_project manage.py README.md docs build/wheel-test/
	printf '[pytest]\nDJANGO_SETTINGS_MODULE = tests.settings\ndjango_find_project = false\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\nmarkers =\n    postgres: PostgreSQL only\n    database_independent: runs once\n' > build/wheel-test/pytest.ini
	cd build/wheel-test && PYTHONPATH="$$PWD/site:$$PWD" ../../$(BIN)/python -c "import django_chatkit, sys; assert '/site/' in django_chatkit.__file__, django_chatkit.__file__; print('testing', django_chatkit.__file__)"
	cd build/wheel-test && PYTHONPATH="$$PWD/site:$$PWD" ../../$(BIN)/python -m pytest -q -p no:cacheprovider $(WHEEL_TESTS)

## The same suite on Django 6 / Python 3.12, in its own virtualenv: on PostgreSQL when it
## is reachable (the Django 5.2 run covers both databases), else on SQLite.
## DJANGO6_TARGET=test runs both.
DJANGO6_TARGET ?= $(shell { [ -n "$$DATABASE_URL" ] || python3 -c "import socket; socket.create_connection(('127.0.0.1', 5432), 2).close()" 2>/dev/null; } && echo test-postgres || echo test-sqlite)
test-django6:
	@[ -n "$(PYTHON312)" ] || { echo "No Python 3.12 found: set PYTHON312=/path/to/python3.12"; exit 1; }
	$(MAKE) --no-print-directory chromium $(DJANGO6_TARGET) VENV=.venv-django6 PYTHON="$(PYTHON312)" PIP_EXTRA="django>=6.0"

## Benchmarks (benchmarks/README.md): six stacks side by side (the samples' pattern, the
## view and the lean path), flat pagination, 2,000 streams on the lean path, a profile of
## django_chatkit. Not part of `make test`. BENCH_ARGS=--quick: smoke.
BENCH_ARGS ?=
$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[dev,s3,redis,bench]"
	@touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python benchmarks/bench.py all $(BENCH_ARGS)

bench-streams: $(VENV)/.bench-installed
	$(BIN)/python benchmarks/bench.py streams --lean --n 2000 $(BENCH_ARGS)

bench-profile: $(VENV)/.bench-installed
	$(BIN)/python benchmarks/bench.py profile $(BENCH_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## The documentation site (docs/, one page per feature) as HTML in docs/_build/html;
## any warning (a broken reference, bad markup) fails the build.
docs: $(VENV)/.installed
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf .venv .venv-django6 build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache \
		docs/_build
