#!/usr/bin/env bash
# make bench: mcprelayd against supergateway and mcp-proxy (stdio upstream),
# against a direct connection and nginx (HTTP upstream), its memory per idle
# session and its recovery from an upstream crash, all on loopback.  Prints
# one table of medians with ratios from the same run.  See bench/README.md.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u

src=${BENCH_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${BENCH_BUILDDIR:-$PWD}
DUR=${BENCH_DURATION:-5}	# seconds per wrk run
RUNS=${BENCH_RUNS:-3}		# runs per target; medians are reported
WARM=${BENCH_WARMUP:-1}		# seconds of wrk before the runs
CONNS=${BENCH_CONNECTIONS:-16}
THREADS=${BENCH_THREADS:-1}
CALLS=${BENCH_CALLS:-2000}	# sequential calls per target per run
BLOCKS=${BENCH_BLOCKS:-4}	# ...in that many blocks, targets alternating
SESSIONS=${BENCH_SESSIONS:-10000}
TOOLS=${BENCH_TOOLS:-100 400}	# extra tools per server, routing probe
SEQMAX=${BENCH_SEQ_SECONDS:-3}	# bound on one sequential latency run
PIN=${BENCH_PIN:-1}		# sequential runs: client and target on own CPUs

MCPRELAYD=${MCPRELAYD:-$build/mcprelayd}
DEMO=${MCPRELAY_DEMO_SERVER:-$build/mcprelay-demo-server}
MCPBENCH=${MCPBENCH:-$build/bench/mcpbench}
NM=$build/bench/node_modules
for f in "$MCPRELAYD" "$DEMO" "$MCPBENCH"; do
	[ -x "$f" ] || { echo "bench: $f is not built (make bench)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/mcprelay-bench.XXXXXX") || exit 1
out=$build/bench
mkdir -p "$out"
started=$(date +%s)
declare -A R		# R[target.metric] = value
declare -A NA		# NA[target] = why it did not run
pids=()

log() { printf 'bench: %3ds %s\n' $(( $(date +%s) - started )) "$*" >&2; }

# ---- processes ------------------------------------------------------------

# start NAME CMD...: in its own process group, output to $work/NAME.log.
start() {
	local name=$1
	shift
	: >"$work/$name.log"	# readable before the background job opens it
	setsid "$@" >"$work/$name.log" 2>&1 &
	pids+=("$!")
	eval "pid_$name=$!"
}

# stop PID: SIGTERM to its group, SIGKILL after 5 s.
stop() {
	local pid=$1 i
	kill -TERM -- "-$pid" 2>/dev/null || return 0
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# Every demo server writes its pid to a starts log in $work: whatever the
# peers left behind is found there, by pid.
cleanup() {
	local pid f
	for pid in "${pids[@]}"; do
		stop "$pid"
	done
	for f in "$work"/*.starts; do
		[ -f "$f" ] || continue
		for pid in $(sed -n 's/^{"pid":\([0-9]*\),.*/\1/p' "$f"); do
			if grep -qF "$work" "/proc/$pid/cmdline" 2>/dev/null; then
				kill -KILL "$pid" 2>/dev/null
			fi
		done
	done
	if [ -n "${BENCH_KEEP:-}" ]; then
		log "kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

port() { "$MCPBENCH" port; }

# wait_echo URL: until an echo call goes through (10 s).
wait_echo() {
	local i
	for i in $(seq 100); do
		"$MCPBENCH" latency "$1" -n 1 >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# kv KEY: the value of " KEY=" in each line on stdin.
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a";
	    else if (NR % 2) print v[(NR + 1) / 2];
	    else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# calc EXPR [FORMAT]: awk arithmetic; n/a when an operand is not a number.
calc() {
	case "$1" in *n/a*|*nan*|*inf*) echo n/a; return;; esac
	awk "BEGIN { x = $1; printf \"${2:-%.2f}\", x }" 2>/dev/null || echo n/a
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
anon_kib() { awk '/^RssAnon:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# ---- tools ----------------------------------------------------------------

apt_install() {
	local missing=() p
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		log "missing ${missing[*]}: run 'sudo apt-get install" \
		    "${missing[*]}' for the rows that need them"
		return 1
	fi
	log "installing ${missing[*]} (apt-get)"
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
	    install -y -q --no-install-recommends "${missing[@]}" \
	    >"$work/apt.log" 2>&1 || apt-get update -q >/dev/null 2>&1
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
	    install -y -q --no-install-recommends "${missing[@]}" \
	    >>"$work/apt.log" 2>&1 || { tail -5 "$work/apt.log" >&2; return 1; }
}

# The npm peers, pinned by bench/package-lock.json, into the build tree.
npm_install() {
	local stamp=$NM/.mcprelay-bench-lock.json
	command -v npm >/dev/null 2>&1 || { echo "npm is not installed"; return 1; }
	if [ "$src/bench" != "$out" ]; then
		cp "$src/bench/package.json" "$src/bench/package-lock.json" "$out/"
	fi
	if [ -d "$NM" ] && cmp -s "$src/bench/package-lock.json" "$stamp"; then
		return 0
	fi
	log "npm ci in $out"
	npm ci --prefix "$out" --prefer-offline --ignore-scripts --no-audit \
	    --no-fund --loglevel=error --fetch-retries=2 \
	    --fetch-retry-mintimeout=1000 --fetch-retry-maxtimeout=5000 \
	    >"$work/npm.log" 2>&1 || { echo "npm ci failed: $(tail -1 "$work/npm.log")"; return 1; }
	cp "$src/bench/package-lock.json" "$stamp"
}

have_wrk=1
apt_install wrk || have_wrk=0
have_nginx=1
apt_install nginx || have_nginx=0
[ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx || NGINX=nginx
if why=$(npm_install); then have_npm=1; else have_npm=0; npm_why=$why; fi
SG=$NM/supergateway/dist/index.js
MP=$NM/mcp-proxy/dist/bin/mcp-proxy.mjs
pkgver() { sed -n 's/^  "version": "\(.*\)",$/\1/p' "$NM/$1/package.json" 2>/dev/null; }

# ---- targets --------------------------------------------------------------

# relay_config NAME PORT SERVERS-YAML: $work/NAME.yaml
relay_config() {
	local servers
	servers=$(printf '%s\n' "$3" | sed 's/^/  /')
	awk -v port="$2" -v servers="$servers" -v ctl="$work/$1.ctl" '
	    /@SERVERS@/ { print servers; next }
	    { gsub(/@PORT@/, port); gsub(/@CONTROL@/, ctl); print }' \
	    "$src/bench/mcprelayd.yaml.in" >"$work/$1.yaml"
}

# stdio_server SERVER STARTS [DEMO ARGS...]: a servers: entry for the demo.
stdio_server() {
	local name=$1 starts=$2 a
	shift 2
	printf '%s:\n  type: stdio\n  command: %s\n  args: ["--starts-log", "%s"' \
	    "$name" "$DEMO" "$work/$starts.starts"
	for a in "$@"; do printf ', "%s"' "$a"; done
	printf ']\n'
}

# start_relay NAME SERVERS-YAML: mcprelayd; sets URL_NAME.
start_relay() {
	local p
	p=$(port)
	relay_config "$1" "$p" "$2"
	start "$1" "$MCPRELAYD" -f -c "$work/$1.yaml"
	eval "URL_$1=http://127.0.0.1:$p/mcp"
}

url_of() { eval "echo \$URL_$1"; }

# ready NAME [TOOL]: waits for a call through target NAME, else marks it n/a.
ready() {
	local i
	for i in $(seq 100); do
		"$MCPBENCH" latency "$(url_of "$1")" -n 1 -t "${2:-echo}" \
		    >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	NA[$1]="no answer to a tools/call within 10 s ($(grep -v '^$' \
	    "$work/$1.log" 2>/dev/null | tail -1 | cut -c1-100))"
	log "$1: ${NA[$1]}"
	return 1
}

# launch_TARGET: (re)start that target; measure() starts the proxies afresh
# for every run (see there).  The direct demo server is the HTTP proxies'
# upstream and is started once.
launch_relay() { start_relay relay "$(stdio_server demo relay)"; }

launch_supergateway() {
	local p
	p=$(port)
	start supergateway node "$SG" --stdio \
	    "$DEMO --starts-log $work/supergateway.starts" \
	    --outputTransport streamableHttp --stateful --port "$p" \
	    --logLevel none
	URL_supergateway=http://127.0.0.1:$p/mcp
}

launch_mcpproxy() {
	local p
	p=$(port)
	start mcpproxy node "$MP" --host 127.0.0.1 --port "$p" \
	    --server stream -- "$DEMO" --starts-log "$work/mcpproxy.starts"
	URL_mcpproxy=http://127.0.0.1:$p/mcp
}

launch_relayhttp() {
	start_relay relayhttp "$(printf 'demo:\n  type: http\n  url: %s\n' \
	    "$URL_direct")"
}

launch_nginx() {
	local p
	p=$(port)
	sed -e "s|@WORK@|$work|g" -e "s|@PORT@|$p|g" \
	    -e "s|@UPSTREAM_PORT@|$DIRECT_PORT|g" \
	    -e "s|@USER@|$([ "$(id -u)" -eq 0 ] && echo 'user root;')|" \
	    "$src/bench/nginx.conf.in" >"$work/nginx.conf"
	start nginx "$NGINX" -c "$work/nginx.conf" -p "$work"
	URL_nginx=http://127.0.0.1:$p/mcp
}

start_stdio_targets() {
	launch_relay
	if [ $have_npm -eq 1 ]; then
		launch_supergateway
		launch_mcpproxy
	else
		NA[supergateway]=$npm_why
		NA[mcpproxy]=$npm_why
	fi
}

# HTTP rows: the demo server in HTTP mode alone, behind mcprelayd (when its
# source has the HTTP upstream transport) and behind nginx.
start_http_targets() {
	local p= i
	start direct "$DEMO" --http 127.0.0.1:0 --starts-log "$work/direct.starts"
	for i in $(seq 50); do
		p=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/mcp.*|\1|p' \
		    "$work/direct.log")
		[ -n "$p" ] && break
		sleep 0.1
	done
	DIRECT_PORT=$p
	URL_direct=http://127.0.0.1:$p/mcp
	if [ ! -f "$src/daemon/upstream-http.c" ]; then
		NA[relayhttp]="mcprelayd has no HTTP upstream transport yet (daemon/upstream-http.c is missing)"
	else
		launch_relayhttp
	fi
	if [ $have_nginx -eq 1 ]; then
		launch_nginx
	else
		NA[nginx]="nginx is not installed"
	fi
}

# ---- CPU placement ---------------------------------------------------------

# On a machine with few cores the scheduler's placement of the client, the
# proxy and its upstream moves a sequential call's latency by tens of
# microseconds, differently for each process started (measured: 52-106 us
# direct, and relay/nginx ratios of 0.86-2.19, over fresh pairs of processes
# on 2 cores).  So a sequential run puts its client on CPU 0 and the
# target's processes (proxy, upstream and their children) on CPU 1, the same
# for every target, and gives them all CPUs back after.  BENCH_PIN=0: no.
ALLCPUS=0-$(( $(nproc) - 1 ))
PINNED=
if [ "$PIN" != 0 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	PINNED=1
fi

# tree PID...: those processes and all their descendants.
tree() {
	ps -e -o pid=,ppid= | awk -v roots="$*" '
	    BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) in_[r[i]] = 1 }
	    { parent[$1] = $2; pids[NR] = $1 }
	    END { do { more = 0; for (i in pids) { p = pids[i]
		if (!(p in in_) && (parent[p] in in_)) { in_[p] = 1; more = 1 } } }
		while (more); for (p in in_) print p }'
}

# place TARGET CPUS: the target's processes, and the direct demo server
# behind the HTTP targets, onto CPUS (every thread).
place() {
	local p roots
	roots=$(eval echo "\${pid_$1:-}")
	case $1 in direct|relayhttp|nginx) roots="$roots ${pid_direct:-}";; esac
	for p in $(tree $roots); do
		taskset -a -p -c "$2" "$p" >/dev/null 2>&1
	done
}

# seq_run TARGET MCPBENCH-LATENCY-ARGS...: a sequential run, its client on
# CPU 0 when pinning (the target is placed by the caller, see place()).
seq_run() {
	local t=$1
	shift
	if [ -n "$PINNED" ]; then
		taskset -c 0 "$MCPBENCH" latency "$(url_of "$t")" "$@"
	else
		"$MCPBENCH" latency "$(url_of "$t")" "$@"
	fi
}

# seq_blocks TARGET...: CALLS sequential calls for each target in BLOCKS
# blocks, the targets taking turns block by block; a line per block in
# $work/TARGET.lat.
seq_blocks() {
	local t b n=$(( (CALLS + BLOCKS - 1) / BLOCKS ))
	if [ -n "$PINNED" ]; then
		for t in "$@"; do place "$t" 1; done
	fi
	for b in $(seq "$BLOCKS"); do
		for t in "$@"; do
			seq_run "$t" -n "$n" -w 20 -d "$(calc "$SEQMAX / $BLOCKS" %.2f)" \
			    >>"$work/$t.lat" 2>>"$work/$t.err"
		done
	done
	if [ -n "$PINNED" ]; then
		for t in "$@"; do place "$t" "$ALLCPUS"; done
	fi
}

# ---- measurements ---------------------------------------------------------

# wrk_run TARGET SECONDS [CONNECTIONS [TOOL]]: one line "WRK ..."
wrk_run() {
	local url sid
	url=$(url_of "$1")
	sid=$("$MCPBENCH" session "$url" 2>/dev/null) || { echo "WRK failed"; return; }
	MCP_SESSION=$sid MCP_TOOL=${4:-echo} wrk -t"$THREADS" -c"${3:-$CONNS}" \
	    -d"$2"s --timeout 5s -s "$src/bench/mcp-call.lua" "$url" 2>&1 |
	    grep '^WRK' || echo "WRK failed"
}

# warm TARGET: wrk for WARM seconds and 200 sequential calls, unmeasured.
warm() {
	[ $have_wrk -eq 1 ] && wrk_run "$1" "$WARM" >/dev/null
	"$MCPBENCH" latency "$(url_of "$1")" -n 200 >/dev/null 2>&1
}

# measure TARGET...: RUNS rounds over the targets in turn, so that a change
# in the machine's load hits each of them alike.  Every proxy (a target
# with a launch_ function) is started afresh, and warmed up, for each run:
# where the scheduler places a process and its peers on this machine's
# cores sticks to it for its life and moves a sequential call's latency by
# tens of microseconds, so runs of one process would be one sample of it.
# A round's sequential calls come before its wrk runs, in blocks with the
# targets taking turns: this machine's latency drifts by tens of
# microseconds over seconds, and the targets' figures are compared with
# each other, block by block.
measure() {
	local t m run line live=() ok
	for t in "$@"; do
		[ -n "${NA[$t]:-}" ] && continue
		ready "$t" && live+=("$t")
	done
	for t in "${live[@]}"; do
		warm "$t"
	done
	for run in $(seq "$RUNS"); do
		ok=()
		for t in "${live[@]}"; do
			if [ "$run" -gt 1 ] && declare -F "launch_$t" >/dev/null &&
			    [ -z "${NA[$t]:-}" ]; then
				stop "$(eval echo "\$pid_$t")"
				"launch_$t"
				ready "$t" || continue
				warm "$t"
			fi
			[ -z "${NA[$t]:-}" ] && ok+=("$t")
		done
		log "${ok[*]}: run $run of $RUNS"
		seq_blocks "${ok[@]}"
		[ $have_wrk -eq 1 ] || continue
		for t in "${ok[@]}"; do
			line=$(wrk_run "$t" "$DUR")
			echo "$line" >>"$work/$t.wrk"
			[ "$line" = "WRK failed" ] && log "$t: wrk failed"
		done
	done
	for t in "${live[@]}"; do
		for m in rps p50_us p99_us; do
			R[$t.$m]=$(grep -h '^WRK requests' "$work/$t.wrk" \
			    2>/dev/null | kv "$m" | median)
		done
		R[$t.rps_range]=$(grep -h '^WRK requests' "$work/$t.wrk" \
		    2>/dev/null | kv rps | sort -g | awk 'NR == 1 { a = $1 }
		    { b = $1 } END { if (NR) printf "%.0f–%.0f", a, b }')
		R[$t.errors]=$(grep -h '^WRK requests' "$work/$t.wrk" 2>/dev/null |
		    awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^(errors|bad)=/) {
		    split($i, a, "="); n += a[2] } } END { print n + 0 }')
		R[$t.wrk_failed]=$(grep -c '^WRK failed' "$work/$t.wrk" 2>/dev/null)
		for m in p50_us p99_us; do
			R[$t.seq_$m]=$(grep -h '^latency' "$work/$t.lat" \
			    2>/dev/null | kv "$m" | median)
		done
		R[$t.seq_failed]=$(grep -h '^latency' "$work/$t.lat" 2>/dev/null |
		    kv failed | awk '{ n += $1 } END { print n + 0 }')
		R[$t.hwm_kib]=$(hwm_kib "$(eval echo "\$pid_$t")")
	done
}

# Idle sessions held by a fresh mcprelayd: VmRSS idle, at 1,000 and at
# $SESSIONS; a session opened first must still answer at the end.
measure_memory() {
	local first n=0 target line
	start_relay mem "$(stdio_server demo mem)"
	ready mem || return
	sleep 0.5
	R[mem.idle_kib]=$(rss_kib "$pid_mem")
	R[mem.idle_anon_kib]=$(anon_kib "$pid_mem")
	first=$("$MCPBENCH" session "$URL_mem") && n=1
	for target in 1000 "$SESSIONS"; do
		[ "$target" -gt "$n" ] || continue
		line=$("$MCPBENCH" sessions "$URL_mem" -c 4 -n $((target - n)))
		log "memory: $line"
		n=$((n + $(echo "$line" | kv ok)))
		R[mem.rss_$target]=$(rss_kib "$pid_mem")
		R[mem.n_$target]=$n
	done
	R[mem.sessions]=$n
	R[mem.held]=no
	"$MCPBENCH" post "$URL_mem" '{"jsonrpc":"2.0","id":1,"method":"ping"}' \
	    -s "$first" 2>/dev/null | grep -q '^status 200' && R[mem.held]=yes
	stop "$pid_mem"
}

# Kill the stdio upstream under a steady stream of calls from 4 clients,
# RUNS times; mcprelayd restarts it at once and sends what it queued.
measure_recovery() {
	local run line m
	start_relay rec "$(stdio_server demo rec)"
	ready rec || return
	for run in $(seq "$RUNS"); do
		line=$("$MCPBENCH" recover "$URL_rec" -c 4 -S "$work/rec.starts" \
		    -L "$work/rec.log" -N demo)
		log "recovery: $line"
		echo "$line" >>"$work/rec.txt"
		sleep 0.3
	done
	for m in kill_to_reconnect_ms kill_to_spawn_ms spawn_to_ready_ms \
	    ready_to_first_ok_ms spawn_to_first_ok_ms kill_to_first_ok_ms; do
		R[rec.$m]=$(calc "$(kv "$m" <"$work/rec.txt" | median)" %.1f)
		R[rec.$m]="${R[rec.$m]} ms$(kv "$m" <"$work/rec.txt" | sort -g |
		    awk 'NR == 1 { a = $1 } { b = $1 } END { if (NR > 1)
		    printf " (%.1f–%.1f)", a, b }')"
	done
	R[rec.failed]=$(kv failed_during_outage <"$work/rec.txt" |
	    awk '{ n += $1 } END { print n + 0 }')
	R[rec.restarts]=$(grep -c 'restarted=1' "$work/rec.txt")
	stop "$pid_rec"
}

# The aggregate endpoint's name lookup: two servers whose tool names all
# clash (so every call resolves a prefixed name), with the demo's 7 tools
# and with each of $TOOLS more.  demo2__echo is the last server's tool.
measure_routing() {
	local n names t
	for n in 0 $TOOLS; do
		t=tools$n
		names=$(seq -f 't%04g' 1 "$n" | paste -sd, -)
		start_relay "$t" "$(stdio_server demo "$t" ${names:+--tools-extra "$names"}
		    stdio_server demo2 "$t" ${names:+--tools-extra "$names"})"
		if ready "$t" demo2__echo; then
			[ -n "$PINNED" ] && place "$t" 1
			R[$t.seq_p50_us]=$(seq_run "$t" -n 300 -w 10 \
			    -d "$SEQMAX" -t demo2__echo | kv p50_us)
			[ -n "$PINNED" ] && place "$t" "$ALLCPUS"
			[ $have_wrk -eq 1 ] && R[$t.rps]=$(wrk_run "$t" "$DUR" \
			    "$CONNS" demo2__echo | kv rps)
		fi
		stop "$(eval echo "\$pid_$t")"
	done
}

# ---- report ---------------------------------------------------------------

num() { case "$1" in ''|n/a) echo n/a;; *) calc "$1" "${2:-%.0f}";; esac; }
ms() { case "$1" in ''|n/a) echo n/a;; *) calc "$1 / 1000" "%.2f";; esac; }
mib() { case "$1" in ''|n/a) echo n/a;; *) calc "$1 / 1024" "%.1f";; esac; }

