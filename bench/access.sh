#!/bin/sh
# make bench-access: what identifying a client costs (docs/benchmarks.md,
# "Access").  The sock_diag lookup alone on fresh loopback connections
# (IPv4, IPv6), then a mcprelayd: requests on new connections and on one
# kept-alive connection, and the daemon's own count and timing of its
# lookups (one per connection, none per kept-alive request).  Prints a
# Markdown table; BENCH_ACCESS_N (2000) connections per figure.
set -eu

: "${BENCH_BUILDDIR:?}"
n=${BENCH_ACCESS_N:-2000}
b=$BENCH_BUILDDIR
work=$(mktemp -d "${TMPDIR:-/tmp}/mcprelay-bench-access.XXXXXX")
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null || :
		wait "$pid" 2>/dev/null || :
	fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

field() {	# field NAME LINE
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

lookup=$("$b/bench/accessbench" -n "$n" lookup)

port=$("$b/bench/mcpbench" port)
cat >"$work/mcprelay.yaml" <<YAML
log:
  level: warning
listen:
  http: 127.0.0.1:$port
control:
  socket: $work/control.sock
servers: {}
YAML
"$b/mcprelayd" -c "$work/mcprelay.yaml" 2>"$work/mcprelayd.log" &
pid=$!
i=0
until "$b/mcprelayctl" status --socket "$work/control.sock" >/dev/null 2>&1
do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		echo "access.sh: mcprelayd did not start:" >&2
		cat "$work/mcprelayd.log" >&2
		exit 1
	fi
	sleep 0.1
done
http=$("$b/bench/accessbench" -n "$n" http 127.0.0.1 "$port")
stats=$("$b/mcprelayctl" stats --json --socket "$work/control.sock" |
    tr -d ' \n')
count=$(printf '%s' "$stats" | sed -n 's/.*"lookups":{"count":\([0-9]*\).*/\1/p')
failed=$(printf '%s' "$stats" | sed -n 's/.*"lookups":{[^}]*"failed":\([0-9]*\).*/\1/p')
total=$(printf '%s' "$stats" | sed -n 's/.*"totalMicros":\([0-9]*\).*/\1/p')
max=$(printf '%s' "$stats" | sed -n 's/.*"maxMicros":\([0-9]*\).*/\1/p')
mean=$(awk -v t="$total" -v c="$count" 'BEGIN { printf "%.1f", c ? t / c : 0 }')

echo "| figure (µs) | p50 | p90 | p99 | max |"
echo "|---|---|---|---|---|"
for k in ipv4_us ipv6_us; do
	if [ "$(field "$k" "$lookup")" = unavailable ]; then
		echo "| sock_diag lookup, $k | not available | | | |"
		continue
	fi
	echo "| sock_diag lookup alone, ${k%_us} | $(field ${k}_p50 "$lookup") |" \
	    "$(field ${k}_p90 "$lookup") | $(field ${k}_p99 "$lookup") |" \
	    "$(field ${k}_max "$lookup") |"
done
for k in new_conn_us keepalive_us; do
	case $k in
	new_conn_us) what="request on a new connection (connect + lookup + 404)" ;;
	*) what="request on a kept-alive connection (404)" ;;
	esac
	echo "| $what | $(field ${k}_p50 "$http") | $(field ${k}_p90 "$http") |" \
	    "$(field ${k}_p99 "$http") | $(field ${k}_max "$http") |"
done
echo
echo "mcprelayd: $(field connections "$http") connections," \
    "$(field requests "$http") requests: $count lookups ($failed failed)," \
    "mean $mean µs, max $max µs inside the daemon"
if [ "$count" != "$(field connections "$http")" ]; then
	echo "access.sh: expected one lookup per connection" >&2
	exit 1
fi
