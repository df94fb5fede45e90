#!/bin/sh
# The chaos suite (docs/chaos.md).  make check: chaos.test.mjs, a short run
# (CHAOS_SECONDS, default 30).  make chaos: chaos.mjs, a soak run
# (CHAOS_SECONDS, default 600), its report on stdout.
# Exit status: non-zero when a check failed, 124 on the global timeout.
set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)
export top_srcdir top_builddir

if ! command -v node >/dev/null 2>&1; then
	echo "chaos: node is not installed (Node 20 or later)" >&2
	exit 1
fi
if [ "${1:-}" = soak ]; then
	seconds=${CHAOS_SECONDS:-600}
	timeout --kill-after=15 $((seconds + 300)) node "$here/chaos.mjs" \
	    --seconds "$seconds" --seed "${CHAOS_SEED:-7}"
else
	# The file is run as a program, not under `node --test`: that runner
	# also waits for its child's stdout and stderr to close, which any
	# process that inherited them can delay.  chaos.test.mjs ends itself.
	seconds=${CHAOS_SECONDS:-30}
	CHAOS_SECONDS=$seconds timeout --kill-after=15 $((seconds + 240)) \
	    node "$here/chaos.test.mjs"
fi
rc=$?
[ $rc -eq 124 ] && echo "chaos: timed out" >&2
exit $rc
