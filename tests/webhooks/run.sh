#!/usr/bin/env bash
# Webhooks judged by an independent verifier: a live `roster serve` delivers to a
# receiver that checks every request with the `standardwebhooks` package (PyPI, pinned
# in .ci/run), through create/update/delete and membership flows, a failure and its
# retry, and a secret rotation (both signatures valid during the grace period, only the
# new one after it). Any request no secret verifies fails the run.
#
# Usage: tests/webhooks/run.sh path/to/roster
# Needs PYTHON (default python3) with standardwebhooks installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
roster="${1:-$here/../../target/debug/roster}"
python="${PYTHON:-python3}"
source "$here/../lib/serve.sh"
start_roster "$roster" --rate-limit-per-minute 0 --webhook-allow-http \
  --webhook-allow-private-targets --webhook-retry-schedule 1,1,1
"$python" "$here/receiver.py" "$work/receiver-port" &
receiver_pid=$!
trap 'kill $receiver_pid 2>/dev/null; stop_roster' EXIT
for _ in $(seq 1 100); do [ -s "$work/receiver-port" ] && break; sleep 0.1; done
receiver="http://127.0.0.1:$(cat "$work/receiver-port")"

api="$ROSTER_URL/organizations/$ROSTER_ORG"
call() { curl -fsS -H "Authorization: Bearer $ROSTER_TOKEN" -H 'X-Tallyfy-Client: webhooks' -H 'Content-Type: application/json' "$@"; }
json() { "$python" -c "import json, sys; print(json.load(sys.stdin)$1)"; }
control() { curl -fsS -X POST "$receiver/control" -d "$1" >/dev/null; }
fail() { echo "webhooks: $*" >&2; curl -sS "$receiver/log" >&2 || true; exit 1; }

created="$(call -X POST "$api/webhooks" -d "{\"url\": \"$receiver/hook\", \"description\": \"verifier\"}")"
hook="$(echo "$created" | json '["data"]["id"]')"
first_secret="$(echo "$created" | json '["secret"]')"
control "{\"secrets\": [\"$first_secret\"], \"fail_first\": 2}"

# Ordinary traffic: groups, people, memberships.
member="$(call -X POST "$api/users/invite" -d '{"email": "ada@hooks.test", "first_name": "Ada", "last_name": "L", "role": "standard"}' | json '["data"]["id"]')"
group="$(call -X POST "$api/groups" -d "{\"name\": \"Sales\", \"description\": \"d\", \"members\": [$member], \"guests\": [\"g@hooks.test\"]}" | json '["data"]["id"]')"
call -X PUT "$api/groups/$group" -d '{"name": "Sales EU"}' >/dev/null
call -X PATCH "$api/groups/$group/members" -d "{\"remove\": [$member]}" >/dev/null
call -X DELETE "$api/users/$member/disable" >/dev/null
call -X DELETE "$api/groups/$group" >/dev/null

# Every event since the subscription arrives, verified, once succeeded; two failed first.
wait_for_all() {
  "$python" - "$api" "$ROSTER_TOKEN" "$receiver" "$hook" <<'PY'
import json, sys, time, urllib.request
api, token, receiver, hook = sys.argv[1:]
def get(url, auth=True):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}", "X-Tallyfy-Client": "webhooks"} if auth else {})
    return json.load(urllib.request.urlopen(request))
for _ in range(300):
    log = get(f"{receiver}/log", auth=False)
    delivered = {entry["id"] for entry in log if entry["answered"] == 204}
    # Only what followed the subscription (its own creation is never sent to it).
    feed = get(f"{api}/events?limit=500")["data"]
    created_at = next(e["seq"] for e in feed if e["type"] == "webhook.created" and e["subject"]["id"] == hook)
    wanted = {e["id"] for e in feed if e["seq"] > created_at and not (e["subject"]["type"] == "webhook" and e["subject"]["id"] == hook)}
    if wanted <= delivered:
        break
    time.sleep(0.1)
else:
    sys.exit(f"not every event was delivered: missing {sorted(wanted - delivered)}")
bad = [entry for entry in log if not entry["verified_by"]]
if bad:
    sys.exit(f"deliveries no secret verified: {bad}")
for entry in log:
    if entry["body"]["id"] != entry["id"]:
        sys.exit(f"webhook-id is not the event's id: {entry}")
retried = [entry["id"] for entry in log if entry["answered"] == 500]
for event_id in retried:
    attempts = [e["attempt"] for e in log if e["id"] == event_id]
    if attempts[:2] != ["1", "2"]:
        sys.exit(f"a failed delivery was not retried with the same id: {event_id} {attempts}")
print(f"webhooks: {len(wanted)} events delivered and verified, {len(retried)} after a retry")
PY
}
wait_for_all

# A rotation: the old secret keeps signing beside the new one for the grace period.
rotated="$(call -X POST "$api/webhooks/$hook/secret/rotate" -d '{"grace_period_seconds": 3}')"
second_secret="$(echo "$rotated" | json '["secret"]')"
control "{\"secrets\": [\"$first_secret\", \"$second_secret\"], \"fail_first\": 0}"
call -X POST "$api/guests" -d '{"email": "during@hooks.test"}' >/dev/null
wait_for_all
during="$(curl -fsS "$receiver/log" | "$python" -c 'import json, sys; e = [x for x in json.load(sys.stdin) if x["type"] == "guest.created" and x["body"]["data"]["object"]["email"] == "during@hooks.test"][-1]; print(e["signatures"], e["verified_by"])')"
[ "$during" = "2 [0, 1]" ] || fail "during the grace period both secrets must verify, got $during"
sleep 3.5
call -X POST "$api/guests" -d '{"email": "after@hooks.test"}' >/dev/null
wait_for_all
after="$(curl -fsS "$receiver/log" | "$python" -c 'import json, sys; e = [x for x in json.load(sys.stdin) if x["type"] == "guest.created" and x["body"]["data"]["object"]["email"] == "after@hooks.test"][-1]; print(e["signatures"], e["verified_by"])')"
[ "$after" = "1 [1]" ] || fail "after the grace period only the new secret may verify, got $after"

# The delivery log agrees: nothing pending, failed or exhausted.
left="$(call "$api/webhooks/$hook/deliveries?status=pending" | json '["data"]')"
[ "$left" = "[]" ] || fail "deliveries still pending: $left"
echo "webhooks: rotation verified (two signatures during the grace period, one after)"
