# The two commands: `make run` and `make test`. Both set everything up first.
PORT ?= 8000
VENV := .venv
PY := $(VENV)/bin/python
export PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: run test setup lint pytest bench clean

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v 0
	$(PY) manage.py demo
	PORT=$(PORT) VENV=$(VENV) exec scripts/run

test: setup lint pytest

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || { python=$$(scripts/find-python) && echo "Creating $(VENV) with $$python" && $$python -m venv $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

pytest: setup
	$(VENV)/bin/pytest -n 2

# Benchmarks against the real q cluster and web server, each on a fresh
# database (SQLite, or PostgreSQL when DATABASE_URL is set); prints a table.
bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) var staticfiles
