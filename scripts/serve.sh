#!/usr/bin/env bash
# Set up mailqa and run it on its embedded defaults: SQLite in ./data, inline analysis,
# a managed spamd, SMTP on 2525 and HTTP on 8025. Extra arguments go to `mailqa serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/mailqa serve "$@"
