#!/bin/sh
# Self-check of the benchmark's parts, run by make check: the demo server's
# HTTP mode (--http), mcpbench against it, and mcpbench's recovery probe
# against mcprelayd with a stdio upstream killed under load: no call may
# fail.  TAP-like ok/not ok lines; exits 0 or 1.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u

src=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
build=${top_builddir:-.}
DEMO=${MCPRELAY_DEMO_SERVER:-$build/mcprelay-demo-server}
MCPRELAYD=${MCPRELAYD:-$build/mcprelayd}
MCPBENCH=${MCPBENCH:-$build/bench/mcpbench}
for f in "$DEMO" "$MCPRELAYD" "$MCPBENCH"; do
	[ -x "$f" ] || { echo "not ok - $f is not built"; exit 1; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/bench-selftest.XXXXXX") || exit 1
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null && echo "# killed $p"
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
unset "${!MCP_DEMO_@}"
failed=0

ok() { echo "ok - $1"; }
not_ok() {
	echo "not ok - $1"
	failed=1
	[ -s "$T/out" ] && sed 's/^/#  out: /' "$T/out" | head -5
}
is() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (want '$2', got '$3')"; fi; }
has() { if grep -qF -- "$2" "$T/out"; then ok "$1"; else not_ok "$1"; fi; }
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$T/out" | head -1; }
mb() { timeout 30 "$MCPBENCH" "$@" >"$T/out" 2>&1; }
post() { local url=$1; shift; mb post "$url" "$@"; }

# waitexit PID: its exit status, SIGKILL after 10 s.
waitexit() {
	local i
	for i in $(seq 100); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1"
}
forget() { pids=("${pids[@]/$1}"); }

# --- the demo server over HTTP ----------------------------------------------
: >"$T/demo.err"		# before the background job opens it
"$DEMO" --http 127.0.0.1:0 2>"$T/demo.err" &
demo=$!
pids+=("$demo")
port=
for i in $(seq 50); do
	port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/mcp$|\1|p' \
	    "$T/demo.err")
	[ -n "$port" ] && break
	sleep 0.1
done
is "--http 127.0.0.1:0 logs the port it bound" yes "$([ -n "$port" ] && echo yes)"
U=http://127.0.0.1:$port/mcp

post "$U" '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
has "initialize answers 200" "status 200"
has "initialize issues an Mcp-Session-Id" "session demo-"
has "initialize negotiates 2025-11-25" '"id":1,"result":{"protocolVersion":"2025-11-25"'
sid=$(sed -n 's/^session //p' "$T/out")	# the server checks it
post "$U" '{"jsonrpc":"2.0","method":"notifications/initialized"}'
is "a notification gets 202" "status 202" "$(cat "$T/out")"
post "$U" '{"jsonrpc":"2.0","id":"e","method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}' -s "$sid"
has "echo answers with its text" '{"jsonrpc":"2.0","id":"e","result":{"content":[{"type":"text","text":"hi"}]}}'
post "$U" 'not json'
has "bad JSON gets 400" "status 400"
has "bad JSON gets -32700 with id null" '"id":null,"error":{"code":-32700'
post "$U" '{"jsonrpc":"2.0","id":2,"method":"no/such"}'
has "an unknown method gets -32601" '"id":2,"error":{"code":-32601'

post "$U" '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"sleep_ms","arguments":{"ms":400}}}' &
sleeper=$!
sleep 0.1
timeout 10 "$MCPBENCH" post "$U" '{"jsonrpc":"2.0","id":4,"method":"ping"}' >"$T/ping" 2>&1
is "a ping is answered while a sleep_ms call waits" "status 200" "$(head -1 "$T/ping")"
wait "$sleeper"
has "the sleep_ms call is answered after its sleep" '"id":3,"result":{"content":[{"type":"text","text":"slept 400 ms"}]}'

mb latency "$U" -n 300 -w 20 -c 3
is "300 sequential calls on 3 connections, none failed" "300 0" "$(kv n) $(kv failed)"
mb sessions "$U" -n 40 -c 4
is "40 sessions initialized" "40 0" "$(kv ok) $(kv failed)"

timeout 10 "$MCPBENCH" post "$U" '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"sleep_ms","arguments":{"ms":5000}}}' >"$T/pending" 2>&1 &
pending=$!
sleep 0.2
kill -TERM "$demo"
waitexit "$demo"
is "SIGTERM exits 0" 0 $?
forget "$demo"
wait "$pending"
is "a call still waiting at SIGTERM gets 503" "status 503" "$(head -1 "$T/pending")"
if grep -q 'Sanitizer\|runtime error' "$T/demo.err"; then
	not_ok "the HTTP demo server runs clean"; sed 's/^/#  /' "$T/demo.err" | head -20
fi

"$DEMO" --http 127.0.0.1 2>"$T/err"
is "--http without a port is a usage error" 2 $?

# --- recovery behind mcprelayd ----------------------------------------------
port=$("$MCPBENCH" port)
awk -v port="$port" -v ctl="$T/control.sock" -v servers="  demo:
    type: stdio
    command: $DEMO
    args: [\"--starts-log\", \"$T/starts\"]" '
    /@SERVERS@/ { print servers; next }
    { gsub(/@PORT@/, port); gsub(/@CONTROL@/, ctl); print }' \
    "$src/bench/mcprelayd.yaml.in" >"$T/relay.yaml"
"$MCPRELAYD" -f -c "$T/relay.yaml" 2>"$T/relay.log" &
relay=$!
pids+=("$relay")
R=http://127.0.0.1:$port/mcp
for i in $(seq 100); do
	timeout 5 "$MCPBENCH" latency "$R" -n 1 >/dev/null 2>&1 && break
	sleep 0.1
done
mb recover "$R" -c 4 -S "$T/starts" -L "$T/relay.log" -N demo
is "the upstream was killed and restarted" 1 "$(kv restarted)"
is "no call failed while it was down (the queue held them)" 0 "$(kv failed_during_outage)"
is "calls went through after the restart" yes "$(kv ready_to_first_ok_ms | grep -q . && echo yes)"
is "two starts in the starts log" 2 "$(wc -l <"$T/starts")"
kill -TERM "$relay"
waitexit "$relay"
is "mcprelayd exits 0 on SIGTERM" 0 $?
forget "$relay"

exit $failed
