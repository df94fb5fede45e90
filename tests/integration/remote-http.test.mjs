// mcprelayd in front of a remote Streamable HTTP server: the pinned
// server-everything in its streamableHttp mode, directly or behind the
// fault proxy (lib/fault-proxy.mjs) for 503/429/404, resets, cut streams,
// delays and https with a certificate made here.  Also: the official SDK
// client through the daemon while the upstream is restarted, and no header
// value in the daemon's log.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before } from 'node:test';
import * as path from 'node:path';
import {
	ERR, McpError, baseConfig, freePort, initialize, itest, startDaemon,
	tmpdir, toolText, waitFor,
} from './lib/harness.mjs';
import { loadSdk, startEverything } from './lib/everything.mjs';
import { makeCert, startFaultProxy } from './lib/fault-proxy.mjs';

const SECRET = 'tok-3f9a1c77e2b04d5a';
const SECRET2 = 'key-88d1e0c4a9b2';

/* Retries fast and often enough to ride out an upstream restart. */
const FAST = {
	retry: { max_retries: 30, initial_delay: '0.1s', max_delay: '0.5s',
	    backoff_factor: 2.0, jitter: false },
	circuit_breaker: { failure_threshold: 100 },
	queue_timeout: '15s',
};

/* One server-everything for the tests that put the proxy in front. */
let shared;
before(async () => {
	const dir = tmpdir();
	shared = await startEverything({ mode: 'streamableHttp',
	    port: await freePort(), logFile: path.join(dir, 'everything.log') });
});
after(() => shared?.kill());

const origin = () => `http://127.0.0.1:${shared.port}`;
const isPost = (method) => (r) => r.method === 'POST' &&
    r.json?.method === method;
const isCall = (tool) => (r) => r.method === 'POST' &&
    r.json?.method === 'tools/call' && r.json.params?.name === tool;

/* A daemon with server "ev" at url (more server settings in extra). */
async function daemonFor(t, dir, url, extra = {}, defaults = {}) {
	return startDaemon({ t, dir, config: baseConfig(dir, {
		defaults,
		servers: { ev: { type: 'http', url,
		    headers: { Authorization: `Bearer ${SECRET}` }, ...extra } },
	}) });
}

async function expectError(promise, code) {
	try {
		await promise;
	} catch (e) {
		assert.ok(e instanceof McpError, String(e));
		assert.equal(e.code, code, e.message);
		return e;
	}
	assert.fail(`no error ${code}`);
}

function assertNoSecrets(d) {
	const log = d.log();
	assert.ok(!log.includes(SECRET), 'a header value reached the log');
	assert.ok(!log.includes(SECRET2), 'a header value reached the log');
}

itest('SDK client through mcprelayd to server-everything (Streamable ' +
    'HTTP): tools, progress, sampling; the upstream restarts under the ' +
    'client', { timeout: 45000 }, async (t) => {
	const m = await loadSdk();
	const dir = tmpdir(t);
	const ev = await startEverything({ mode: 'streamableHttp',
	    port: await freePort(), logFile: path.join(dir, 'everything.log'),
	    t });
	const d = await daemonFor(t, dir, ev.url,
	    { headers: { Authorization: `Bearer ${SECRET}`,
	    'X-Api-Key': SECRET2 } }, FAST);
	const sampled = [];
	const client = new m.Client({ name: 'itest', version: '1.0.0' },
	    { capabilities: { sampling: {} } });
	client.setRequestHandler(m.CreateMessageRequestSchema, async (req) => {
		sampled.push(req.params);
		return { model: 'itest-model', role: 'assistant',
		    content: { type: 'text', text: 'sampled by the test' } };
	});
	const opts = { timeout: 10000 };
	await client.connect(new m.StreamableHTTPClientTransport(
	    new URL(d.mcpUrl('ev'))), opts);
	try {
		const names = (await client.listTools(undefined, opts)).tools
		    .map((x) => x.name);
		for (const n of ['echo', 'get-sum', 'trigger-long-running-operation',
		    'trigger-sampling-request'])
			assert.ok(names.includes(n), `${n} in ${names}`);
		assert.equal(toolText(await client.callTool({ name: 'echo',
		    arguments: { message: 'hello' } }, undefined, opts)),
		    'Echo: hello');

		const progress = [];
		const long = await client.callTool({
		    name: 'trigger-long-running-operation',
		    arguments: { duration: 1, steps: 4 } }, undefined,
		    { ...opts, onprogress: (p) => progress.push(p) });
		assert.match(toolText(long), /Duration: 1 seconds, Steps: 4/);
		// The SDK may drop the last one, handled a microtask late.
		assert.ok(progress.length >= 3, `${progress.length} updates`);
		assert.deepEqual(progress.map((p) => [p.progress, p.total]),
		    [[1, 4], [2, 4], [3, 4], [4, 4]].slice(0, progress.length));

		const s = await client.callTool({ name: 'trigger-sampling-request',
		    arguments: { prompt: 'What is 2+2?', maxTokens: 16 } },
		    undefined, opts);
		assert.equal(sampled.length, 1);
		assert.match(sampled[0].messages[0].content.text, /What is 2\+2\?/);
		assert.match(toolText(s), /sampled by the test/);

		// Killed and started again on the same port: the upstream
		// session is gone, the client's is not.
		await ev.restart();
		assert.equal(toolText(await client.callTool({ name: 'echo',
		    arguments: { message: 'after the restart' } }, undefined,
		    opts)), 'Echo: after the restart');
		assert.equal(toolText(await client.callTool({ name: 'get-sum',
		    arguments: { a: 2, b: 3 } }, undefined, opts)),
		    'The sum of 2 and 3 is 5.');
	} finally {
		await client.close();
	}
	assert.match(d.log(), /server ev: initializing -> ready \(reconnected\)/);
	assertNoSecrets(d);
	// Stopping ends the upstream session with a DELETE.
	await d.stop();
	assert.match(d.log(), /server ev: session deleted \(HTTP 200\)/);
	await waitFor(() => /Received session termination request/.test(
	    fs.readFileSync(path.join(dir, 'everything.log'), 'utf8')),
	    { message: 'the DELETE at server-everything' });
});

