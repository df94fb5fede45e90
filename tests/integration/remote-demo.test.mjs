// The proxy path's numbered scenarios (reconnect.test.mjs) for remote
// upstreams: mcprelayd in front of mcprelay-demo-server in its HTTP mode,
// as a `type: http` (Streamable HTTP) and a `type: sse` (legacy HTTP+SSE)
// server, with the demo server's own HTTP faults (docs/demo-server.md):
// restarts, 503/429, resets, stalls, cut streams, expired sessions, TLS.
// Executions are counted from the demo's --exec-log, HTTP requests and
// their times from its --http-log.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
	ERR, baseConfig, bin, freePort, initialize, itest, readJsonLines,
	sleep, startDaemon, tmpdir, toolText, waitFor,
} from './lib/harness.mjs';
import { makeCert } from './lib/fault-proxy.mjs';

const KINDS = ['http', 'sse'];

/* Retries fast and often enough to ride out a restart; jitter off. */
const FAST = {
	retry: { max_retries: 30, initial_delay: '0.1s', max_delay: '0.5s',
	    backoff_factor: 2.0, jitter: false },
	circuit_breaker: { failure_threshold: 100 },
	queue_timeout: '15s',
};

/*
 * One mcprelay-demo-server --http on a fixed loopback port, so that it can
 * be stopped and started again where the daemon expects it.
 */
class Demo {
	constructor(t, dir, kind, { name = 'demo', args = [], tls } = {}) {
		this.dir = dir;
		this.kind = kind;
		this.name = name;
		this.args = args;
		this.tls = tls;
		this.execLog = path.join(dir, `${name}-exec.log`);
		this.httpLog = path.join(dir, `${name}-http.log`);
		this.child = null;
		this.logFile = path.join(dir, `${name}.log`);
		t.after(() => this.stop());
	}

	/* SIGTERM: it must exit 0 (and so leak nothing under ASan). */
	async stop() {
		if (this.child === null || this.child.exitCode !== null ||
		    this.child.signalCode !== null)
			return;
		this.child.kill('SIGTERM');
		const [code, signal] = await this.exited;
		let log = '';
		try {	/* the temp dir may be gone already */
			log = fs.readFileSync(this.logFile, 'utf8');
		} catch {}
		assert.doesNotMatch(log, /Sanitizer|runtime error/, log);
		assert.equal(code, 0, `${this.name} exited ${signal ?? code} ` +
		    `on SIGTERM\n${log}`);
	}

