# Shared set-up of the benchmark scripts, sourced (not run): the binaries, a pinned Signet server
# and a machine granted one secret, exactly as scripts/bench.sh sets them up.
#
#   . scripts/bench/lib.sh
#   bench_binaries                  # BIN: $SIGNET_BENCH_BIN, or a release build of this checkout
#   signet_start DIR                # SIGNET_PID, SIGNET_URL: server on core 0, one tokio worker
#   signet_grant DIR                # IDENTITY, SECRET: a machine that may read one 64-byte secret
#   signet_ceiling_start DIR        # CEILING_PID, CEILING_URL: DIR's vault in the ceiling mode
#
# The caller owns clean-up: it kills $SIGNET_PID (and $CEILING_PID) and removes DIR.

# SIGNET_BENCH_BIN=DIR runs the `signet` and `signet-bench` already in DIR (two builds measured
# alternately in one session, or CI's debug binaries for the smoke run).
bench_binaries() {
  if [ -n "${SIGNET_BENCH_BIN:-}" ]; then
    BIN="$SIGNET_BENCH_BIN"
  else
    cargo build --release --locked --bin signet --bin signet-bench >&2
    BIN="${CARGO_TARGET_DIR:-$PWD/target}/release"
  fi
}

# The port a server started with `--listen 127.0.0.1:0` printed to LOG, waiting up to 10 s.
listening_port() {
  local log="$1" port=""
  for _ in $(seq 1 100); do
    port="$(sed -n 's/^signet: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log")"
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$log" >&2; return 1; }
  echo "$port"
}

# Not through $(...): the server would hold the substitution's pipe open.
signet_start() {
  local dir="$1" port
  mkdir -p "$dir"
  : >"$dir/server.log" # before the server's own redirection, so the first read below finds it
  TOKIO_WORKER_THREADS=1 taskset -c 0 "$BIN/signet" server --data-dir "$dir/data" \
    --listen 127.0.0.1:0 2>"$dir/server.log" &
  SIGNET_PID=$!
  port="$(listening_port "$dir/server.log")"
  SIGNET_URL="http://localhost:$port"
}

# The ceiling (issue 13): a second server, also on core 0 with one worker, serves the vault of
# `signet_start DIR` (after `signet_grant DIR`) from a consistent copy of its data folder
# (SQLite's backup API; the root key beside it) in the hidden `bench_ceiling` mode: a secret
# read is the same HTTP stack, header parsing, SHA-256 and `verify_strict`, then a constant
# answer (no store, nonce, decryption or audit). No file is shared with the measured server.
signet_ceiling_start() {
  local dir="$1" port
  mkdir -m 700 "$dir/ceiling-data"
  cp -p "$dir/data/root.key" "$dir/ceiling-data/"
  python3 -c 'import sqlite3,sys; s=sqlite3.connect(sys.argv[1]); d=sqlite3.connect(sys.argv[2]); s.backup(d); d.close()' \
    "$dir/data/signet.db" "$dir/ceiling-data/signet.db"
  chmod 600 "$dir/ceiling-data/signet.db"
  : >"$dir/ceiling.log"
  TOKIO_WORKER_THREADS=1 taskset -c 0 "$BIN/signet" server --bench-ceiling \
    --data-dir "$dir/ceiling-data" --listen 127.0.0.1:0 2>"$dir/ceiling.log" &
  CEILING_PID=$!
  port="$(listening_port "$dir/ceiling.log")"
  grep -q "BENCHMARK CEILING MODE" "$dir/ceiling.log" ||
    { echo "the ceiling server is not in ceiling mode" >&2; return 1; }
  CEILING_URL="http://localhost:$port"
}

signet_op() { local dir="$1"; shift; SIGNET_HOME="$dir/op" "$BIN/signet" --json "$@"; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }

signet_grant() {
  local dir="$1" project token machine
  SIGNET_HOME="$dir/op" "$BIN/signet" operator init --data-dir "$dir/data" --api-url "$SIGNET_URL" >/dev/null
  project="$(signet_op "$dir" project create bench | json_field id)"
  SECRET="$(signet_op "$dir" secret create --project "$project" --name BENCH_SECRET \
    --value "$(head -c 48 /dev/urandom | base64)" | json_field id)"
  token="$(signet_op "$dir" token bootstrap | json_field token)"
  SIGNET_HOME="$dir/machine" "$BIN/signet" enroll --server "$SIGNET_URL" --token "$token" --name bench >/dev/null
  IDENTITY="$(ls -d "$dir"/machine/vaults/*/)identity.json"
  machine="$(json_field machineId <"$IDENTITY")"
  signet_op "$dir" machine approve "$machine" >/dev/null
  signet_op "$dir" machine attach "$machine" --project "$project" >/dev/null
  signet_op "$dir" machine grant "$machine" --secret "$SECRET" >/dev/null
}

# The audit chain of the run, checked end to end (issue 13: every run ends with it passing).
signet_verify() { SIGNET_HOME="$1/op" "$BIN/signet" audit verify >&2; }

# median/min/max of KEY over the JSON lines on stdin, as "median (min–max)" fields of one object.
json_spread() {
  python3 -c '
import json, statistics, sys
key = sys.argv[1]
v = [json.loads(l)[key] for l in sys.stdin if l.strip()]
print(json.dumps({"median": statistics.median(v), "min": min(v), "max": max(v), "runs": len(v)}))
' "$1"
}
