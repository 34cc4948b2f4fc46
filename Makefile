# tickdeck — the two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.install-stamp
PORT   ?= 5006
export TICKDECK_DATA_DIR ?= $(CURDIR)/data

.PHONY: demo test install browser bench docs clean help

help:
	@echo "make demo   install, start the IQFeed emulator, collect demo data, build bars, validate, serve :$(PORT)"
	@echo "make test   install with test extras (and Chromium and nginx when possible) and run the whole suite"
	@echo "make bench  run the benchmarks in tests/bench and print throughput"
	@echo "make docs   regenerate generated reference pages in docs/"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

browser:
	@bash scripts/ensure-system-packages.sh

test: install browser
	@bash scripts/run-tests.sh

demo: install
	@bash scripts/demo.sh $(PORT)

bench: install
	@bash scripts/run-bench.sh

docs: install
	$(BIN)/python -m tickdeck.core.schema > docs/schema.md

clean:
	rm -rf $(VENV) .pytest_cache test-output bench-output
