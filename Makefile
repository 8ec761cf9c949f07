# parity: everything a fresh machine needs comes from here.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROFILE ?= default
WORKERS ?= 2
BASELINE ?= reports/baselines/default.json
UPGRADE ?= tensorflow-cpu==2.20.*
UPGRADE_VENV := .venv-upgrade
CONVERTERS_VENV := .venv-converters
NOBUCO_VENV := .venv-nobuco
KERAS_TORCH ?= keras==3.14.1
KERAS_TORCH_VENV := .venv-keras-torch
KERAS_TORCH_PAIRS := transpose-keras-torch unet-keras-torch avgpool-keras-torch \
	mobilenetv2-keras-torch

MATRIX_PROFILE ?= dev

.PHONY: venv venv-gpu venv-converters lock parity test bench docs browser baseline upgrade-check \
	converters-check keras-torch-check gpu-check clean

venv: $(STAMP)

$(STAMP): requirements.lock requirements-nodeps.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

## make lock: requirements.lock from requirements.in, every transitive package pinned with its
## hashes (uv pip compile; the CPU torch wheel from pip's find-links). Then make venv.
UV_VERSION := 0.13.9
lock:
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet uv==$(UV_VERSION)
	.venv-lock/bin/uv pip compile requirements.in --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --quiet \
	  $(foreach d,$(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null),--find-links $(d)) \
	  -o requirements.lock
	rm -rf .venv-lock

# requirements.in without the named packages and without hashes: pip resolves their
# dependencies afresh (the GPU venv's own torch, the upgrade check's swapped package)
TOP_PINS_WITHOUT = grep -v -E '^(\#|($(1))==)' requirements.in

## make venv-gpu: .venv-gpu/ on a GPU machine, using its own CUDA torch (no TF needed: run
## the sweep there with --reference ARCHIVE recorded on CPU by parity record)
venv-gpu:
	$(PYTHON) -m venv --system-site-packages .venv-gpu
	$(call TOP_PINS_WITHOUT,torch|tensorflow-cpu|keras) > .venv-gpu/requirements.txt
	.venv-gpu/bin/pip install --quiet -r .venv-gpu/requirements.txt
	.venv-gpu/bin/pip install --quiet --no-deps -e .
	.venv-gpu/bin/python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

## make venv-converters: .venv-converters/ (tf2onnx, onnx2torch: the [converters] extra, with
## the torch torchvision needs) and .venv-nobuco/ (nobuco on Keras 2), about 9.4 GB in all
venv-converters: $(CONVERTERS_VENV)/.installed $(NOBUCO_VENV)/.installed

$(CONVERTERS_VENV)/.installed: requirements.in requirements-converters.txt requirements-nodeps.txt
	$(PYTHON) -m venv $(CONVERTERS_VENV)
	$(call TOP_PINS_WITHOUT,torch) > $(CONVERTERS_VENV)/requirements.txt
	$(CONVERTERS_VENV)/bin/pip install --quiet -r $(CONVERTERS_VENV)/requirements.txt \
	  -r requirements-converters.txt
	$(CONVERTERS_VENV)/bin/pip install --quiet --no-deps --require-hashes -r requirements-nodeps.txt
	$(CONVERTERS_VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(NOBUCO_VENV)/.installed: requirements-nobuco.txt
	$(PYTHON) -m venv $(NOBUCO_VENV)
	$(NOBUCO_VENV)/bin/pip install --quiet -r requirements-nobuco.txt
	touch $@

## make converters-check: both conversion pipelines for real (tests/test_model_converters.py)
converters-check: venv-converters
	PARITY_NOBUCO_PYTHON=$(NOBUCO_VENV)/bin/python PARITY_THREADS=1 \
	  $(CONVERTERS_VENV)/bin/python -m pytest -q -p no:xdist tests/test_model_converters.py

## make keras-torch-check [KERAS_TORCH=keras==3.14.1]: the Keras-backend zoo pairs with the
## torch side on that Keras (.venv-keras-torch/: torch and the given Keras), reports in
## reports/; a pair that diverges is a finding (exit 1 there), a failure to run stops the check
keras-torch-check: $(STAMP) $(KERAS_TORCH_VENV)/.installed
	@test "$$(cat $(KERAS_TORCH_VENV)/.installed)" = "$(KERAS_TORCH)" || \
	  { rm -f $(KERAS_TORCH_VENV)/.installed; $(MAKE) keras-torch-check; exit $$?; }
	for pair in $(KERAS_TORCH_PAIRS); do \
	  PARITY_KERAS_TORCH_PYTHON=$(KERAS_TORCH_VENV)/bin/python PARITY_THREADS=1 \
	    $(PY) -m parity model --zoo $$pair --out reports; rc=$$?; \
	  [ $$rc -le 1 ] || exit $$rc; done

$(KERAS_TORCH_VENV)/.installed:
	$(PYTHON) -m venv $(KERAS_TORCH_VENV)
	$(KERAS_TORCH_VENV)/bin/pip install --quiet $$(grep -E '^(torch|numpy)==' requirements.in) \
	  "$(KERAS_TORCH)"
	echo "$(KERAS_TORCH)" > $@

## make parity: the default sweep (>= 2,000 cases), reports/latest.json
parity: $(STAMP)
	PARITY_THREADS=1 $(PY) -m parity run --profile $(PROFILE) --out reports

## make test: the harness's own tests and the parity suites
test: $(STAMP) browser
	PARITY_THREADS=1 HYPOTHESIS_PROFILE=ci $(PY) -m pytest -n $(WORKERS) -q

## make bench: harness/bare throughput ratio; scaling over workers and cost per op family;
## false-alarm rate of the init comparisons; one MobileNetV2 model comparison; compare and html
## of two 200,000-case reports (seconds, peak memory)
bench: $(STAMP)
	PARITY_THREADS=1 $(PY) benchmarks/throughput.py --threads-scan
	PARITY_THREADS=1 $(PY) benchmarks/scaling.py
	PARITY_THREADS=1 $(PY) benchmarks/init_false_alarm.py
	$(PY) benchmarks/model.py
	$(PY) benchmarks/big_report.py

## make docs: docs/divergences.md from the registry, docs/ops.md from the op declarations
## (a test fails when either is stale)
docs: $(STAMP)
	$(PY) -m parity.spec.divergence_docs
	$(PY) -m parity.spec.op_docs

## chromium (Debian) for the HTML report's browser test; without apt-get that test is skipped
browser:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; }; }; } || \
	  echo "make: chromium could not be installed; the HTML browser test will be skipped"

