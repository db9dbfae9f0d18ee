#!/usr/bin/env bash
# Lease mint latency (BENCHMARKS.md): a leased secret with mint-fresh, read N times by one
# machine through `signet get` against a real server on a real PostgreSQL, timing each read
# (one signed read = authenticate, CREATE ROLE + grant in one transaction, lease row and audit
# records). Prints p50, p99 and the spread over RUNS runs.
#
#   scripts/bench-lease.sh [READS] [RUNS]        (default 200 reads, 3 runs)
#
# Needs target/debug/signet (or SIGNET_BIN) and the local PostgreSQL (trust on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
reads="${1:-200}"
runs="${2:-3}"
bin="${SIGNET_BIN:-$PWD/target/debug/signet}"
pg="${SIGNET_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
base="${pg%/*}"
work="$(mktemp -d)"
db="signet_bench_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
cleanup() {
    [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
    # Any role a run left behind (a killed run) goes with its lease's database.
    psql "$pg" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
psql "$pg" -qc "CREATE DATABASE $db" >/dev/null
psql "$base/$db" -qc "CREATE TABLE t (x int)" >/dev/null

"$bin" server --data-dir "$work/data" --listen 127.0.0.1:0 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do
    port="$(sed -n 's/^signet: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log" | head -1)"
    [ -n "$port" ] && break
    sleep 0.1
done
url="http://localhost:$port"
op() { SIGNET_HOME="$work/op" PGADMIN_PW=x "$bin" --json "$@"; }
op operator init --data-dir "$work/data" --api-url "$url" >/dev/null
project="$(op project create bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
conn="$(op connection create --project "$project" --name main --host 127.0.0.1 --database "$db" \
    --admin-user postgres --admin-password-env PGADMIN_PW --tls-mode disable |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
secret="$(op lease create --project "$project" --name DB --connection "$conn" --ttl 1h --mint-fresh \
    --grant 'GRANT SELECT ON t TO {{name}}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["secretId"])')"
token="$(op token bootstrap | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
SIGNET_HOME="$work/m" "$bin" enroll --server "$url" --token "$token" --name bench >/dev/null
machine="$(python3 -c 'import json,sys,glob; print(json.load(open(glob.glob(sys.argv[1]+"/vaults/*/identity.json")[0]))["machineId"])' "$work/m")"
op machine approve "$machine" >/dev/null
op machine attach "$machine" --project "$project" >/dev/null
op machine grant "$machine" --secret "$secret" >/dev/null
# A standard secret read the same way: the baseline (process start, signing, HTTP, audit).
plain="$(op secret create --project "$project" --name PLAIN --value v | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
op machine grant "$machine" --secret "$plain" >/dev/null

echo "commit $(git rev-parse --short HEAD), $reads reads x $runs runs, mint-fresh (every read mints a role)"
for run in $(seq "$runs"); do
    for which in plain leased; do
        id="$plain"
        [ "$which" = leased ] && id="$secret"
        : >"$work/times"
        for _ in $(seq "$reads"); do
            start=$(date +%s%N)
            SIGNET_HOME="$work/m" "$bin" get "$id" >/dev/null
            echo $(( ($(date +%s%N) - start) / 1000 )) >>"$work/times"
        done
        sort -n "$work/times" | python3 -c '
import sys
v = [int(x) for x in sys.stdin]
p = lambda q: v[min(len(v) - 1, int(q * len(v)))] / 1000
print(f"run '"$run"' '"$which"': p50 {p(0.50):.1f} ms  p99 {p(0.99):.1f} ms  (n={len(v)}, whole signet get process)")'
    done
done
# The leases were minted with an hour to live: revoke them so no role outlives the run.
op lease list --secret "$secret" | python3 -c 'import json,sys; [print(l["id"]) for l in json.load(sys.stdin)["leases"] if l["state"] == "active"]' |
    while read -r id; do op lease revoke "$id" >/dev/null; done
