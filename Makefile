# 一件事一次办 assistant. `make run` and `make test` are the whole set-up.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export SQLALCHEMY_SILENCE_UBER_WARNING ?= 1
export RASA_TELEMETRY_ENABLED ?= false

.PHONY: run test chat eval bench bench-submit bench-wechat bench-handoff bench-editor bench-turns bench-scale lint install init model validate clean help

help:
	@echo "make run    - install, seed, train if needed, start Rasa (5005) + actions (5055) + backend (8000)"
	@echo "make run SCALE=2 - 2 Rasa processes behind HAProxy on 5005; PostgreSQL, Redis, RabbitMQ"
	@echo "make test   - install and run the whole test suite"
	@echo "make chat   - chat with the assistant in the terminal"
	@echo "make eval   - NLU evaluation on tests/nlu against a vanilla baseline"
	@echo "make bench  - training time and parse latency against the baseline"
	@echo "make bench-submit - application submissions/s through the REST channel"
	@echo "make bench-wechat - messages/s and latency: WeChat channel (safe mode) vs REST"
	@echo "make bench-handoff - handoff: console event and agent-message latency, cost per bot turn"
	@echo "make bench-editor - editors' training vs plain rasa train, responses-only retrain (cache)"
	@echo "make bench-turns - a REST turn of ours vs a vanilla Rasa bot of our intents (1 and 8 clients, long conversation)"
	@echo "make bench-scale - msgs/s of 2 Rasa processes behind HAProxy against 1 (PostgreSQL, Redis, RabbitMQ)"

$(STAMP): pyproject.toml constraints.txt
	@set -e; if [ ! -x $(PY) ]; then \
	  py=$$(scripts/find-python.sh); echo "using $$py"; "$$py" -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade pip wheel
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $@

install: $(STAMP)
	@scripts/install-browser.sh

init: install
	$(PY) -m bot init

model: install
	$(PY) -m bot model

validate: install
	$(PY) -m bot nlu-export >/dev/null
	$(BIN)/rasa data validate --domain domain.yml --data $$($(PY) -m bot data-paths) --fail-on-warnings

run: init model
	@if [ "$(or $(SCALE),1)" -gt 1 ]; then scripts/install-balancer.sh; fi
	$(PY) -m bot.run $(if $(SCALE),--scale $(SCALE))

chat: init model
	$(PY) -m bot.run --chat

test: install
	@scripts/install-balancer.sh  # the scale-out tests run behind HAProxy
	$(PY) -m pytest $(PYTEST_ARGS)

eval: install
	$(PY) -m benchmarks.nlu_eval

bench: install
	$(PY) -m benchmarks.bench

bench-submit: init model
	$(PY) -m benchmarks.submissions

bench-wechat: init model
	$(PY) -m benchmarks.wechat

bench-handoff: init model
	$(PY) -m benchmarks.handoff

bench-editor: install
	$(PY) -m benchmarks.editor $(BENCH_ARGS)

bench-turns: init model
	$(PY) -m benchmarks.turns

bench-scale: init model
	@scripts/install-balancer.sh
	$(PY) -m benchmarks.scale

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf build models results .pytest_cache