	url() {
		return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}` +
		    (this.kind === 'sse' ? '/sse' : '/mcp');
	}

	/* Starts it (again); args replaces the fault flags when given. */
	async start(args = this.args) {
		this.port ??= await freePort();
		const logFile = this.logFile;
		const before = fs.existsSync(logFile) ?
		    fs.readFileSync(logFile, 'utf8').length : 0;
		const fd = fs.openSync(logFile, 'a');
		const argv = ['--http', `127.0.0.1:${this.port}`, '--name',
		    this.name, '--exec-log', this.execLog, '--http-log',
		    this.httpLog, ...(this.kind === 'sse' ? ['--sse'] : []),
		    ...(this.tls ? ['--tls-cert', this.tls.cert, '--tls-key',
		    this.tls.key] : []), ...args.map(String)];
		this.child = spawn(bin.demo, argv, { stdio: ['ignore', 'ignore',
		    fd] });
		fs.closeSync(fd);
		const child = this.child;
		this.exited = new Promise((r) => child.on('exit',
		    (...a) => r(a)));
		await waitFor(() => fs.readFileSync(logFile, 'utf8')
		    .slice(before).includes('listening on'),
		    { timeout: 5000, message: `${this.name} to listen` });
	}

	async kill(signal = 'SIGKILL') {
		if (this.child === null || this.child.exitCode !== null ||
		    this.child.signalCode !== null)
			return;
		this.child.kill(signal);
		await this.exited;
	}

	requests() {
		return readJsonLines(this.httpLog);
	}

	execs(tool) {
		return readJsonLines(this.execLog).filter((e) => e.tool === tool);
	}
}

async function demoFor(t, dir, kind, opts = {}) {
	const demo = new Demo(t, dir, kind, opts);
	await demo.start();
	return demo;
}

function serverFor(demo, extra = {}) {
	return { type: demo.kind, url: demo.url(), ...extra };
}

async function daemonFor(t, dir, servers, defaults = {}) {
	return startDaemon({ t, dir, config: baseConfig(dir, { defaults,
	    servers }) });
}

const rpcs = (demo, rpc) => demo.requests().filter((r) => r.rpc === rpc);
/* A POST the server took: its reply, or legacy 202 (reply on the stream). */
const TOOK = (kind) => (kind === 'sse' ? 202 : 200);

async function callError(s, name, args) {
	const r = await s.request('tools/call', { name, arguments: args });
	assert.ok(r.error, `an error for ${name}, got ${JSON.stringify(r.result)}`);
	return r.error;
}

for (const kind of KINDS) {

itest(`${kind} (1): connect with retry: initialize refused 503 twice, ` +
    'then ready; the gaps are at least the policy\'s delays', async (t) => {
	const dir = tmpdir(t);
	const demo = await demoFor(t, dir, kind, { args: ['--http-503', 2,
	    '--fault-method', 'initialize'] });
	const d = await daemonFor(t, dir, { demo: serverFor(demo) });
	const s = await initialize(d.mcpUrl());
	assert.equal(toolText(await s.callTool('echo', { text: 'up' })), 'up');

	const inits = rpcs(demo, 'initialize');
	assert.deepEqual(inits.map((r) => [r.status, r.fault ?? null]),
	    [[503, '503'], [503, '503'], [TOOK(kind), null]]);
	// initial_delay 0.2 s, factor 2, jitter off: never earlier.  The
	// times are the demo's, taken when it gets to a request, so a late
	// first one shortens a gap by a few ms (0.198 s seen under load).
	const gaps = [inits[1].t - inits[0].t, inits[2].t - inits[1].t];
	for (const [i, want] of [[0, 0.2], [1, 0.4]]) {
		assert.ok(gaps[i] >= want - 0.01,
		    `gap ${i + 1} is ${gaps[i].toFixed(3)} s, want >= ${want} s`);
		assert.ok(gaps[i] < want + 2, `gap ${i + 1} is ` +
		    `${gaps[i].toFixed(3)} s`);
	}
	assert.equal(demo.execs('echo').length, 1);
	assert.match(d.log(), /server demo: initializing -> backoff \(.*\[http_5xx\]; retry 1 of 3 in 0\.20s\)/);
});

itest(`${kind} (2): retries exhausted: -32010/-32011 naming the server; ` +
    'the breaker\'s half-open probe brings it back by itself', async (t) => {
	const dir = tmpdir(t);
	const demo = await demoFor(t, dir, kind, { args: ['--http-503', 1000,
	    '--fault-method', 'initialize'] });
	const d = await daemonFor(t, dir, { demo: serverFor(demo) }, {
		retry: { max_retries: 2 },
		circuit_breaker: { failure_threshold: 3, open_duration: '1s',
		    max_open_duration: '2s' },
	});
	const s = await initialize(d.mcpUrl('demo'));
	const t0 = Date.now();
	const e = await callError(s, 'echo', { text: 'doomed' });
	assert.ok([ERR.UNAVAILABLE, ERR.CIRCUIT_OPEN].includes(e.code),
	    `error ${e.code}: ${e.message}`);
	assert.equal(e.data?.server, 'demo');
	assert.ok(Date.now() - t0 < 5000, 'failed before queue_timeout');
	assert.ok(rpcs(demo, 'initialize').length >= 3);
	await waitFor(() => /server demo: \w+ -> failed \(.*retries exhausted; next probe/.test(d.log()),
	    { timeout: 5000, message: 'the breaker to open' });

	// Fixed: the same port, no faults.  No reload, no client action.
	await demo.kill();
	await demo.start([]);
	const ok = await waitFor(async () => {
		const r = await s.request('tools/call',
		    { name: 'echo', arguments: { text: 'back' } });
		return r.result && r;
	}, { timeout: 15000, interval: 300, message: 'the server to recover' });
	assert.equal(toolText(ok.result), 'back');
	assert.match(d.log(), /server demo: \w+ -> connecting \(half-open probe\)/);
	assert.equal(demo.execs('echo').length, 1);
});

itest(`${kind} (3): the server restarts under load: calls made while it ` +
    'is down are held and replayed, each non-idempotent one run once',
    async (t) => {
	const dir = tmpdir(t);
	// http: the GET stream's retry: of 5 s keeps the daemon from noticing
	// the restart through it, so the calls' own POSTs meet the refused
	// connections (provably never delivered: sent again).  sse: the
	// stream's end is noticed at once and the calls wait in the queue.
	const demo = await demoFor(t, dir, kind, { args: kind === 'http' ?
	    ['--sse-retry-ms', 5000] : [] });
	const d = await daemonFor(t, dir, { demo: serverFor(demo) }, FAST);
	const s = await initialize(d.mcpUrl());
	assert.equal(toolText(await s.callTool('increment', { by: 1 })), '1');
	if (kind === 'http')
		await waitFor(() => demo.requests().some((r) =>
		    r.method === 'GET'), { message: 'the GET stream' });

	await demo.kill();
	const calls = [];
	for (let i = 0; i < 5; i++) {
		calls.push(s.request('tools/call', { name: 'increment',
		    arguments: { by: 1 } }));
		calls.push(s.request('tools/call', { name: 'echo',
		    arguments: { text: `held-${i}` } }));
	}
	await sleep(600);
	await demo.start();
	const replies = await Promise.all(calls);
	for (const r of replies)
		assert.equal(r.error, undefined, JSON.stringify(r.error));
	// A new process: its counter starts at 0, five increments once each.
	const counts = replies.filter((_, i) => i % 2 === 0)
	    .map((r) => Number(toolText(r.result))).sort((a, b) => a - b);
	assert.deepEqual(counts, [1, 2, 3, 4, 5]);
	assert.equal(demo.execs('increment').length, 1 + 5);
	assert.equal(demo.execs('echo').length, 5);
	if (kind === 'http')
		assert.match(d.log(), /server demo: increment never reached the server \(.*\); sending it again/);
});

itest(`${kind} (5): the server dies during a non-idempotent call: ` +
    '-32015, it ran once; after a restart the next call works',
    async (t) => {
	const dir = tmpdir(t);
	const demo = await demoFor(t, dir, kind,
	    { args: ['--exit-during', 'increment'] });
	const d = await daemonFor(t, dir, { demo: serverFor(demo) }, FAST);
	const s = await initialize(d.mcpUrl());
	const e = await callError(s, 'increment', { by: 5 });
	assert.equal(e.code, ERR.MAYBE_RAN, e.message);
	assert.match(e.message, /may or may not have run/);
	assert.equal(demo.execs('increment').length, 1);
	await demo.exited;
	await demo.start([]);
	assert.equal(toolText(await s.callTool('increment', { by: 1 })), '1');
	assert.equal(demo.execs('increment').length, 2);
});

itest(`${kind} (5b): a reset in the middle of a non-idempotent call's ` +
    'response: -32015 and one execution', async (t) => {
	const dir = tmpdir(t);
	const demo = await demoFor(t, dir, kind, { args: ['--reset-during', 1,
	    '--fault-method', 'increment'] });
	const d = await daemonFor(t, dir, { demo: serverFor(demo) }, FAST);
	const s = await initialize(d.mcpUrl());
	const e = await callError(s, 'increment', { by: 1 });
	assert.equal(e.code, ERR.MAYBE_RAN, e.message);
	assert.equal(demo.execs('increment').length, 1);
	assert.equal(toolText(await s.callTool('increment', { by: 1 })), '2');
});