itest('the headers go with every request; a 404 for the session is ' +
    'invisible: mcprelayd initializes again and re-sends the request',
    async (t) => {
	const dir = tmpdir(t);
	const proxy = await startFaultProxy({ target: origin() });
	t.after(() => proxy.close());
	const d = await daemonFor(t, dir, proxy.url());
	const s = await initialize(d.mcpUrl('ev'));
	assert.equal(toolText(await s.callTool('echo', { message: 'one' })),
	    'Echo: one');
	const sid = proxy.seen(isCall('echo'))[0].headers['mcp-session-id'];
	assert.ok(sid);

	proxy.rule({ when: (r) => isPost('prompts/get')(r) &&
	    r.headers['mcp-session-id'] === sid, status: 404,
	    headers: { 'content-type': 'application/json' },
	    body: '{"jsonrpc":"2.0","id":null,"error":{"code":-32001,' +
	    '"message":"Session not found"}}' });
	const p = await s.call('prompts/get', { name: 'simple-prompt' });
	assert.match(p.messages[0].content.text, /simple prompt/i);
	assert.equal(proxy.seen(isPost('initialize')).length, 2);
	const gets = proxy.seen(isPost('prompts/get'));
	assert.equal(gets.length, 2);
	assert.equal(gets[0].fault, 404);
	assert.notEqual(gets[1].headers['mcp-session-id'], sid);
	assert.equal(gets[1].headers['mcp-protocol-version'], '2025-11-25');

	// The GET stream finds the next expiry before any client request.
	const before = proxy.seen(isPost('initialize')).length;
	proxy.rule({ when: (r) => r.method === 'GET' &&
	    r.headers['mcp-session-id'] !== undefined, status: 404 });
	proxy.drop();
	await waitFor(() => proxy.seen(isPost('initialize')).length ===
	    before + 1, { timeout: 8000, message: 'a new initialize' });
	assert.equal(toolText(await s.callTool('echo', { message: 'two' })),
	    'Echo: two');
	assert.match(d.log(), /no longer knows the session \(HTTP 404/);

	for (const r of proxy.requests)
		assert.equal(r.headers.authorization, `Bearer ${SECRET}`,
		    `${r.method} ${r.json?.method ?? ''}`);
	assertNoSecrets(d);
});

itest('a reply stream cut before its response is resumed with ' +
    'Last-Event-ID after retry:, and the response arrives exactly once',
    async (t) => {
	const dir = tmpdir(t);
	const proxy = await startFaultProxy({ target: origin() });
	t.after(() => proxy.close());
	const d = await daemonFor(t, dir, proxy.url());
	const s = await initialize(d.mcpUrl('ev'));
	proxy.rule({ when: isCall('trigger-long-running-operation'),
	    cut: (ev) => ev.includes('"result"'), retry: 400 });
	const progress = [];
	const reply = await s.request('tools/call', {
	    name: 'trigger-long-running-operation',
	    arguments: { duration: 0.6, steps: 3 },
	    _meta: { progressToken: 'tok' } },
	    { onMessage: (m) => progress.push(m), linger: 500 });
	assert.match(toolText(reply.result), /Steps: 3/);
	assert.equal(reply.duplicates, undefined);
	assert.deepEqual(progress.filter((m) => m.method ===
	    'notifications/progress').map((m) => m.params.progress), [1, 2, 3]);
	assert.equal(proxy.cuts.length, 1);
	assert.equal(proxy.seen(isCall('trigger-long-running-operation')).length,
	    1, 'the tool ran once');
	const resumes = proxy.seen((r) => r.method === 'GET' &&
	    r.headers['last-event-id'] !== undefined && r.t >= proxy.cuts[0].t);
	assert.ok(resumes.length >= 1, 'a resuming GET');
	assert.ok(resumes[0].t - proxy.cuts[0].t >= 390,
	    `resumed after ${resumes[0].t - proxy.cuts[0].t} ms, retry: 400`);
	assert.equal(proxy.seen(isPost('initialize')).length, 1,
	    'the session survived');
});

itest('503 at initialize is retried as http_5xx; a connection reset ' +
    'before the reply fails a tool call with -32015 and re-sends an ' +
    'idempotent one', async (t) => {
	const dir = tmpdir(t);
	const proxy = await startFaultProxy({ target: origin() });
	t.after(() => proxy.close());
	proxy.rule({ when: isPost('initialize'), status: 503, count: 2 });
	const d = await daemonFor(t, dir, proxy.url(),
	    { idempotent_tools: ['get-sum'] });
	const s = await initialize(d.mcpUrl('ev'));
	assert.equal(toolText(await s.callTool('echo', { message: 'x' })),
	    'Echo: x');
	assert.equal(proxy.seen(isPost('initialize')).length, 3);
	assert.match(d.log(), /HTTP 503 Service Unavailable from .*\[http_5xx\]; retry 1 of 3/);

	proxy.rule({ when: isCall('echo'), reset: 'before' });
	const e = await expectError(s.callTool('echo', { message: 'y' }),
	    ERR.MAYBE_RAN);
	assert.match(e.message, /may or may not have run/);
	proxy.rule({ when: isCall('get-sum'), reset: 'before' });
	assert.equal(toolText(await s.callTool('get-sum', { a: 2, b: 3 })),
	    'The sum of 2 and 3 is 5.');
	assert.equal(proxy.seen(isCall('get-sum')).length, 2);
});

itest('the server gone (connections refused): the broken GET stream ' +
    'notices at once, 20 calls wait in the queue, and all run once it is ' +
    'back, after one initialize', async (t) => {
	const dir = tmpdir(t);
	const proxy = await startFaultProxy({ target: origin() });
	t.after(() => proxy.close());
	const d = await daemonFor(t, dir, proxy.url(), {}, FAST);
	const s = await initialize(d.mcpUrl('ev'));
	assert.equal(toolText(await s.callTool('echo', { message: 'up' })),
	    'Echo: up');
	await waitFor(() => proxy.seen((r) => r.method === 'GET').length === 1,
	    { message: 'the GET stream' });
	await proxy.refuse();
	await waitFor(() => /server ev: ready -> connecting \(cannot connect/
	    .test(d.log()), { timeout: 3000, message: 'the loss noticed' });
	const calls = [];
	for (let i = 0; i < 20; i++)
		calls.push(s.callTool('echo', { message: `m${i}` }));
	await waitFor(() => /server ev: .*-> backoff/.test(d.log()),
	    { message: 'a failed attempt' });
	await proxy.accept();
	const results = await Promise.all(calls);
	assert.deepEqual(results.map(toolText),
	    Array.from({ length: 20 }, (_, i) => `Echo: m${i}`));
	assert.equal(proxy.seen(isPost('initialize')).length, 2);
	assert.equal(proxy.seen(isCall('echo')).length, 21);
});

itest('429 with Retry-After: the next attempt waits for it', async (t) => {
	const dir = tmpdir(t);
	const proxy = await startFaultProxy({ target: origin() });
	t.after(() => proxy.close());
	proxy.rule({ when: isPost('initialize'), status: 429,
	    headers: { 'retry-after': '1' } });
	const d = await daemonFor(t, dir, proxy.url());
	const s = await initialize(d.mcpUrl('ev'));
	assert.equal(toolText(await s.callTool('echo', { message: 'x' })),
	    'Echo: x');
	const inits = proxy.seen(isPost('initialize'));
	assert.equal(inits.length, 2);
	const gap = inits[1].t - inits[0].t;
	assert.ok(gap >= 1000 && gap < 3000, `second initialize after ${gap} ms`);
	assert.match(d.log(), /waiting 1\.0s \(Retry-After\)/);
	assert.match(d.log(), /\[http_429\]; retry 1 of 3/);
});

itest('not retried: 503 outside retry_on, 401 at initialize, a slow ' +
    'reply past request_timeout', async (t) => {
	const dir = tmpdir(t);
	const proxy = await startFaultProxy({ target: origin() });
	t.after(() => proxy.close());
	proxy.rule({ when: (r) => isPost('initialize')(r) &&
	    r.headers['x-which'] === 'busy', status: 503, count: Infinity });
	proxy.rule({ when: (r) => isPost('initialize')(r) &&
	    r.headers['x-which'] === 'auth', status: 401, count: Infinity });
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		defaults: { circuit_breaker: { open_duration: '30s',
		    max_open_duration: '60s' } },
		servers: {
			busy: { type: 'http', url: proxy.url(),
			    headers: { 'X-Which': 'busy' },
			    retry_on: ['connect_failure'] },
			auth: { type: 'http', url: proxy.url(),
			    headers: { 'X-Which': 'auth' } },
			slow: { type: 'http', url: proxy.url(),
			    headers: { 'X-Which': 'slow' },
			    request_timeout: '0.5s' },
		},
	}) });
	await waitFor(() => /server busy: initializing -> failed .*not retried/
	    .test(d.log()) && /server auth: initializing -> failed/
	    .test(d.log()), { timeout: 8000, message: 'busy and auth failed' });
	const busy = await initialize(d.mcpUrl('busy'));
	let e = await expectError(busy.callTool('echo', { message: 'x' }),
	    ERR.CIRCUIT_OPEN);
	assert.match(e.message, /HTTP 503 Service Unavailable/);
	const auth = await initialize(d.mcpUrl('auth'));
	e = await expectError(auth.callTool('echo', { message: 'x' }), ERR.SPAWN);
	assert.match(e.message, /refused initialize: HTTP 401 Unauthorized/);
	assert.equal(proxy.seen((r) => isPost('initialize')(r) &&
	    r.headers['x-which'] === 'auth').length, 1, '401 is not retried');

	const slow = await initialize(d.mcpUrl('slow'));
	proxy.rule({ when: isCall('echo'), delay: 1500 });
	e = await expectError(slow.callTool('echo', { message: 'late' }),
	    ERR.TIMEOUT);
	assert.match(e.message, /did not answer tools\/call within request_timeout/);
	assert.equal(toolText(await slow.callTool('echo', { message: 'on' })),
	    'Echo: on');
});

