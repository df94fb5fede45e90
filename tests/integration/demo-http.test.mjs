// The demo server's HTTP mode by itself, no mcprelayd: the fault-injecting
// upstream that remote-demo.test.mjs relies on must do what
// docs/demo-server.md says (sessions, SSE replies with ids, Last-Event-ID,
// the legacy transport, TLS, and each HTTP fault).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import {
	SseParser, bin, itest, readJsonLines, tmpdir, waitFor,
} from './lib/harness.mjs';
import { makeCert } from './lib/fault-proxy.mjs';

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: {
    protocolVersion: '2025-11-25', capabilities: {},
    clientInfo: { name: 't', version: '1' } } };

async function startDemo(t, args = []) {
	const dir = tmpdir(t);
	const log = path.join(dir, 'demo.log');
	const fd = fs.openSync(log, 'a');
	const child = spawn(bin.demo, ['--http', '127.0.0.1:0', '--exec-log',
	    path.join(dir, 'exec.log'), '--http-log',
	    path.join(dir, 'http.log'), ...args.map(String)],
	    { stdio: ['ignore', 'ignore', fd] });
	fs.closeSync(fd);
	const exited = new Promise((r) => child.on('exit', (code, signal) =>
	    r({ code, signal })));
	t.after(async () => {
		if (child.exitCode === null && child.signalCode === null) {
			child.kill('SIGTERM');
			const { code } = await exited;
			assert.equal(code, 0, 'exits 0 on SIGTERM');
		}
	});
	let m;
	await waitFor(() => (m = /listening on (https?):\/\/127\.0\.0\.1:(\d+)/
	    .exec(fs.readFileSync(log, 'utf8'))), { timeout: 5000 });
	return { dir, port: Number(m[2]), base: `${m[1]}://127.0.0.1:${m[2]}`,
	    execs: () => readJsonLines(path.join(dir, 'exec.log')),
	    requests: () => readJsonLines(path.join(dir, 'http.log')) };
}

function post(base, body, headers = {}, target = '/mcp') {
	return fetch(base + target, { method: 'POST', body: typeof body ===
	    'string' ? body : JSON.stringify(body), headers: {
	    'content-type': 'application/json', accept:
	    'application/json, text/event-stream', ...headers } });
}

/* The events of a whole SSE body. */
async function events(res) {
	const p = new SseParser();
	return p.feed(await res.text());
}

/* One raw exchange: what the server wrote until it closed, or the error. */
function raw(port, text, { wait = 2000 } = {}) {
	return new Promise((resolve) => {
		const sock = net.connect(port, '127.0.0.1');
		let out = '';
		const timer = setTimeout(() => {
			sock.destroy();
			resolve({ out, timedOut: true });
		}, wait);
		sock.on('data', (d) => { out += d; });
		sock.on('error', (e) => {
			clearTimeout(timer);
			resolve({ out, error: e.code });
		});
		sock.on('close', () => {
			clearTimeout(timer);
			resolve({ out });
		});
		sock.write(text);
	});
}

itest('demo --http: sessions are issued and checked; DELETE ends one; ' +
    'one GET stream per session', async (t) => {
	const demo = await startDemo(t);
	const init = await post(demo.base, INIT);
	assert.equal(init.status, 200);
	const sid = init.headers.get('mcp-session-id');
	assert.match(sid, /^demo-\d+-1$/);
	assert.equal((await init.json()).result.protocolVersion, '2025-11-25');

	const ping = { jsonrpc: '2.0', id: 2, method: 'ping' };
	assert.equal((await post(demo.base, ping,
	    { 'mcp-session-id': sid })).status, 200);
	assert.equal((await post(demo.base, ping)).status, 200, 'no session');
	const unknown = await post(demo.base, ping,
	    { 'mcp-session-id': 'demo-0-9' });
	assert.equal(unknown.status, 404);
	assert.deepEqual((await unknown.json()).error,
	    { code: -32001, message: 'Session not found' });
	assert.equal((await post(demo.base, { jsonrpc: '2.0',
	    method: 'notifications/initialized' },
	    { 'mcp-session-id': sid })).status, 202);

	assert.equal((await fetch(demo.base + '/mcp')).status, 400);
	const ac = new AbortController();
	const get = await fetch(demo.base + '/mcp', { signal: ac.signal,
	    headers: { accept: 'text/event-stream', 'mcp-session-id': sid } });
	assert.equal(get.status, 200);
	assert.equal(get.headers.get('content-type'), 'text/event-stream');
	assert.equal((await fetch(demo.base + '/mcp', { headers:
	    { 'mcp-session-id': sid } })).status, 409);
	ac.abort();

	assert.equal((await fetch(demo.base + '/mcp', { method: 'DELETE',
	    headers: { 'mcp-session-id': sid } })).status, 200);
	assert.equal((await post(demo.base, ping,
	    { 'mcp-session-id': sid })).status, 404);
	assert.equal((await post(demo.base, 'not json')).status, 400);
});

