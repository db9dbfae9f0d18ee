#!/usr/bin/env bash
# Runs every test Signet has, on a fresh clone with Rust installed: scripts/setup.sh first
# installs or starts the rest (Chromium, Node.js, PostgreSQL, the Python venv, cargo-deny); then
#   formatting and lints; the dependency rules (cargo deny, the layering check and its
#   self-test, the architecture map); unit, conformance, in-process router and end-to-end process
#   tests (the fuzz corpus replay among them); the protocol vectors re-checked in Python; the
#   official SikkerKey Python SDK reading secrets from a real server (also across two replicas
#   on PostgreSQL); the web dashboard in headless Chromium; and every benchmark script once,
#   briefly, on the debug binaries. The PostgreSQL tests use $SIGNET_TEST_PG_URL (default
#   postgres://postgres@127.0.0.1:5432/test, which setup.sh starts and creates) whose user may
#   create databases.
set -euo pipefail
cd "$(dirname "$0")/.."

# CI (CI=true) builds once, from a fresh clone: incremental compilation's caches would only be
# written, never read. (The dev profile already keeps line tables only, Cargo.toml: file and line
# in a failing test's backtrace without full debug info linked into every test binary.) Set
# here, not per command, so clippy, the tests and the binaries the later steps run share one
# profile.
if [ "${CI:-}" = true ]; then
  export CARGO_INCREMENTAL=0
fi

# Each step's heading also says how long the run has taken so far, so a slow CI run shows where.
step() { printf '\n==> [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

step "set-up (scripts/setup.sh: packages, PostgreSQL, venv, Node packages; quick when done)"
./scripts/setup.sh
# setup.sh installed SoftHSM2: the PKCS#11 unseal tests must run, not skip with a warning.
export SIGNET_REQUIRE_SOFTHSM=1

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
# `--all-targets` includes signet-cli's tests, whose dev-dependency turns on signet-server's
# `fuzzing` feature, so the parsers named for the fuzzers are linted here too.
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo deny (advisories from the committed snapshot, licences, bans, sources)"
./scripts/deny.sh

step "layering: the pure crates never depend on a driver, an HTTP stack or tokio's sockets"
./scripts/layering.sh
# The same check (and deny.toml's per-crate wrappers) on a copy with a planted violation.
./scripts/layering-selftest.sh

step "architecture map: docs/architecture.md names every source file"
./scripts/architecture-map.sh

step "cargo test (unit, store conformance, router, end-to-end processes, fuzz corpus replay)"
# The fuzz corpus replay is crates/cli/tests/fuzz_corpus.rs: the fuzz targets' own checks over
# every committed seed, in this build; scripts/fuzz.sh's instrumented build is for real fuzzing.
cargo test --workspace --locked

step "protocol vectors, independent Python implementation"
.venv/bin/python scripts/vectors/check_vectors.py testdata/vectors

step "official sikkerkey Python SDK against a real server"
SIGNET_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/signet" .venv/bin/python -m pytest -q tests/sdk

step "integrations: the GitHub Action's script, the Kubernetes manifests, a pod-like run of signet agent"
SIGNET_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/signet" .venv/bin/python -m pytest -q tests/integrations
step "deployment: the systemd unit and sd_notify readiness, the Containerfile (hadolint), the compose examples"
SIGNET_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/signet" .venv/bin/python -m pytest -q tests/deploy
step "signet mcp driven by the official MCP Python SDK against a real server"
SIGNET_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/signet" .venv/bin/python -m pytest -q tests/mcp

step "OpenAPI document: independent validator, and real answers against its schemas"
SIGNET_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/signet" .venv/bin/python -m pytest -q tests/openapi

step "/metrics parsed by the official Prometheus client's parsers against a real server"
SIGNET_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/signet" .venv/bin/python -m pytest -q tests/metrics

step "the test OpenID provider checks itself as an OIDC client would (the SSO tests rely on it)"
(cd tests/oidc && node --test)

step "dashboard in headless Chromium (playwright-core, node:test)"
# `cargo test` above built the binary (the end-to-end tests run it); a separate `cargo build`
# would unify features differently and compile everything again.
signet_bin="${CARGO_TARGET_DIR:-$PWD/target}/debug/signet"
[ -x "$signet_bin" ] || cargo build --locked -p signet-cli
(
  cd tests/browser
  # The suite on SQLite and, at the same time, again with every server on its own PostgreSQL
  # database, one file at a time each: a file mostly waits on its browser and server, so the two
  # runs share the two cores (about 390 CPU-seconds, by `/usr/bin/time -v`, in a step of about
  # 10 minutes). Two files at a time per backend was tried and left: on PostgreSQL, tests then
  # ran past Playwright's 60 s waits (a debug server's sign-up under four Chromiums). Files share
  # nothing: each starts its own server on a free port with its own data folder (or database),
  # its own Chromium and its own CLI homes. The PostgreSQL run's output follows the SQLite run's,
  # and its screenshots go to a scratch folder: only the SQLite run refreshes docs/screenshots/
  # (two runs writing the same files at once could leave a torn picture). Node 20's
  # --test-timeout bounds each whole file, not each test (sso.test.js took over 120 s on a loaded
  # machine and was cut off): it only guards against a hung file, as Playwright's own waits fail
  # a stuck test after 60 s (harness.js).
  pg_log=$(mktemp)
  pg_shots=$(mktemp -d)
  SIGNET_TEST_BACKEND=postgres SIGNET_BIN="$signet_bin" SCREENSHOT_DIR="$pg_shots" \
    node --test --test-concurrency=1 --test-timeout=600000 >"$pg_log" 2>&1 &
  pg_run=$!
  sqlite_rc=0
  SIGNET_BIN="$signet_bin" node --test --test-concurrency=1 --test-timeout=600000 || sqlite_rc=$?
  pg_rc=0
  wait "$pg_run" || pg_rc=$?
  echo "--- the same suite on PostgreSQL ---"
  cat "$pg_log"
  rm -rf "$pg_log" "$pg_shots"
  [ "$sqlite_rc" -eq 0 ] && [ "$pg_rc" -eq 0 ]
)

step "every benchmark script once, for a few seconds, on the debug binaries (so none rots)"
# One line per script and how its smoke run calls it; the check below fails when a
# scripts/bench*.sh or scripts/bench/*.sh has no line. The figures come from release builds
# (BENCHMARKS.md); here only that each script still runs to its end, audit checks included.
bench_smoke="
scripts/bench.sh 1 4 1
scripts/bench-peer.sh 1 4 1
scripts/bench-latency.sh 1 1 32 '25 50'
scripts/bench-streams.sh 1 10 1
scripts/bench-replicas.sh 1 4 1
scripts/bench-lease.sh 1 1
scripts/bench-audit.sh 2 1000
scripts/bench-cpu.sh 1 4 1
SCALE_SMALL=1 scripts/bench-scale.sh 2 8
FLOOD_JUNK=200 FLOOD_SIGN_INS=10 FLOOD_SECS=1 scripts/bench/floods.sh 1 debug
"
for script in scripts/bench*.sh scripts/bench/*.sh; do
  [ "$script" = scripts/bench/lib.sh ] && continue
  grep -q "^[A-Z_=0-9 ]*$script " <<<"$bench_smoke" || { echo "no smoke line for $script in scripts/test.sh" >&2; exit 1; }
done
while read -r line; do
  [ -n "$line" ] || continue
  printf -- '--- %s\n' "$line"
  started=$SECONDS
  (export SIGNET_BENCH_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug"; eval "$line")
  printf -- '--- %ss\n' $((SECONDS - started))
done <<<"$bench_smoke"

step "all passed"
