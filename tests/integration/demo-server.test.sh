#!/bin/sh
# Self-check of mcprelay-demo-server: drives the built binary over pipes and
# checks its answers and injected faults.  DEMO names the binary (default
# ./mcprelay-demo-server, or $top_builddir's under make check).  Exits 0/1.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u

DEMO=${DEMO:-${top_builddir:-.}/mcprelay-demo-server}
[ -x "$DEMO" ] || { echo "not ok - no demo server at $DEMO"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/demo-server-test.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
unset "${!MCP_DEMO_@}"	# the environment must not inject faults
failed=0

ok() { echo "ok - $1"; }
not_ok() {
	echo "not ok - $1"
	failed=1
	[ -s "$T/out" ] && sed 's/^/#  out: /' "$T/out" | cut -c1-300
	[ -s "$T/err" ] && sed 's/^/#  err: /' "$T/err" | head -5
}
# has NAME FIXED-STRING [FILE]: the file holds the string.
has() { if grep -qF -- "$2" "${3:-$T/out}"; then ok "$1"; else not_ok "$1"; fi; }
lacks() { if grep -qF -- "$2" "${3:-$T/out}"; then not_ok "$1"; else ok "$1"; fi; }
# is NAME WANT GOT
is() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (want $2, got $3)"; fi; }
# A sanitizer build reports leaks and errors on stderr.
clean_exit() { if grep -q 'Sanitizer\|runtime error' "$T/err"; then not_ok "$1 runs clean"; fi; }
# run ARGS...: feeds $T/in (messages, one a line) and waits for the exit.
run() {
	timeout 10 "$DEMO" "$@" <"$T/in" >"$T/out" 2>"$T/err"; rc=$?
	clean_exit "$DEMO $*"
}
msgs() { printf '%s\n' "$@" >"$T/in"; }
req() { # req ID METHOD [PARAMS]
	printf '{"jsonrpc":"2.0","id":%s,"method":"%s","params":%s}' \
	    "$1" "$2" "${3:-{\}}"
}
call() { req "$1" tools/call "{\"name\":\"$2\",\"arguments\":${3:-{\}}}"; }
init() { req 1 initialize "{\"protocolVersion\":\"$1\",\"capabilities\":${2:-{\}},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}"; }
count() { grep -cF -- "$1" "${2:-$T/out}"; }

# --- protocol ------------------------------------------------------------
msgs "$(init 2025-06-18)"; run
has "initialize keeps a supported client version" '"id":1,"result":{"protocolVersion":"2025-06-18"'
is "EOF on stdin exits 0" 0 "$rc"
msgs "$(init 2030-01-01)"; run
has "initialize answers an unknown version with 2025-11-25" '"protocolVersion":"2025-11-25"'
has "initialize names the server" '"serverInfo":{"name":"mcprelay-demo"'

msgs "$(init 2025-11-25)" '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
    "$(req 2 tools/list)" "$(call 3 add '{"a":2,"b":3}')" \
    "$(call 4 echo '{"text":"hello"}')" "$(call 5 increment)" \
    "$(call 6 increment)" "$(req 7 no/such/method)" 'this is {not json' \
    "$(call 8 add '{"a":"x","b":1}')" "$(req 9 ping)"
run --exec-log "$T/exec.log"
tools=$(grep -F '"id":2,' "$T/out" | grep -o '"name":"[a-z_]*","description"' | tr '\n' ' ')
is "tools/list lists the 7 tools" '"name":"echo","description" "name":"add","description" "name":"sleep_ms","description" "name":"current_time","description" "name":"increment","description" "name":"ask_model","description" "name":"log_message","description" ' "$tools"
is "six tools are read-only" 6 "$(grep -F '"id":2,' "$T/out" | grep -o '"readOnlyHint":true' | wc -l)"
has "increment is neither read-only nor idempotent nor destructive" '"name":"increment","description":"Adds by (default 1) to a counter; returns its value.","inputSchema":{"type":"object","properties":{"by":{"type":"integer"}},"required":[]},"annotations":{"readOnlyHint":false,"idempotentHint":false,"openWorldHint":false,"destructiveHint":false}}'
has "add 2+3 is 5" '"id":3,"result":{"content":[{"type":"text","text":"5"}]}'
has "echo echoes" '"id":4,"result":{"content":[{"type":"text","text":"hello"}]}'
has "increment counts 1" '"id":5,"result":{"content":[{"type":"text","text":"1"}]}'
has "increment counts 2" '"id":6,"result":{"content":[{"type":"text","text":"2"}]}'
is "the exec log has a line per increment" 2 "$(count '{"tool":"increment","id":' "$T/exec.log")"
has "an unknown method is -32601" '"id":7,"error":{"code":-32601'
has "a line that is not JSON is -32700" '"id":null,"error":{"code":-32700'
has "bad arguments are -32602" '"id":8,"error":{"code":-32602'
has "it carries on after errors" '"id":9,"result":{}'

S='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}'
msgs "$(req 1 tools/call "{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":1},$S}")"; run
has "a 2026-07-28 request needs no initialize" '"id":1,"result":{"content":[{"type":"text","text":"2"}],"resultType":"complete"'

head -c 5000000 /dev/zero | tr '\0' x >"$T/in"; printf '\n%s\n' "$(req 2 ping)" >>"$T/in"; run
is "a line over 4 MiB is one -32700" 1 "$(count '"id":null,"error":{"code":-32700')"
has "and the next line is served" '"id":2,"result":{}'

# --- faults --------------------------------------------------------------
msgs "$(req 1 ping)"
run --fail-starts 2 --state-file "$T/state" --starts-log "$T/starts"; rc1=$rc
has "a failing start says so" 'demo: failing start 1 of 2' "$T/err"
run --fail-starts 2 --state-file "$T/state" --starts-log "$T/starts"; rc2=$rc
run --fail-starts 2 --state-file "$T/state" --starts-log "$T/starts"
is "--fail-starts 2: two starts exit 1, the third serves" "1 1 0" "$rc1 $rc2 $rc"
has "the third start answers" '"id":1,"result":{}'
is "the starts log has every start" 3 "$(count '{"pid":' "$T/starts")"

msgs "$(init 2025-11-25)" "$(call 2 increment)" "$(req 3 ping)"
rm -f "$T/exec.log"; run --exit-during increment --exec-log "$T/exec.log"
is "--exit-during increment exits 4" 4 "$rc"
has "and logs the call first" '{"tool":"increment","id":2,' "$T/exec.log"
lacks "and never answers it" '"id":2,'
MCP_DEMO_EXIT_AFTER=2 run
is "MCP_DEMO_EXIT_AFTER=2 exits 3" "3 2" "$rc $(wc -l <"$T/out")"
run --hang-after 1 --stderr-noise
is "--hang-after 1 answers one request, then EOF exits 0" "0 1" "$rc $(wc -l <"$T/out")"
has "--stderr-noise logs each request" 'noise: request 2: tools/call' "$T/err"
run --error-method ping --garbage-after 1 --delay-ms 50
has "--error-method answers -32603" '"id":3,"error":{"code":-32603,"message":"injected failure"}'
is "--garbage-after 1 writes one non-JSON line" 1 "$(grep -cv '^{' "$T/out")"

# --- live pipe: progress, sampling, cancellation ---------------------------
coproc DEMO_CO { exec timeout 10 "$DEMO" 2>"$T/err"; }
pid=$DEMO_CO_PID
exec {to}>&"${DEMO_CO[1]}" {from}<&"${DEMO_CO[0]}"
exec {DEMO_CO[1]}>&-
send() { printf '%s\n' "$1" >&"$to"; }
# upto FIXED: reads lines into $T/out until one holds FIXED.
upto() {
	local line
	while IFS= read -r -t 5 line <&"$from"; do
		printf '%s\n' "$line" >>"$T/out"
		case $line in *"$1"*) return 0 ;; esac
	done
	return 1
}
: >"$T/out"
send "$(init 2025-11-25 '{"sampling":{}}')"; upto '"id":1,'
send "$(req 2 tools/call '{"name":"sleep_ms","arguments":{"ms":250},"_meta":{"progressToken":"tok"}}')"
upto '"id":2,' || not_ok "sleep_ms answers"
is "sleep_ms sends progress before its result" \
    '"progress":100 "progress":200 "progress":250 "id":2' \
    "$(grep -o '"progress":[0-9]*\|"id":2' "$T/out" | tr '\n' ' ' | sed 's/ $//')"
send "$(call 3 ask_model '{"prompt":"2+2?"}')"
upto '"method":"sampling/createMessage"'
has "ask_model sends sampling/createMessage" '{"jsonrpc":"2.0","id":"s-1","method":"sampling/createMessage"'
send '{"jsonrpc":"2.0","id":"s-1","result":{"role":"assistant","content":{"type":"text","text":"four"},"model":"m"}}'
upto '"id":3,'
has "ask_model returns the model's text" '"id":3,"result":{"content":[{"type":"text","text":"four"}]}'
send "$(call 4 sleep_ms '{"ms":5000}')"
send '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":4}}'
send "$(req 5 ping)"; upto '"id":5,'
exec {to}>&-
if upto '"id":4,'; then not_ok "a cancelled request gets no answer"
else ok "a cancelled request gets no answer"; fi
exec {from}<&-
wait "$pid"; rc=$?
is "closing stdin ends it with 0" 0 "$rc"
clean_exit "the live session"

exit "$failed"
