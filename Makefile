# confreg: `make run` serves the demo at http://127.0.0.1:5000; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi.py
# make test DB=postgres runs the suite on PostgreSQL instead of SQLite.
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
# On PostgreSQL the worker's queue is in Redis, as in the scale-out set-up (db 15: the tests').
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15
ifeq ($(DB),postgres)
TEST_ENV := TEST_DATABASE_URL=$(PG_URL) TEST_WORKER_BROKER_URL=$(REDIS_TEST_URL)
endif

.PHONY: run serve-prod test test-scale test-all bench system-deps prod-deps clean-db

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(BIN)/.dev-installed: $(BIN)/.installed requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

instance:
	mkdir -p instance/outbox

run: $(BIN)/.installed instance
	$(BIN)/flask db upgrade
	$(BIN)/flask demo load
	@echo "邮件不外发：请在 http://127.0.0.1:5000/outbox/ 或 instance/outbox/*.eml 查看。"
	@echo "后台任务进程（邮件、定时提醒、材料汇编等长任务）随网站一同启动，Ctrl-C 一并停止。"
	export MAIL_OUTBOX_DIR=$(CURDIR)/instance/outbox; \
	$(BIN)/flask worker & worker=$$!; \
	trap 'kill -INT $$worker 2>/dev/null; wait $$worker' EXIT; \
	$(BIN)/flask run --host 127.0.0.1 --port 5000

# The scale-out set-up of deploy/README.md on this machine: PostgreSQL, Redis, two gunicorn
# instances behind nginx (TLS, self-signed), one worker; https://127.0.0.1:8443/.
serve-prod: $(BIN)/.dev-installed prod-deps
	deploy/serve-prod.sh

prod-deps:
	@command -v nginx >/dev/null || { echo "installing nginx with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }

# Debian packages the tests use: Chromium for the browser tests, poppler-utils for pdftotext.
system-deps:
	@command -v pdftotext >/dev/null && command -v chromium >/dev/null || { \
	  echo "installing chromium and poppler-utils with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium poppler-utils fonts-wqy-microhei >/dev/null; }

test: $(BIN)/.dev-installed system-deps
	$(TEST_ENV) $(BIN)/pytest -q $(PYTEST_ARGS)

# The heavy fault tests (tests/scale/): processes killed mid-burst, PostgreSQL restarted.
test-scale: $(BIN)/.dev-installed system-deps
	$(TEST_ENV) $(BIN)/pytest -q -m scale tests/scale $(PYTEST_ARGS)

bench: $(BIN)/.dev-installed
	$(BIN)/python bench/register.py
	$(BIN)/python bench/booklet.py

clean-db:
	rm -f instance/confreg.db instance/confreg.db-wal instance/confreg.db-shm
