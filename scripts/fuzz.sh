#!/usr/bin/env bash
# Builds the fuzz targets in fuzz/ (their own workspace and target dir) with libFuzzer's
# coverage instrumentation on the stable toolchain, then runs each for SECONDS over the
# committed seed corpus; fails on any crash, leak of a timeout or out-of-memory. SECONDS=0 only
# replays the committed corpus (a regression run: every seed once, no mutation).
#
#   scripts/fuzz.sh SECONDS [TARGET...]
#
# New inputs a run finds go to fuzz/corpus-run/<target>/ (not committed); crashes to
# fuzz/artifacts/<target>/. Reproduce one with `fuzz/target/<triple>/release/<target> FILE`.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

secs="${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}"
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(signed_request canonical_path identity_files envelope_open json_bodies cookie_csrf)
fi

# Stable rustc accepts these codegen flags as they are; `--cfg fuzzing` is what cargo-fuzz sets.
# `--target` keeps them off build scripts and proc macros, which are not linked with libFuzzer.
triple="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=3 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
-Cllvm-args=-sanitizer-coverage-stack-depth \
--cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# fuzz/ keeps its own target dir even when the caller sets CARGO_TARGET_DIR for the workspace:
# the binaries are run from it below, and instrumented builds must not mix with the others.
export CARGO_TARGET_DIR="$PWD/target"
build_start=$SECONDS
cargo build --release --locked --target "$triple" --bins
echo "fuzz build: $((SECONDS - build_start)) s"

summary=()
failed=0
for t in "${targets[@]}"; do
    bin="target/$triple/release/$t"
    mkdir -p "corpus-run/$t" "artifacts/$t"
    log="artifacts/$t/last-run.log"
    if [ "$secs" = 0 ]; then
        args=(-runs=0 "corpus/$t")
    else
        # The first folder receives what the run finds; the committed seeds stay as they are.
        args=(-max_total_time="$secs" "corpus-run/$t" "corpus/$t")
    fi
    start=$SECONDS
    if "$bin" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" "${args[@]}" >"$log" 2>&1; then
        result=ok
    else
        result="FAILED (see fuzz/$log)"
        failed=1
        tail -n 40 "$log" >&2
    fi
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    last="$(grep -aE '^#[0-9]+' "$log" | tail -n 1 || true)"
    cov="$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")"
    ft="$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")"
    corp="$(sed -nE 's/.* corp: ([0-9]+\/[0-9a-zA-Z]+).*/\1/p' <<<"$last")"
    summary+=("$(printf '%-16s %6ss %10s execs  cov %-6s ft %-6s corpus %-10s %s' \
        "$t" "$((SECONDS - start))" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result")")
done

echo "fuzz summary (${secs}s per target):"
printf '  %s\n' "${summary[@]}"
if [ "$failed" != 0 ]; then
    echo "fuzz: a target failed" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} passed, 0 failed"
