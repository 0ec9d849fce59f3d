#!/usr/bin/env bash
# The test command: set up the environment, lint and format check, run the test suite.
# Usage: bash tools/run_tests.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
VENV="${GLEAMKIT_VENV:-.venv}"
echo "[tests] ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
echo "[tests] pytest"
"$VENV/bin/python" -m pytest -q "$@"
