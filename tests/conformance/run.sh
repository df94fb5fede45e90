#!/bin/sh
# make conformance: installs the pinned MCP conformance suite and Node 22
# into the build tree (setup-npm.sh), then runs fixture.test.mjs (the
# fixture over stdio, without the suite) and run.mjs (the suite through
# mcprelayd) with arguments naming the runs, all by default.
# Exit status: 0 when every scored check passed, 1 otherwise.
set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)
export top_srcdir top_builddir
dest=$top_builddir/tests/conformance

sh "$here/setup-npm.sh" || {
	echo "run.sh: cannot run the conformance suite: its npm packages" \
	    "are not installed in $dest/node_modules" >&2
	exit 1
}
CONFORMANCE_BIN=$dest/node_modules/@modelcontextprotocol/conformance/dist/index.js
export CONFORMANCE_BIN

# Node 22 from the build tree, else a node on PATH that is new enough.
node=$dest/node_modules/.bin/node
[ -x "$node" ] || node=$(command -v node) || node=
major=0
[ -n "$node" ] && major=$("$node" -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 22 ]; then
	echo "run.sh: the conformance suite needs Node 22 or later; found" \
	    "${node:-no node} ${major}" >&2
	exit 1
fi
echo "run.sh: node $("$node" --version) ($node)," \
    "suite $("$node" "$CONFORMANCE_BIN" --version)"

# Run names: client-* are the client scenarios (run-client.mjs, mcprelayd
# as the client), the others the server scenarios (run.mjs); none: all.
server_runs="" client_runs=""
for r in "$@"; do
	case $r in
	client-*) client_runs="$client_runs $r" ;;
	*) server_runs="$server_runs $r" ;;
	esac
done

rc=0
"$node" --test --test-timeout=60000 "$here/fixture.test.mjs" || rc=1
if [ $# -eq 0 ] || [ -n "$server_runs" ]; then
	# shellcheck disable=SC2086 # run names are single words
	"$node" "$here/run.mjs" $server_runs || rc=1
fi
if [ $# -eq 0 ] || [ -n "$client_runs" ]; then
	# shellcheck disable=SC2086
	"$node" "$here/run-client.mjs" $client_runs || rc=1
fi
exit $rc
