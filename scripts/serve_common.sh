# Sourced by the deployment checks: `start_serve LOG EMNIST serve-args…` starts `emnist serve` in
# the background with its stderr in LOG and its `--ready-file` at LOG.ready.json, waits (up to
# 30 s) for that file, and sets PID and URL; it stops the script with the server's log when the
# server exits first. The server removes the file when it stops.
start_serve() {
  local log=$1 emnist=$2
  shift 2
  local ready=$log.ready.json
  rm -f "$ready"
  "$emnist" serve "$@" --ready-file "$ready" 2> "$log" &
  PID=$!
  URL=""
  for _ in $(seq 300); do
    if [ -f "$ready" ]; then
      # The file is pretty-printed JSON, one top-level field a line: `  "http": "http://…",`.
      URL=$(sed -n 's/^  "http": "\([^"]*\)",\{0,1\}$/\1/p' "$ready")
      [ -n "$URL" ] && return 0
      echo "error: no \"http\" in the ready file \`$ready\`" >&2
      exit 1
    fi
    kill -0 "$PID" 2>/dev/null || { cat "$log" >&2; echo "error: emnist serve exited before it was ready" >&2; exit 1; }
    sleep 0.1
  done
  cat "$log" >&2
  echo "error: emnist serve was not ready within 30 s" >&2
  exit 1
}
