#!/usr/bin/env bash
# Checks that docs/architecture.md names every source file, so the map cannot fall behind the
# code: each file under crates/*/src (and the crates' tests, examples, migrations and dashboard
# assets, fuzz/, scripts/ and tests/) must appear in it as `path`, and every row of its "Every
# file" tables must name a file that exists. Fails with the rows to add or remove, ready to
# paste. Also checks the crate dependency table against each crate's Cargo.toml. Reads files
# only; takes well under a second.
#
#   scripts/architecture-map.sh [WORKSPACE_DIR]     (default: this checkout)
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
map=docs/architecture.md

# Tracked and new (not ignored) files, so a file not yet committed is held to the rule too.
listed() {
    git ls-files --cached --others --exclude-standard -- \
        'crates/*/src/*' 'crates/*/tests/*' 'crates/*/examples/*' 'crates/*/migrations/*' \
        'crates/*/assets/*' 'fuzz/Cargo.toml' 'fuzz/*.py' 'fuzz/src/*' 'fuzz/checks/*' 'fuzz/fuzz_targets/*' \
        'scripts/*' 'tests/*' |
        grep -v -e '/package-lock\.json$' -e '/\.gitignore$' -e '/node_modules/' -e '__pycache__' |
        sort -u
}

# The first line of a file's own description (`//!`, `#`, `--`, `//`, `/*` or a docstring), as a
# starting point for its row.
describe() {
    local pattern line
    case "$1" in
        *.rs) pattern='s@^//! ?@@p' ;;
        *.sql) pattern='s@^-- ?([0-9]{4}: )?@@p' ;;
        *.js) pattern='s@^// ?@@p' ;;
        *.css) pattern='s@^/\* ?(.*) \*/$@\1@p' ;;
        *.py) pattern='/^"""/{s@^"""@@; s@"""$@@; p}' ;;
        *) pattern='/^#!/d; s@^# ?@@p' ;;
    esac
    line="$(sed -n -E "$pattern" "$1" | head -1)"
    printf '%s' "${line:-what it holds}"
}

# The map's heading for a file: ### `crates/<name>/`, or ### `<top folder>/`.
section() {
    case "$1" in
        crates/*) printf '%s' "$(cut -d/ -f1-2 <<<"$1")/" ;;
        *) printf '%s' "$(cut -d/ -f1 <<<"$1")/" ;;
    esac
}

missing=()
while IFS= read -r f; do
    [ -f "$f" ] || continue
    grep -qF "\`$f\`" "$map" || missing+=("$f")
done < <(listed)

# Rows of the "Every file" tables (`| \`path\` | ... |`) naming a file that is gone.
stale=()
while IFS= read -r f; do
    [ -e "$f" ] || stale+=("$f")
done < <(sed -n 's/^| `\([^`*{}]*\)` | .*/\1/p' "$map")

# The crate dependency table ("| `signet-x` (...): ... | api, proto |") against each crate's
# [dependencies] on workspace crates: a row that claims more or less than Cargo.toml is stale.
deps_drift="$(python3 - "$map" <<'PY'
import re, sys, pathlib
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"\| (`signet-[^|]*) \| ([^|]*) \|$", line.strip())
    if not m:
        continue
    claimed = set() if m.group(2).strip() == "nothing of ours" else {
        "signet-" + re.sub(r"\(.*?\)", "", d).strip().replace("both backends", "")
        for d in m.group(2).split(",")
    }
    if "both backends" in m.group(2):
        claimed |= {"signet-store-sqlite", "signet-store-postgres"}
    claimed.discard("signet-")
    for crate in re.findall(r"^`(signet-[a-z-]+)`|, `(signet-[a-z-]+)`", m.group(1)):
        rows[next(c for c in crate if c)] = claimed
problems = []
for toml in sorted(pathlib.Path("crates").glob("*/Cargo.toml")):
    text = toml.read_text()
    name = re.search(r'^name = "([^"]+)"', text, re.M).group(1)
    deps = re.search(r"^\[dependencies\]\n(.*?)(^\[|\Z)", text, re.M | re.S)
    actual = set(re.findall(r"^(signet-[a-z-]+)", deps.group(1), re.M)) if deps else set()
    if name not in rows:
        if "[dependencies]" in text and "dev-dependency only" not in text and name != "signet-testkit":
            problems.append(f"{name}: no row in the dependency table")
        continue
    if rows[name] != actual:
        problems.append(f"{name}: the table says {sorted(rows[name])}, Cargo.toml has {sorted(actual)}")
print("\n".join(problems))
PY
)"
if [ -n "$deps_drift" ]; then
    echo "$map's crate dependency table differs from the crates' Cargo.toml:" >&2
    printf '  %s\n' "$deps_drift" >&2
    exit 1
fi

if [ "${#missing[@]}" -eq 0 ] && [ "${#stale[@]}" -eq 0 ]; then
    echo "architecture map: docs/architecture.md names all $(listed | wc -l) source files"
    exit 0
fi
if [ "${#missing[@]}" -gt 0 ]; then
    echo "$map does not name ${#missing[@]} file(s). Add each as a row of the \"Every file\" table under" >&2
    echo "its folder's heading (create the heading for a new crate), with one line on what it holds," >&2
    echo "and give a new concept a row in the \"Concept -> file\" table too:" >&2
    last=""
    for f in "${missing[@]}"; do
        s="$(section "$f")"
        if [ "$s" != "$last" ]; then
            printf '\n  under ### `%s`:\n' "$s" >&2
            last="$s"
        fi
        printf '  | `%s` | %s |\n' "$f" "$(describe "$f")" >&2
    done
fi
if [ "${#stale[@]}" -gt 0 ]; then
    printf '\n%s names %s file(s) that no longer exist; remove or rename these rows:\n' \
        "$map" "${#stale[@]}" >&2
    printf '  | `%s` | ...\n' "${stale[@]}" >&2
fi
exit 1
