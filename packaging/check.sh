#!/bin/sh
# check.sh [BUILDDIR]: what a release needs from the packaging, in one go
# ("make package-check"): the units parse and mcprelayd.service's
# systemd-analyze security exposure meets the target; the release tarball
# builds a .deb that lintian finds no error in; and, where rpmbuild is
# installed, the RPM spec parses and builds.  Outputs go to
# BUILDDIR/packaging-out.  Exit 0 only if every part that could run passed.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$here/.." && pwd)
builddir=$(cd "${1:-.}" && pwd)
out=$builddir/packaging-out
mkdir -p "$out"
export top_srcdir
fail=0

echo "==== systemd units and hardening"
sh "$top_srcdir/systemd/security.test.sh"
rc=$?
[ $rc -eq 0 ] || [ $rc -eq 77 ] || fail=1
[ $rc -eq 77 ] && echo "(skipped: no systemd-analyze with --offline)"

echo "==== release tarball"
if ! make -C "$builddir" dist-gzip >"$out/dist.log" 2>&1; then
	tail -n 30 "$out/dist.log"
	echo "check.sh: make dist-gzip failed"
	exit 1
fi
tarball=$(ls -t "$builddir"/mcprelay-*.tar.gz | head -n 1)
echo "$tarball"

echo "==== Debian package"
sh "$here/build-deb.sh" "$tarball" "$out" || fail=1

echo "==== monitoring files and the TLS module in the Debian package"
for deb in "$out"/mcprelay_*.deb; do
	[ -f "$deb" ] || continue
	x=$out/deb-contents
	rm -rf "$x" && dpkg-deb -x "$deb" "$x" || { fail=1; continue; }
	for f in usr/share/mcprelay/grafana/mcprelay.json \
	    usr/share/mcprelay/prometheus/mcprelay-rules.yml; do
		[ -s "$x/$f" ] || { echo "check.sh: /$f missing from $deb"; fail=1; }
	done
	# pkglibdir under the multiarch libdir; mcprelayd itself links no
	# OpenSSL (docs/architecture.md).
	set -- "$x"/usr/lib/*/mcprelay/tls.so
	[ -s "$1" ] || { echo "check.sh: /usr/lib/<arch>/mcprelay/tls.so" \
	    "missing from $deb"; fail=1; }
	if readelf -d "$x/usr/sbin/mcprelayd" | grep -q 'NEEDED.*lib\(ssl\|crypto\)'
	then
		echo "check.sh: mcprelayd in $deb needs OpenSSL"; fail=1
	fi
	if command -v promtool >/dev/null 2>&1; then
		promtool check rules \
		    "$x/usr/share/mcprelay/prometheus/mcprelay-rules.yml" || fail=1
	fi
done

echo "==== RPM package"
if command -v rpmbuild >/dev/null 2>&1; then
	sh "$here/build-rpm.sh" "$tarball" "$out" || fail=1
else
	echo "(skipped: rpmbuild is not installed)"
fi

[ $fail -eq 0 ] && echo "check.sh: all passed" || echo "check.sh: FAILED"
exit $fail
