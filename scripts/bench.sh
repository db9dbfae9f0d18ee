#!/usr/bin/env bash
# Signed-read benchmark (BENCHMARKS.md): the server is pinned to core 0, the load generator to
# core 1. Every read is a fresh signature, timestamp and nonce over keep-alive connections, and
# every read is audited durably (fail-closed) before it is answered.
#
#   scripts/bench.sh [RUNS] [CONNECTION COUNTS] [SECONDS]
#   e.g. scripts/bench.sh 5 "32 128" 10   (runs alternate between the counts on one server)
#
# The ceiling (issue 13): a second server, also on core 0 with one worker, serves the same
# machine from a copy of the data folder in the hidden `bench_ceiling` mode, where a secret read
# is the same HTTP stack, header parsing, SHA-256 and `verify_strict`, then a constant answer (no
# store, nonce, decryption or audit). Every run measures both, alternating which goes first, and
# the script ends with each count's medians and the ratio full / ceiling. SIGNET_BENCH_CEILING=0
# measures the full server alone, as before.
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
CEILING=""
WITH_CEILING="${SIGNET_BENCH_CEILING:-1}"
# The script's knob, not the servers': the full server must never see it.
unset SIGNET_BENCH_CEILING
cleanup() {
  for pid in $SERVER $CEILING; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$TMP"
}
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

if [ "$WITH_CEILING" != 0 ]; then
  # A consistent copy of the set-up vault (SQLite's backup API; the root key beside it), so
  # the ceiling server knows the machine without sharing a file with the measured server.
  mkdir -m 700 "$TMP/ceiling-data"
  cp -p "$TMP/data/root.key" "$TMP/ceiling-data/"
  python3 -c 'import sqlite3,sys; s=sqlite3.connect(sys.argv[1]); d=sqlite3.connect(sys.argv[2]); s.backup(d); d.close()' \
    "$TMP/data/signet.db" "$TMP/ceiling-data/signet.db"
  chmod 600 "$TMP/ceiling-data/signet.db"
  TOKIO_WORKER_THREADS=1 taskset -c 0 "$BIN/signet" server --bench-ceiling --data-dir "$TMP/ceiling-data" --listen 127.0.0.1:0 2>"$TMP/ceiling.log" &
  CEILING=$!
  CPORT=""
  for _ in $(seq 1 100); do
    CPORT="$(sed -n 's/^signet: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/ceiling.log")"
    [ -n "$CPORT" ] && break
    sleep 0.1
  done
  [ -n "$CPORT" ] || { cat "$TMP/ceiling.log" >&2; exit 1; }
  grep -q "BENCHMARK CEILING MODE" "$TMP/ceiling.log" || { echo "the ceiling server is not in ceiling mode" >&2; exit 1; }
fi

echo "server: pid $SERVER on core 0 (1 tokio worker + the SQLite writer thread); ceiling: pid ${CEILING:-none} on core 0; load: core 1; ${SECS}s per run" >&2
# One measured run, its JSON report tagged with what was measured.
measure() {
  local mode="$1" url="$2" c="$3"
  taskset -c 1 "$BIN/signet-bench" --identity "$IDENTITY" --secret "$SECRET" --url "$url" --connections "$c" --duration "$SECS" \
    | sed "s/^{/{\"mode\":\"$mode\",/" | tee -a "$TMP/runs.jsonl"
}
for run in $(seq 1 "$RUNS"); do
  for c in $CONNS; do
    if [ -z "$CEILING" ]; then
      measure full "$URL" "$c"
    elif [ $((run % 2)) = 1 ]; then
      measure ceiling "http://localhost:$CPORT" "$c"
      measure full "$URL" "$c"
    else
      measure full "$URL" "$c"
      measure ceiling "http://localhost:$CPORT" "$c"
    fi
  done
done
if [ -n "$CEILING" ]; then
  # Per connection count: each side's median (min-max over runs) and median full / median
  # ceiling, with the spread of the runs' pairwise ratios.
  python3 - "$TMP/runs.jsonl" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
for c in sorted({r["connections"] for r in runs}):
    side = {m: [r["reads_per_sec"] for r in runs if r["connections"] == c and r["mode"] == m] for m in ("full", "ceiling")}
    full, ceil = statistics.median(side["full"]), statistics.median(side["ceiling"])
    pairs = [f / k for f, k in zip(side["full"], side["ceiling"])]
    print(json.dumps({
        "summary": "full/ceiling", "connections": c, "runs": len(pairs),
        "full_median": full, "full_min": min(side["full"]), "full_max": max(side["full"]),
        "ceiling_median": ceil, "ceiling_min": min(side["ceiling"]), "ceiling_max": max(side["ceiling"]),
        "ratio": round(full / ceil, 3), "ratio_min": round(min(pairs), 3), "ratio_max": round(max(pairs), 3),
    }))
PY
fi
READS="$(op audit list --action secret_read --limit 1 | python3 -c 'import json,sys; r=json.load(sys.stdin)["records"]; print(r[0]["seq"] if r else 0)')"
echo "audit head seq after the runs: $READS" >&2
SIGNET_HOME="$TMP/op" "$BIN/signet" audit verify >&2