# row TARGET LABEL: a line of the throughput tables.
row() {
	local t=$1
	if [ -n "${NA[$t]:-}" ]; then
		printf '| %s | not available: %s |||||||\n' "$2" "${NA[$t]}"
		return
	fi
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$2" \
	    "$(num "${R[$t.rps]:-n/a}")" "${R[$t.rps_range]:-n/a}" \
	    "$(ms "${R[$t.p50_us]:-n/a}")" \
	    "$(ms "${R[$t.p99_us]:-n/a}")" "$(num "${R[$t.seq_p50_us]:-n/a}")" \
	    "$(num "${R[$t.seq_p99_us]:-n/a}")" "$(mib "${R[$t.hwm_kib]:-n/a}")" \
	    "$(( ${R[$t.errors]:-0} + ${R[$t.seq_failed]:-0} + ${R[$t.wrk_failed]:-0} ))"
}

# verdict OK-EXPR: met, MISSED or n/a.
verdict() {
	case "$1" in *n/a*|'') echo "n/a"; return;; esac
	if [ "$(calc "($1) ? 1 : 0" %d)" = 1 ]; then echo met; else echo MISSED; fi
}

# added TARGET: its sequential p50 over the direct one, in µs: the median of
# each block's difference (the two measured one right after the other),
# or, when a block of either is missing, the difference of the medians.
added() {
	local t=$1
	if [ -s "$work/$t.lat" ] && [ "$(grep -c '^latency' "$work/$t.lat")" = \
	    "$(grep -c '^latency' "$work/direct.lat" 2>/dev/null)" ]; then
		calc "$(paste -d' ' <(grep -h '^latency' "$work/$t.lat" |
		    kv p50_us) <(grep -h '^latency' "$work/direct.lat" |
		    kv p50_us) | awk '{ print $1 - $2 }' | median)" %.1f
		return
	fi
	calc "${R[$t.seq_p50_us]:-n/a} - ${R[direct.seq_p50_us]:-n/a}" %.1f
}

