#!/usr/bin/env bash
# CPU per signed read, SQLite against PostgreSQL (BENCHMARKS.md, issue 13 goal 3). One run
# measures both back to back, under the same load:
#
#   SQLite:     one server, pinned to core 0 with one tokio worker (as bench.sh);
#   PostgreSQL: one replica, pinned to core 0 with one tokio worker (as bench-replicas.sh), on a
#               fresh database; PostgreSQL itself is not pinned.
#
# The load generator runs on core 1 in both. CPU is utime+stime from /proc/<pid>/stat before and
# after the measured run (after a warm-up run of the same length, which also opens the pools):
#   signet_cpu_s      the signet process, all its threads;
#   pg_backend_cpu_s  every PostgreSQL backend connected to the bench database (found in
#                     pg_stat_activity before and after; one that appeared during the run counts
#                     from zero);
#   pg_shared_cpu_s   the walwriter, background writer and checkpointer. They serve every
#                     database of the cluster, so this is an upper bound if anything else uses it
#                     during the run; the ratio is printed with and without it.
# cpu_us_per_read = (those seconds) / reads, in microseconds. Prints one JSON line per backend
# per run, then the ratios, and ends with `signet audit verify` on both vaults.
#
#   scripts/bench-cpu.sh [RUNS] [CONNECTIONS] [SECONDS]
#   e.g. scripts/bench-cpu.sh 3 32 10
#
# SIGNET_BENCH_BIN=DIR runs the binaries already in DIR instead of building this checkout.
# Needs a PostgreSQL at $SIGNET_BENCH_PG (default postgres://postgres@127.0.0.1:5432) whose user
# may create databases, and read access to its processes' /proc entries (same host).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-3}"
CONNS="${2:-32}"
SECS="${3:-10}"
PG="${SIGNET_BENCH_PG:-postgres://postgres@127.0.0.1:5432}"

if [ -n "${SIGNET_BENCH_BIN:-}" ]; then
  BIN="$SIGNET_BENCH_BIN"
else
  cargo build --release --locked --bin signet --bin signet-bench >&2
  BIN="${CARGO_TARGET_DIR:-$PWD/target}/release"
fi
TMP="$(mktemp -d)"
DB="signet_cpu_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

# Total utime+stime, in clock ticks, of each listed pid: "pid ticks" lines (a pid that is gone
# is left out). The command name may hold spaces and parentheses, so fields count from the last ')'.
ticks() {
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] || continue
    awk -v p="$p" '{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); print p, f[12] + f[13] }' "/proc/$p/stat" 2>/dev/null || true
  done
}
pg_backends() { psql "$PG/postgres" -tAc "SELECT pid FROM pg_stat_activity WHERE datname = '$DB'"; }
pg_shared() {
  psql "$PG/postgres" -tAc "SELECT pid FROM pg_stat_activity
    WHERE backend_type IN ('walwriter', 'background writer', 'checkpointer')"
}
# Seconds spent between two `ticks` listings (a pid only in the second counts from zero).
spent() {
  python3 - "$1" "$2" "$(getconf CLK_TCK)" <<'EOF'
import sys
def load(path):
    d = {}
    for line in open(path):
        if line.strip():
            p, t = line.split()
            d[p] = int(t)
    return d
before, after, hz = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3])
print(sum(t - before.get(p, 0) for p, t in after.items()) / hz)
EOF
}

start() { # name core [config] -> sets PORT and SERVER (not via $(...): it would hold stdout)
  local cfg=()
  [ -n "${3:-}" ] && cfg=(--config "$3")
  TOKIO_WORKER_THREADS=1 taskset -c "$2" "$BIN/signet" server "${cfg[@]}" \
    --data-dir "$TMP/$1" --listen 127.0.0.1:0 >/dev/null 2>"$TMP/$1.log" &
  SERVER=$!
  PIDS+=("$SERVER")
  PORT=""
  for _ in $(seq 1 100); do
    PORT="$(sed -n 's/^signet: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/$1.log")"
    [ -n "$PORT" ] && return
    sleep 0.1
  done
  cat "$TMP/$1.log" >&2; exit 1
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }

# A vault with one machine granted one secret, behind the server at $1, set up through the
# server's own data dir $2 (and config $3, for PostgreSQL). Sets IDENTITY and SECRET.
provision() {
  local url="$1" data="$2" home="$TMP/$(basename "$2")-op" cfg=()
  [ -n "${3:-}" ] && cfg=(--config "$3")
  op() { SIGNET_HOME="$home" "$BIN/signet" --json "$@"; }
  SIGNET_HOME="$home" "$BIN/signet" operator init "${cfg[@]}" --data-dir "$data" --api-url "$url" >/dev/null
  local project token machine
  project="$(op project create bench | field id)"
  SECRET="$(op secret create --project "$project" --name BENCH_SECRET --value "$(head -c 48 /dev/urandom | base64)" | field id)"
  token="$(op token bootstrap | field token)"
  SIGNET_HOME="$TMP/$(basename "$data")-machine" "$BIN/signet" enroll --server "$url" --token "$token" --name bench >/dev/null
  IDENTITY="$(ls -d "$TMP/$(basename "$data")-machine"/vaults/*/)identity.json"
  machine="$(field machineId < "$IDENTITY")"
  op machine approve "$machine" >/dev/null
  op machine attach "$machine" --project "$project" >/dev/null
  op machine grant "$machine" --secret "$SECRET" >/dev/null
}

