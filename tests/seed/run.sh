#!/usr/bin/env bash
# Runs the seed's four samples (Python, JavaScript, Java, Go) against a live `roster serve`.
# Needs python3 with `requests`, node, a JDK (javac, java) and Go.
# Usage: tests/seed/run.sh [path/to/roster]   (default: target/debug/roster)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
roster="${1:-$here/../../target/debug/roster}"
python="${PYTHON:-python3}"
source "$here/../lib/serve.sh"
start_roster "$roster"
export TALLYFY_ORG_ID="$ROSTER_ORG" TALLYFY_ACCESS_TOKEN="$ROSTER_TOKEN"
export TALLYFY_GROUP_ID="$(curl -fsS -X POST "$ROSTER_URL/organizations/$TALLYFY_ORG_ID/groups" \
  -H "Authorization: Bearer $TALLYFY_ACCESS_TOKEN" -H 'X-Tallyfy-Client: APIClient' \
  -H 'Content-Type: application/json' \
  -d '{"name": "Sales Team", "description": "Handles all sales inquiries.", "members": [1], "guests": ["client.a@example.com"]}' \
  | "$python" -c 'import json, sys; print(json.load(sys.stdin)["data"]["id"])')"

# Each sample as the page shows it (only the base URL, ids and token come from the
# environment): compiled where it needs to be, then run for the group (200: the success
# line and the group's JSON) and for an id no group has (404: the sample's failure path).
javac -d "$work/java" "$here/GetGroup.java"
(cd "$work" && GOCACHE="$work/gocache" go build -o "$work/get_group_go" "$here/get_group.go")

samples=(
  "python|$python $here/get_group.py|Request failed: 404 Client Error"
  "javascript|node $here/get_group.js|Error getting group 0123456789abcdef0123456789abcdef:"
  "java|java -cp $work/java GetGroup|Failed. Status: 404"
  "go|$work/get_group_go|Failed. Status: 404"
)
status=0
for entry in "${samples[@]}"; do
  IFS='|' read -r name command missing <<<"$entry"
  output="$($command 2>&1)" || true
  if grep -q "^Successfully retrieved group $TALLYFY_GROUP_ID:" <<<"$output" && grep -q '"Sales Team"' <<<"$output"; then
    echo "ok: $name sample, 200"
  else
    echo "FAILED: $name sample, 200"; echo "$output"; status=1
  fi
  output="$(TALLYFY_GROUP_ID=0123456789abcdef0123456789abcdef $command 2>&1)" || true
  if grep -qF "$missing" <<<"$output"; then
    echo "ok: $name sample, 404"
  else
    echo "FAILED: $name sample, 404 (expected \"$missing\")"; echo "$output"; status=1
  fi
done
exit $status
