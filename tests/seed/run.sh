#!/usr/bin/env bash
# Runs the seed's Python and JavaScript samples against a live `roster serve`.
# Usage: tests/seed/run.sh [path/to/roster]   (default: target/debug/roster)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
roster="${1:-$here/../../target/debug/roster}"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$roster" serve --listen 127.0.0.1:0 --database "sqlite://$work/roster.db" >"$work/out" 2>"$work/err" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q '^Roster is listening on' "$work/out" && break
  sleep 0.1
done
grep -q '^Roster is listening on' "$work/out" || { cat "$work/out" "$work/err"; exit 1; }

export ROSTER_URL="http://$(sed -n 's/^Roster is listening on http:\/\/\([^ ]*\).*/\1/p' "$work/out")"
export TALLYFY_ORG_ID="$(sed -n 's/^Organization id: //p' "$work/out")"
export TALLYFY_ACCESS_TOKEN="$(sed -n 's/^Access token (shown once): //p' "$work/out")"
export TALLYFY_GROUP_ID="$(curl -fsS -X POST "$ROSTER_URL/organizations/$TALLYFY_ORG_ID/groups" \
  -H "Authorization: Bearer $TALLYFY_ACCESS_TOKEN" -H 'X-Tallyfy-Client: APIClient' \
  -H 'Content-Type: application/json' \
  -d '{"name": "Sales Team", "description": "Handles all sales inquiries.", "members": [1], "guests": ["client.a@example.com"]}' \
  | "$python" -c 'import json, sys; print(json.load(sys.stdin)["data"]["id"])')"

status=0
for sample in "$python $here/get_group.py" "node $here/get_group.js"; do
  output="$($sample 2>&1)" || true
  if grep -q "^Successfully retrieved group $TALLYFY_GROUP_ID:" <<<"$output" && grep -q '"Sales Team"' <<<"$output"; then
    echo "ok: $sample"
  else
    echo "FAILED: $sample"; echo "$output"; status=1
  fi
done
exit $status
