# ScleroCare: `make run` starts the app with demo data (and a local mail catcher);
# `make test` runs every test.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := wsgi.py

.PHONY: install run test lint format bench clean audit

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	@mkdir -p instance
	APP_ENV=development $(BIN)/flask db upgrade
	@APP_ENV=development $(BIN)/flask dev seed-demo
	@APP_ENV=development $(BIN)/flask photos sweep
	@echo ""
	@echo "ScleroCare is starting at http://$(HOST):$(PORT)/  (Ctrl+C stops the web server, the reminder worker and the mail catcher)"
	@echo "Emails are caught, not sent: see http://$(HOST):$(PORT)/dev/mail or instance/mail/*.eml"
	@$(BIN)/python tools/mail_catcher.py --port 1025 --folder instance/mail & catcher=$$!; \
	APP_ENV=development $(BIN)/flask notifications worker --interval 15 & worker=$$!; \
	trap 'kill $$worker $$catcher 2>/dev/null; wait $$worker $$catcher 2>/dev/null' EXIT INT TERM; \
	APP_ENV=development $(BIN)/gunicorn --config gunicorn.conf.py --workers 2 --bind $(HOST):$(PORT) --access-logfile - wsgi:app

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/today_page.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

audit: install
	$(BIN)/python tools/audit.py
