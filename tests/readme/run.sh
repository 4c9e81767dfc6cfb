#!/usr/bin/env bash
# Runs the README's two commands exactly as "## The two commands" writes them, so that a
# change which breaks what a newcomer types first fails CI.
#
#   tests/readme/run.sh serve   # the first: starts Roster on a throwaway SQLite file and a
#                               # free port (through ROSTER_DATABASE and ROSTER_LISTEN), runs
#                               # the curl it prints (200 expected), stops it with SIGTERM
#                               # and expects a clean exit
#   tests/readme/run.sh test    # the second: the whole test suite
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

# The shell lines of the fenced `sh` blocks in the section, in order.
commands() {
  awk '/^## The two commands/ {in_section = 1; next}
       /^## / {in_section = 0}
       in_section && /^```sh$/ {in_block = 1; next}
       in_block && /^```$/ {in_block = 0; next}
       in_section && in_block {print}' README.md
}
first="$(commands | sed -n 1p)"
second="$(commands | sed -n 2p)"
[ -n "$first" ] && [ -n "$second" ] || { echo "README: no two commands found" >&2; exit 1; }

case "${1:-}" in
  test)
    echo "README's second command: $second"
    exec bash -c "$second"
    ;;
  serve) ;;
  *) echo "usage: $0 serve|test" >&2; exit 2 ;;
esac

work="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

echo "README's first command: $first"
ROSTER_DATABASE="sqlite://$work/roster.db" ROSTER_LISTEN=127.0.0.1:0 \
  bash -c "exec $first" >"$work/out" 2>"$work/err" &
server_pid=$!
# The first start compiles the server in release mode when nothing is built yet.
for _ in $(seq 1 3600); do
  grep -q '^Roster is listening on' "$work/out" && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.5
done
if ! grep -q '^Roster is listening on' "$work/out"; then
  echo "the server did not start:" >&2; cat "$work/out" "$work/err" >&2; exit 1
fi

# The curl the first start printed, as a newcomer would paste it.
printed="$(sed -n 's/^  \(curl .*\)$/\1/p' "$work/out")"
[ -n "$printed" ] || { echo "no curl printed:" >&2; cat "$work/out" >&2; exit 1; }
status="$(bash -c "$printed -sS -o '$work/body' -w '%{http_code}'")"
if [ "$status" != 200 ]; then
  echo "the printed curl answered $status:" >&2; cat "$work/body" >&2; exit 1
fi
python3 -c 'import json, sys; body = json.load(open(sys.argv[1])); assert body["data"] == [], body' "$work/body"
echo "ok: the printed curl answered 200 with an empty group list"

kill -TERM "$server_pid"
code=0
wait "$server_pid" || code=$?
server_pid=""
if [ "$code" != 0 ]; then
  echo "the server exited with $code after SIGTERM:" >&2; cat "$work/err" >&2; exit 1
fi
echo "ok: the server stopped cleanly on SIGTERM"