itest('demo --http: SSE replies carry ids and retry:; a cut stream ' +
    'resumes with Last-Event-ID, each event once', async (t) => {
	const demo = await startDemo(t, ['--http-reply', 'tools',
	    '--sse-retry-ms', 250, '--sse-close-after', 1,
	    '--fault-method', 'sleep_ms']);
	const init = await post(demo.base, INIT);
	const sid = init.headers.get('mcp-session-id');
	assert.equal(init.headers.get('content-type'), 'application/json',
	    'tools: JSON for all but tools/call and prompts/get');
	const call = await post(demo.base, { jsonrpc: '2.0', id: 'c',
	    method: 'tools/call', params: { name: 'sleep_ms',
	    arguments: { ms: 250 }, _meta: { progressToken: 'p' } } },
	    { 'mcp-session-id': sid });
	assert.equal(call.headers.get('content-type'), 'text/event-stream');
	const first = await events(call);
	assert.deepEqual(first.map((e) => [e.id, e.retry ?? null, e.data]),
	    [['2-0', 250, ''], ['2-1', null, JSON.stringify({ jsonrpc: '2.0',
	    method: 'notifications/progress', params: { progressToken: 'p',
	    progress: 100, total: 250 } })]], 'cut after one event');

	await new Promise((r) => setTimeout(r, 300));	// the call is done
	const rest = await events(await fetch(demo.base + '/mcp', { headers: {
	    'mcp-session-id': sid, 'last-event-id': '2-1' } }));
	// Progress at 200 and 250 ms, then the response.
	assert.deepEqual(rest.map((e) => e.id), ['2-2', '2-3', '2-4']);
	assert.deepEqual(JSON.parse(rest[2].data),
	    { jsonrpc: '2.0', id: 'c', result: { content: [{ type: 'text',
	    text: 'slept 250 ms' }] } });
	const again = await events(await fetch(demo.base + '/mcp', { headers: {
	    'mcp-session-id': sid, 'last-event-id': '2-2' } }));
	assert.deepEqual(again.map((e) => e.id), ['2-3', '2-4']);

	// Per request: _meta demo/reply picks the kind.
	const json = await post(demo.base, { jsonrpc: '2.0', id: 'j',
	    method: 'tools/call', params: { name: 'echo', arguments:
	    { text: 'x' }, _meta: { 'demo/reply': 'json' } } },
	    { 'mcp-session-id': sid });
	assert.equal(json.headers.get('content-type'), 'application/json');
	assert.equal((await json.json()).result.content[0].text, 'x');
});

itest('demo --http --sse: the legacy transport; /mcp is not served',
    async (t) => {
	const demo = await startDemo(t, ['--sse']);
	assert.equal((await post(demo.base, INIT)).status, 404);
	const ac = new AbortController();
	const res = await fetch(demo.base + '/sse', { signal: ac.signal });
	assert.equal(res.status, 200);
	const parser = new SseParser();
	const got = [];
	const reader = res.body.getReader();
	const pump = (async () => {
		for (;;) {
			const { value, done } = await reader.read();
			if (done)
				return;
			got.push(...parser.feed(Buffer.from(value).toString()));
		}
	})().catch(() => {});
	await waitFor(() => got.length >= 1);
	assert.equal(got[0].event, 'endpoint');
	assert.match(got[0].data, /^\/messages\?sessionId=demo-\d+-1$/);
	const r = await post(demo.base, { jsonrpc: '2.0', id: 7,
	    method: 'ping' }, {}, got[0].data);
	assert.equal(r.status, 202);
	await waitFor(() => got.length >= 2);
	assert.equal(got[1].event, 'message');
	assert.deepEqual(JSON.parse(got[1].data),
	    { jsonrpc: '2.0', id: 7, result: {} });
	assert.equal((await post(demo.base, { jsonrpc: '2.0', id: 8,
	    method: 'ping' }, {}, '/messages?sessionId=nope')).status, 404);
	ac.abort();
	await pump;
});

