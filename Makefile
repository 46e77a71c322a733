# make run  — set up, provision the model, build the index if missing or stale, start the console (or the bot)
# make test — the same set-up, then the whole test suite; make test-fast — no Node, no model
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MODEL := models/multilingual-e5-small/onnx/model.onnx
EMULATOR := tools/tg-emulator/node_modules/.package-lock.json

.PHONY: run test test-fast lint reliability setup model index eval bench clean-index

run: index
	$(PY) -m bot run

test: lint model $(EMULATOR)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not model and not e2e and not faults"

reliability: model $(EMULATOR)
	RELIABILITY_DOC=1 $(PY) -m pytest -q -m faults

lint: $(STAMP)
	$(PY) -m ruff check bot tests benchmarks build_index.py
	$(PY) -m ruff format --check bot tests benchmarks build_index.py
	$(PY) -m mypy bot

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

model: $(MODEL)

$(MODEL): | $(STAMP)
	$(PY) -m bot model --models-dir models

index: model
	$(PY) build_index.py --if-stale

$(EMULATOR): tools/tg-emulator/package-lock.json
	cd tools/tg-emulator && npm ci --no-audit --no-fund
	touch $(EMULATOR)

eval: index
	$(PY) -m bot eval tests/data/qa.jsonl

bench: index
	$(PY) -m benchmarks.build
	$(PY) -m benchmarks.quality
	$(PY) -m benchmarks.bot_load

clean-index:
	rm -rf index/builds index/current index/cache
