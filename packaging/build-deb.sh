#!/bin/sh
# build-deb.sh TARBALL [OUTDIR]: build the Debian package from a release
# tarball (make dist) as a Debian builder would -- unpack, packaging/debian
# becomes debian/, dpkg-buildpackage -us -uc -b -- then run lintian on it.
# The .deb, .changes, .buildinfo, build.log and lintian.txt land in OUTDIR
# (default: the current directory).  Exit 1 on a failed build or on any
# lintian error; warnings are listed (docs/packaging.md explains them).
set -eu

[ $# -ge 1 ] || { echo "usage: build-deb.sh TARBALL [OUTDIR]" >&2; exit 2; }
tarball=$(readlink -f "$1")
out=$(readlink -f "${2:-.}")
for tool in dpkg-buildpackage dh lintian; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "build-deb.sh: $tool is missing: apt-get install" \
		    "dpkg-dev debhelper lintian" >&2
		exit 1
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/mcprelay-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
tar -xzf "$tarball" -C "$work"
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'mcprelay-*')
cp -R "$src/packaging/debian" "$src/debian"

echo "build-deb.sh: dpkg-buildpackage -us -uc -b in $src"
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1
then
	tail -n 60 "$out/build.log"
	echo "build-deb.sh: dpkg-buildpackage failed (log: $out/build.log)" >&2
	exit 1
fi
rm -f "$out"/mcprelay_*.deb "$out"/mcprelay-dbgsym_*.deb
cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out"/
changes=$(ls "$out"/mcprelay_*.changes)
for deb in "$out"/mcprelay_*.deb; do
	echo "build-deb.sh: built $deb"
	dpkg-deb --contents "$deb" | awk '{ print "  " $NF }'
done

# Every tag down to info and pedantic is listed; only errors fail.
echo "build-deb.sh: lintian $changes"
set +e
lintian -I --pedantic --fail-on error "$changes" >"$out/lintian.txt" 2>&1
rc=$?
set -e
grep -v '^running with root privileges' "$out/lintian.txt" | sed 's/^/  /' || true
errors=$(grep -c '^E:' "$out/lintian.txt" || true)
warnings=$(grep -c '^W:' "$out/lintian.txt" || true)
echo "build-deb.sh: lintian: $errors errors, $warnings warnings"
[ $rc -eq 0 ] && [ "$errors" -eq 0 ]
