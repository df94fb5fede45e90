// The control socket and mcprelayctl: exact counters in `stats --json`
// after failures driven through the demo server, alerts and breaker events,
// `watch` showing a state change within 100 ms, drain on disable, reload,
// Prometheus metrics checked by promtool, a read-only peer (a second uid)
// refused reload, exit codes, and garbage on the socket.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
	ERR, baseConfig, bin, connectUnix, demoServer, freePort, initialize,
	itest, killHard, lastStartPid, readJsonLines, startDaemon, tmpdir,
	toolText, waitFor, writeConfig, yamlRaw,
} from './lib/harness.mjs';

/* Runs mcprelayctl to its end (10 s bound): { code, stdout, stderr }.
 * asUser: [uid, gid] to run it as, through setpriv. */
function ctl(args, { asUser, ctlPath = bin.ctl, timeout = 10000 } = {}) {
	const [file, argv] = asUser ? ['setpriv', [`--reuid=${asUser[0]}`,
	    `--regid=${asUser[1]}`, '--clear-groups', ctlPath, ...args]] :
	    [ctlPath, args];
	return new Promise((resolve, reject) => {
		const child = spawn(file, argv, { stdio: ['ignore', 'pipe',
		    'pipe'] });
		let stdout = '', stderr = '';
		child.stdout.setEncoding('utf8');
		child.stderr.setEncoding('utf8');
		child.stdout.on('data', (d) => { stdout += d; });
		child.stderr.on('data', (d) => { stderr += d; });
		const timer = setTimeout(() => {
			child.kill('SIGKILL');
			reject(new Error(`mcprelayctl ${args.join(' ')}: no exit ` +
			    `within ${timeout} ms; stderr: ${stderr}`));
		}, timeout);
		child.on('error', (e) => {
			clearTimeout(timer);
			reject(e);
		});
		child.on('close', (code, signal) => {
			clearTimeout(timer);
			resolve({ code, signal, stdout, stderr });
		});
	});
}

/* mcprelayctl ARGS --json --socket S, which must succeed; the JSON. */
async function ctlJson(d, args, opts = {}) {
	const r = await ctl([...args, '--json', '--socket', d.controlPath],
	    opts);
	assert.equal(r.code, 0, `mcprelayctl ${args.join(' ')}: exit ` +
	    `${r.code}: ${r.stderr}`);
	return JSON.parse(r.stdout);
}

/* A daemon whose control socket is dir/control.sock (baseConfig's). */
async function start(t, dir, over) {
	const d = await startDaemon({ t, dir, config: baseConfig(dir, over) });
	d.controlPath = path.join(dir, 'control.sock');
	return d;
}

function files(dir) {
	return {
		state: path.join(dir, 'state'),
		starts: path.join(dir, 'starts.log'),
		exec: path.join(dir, 'exec.log'),
	};
}

const zeroClasses = {
	connect_failure: 0, reset: 0, timeout: 0, spawn_failure: 0,
	upstream_exit: 0, http_5xx: 0, http_429: 0, session_expired: 0,
	protocol_error: 0,
};

