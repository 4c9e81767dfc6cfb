#!/usr/bin/env bash
# Runs schemathesis against a live `roster serve` on a throwaway database: every route
# in /openapi.json, a bounded number of examples each, with every check schemathesis has
# (two of them through the wrappers in hooks.py), so that any server error, undocumented
# status code, response that breaks its schema, schema-valid request refused or
# schema-violating request accepted fails the run.
#
# Usage: tests/schemathesis/run.sh [path/to/roster] [max-examples]
# Needs `st` (schemathesis) on PATH, or ST=path/to/st.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
roster="${1:-$here/../../target/debug/roster}"
examples="${2:-25}"
st="${ST:-st}"
source "$here/../lib/serve.sh"
start_roster "$roster" --rate-limit-per-minute 0
base="$ROSTER_URL"
call() { curl -fsS -H "Authorization: Bearer $ROSTER_TOKEN" -H 'X-Tallyfy-Client: seed' -H 'Content-Type: application/json' "$@"; }
json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }

# Something real behind each path parameter.
export ROSTER_USER="$(call -X POST "$base/organizations/$ROSTER_ORG/users/invite" \
  -d '{"email": "member@seed.test", "first_name": "Seed", "last_name": "Member", "role": "standard"}' | json '["data"]["id"]')"
call -X PUT "$base/organizations/$ROSTER_ORG/users/$ROSTER_USER/enable" >/dev/null
call -X POST "$base/organizations/$ROSTER_ORG/guests" -d '{"email": "guest@seed.test"}' >/dev/null
export ROSTER_GUEST="guest%40seed.test"
export ROSTER_GROUP="$(call -X POST "$base/organizations/$ROSTER_ORG/groups" \
  -d "{\"name\": \"Seed\", \"description\": \"d\", \"members\": [$ROSTER_USER], \"guests\": [\"guest@seed.test\"]}" | json '["data"]["id"]')"

cd "$here"
export SCHEMATHESIS_HOOKS=hooks
run() {
  "$st" --config-file "$here/schemathesis.toml" run "$base/openapi.json" \
    --url "$base" --max-examples "$examples" --phases examples,coverage,fuzzing --workers 1 \
    --checks all --exclude-checks positive_data_acceptance,negative_data_rejection \
    --suppress-health-check all --no-color "$@"
}
# First everything that keeps the seeded people and group in place, then everything:
# deletions and conversions would otherwise leave most operations facing a 404.
run --exclude-method DELETE --exclude-path-regex '/to/'
run