itest(`${kind} (6): a reset during an idempotent call: retried, the ` +
    'client sees one result', async (t) => {
	const dir = tmpdir(t);
	const demo = await demoFor(t, dir, kind, { args: ['--reset-during', 1,
	    '--fault-method', 'echo'] });
	const d = await daemonFor(t, dir, { demo: serverFor(demo,
	    { idempotent_tools: ['echo'] }) }, FAST);
	const s = await initialize(d.mcpUrl());
	const r = await s.request('tools/call',
	    { name: 'echo', arguments: { text: 'once' } });
	assert.equal(r.error, undefined, JSON.stringify(r.error));
	assert.equal(toolText(r.result), 'once');
	assert.equal(demo.execs('echo').length, 2, 'ran, reset, ran again');
});

itest(`${kind} (8): 50 concurrent idempotent calls across a restart: ` +
    'none fails, one reconnection', async (t) => {
	const dir = tmpdir(t);
	const demo = await demoFor(t, dir, kind, { args: ['--delay-ms', 300] });
	const d = await daemonFor(t, dir, { demo: serverFor(demo,
	    { trust_annotations: true }) }, FAST);
	const s = await initialize(d.mcpUrl());
	assert.equal(toolText(await s.callTool('echo', { text: 'w' })), 'w');
	const before = rpcs(demo, 'initialize').length;

	const texts = Array.from({ length: 50 }, (_, i) => `call-${i}`);
	const pending = texts.map((text) => s.request('tools/call',
	    { name: 'echo', arguments: { text } }));
	await waitFor(() => demo.execs('echo').length >= 51,
	    { timeout: 5000, message: 'the calls to reach the server' });
	await demo.kill();
	await sleep(300);
	await demo.start([]);
	const replies = await Promise.all(pending);
	replies.forEach((r, i) => {
		assert.equal(r.error, undefined,
		    `${texts[i]}: ${JSON.stringify(r.error)}`);
		assert.equal(toolText(r.result), texts[i]);
	});
	assert.equal(rpcs(demo, 'initialize').length - before, 1,
	    'one reconnection sequence');
});