itest('stats --json counts exactly what the demo server did: failed ' +
    'starts, a retried call, a crash during a call, an upstream error',
    { timeout: 45000 }, async (t) => {
	const dir = tmpdir(t);
	const f = files(dir);
	// The first start works (its counter says 2 of --fail-starts 2 are
	// used); failures come later, once the daemon knows the server.
	fs.writeFileSync(f.state, '2\n');
	const d = await start(t, dir, { servers: { demo: demoServer([
	    '--fail-starts', 2, '--state-file', f.state, '--starts-log',
	    f.starts, '--exec-log', f.exec, '--exit-during', 'increment']) } });
	const s = await initialize(d.mcpUrl('demo'));
	assert.equal(toolText(await s.callTool('echo', { text: 'a' })), 'a');

	// 1. Killed between calls; the next two starts fail, the third
	// works: the call waits in the queue meanwhile.
	fs.writeFileSync(f.state, '0\n');
	await killHard(lastStartPid(f.starts));
	// Called once the daemon has seen the death: a call sent before
	// that (a slow run, valgrind) is re-sent, and counted as a retry.
	await waitFor(() => /server demo: ready -> connecting/.test(d.log()),
	    { message: 'the daemon to see the server die' });
	assert.equal(toolText(await s.callTool('echo', { text: 'q' })), 'q');
	assert.equal(readJsonLines(f.starts).length, 4);
	// 2. The server dies under a read-only call: re-sent, then ok.
	const slow = s.callTool('sleep_ms', { ms: 1000 });
	await waitFor(() => readJsonLines(f.exec).some((e) =>
	    e.tool === 'sleep_ms'), { message: 'sleep_ms to run' });
	await killHard(lastStartPid(f.starts));
	assert.equal(toolText(await slow), 'slept 1000 ms');
	// 3. It dies during a call that is not idempotent: -32015.
	const inc = await s.request('tools/call', { name: 'increment',
	    arguments: {} });
	assert.equal(inc.error?.code, ERR.MAYBE_RAN);
	// 4. Back after a restart.
	assert.equal(toolText(await s.callTool('echo', { text: 'b' })), 'b');
	// 5. The server's own error.
	const bad = await s.request('tools/call', { name: 'nope',
	    arguments: {} });
	assert.equal(bad.error?.code, ERR.INVALID_PARAMS);

	const starts = readJsonLines(f.starts);
	assert.equal(starts.length, 6, '1 + 2 failed + 1 + 2 restarts');
	const st = await ctlJson(d, ['stats', 'demo']);
	assert.equal(st.name, 'demo');
	assert.equal(st.type, 'stdio');
	assert.equal(st.state, 'ready');
	assert.equal(st.disabled, false);
	assert.deepEqual({ ...st.connection, lastErrorTime: undefined,
	    connectedSince: undefined, downtimeSeconds: undefined }, {
		attempts: 6, successes: 4, failures: 2,
		failuresByClass: { ...zeroClasses, upstream_exit: 2 },
		retries: 2, reconnects: 3, disconnects: 3,
		consecutiveFailures: 0, lastError: 'exited with status 1',
		lastErrorTime: undefined, connectedSince: undefined,
		downtimeSeconds: undefined, healthFailures: 0,
	});
	assert.ok(st.connection.downtimeSeconds > 0.5 &&
	    st.connection.downtimeSeconds < 10,
	    `downtime ${st.connection.downtimeSeconds}`);
	assert.ok(Math.abs(st.connection.connectedSince - Date.now() / 1000) <
	    30);
	assert.deepEqual(st.requests, {
		total: 6, ok: 4, errors: 2,
		errorsByClass: { upstream: 1, unavailable: 0, circuit_open: 0,
		    queue_full: 0, queue_timeout: 0, timeout: 0, maybe_ran: 1,
		    disabled: 0, spawn_failed: 0, no_client: 0, shutdown: 0,
		    other: 0 },
		retried: 1, retriedOk: 1, ruleRetries: 0, inFlight: 0,
		queued: 0, refusedUnsafe: 1, queueRejects: 0, queueTimeouts: 0,
		timeouts: 0, fallbacks: 0,
	});
	assert.deepEqual(st.rules, { matches: {},
	    actions: { retry: 0, fail: 0, fallback: 0, trip: 0 } });
	assert.equal(st.latency.count, 5, 'five answers from the server');
	assert.equal(st.latency.buckets.at(-1).le, '+Inf');
	assert.equal(st.latency.buckets.at(-1).count, 5);
	assert.ok(st.latency.sum > 1.0, `sum ${st.latency.sum}`);
	assert.ok(st.latency.p99 >= st.latency.p90 &&
	    st.latency.p90 >= st.latency.p50, JSON.stringify(st.latency));
	assert.deepEqual(st.process, { pid: starts.at(-1).pid, starts: 6,
	    restarts: 5 });
	assert.equal(st.breaker.state, 'closed');
	assert.equal(st.breaker.transitions, 0);
	assert.deepEqual(st.breaker.settings, { enabled: true,
	    failure_threshold: 5, open_duration: 1, max_open_duration: 5,
	    half_open_requests: 1 });
	assert.deepEqual(st.retryPolicy, { max_retries: 3, initial_delay: 0.2,
	    max_delay: 2, backoff_factor: 2, jitter: false,
	    jitter_factor: 0.1, jitter_mode: 'proportional',
	    attempt_timeout: 0, deadline: 0 });
	assert.deepEqual(st.alerts, { retries_per_minute: 0,
	    consecutive_failures: 0, breaker_open: 0,
	    needs_auth: 0 });

	// The whole daemon: one session, seven requests (initialize too).
	const all = await ctlJson(d, ['stats']);
	assert.deepEqual(all.sessions, { open: 1, total: 1 });
	assert.deepEqual(all.requests, { total: 7, ok: 4, error: 2,
	    parseErrors: 0, invalid: 0 });
	assert.equal(all.servers.length, 1);
	assert.deepEqual(all.servers[0].requests, st.requests);
	assert.deepEqual(all.listeners.map((l) => l.type),
	    ['http', 'unix', 'control']);
	assert.equal(all.listeners[2].path, d.controlPath);
});

