#!/usr/bin/env bash
# Create (or reuse) .venv and install gleamkit with everything its tests need.
# Usage: bash tools/setup_env.sh        (GLEAMKIT_VENV=path to use another venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${GLEAMKIT_VENV:-.venv}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  "$PY" -m venv "$VENV"
fi
pip_install() {
  # pip's "Location ... is ignored" lines are noise on these machines; keep the rest.
  local log
  log=$(mktemp)
  if ! "$VENV/bin/python" -m pip install -q "$@" >"$log" 2>&1; then
    grep -v "is ignored" "$log" >&2 || true
    echo "[setup] pip install $* FAILED" >&2
    exit 1
  fi
  grep -v "is ignored" "$log" || true
  rm -f "$log"
}
# The demo's browser test drives the system Chromium (playwright's own browser download
# does not work offline): install it on a fresh Debian machine (CI runs as root).
CHROMIUM="${GLEAMKIT_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing chromium (Debian package) for tests/test_demo"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; then
      echo "[setup] apt-get install -y chromium FAILED" >&2
      exit 1
    fi
  else
    echo "[setup] WARNING: no Chromium at $CHROMIUM and not root (or no apt-get): the demo's" \
      "browser test will fail. Install it (sudo apt-get install -y chromium) or set" \
      "GLEAMKIT_CHROMIUM to a Chromium binary." >&2
  fi
fi
STAMP="$VENV/.gleamkit-installed"
# Reinstall only when the install inputs changed (fast re-runs).
HASH=$(cat setup.py tools/setup_env.sh | sha1sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ]; then
  echo "[setup] $VENV is up to date"
  exit 0
fi
pip_install --upgrade pip
# torch + torchvision pinned together: a lone `pip install timm` would resolve a
# multi-GB CUDA torch; these two are a known-good pair (see docs/get_started.md).
TORCH_PINS="${GLEAMKIT_TORCH_PINS:-torch==2.14.1 torchvision==0.29.1}"
echo "[setup] installing $TORCH_PINS"
pip_install $TORCH_PINS
echo "[setup] installing gleamkit and its dependencies"
pip_install $TORCH_PINS -e ".[tests,explain,pretrained,demo]" opencv-python-headless
"$VENV/bin/python" -c "import gleamkit, torch, torchvision, mmengine, mmpretrain, timm, faiss, gradio, playwright" \
  || { echo "[setup] import check failed" >&2; exit 1; }
echo "$HASH" > "$STAMP"
echo "[setup] done: $("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)')"
