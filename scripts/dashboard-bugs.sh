#!/usr/bin/env bash
# Issue 16's acceptance, "a Chromium test for every bug that fails on today's dashboard and passes
# after", as a run anyone can repeat: each bug's browser test (this checkout's
# tests/browser/bugs-*.test.js) runs alone against the `signet` binary of the commit before the
# fixes (a06fc02) and then against this checkout's, and a table says, per bug, that the old one
# failed (with the first line of why) and the new one passed.
#
#   scripts/dashboard-bugs.sh            # every bug
#   BUGS="1 7 12" scripts/dashboard-bugs.sh
#
# The old binary is built once, in debug, from a temporary git worktree of OLD_COMMIT into
# target-old/ (git-ignored; OLD_TARGET to move it), and reused while target-old/signet-old.commit
# names that commit; OLD_BIN skips the build and uses the binary given. The new one is
# `cargo build --bin signet` of this checkout (NEW_BIN to use another). Needs what the browser
# suite needs (tests/browser/README.md): Chromium, tests/browser/node_modules and
# tests/oidc/node_modules; SIGNET_TEST_BACKEND=postgres runs every server on PostgreSQL.
# Logs of every run are kept in target-old/runs/. Not part of scripts/test.sh or CI: it builds
# an old commit (about ten minutes on two cores) and expects failures from it.
#
# Exits non-zero if any bug's test passes on the old binary, fails on the new one, or runs no
# test at all. docs/dashboard-bugs.md holds the last recorded table.
set -euo pipefail

OLD_COMMIT=${OLD_COMMIT:-a06fc02}
root=$(git rev-parse --show-toplevel)
cd "$root"
OLD_TARGET=${OLD_TARGET:-$root/target-old}
BROWSER_TIMEOUT_MS=${BROWSER_TIMEOUT_MS:-300000}

# Bug (issue 16's numbering) -> test file in tests/browser -> the test's name, the one place this
# mapping lives. Each test's first assertion is its bug, so an old failure names it.
TESTS=(
  "1|bugs-01-04.test.js|bug 1: a wrong current password"
  "2|bugs-01-04.test.js|bug 2: the Users page"
  "3|bugs-01-04.test.js|bug 3: the audit action filter"
  "4|bugs-01-04.test.js|bug 4: the audit log and a secret"
  "5|bugs-05-08.test.js|bug 5: an enrollment token"
  "6|bugs-05-08.test.js|bug 6: a project-scoped developer"
  "7|bugs-05-08.test.js|bug 7: a server error"
  "8|bugs-05-08.test.js|bug 8: a used setup link"
  "9|bugs-09-12.test.js|bug 9: Chromium checks"
  "10|bugs-09-12.test.js|bug 10: the old page stays"
  "11|bugs-09-12.test.js|bug 11: removing the allowlist range"
  "12|bugs-09-12.test.js|bug 12: pending machines"
  "13|bugs-13-16.test.js|bug 13: step-up"
  "14|bugs-13-16.test.js|bug 14: opening a fresh vault"
  "15|bugs-13-16.test.js|bug 15: a name with spaces"
  "16|bugs-13-16.test.js|bug 16: action columns"
)

old_commit_full=$(git rev-parse --verify "$OLD_COMMIT^{commit}")
new_commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates tests/browser || echo '+changes')

# --- the old binary -------------------------------------------------------------------------
if [[ -n ${OLD_BIN:-} ]]; then
  old_bin=$OLD_BIN
else
  old_bin=$OLD_TARGET/debug/signet
  stamp=$OLD_TARGET/signet-old.commit
  if [[ ! -x $old_bin || ! -f $stamp || $(cat "$stamp") != "$old_commit_full" ]]; then
    tree=$(mktemp -d "${TMPDIR:-/tmp}/signet-old-XXXXXX")
    trap 'git -C "$root" worktree remove --force "$tree" 2>/dev/null || rm -rf "$tree"' EXIT
    git worktree add --detach "$tree" "$old_commit_full" >/dev/null
    echo "dashboard-bugs: building signet at ${old_commit_full:0:10} into $OLD_TARGET (debug)" >&2
    (cd "$tree" && CARGO_TARGET_DIR=$OLD_TARGET nice cargo build --locked --bin signet)
    echo "$old_commit_full" >"$stamp"
    git worktree remove --force "$tree"
    trap - EXIT
  fi