itest('a server that keeps failing: the breaker opens, each alert fires ' +
    'once, watch --json sees it all, and the counters say so',
    { timeout: 45000 }, async (t) => {
	const dir = tmpdir(t);
	const f = files(dir);
	fs.writeFileSync(f.state, '3\n');	// the first start works
	const d = await start(t, dir, {
		alerts: { retries_per_minute: 1, consecutive_failures: 3,
		    breaker_open: true },
		servers: { flaky: demoServer(['--fail-starts', 3,
		    '--state-file', f.state, '--starts-log', f.starts], {
			retry: { max_retries: 2 },
			// No probe while the test looks.
			circuit_breaker: { open_duration: '60s',
			    max_open_duration: '60s' },
		    }) },
	});
	await waitFor(async () => (await ctlJson(d, ['servers']))[0].state ===
	    'ready', { message: 'flaky to be ready' });
	const watch = spawn(bin.ctl, ['watch', '--json', '--socket',
	    d.controlPath], { stdio: ['ignore', 'pipe', 'pipe'] });
	t.after(() => watch.kill('SIGKILL'));
	const events = [];
	let buf = '';
	watch.stdout.setEncoding('utf8');
	watch.stdout.on('data', (data) => {
		buf += data;
		let nl;
		while ((nl = buf.indexOf('\n')) !== -1) {
			events.push(JSON.parse(buf.slice(0, nl)));
			buf = buf.slice(nl + 1);
		}
	});
	// Subscribed once the daemon counts a subscriber.
	await waitFor(async () => (await ctlJson(d, ['stats'])).events
	    .subscribers === 1, { message: 'watch to subscribe' });

	fs.writeFileSync(f.state, '0\n');	// the next 3 starts fail
	await killHard(lastStartPid(f.starts));
	await waitFor(() => events.some((e) => e.type === 'state' &&
	    e.to === 'failed'), { timeout: 10000,
	    message: 'flaky to fail' });
	await waitFor(() => events.filter((e) => e.type === 'alert').length ===
	    3, { message: 'three alerts' });

	const kinds = events.map((e) => e.type === 'state' ?
	    `${e.from}->${e.to}` : e.type === 'retry' ?
	    `retry:${e.what}:${e.attempt}` : e.type === 'breaker' ?
	    `breaker:${e.from}->${e.to}` : e.type === 'alert' ?
	    `alert:${e.alert}` : e.type);
	// Each start gets as far as the exec (transport up), then exits.
	assert.deepEqual(kinds, [
		'ready->connecting', 'connecting->initializing',
		'initializing->backoff', 'retry:connect:1',
		'backoff->connecting', 'connecting->initializing',
		'initializing->backoff', 'retry:connect:2',
		'alert:retries_per_minute',
		'backoff->connecting', 'connecting->initializing',
		'breaker:closed->open', 'alert:breaker_open',
		'initializing->failed', 'alert:consecutive_failures',
	]);
	for (const e of events) {
		assert.equal(e.server, 'flaky');
		assert.equal(typeof e.time, 'number');
	}
	assert.deepEqual(events.map((e) => e.seq), events.map((_, i) =>
	    events[0].seq + i), 'consecutive sequence numbers');

	const r = await (await initialize(d.mcpUrl('flaky'))).request(
	    'tools/call', { name: 'echo', arguments: { text: 'x' } });
	assert.equal(r.error?.code, ERR.CIRCUIT_OPEN);

	const st = await ctlJson(d, ['stats', 'flaky']);
	assert.equal(st.state, 'failed');
	assert.equal(st.connection.attempts, 4);
	assert.equal(st.connection.successes, 1);
	assert.equal(st.connection.failures, 3);
	assert.equal(st.connection.retries, 2);
	assert.equal(st.connection.consecutiveFailures, 3);
	assert.equal(st.connection.disconnects, 1);
	assert.equal(st.connection.reconnects, 0);
	assert.deepEqual(st.connection.failuresByClass,
	    { ...zeroClasses, upstream_exit: 3 });
	assert.equal(st.breaker.state, 'open');
	assert.equal(st.breaker.transitions, 1);
	assert.equal(st.breaker.timesOpened, 1);
	assert.deepEqual(st.alerts, { retries_per_minute: 1,
	    consecutive_failures: 1, breaker_open: 1,
	    needs_auth: 0 });
	assert.equal(st.requests.total, 1);
	assert.equal(st.requests.errorsByClass.circuit_open, 1);
	// Logged once each.
	const log = d.log();
	for (const text of ['retries in the last minute',
	    'circuit breaker opened', 'connect failures in a row'])
		assert.equal(log.split(text).length - 1, 1, text);
	watch.kill('SIGTERM');
});

