# Suiji: set-up, run and test. GNU make.
#   make run    install what is missing, migrate, load demo data, serve http://127.0.0.1:5000
#               together with one background-jobs worker (timers, long jobs; scripts/run.sh)
#   make test   install what is missing, run every test on SQLite (and PostgreSQL when it answers)
# Every step is idempotent: only what is missing or out of date is installed.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo python3)
VENV ?= .venv
VENV_PYTHON := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
PYBABEL := $(VENV)/bin/pybabel
HOST ?= 127.0.0.1
PORT ?= 5000
PG_HOST ?= 127.0.0.1
PG_PORT ?= 5432
PYTEST_ARGS ?=

PY_STAMP := $(VENV)/.installed-stamp
NATIVE_STAMP := $(VENV)/.native-stamp
NATIVE_SOURCES := $(wildcard native/pyproject.toml native/setup.py native/src/suiji_native/*.py native/src/suiji_native/*.c)
NPM_STAMP := node_modules/.package-lock.json
TRANSLATIONS := app/translations
POT := $(TRANSLATIONS)/messages.pot
PO_FILES := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/*.po)
MO_FILES := $(PO_FILES:.po=.mo)

export PYTHON VENV PG_HOST PG_PORT PYTEST_ARGS

.PHONY: help setup system-packages python-packages native-package node-packages run test \
        i18n-extract i18n-update i18n-compile clean

help:
	@echo "make run           install what is missing, migrate, load demo data, serve http://$(HOST):$(PORT) + a jobs worker"
	@echo "make test          install what is missing, run the tests on SQLite, then PostgreSQL at $(PG_HOST):$(PG_PORT) if it answers"
	@echo "make setup         install what is missing: apt packages, $(VENV) (with the C extension native/), node_modules, compiled translations"
	@echo "make i18n-extract  collect messages into $(POT)"
	@echo "make i18n-update   merge $(POT) into the catalogues (creates zh_CN if none exists)"
	@echo "make i18n-compile  compile the catalogues (.po -> .mo)"
	@echo "make clean         remove $(VENV), node_modules, native/build and compiled catalogues"

## --- set-up -----------------------------------------------------------------

setup: system-packages python-packages native-package node-packages i18n-compile

system-packages:
	@scripts/system-packages.sh

python-packages: $(PY_STAMP)

$(VENV_PYTHON):
	$(PYTHON) -m venv $(VENV)

$(PY_STAMP): requirements.txt | $(VENV_PYTHON)
	$(VENV_PYTHON) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

# The optional C extension (draw scores). A failed build warns and does not stop setup
# (draws then use pure Python); without the stamp, the next setup tries again.
native-package: $(NATIVE_STAMP)

$(NATIVE_STAMP): $(NATIVE_SOURCES) | $(PY_STAMP)
	@VENV=$(VENV) scripts/build-native.sh && touch $@ || true

node-packages: $(NPM_STAMP)

$(NPM_STAMP): package-lock.json package.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

i18n-compile: $(MO_FILES)

$(TRANSLATIONS)/%.mo: $(TRANSLATIONS)/%.po | $(PY_STAMP)
	$(PYBABEL) compile -i $< -o $@

## --- run --------------------------------------------------------------------

run: setup
	$(FLASK) db upgrade
	$(FLASK) demo load --if-empty
	@echo
	@echo "Suiji is starting at http://$(HOST):$(PORT) with a background-jobs worker   (Ctrl-C stops both)"
	@echo
	@HOST=$(HOST) PORT=$(PORT) scripts/run.sh

## --- tests ------------------------------------------------------------------

test: setup
	@scripts/test.sh

## --- translations -----------------------------------------------------------

i18n-extract: $(PY_STAMP)
	mkdir -p $(TRANSLATIONS)
	PYTHONPATH=. $(PYBABEL) extract -F babel.cfg -k _l -o $(POT) .

i18n-update: i18n-extract
	@if ls $(TRANSLATIONS)/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
		$(PYBABEL) update -i $(POT) -d $(TRANSLATIONS); \
	else \
		$(PYBABEL) init -i $(POT) -d $(TRANSLATIONS) -l zh_CN; \
	fi

## --- housekeeping -----------------------------------------------------------

clean:
	rm -rf $(VENV) node_modules native/build
	rm -f $(MO_FILES)
