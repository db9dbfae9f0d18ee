#!/usr/bin/env bash
# Lease mint latency (BENCHMARKS.md): signed reads of a mint-fresh leased secret (every read
# creates a PostgreSQL role with its grant in one transaction, records the lease and its audit
# records) against signed reads of a standard secret on the same server, alternately, one
# connection at a time, with `signet-bench` (crates/bench). Prints one JSON line per run and
# kind (p50, p90, p99 in ms), then revokes every lease it minted.
#
#   scripts/bench-lease.sh [SECONDS] [RUNS]       (default 5 s per run, 3 runs)
#
# Uses target/debug/{signet,signet-bench} unless SIGNET_BENCH_BIN=DIR names others, and the
# local PostgreSQL (trust on 127.0.0.1) for the leases; Signet's own store is SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-5}"
runs="${2:-3}"
dir="${SIGNET_BENCH_BIN:-$PWD/target/debug}"
bin="$dir/signet"
pg="${SIGNET_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
base="${pg%/*}"
work="$(mktemp -d)"
db="signet_bench_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
cleanup() {
    [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
    # Roles belong to the cluster, not the database: any role a run left behind (a killed run,
    # or more leases than one listing shows) is found by its grant on `t` and dropped first.
    psql "$base/$db" -qc "DO \$\$ DECLARE r text; BEGIN
        FOR r IN SELECT DISTINCT a.grantee::regrole::text FROM pg_class c, aclexplode(c.relacl) a
                 WHERE c.relname = 't' AND a.grantee <> c.relowner LOOP
            EXECUTE format('DROP OWNED BY %s', r); EXECUTE format('DROP ROLE %s', r);
        END LOOP; END \$\$" >/dev/null 2>&1 || true
    psql "$pg" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
psql "$pg" -qc "CREATE DATABASE $db" >/dev/null
psql "$base/$db" -qc "CREATE TABLE t (x int)" >/dev/null

: >"$work/server.log" # before the server's own redirection, so the first read below finds it
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

identity="$(ls "$work"/m/vaults/*/identity.json)"
echo "commit $(git rev-parse --short HEAD), $runs runs of $secs s per kind, 1 connection; binaries in $dir"
for run in $(seq "$runs"); do
    for which in plain leased; do
        id="$plain"
        [ "$which" = leased ] && id="$secret"
        printf '%s %s ' "$run" "$which"
        "$dir/signet-bench" --identity "$identity" --secret "$id" --connections 1 \
            --duration "$secs" --warmup 1
    done
done
# The leases were minted with an hour to live: revoke them so no role outlives the run.
op lease list --secret "$secret" | python3 -c 'import json,sys; [print(l["id"]) for l in json.load(sys.stdin)["leases"] if l["state"] == "active"]' |
    while read -r id; do op lease revoke "$id" >/dev/null; done