itest('demo --http faults: 503 with Retry-After, 429, reset before, ' +
    'stall; refused requests do not run', async (t) => {
	const demo = await startDemo(t, ['--stall', 1, '--reset-before', 1,
	    '--http-503', 1, '--http-429', 1, '--retry-after', 2,
	    '--fault-method', 'increment']);
	const inc = JSON.stringify({ jsonrpc: '2.0', id: 1,
	    method: 'tools/call', params: { name: 'increment',
	    arguments: {} } });
	const req = `POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: ` +
	    `application/json\r\nContent-Length: ${inc.length}\r\n\r\n${inc}`;
	const stalled = await raw(demo.port, req, { wait: 500 });
	assert.deepEqual(stalled, { out: '', timedOut: true });
	const reset = await raw(demo.port, req);
	assert.equal(reset.error, 'ECONNRESET');
	assert.equal(reset.out, '');
	const r503 = await post(demo.base, inc);
	assert.equal(r503.status, 503);
	assert.equal(r503.headers.get('retry-after'), '2');
	const r429 = await post(demo.base, inc);
	assert.equal(r429.status, 429);
	assert.equal(r429.headers.get('retry-after'), '2');
	assert.equal(demo.execs().length, 0, 'none of them ran');
	const ok = await post(demo.base, inc);
	assert.equal(ok.status, 200);
	assert.equal((await ok.json()).result.content[0].text, '1');
	assert.equal(demo.execs().length, 1);
	// Other methods are not aimed at.
	assert.equal((await post(demo.base, INIT)).status, 200);
	assert.deepEqual(demo.requests().map((r) => r.fault ?? null),
	    ['stall', 'reset-before', '503', '429', null, null]);
});

itest('demo --http faults: a reset in the middle of a JSON response; an ' +
    'expired session; chunked and oversize requests', async (t) => {
	const demo = await startDemo(t, ['--reset-during', 1,
	    '--expire-after', 2, '--fault-method', 'ping']);
	const init = await post(demo.base, INIT);
	assert.equal(init.status, 200, 'initialize is not aimed at');
	await init.text();
	const sid = init.headers.get('mcp-session-id');
	const ping = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' });
	const cut = await raw(demo.port, 'POST /mcp HTTP/1.1\r\nHost: x\r\n' +
	    `Content-Length: ${ping.length}\r\n\r\n${ping}`);
	assert.equal(cut.error, 'ECONNRESET');
	const want = '{"jsonrpc":"2.0","id":2,"result":{}}';
	assert.ok(cut.out.startsWith('HTTP/1.1 200 OK\r\n'), cut.out);
	assert.ok(cut.out.endsWith('\r\n\r\n' + want.slice(0,
	    want.length >> 1)), `half of the body: ${cut.out}`);
	// The session's aimed requests: 2 served, the third expires it.
	for (let i = 0; i < 2; i++)
		assert.equal((await post(demo.base, ping,
		    { 'mcp-session-id': sid })).status, 200);
	const expired = await post(demo.base, ping,
	    { 'mcp-session-id': sid });
	assert.equal(expired.status, 404);
	assert.equal(demo.requests().at(-1).fault, 'expired');
	assert.equal((await post(demo.base, ping,
	    { 'mcp-session-id': sid })).status, 404, 'it stays expired');

	const chunked = await raw(demo.port, 'POST /mcp HTTP/1.1\r\nHost: x' +
	    '\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n');
	assert.match(chunked.out, /^HTTP\/1\.1 411 /);
	const big = await raw(demo.port, 'POST /mcp HTTP/1.1\r\nHost: x\r\n' +
	    `Content-Length: ${5 * 1024 * 1024}\r\n\r\n`);
	assert.match(big.out, /^HTTP\/1\.1 413 /);
});

itest('demo --http --tls-cert: https with a certificate made here',
    async (t) => {
	const dir = tmpdir(t);
	const { cert, key } = makeCert(dir);
	const demo = await startDemo(t, ['--tls-cert', cert, '--tls-key', key]);
	assert.match(demo.base, /^https:/);
	const call = (ca) => new Promise((resolve, reject) => {
		const body = JSON.stringify(INIT);
		const req = https.request(`${demo.base}/mcp`, { method: 'POST',
		    ca, headers: { 'content-type': 'application/json',
		    'content-length': body.length } }, (res) => {
			let text = '';
			res.on('data', (d) => { text += d; });
			res.on('end', () => resolve({ status: res.statusCode,
			    text }));
		});
		req.on('error', reject);
		req.end(body);
	});
	const ok = await call(fs.readFileSync(cert));
	assert.equal(ok.status, 200);
	assert.equal(JSON.parse(ok.text).result.protocolVersion, '2025-11-25');
	await assert.rejects(call(undefined),
	    /self-signed certificate|SELF_SIGNED/i);
	const plain = await raw(demo.port, 'GET /mcp HTTP/1.1\r\nHost: x' +
	    '\r\n\r\n', { wait: 1000 });
	assert.ok(!/^HTTP\/1\.1 /.test(plain.out), 'no plain HTTP on it');
});
