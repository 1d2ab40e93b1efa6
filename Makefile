# The commands a person types. CI (.ci/run) calls the same targets.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_CUSTOMERS ?= 3000
VENDOR := static/vendor
STAMP := $(VENV)/.installed

.PHONY: run install vendor migrate demo serve test lint format check bench clean messages

run: install vendor migrate demo  ## install, migrate, load the demo book, serve on 127.0.0.1:8000
	@$(BIN)/python manage.py demo_logins
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

$(STAMP): pyproject.toml requirements.lock
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

$(VENDOR)/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)/bootstrap $(VENDOR)/htmx $(VENDOR)/chartjs
	cp node_modules/bootstrap/dist/css/bootstrap.min.css node_modules/bootstrap/dist/css/bootstrap.min.css.map $(VENDOR)/bootstrap/
	cp node_modules/bootstrap/dist/js/bootstrap.bundle.min.js node_modules/bootstrap/dist/js/bootstrap.bundle.min.js.map $(VENDOR)/bootstrap/
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx/
	cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/dist/chart.umd.min.js.map $(VENDOR)/chartjs/
	touch $(VENDOR)/.stamp

vendor: $(VENDOR)/.stamp  ## fetch Bootstrap 5, htmx 2 and Chart.js from the npm registry

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate  ## load the demo book when the database holds no customers, classify it, plan its care
	$(BIN)/python manage.py seed_demo --customers $(DEMO_CUSTOMERS) --if-empty
	$(BIN)/python manage.py reclassify

serve:
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py check

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install vendor lint  ## the whole suite, lint included
	DJANGO_ALLOW_ASYNC_UNSAFE=true $(BIN)/pytest $(PYTEST_ARGS)

messages: install  ## refresh the German catalogue after changing strings
	$(BIN)/python manage.py makemessages -l de --no-obsolete --ignore=node_modules --ignore=.venv --ignore=staticfiles --ignore=static --ignore=bench --ignore="tests/*" --ignore=test-artifacts
	$(BIN)/python manage.py compilemessages -l de

bench: install vendor
	@echo "see bench/README.md"

clean:
	rm -rf $(VENV) node_modules $(VENDOR) staticfiles db.sqlite3