itest(`${kind}: a non-idempotent call refused 503 or 429 is sent again ` +
    'and runs once; Retry-After is waited out', async (t) => {
	const dir = tmpdir(t);
	const demo = await demoFor(t, dir, kind, { args: ['--http-503', 1,
	    '--http-429', 1, '--retry-after', 1, '--fault-method',
	    'increment'] });
	const d = await daemonFor(t, dir, { demo: serverFor(demo) }, FAST);
	const s = await initialize(d.mcpUrl());
	assert.equal(toolText(await s.callTool('increment', { by: 2 })), '2');
	const posts = rpcs(demo, 'tools/call');
	assert.deepEqual(posts.map((r) => r.status), [503, 429, TOOK(kind)]);
	assert.ok(posts[1].t - posts[0].t >= 1 - 0.001, 'Retry-After of the 503');
	assert.ok(posts[2].t - posts[1].t >= 1 - 0.001, 'Retry-After of the 429');
	assert.equal(demo.execs('increment').length, 1);
	assert.match(d.log(), /server demo: increment never reached the server/);
});

itest(`${kind}: requests that may have reached the server are not sent ` +
    'again: reset after sending -> -32015, stall -> -32014', async (t) => {
	const dir = tmpdir(t);
	const demo = await demoFor(t, dir, kind, { args: ['--reset-before', 1,
	    '--stall', 1, '--fault-method', 'increment'] });
	const d = await daemonFor(t, dir, { demo: serverFor(demo,
	    { request_timeout: '1s' }) }, FAST);
	const s = await initialize(d.mcpUrl());
	// --stall comes first: the first increment is never answered.
	const stalled = await callError(s, 'increment', { by: 1 });
	assert.equal(stalled.code, ERR.TIMEOUT, stalled.message);
	const reset = await callError(s, 'increment', { by: 1 });
	assert.equal(reset.code, ERR.MAYBE_RAN, reset.message);
	assert.deepEqual(rpcs(demo, 'tools/call').map((r) => r.fault),
	    ['stall', 'reset-before']);
	assert.equal(demo.execs('increment').length, 0);
	assert.equal(toolText(await s.callTool('increment', { by: 1 })), '1');
	assert.equal(demo.execs('increment').length, 1);
});

itest(`${kind}: https with a CA made here: verified with tls.ca_file; ` +
    'the wrong CA is refused with the reason, not retried', async (t) => {
	const dir = tmpdir(t);
	const right = makeCert(dir, { name: 'right' });
	const wrong = makeCert(dir, { name: 'wrong' });
	const demo = await demoFor(t, dir, kind, { tls: right });
	const d = await daemonFor(t, dir, {
		good: serverFor(demo, { tls: { ca_file: right.cert } }),
		bad: serverFor(demo, { tls: { ca_file: wrong.cert } }),
	}, { circuit_breaker: { open_duration: '30s',
	    max_open_duration: '60s' } });
	const good = await initialize(d.mcpUrl('good'));
	assert.equal(toolText(await good.callTool('echo', { text: 'tls' })),
	    'tls');
	await waitFor(() => /server bad: \w+ -> failed/.test(d.log()),
	    { timeout: 8000, message: 'bad to fail' });
	const bad = await initialize(d.mcpUrl('bad'));
	const e = await callError(bad, 'echo', { text: 'x' });
	assert.equal(e.code, ERR.SPAWN, e.message);
	assert.match(e.message, /TLS certificate of 127\.0\.0\.1:\d+ refused: .+ \(X509 error \d+\)/);
	assert.equal((d.log().match(/server bad: .*-> backoff/g) ?? []).length,
	    0, 'not retried');
	// Counted: one connect failure of its class, none for good.
	const stats = (name) => JSON.parse(execFileSync(bin.ctl, ['stats',
	    name, '--json', '--socket', path.join(dir, 'control.sock')],
	    { encoding: 'utf8' }));
	const byClass = (o) => (o && typeof o === 'object' ?
	    o.failuresByClass ?? Object.values(o).map(byClass)
	    .find((x) => x !== undefined) : undefined);
	assert.equal(byClass(stats('bad'))?.connect_failure, 1);
	assert.equal(byClass(stats('good'))?.connect_failure, 0);
	// bad gave up in the handshake: only good's initialize came in.
	assert.equal(rpcs(demo, 'initialize').length, 1);
	assert.equal(demo.execs('echo').length, 1);
});

}