itest('watch shows a state change within 100 ms of it happening',
    { timeout: 30000 }, async (t) => {
	const dir = tmpdir(t);
	const f = files(dir);
	const d = await start(t, dir, { servers: { demo: demoServer([
	    '--starts-log', f.starts]) } });
	await waitFor(async () => (await ctlJson(d, ['servers']))[0].state ===
	    'ready', { message: 'demo to be ready' });
	// Not a terminal: one line per event, as it arrives.
	const watch = spawn(bin.ctl, ['watch', '--socket', d.controlPath],
	    { stdio: ['ignore', 'pipe', 'pipe'] });
	const exited = new Promise((r) => watch.on('close', (code) => r(code)));
	t.after(() => watch.kill('SIGKILL'));
	const lines = [];	// [arrival ms, text]
	let buf = '';
	watch.stdout.setEncoding('utf8');
	watch.stdout.on('data', (data) => {
		const now = Date.now();
		buf += data;
		let nl;
		while ((nl = buf.indexOf('\n')) !== -1) {
			lines.push([now, buf.slice(0, nl)]);
			buf = buf.slice(nl + 1);
		}
	});
	await waitFor(() => lines.some(([, l]) => / demo is ready/.test(l)),
	    { message: 'the initial table line' });

	const t0 = Date.now();
	process.kill(lastStartPid(f.starts), 'SIGKILL');
	const want = ['ready -> connecting', 'connecting -> initializing',
	    'initializing -> ready'];
	await waitFor(() => want.every((w) => lines.some(([, l]) =>
	    l.includes(` demo state ${w}`))), { message: 'the reconnect' });
	for (const w of want) {
		const [arrived, line] = lines.find(([, l]) =>
		    l.includes(` demo state ${w}`));
		const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) demo state /
		    .exec(line);
		assert.ok(m, `a timestamped line: ${line}`);
		const happened = Date.parse(m[1]);
		t.diagnostic(`${w}: shown ${arrived - happened} ms after it ` +
		    `happened, ${arrived - t0} ms after the kill`);
		assert.ok(happened >= t0 - 2, `${line} is before the kill`);
		assert.ok(arrived - happened < 100, `${w} shown after ` +
		    `${arrived - happened} ms: ${line}`);
	}
	const [first] = lines.find(([, l]) => l.includes('ready -> connecting'));
	assert.ok(first - t0 < 100, `the crash was shown ${first - t0} ms ` +
	    'after the kill');
	watch.kill('SIGTERM');
	assert.equal(await exited, 0, 'watch exits 0 on SIGTERM');
});

