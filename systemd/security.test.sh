#!/bin/sh
# make check: the units parse cleanly (systemd-analyze verify, any warning
# fails), and mcprelayd.service's exposure as "systemd-analyze security
# --offline=true" scores it (0 best .. 10 worst) is at most
# MCPRELAY_EXPOSURE_MAX (2.0, docs/systemd.md).  Prints the figure.  Exit 77
# (skipped) when systemd-analyze is missing or has no --offline (< 250).
set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/.." && pwd)}"
max=${MCPRELAY_EXPOSURE_MAX:-2.0}

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "security.test.sh: systemd-analyze is not installed (package" \
	    "systemd): skipped"
	exit 77
fi
if ! systemd-analyze security --help 2>&1 | grep -q -- '--offline'; then
	echo "security.test.sh: $(systemd-analyze --version | head -n 1)" \
	    "has no --offline: skipped"
	exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/mcprelay-units.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT INT TERM
mkdir "$dir/user" "$dir/run"
# The installed paths (a Debian or Fedora package); ExecStart must name an
# executable for verify, so a stand-in takes /usr/sbin's place there.
printf '#!/bin/sh\n' >"$dir/mcprelayd" && chmod +x "$dir/mcprelayd"
sed -e "s|@sbindir@|/usr/sbin|g" -e "s|@sysconfdir@|/etc|g" \
    "$top_srcdir/systemd/mcprelayd.service.in" >"$dir/mcprelayd.service"
sed -e "s|/usr/sbin/mcprelayd|$dir/mcprelayd|" "$dir/mcprelayd.service" \
    >"$dir/verify.service"
sed -e "s|@sbindir@|$dir|g" "$top_srcdir/systemd/user/mcprelayd.service.in" \
    >"$dir/user/mcprelayd.service"
for s in mcprelayd.socket mcprelayd-mcp.socket mcprelayd-control.socket; do
	sed -e 's|^Service=mcprelayd.service|Service=verify.service|' \
	    "$top_srcdir/systemd/$s" >"$dir/$s"
done

fail=0
cd "$dir" || exit 1
# verify prints a warning (unknown key, bad value) but still exits 0.
out=$(systemd-analyze verify --man=no ./verify.service ./mcprelayd.socket \
    ./mcprelayd-mcp.socket ./mcprelayd-control.socket 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
	echo "FAIL: systemd-analyze verify (system units), status $rc:"
	echo "$out"
	fail=1
else
	echo "ok: systemd-analyze verify: system service and 3 sockets"
fi
out=$(XDG_RUNTIME_DIR=$dir/run systemd-analyze verify --user --man=no \
    ./user/mcprelayd.service 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
	echo "FAIL: systemd-analyze verify --user, status $rc:"
	echo "$out"
	fail=1
else
	echo "ok: systemd-analyze verify --user: user service"
fi

out=$(systemd-analyze security --offline=true --no-pager \
    ./mcprelayd.service 2>&1)
rc=$?
level=$(printf '%s\n' "$out" |
    sed -n 's/.*Overall exposure level for mcprelayd.service: \([0-9.]*\).*/\1/p')
if [ $rc -ne 0 ] || [ -z "$level" ]; then
	echo "FAIL: systemd-analyze security --offline=true, status $rc:"
	echo "$out"
	exit 1
fi
# What is still exposed, with its weight.
printf '%s\n' "$out" | grep '^✗' | sed 's/^/  /'
if awk -v l="$level" -v m="$max" 'BEGIN { exit !(l + 0 <= m + 0) }'; then
	echo "ok: exposure $level <= $max" \
	    "($(systemd-analyze --version | head -n 1))"
else
	echo "FAIL: exposure $level > $max"
	fail=1
fi
exit $fail
