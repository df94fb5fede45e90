#!/bin/sh
# build-rpm.sh TARBALL [OUTDIR]: rpmspec -P on packaging/rpm/mcprelay.spec,
# then rpmbuild -ba from the release tarball (make dist) into OUTDIR
# (default: the current directory).  On a host without Fedora's
# systemd-rpm-macros (Debian), their stand-ins in macros.non-fedora are
# loaded, and build dependencies are not checked (--nodeps: the rpm
# database there is empty); say so in what you report.
set -eu

[ $# -ge 1 ] || { echo "usage: build-rpm.sh TARBALL [OUTDIR]" >&2; exit 2; }
tarball=$(readlink -f "$1")
out=$(readlink -f "${2:-.}")
for tool in rpmbuild rpmspec; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "build-rpm.sh: $tool is missing (Debian: apt-get install" \
		    "rpm)" >&2
		exit 1
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/mcprelay-rpm.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$work/SOURCES" "$work/unpack"
cp "$tarball" "$work/SOURCES/"
tar -xzf "$tarball" -C "$work/unpack"
src=$(find "$work/unpack" -mindepth 1 -maxdepth 1 -type d -name 'mcprelay-*')
spec=$src/packaging/rpm/mcprelay.spec
cp "$src/systemd/mcprelay.sysusers" "$work/SOURCES/mcprelay.sysusers"

set -- --define "_topdir $work"
extra=""
if [ -z "$(rpm --eval '%{?_unitdir}')" ]; then
	echo "build-rpm.sh: no systemd-rpm-macros here: loading" \
	    "packaging/rpm/macros.non-fedora, building with --nodeps"
	set -- "$@" --load "$src/packaging/rpm/macros.non-fedora"
	extra=--nodeps
fi
echo "build-rpm.sh: rpmspec -P"
rpmspec "$@" -P "$spec" >"$out/mcprelay.spec.parsed"
if grep -n '^[^#]*%[a-z_]*[a-z]' "$out/mcprelay.spec.parsed" |
    grep -v -E '^[0-9]+:%(prep|build|install|check|pre|post|preun|postun|files|changelog|description|doc|dir|config|license)\b' \
    >"$work/unexpanded"; then
	echo "build-rpm.sh: macros left unexpanded:" >&2
	cat "$work/unexpanded" >&2
	exit 1
fi
echo "build-rpm.sh: rpmbuild -ba $extra"
if ! rpmbuild "$@" $extra -ba "$spec" >"$out/rpmbuild.log" 2>&1; then
	tail -n 60 "$out/rpmbuild.log"
	echo "build-rpm.sh: rpmbuild failed (log: $out/rpmbuild.log)" >&2
	exit 1
fi
find "$work/RPMS" "$work/SRPMS" -name '*.rpm' -exec cp {} "$out"/ \;
for rpm in "$out"/mcprelay-[0-9]*.rpm; do
	echo "build-rpm.sh: built $rpm"
done
for rpm in "$out"/mcprelay-[0-9]*.x86_64.rpm "$out"/mcprelay-[0-9]*.*.rpm; do
	case $rpm in *.src.rpm|*debug*) continue ;; esac
	[ -f "$rpm" ] || continue
	rpm -qlp "$rpm" 2>/dev/null | sed 's/^/  /'
	break
done
