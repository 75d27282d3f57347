# The two commands of the README's Quickstart: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/django_chatkit
HOST ?= 127.0.0.1
PORT ?= 8000
# Extra requirements for the install step (e.g. "django>=6.0" for the Django 6 run).
PIP_EXTRA ?=
# How the install step installs django_chatkit: editable (-e, the source tree), or built
# and installed as a wheel (EDITABLE=, the Django 6 run's venv).
EDITABLE ?= -e
# Branch coverage of the SQLite run, with the gate of pyproject's [tool.coverage.report]
# (fail_under); not measured when PYTEST_ARGS picks tests. COVERAGE= runs without it.
COVERAGE ?= $(if $(PYTEST_ARGS),,--cov)
# Where the suite runs from: the source tree, or (make test-wheel) a copy of tests/ beside
# the built wheel; SUITE_ENV: variables for that run.
SUITE_DIR ?= .
SUITE_ENV ?=
pytest = cd $(SUITE_DIR) && env $(1) $(SUITE_ENV) $(abspath $(BIN))/python -m pytest $(XDIST)
# The suite runs in WORKERS processes (pytest-xdist), each test module in one of them (its
# live servers start once), the costliest modules first (tests/conftest.py orders them;
# xdist would put the modules of many tests first); WORKERS=0 runs it in this process.
WORKERS ?= 2
XDIST = $(if $(filter 0,$(WORKERS)),,-n $(WORKERS) --dist loadfile --no-loadscope-reorder)
# A Python 3.12 for the Django 6 run: pyenv's, else python3.12 on PATH.
PYTHON312 ?= $(shell (command -v pyenv >/dev/null && ls -d "$$(pyenv root)"/versions/3.12*/bin/python 2>/dev/null | tail -n 1) || command -v python3.12)

.PHONY: chromium demo test test-sqlite test-postgres test-wheel test-django6 lint typecheck \
	docs install clean bench bench-streams bench-profile

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(EDITABLE) ".[dev,s3,redis]" $(if $(PIP_EXTRA),"$(PIP_EXTRA)")
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
	$(call pytest,-u DATABASE_URL) $(COVERAGE) $(PYTEST_ARGS)

test-postgres: $(VENV)/.installed
	$(call pytest,DATABASE_URL=$${DATABASE_URL:-$(PG_URL)}) $(PYTEST_ARGS)

## The whole suite against the built wheel (from a clean build/lib, where setuptools would
## keep a deleted module), not the source tree: templates, static files, migrations and
## commands must be inside the package. The suite runs from a copy of the source tree
## without the package in $(WHEEL_DIR), after checking that django_chatkit is the wheel's.
## The wheel goes into $(WHEEL_DIR)/site (on PYTHONPATH; $(VENV) keeps its editable
## install), or WHEEL_INSTALL=venv: into $(VENV) itself (the Django 6 run's venv).
## WHEEL_TARGET: the run (test-sqlite, test-postgres, or test for both).
WHEEL_DIR := build/wheel-test
WHEEL_INSTALL ?= site
WHEEL_TARGET ?= test-sqlite
WHEEL_SITE := $(if $(filter venv,$(WHEEL_INSTALL)),,$(abspath $(WHEEL_DIR))/site)
test-wheel: $(VENV)/.installed
	rm -rf $(WHEEL_DIR) build/lib build/bdist.* && mkdir -p $(WHEEL_DIR)/dist
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir $(WHEEL_DIR)/dist .
	$(BIN)/python -m pip install --quiet --no-deps $(if $(WHEEL_SITE),--target $(WHEEL_SITE),--force-reinstall) $(WHEEL_DIR)/dist/*.whl
	tar -c --exclude=./.git --exclude='./.venv*' --exclude=./build --exclude=./django_chatkit \
		--exclude='*.egg-info' --exclude=__pycache__ . | tar -x -C $(WHEEL_DIR)
	cd $(WHEEL_DIR) && env $(if $(WHEEL_SITE),PYTHONPATH=$(WHEEL_SITE)) $(abspath $(BIN))/python -c \
		"import django_chatkit as p; assert not p.__file__.startswith('$(CURDIR)/django_chatkit/'), p.__file__; print('testing', p.__file__)"
	$(MAKE) --no-print-directory $(WHEEL_TARGET) COVERAGE= SUITE_DIR=$(WHEEL_DIR) \
		SUITE_ENV="$(if $(WHEEL_SITE),PYTHONPATH=$(WHEEL_SITE)) CHATKIT_TEST_DIST=$(abspath $(WHEEL_DIR))/dist"

## The suite on Django 6 / Python 3.12, in its own virtualenv, against the built wheel
## installed there (make test-wheel): on PostgreSQL when it is reachable (the Django 5.2
## run covers both databases), else on SQLite. DJANGO6_TARGET=test runs both.
DJANGO6_TARGET ?= $(shell { [ -n "$$DATABASE_URL" ] || python3 -c "import socket; socket.create_connection(('127.0.0.1', 5432), 2).close()" 2>/dev/null; } && echo test-postgres || echo test-sqlite)
test-django6:
	@[ -n "$(PYTHON312)" ] || { echo "No Python 3.12 found: set PYTHON312=/path/to/python3.12"; exit 1; }
	$(MAKE) --no-print-directory chromium test-wheel VENV=.venv-django6 PYTHON="$(PYTHON312)" \
		PIP_EXTRA="django>=6.0" EDITABLE= WHEEL_INSTALL=venv WHEEL_TARGET=$(DJANGO6_TARGET)

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
	$(BIN)/python benchmarks/bench.py streams --lean --n 2000 --durable --abandon 0.5 $(BENCH_ARGS)

bench-profile: $(VENV)/.bench-installed
	$(BIN)/python benchmarks/bench.py profile $(BENCH_ARGS)

## ruff, then mypy (make typecheck).
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory typecheck

## mypy with django-stubs on the package (pyproject's [tool.mypy]).
typecheck: $(VENV)/.installed
	$(BIN)/mypy

## The documentation site (docs/, one page per feature) as HTML in docs/_build/html;
## any warning (a broken reference, bad markup) fails the build.
docs: $(VENV)/.installed
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf .venv .venv-django6 build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache \
		docs/_build
