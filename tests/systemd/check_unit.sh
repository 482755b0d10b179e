#!/usr/bin/env bash
# Checks systemd/dunningd.service with systemd's own tools:
#  - `systemd-analyze verify` must print nothing (it exits 0 on unknown keys, so any output fails);
#  - `systemd-analyze security --offline=yes` exposure must be <= the ceiling (default 1.5).
# ExecStart= names /usr/bin/dunningd, which a build tree does not have: the unit is checked as a
# copy pointing at the freshly built binary.
# Usage: check_unit.sh UNIT_FILE DUNNINGD_BINARY [MAX_EXPOSURE]
set -euo pipefail
unit=$1
binary=$2
ceiling=${3:-1.5}

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
