// The listen.* limits against floods (docs/security.md#limits): each one,
// hit, gives its documented answer (HTTP 503/408 or JSON-RPC -32007) and a
// counter in `stats` and the metrics, and other clients go on being served.
// Also 10,000 idle connections held at once, and slowloris clients.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import {
	baseConfig, bin, connectUnix, demoServer, httpRequest, initialize,
	itest, slow, startDaemon, tmpdir, toolText, waitFor,
} from './lib/harness.mjs';

const LIMIT = -32007;

async function start(t, over) {
	const dir = tmpdir(t);
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		servers: { demo: demoServer() }, ...over }) });
	d.controlPath = path.join(dir, 'control.sock');
	return d;
}

function stats(d) {
	return JSON.parse(execFileSync(bin.ctl, ['stats', '--json',
	    '--socket', d.controlPath], { encoding: 'utf8',
	    timeout: 10000 * slow }));
}

function metrics(d) {
	return execFileSync(bin.ctl, ['metrics', '--socket', d.controlPath],
	    { encoding: 'utf8', timeout: 10000 * slow });
}

function httpListener(st) {
	return st.listeners.find((l) => l.type === 'http');
}

/* A raw TCP connection to the HTTP listener; .data collects what comes. */
function rawConnect(port) {
	return new Promise((resolve, reject) => {
		const sock = net.connect({ host: '127.0.0.1', port });
		sock.data = '';
		sock.gone = new Promise((r) => sock.once('close', r));
		sock.setEncoding('utf8');
		sock.on('data', (c) => { sock.data += c; });
		sock.once('connect', () => resolve(sock));
		sock.once('error', reject);
	});
}

function fdCount(pid) {
	return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/* An initialized session calls echo: the daemon still serves. */
async function stillServes(d, text = 'alive') {
	const s = await initialize(d.mcpUrl());
	assert.equal(toolText(await s.callTool('echo', { text })), text);
	await s.delete();
}

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: {
	protocolVersion: '2025-11-25', capabilities: {},
	clientInfo: { name: 'limits', version: '1' } } };