itest('aggregate: an http and an sse server with clashing names get ' +
    'SERVER__TOOL; calls reach their owner; unknown tool -32602',
    async (t) => {
	const dir = tmpdir(t);
	const a = await demoFor(t, dir, 'http', { name: 'a',
	    args: ['--tools-extra', 'shared,only_a'] });
	const b = await demoFor(t, dir, 'sse', { name: 'b',
	    args: ['--tools-extra', 'shared,only_b'] });
	const d = await daemonFor(t, dir, { a: serverFor(a), b: serverFor(b) });
	const s = await initialize(d.mcpUrl());
	const names = (await s.call('tools/list', {})).tools.map((x) => x.name);
	for (const base of ['echo', 'increment', 'shared']) {
		assert.ok(names.includes(`a__${base}`), `a__${base} in ${names}`);
		assert.ok(names.includes(`b__${base}`), `b__${base} in ${names}`);
		assert.ok(!names.includes(base), `no bare ${base}`);
	}
	assert.equal(names.filter((n) => n === 'only_a').length, 1);
	assert.equal(names.filter((n) => n === 'only_b').length, 1);
	assert.equal(toolText(await s.callTool('a__echo', { text: 'to a' })),
	    'to a');
	assert.equal(toolText(await s.callTool('b__shared', { text: 'sh' })),
	    'shared: sh');
	assert.deepEqual(a.execs('echo').map((e) => e.args.text), ['to a']);
	assert.deepEqual(b.execs('shared').map((e) => e.args.text), ['sh']);
	const e = await callError(s, 'c__nope', {});
	assert.equal(e.code, ERR.INVALID_PARAMS);
	assert.match(e.message, /c__nope/);
});

itest('http: an expired session (404) is invisible: re-initialized, the ' +
    'non-idempotent call runs once', async (t) => {
	const dir = tmpdir(t);
	const demo = await demoFor(t, dir, 'http', { args: ['--expire-after', 1,
	    '--fault-method', 'increment'] });
	const d = await daemonFor(t, dir, { demo: serverFor(demo) }, FAST);
	const s = await initialize(d.mcpUrl());
	assert.equal(toolText(await s.callTool('increment', { by: 1 })), '1');
	assert.equal(toolText(await s.callTool('increment', { by: 1 })), '2');
	const calls = rpcs(demo, 'tools/call');
	assert.deepEqual(calls.map((r) => [r.status, r.fault ?? null]),
	    [[200, null], [404, 'expired'], [200, null]]);
	assert.notEqual(calls[0].session, calls[2].session, 'a new session');
	assert.equal(rpcs(demo, 'initialize').length, 2);
	assert.equal(demo.execs('increment').length, 2);
	assert.match(d.log(), /server demo: ready -> connecting \(the server no longer knows the session \(HTTP 404 Not Found\)\)/);
});