# The blocks' own ratios of mcprelayd's added latency to nginx's: the
# middle half of them, "; block by block Q1–Q3".
added_blocks() {
	local f
	for f in relayhttp nginx direct; do
		[ -s "$work/$f.lat" ] || return
	done
	paste -d' ' <(grep -h '^latency' "$work/relayhttp.lat" | kv p50_us) \
	    <(grep -h '^latency' "$work/nginx.lat" | kv p50_us) \
	    <(grep -h '^latency' "$work/direct.lat" | kv p50_us) |
	    awk 'NF == 3 && $2 > $3 { print ($1 - $3) / ($2 - $3) }' | sort -g |
	    awk '{ v[NR] = $1 } END { if (NR > 3) printf "; block by block, " \
	    "middle half %.2f–%.2f", v[int((NR + 3) / 4)], v[int((3 * NR + 1) / 4)] }'
}

report() {
	local h="| target | req/s | req/s min–max | p50 ms | p99 ms | seq p50 µs | seq p99 µs | peak RSS MiB | failed |"
	local hs="|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	local best_peer=n/a t v rr add_relay add_nginx per1 perN
	for t in supergateway mcpproxy; do
		v=${R[$t.rps]:-}
		[ -z "$v" ] && continue
		if [ "$best_peer" = n/a ] || [ "$(calc "$v > $best_peer" %d)" = 1 ]; then
			best_peer=$v
		fi
	done
	rr=${R[relay.rps]:-n/a}
	add_relay=$(added relayhttp)
	add_nginx=$(added nginx)
	per1=$(calc "(${R[mem.rss_1000]:-n/a} - ${R[mem.idle_kib]:-n/a}) * 1024 / (${R[mem.n_1000]:-n/a})" %.0f)
	perN=$(calc "(${R[mem.rss_$SESSIONS]:-n/a} - ${R[mem.idle_kib]:-n/a}) * 1024 / (${R[mem.n_$SESSIONS]:-n/a})" %.0f)

	cat <<-EOF
	## mcprelay benchmark

	tools/call \`echo\` on loopback.  Load: wrk, $THREADS thread, $CONNS connections,
	$RUNS runs of ${DUR} s, each proxy started afresh and warmed up (${WARM} s) for every
	run (req/s, p50, p99: medians of the runs; peak RSS: the last run's process);
	sequential: one client, one session per block, $CALLS calls per target per run in
	$BLOCKS blocks, the targets taking turns block by block, $([ -n "$PINNED" ] &&
	    echo "the client on CPU 0 and the target's processes on CPU 1" ||
	    echo "not pinned to CPUs").

	Run $(date -u '+%Y-%m-%d %H:%M UTC') with \`make bench\` on mcprelay $(git -C "$src" describe --always --dirty 2>/dev/null || echo "(no git)").
	Machine: $(nproc) cores, $(sed -n 's/^model name\t: //p' /proc/cpuinfo | head -1),
	$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr);
	build: ${BENCH_CFLAGS:-unknown}; priority: nice ${BENCH_NICE:-0}.
	Load average before/after: $load0 / $(cut -d' ' -f1-3 /proc/loadavg).
	$busy

	### stdio upstream (mcprelay-demo-server)

	$h
	$hs
	$(row relay "mcprelayd")
	$(row supergateway "supergateway $(pkgver supergateway) (--stateful)")
	$(row mcpproxy "mcp-proxy $(pkgver mcp-proxy)")

	mcprelayd / supergateway: $(calc "$rr / ${R[supergateway.rps]:-n/a}") × req/s,
	$(calc "${R[supergateway.seq_p50_us]:-n/a} / ${R[relay.seq_p50_us]:-n/a}") × lower sequential p50;
	mcprelayd / mcp-proxy: $(calc "$rr / ${R[mcpproxy.rps]:-n/a}") × req/s,
	$(calc "${R[mcpproxy.seq_p50_us]:-n/a} / ${R[relay.seq_p50_us]:-n/a}") × lower sequential p50.
	mcprelayd at 256 connections (one run): $(num "$(echo "${R[relay.c256]:-}" | kv rps)") req/s,
	p99 $(ms "$(echo "${R[relay.c256]:-}" | kv p99_us)") ms, $(echo "${R[relay.c256]:-}" | kv errors) errors.

	### HTTP upstream (mcprelay-demo-server --http)

	$h
	$hs
	$(row direct "direct (no proxy)")
	$(row relayhttp "mcprelayd")
	$(row nginx "nginx $($NGINX -v 2>&1 | sed -n 's|.*nginx/||p') (reverse proxy)")

	Added sequential p50 over direct (median of the blocks' differences): mcprelayd
	$add_relay µs, nginx $add_nginx µs (ratio $(calc "$add_relay / $add_nginx")$(added_blocks)); req/s mcprelayd / nginx: $(calc "${R[relayhttp.rps]:-n/a} / ${R[nginx.rps]:-n/a}").

	### Memory (mcprelayd, stdio demo upstream, idle sessions)

	| idle RSS (of it anonymous) | 1,000 sessions | ${SESSIONS} sessions | per session (1,000) | per session (${SESSIONS}) | first session still answers |
	|---:|---:|---:|---:|---:|---|
	| $(mib "${R[mem.idle_kib]:-n/a}") MiB ($(mib "${R[mem.idle_anon_kib]:-n/a}") MiB) | $(mib "${R[mem.rss_1000]:-n/a}") MiB | $(mib "${R[mem.rss_$SESSIONS]:-n/a}") MiB | $per1 B | $perN B | ${R[mem.held]:-n/a} (${R[mem.sessions]:-0} opened) |

	### Recovery (stdio upstream SIGKILLed under 4 clients calling in a loop; medians of $RUNS)

	| kill → reconnecting | kill → new process | new process → ready | ready → first successful call | kill → first successful call | failed calls |
	|---:|---:|---:|---:|---:|---:|
	| ${R[rec.kill_to_reconnect_ms]:-n/a} | ${R[rec.kill_to_spawn_ms]:-n/a} | ${R[rec.spawn_to_ready_ms]:-n/a} | ${R[rec.ready_to_first_ok_ms]:-n/a} | ${R[rec.kill_to_first_ok_ms]:-n/a} | ${R[rec.failed]:-n/a} (${R[rec.restarts]:-0} restarts) |

	Medians (min–max).  "reconnecting" and "ready" are mcprelayd's log lines
	(1 ms resolution, so the two figures around "ready" may each be off by 1 ms);
	"new process" is the demo server's --starts-log line, written first thing
	in main().  A crash of a ready server is retried at once: the restart
	holds no backoff delay (remaining backoff: 0 ms).

	### Routing: aggregate endpoint, two servers whose tool names all clash

	| tools per server | seq p50 µs (demo2__echo) | req/s |
	|---:|---:|---:|
	$(for n in 0 $TOOLS; do printf '| %d | %s | %s |\n' $((n + 7)) \
	    "$(num "${R[tools$n.seq_p50_us]:-n/a}")" "$(num "${R[tools$n.rps]:-n/a}")"; done)

	### Targets (issue 8)

	| target | measured | verdict |
	|---|---|---|
	| ≥ 10× the req/s of the faster npm peer | $(calc "$rr / $best_peer") × | $(verdict "$rr >= 10 * $best_peer") |
	| p99 ≤ 1 ms at $CONNS connections (stdio) | $(ms "${R[relay.p99_us]:-n/a}") ms | $(verdict "${R[relay.p99_us]:-n/a} <= 1000") |
	| added latency ≤ 1.2× nginx's | $(calc "$add_relay / $add_nginx") × | $(verdict "$add_relay <= 1.2 * $add_nginx") |
	| req/s ≥ 0.8× nginx's | $(calc "${R[relayhttp.rps]:-n/a} / ${R[nginx.rps]:-n/a}") × | $(verdict "${R[relayhttp.rps]:-n/a} >= 0.8 * ${R[nginx.rps]:-n/a}") |
	| idle RSS ≤ 4 MiB | $(mib "${R[mem.idle_kib]:-n/a}") MiB | $(verdict "${R[mem.idle_kib]:-n/a} <= 4096") |
	| ≤ 16 KiB per idle session | $perN B | $(verdict "$perN <= 16384") |
	| ${SESSIONS} sessions held | ${R[mem.sessions]:-0}, first still answers: ${R[mem.held]:-n/a} | $(verdict "${R[mem.sessions]:-0} >= $SESSIONS && \"${R[mem.held]:-no}\" == \"yes\"") |
	| first call ≤ 50 ms after ready | ${R[rec.ready_to_first_ok_ms]:-n/a} | $(verdict "${R[rec.ready_to_first_ok_ms]%% *} <= 50") |
	| no failed call during the outage | ${R[rec.failed]:-n/a} | $(verdict "${R[rec.failed]:-n/a} == 0") |

	Whole run: $(( $(date +%s) - started )) s.
	EOF
}

# ---- main -----------------------------------------------------------------

# BENCH_NICE (e.g. -10, as root) runs everything here ahead of whatever
# else the machine is busy with; every target gets the same priority.
if [ -n "${BENCH_NICE:-}" ]; then
	renice -n "$BENCH_NICE" -p $$ >/dev/null || log "renice failed"
fi
load0=$(cut -d' ' -f1-3 /proc/loadavg)
# Whatever else keeps the CPUs busy makes the numbers worse: say so.
busy=$(top -b -n 2 -d 0.5 -w 200 2>/dev/null | awk '/^top -/ { n++ }
    n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 >= 20 {
    printf "%s%s (%s%% CPU)", k++ ? ", " : "Busy before the run: ", $12, $9 }
    END { if (k) print "." }')
case "${BENCH_CFLAGS:-}" in
*-fsanitize*) log "WARNING: this build has sanitizers; its numbers mean little" ;;
esac
[ $have_wrk -eq 1 ] || log "no wrk: req/s and p50/p99 under load are not measured"

log "stdio upstream: mcprelayd, supergateway, mcp-proxy"
start_stdio_targets
measure relay supergateway mcpproxy
if [ $have_wrk -eq 1 ] && [ -z "${NA[relay]:-}" ]; then
	R[relay.c256]=" $(wrk_run relay "$DUR" 256)"
fi
for t in relay supergateway mcpproxy; do
	[ -n "$(eval echo "\${pid_$t:-}")" ] && stop "$(eval echo "\$pid_$t")"
done

log "HTTP upstream: direct, mcprelayd, nginx"
start_http_targets
measure direct relayhttp nginx
for t in relayhttp nginx direct; do
	[ -n "$(eval echo "\${pid_$t:-}")" ] && stop "$(eval echo "\$pid_$t")"
done

log "memory"
measure_memory
log "recovery"
measure_recovery
log "routing"
measure_routing

report | tee "$out/RESULTS.md"
log "results in $out/RESULTS.md; logs in $work (BENCH_KEEP=1 keeps them)"