fi

# --- the new binary -------------------------------------------------------------------------
if [[ -n ${NEW_BIN:-} ]]; then
  new_bin=$NEW_BIN
else
  new_bin=${CARGO_TARGET_DIR:-$root/target}/debug/signet
  nice cargo build --locked --bin signet
fi
for b in "$old_bin" "$new_bin"; do
  [[ -x $b ]] || { echo "dashboard-bugs: no binary at $b" >&2; exit 2; }
done
# The tests run from tests/browser: a relative path would point elsewhere there.
old_bin=$(realpath "$old_bin")
new_bin=$(realpath "$new_bin")

# --- one test, one binary -------------------------------------------------------------------
logs=$OLD_TARGET/runs
mkdir -p "$logs"

# Runs test $3 of file $2 alone with binary $1, its TAP output in $4. Prints "pass", "fail: <the
# first line of the failure>" or "none: <why>" (no test, or more than one, matched).
run_one() {
  local bin=$1 file=$2 name=$3 log=$4 pattern
  # The name as a regular expression, anchored at its start.
  pattern="^$(printf '%s' "$name" | sed 's/[][\.*^$+?(){}|/]/\\&/g')"
  (cd tests/browser && SIGNET_BIN=$bin nice node --test --test-reporter=tap --test-concurrency=1 \
    --test-timeout="$BROWSER_TIMEOUT_MS" --test-name-pattern="$pattern" "$file") >"$log" 2>&1 || true
  local pass fail
  pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -1)
  fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -1)
  if [[ ${pass:-0} == 1 && ${fail:-0} == 0 ]]; then
    echo pass
  elif [[ ${pass:-0} == 0 && ${fail:-0} == 1 ]]; then
    # The failing test's YAML block: the first non-empty line of its `error:` text.
    local why
    why=$(awk '
      /^ *error: \|-?$/ { grab = 1; next }
      /^ *error: '\''/ { sub(/^ *error: '\''/, ""); sub(/'\''$/, ""); gsub(/'\'''\''/, "'\''"); print; exit }
      /^ *error: "/ { sub(/^ *error: "/, ""); sub(/"$/, ""); gsub(/\\"/, "\""); print; exit }
      /^ *error: / { sub(/^ *error: */, ""); print; exit }
      grab && NF { sub(/^ */, ""); print; exit }
    ' "$log")
    echo "fail: ${why:-see $log}"
  else
    echo "none: ${pass:-0} passed, ${fail:-0} failed (see $log)"
  fi
}

selected=${BUGS:-}
bad=0
rows=()
for entry in "${TESTS[@]}"; do
  IFS='|' read -r bug file name <<<"$entry"
  if [[ -n $selected && " $selected " != *" $bug "* ]]; then continue; fi
  echo "dashboard-bugs: bug $bug ($name…) on ${old_commit_full:0:7}" >&2
  old=$(run_one "$old_bin" "$file" "$name" "$logs/bug-$bug-old.tap")
  echo "dashboard-bugs: bug $bug on $new_commit" >&2
  new=$(run_one "$new_bin" "$file" "$name" "$logs/bug-$bug-new.tap")
  verdict=ok
  [[ $old == fail:* ]] || verdict=WRONG
  [[ $new == pass ]] || verdict=WRONG
  [[ $verdict == ok ]] || bad=1
  # Table cells: no pipes, one line.
  old=${old//|/\\|}
  rows+=("| $bug | \`$file\` — $name… | ${old} | $new | $verdict |")
done

echo
echo "Old: ${old_commit_full:0:10} ($old_bin); new: $new_commit ($new_bin); backend: ${SIGNET_TEST_BACKEND:-sqlite}; $(date -u +'%Y-%m-%d %H:%M UTC')"
echo
echo "| Bug | Test | Old dashboard (must fail) | New (must pass) | |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
if [[ $bad != 0 ]]; then
  echo "dashboard-bugs: some bug's test did not fail on the old dashboard and pass on the new one" >&2
  exit 1
fi
