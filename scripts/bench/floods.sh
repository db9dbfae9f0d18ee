#!/usr/bin/env bash
# Flood benchmark (BENCHMARKS.md, issue 9): one signed reader reads a secret while the server is
# flooded, (a) with 10,000 junk signed requests from four forwarded sources, (b) with slow
# clients (slow headers, stalled bodies) past the connection cap, (c) with 500 concurrent
# password sign-ins from as many forwarded addresses (one in five with the right password).
# Each run starts a fresh server,
# so VmHWM is that run's peak. Reports, per run: reader p50/p99, audit records the flood added
# (the reader's own `secret_read` records excluded), server VmHWM.
#
#   scripts/bench/floods.sh [RUNS] [PROFILE]     e.g. scripts/bench/floods.sh 5 release
#
# FLOOD_JUNK, FLOOD_SIGN_INS and FLOOD_SECS shrink the floods (default 10000, 500, 10).
# PROFILE is `release` (the figures to quote) or `debug` (a quick check). SKIP_BUILD=1 uses the
# binaries already in target/PROFILE (for example the ones `cargo test` built);
# SIGNET_BENCH_BIN=DIR the ones in DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${1:-5}"
PROFILE="${2:-release}"
# Smaller floods for a smoke run (scripts/test.sh); the figures use the defaults.
JUNK="${FLOOD_JUNK:-10000}"
SIGN_INS="${FLOOD_SIGN_INS:-500}"
SECS="${FLOOD_SECS:-10}"
if [ -n "${SIGNET_BENCH_BIN:-}" ]; then
  :
elif [ -n "${SKIP_BUILD:-}" ]; then
  :
elif [ "$PROFILE" = release ]; then
  cargo build --release --locked --bin signet --bin signet-bench >&2
else
  cargo build --locked --bin signet --bin signet-bench >&2
fi
BIN="${SIGNET_BENCH_BIN:-$PWD/target/$PROFILE}"
TMP="$(mktemp -d)"
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

op() { SIGNET_HOME="$TMP/op" "$BIN/signet" --json "$@"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }
head_seq() { op audit list --limit 1 | python3 -c 'import json,sys; r=json.load(sys.stdin)["records"]; print(r[0]["seq"] if r else 0)'; }

start_server() {
  : >"$TMP/server.log"
  "$BIN/signet" server --config "$TMP/signet.toml" --data-dir "$TMP/data" --listen "127.0.0.1:${PORT:-0}" 2>>"$TMP/server.log" &
  SERVER=$!
  local port=""
  for _ in $(seq 1 100); do
    port="$(sed -n 's/^signet: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/server.log" | tail -1)"
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$TMP/server.log" >&2; exit 1; }
  PORT="$port"
}

stop_server() { kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""; }

# A fresh server, the newcomer path through the CLI; sets IDENTITY and SECRET.
fresh() {
  stop_server 2>/dev/null || true
  rm -rf "$TMP/data" "$TMP/op" "$TMP/machine"
  PORT=""
  printf 'trusted_proxies = ["127.0.0.1/32"]\nmax_connections = 64\nheader_read_timeout_secs = 2\nbody_read_timeout_secs = 2\n' >"$TMP/signet.toml"
  start_server
  URL="http://localhost:$PORT"
  SIGNET_HOME="$TMP/op" "$BIN/signet" operator init --data-dir "$TMP/data" --api-url "$URL" >/dev/null
  local project token machine
  project="$(op project create bench | field id)"
  SECRET="$(op secret create --project "$project" --name BENCH_SECRET --value "$(head -c 48 /dev/urandom | base64)" | field id)"
  token="$(op token bootstrap | field token)"
  SIGNET_HOME="$TMP/machine" "$BIN/signet" enroll --server "$URL" --token "$token" --name bench >/dev/null
  IDENTITY="$(ls -d "$TMP"/machine/vaults/*/)identity.json"
  machine="$(field machineId < "$IDENTITY")"
  op machine approve "$machine" >/dev/null
  op machine attach "$machine" --project "$project" >/dev/null
  op machine grant "$machine" --secret "$SECRET" >/dev/null
}

# The bench account's password: strong enough for the strength check, never a real one.
export SIGNET_BENCH_PASSWORD="maple tundra ferry quiet"
echo "commit $(git rev-parse --short HEAD), $PROFILE build, $RUNS runs per flood" >&2
for run in $(seq 1 "$RUNS"); do
  for kind in junk slow login; do
    fresh
    if [ "$kind" = login ]; then
      # The account every fifth sign-in uses (right password, second factor never sent).
      printf '%s\n' "$SIGNET_BENCH_PASSWORD" | SIGNET_HOME="$TMP/op" "$BIN/signet" --json user create-owner \
        --email owner@example.test --username owner --password-stdin \
        --data-dir "$TMP/data" --config "$TMP/signet.toml" >/dev/null
    fi
    before="$(head_seq)"
    report="$("$BIN/signet-bench" --identity "$IDENTITY" --secret "$SECRET" --flood "$kind" --junk "$JUNK" --sign-ins "$SIGN_INS" \
      --flood-connections $([ "$kind" = junk ] && echo 16 || echo 96) --duration "$SECS")"
    hwm="$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SERVER/status")"
    # A graceful stop writes the failures still counted; then read the log back.
    stop_server
    start_server
    after="$(head_seq)"
    reads="$(echo "$report" | field reads)"
    # Every read of the reader is one `secret_read` record; the rest is what the flood cost.
    added=$(( after - before - reads ))
    echo "$report" | python3 -c "import json,sys; r=json.load(sys.stdin); r.update(run=$run, audit_added=$added, vmhwm_kb=$hwm); print(json.dumps(r))"
  done
done
