#!/usr/bin/env bash
# The OpenSPF conformance suites (RFC 7208 and RFC 4408) that the SPF conformance tests run,
# with their licences: taken from the pyspf 2.0.14 sdist on PyPI (checked against its
# SHA-256) into DEST (default .venv/conformance/spf). Does nothing when they are there.
# Usage: scripts/fetch_spf_suites.sh [DEST]
set -euo pipefail
cd "$(dirname "$0")/.."

DEST=${1:-.venv/conformance/spf}
SDIST=pyspf-2.0.14
SHA256=57a7ef01bda090173aafb6af0106251686ed73f03db4e911fcd34c57fc347186
FILES=(rfc7208-tests.yml rfc7208-tests.LICENSE rfc4408-tests.yml rfc4408-tests.LICENSE)

missing=0
for f in "${FILES[@]}"; do [ -s "$DEST/$f" ] || missing=1; done
[ "$missing" = 0 ] && exit 0

PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
  "pyspf==${SDIST#pyspf-}" -d "$tmp"
echo "$SHA256  $tmp/$SDIST.tar.gz" | sha256sum -c --quiet -
tar -xzf "$tmp/$SDIST.tar.gz" -C "$tmp" "${FILES[@]/#/$SDIST/test/}"
mkdir -p "$DEST"
for f in "${FILES[@]}"; do
  cp "$tmp/$SDIST/test/$f" "$DEST/$f.part" && mv "$DEST/$f.part" "$DEST/$f"
done
echo "SPF conformance suites from $SDIST in $DEST"
