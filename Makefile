# parity: everything a fresh machine needs comes from here.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROFILE ?= default
WORKERS ?= 2

.PHONY: venv parity test bench docs clean

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## make parity: the default sweep (>= 2,000 cases), reports/latest.json
parity: $(STAMP)
	PARITY_THREADS=1 $(PY) -m parity run --profile $(PROFILE) --out reports

## make test: the harness's own tests and the parity suites
test: $(STAMP)
	PARITY_THREADS=1 HYPOTHESIS_PROFILE=ci $(PY) -m pytest -n $(WORKERS) -q

## make bench: harness/bare throughput ratio; false-alarm rate of the init comparisons
bench: $(STAMP)
	PARITY_THREADS=1 $(PY) benchmarks/throughput.py --threads-scan
	PARITY_THREADS=1 $(PY) benchmarks/init_false_alarm.py

## make docs: docs/divergences.md from the registry (a test fails when it is stale)
docs: $(STAMP)
	$(PY) -m parity.divergence_docs

clean:
	rm -rf $(VENV) reports/*.json .hypothesis
