#!/bin/sh
# make fuzz: runs each libFuzzer target for FUZZ_SECONDS (default 30) on a
# working copy of its committed corpus, in the build tree.  Exits non-zero
# when any target crashes, leaks or times out; the input that did it is
# left in fuzz-artifacts/TARGET/ for tests/fuzz/corpus/TARGET/.  With
# FUZZ_RUNS=0 each target only runs its corpus once.  FUZZ_JOBS targets
# run at once (default 1).
#
# usage: run-fuzz.sh SRCDIR BUILDDIR TARGET...
set -u

srcdir=$1
builddir=$2
shift 2
seconds=${FUZZ_SECONDS:-30}
if [ -n "${FUZZ_RUNS:-}" ]; then
	limit="-runs=$FUZZ_RUNS"
	what="$FUZZ_RUNS mutations"
else
	limit="-max_total_time=$seconds"
	what="${seconds}s"
fi
jobs=${FUZZ_JOBS:-1}
status="$builddir/fuzz-status"
rm -rf "$status"
mkdir -p "$status"

# One target; its verdict goes to $status/TARGET (0 or 1) for the report.
fuzz_one() {
	t=$1
	bin="$builddir/libfuzzer-$t"
	work="$builddir/fuzz-corpus/$t"
	art="$builddir/fuzz-artifacts/$t"
	mkdir -p "$work" "$art"
	dict=""
	[ -f "$srcdir/$t.dict" ] && dict="-dict=$srcdir/$t.dict"
	# New inputs go to the working corpus; the committed one is read only.
	# shellcheck disable=SC2086
	if "$bin" "$limit" -timeout=10 -rss_limit_mb=2048 \
	    -max_len=8192 -print_final_stats=1 $dict \
	    -artifact_prefix="$art/" "$work" "$srcdir/corpus/$t" \
	    >"$builddir/fuzz-$t.log" 2>&1; then
		echo 0 >"$status/$t"
	else
		echo 1 >"$status/$t"
	fi
}

# FUZZ_JOBS targets at a time (CI: one per core).
n=0
for t in "$@"; do
	echo "==== fuzz $t: $what ===="
	fuzz_one "$t" &
	n=$((n + 1))
	if [ "$n" -ge "$jobs" ]; then
		wait
		n=0
	fi
done
wait

failed=""
for t in "$@"; do
	if [ "$(cat "$status/$t" 2>/dev/null)" = 0 ]; then
		echo "fuzz $t:"
		grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+.*DONE)' \
		    "$builddir/fuzz-$t.log" | tail -n 3
	else
		echo "fuzz $t: FAILED; see $builddir/fuzz-$t.log and" \
		    "$builddir/fuzz-artifacts/$t/"
		# The report without ASan's shadow-byte legend.
		grep -E '(ERROR|SUMMARY|WARNING): |^    #[0-9]+ |^(freed|previously|READ|WRITE)|fuzz invariant|Test unit written' \
		    "$builddir/fuzz-$t.log" | head -n 60
		failed="$failed $t"
	fi
done

if [ -n "$failed" ]; then
	echo "fuzz: failed:$failed"
	exit 1
fi
echo "fuzz: $# targets, $what each, no crash"
