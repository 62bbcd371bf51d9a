# Sourced by the deployment checks: `start_serve LOG EMNIST serve-args…` starts `emnist serve` in
# the background with its stderr in LOG, waits (up to 30 s) for the address it prints, and sets
# PID and URL; it stops the script with the server's log when the server exits first.
start_serve() {
  local log=$1 emnist=$2
  shift 2
  "$emnist" serve "$@" 2> "$log" &
  PID=$!
  URL=""
  for _ in $(seq 300); do
    URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$log" | head -n 1)
    [ -n "$URL" ] && return 0
    kill -0 "$PID" 2>/dev/null || { cat "$log" >&2; echo "error: emnist serve exited before listening" >&2; exit 1; }
    sleep 0.1
  done
  cat "$log" >&2
  echo "error: emnist serve did not start within 30 s" >&2
  exit 1
}
