#!/usr/bin/env bash
# The Signet GitHub Action (action.yml): enroll this job with its OIDC token, read the chosen
# secrets, mask them and export them to the job's next steps through $GITHUB_ENV.
#
# The machine key is made in a private temporary SIGNET_HOME (in memory when /dev/shm is there)
# and that folder is removed on every way out of this script, so nothing of the key outlives the
# step; the machine itself expires with the lifetime of the issuer rule that admitted it.
#
# Inputs arrive as environment variables (action.yml maps them):
#   SIGNET_ACTION_SERVER, SIGNET_ACTION_VAULT, SIGNET_ACTION_AUDIENCE (default signet),
#   SIGNET_ACTION_SECRETS (lines ENV_NAME=SECRET_ID or ENV_NAME=SECRET_ID:FIELD),
#   SIGNET_ACTION_BINARY_URL and SIGNET_ACTION_BINARY_SHA256 (only when signet is not on PATH),
#   SIGNET_ACTION_TMPDIR (optional: the folder the temporary SIGNET_HOME is made in).
# GitHub provides GITHUB_ENV, ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN
# (the last two only with `permissions: id-token: write`).
set -euo pipefail
umask 077

# A workflow command's data must have %, CR and LF escaped, or the runner reads them as syntax.
escape() {
  local s=$1
  s=${s//'%'/%25}
  s=${s//$'\r'/%0D}
  s=${s//$'\n'/%0A}
  printf '%s' "$s"
}

die() {
  printf '::error title=signet::%s\n' "$(escape "$1")"
  exit 1
}

server=${SIGNET_ACTION_SERVER:-}
vault=${SIGNET_ACTION_VAULT:-}
audience=${SIGNET_ACTION_AUDIENCE:-signet}
secrets=${SIGNET_ACTION_SECRETS:-}
binary_url=${SIGNET_ACTION_BINARY_URL:-}
binary_sha256=${SIGNET_ACTION_BINARY_SHA256:-}

[ -n "$server" ] || die "the input 'server' is empty"
[ -n "$vault" ] || die "the input 'vault' is empty"
[ -n "$audience" ] || die "the input 'audience' is empty"
[ -n "${GITHUB_ENV:-}" ] || die "GITHUB_ENV is not set: run this as a step of a GitHub Actions job"

# Every line is checked before anything is enrolled, so a typo costs no token.
names=()
ids=()
fields=()
rest=$secrets
while [ -n "$rest" ]; do
  line=${rest%%$'\n'*}
  if [[ $rest == *$'\n'* ]]; then rest=${rest#*$'\n'}; else rest=; fi
  line=${line%$'\r'}
  # Surrounding blanks are YAML indentation, not part of a name or an id.
  line="${line#"${line%%[![:space:]]*}"}"
  line="${line%"${line##*[![:space:]]}"}"
  [ -z "$line" ] && continue
  [[ $line == \#* ]] && continue
  if [[ ! $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=([A-Za-z0-9_]+)(:([^[:space:]]+))?$ ]]; then
    die "secrets: '$line' is not ENV_NAME=SECRET_ID or ENV_NAME=SECRET_ID:FIELD"
  fi
  name=${BASH_REMATCH[1]}
  for seen in "${names[@]}"; do
    [ "$seen" != "$name" ] || die "secrets: $name is given twice"
  done
  names+=("$name")
  ids+=("${BASH_REMATCH[2]}")
  fields+=("${BASH_REMATCH[4]}")
done
[ "${#names[@]}" -gt 0 ] || die "the input 'secrets' names no secret"

# The private folder for the identity (and a downloaded binary): memory-backed when possible.
parent=${SIGNET_ACTION_TMPDIR:-}
if [ -z "$parent" ]; then
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    parent=/dev/shm
  else
    parent=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
  fi
fi
work=$(mktemp -d "$parent/signet-action.XXXXXXXXXX")
cleanup() { rm -rf -- "$work"; }
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
chmod 700 "$work"
mkdir -m 700 "$work/home"
export SIGNET_HOME=$work/home
unset SIGNET_IDENTITY SIGNET_OPERATOR_IDENTITY

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

if ! command -v signet >/dev/null 2>&1; then
  [ -n "$binary_url" ] || die "signet is not on PATH: give signet-url and signet-sha256"
  [[ $binary_sha256 =~ ^[0-9A-Fa-f]{64}$ ]] || die "signet-sha256 must be 64 hex digits"
  case $binary_url in
    https://*) proto='=https' ;;
    # Plain HTTP only to this host (a mirror on the runner, or the tests).
    http://127.0.0.1:* | http://127.0.0.1/* | http://localhost:* | http://localhost/*) proto='=http' ;;
    *) die "signet-url must be https://" ;;
  esac
  curl -fsSL --proto "$proto" --proto-redir '=https' --retry 3 -o "$work/download" "$binary_url" ||
    die "cannot download $binary_url"
  actual=$(sha256_of "$work/download")
  if [ "$actual" != "$(printf '%s' "$binary_sha256" | tr 'A-F' 'a-f')" ]; then
    die "the download's SHA-256 is $actual, not the signet-sha256 given: refused"
  fi
  mkdir -m 700 "$work/bin"
  if [ "$(head -c 2 "$work/download" | od -An -tx1 | tr -d ' \n')" = "1f8b" ]; then
    tar -xzf "$work/download" -C "$work/bin" || die "the download is not a readable .tar.gz"
    [ -f "$work/bin/signet" ] || die "the archive holds no file named signet at its top"
  else
    mv "$work/download" "$work/bin/signet"
  fi
  chmod 755 "$work/bin/signet"
  PATH=$work/bin:$PATH
fi

# `--github-actions` asks GitHub for the job's token itself; this script never holds it.
signet enroll --server "$server" --vault "$vault" --github-actions --audience "$audience" >&2 ||
  die "enrollment failed (see above): check the issuer trust, its audience and its rules"

delimiter=ghadelimiter_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
[ "${#delimiter}" -eq 45 ] || die "cannot read /dev/urandom"
env_text=
for i in "${!names[@]}"; do
  name=${names[$i]}
  id=${ids[$i]}
  field=${fields[$i]}
  # `signet get` ends the value with one newline; the x keeps the value's own trailing ones.
  if ! value=$(signet get "$id" ${field:+"$field"} && printf x); then
    die "cannot read $id for $name (see above)"
  fi
  value=${value%x}
  value=${value%$'\n'}
  # Masked line by line, as GitHub matches masks against single log lines. Blank lines are not
  # masked: a mask of spaces would blank every space in the log and hide nothing.
  rest=$value
  while :; do
    line=${rest%%$'\n'*}
    line=${line%$'\r'}
    if [[ $line == *[![:space:]]* ]]; then
      printf '::add-mask::%s\n' "$(escape "$line")"
    fi
    [[ $rest == *$'\n'* ]] || break
    rest=${rest#*$'\n'}
  done
  if [[ $value == *"$delimiter"* ]]; then
    die "the value of $name contains the random delimiter; run the job again"
  fi
  env_text+="$name<<$delimiter"$'\n'"$value"$'\n'"$delimiter"$'\n'
done
unset value rest line

# All or nothing: $GITHUB_ENV is written only once every secret was read.
printf '%s' "$env_text" >>"$GITHUB_ENV"
unset env_text
printf 'signet: exported %s\n' "${names[*]}"