## make baseline: the committed baseline report (ci profile) for make upgrade-check
baseline: $(STAMP)
	PARITY_THREADS=1 $(PY) -m parity run --profile ci --out reports/baselines/run
	cp reports/baselines/run/latest.json $(BASELINE)
	rm -rf reports/baselines/run

## make upgrade-check: replay the baseline's cases twice on this machine, with the pins and with
## $(UPGRADE) instead of its pin, and compare those two: the regressions are the upgrade's. How this
## machine differs from the one that recorded the baseline (CPU kernels, ISA) is printed apart and
## never fails the check. The model comparisons of the zoo pairs $(UPGRADE_MODELS) run under both
## too and are compared layer by layer: a layer that moves is a regression naming it.
UPGRADE_MODELS ?= transpose-keras-torch unet-keras-torch avgpool-keras-torch twin tv-mobilenetv2
upgrade-check: $(STAMP)
	$(PYTHON) -m venv $(UPGRADE_VENV)
	$(UPGRADE_VENV)/bin/pip install --quiet --upgrade pip
	$(call TOP_PINS_WITHOUT,$(firstword $(subst ==, ,$(UPGRADE)))) > $(UPGRADE_VENV)/requirements.txt
	$(UPGRADE_VENV)/bin/pip install --quiet -r $(UPGRADE_VENV)/requirements.txt "$(UPGRADE)"
	$(UPGRADE_VENV)/bin/pip install --quiet --no-deps -e .
	-PARITY_THREADS=1 $(PY) -m parity replay $(BASELINE) --out reports/upgrade-pinned
	-PARITY_THREADS=1 $(UPGRADE_VENV)/bin/python -m parity replay $(BASELINE) --out reports/upgrade
	@echo "== this machine (pinned) against the machine that recorded $(BASELINE): not the upgrade's doing"
	-@$(PY) -m parity compare $(BASELINE) reports/upgrade-pinned/latest.json > reports/upgrade-pinned/machine.txt 2>&1; \
	  tail -n 15 reports/upgrade-pinned/machine.txt; \
	  echo "(whole comparison: reports/upgrade-pinned/machine.txt)"
	-@for m in $(UPGRADE_MODELS); do \
	  PARITY_THREADS=1 $(PY) -m parity model --zoo $$m --out reports/upgrade-pinned/models > /dev/null 2>&1; \
	  PARITY_THREADS=1 $(UPGRADE_VENV)/bin/python -m parity model --zoo $$m --out reports/upgrade/models \
	    > /dev/null 2>&1; echo "model $$m: done"; done
	@echo "== $(UPGRADE) against the pins, both on this machine"
	@status=0; $(PY) -m parity compare reports/upgrade-pinned/latest.json reports/upgrade/latest.json \
	  || status=1; \
	for m in $(UPGRADE_MODELS); do \
	  echo "== model $$m: $(UPGRADE) against the pins, layer by layer"; \
	  $(PY) -m parity compare reports/upgrade-pinned/models/model-$$m.json \
	    reports/upgrade/models/model-$$m.json > reports/upgrade/models/$$m.txt 2>&1 || status=1; \
	  head -n 30 reports/upgrade/models/$$m.txt; \
	  if [ $$(wc -l < reports/upgrade/models/$$m.txt) -gt 30 ]; then \
	    tail -n 1 reports/upgrade/models/$$m.txt; fi; done; \
	exit $$status

## make gpu-check: the device matrix (parity matrix): TF's side recorded once (or REFERENCE=tf.npz,
## recorded elsewhere), torch under every setting this machine has (CPU; with CUDA also TF32
## off, TF32 on, deterministic), twice each; reports/matrix/matrix.html is the op x setting view
gpu-check: $(STAMP)
	PARITY_THREADS=1 $(PY) -m parity matrix $(if $(REFERENCE),--reference $(REFERENCE),--profile $(MATRIX_PROFILE)) --out reports/matrix

clean:
	rm -rf $(VENV) $(UPGRADE_VENV) $(CONVERTERS_VENV) $(NOBUCO_VENV) .venv-gpu reports/*.json reports/*.html .hypothesis
