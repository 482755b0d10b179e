#!/usr/bin/env bash
# Checks systemd/dunningd.service with systemd's own tools:
#  - `systemd-analyze verify` must print nothing (it exits 0 on unknown keys, so any output fails);
#  - `systemd-analyze security --offline=yes` exposure must be <= the ceiling (default 1.5).
# ExecStart= names /usr/bin/dunningd, which a build tree does not have: the unit is checked as a
# copy pointing at the freshly built binary.
#  - every secret the shipped config names has a LoadCredential= line, and LimitNOFILE= is set
#    (when SHIPPED_CONFIG is given).
# Usage: check_unit.sh UNIT_FILE DUNNINGD_BINARY [MAX_EXPOSURE [SHIPPED_CONFIG]]
set -euo pipefail
unit=$1
binary=$2
ceiling=${3:-1.5}
config=${4:-}

if ! command -v systemd-analyze >/dev/null; then
  echo "FAIL: systemd-analyze is not installed (Debian package 'systemd'; scripts/install-deps)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s#/usr/bin/dunningd#${binary}#g" "$unit" > "$work/dunningd.service"

echo "== systemd-analyze verify"
if ! out=$(systemd-analyze verify --man=no "$work/dunningd.service" 2>&1); then
  echo "$out"
  echo "FAIL: systemd-analyze verify failed" >&2
  exit 1
fi
if [ -n "$out" ]; then
  echo "$out"
  echo "FAIL: systemd-analyze verify reported problems (above)" >&2
  exit 1
fi
echo "verify: no problems"

# Every secret the shipped config names (each *_env key, commented-out sections included) has
# its LoadCredential= line, so a credential in /etc/credstore reaches the service.
if [ -n "${config:-}" ]; then
  echo "== LoadCredential= for every secret named in $(basename "$config")"
  names=$(sed -n 's/^[# ]*[a-z_]*_env: *\([A-Z0-9_]*\).*/\1/p' "$config" | sort -u)
  [ -n "$names" ] || { echo "FAIL: no *_env keys found in $config" >&2; exit 1; }
  missing=0
  for name in $names; do
    if grep -qx "LoadCredential=$name" "$unit"; then
      echo "ok   $name"
    else
      echo "MISSING LoadCredential=$name" >&2; missing=1
    fi
  done
  [ "$missing" -eq 0 ] || { echo "FAIL: the unit does not load every secret" >&2; exit 1; }
  grep -q '^LimitNOFILE=' "$unit" || { echo "FAIL: no LimitNOFILE= in the unit" >&2; exit 1; }
  echo "ok   LimitNOFILE=$(sed -n 's/^LimitNOFILE=//p' "$unit")"
fi

echo "== systemd-analyze security --offline=yes"
out=$(systemd-analyze security --offline=yes --no-pager "$work/dunningd.service" 2>&1) || true
echo "$out" | grep -E '^✗' || true
score=$(echo "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -z "$score" ]; then
  echo "$out"
  echo "FAIL: could not read the exposure score (systemd-analyze too old for --offline?)" >&2
  exit 1
fi
echo "exposure score: $score (ceiling $ceiling)"
if awk -v s="$score" -v c="$ceiling" 'BEGIN { exit !(s > c) }'; then
  echo "FAIL: exposure $score is above $ceiling" >&2
  exit 1
fi
echo "PASS"