itest('https: tls.ca_file trusts a self-signed certificate; without it ' +
    'the certificate is refused, not retried, and the error names why; ' +
    'verify: false warns', async (t) => {
	const dir = tmpdir(t);
	const { cert, key } = makeCert(dir);
	const proxy = await startFaultProxy({ target: origin(),
	    tls: { cert, key } });
	t.after(() => proxy.close());
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		defaults: { circuit_breaker: { open_duration: '30s',
		    max_open_duration: '60s' } },
		servers: {
			good: { type: 'http', url: proxy.url(),
			    tls: { ca_file: cert } },
			bad: { type: 'http', url: proxy.url() },
			loose: { type: 'http', url: proxy.url(),
			    tls: { verify: false } },
		},
	}) });
	const good = await initialize(d.mcpUrl('good'));
	assert.equal(toolText(await good.callTool('echo', { message: 'tls' })),
	    'Echo: tls');
	const loose = await initialize(d.mcpUrl('loose'));
	assert.equal(toolText(await loose.callTool('echo', { message: 'l' })),
	    'Echo: l');
	assert.match(d.log(), /server loose: TLS certificate verification is off/);

	await waitFor(() => /server bad: initializing -> failed/.test(d.log()),
	    { timeout: 8000, message: 'bad to fail' });
	const bad = await initialize(d.mcpUrl('bad'));
	const e = await expectError(bad.callTool('echo', { message: 'x' }),
	    ERR.SPAWN);
	assert.match(e.message, /TLS certificate of 127\.0\.0\.1:\d+ refused: self-signed certificate \(X509 error 18\)/);
	assert.match(d.log(), /server bad: initializing -> failed \(TLS certificate .* \[connect_failure\]; not retried/);
	assert.equal((d.log().match(/server bad: .*-> backoff/g) ?? []).length, 0);
});
