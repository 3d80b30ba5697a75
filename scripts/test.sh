#!/usr/bin/env bash
# Set up everything the tests need (system packages, venv, dev dependencies), then run the
# whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
node_modules/.bin/tsc -p tsconfig.json  # type-check the web UI's JavaScript (tsconfig.json)
.venv/bin/python -m pytest "$@"
