# Every target creates or reuses .venv and installs what it needs; nothing is assumed on the machine.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
SARIF_SCHEMA := .cache/sarif/sarif-2.1.0-rtm.5.json
# The official SARIF 2.1.0 schema, as Microsoft ships it inside an npm package.
SARIF_PKG := @microsoft/jest-sarif@1.0.0-beta.0
# Debian's Chromium, which the HTML report's browser test drives through Playwright
# (Playwright never downloads a browser here).
CHROMIUM := /usr/bin/chromium

.PHONY: demo test lint venv docs bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "norecur needs Python 3.11 ($(PYTHON) not found)"; exit 2; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

$(SARIF_SCHEMA):
	@command -v npm >/dev/null || { echo "npm not found: installing Debian's npm"; \
	  (apt-get update -qq && apt-get install -y -qq npm >/dev/null) || { echo "npm is needed to fetch the SARIF schema"; exit 2; }; }
	mkdir -p .cache/sarif && cd .cache/sarif && npm pack --silent $(SARIF_PKG) >/dev/null \
	  && tar xzf microsoft-jest-sarif-*.tgz package/lib/schemas/sarif-2.1.0-rtm.5.json \
	  && mv package/lib/schemas/sarif-2.1.0-rtm.5.json . && rm -rf package microsoft-jest-sarif-*.tgz

# Installed only when missing. If it cannot be installed, the browser test says so: it fails
# under CI=true and is skipped, loudly, elsewhere.
$(CHROMIUM):
	@echo "chromium not found: installing Debian's chromium for the HTML report's browser test"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq chromium >/dev/null \
	  || echo "warning: could not install chromium; the browser test will fail under CI=true, else skip"

demo: $(STAMP)
	$(BIN)/norecur demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

test: $(STAMP) $(SARIF_SCHEMA) $(CHROMIUM) lint
	NORECUR_SARIF_SCHEMA=$(SARIF_SCHEMA) $(BIN)/python -m pytest -n 2 -q

docs: $(STAMP)
	$(BIN)/norecur rule --all --format markdown > docs/rules.md
	$(BIN)/norecur config-docs > docs/configuration.md
	$(BIN)/norecur analyzer --all --format markdown > docs/analyzers.md

bench: $(STAMP)
	$(BIN)/python benchmarks/lint_speed.py

clean:
	rm -rf $(VENV) .cache
