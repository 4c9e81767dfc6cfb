# Sourced by the scripts under tests/ that need a live server: start_roster starts
# `roster serve` on a throwaway SQLite database and a free loopback port, waits until it
# listens, and exports what its first start printed. The server and the database go when
# the calling script exits.
#
#   source "$here/../lib/serve.sh"
#   start_roster path/to/roster [extra serve options...]
#   # then: $work (a temporary directory), ROSTER_URL, ROSTER_ORG, ROSTER_TOKEN

work="$(mktemp -d)"
server_pid=""
stop_roster() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap stop_roster EXIT

start_roster() {
  local roster="$1"
  shift
  "$roster" serve --listen 127.0.0.1:0 --database "sqlite://$work/roster.db" "$@" \
    >"$work/out" 2>"$work/err" &
  server_pid=$!
  for _ in $(seq 1 100); do
    grep -q '^Roster is listening on' "$work/out" && break
    sleep 0.1
  done
  grep -q '^Roster is listening on' "$work/out" || { cat "$work/out" "$work/err"; exit 1; }
  ROSTER_URL="http://$(sed -n 's/^Roster is listening on http:\/\/\([^ ]*\).*/\1/p' "$work/out")"
  ROSTER_ORG="$(sed -n 's/^Organization id: //p' "$work/out")"
  ROSTER_TOKEN="$(sed -n 's/^Access token (shown once): //p' "$work/out")"
  export ROSTER_URL ROSTER_ORG ROSTER_TOKEN
}
