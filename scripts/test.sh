#!/usr/bin/env bash
# Set up everything the tests need (system packages, venv, dev dependencies), then run the
# whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
.venv/bin/python -m pytest "$@"
