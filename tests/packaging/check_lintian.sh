#!/usr/bin/env bash
# Builds the .deb with `cpack -G DEB` from a configured and built tree and runs Debian's own
# checker on it: `lintian --pedantic --info`. Any E: (error) or W: (warning) tag fails; I:
# (info), P: (pedantic) and X: (experimental) tags are printed for the reader. The package's own
# overrides (packaging/debian/lintian-overrides) say why each one is there.
# Usage: check_lintian.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
for tool in cpack lintian dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || {
    echo "FAIL: $tool is not installed (scripts/install-deps installs lintian and dpkg-dev)" >&2
    exit 1
  }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work" >cpack.log 2>&1) || {
  cat "$work/cpack.log"; echo "FAIL: cpack -G DEB failed" >&2; exit 1; }
deb=$(ls "$work"/*.deb)
echo "== lintian --pedantic --info $(basename "$deb")"
# lintian exits non-zero on errors only; the tags themselves are the verdict here.
out=$(lintian --pedantic --info --display-experimental --tag-display-limit 0 "$deb" 2>&1) || true
echo "${out:-(no tags)}"
if grep -qE '^[EW]: ' <<<"$out"; then
  echo "FAIL: lintian reports errors or warnings (E:/W: above)" >&2
  exit 1
fi
if grep -qiE 'lintian.*(error|fail)|^Traceback|^Can.t ' <<<"$out"; then
  echo "FAIL: lintian did not run cleanly" >&2
  exit 1
fi
echo PASS