itest('disable drains: the call in flight finishes, new ones get -32016; ' +
    'enable brings the server back', async (t) => {
	const dir = tmpdir(t);
	const d = await start(t, dir, { servers: { demo: demoServer() } });
	const s = await initialize(d.mcpUrl('demo'));
	assert.equal(toolText(await s.callTool('echo', { text: 'up' })), 'up');
	const slow = s.callTool('sleep_ms', { ms: 800 });
	await waitFor(async () => (await ctlJson(d, ['servers']))[0].inFlight ===
	    1, { message: 'sleep_ms in flight' });
	const off = await ctl(['disable', 'demo', '--socket', d.controlPath]);
	assert.equal(off.code, 0, off.stderr);
	assert.equal(off.stdout, 'demo: draining (disabled)\n');
	const refused = await s.request('tools/call', { name: 'echo',
	    arguments: { text: 'no' } });
	assert.equal(refused.error?.code, ERR.DISABLED);
	assert.match(refused.error.message, /disabled by the operator/);
	assert.equal(toolText(await slow), 'slept 800 ms');
	await waitFor(async () => (await ctlJson(d, ['servers']))[0].state ===
	    'stopped', { message: 'demo to stop after the drain' });
	const list = await ctl(['servers', '--socket', d.controlPath]);
	assert.match(list.stdout, /^demo\s+disabled\s/m);
	const on = await ctl(['enable', 'demo', '--socket', d.controlPath]);
	assert.equal(on.code, 0, on.stderr);
	assert.equal(toolText(await s.callTool('echo', { text: 'back' })),
	    'back');
	const st = await ctlJson(d, ['stats', 'demo']);
	assert.equal(st.requests.errorsByClass.disabled, 1);
	assert.equal(st.requests.ok, 3);
	assert.equal(st.disabled, false);
});

itest('reload: a valid file is applied, an invalid one is refused with ' +
    'its errors and exit 1', async (t) => {
	const dir = tmpdir(t);
	const cfg = baseConfig(dir, { servers: { demo: demoServer() } });
	const d = await start(t, dir, { servers: { demo: demoServer() } });
	cfg.listen.http = `127.0.0.1:${d.port}`;
	cfg.servers.second = demoServer(['--name', 'second']);
	writeConfig(dir, cfg);
	const ok = await ctl(['reload', '--socket', d.controlPath]);
	assert.equal(ok.code, 0, ok.stderr);
	assert.equal(ok.stdout, 'reloaded: 2 servers\n');
	fs.writeFileSync(d.configPath, 'servers:\n  x: {type: stdio}\n');
	const bad = await ctl(['reload', '--socket', d.controlPath]);
	assert.equal(bad.code, 1);
	assert.match(bad.stderr, /the configuration is invalid/);
	assert.match(bad.stderr, /missing required key 'command'/);
	const all = await ctlJson(d, ['stats']);
	assert.deepEqual(all.reloads, { ok: 1, failed: 1 });
	assert.deepEqual(all.servers.map((s) => s.name), ['demo', 'second']);
});

