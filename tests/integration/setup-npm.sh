#!/bin/sh
# Installs the interop test's npm packages, pinned by package-lock.json, into
# $top_builddir/tests/integration/node_modules with "npm ci".  Does nothing
# when that lock file is installed there already.  Never installs globally.
# Exit 0 when the packages are in place, 1 when they could not be installed
# (no npm, no network): the interop test then fails and says why.
set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
src=$top_srcdir/tests/integration
dest=$top_builddir/tests/integration
stamp=$dest/node_modules/.mcprelay-package-lock.json

fail() {
	echo "setup-npm: $*" >&2
	echo "setup-npm: *** the interop test (interop-sdk.test.mjs) will FAIL:" \
	    "its npm packages are not installed in $dest/node_modules ***" >&2
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
# --prefer-offline: a warm npm cache is enough, so a later offline rebuild
# still installs.  Shorter retry waits than npm's (up to a minute each) so
# that an offline make check fails in seconds.  --ignore-scripts: nothing
# here needs install scripts.
npm ci --prefix "$dest" --prefer-offline --ignore-scripts --no-audit \
    --no-fund --loglevel=error --fetch-retries=2 \
    --fetch-retry-mintimeout=1000 --fetch-retry-maxtimeout=5000 ||
    fail "npm ci failed (offline?)"
cp "$src/package-lock.json" "$stamp" || fail "cannot write $stamp"
echo "setup-npm: installed:"
npm ls --prefix "$dest" --depth=0 2>/dev/null | sed 1d
