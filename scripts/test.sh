#!/usr/bin/env bash
# Set up everything the tests need (system packages, venv, dev dependencies), run the static
# checks (lint, formatting, types of src and tests, the import contract), then the whole
# suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
step() { echo "== $*" >&2; }
step "ruff check"
.venv/bin/ruff check src tests
step "ruff format --check"
.venv/bin/ruff format --check src tests
step "mypy (src and tests)"
.venv/bin/mypy --cache-dir .venv/mypy-cache  # what it checks: [tool.mypy] files
step "import contract"
.venv/bin/lint-imports --cache-dir .venv/import-linter-cache  # [tool.importlinter]
step "tsc --checkJs (the web UI)"
node_modules/.bin/tsc -p tsconfig.json  # type-check the web UI's JavaScript (tsconfig.json)
step "pytest"
.venv/bin/python -m pytest "$@"
