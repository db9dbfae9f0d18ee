#!/usr/bin/env bash
# Idle change-notification streams (BENCHMARKS.md, issue 12 §3): the server's resident memory
# and CPU seconds over a quiet window without streams, then with N idle signed streams open
# (`GET /v1/events`, held by `signet-bench --streams`), read from /proc. The server is pinned to
# core 0 with one tokio worker, the load program to core 1, as in scripts/bench.sh.
#
#   scripts/bench-streams.sh [RUNS] [STREAMS] [WINDOW_SECONDS]     (default 3 1000 60)
#
# Each run is a fresh server. SIGNET_BENCH_BIN=DIR runs the binaries already in DIR instead of
# building this checkout. Prints one JSON line per run.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-3}"
STREAMS="${2:-1000}"
WINDOW="${3:-60}"

if [ -n "${SIGNET_BENCH_BIN:-}" ]; then
  BIN="$SIGNET_BENCH_BIN"
else
  cargo build --release --locked --bin signet --bin signet-bench >&2
  BIN="${CARGO_TARGET_DIR:-$PWD/target}/release"
fi
# Every stream is a connection, on both sides.
ulimit -n "$(ulimit -Hn)"
TICK="$(getconf CLK_TCK)"
TMP="$(mktemp -d)"
SERVER=""
LOAD=""
cleanup() {
  [ -n "$LOAD" ] && kill "$LOAD" 2>/dev/null
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$1/status"; }
# utime + stime, in clock ticks (fields 14 and 15; the name in field 2 has no spaces here).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run_once() {
  local dir="$TMP/run$1"
  mkdir -p "$dir"
  printf 'event_streams_per_machine = %s\nmax_connections = %s\n' "$((STREAMS + 10))" "$((STREAMS + 100))" >"$dir/signet.toml"
  : >"$dir/server.log" # before the server's own redirection, so the first read below finds it
  TOKIO_WORKER_THREADS=1 taskset -c 0 "$BIN/signet" server --config "$dir/signet.toml" --data-dir "$dir/data" --listen 127.0.0.1:0 2>"$dir/server.log" &
  SERVER=$!
  local port=""
  for _ in $(seq 1 100); do
    port="$(sed -n 's/^signet: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dir/server.log")"
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$dir/server.log" >&2; exit 1; }
  local url="http://localhost:$port"
  op() { SIGNET_HOME="$dir/op" "$BIN/signet" --json "$@"; }
  field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }
  SIGNET_HOME="$dir/op" "$BIN/signet" operator init --data-dir "$dir/data" --api-url "$url" >/dev/null
  local project secret token identity machine
  project="$(op project create bench | field id)"
  secret="$(op secret create --project "$project" --name BENCH_SECRET --value "$(head -c 48 /dev/urandom | base64)" | field id)"
  token="$(op token bootstrap | field token)"
  SIGNET_HOME="$dir/machine" "$BIN/signet" enroll --server "$url" --token "$token" --name bench >/dev/null
  identity="$(ls -d "$dir"/machine/vaults/*/)identity.json"
  machine="$(field machineId <"$identity")"
  op machine approve "$machine" >/dev/null
  op machine attach "$machine" --project "$project" >/dev/null
  op machine grant "$machine" --secret "$secret" >/dev/null

  sleep 5
  local rss0 cpu0 rss1 cpu1
  rss0="$(rss_kb "$SERVER")"; cpu0="$(cpu_ticks "$SERVER")"
  sleep "$WINDOW"
  rss1="$(rss_kb "$SERVER")"; cpu1="$(cpu_ticks "$SERVER")"

  taskset -c 1 "$BIN/signet-bench" --identity "$identity" --streams "$STREAMS" --duration "$((WINDOW + 15))" >"$dir/load.out" 2>"$dir/load.err" &
  LOAD=$!
  for _ in $(seq 1 1200); do
    grep -q streams_open "$dir/load.out" 2>/dev/null && break
    kill -0 "$LOAD" 2>/dev/null || { cat "$dir/load.err" >&2; exit 1; }
    sleep 0.1
  done
  grep -q streams_open "$dir/load.out" || { cat "$dir/load.err" >&2; exit 1; }
  local open_secs
  open_secs="$(head -1 "$dir/load.out" | field open_secs)"
  sleep 5
  local rss2 cpu2 rss3 cpu3
  rss2="$(rss_kb "$SERVER")"; cpu2="$(cpu_ticks "$SERVER")"
  sleep "$WINDOW"
  rss3="$(rss_kb "$SERVER")"; cpu3="$(cpu_ticks "$SERVER")"
  wait "$LOAD" || { cat "$dir/load.err" >&2; exit 1; }
  LOAD=""
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
  SERVER=""
  python3 - "$STREAMS" "$WINDOW" "$TICK" "$open_secs" "$rss0" "$cpu0" "$rss1" "$cpu1" "$rss2" "$cpu2" "$rss3" "$cpu3" <<'PY'
import json, sys
n, window, tick, open_secs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
rss0, cpu0, rss1, cpu1, rss2, cpu2, rss3, cpu3 = map(int, sys.argv[5:13])
print(json.dumps({
    "streams": n,
    "window_s": window,
    "open_s": open_secs,
    "rss_idle_kb": rss1,
    "rss_streams_kb": rss3,
    "rss_per_stream_kb": round((rss3 - rss1) / n, 2),
    "cpu_idle_s": round((cpu1 - cpu0) / tick, 2),
    "cpu_streams_s": round((cpu3 - cpu2) / tick, 2),
}))
PY
}

echo "server on core 0 (1 tokio worker), streams from core 1; ${STREAMS} streams, ${WINDOW}s windows" >&2
for run in $(seq 1 "$RUNS"); do
  run_once "$run"
done
