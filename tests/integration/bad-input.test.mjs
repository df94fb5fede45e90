// Bad input at both listeners: invalid JSON and JSON-RPC, oversized bodies,
// foreign Origins and unknown sessions get the right status and error, and
// the daemon keeps serving afterwards.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import {
	ERR, baseConfig, connectUnix, demoServer, httpRequest, initialize,
	itest, readJsonLines, startDaemon, tmpdir, toolText,
} from './lib/harness.mjs';

itest('bad input gets precise errors and changes nothing', async (t) => {
	const dir = tmpdir(t);
	const execLog = path.join(dir, 'exec.log');
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		listen: { max_body_size: '64KiB' },
		servers: { demo: demoServer(['--exec-log', execLog]) },
	}) });
	const s = await initialize(d.mcpUrl());
	const post = (body, headers = {}) => httpRequest(d.mcpUrl(), {
	    body, headers: { ...s.headers(), ...headers } });

	await t.test('invalid JSON: 400 with -32700', async () => {
		for (const body of ['{"jsonrpc": "2.0", "id": 1, "method": ',
		    'not json', '{"a":1}}']) {
			const r = await post(body);
			assert.equal(r.status, 400, `body ${body}`);
			assert.match(r.headers['content-type'] ?? '',
			    /^application\/json/);
			assert.equal(r.json?.jsonrpc, '2.0', r.body);
			assert.equal(r.json.error?.code, ERR.PARSE, r.body);
			assert.equal(r.json.id, null);
		}
	});

	await t.test('invalid JSON-RPC: -32600', async () => {
		for (const body of ['{"jsonrpc":"1.0","id":2,"method":"ping"}',
		    '{"jsonrpc":"2.0","id":3}', '{"id":4,"method":"ping"}',
		    '{"jsonrpc":"2.0","id":5,"method":42}', '42', '"ping"']) {
			const r = await post(body);
			assert.equal(r.status, 400, `body ${body}: ${r.body}`);
			assert.equal(r.json?.error?.code, ERR.INVALID_REQUEST,
			    `body ${body}: ${r.body}`);
		}
	});

	await t.test('a body over max_body_size: 413', async () => {
		const big = JSON.stringify({ jsonrpc: '2.0', id: 6,
		    method: 'tools/call', params: { name: 'echo',
		    arguments: { text: 'x'.repeat(100 * 1024) } } });
		const r = await post(big);
		assert.equal(r.status, 413);
		// Just under the limit is fine.
		const ok = await post(JSON.stringify({ jsonrpc: '2.0', id: 7,
		    method: 'tools/call', params: { name: 'echo',
		    arguments: { text: 'y'.repeat(60 * 1024) } } }));
		assert.equal(ok.status, 200, ok.body.slice(0, 300));
	});

	await t.test('a foreign Origin: 403', async () => {
		const ping = '{"jsonrpc":"2.0","id":8,"method":"ping"}';
		const r = await post(ping, { origin: 'http://evil.example' });
		assert.equal(r.status, 403);
		const init = await httpRequest(d.mcpUrl(), { body: {
		    jsonrpc: '2.0', id: 9, method: 'initialize', params: {
		    protocolVersion: '2025-11-25', capabilities: {},
		    clientInfo: { name: 'evil', version: '1' } } }, headers: {
		    'content-type': 'application/json',
		    accept: 'application/json, text/event-stream',
		    origin: 'http://evil.example' } });
		assert.equal(init.status, 403, 'no session for a foreign page');
		assert.equal(init.headers['mcp-session-id'], undefined);
		// The daemon's own origin is allowed.
		const own = await post(ping, { origin: d.url });
		assert.equal(own.status, 200, own.body);
	});

	await t.test('a foreign Host (DNS rebinding): 403', async () => {
		const ping = '{"jsonrpc":"2.0","id":11,"method":"ping"}';
		for (const host of ['evil.example', 'evil.example:' + d.port,
		    '127.0.0.1.evil.example', 'localhostx']) {
			const r = await post(ping, { host });
			assert.equal(r.status, 403, `${host}: ${r.body}`);
			const err = JSON.parse(r.body).error;
			assert.equal(err.code, -32600);
			assert.match(err.message, /Host header is not a loopback/);
		}
		for (const host of ['localhost', 'LOCALHOST:' + d.port,
		    '127.0.0.1:' + d.port, '[::1]:' + d.port]) {
			const r = await post(ping, { host });
			assert.equal(r.status, 200, `${host}: ${r.body}`);
		}
	});

	await t.test('an unknown session: 404', async () => {
		const r = await post('{"jsonrpc":"2.0","id":10,"method":"ping"}',
		    { 'mcp-session-id': '0123456789abcdef'.repeat(2) });
		assert.equal(r.status, 404);
	});

	await t.test('the same garbage on the Unix socket', async () => {
		const c = await connectUnix(d.socketPath);
		try {
			c.send('this is not json');
			let m = await c.next();
			assert.equal(m.error?.code, ERR.PARSE, JSON.stringify(m));
			assert.equal(m.id, null);

			c.send('{"jsonrpc":"1.0","id":7,"method":"ping"}');
			m = await c.next();
			assert.equal(m.error?.code, ERR.INVALID_REQUEST,
			    JSON.stringify(m));
			assert.ok(m.id === 7 || m.id === null, `id ${m.id}`);

			c.send('{"jsonrpc":"2.0","id":8}');
			m = await c.next();
			assert.equal(m.error?.code, ERR.INVALID_REQUEST,
			    JSON.stringify(m));

			// The connection survives and works normally.
			await c.initialize();
			const r = await c.call('tools/call', { name: 'echo',
			    arguments: { text: 'via socket' } });
			assert.equal(toolText(r), 'via socket');
		} finally {
			c.close();
		}
	});

	await t.test('still serving after all that', async () => {
		const r = await s.callTool('echo', { text: 'still here' });
		assert.equal(toolText(r), 'still here');
		const fresh = await initialize(d.mcpUrl());
		assert.equal(toolText(await fresh.callTool('add', { a: 1, b: 1 })),
		    '2');
		// Only the good calls reached the server.
		assert.deepEqual(readJsonLines(execLog).map((e) => e.tool === 'echo' ?
		    e.args.text.slice(0, 10) : e.tool),
		    ['yyyyyyyyyy', 'via socket', 'still here', 'add']);
	});
});
