#!/bin/sh
# make check's entry to the integration tests: installs the interop test's
# npm packages when needed (setup-npm.sh), then runs the harness self-test
# and every tests/integration/*.test.mjs with node's test runner, one file
# at a time, under a global timeout.  With arguments, runs just those files.
# Exit status: node's (non-zero on any failure), 124 on the global timeout.
set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)
export top_srcdir top_builddir
dir=$top_srcdir/tests/integration
limit=${MCPRELAY_ITEST_TIMEOUT:-900}

if ! command -v node >/dev/null 2>&1; then
	echo "run.sh: node is not installed (the integration tests need" \
	    "Node 20 or later)" >&2
	exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
	echo "run.sh: node $(node --version) is too old: Node 20 or later" >&2
	exit 1
fi

# A failed install is not fatal here: the other tests still run, and the
# interop test fails and says why.
sh "$dir/setup-npm.sh" ||
    echo "run.sh: setup-npm.sh failed; going on without the npm packages" >&2

if [ $# -eq 0 ]; then
	set -- "$dir"/*.test.mjs
	# The harness's self-test runs a fake daemon: not under a wrapper.
	[ -n "${MCPRELAY_WRAPPER:-}" ] || set -- "$dir/lib/selftest.mjs" "$@"
fi
echo "run.sh: node $(node --version), top_builddir=$top_builddir," \
    "timeout ${limit}s"
# timeout signals node's whole process group; each test file then kills
# the daemons it started (harness.mjs cleans up on SIGTERM).
# MCPRELAY_ITEST_SLOW (a daemon under valgrind) stretches each test's bound.
slow=${MCPRELAY_ITEST_SLOW:-1}
timeout --kill-after=15 "$limit" node --test --test-concurrency=1 \
    --test-timeout=$((60000 * slow)) "$@"
rc=$?
[ $rc -eq 124 ] && echo "run.sh: timed out after ${limit}s" >&2
exit $rc
