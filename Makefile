# arlink: `make demo` and `make test` work on a fresh clone (see README.md).
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PYTHON3 ?= python3

.PHONY: demo test lint system-deps bench screenshots clean

$(PY):
	$(PYTHON3) -m venv $(VENV)

# Reinstall when the dependency list changes.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $@

# The demo works on a fresh copy of examples/ under var/demo, so it can run again and again.
demo: $(STAMP)
	rm -rf var/demo
	mkdir -p var/demo
	cp -R examples/books var/demo/books
	cp -R examples/bank var/demo/bank
	$(VENV)/bin/arlink --config config.example.toml run daily

system-deps:
	bash scripts/install-system-deps.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(STAMP) system-deps lint
	$(PY) -m pytest

# The README's images of the web pages, taken by the browser tests (Debian's Chromium).
screenshots: $(STAMP) system-deps
	ARLINK_SCREENSHOTS=docs/screenshots $(PY) -m pytest tests/sync_jobs/web/test_web_browser.py -q

bench: $(STAMP)
	$(PY) -m bench.parse

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
