# Everything a developer or CI needs, from a fresh clone. See README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
STRIPE_PORT ?= 8420
# `make run` points the app and the page at localstripe, with test keys of its own.
LOCAL_STRIPE_ENV := STRIPE_SECRET_KEY=sk_test_localstripe \
	STRIPE_PUBLISHABLE_KEY=pk_test_localstripe STRIPE_WEBHOOK_SECRET=whsec_localstripe \
	STRIPE_API_BASE=http://$(HOST):$(STRIPE_PORT) \
	STRIPE_JS_URL=http://$(HOST):$(STRIPE_PORT)/js.stripe.com/v3/

.PHONY: setup run test lint format serve bench lock clean
# The tests' OpenID provider (npm oidc-provider): installed from its lockfile when missing.
OIDC_PROVIDER := tests/identity/oidc_provider
OIDC_NODE := $(OIDC_PROVIDER)/node_modules/.package-lock.json

$(STAMP): requirements-dev.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	touch $(STAMP)

## setup: create .venv and install the pinned dependencies
setup: $(STAMP)

## run: set up, migrate, seed the demo data, start the app, the mail worker and localstripe
##      (a stand-in for Stripe on $(HOST):$(STRIPE_PORT), its webhook sent to the app;
##      Ctrl-C stops all three)
run: setup
	DEBUG=true $(PY) manage.py migrate --noinput
	DEBUG=true $(PY) manage.py seed_demo
	@echo "CCM on http://$(HOST):$(PORT)/  (log in as user@acme.example / demo-user)"
	@echo "Cards go to localstripe on http://$(HOST):$(STRIPE_PORT)/ (test card 4242 4242 4242 4242)"
	@# The links in e-mails point at this server unless SITE_URL says otherwise.
	@export SITE_URL="$${SITE_URL:-http://$(HOST):$(PORT)}" $(LOCAL_STRIPE_ENV); \
	trap 'kill $$worker $$stripe 2>/dev/null; wait $$worker $$stripe 2>/dev/null' EXIT INT TERM; \
	$(PY) tools/run_localstripe.py --host $(HOST) --port $(STRIPE_PORT) \
	  --webhook-url http://$(HOST):$(PORT)/webhooks/stripe/ \
	  --webhook-secret "$$STRIPE_WEBHOOK_SECRET" & stripe=$$!; \
	DEBUG=true $(PY) manage.py mail_worker & worker=$$!; \
	DEBUG=true $(PY) manage.py runserver $(HOST):$(PORT)

## serve: as in production: DEBUG off; needs SECRET_KEY, ALLOWED_HOSTS and DATABASE_URL set;
##        migrates, collects static files, then runs gunicorn (WEB_CONCURRENCY workers,
##        default 2) on $(HOST):$(PORT) and the mail worker (Ctrl-C or TERM stops both)
serve: setup
	@for name in SECRET_KEY ALLOWED_HOSTS DATABASE_URL; do \
	  if [ -z "$$(printenv $$name)" ]; then \
	    echo "make serve: $$name is not set (see \"Running in production\" in README.md)" >&2; \
	    missing=1; \
	  fi; \
	done; [ -z "$$missing" ]
	DEBUG=false $(PY) manage.py migrate --noinput
	DEBUG=false $(PY) manage.py collectstatic --noinput
	@trap 'kill -TERM $$web $$worker 2>/dev/null' INT TERM; \
	export DEBUG=false PYTHONUNBUFFERED=1; \
	$(PY) manage.py mail_worker & worker=$$!; \
	$(VENV)/bin/gunicorn -c ccm/gunicorn.conf.py --bind $(HOST):$(PORT) & web=$$!; \
	wait $$web; status=$$?; \
	while kill -0 $$web 2>/dev/null; do wait $$web; status=$$?; done; \
	kill -TERM $$worker 2>/dev/null; wait $$worker; exit $$status

$(OIDC_NODE): $(OIDC_PROVIDER)/package-lock.json
	cd $(OIDC_PROVIDER) && npm ci --no-audit --no-fund --loglevel=error

## test: set up (the venv, and the tests' OpenID provider with npm) and run the whole
##       suite (SQLite; PostgreSQL when DATABASE_URL points at one), on TEST_WORKERS
##       processes (pytest-xdist; default 2, one per core; 0: in this one)
TEST_WORKERS ?= 2
test: setup $(OIDC_NODE)
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

## lint: ruff check, ruff format --check, and no missing migrations
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## lock: re-pin requirements*.lock from pyproject.toml (needs the network)
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --disable-pip-version-check .
	.lock-venv/bin/pip freeze --exclude ccm-payment-profiles > requirements.lock
	.lock-venv/bin/pip install --quiet --disable-pip-version-check ".[dev]"
	.lock-venv/bin/pip freeze --exclude ccm-payment-profiles > requirements-dev.lock
	rm -rf .lock-venv build *.egg-info

clean:
	rm -rf $(VENV) staticfiles artifacts .pytest_cache $(OIDC_PROVIDER)/node_modules

## bench: set up, then benchmark the Users page and the rest of issue 12's targets at
##        1,000-1,000,000 users on SQLite and PostgreSQL in one run (not part of `make test`;
##        BENCH_ARGS="--quick" for CI; BENCH_DATABASE_URL or DATABASE_URL for the PostgreSQL server)
bench: setup
	$(PY) -m bench $(BENCH_ARGS)
