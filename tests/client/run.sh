#!/usr/bin/env bash
# Generates a Python client from a live server's /openapi.json with openapi-python-client
# (an independent generator: it names methods after the operationIds and models after the
# schemas) and runs tests/client/scenario.py through it.
#
# Usage: tests/client/run.sh [path/to/roster]   (default: target/debug/roster)
# Needs openapi-python-client and its client's dependencies (httpx, attrs, python-dateutil)
# in $PYTHON's environment, with the generator as $OPENAPI_PYTHON_CLIENT.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
roster="${1:-$here/../../target/debug/roster}"
python="${PYTHON:-python3}"
generator="${OPENAPI_PYTHON_CLIENT:-openapi-python-client}"
source "$here/../lib/serve.sh"
start_roster "$roster"

curl -fsS "$ROSTER_URL/openapi.json" -o "$work/openapi.json"
# The one warning expected: the logo image (image/*) is bytes, which the generator leaves
# to the caller.
"$generator" generate --path "$work/openapi.json" --output-path "$work/roster_client" \
  --meta none >"$work/generate.log" 2>&1 || { cat "$work/generate.log"; exit 1; }
if grep -q "^WARNING" "$work/generate.log" && grep "^WARNING" "$work/generate.log" | grep -qv "GET /logos/{asset}"; then
  echo "the generator warned:"; cat "$work/generate.log"; exit 1
fi
ROSTER_CLIENT_DIR="$work" "$python" "$here/scenario.py"