itest('http: an SSE reply cut before its response is resumed with ' +
    'Last-Event-ID after retry:, the response arrives once', async (t) => {
	const dir = tmpdir(t);
	const demo = await demoFor(t, dir, 'http', { args: ['--http-reply',
	    'sse', '--sse-close-after', 1, '--sse-retry-ms', 300,
	    '--fault-method', 'sleep_ms'] });
	const d = await daemonFor(t, dir, { demo: serverFor(demo) }, FAST);
	const s = await initialize(d.mcpUrl());
	const progress = [];
	const r = await s.request('tools/call', { name: 'sleep_ms',
	    arguments: { ms: 350 }, _meta: { progressToken: 'p' } },
	    { onMessage: (m) => m.method === 'notifications/progress' &&
	    progress.push(m.params.progress) });
	assert.equal(r.error, undefined, JSON.stringify(r.error));
	assert.equal(toolText(r.result), 'slept 350 ms');
	assert.deepEqual(progress, [100, 200, 300, 350], 'each event once');
	const post = rpcs(demo, 'tools/call')[0];
	const resume = demo.requests().find((x) => x.method === 'GET' &&
	    x.lastEventId !== undefined && x.t > post.t);
	assert.ok(resume, 'a GET with Last-Event-ID');
	assert.match(resume.lastEventId, /^\d+-1$/);
	// Cut after the first progress event (100 ms by the demo's own
	// clock, which starts a little before it logs the POST), then
	// retry: 300 ms by the daemon's.
	assert.ok(resume.t - post.t >= 0.4 - 0.01, `resumed after ` +
	    `${(resume.t - post.t).toFixed(3)} s, want >= 0.1 + 0.3 s`);
	assert.equal(demo.execs('sleep_ms').length, 1);
});

itest('http: an SSE reply reset in the middle of a non-idempotent ' +
    'response is resumed: one result, one execution, no -32015',
    async (t) => {
	const dir = tmpdir(t);
	const demo = await demoFor(t, dir, 'http', { args: ['--http-reply',
	    'sse', '--reset-during', 1, '--sse-retry-ms', 100,
	    '--fault-method', 'increment'] });
	const d = await daemonFor(t, dir, { demo: serverFor(demo) }, FAST);
	const s = await initialize(d.mcpUrl());
	assert.equal(toolText(await s.callTool('increment', { by: 3 })), '3');
	assert.equal(demo.execs('increment').length, 1);
	assert.ok(demo.requests().some((x) => x.method === 'GET' &&
	    x.lastEventId !== undefined), 'resumed with Last-Event-ID');
	assert.doesNotMatch(d.log(), /may or may not have run/);
});

itest('sse: the legacy stream drops at once after the endpoint event (a ' +
    'new stream, calls work), and instead of a response (-32015 for a ' +
    'non-idempotent call, run once)', async (t) => {
	const dir = tmpdir(t);
	const demo = await demoFor(t, dir, 'sse', { args: ['--sse-close-after',
	    0, '--reset-during', 2, '--fault-method', 'increment'] });
	const d = await daemonFor(t, dir, { demo: serverFor(demo,
	    { idempotent_tools: ['echo'] }) }, FAST);
	const s = await initialize(d.mcpUrl());
	assert.equal(toolText(await s.callTool('echo', { text: 'a' })), 'a');
	const gets = demo.requests().filter((x) => x.method === 'GET');
	assert.ok(gets.length >= 2, 'the first stream dropped, a second came');
	const e = await callError(s, 'increment', { by: 1 });
	assert.equal(e.code, ERR.MAYBE_RAN, e.message);
	assert.equal(demo.execs('increment').length, 1);
	const again = await callError(s, 'increment', { by: 1 });
	assert.equal(again.code, ERR.MAYBE_RAN);
	assert.equal(demo.execs('increment').length, 2);
	assert.equal(toolText(await s.callTool('increment', { by: 1 })), '3');
	assert.equal(toolText(await s.callTool('echo', { text: 'b' })), 'b');
});

/*
 * A 2026-07-28-only HTTP server replying with SSE: each stateless stream
 * numbers its events from the start, so ids repeat across streams.  They
 * are unique within a session only, and there is none: mcprelayd must not
 * drop a reply as "replayed" (it did, and never became ready).
 */
itest('http: a 2026-07-28-only server whose SSE replies reuse event ids ' +
    'from stream to stream is served, list after list and call after call',
    async (t) => {
	const dir = tmpdir(t);
	const demo = await demoFor(t, dir, 'http', { args: ['--era', 'modern',
	    '--http-reply', 'sse'] });
	const d = await daemonFor(t, dir, { demo: serverFor(demo) }, FAST);
	await waitFor(() => /server demo: initializing -> ready/.test(d.log()),
	    { timeout: 10000, message: 'demo ready' });
	assert.match(d.log(), /server demo: speaks modern MCP/);
	assert.doesNotMatch(d.log(), /dropping replayed event/);
	const s = await initialize(d.mcpUrl('demo'));
	for (const text of ['one', 'two', 'three'])
		assert.equal(toolText((await s.request('tools/call',
		    { name: 'echo', arguments: { text } })).result), text);
	assert.equal(rpcs(demo, 'initialize').length, 0);
	assert.equal(rpcs(demo, 'tools/call').length, 3);
});