itest('metrics pass promtool check metrics, from mcprelayctl and from ' +
    'GET /metrics', { timeout: 30000 }, async (t) => {
	const promtool = spawnSync('promtool', ['--version'],
	    { encoding: 'utf8' });
	assert.ok(!promtool.error, 'promtool is not installed (Debian: ' +
	    'apt-get install prometheus); this test needs it and fails ' +
	    `without it: ${promtool.error?.message}`);
	const dir = tmpdir(t);
	const f = files(dir);
	const port = await freePort();
	const d = await start(t, dir, {
		metrics: { listen: `127.0.0.1:${port}` },
		servers: {
			demo: demoServer(),
			down: demoServer(['--fail-starts', 100, '--state-file',
			    f.state], { retry: { max_retries: 1 } }),
		},
	});
	const s = await initialize(d.mcpUrl('demo'));
	await s.callTool('echo', { text: 'x' });
	await s.request('tools/call', { name: 'nope', arguments: {} });
	await waitFor(async () => (await ctlJson(d, ['servers']))[1].state ===
	    'failed', { message: 'down to fail' });

	const fromCtl = await ctl(['metrics', '--socket', d.controlPath]);
	assert.equal(fromCtl.code, 0, fromCtl.stderr);
	const res = await fetch(`http://127.0.0.1:${port}/metrics`);
	assert.equal(res.status, 200);
	assert.equal(res.headers.get('content-type'),
	    'text/plain; version=0.0.4; charset=utf-8');
	const fromHttp = await res.text();
	for (const [what, text] of [['mcprelayctl metrics', fromCtl.stdout],
	    ['GET /metrics', fromHttp]]) {
		const check = spawnSync('promtool', ['check', 'metrics'],
		    { input: text, encoding: 'utf8', timeout: 10000 });
		assert.equal(check.status, 0, `promtool on ${what}: ` +
		    `${check.stdout}${check.stderr}`);
		assert.equal(check.stdout + check.stderr, '',
		    `promtool lint on ${what}`);
		assert.match(text, /^mcprelay_server_requests_total\{server="demo",outcome="ok"\} 1$/m);
		assert.match(text, /^mcprelay_server_request_errors_total\{server="demo",class="upstream"\} 1$/m);
		assert.match(text, /^mcprelay_server_ready\{server="down"\} 0$/m);
		assert.match(text, /^mcprelay_server_connect_failures_total\{server="down",class="upstream_exit"\} 2$/m);
		assert.match(text, /^mcprelay_server_request_duration_seconds_bucket\{server="demo",le="\+Inf"\} 2$/m);
		// Only these labels (and le for buckets).
		for (const m of text.matchAll(/\{([^}]*)\}/g))
			for (const pair of m[1].split(/,(?=[a-z]+=)/))
				assert.match(pair,
				    /^(server|outcome|class|rule|action|limit|le)=/);
	}
	assert.equal((await fetch(`http://127.0.0.1:${port}/other`)).status,
	    404);
	// DNS rebinding: a foreign Host is refused.
	const { request } = await import('node:http');
	const status = await new Promise((resolve, reject) => {
		const rq = request({ host: '127.0.0.1', port, path: '/metrics',
		    headers: { host: 'evil.example:80' } }, (rs) => {
			rs.resume();
			resolve(rs.statusCode);
		});
		rq.on('error', reject);
		rq.end();
	});
	assert.equal(status, 403);
	const st = await ctlJson(d, ['status']);
	assert.deepEqual(st.listeners.find((l) => l.type === 'metrics'),
	    { type: 'metrics', address: `127.0.0.1:${port}` });
});

itest('a read-only peer (a second uid in control.group) may read but not ' +
    'reload; a uid outside the group is refused at connect',
    { timeout: 30000 }, async (t) => {
	if (process.getuid() !== 0) {
		t.skip('needs root to run mcprelayctl as a second uid');
		return;
	}
	// A socket everyone may connect to (0666 in a 0711 directory):
	// access is decided by the daemon from SO_PEERCRED alone.
	const dir = tmpdir(t);
	fs.chmodSync(dir, 0o711);
	const sub = path.join(dir, 'ctl');
	fs.mkdirSync(sub, { mode: 0o711 });
	fs.chmodSync(sub, 0o711);
	const socket = path.join(sub, 'control.sock');
	const ctlCopy = path.join(dir, 'mcprelayctl');
	fs.copyFileSync(bin.ctl, ctlCopy);
	fs.chmodSync(ctlCopy, 0o755);
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    control: { socket, mode: yamlRaw('0666'), group: 'nogroup' },
	    servers: { demo: demoServer() } }) });
	d.controlPath = socket;
	const reader = [65534, 65534];	// nobody, in nogroup
	const stranger = [65534, 100];	// nobody, in users only

	const st = await ctl(['status', '--json', '--socket', socket],
	    { asUser: reader, ctlPath: ctlCopy });
	assert.equal(st.code, 0, st.stderr);
	assert.equal(JSON.parse(st.stdout).access, 'read');
	const stats = await ctl(['stats', 'demo', '--json', '--socket',
	    socket], { asUser: reader, ctlPath: ctlCopy });
	assert.equal(stats.code, 0, stats.stderr);

	const reload = await ctl(['reload', '--socket', socket],
	    { asUser: reader, ctlPath: ctlCopy });
	assert.equal(reload.code, 1);
	assert.match(reload.stderr, new RegExp('permission denied: reload ' +
	    'changes the daemon and uid 65534 may only read'));
	const disable = await ctl(['disable', 'demo', '--socket', socket],
	    { asUser: reader, ctlPath: ctlCopy });
	assert.equal(disable.code, 1);
	assert.match(disable.stderr, /permission denied/);

	const refused = await ctl(['status', '--socket', socket],
	    { asUser: stranger, ctlPath: ctlCopy });
	assert.equal(refused.code, 1);
	assert.match(refused.stderr, new RegExp('permission denied: uid 65534 ' +
	    'may not use the control socket'));

	// Root may; the refused attempts changed nothing.
	const all = await ctlJson(d, ['stats']);
	assert.deepEqual(all.reloads, { ok: 0, failed: 0 });
	const control = all.listeners.find((l) => l.type === 'control');
	assert.equal(control.denied, 2);
	assert.equal(control.refused, 1);
	// The refused connection is in the access audit too.
	assert.deepEqual(all.access.refusedByUser, { nobody: 1 });
	assert.match(d.log(), /access: refused nobody \(uid 65534, pid \d+, comm mcprelayctl\) on control: not root, not the daemon's user, not in group nogroup/);
	assert.equal(all.servers[0].disabled, false);
	const ok = await ctl(['reload', '--socket', socket]);
	assert.equal(ok.code, 0, ok.stderr);
	assert.match(d.log(), /reload refused to uid 65534 \(read-only\)/);
});