itest('listen.max_connections: 503 over HTTP, -32007 on the Unix socket',
    async (t) => {
	const d = await start(t, { listen: { max_connections: 3 } });
	// The harness's readiness probes may still be open (slow daemon).
	await waitFor(() => httpListener(stats(d)).open === 0);
	const held = [];
	for (let i = 0; i < 3; i++)
		held.push(await rawConnect(d.port));
	await waitFor(() => httpListener(stats(d)).open === 3,
	    { message: 'three open HTTP connections' });
	const over = await rawConnect(d.port);
	await over.gone;
	assert.match(over.data, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
	assert.match(over.data, /\r\nRetry-After: 1\r\n/);
	const body = JSON.parse(over.data.slice(over.data.indexOf('\r\n\r\n')));
	assert.equal(body.error.code, LIMIT);
	assert.deepEqual(body.error.data, { limit: 'max_connections',
	    value: 3 });
	let st = stats(d);
	assert.equal(httpListener(st).refused, 1);
	assert.equal(httpListener(st).open, 3);
	assert.equal(st.limits.maxConnections, 1);

	// A freed slot serves the next client at once.
	held.pop().destroy();
	await waitFor(() => httpListener(stats(d)).open === 2);
	const r = await httpRequest(d.mcpUrl(), { body: INIT, headers: {
	    'content-type': 'application/json',
	    accept: 'application/json, text/event-stream' } });
	assert.equal(r.status, 200, r.body);

	// The Unix socket has the same limit of its own.
	const u = [];
	for (let i = 0; i < 3; i++)
		u.push(await connectUnix(d.socketPath));
	await waitFor(() => stats(d).listeners.find((l) => l.type === 'unix')
	    .open === 3);
	const u4 = await connectUnix(d.socketPath);
	const m = await u4.next();
	assert.equal(m.error.code, LIMIT);
	assert.equal(m.error.data.limit, 'max_connections');
	st = stats(d);
	assert.equal(st.listeners.find((l) => l.type === 'unix').refused, 1);
	assert.equal(st.limits.maxConnections, 2);
	assert.match(metrics(d), /^mcprelay_limit_refusals_total\{limit="max_connections"\} 2$/m);
	for (const c of [...held, ...u, u4])
		c.destroy?.() ?? c.close();
});

itest('listen.max_sessions: 503 for initialize and GET /sse, -32007 on ' +
    'the Unix socket', async (t) => {
	const d = await start(t, { listen: { max_sessions: 2 } });
	const a = await initialize(d.mcpUrl());
	const b = await initialize(d.mcpUrl());
	const r = await httpRequest(d.mcpUrl(), { body: INIT, headers: {
	    'content-type': 'application/json',
	    accept: 'application/json, text/event-stream' } });
	assert.equal(r.status, 503, r.body);
	assert.equal(r.headers['retry-after'], '1');
	assert.equal(r.json.id, 1);
	assert.equal(r.json.error.code, LIMIT);
	assert.deepEqual(r.json.error.data, { limit: 'max_sessions',
	    value: 2 });
	const sse = await httpRequest(d.sseUrl(), { method: 'GET' });
	assert.equal(sse.status, 503);
	assert.equal(sse.json.error.code, LIMIT);
	const u = await connectUnix(d.socketPath);
	const m = await u.request('ping');
	assert.equal(m.error.code, LIMIT);
	assert.equal(m.id, 1);
	u.close();
	// The sessions that exist are untouched.
	assert.equal(toolText(await a.callTool('echo', { text: 'a' })), 'a');
	let st = stats(d);
	assert.equal(st.sessions.open, 2);
	assert.equal(st.limits.maxSessions, 3);
	// Ending one makes room.
	assert.equal((await b.delete()).status, 200);
	await stillServes(d);
	st = stats(d);
	assert.equal(st.limits.maxSessions, 3);
	assert.match(metrics(d), /^mcprelay_limit_refusals_total\{limit="max_sessions"\} 3$/m);
	await a.delete();
});

itest('listen.max_inflight: the request beyond it gets -32007 at once',
    async (t) => {
	const d = await start(t, { listen: { max_inflight: 2 } });
	const s = await initialize(d.mcpUrl());
	const sleeping = [s.callTool('sleep_ms', { ms: 1500 }),
	    s.callTool('sleep_ms', { ms: 1500 })];
	await waitFor(() => stats(d).servers.find((x) => x.name === 'demo')
	    ?.requests.inFlight === 2, { message: 'two calls in flight' });
	const over = await s.request('tools/call', { name: 'echo',
	    arguments: { text: 'x' } });
	assert.equal(over.error?.code, LIMIT, JSON.stringify(over));
	assert.deepEqual(over.error.data, { limit: 'max_inflight',
	    value: 2 });
	// Another session has its own allowance.
	await stillServes(d, 'other');
	for (const p of sleeping)
		assert.equal(toolText(await p), 'slept 1500 ms');
	assert.equal(toolText(await s.callTool('echo', { text: 'y' })), 'y');

	// On the Unix socket too: pipelined requests beyond the limit.
	const u = await connectUnix(d.socketPath);
	await u.initialize();
	const ids = [];
	for (let i = 0; i < 3; i++) {
		const id = u.nextId++;
		ids.push(id);
		u.send({ jsonrpc: '2.0', id, method: 'tools/call', params: {
		    name: 'sleep_ms', arguments: { ms: 500 } } });
	}
	const third = await u.next({ filter: (m) => m.id === ids[2] });
	assert.equal(third.error.code, LIMIT);
	for (const id of ids.slice(0, 2)) {
		const m = await u.next({ filter: (x) => x.id === id });
		assert.equal(m.result.content[0].text, 'slept 500 ms');
	}
	u.close();
	const st = stats(d);
	assert.equal(st.limits.maxInflight, 2);
	assert.match(metrics(d), /^mcprelay_limit_refusals_total\{limit="max_inflight"\} 2$/m);
	await s.delete();
});

itest('slowloris: a request trickled in past listen.request_read_timeout ' +
    'gets 408 and is closed; others are served meanwhile', async (t) => {
	const d = await start(t, { listen: { request_read_timeout: '1s',
	    idle_timeout: '60s' } });
	// Headers one byte every 100 ms: each byte resets the idle timer,
	// but not the request's deadline.
	const head = 'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
	    'Content-Type: application/json\r\nX-Pad: ' + 'a'.repeat(200);
	const slowHead = await rawConnect(d.port);
	// A slow body: complete headers, then a byte every 100 ms.
	const bodyText = JSON.stringify(INIT);
	const slowBody = await rawConnect(d.port);
	slowBody.write('POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
	    'Content-Type: application/json\r\nAccept: application/json, ' +
	    `text/event-stream\r\nContent-Length: ${bodyText.length}\r\n\r\n`);
	// An idle connection that has sent nothing: not a slow request.
	const idle = await rawConnect(d.port);
	let i = 0;
	const timer = setInterval(() => {
		if (!slowHead.destroyed)
			slowHead.write(head[i % head.length]);
		if (!slowBody.destroyed)
			slowBody.write(bodyText[i % (bodyText.length - 1)]);
		i++;
	}, 100);
	t.after(() => clearInterval(timer));
	await stillServes(d, 'during');
	await Promise.all([slowHead.gone, slowBody.gone]);
	clearInterval(timer);
	for (const c of [slowHead, slowBody]) {
		assert.match(c.data, /^HTTP\/1\.1 408 Request Timeout\r\n/);
		const body = JSON.parse(c.data.slice(c.data.indexOf('\r\n\r\n')));
		assert.equal(body.error.code, LIMIT);
		assert.deepEqual(body.error.data, { limit:
		    'request_read_timeout', value: 1 });
	}
	assert.ok(i < 40 * slow, `closed after ${i} bytes (~${i * 100} ms)`);
	// The idle one is still open and can still send a request.
	assert.equal(idle.destroyed, false);
	idle.write('POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
	    'Content-Type: application/json\r\nAccept: application/json, ' +
	    `text/event-stream\r\nContent-Length: ${bodyText.length}\r\n\r\n` +
	    bodyText);
	await waitFor(() => idle.data.includes('"result"'),
	    { message: 'the idle connection served' });
	assert.match(idle.data, /^HTTP\/1\.1 200 OK\r\n/);
	idle.destroy();
	const st = stats(d);
	assert.equal(httpListener(st).timedOut, 2);
	assert.equal(st.limits.requestReadTimeout, 2);
	assert.match(metrics(d), /^mcprelay_limit_refusals_total\{limit="request_read_timeout"\} 2$/m);
});

itest('10,000 idle connections are held; others are served; all is freed',
    { timeout: 120000 }, async (t) => {
	const N = 10000;
	const limits = fs.readFileSync('/proc/self/limits', 'utf8');
	const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? 0);
	assert.ok(soft >= N + 200, `RLIMIT_NOFILE is ${soft}: this test ` +
	    `needs ${N + 200} descriptors (ulimit -n)`);
	const d = await start(t, { listen: { max_connections: N + 100 } });
	// No connection yet but the harness's readiness probes, soon closed.
	await waitFor(() => httpListener(stats(d)).open === 0);
	const open0 = 0;
	const base = fdCount(d.pid);
	const socks = [];
	t.after(() => socks.forEach((s) => s.destroy()));
	// In batches the listen backlog holds, each accepted before the
	// next: a connection the kernel dropped from a full backlog would
	// look open to us and never reach the daemon.
	for (let i = 0; i < N; i += 100) {
		const batch = [];
		for (let j = i; j < Math.min(N, i + 100); j++)
			batch.push(rawConnect(d.port));
		socks.push(...await Promise.all(batch));
		await waitFor(() => httpListener(stats(d)).open ===
		    open0 + socks.length, { timeout: 10000 * slow,
		    message: `${socks.length} open connections` });
	}
	assert.ok(fdCount(d.pid) >= N, `${fdCount(d.pid)} descriptors`);
	await stillServes(d, 'during');
	const st = stats(d);
	assert.equal(st.limits.maxConnections, 0);
	assert.equal(socks.filter((s) => s.destroyed || s.data !== '').length,
	    0, 'an idle connection was closed or answered');
	for (const s of socks)
		s.destroy();
	await waitFor(() => httpListener(stats(d)).open <= open0 + 1,
	    { timeout: 30000 * slow, message: 'all connections closed' });
	await waitFor(() => fdCount(d.pid) <= base + 2, { timeout: 10000 * slow,
	    message: `descriptors back near ${base}` });
	await stillServes(d, 'after');
});
