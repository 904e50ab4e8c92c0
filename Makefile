# Winback: `make run` to try it, `make test` to check it. Only python3.11 is needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed


.PHONY: run serve test lint format install migrate demo browser clean check-deploy bench

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The development defaults: DEBUG on, SQLite file and filesystem broker under var/,
# email to a local SMTP sink started by the Procfile (see the outbox in the admin).
# Ctrl-C: honcho stops every process (grace period in winback/procfile.py) and exits 130, or 143 on SIGTERM;
# that is a clean stop, not an error. The shell ignores the signal itself so that it can report honcho's status.
SERVE = @trap : INT TERM; $(PY) -m winback.procfile start -f Procfile; status=$$?; \
	case $$status in 0|130|143) ;; *) exit $$status ;; esac

# .env (git-ignored, DEBUG=true and a generated SECRET_KEY) makes manage.py work in any new shell.
.env: | $(STAMP)
	$(PY) -m winback.dotenv .env

run: $(STAMP) .env
	$(PY) manage.py migrate --no-input
	$(PY) manage.py bootstrap
	$(PY) manage.py seed_demo
	$(PY) manage.py seed_campaigns
	@echo ""
	@echo "  Winback is starting at http://127.0.0.1:5000/admin/  (Ctrl-C stops web, worker, beat and mail sink)"
	@echo "  Log in with the admin account printed above on the first run (reset: .venv/bin/python manage.py changepassword admin)."
	@echo ""
	$(SERVE)

# Only the processes of the Procfile (web, worker with beat, mail sink), on an installation set up by `make run`.
serve: $(STAMP) .env
	$(SERVE)

migrate: $(STAMP)
	$(PY) manage.py migrate --no-input

# Debian's chromium drives the browser tests (Playwright cannot download a browser offline).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests (apt)…"; \
	  if [ "$$(id -u)" = "0" ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

test: $(STAMP) browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check-deploy: $(STAMP)
	WINBACK_ENV_FILE= DEBUG=false SECRET_KEY=$$($(PY) -c 'import secrets;print(secrets.token_urlsafe(50))') ALLOWED_HOSTS=winback.example.com \
	  $(PY) manage.py check --deploy --fail-level WARNING

# Benchmarks on PostgreSQL (DATABASE_URL=postgres://...): every figure beside its baseline, written to
# bench/RESULTS.md. Quick by default (100,000 contacts); `make bench SIZE=1000000` for the full run.
SIZE ?= 100000
bench: $(STAMP)
	@$(PY) -c "import pandas" 2>/dev/null || $(PY) -m pip install --quiet "pandas==2.3.*"  # the [bench] extra
	DJANGO_SETTINGS_MODULE=tests.settings SIZE=$(SIZE) STEPS=$(STEPS) $(PY) bench/run.py

clean:
	rm -rf $(VENV) var
