# The two commands a new user runs: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench evaluate clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/muleguard demo

test: $(STAMP)
	@bash tools/ensure-prometheus
	@bash tools/ensure-chromium
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check streams features models topologies tests deploy

# Quix Streams is the peer to beat, never a dependency: it gets a virtualenv of its own.
PEERS := var/bench-peers
$(PEERS)/.installed:
	@test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet 'quixstreams==3.28.*'
	@touch $@

bench: $(STAMP) $(PEERS)/.installed
	QUIX_PYTHON=$(PEERS)/bin/python $(BIN)/python -m topologies.bench

evaluate: $(STAMP)
	$(BIN)/muleguard evaluate --data var/eval-data --model var/model

clean:
	rm -rf $(VENV) var build *.egg-info