itest('exit codes: 3 without a daemon, 2 for usage, 1 for an unknown ' +
    'server; garbage on the socket gets an error and a closed connection',
    async (t) => {
	const dir = tmpdir(t);
	const none = await ctl(['status', '--socket', path.join(dir, 'no.sock')]);
	assert.equal(none.code, 3);
	assert.match(none.stderr, /mcprelayd is not running/);
	assert.equal((await ctl(['stats', 'a', 'b', '--socket', 'x'])).code, 2);
	assert.equal((await ctl(['status', '--bogus'])).code, 2);
	assert.equal((await ctl(['reconnect'])).code, 2);
	assert.equal((await ctl(['no-such-command'])).code, 2);

	const d = await start(t, dir, { servers: { demo: demoServer() } });
	const unknown = await ctl(['stats', 'nosuch', '--socket',
	    d.controlPath]);
	assert.equal(unknown.code, 1);
	assert.match(unknown.stderr, /unknown server 'nosuch'/);
	const human = await ctl(['status', '--socket', d.controlPath]);
	assert.equal(human.code, 0);
	assert.match(human.stdout, /^mcprelayd \S+ \(pid \d+\) up /);
	assert.match(human.stdout, /^servers: 1 \(\d ready, 0 failed, 0 disabled\)$/m);
	const cfg = await ctlJson(d, ['show-config']);
	assert.equal(cfg.servers.demo.command, bin.demo);
	// --config: the socket named in the daemon's configuration.
	const viaConfig = await ctl(['servers', '--json', '--config',
	    d.configPath]);
	assert.equal(viaConfig.code, 0, viaConfig.stderr);
	assert.equal(JSON.parse(viaConfig.stdout)[0].name, 'demo');
	const badConfig = path.join(dir, 'bad.yaml');
	fs.writeFileSync(badConfig, 'control: {sockett: x}\n');
	const bad = await ctl(['status', '--config', badConfig]);
	assert.equal(bad.code, 1);
	assert.match(bad.stderr, /bad\.yaml:1:11: control: unknown key 'sockett'/);

	const c = await connectUnix(d.controlPath);
	t.after(() => c.close());
	c.send('{"jsonrpc":"2.0","id":1,"method":"status"}');
	assert.equal((await c.next()).result.protocol, 1);
	c.send('this is not json');
	const err = await c.next();
	assert.equal(err.error.code, ERR.PARSE);
	await waitFor(() => c.closed, { message: 'the daemon to close' });
	// The daemon is fine.
	assert.equal((await ctlJson(d, ['status'])).servers.total, 1);
});
