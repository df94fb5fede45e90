#!/bin/sh
# make check's part of the conformance tests: the fixture of
# mcprelay-demo-server --conformance over stdio (fixture.test.mjs), with
# the system's Node (20 or later); no npm packages, no network.
set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${top_builddir:=$(cd "$here/../.." && pwd)}"
export top_builddir
if ! command -v node >/dev/null 2>&1; then
	echo "fixture.sh: node is not installed (Node 20 or later)" >&2
	exit 1
fi
exec timeout --kill-after=10 120 node --test --test-timeout=60000 \
    "$here/fixture.test.mjs"
