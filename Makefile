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
	$(BIN)/python -m pytest -q --durations=15

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

# Held-out evaluation on a larger world: train on one simulated world, judge on another
# (other seed), exactly as the live system decides. The first 2 days of the judged world only
# build state (a live system is never cold). Each step is skipped when its output exists.
EVAL := var/eval
EVAL_WORLD := --accounts 40000 --days 5

$(EVAL)/train/labels.csv: | $(STAMP)
	$(BIN)/muleguard simulate --out $(EVAL)/train $(EVAL_WORLD) --seed 21

$(EVAL)/held-out/labels.csv: | $(STAMP)
	$(BIN)/muleguard simulate --out $(EVAL)/held-out $(EVAL_WORLD) --seed 22

$(EVAL)/model/meta.json: $(EVAL)/train/labels.csv
	$(BIN)/muleguard train --data $(EVAL)/train --labels $(EVAL)/train/labels.csv --out $(EVAL)/model

evaluate: $(STAMP) $(EVAL)/model/meta.json $(EVAL)/held-out/labels.csv
	$(BIN)/muleguard evaluate --data $(EVAL)/held-out --model $(EVAL)/model --warm-up 2 --report $(EVAL)/report.json
	@cat $(EVAL)/report.json

clean:
	rm -rf $(VENV) var build *.egg-info