load() { # url -> the bench's JSON
  taskset -c 1 "$BIN/signet-bench" --identity "$IDENTITY" --secret "$SECRET" \
    --connections "$CONNS" --duration "$SECS" --url "$1" | tr -d '\n'
}

start sqlite 0; SQ_URL="http://localhost:$PORT"; SQ_PID="$SERVER"
provision "$SQ_URL" "$TMP/sqlite"; SQ_IDENTITY="$IDENTITY"; SQ_SECRET="$SECRET"

psql "$PG/postgres" -qc "CREATE DATABASE $DB" >/dev/null
( umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$TMP/root.key" )
printf 'database_url = "%s/%s"\nroot_key_file = "%s"\n' "$PG" "$DB" "$TMP/root.key" > "$TMP/signet.toml"
start pg 0 "$TMP/signet.toml"; PG_URL="http://localhost:$PORT"; PG_PID="$SERVER"
provision "$PG_URL" "$TMP/pg" "$TMP/signet.toml"; PG_IDENTITY="$IDENTITY"; PG_SECRET="$SECRET"

echo "signet on core 0 (1 tokio worker), load on core 1, PostgreSQL $(psql "$PG/postgres" -tAc 'show server_version') unpinned; $CONNS connections, ${SECS}s per run after a ${SECS}s warm-up" >&2
for run in $(seq 1 "$RUNS"); do
  IDENTITY="$SQ_IDENTITY"; SECRET="$SQ_SECRET"
  load "$SQ_URL" >/dev/null
  ticks "$SQ_PID" > "$TMP/s0"
  SQ_RESULT="$(load "$SQ_URL")"
  ticks "$SQ_PID" > "$TMP/s1"
  SQ_CPU="$(spent "$TMP/s0" "$TMP/s1")"

  IDENTITY="$PG_IDENTITY"; SECRET="$PG_SECRET"
  load "$PG_URL" >/dev/null
  BACKENDS="$(pg_backends)"; SHARED="$(pg_shared)"
  ticks "$PG_PID" > "$TMP/p0"; ticks $BACKENDS > "$TMP/b0"; ticks $SHARED > "$TMP/w0"
  PG_RESULT="$(load "$PG_URL")"
  ticks "$PG_PID" > "$TMP/p1"; ticks $BACKENDS $(pg_backends) | sort -u -k1,1 > "$TMP/b1"; ticks $SHARED > "$TMP/w1"
  PG_CPU="$(spent "$TMP/p0" "$TMP/p1")"
  BE_CPU="$(spent "$TMP/b0" "$TMP/b1")"
  SH_CPU="$(spent "$TMP/w0" "$TMP/w1")"

  python3 - "$run" "$SQ_RESULT" "$SQ_CPU" "$PG_RESULT" "$PG_CPU" "$BE_CPU" "$SH_CPU" <<'EOF'
import json, sys
run = int(sys.argv[1])
sq, sq_cpu = json.loads(sys.argv[2]), float(sys.argv[3])
pg, pg_cpu, be_cpu, sh_cpu = json.loads(sys.argv[4]), *map(float, sys.argv[5:8])
us = lambda s, n: round(s / n * 1e6, 1) if n else None
sq_us = us(sq_cpu, sq["reads"])
pg_us = us(pg_cpu + be_cpu, pg["reads"])
pg_all_us = us(pg_cpu + be_cpu + sh_cpu, pg["reads"])
print(json.dumps({"run": run, "backend": "sqlite", "reads": sq["reads"],
    "reads_per_sec": sq["reads_per_sec"], "signet_cpu_s": sq_cpu, "cpu_us_per_read": sq_us}))
print(json.dumps({"run": run, "backend": "postgres", "reads": pg["reads"],
    "reads_per_sec": pg["reads_per_sec"], "signet_cpu_s": pg_cpu, "pg_backend_cpu_s": be_cpu,
    "pg_shared_cpu_s": sh_cpu, "cpu_us_per_read": pg_us,
    "cpu_us_per_read_with_shared": pg_all_us}))
if sq_us and pg_us:
    print(json.dumps({"run": run, "ratio_pg_to_sqlite": round(pg_us / sq_us, 2),
        "ratio_with_shared": round(pg_all_us / sq_us, 2)}))
EOF
done
SIGNET_HOME="$TMP/sqlite-op" "$BIN/signet" audit verify >&2
SIGNET_HOME="$TMP/pg-op" "$BIN/signet" audit verify >&2
