#!/usr/bin/env bash
# Signed reads on PostgreSQL, one replica against two (BENCHMARKS.md). Replica A is pinned to
# core 0 and replica B to core 1, each with one tokio worker; PostgreSQL and the load generator
# are not pinned (this machine has two cores, so they share them with the replicas). Runs
# alternate between one replica (all connections to A) and two (connections spread over A and
# B), so the ratio comes from one session.
#
#   scripts/bench-replicas.sh [RUNS] [CONNECTIONS] [SECONDS]
#   e.g. scripts/bench-replicas.sh 5 32 10
#
# Needs a PostgreSQL at $SIGNET_BENCH_PG (default postgres://postgres@127.0.0.1:5432) that lets
# its user create databases; a fresh database is made for the run and dropped afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-3}"
CONNS="${2:-32}"
SECS="${3:-10}"
PG="${SIGNET_BENCH_PG:-postgres://postgres@127.0.0.1:5432}"

# SIGNET_BENCH_BIN=DIR runs the binaries already in DIR instead of building this checkout.
if [ -n "${SIGNET_BENCH_BIN:-}" ]; then
  BIN="$SIGNET_BENCH_BIN"
else
  cargo build --release --locked --bin signet --bin signet-bench >&2
  BIN="$PWD/target/release"
fi
TMP="$(mktemp -d)"
DB="signet_bench_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

psql "$PG/postgres" -qc "CREATE DATABASE $DB" >/dev/null
( umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$TMP/root.key" )
printf 'database_url = "%s/%s"\nroot_key_file = "%s"\n' "$PG" "$DB" "$TMP/root.key" > "$TMP/signet.toml"

start() { # name core -> sets PORT (not via $(...): the server would hold its stdout open)
  : >"$TMP/$1.log" # before the server's own redirection, so the first read below finds it
  TOKIO_WORKER_THREADS=1 taskset -c "$2" "$BIN/signet" server --config "$TMP/signet.toml" \
    --data-dir "$TMP/$1" --listen 127.0.0.1:0 >/dev/null 2>"$TMP/$1.log" &
  PIDS+=($!)
  PORT=""
  for _ in $(seq 1 100); do
    PORT="$(sed -n 's/^signet: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/$1.log")"
    [ -n "$PORT" ] && return
    sleep 0.1
  done
  cat "$TMP/$1.log" >&2; exit 1
}
start a 0; A="http://localhost:$PORT"
start b 1; B="http://localhost:$PORT"

op() { SIGNET_HOME="$TMP/op" "$BIN/signet" --json "$@"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }

SIGNET_HOME="$TMP/op" "$BIN/signet" operator init --config "$TMP/signet.toml" --data-dir "$TMP/a" --api-url "$A" >/dev/null
PROJECT="$(op project create bench | field id)"
SECRET="$(op secret create --project "$PROJECT" --name BENCH_SECRET --value "$(head -c 48 /dev/urandom | base64)" | field id)"
TOKEN="$(op token bootstrap | field token)"
SIGNET_HOME="$TMP/machine" "$BIN/signet" enroll --server "$A" --token "$TOKEN" --name bench >/dev/null
IDENTITY="$(ls -d "$TMP"/machine/vaults/*/)identity.json"
MACHINE="$(field machineId < "$IDENTITY")"
op machine approve "$MACHINE" >/dev/null
op machine attach "$MACHINE" --project "$PROJECT" >/dev/null
op machine grant "$MACHINE" --secret "$SECRET" >/dev/null

echo "replica A on core 0, replica B on core 1 (1 tokio worker each); PostgreSQL $(psql "$PG/postgres" -tAc 'show server_version') and the load unpinned; $CONNS connections, ${SECS}s per run" >&2
for run in $(seq 1 "$RUNS"); do
  echo -n '{"replicas":1,"result":'; "$BIN/signet-bench" --identity "$IDENTITY" --secret "$SECRET" --connections "$CONNS" --duration "$SECS" --url "$A" | tr -d '\n'; echo '}'
  echo -n '{"replicas":2,"result":'; "$BIN/signet-bench" --identity "$IDENTITY" --secret "$SECRET" --connections "$CONNS" --duration "$SECS" --url "$A" --url "$B" | tr -d '\n'; echo '}'
done
SIGNET_HOME="$TMP/op" "$BIN/signet" audit verify >&2
