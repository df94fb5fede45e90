// mcprelayd in front of a legacy HTTP+SSE server (MCP 2024-11-05): the
// pinned server-everything in its sse mode, directly (with the official SDK
// client through the daemon and an upstream restart) or behind the fault
// proxy; and a fake server whose endpoint event names another origin.

import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as path from 'node:path';
import {
	ERR, McpError, baseConfig, freePort, initialize, itest, startDaemon,
	tmpdir, toolText, waitFor,
} from './lib/harness.mjs';
import { loadSdk, startEverything } from './lib/everything.mjs';
import { startFaultProxy } from './lib/fault-proxy.mjs';

const SECRET = 'sse-tok-51c0ffee9d';

const FAST = {
	retry: { max_retries: 30, initial_delay: '0.1s', max_delay: '0.5s',
	    backoff_factor: 2.0, jitter: false },
	circuit_breaker: { failure_threshold: 100 },
	queue_timeout: '15s',
};

const isPost = (method) => (r) => r.method === 'POST' &&
    r.json?.method === method;

itest('SDK client through mcprelayd to server-everything (HTTP+SSE): ' +
    'tools, progress, sampling; the upstream restarts under the client',
    { timeout: 45000 }, async (t) => {
	const m = await loadSdk();
	const dir = tmpdir(t);
	const ev = await startEverything({ mode: 'sse', port: await freePort(),
	    logFile: path.join(dir, 'everything.log'), t });
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		defaults: FAST,
		servers: { ev: { type: 'sse', url: ev.url,
		    headers: { Authorization: `Bearer ${SECRET}` } } },
	}) });
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
		assert.ok(names.includes('echo'), `echo in ${names}`);
		assert.equal(toolText(await client.callTool({ name: 'echo',
		    arguments: { message: 'hello' } }, undefined, opts)),
		    'Echo: hello');
		const progress = [];
		const long = await client.callTool({
		    name: 'trigger-long-running-operation',
		    arguments: { duration: 0.6, steps: 3 } }, undefined,
		    { ...opts, onprogress: (p) => progress.push(p) });
		assert.match(toolText(long), /Steps: 3/);
		assert.ok(progress.length >= 2, `${progress.length} updates`);
		assert.deepEqual(progress.map((p) => p.progress),
		    [1, 2, 3].slice(0, progress.length));
		const s = await client.callTool({ name: 'trigger-sampling-request',
		    arguments: { prompt: 'What is 2+2?', maxTokens: 16 } },
		    undefined, opts);
		assert.equal(sampled.length, 1);
		assert.match(toolText(s), /sampled by the test/);

		await ev.restart();
		assert.equal(toolText(await client.callTool({ name: 'echo',
		    arguments: { message: 'after the restart' } }, undefined,
		    opts)), 'Echo: after the restart');
	} finally {
		await client.close();
	}
	assert.match(d.log(), /server ev: initializing -> ready \(reconnected\)/);
	assert.ok(!d.log().includes(SECRET), 'a header value reached the log');
});

itest('behind the fault proxy: a 503 to a POST is retried as http_5xx; a ' +
    'broken stream means a new session; headers on every request',
    async (t) => {
	const dir = tmpdir(t);
	const ev = await startEverything({ mode: 'sse', port: await freePort(),
	    logFile: path.join(dir, 'everything.log'), t });
	const proxy = await startFaultProxy({ target: `http://127.0.0.1:${ev.port}` });
	t.after(() => proxy.close());
	proxy.rule({ when: isPost('initialize'), status: 503 });
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		servers: { ev: { type: 'sse', url: proxy.url('/sse'),
		    headers: { Authorization: `Bearer ${SECRET}` } } },
	}) });
	const s = await initialize(d.mcpUrl('ev'));
	assert.equal(toolText(await s.callTool('echo', { message: 'x' })),
	    'Echo: x');
	assert.equal(proxy.seen(isPost('initialize')).length, 2);
	assert.equal(proxy.seen((r) => r.method === 'GET').length, 2);
	assert.match(d.log(), /HTTP 503 Service Unavailable from the message endpoint \[http_5xx\]; retry 1 of 3/);
	// The endpoint came relative ("/message?sessionId=..."): same origin.
	assert.ok(proxy.seen(isPost('initialize'))[1].path
	    .startsWith('/message?sessionId='));

	proxy.drop();
	await waitFor(() => proxy.seen((r) => r.method === 'GET').length === 3,
	    { timeout: 5000, message: 'a new SSE stream' });
	assert.equal(toolText(await s.callTool('echo', { message: 'y' })),
	    'Echo: y');
	assert.match(d.log(), /server ev: ready -> connecting \(the SSE stream broke|server ev: ready -> connecting \(the server ended the SSE stream/);
	for (const r of proxy.requests)
		assert.equal(r.headers.authorization, `Bearer ${SECRET}`);
	assert.ok(!d.log().includes(SECRET), 'a header value reached the log');
});

itest('an endpoint event naming another origin is refused', async (t) => {
	const dir = tmpdir(t);
	const fake = http.createServer((req, res) => {
		res.writeHead(200, { 'content-type': 'text/event-stream' });
		res.write('event: endpoint\ndata: http://127.0.0.2:9/steal\n\n');
	});
	await new Promise((r) => fake.listen(0, '127.0.0.1', r));
	t.after(() => {
		fake.closeAllConnections();
		fake.close();
	});
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		defaults: { circuit_breaker: { open_duration: '30s',
		    max_open_duration: '60s' } },
		servers: { fake: { type: 'sse',
		    url: `http://127.0.0.1:${fake.address().port}/sse` } },
	}) });
	await waitFor(() => /server fake: connecting -> failed/.test(d.log()),
	    { timeout: 5000, message: 'fake to fail' });
	assert.match(d.log(), /the endpoint event names another origin \(http:\/\/127\.0\.0\.2:9\/steal\); refused \[protocol_error\]; not retried/);
	const s = await initialize(d.mcpUrl('fake'));
	try {
		await s.callTool('echo', { message: 'x' });
		assert.fail('no error');
	} catch (e) {
		assert.ok(e instanceof McpError, String(e));
		assert.equal(e.code, ERR.CIRCUIT_OPEN);
	}
});

itest('type: http, protocol auto, at a legacy HTTP+SSE server: initialize is ' +
    'refused, mcprelayd tries the legacy transport at the same URL and ' +
    'serves the tools', { timeout: 30000 }, async (t) => {
	const m = await loadSdk();
	const dir = tmpdir(t);
	const ev = await startEverything({ mode: 'sse', port: await freePort(),
	    logFile: path.join(dir, 'everything.log'), t });
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		defaults: FAST, servers: { ev: { type: 'http', url: ev.url } },
	}) });
	await waitFor(() => /server ev: initializing -> ready/.test(d.log()),
	    { timeout: 15000, message: 'ev ready' });
	assert.match(d.log(), /server ev: initialize refused with HTTP 40[045]: trying the legacy HTTP\+SSE transport at the same URL/);
	const client = new m.Client({ name: 'itest', version: '1.0.0' });
	const opts = { timeout: 10000 };
	await client.connect(new m.StreamableHTTPClientTransport(
	    new URL(d.mcpUrl('ev'))), opts);
	t.after(() => client.close());
	assert.equal(toolText(await client.callTool({ name: 'echo',
	    arguments: { message: 'via sse' } }, undefined, opts)),
	    'Echo: via sse');
});
