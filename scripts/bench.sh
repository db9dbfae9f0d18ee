#!/usr/bin/env bash
# Signed-read benchmark (BENCHMARKS.md): the server is pinned to core 0, the load generator to
# core 1. Every read is a fresh signature, timestamp and nonce over keep-alive connections, and
# every read is audited durably (fail-closed) before it is answered.
#
#   scripts/bench.sh [RUNS] [CONNECTION COUNTS] [SECONDS]
#   e.g. scripts/bench.sh 5 "32 128" 10   (runs alternate between the counts on one server)
#
# SIGNET_BENCH_BIN=DIR runs the `signet` and `signet-bench` already in DIR instead of building
# this checkout, so that two builds (before and after a change) can be measured alternately in
# one session.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-3}"
CONNS="${2:-32 128}"
SECS="${3:-10}"

if [ -n "${SIGNET_BENCH_BIN:-}" ]; then
  BIN="$SIGNET_BENCH_BIN"
else
  cargo build --release --locked --bin signet --bin signet-bench >&2
  BIN="${CARGO_TARGET_DIR:-$PWD/target}/release"
fi
TMP="$(mktemp -d)"
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

: >"$TMP/server.log" # before the server's own redirection, so the first read below finds it
TOKIO_WORKER_THREADS=1 taskset -c 0 "$BIN/signet" server --data-dir "$TMP/data" --listen 127.0.0.1:0 2>"$TMP/server.log" &
SERVER=$!
for _ in $(seq 1 100); do
  PORT="$(sed -n 's/^signet: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/server.log")"
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "${PORT:-}" ] || { cat "$TMP/server.log" >&2; exit 1; }
URL="http://localhost:$PORT"

op() { SIGNET_HOME="$TMP/op" "$BIN/signet" --json "$@"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }

SIGNET_HOME="$TMP/op" "$BIN/signet" operator init --data-dir "$TMP/data" --api-url "$URL" >/dev/null
PROJECT="$(op project create bench | field id)"
SECRET="$(op secret create --project "$PROJECT" --name BENCH_SECRET --value "$(head -c 48 /dev/urandom | base64)" | field id)"
TOKEN="$(op token bootstrap | field token)"
SIGNET_HOME="$TMP/machine" "$BIN/signet" enroll --server "$URL" --token "$TOKEN" --name bench >/dev/null
IDENTITY="$(ls -d "$TMP"/machine/vaults/*/)identity.json"
MACHINE="$(field machineId < "$IDENTITY")"
op machine approve "$MACHINE" >/dev/null
op machine attach "$MACHINE" --project "$PROJECT" >/dev/null
op machine grant "$MACHINE" --secret "$SECRET" >/dev/null

echo "server: pid $SERVER on core 0 (1 tokio worker + the SQLite writer thread); load: core 1; ${SECS}s per run" >&2
for run in $(seq 1 "$RUNS"); do
  for c in $CONNS; do
    taskset -c 1 "$BIN/signet-bench" --identity "$IDENTITY" --secret "$SECRET" --connections "$c" --duration "$SECS"
  done
done
READS="$(op audit list --action secret_read --limit 1 | python3 -c 'import json,sys; r=json.load(sys.stdin)["records"]; print(r[0]["seq"] if r else 0)')"
echo "audit head seq after the runs: $READS" >&2
SIGNET_HOME="$TMP/op" "$BIN/signet" audit verify >&2
