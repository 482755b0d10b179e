#!/usr/bin/env bash
# Builds the .deb with `cpack -G DEB` from a configured and built tree, then checks what
# `dpkg -c` / `dpkg -I` list (binary, conffiles, templates, unit, man page, docs, shlibs Depends)
# and that the packaged binary runs `check` on the packaged config and templates.
# Usage: check_deb.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
for tool in cpack dpkg dpkg-deb dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (dpkg-dev)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# CPack's own staging goes below $work too, so parallel runs do not share it.
(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work" >cpack.log 2>&1) || {
  cat "$work/cpack.log"; echo "FAIL: cpack -G DEB failed" >&2; exit 1; }
deb=$(ls "$work"/*.deb)
echo "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"

fail=0
contents=$(dpkg -c "$deb")
for path in \
    ./usr/bin/dunningd \
    ./etc/dunningd/dunningd.yaml \
    ./etc/dunningd/sequences.yaml \
    ./usr/share/dunningd/templates/en/update-card.yaml \
    ./usr/lib/systemd/system/dunningd.service \
    ./usr/share/man/man1/dunningd.1.gz \
    ./usr/share/doc/dunningd/operations.md \
    ./usr/share/doc/dunningd/README.md \
    ./usr/share/doc/dunningd/copyright \
    ./usr/share/doc/dunningd/changelog.Debian.gz \
    ./usr/share/doc/dunningd/examples/stripe/invoice.payment_failed.json \
    ./usr/share/lintian/overrides/dunningd \
    $(cd "$(dirname "$0")/../.." && ls docs/*.md | sed 's#^docs/#./usr/share/doc/dunningd/#'); do
  if grep -q " ${path}\$" <<<"$contents"; then
    echo "ok   $path"
  else
    echo "MISSING $path" >&2; fail=1
  fi
done

info=$(dpkg -I "$deb")
conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)
for f in /etc/dunningd/dunningd.yaml /etc/dunningd/sequences.yaml; do
  grep -qx "$f" <<<"$conffiles" && echo "ok   conffile $f" || { echo "NOT A CONFFILE $f" >&2; fail=1; }
done
depends=$(sed -n 's/^ Depends: //p' <<<"$info")
echo "Depends: $depends"
for lib in libc6 libcurl4 libsqlite3-0 libsystemd0; do
  grep -q "$lib" <<<"$depends" || { echo "Depends lacks $lib (shlibdeps?)" >&2; fail=1; }
done

# The packaged files work together.
dpkg-deb -x "$deb" "$work/root"
"$work/root/usr/bin/dunningd" --version
"$work/root/usr/bin/dunningd" check --config "$work/root/etc/dunningd/dunningd.yaml" \
  --templates "$work/root/usr/share/dunningd/templates" || { echo "packaged config fails check" >&2; fail=1; }
grep -q '^ExecStart=/usr/bin/dunningd run --config /etc/dunningd/dunningd.yaml$' \
  "$work/root/usr/lib/systemd/system/dunningd.service" || { echo "unit ExecStart wrong" >&2; fail=1; }
# The man page documents every subcommand the binary lists.
subs=$("$work/root/usr/bin/dunningd" --help | awk '/^Subcommands:/ { on = 1; next } on && NF { print $1 }')
for sub in $subs; do
  zcat "$work/root/usr/share/man/man1/dunningd.1.gz" | grep -q "^\.SS dunningd $sub\$" &&
    echo "ok   man page: $sub" || { echo "man page lacks subcommand $sub" >&2; fail=1; }
done

[ "$fail" -eq 0 ] && echo PASS || { echo "FAIL" >&2; exit 1; }
