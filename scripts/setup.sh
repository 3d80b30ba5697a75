#!/usr/bin/env bash
# Set up everything mailqa needs on Debian: system packages (when root and missing), a venv
# with the project and its dependencies; with --dev, the test dependencies too (and the npm
# packages of package.json). Safe to run again; it only does what is missing.
# Usage: scripts/setup.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
[ "${1:-}" = "--dev" ] && DEV=1

need_apt=()
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v spamd >/dev/null 2>&1 || [ -x /usr/sbin/spamd ] || need_apt+=(spamassassin spamc spamd)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)  # render previews (and the web UI's browser tests)
if [ "$DEV" = 1 ]; then
  command -v nsd >/dev/null 2>&1 || [ -x /usr/sbin/nsd ] || need_apt+=(nsd)
  command -v npm >/dev/null 2>&1 || need_apt+=(npm)  # TypeScript, the Node mailtrap SDK
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing system packages: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "Missing system packages: ${need_apt[*]}" >&2
    echo "Install them with: sudo apt-get install ${need_apt[*]}" >&2
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -U pip uv >/dev/null
extra=""
[ "$DEV" = 1 ] && extra="[dev]"
.venv/bin/uv pip install -q --python .venv/bin/python -e ".${extra}"

# The OpenSPF conformance suites the SPF tests run (from the pyspf sdist on PyPI, once).
if [ "$DEV" = 1 ]; then
  bash scripts/fetch_spf_suites.sh .venv/conformance/spf
fi

# The npm packages the tests use, as pinned in package-lock.json, from the npm registry:
# TypeScript (the web UI's type-checker) and the Node mailtrap SDK (tests/mailtrap_compat);
# installed again only when the lock file changed since the last install.
if [ "$DEV" = 1 ] && command -v npm >/dev/null 2>&1; then
  if [ ! -x node_modules/.bin/tsc ] || [ ! -f node_modules/mailtrap/package.json ] ||
    [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi
