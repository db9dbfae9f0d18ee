#!/usr/bin/env bash
# Runs every test Signet has, on a fresh clone with Rust installed: scripts/setup.sh first
# installs or starts the rest (Chromium, Node.js, PostgreSQL, the Python venv, cargo-deny); then
#   formatting and lints; the dependency rules (cargo deny, the layering check and its
#   self-test, the architecture map); unit, conformance, in-process router and end-to-end process
#   tests; the protocol vectors re-checked in Python; and the official SikkerKey Python SDK
#   reading secrets from a real server (also across two replicas on PostgreSQL); and the web
#   dashboard in headless Chromium. The PostgreSQL tests use $SIGNET_TEST_PG_URL (default
#   postgres://postgres@127.0.0.1:5432/test, which setup.sh starts and creates) whose user may
#   create databases.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step's heading also says how long the run has taken so far, so a slow CI run shows where.
step() { printf '\n==> [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

step "set-up (scripts/setup.sh: packages, PostgreSQL, venv, Node packages; quick when done)"
./scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The parsers named for the fuzzers sit behind a feature no other build turns on.
cargo clippy -p signet-server --features fuzzing --lib --locked -- -D warnings

step "cargo deny (advisories from the committed snapshot, licences, bans, sources)"
./scripts/deny.sh

step "layering: the pure crates never depend on a driver, an HTTP stack or tokio's sockets"
./scripts/layering.sh
# The same check (and deny.toml's per-crate wrappers) on a copy with a planted violation.
./scripts/layering-selftest.sh

step "architecture map: docs/architecture.md names every source file"
./scripts/architecture-map.sh

step "cargo test (unit, store conformance, router, end-to-end processes)"
cargo test --workspace --locked

step "protocol vectors, independent Python implementation"
.venv/bin/python scripts/vectors/check_vectors.py testdata/vectors

step "fuzz targets over the committed corpus (docs/fuzzing.md)"
# Replay only (-runs=0): the instrumented build of fuzz/ is the cost (several minutes on a cold
# fuzz/target); mutation runs of any length are `scripts/fuzz.sh SECONDS`.
./scripts/fuzz.sh 0

step "official sikkerkey Python SDK against a real server"
SIGNET_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/signet" .venv/bin/python -m pytest -q tests/sdk

step "OpenAPI document: independent validator, and real answers against its schemas"
SIGNET_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/signet" .venv/bin/python -m pytest -q tests/openapi

step "dashboard in headless Chromium (playwright-core, node:test)"
# `cargo test` above built the binary (the end-to-end tests run it); a separate `cargo build`
# would unify features differently and compile everything again.
signet_bin="${CARGO_TARGET_DIR:-$PWD/target}/debug/signet"
[ -x "$signet_bin" ] || cargo build --locked -p signet-cli
(
  cd tests/browser
  SIGNET_BIN="$signet_bin" node --test --test-concurrency=1 --test-timeout=120000
  # The same suite again with every server on its own PostgreSQL database.
  SIGNET_TEST_BACKEND=postgres SIGNET_BIN="$signet_bin" node --test --test-concurrency=1 --test-timeout=120000
)
step "all passed"
