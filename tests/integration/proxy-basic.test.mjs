// The proxy's basic Streamable HTTP behaviour in front of one demo server:
// version negotiation, sessions, tools, progress over SSE, sampling, and the
// HTTP status codes of the transport (202, 400, 404).

import assert from 'node:assert/strict';
import * as path from 'node:path';
import {
	DEMO_TOOLS, McpSession, SUPPORTED_VERSIONS, baseConfig, demoServer,
	initialize, itest, readJsonLines, startDaemon, tmpdir, toolText,
} from './lib/harness.mjs';

const HEX_ID = /^[0-9a-f]{32,}$/i;

async function demoDaemon(t) {
	const dir = tmpdir(t);
	const execLog = path.join(dir, 'exec.log');
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    servers: { demo: demoServer(['--exec-log', execLog]) } }) });
	return { d, dir, execLog };
}

itest('initialize negotiates the protocol version and opens a session',
    async (t) => {
	const { d } = await demoDaemon(t);
	const ids = new Set();
	for (const [ask, want] of [['2025-06-18', '2025-06-18'],
	    ['2025-11-25', '2025-11-25'], ['2025-03-26', '2025-03-26']]) {
		const s = new McpSession(d.mcpUrl());
		const r = await s.initialize({ protocolVersion: ask });
		assert.equal(r.status, 200, `initialize ${ask}`);
		assert.equal(r.result.protocolVersion, want);
		assert.equal(typeof r.result.serverInfo?.name, 'string');
		assert.ok(r.result.capabilities?.tools, 'tools capability');
		assert.match(s.sessionId ?? '', HEX_ID, 'Mcp-Session-Id');
		assert.equal(s.initialized.status, 202,
		    'notifications/initialized is accepted with 202');
		ids.add(s.sessionId);
	}
	assert.equal(ids.size, 3, 'every session gets its own id');

	// A version the daemon does not know: it answers with one it does.
	const s = new McpSession(d.mcpUrl());
	const r = await s.initialize({ protocolVersion: '1999-01-01' });
	assert.equal(r.status, 200);
	assert.ok(SUPPORTED_VERSIONS.includes(r.result.protocolVersion),
	    `${r.result.protocolVersion} is a supported version`);
	assert.match(s.sessionId ?? '', HEX_ID);
	// The session then works in the version it was given.
	assert.deepEqual(await s.call('ping'), {});
});

itest('tools/list lists the demo tools; add, echo and ping work',
    async (t) => {
	const { d, execLog } = await demoDaemon(t);
	const s = await initialize(d.mcpUrl());

	const list = await s.call('tools/list', {});
	const names = list.tools.map((x) => x.name);
	for (const name of DEMO_TOOLS)
		assert.ok(names.includes(name), `tools/list has ${name}: ${names}`);
	assert.equal(new Set(names).size, names.length, 'no duplicates');
	const add = list.tools.find((x) => x.name === 'add');
	assert.deepEqual(add.inputSchema.required, ['a', 'b']);

	const sum = await s.callTool('add', { a: 2, b: 3 });
	assert.deepEqual(sum.content, [{ type: 'text', text: '5' }]);
	assert.ok(!sum.isError);

	const text = 'hello, relay ✓ "quoted" \\ back';
	assert.equal(toolText(await s.callTool('echo', { text })), text);

	assert.deepEqual(await s.call('ping'), {});

	// Each call ran exactly once upstream, with the arguments given.
	const ran = readJsonLines(execLog);
	assert.deepEqual(ran.map((e) => e.tool), ['add', 'echo']);
	assert.deepEqual(ran[0].args, { a: 2, b: 3 });
	assert.deepEqual(ran[1].args, { text });
});

itest('sleep_ms with a progressToken streams progress before the result',
    async (t) => {
	const { d } = await demoDaemon(t);
	const s = await initialize(d.mcpUrl());
	const seen = [];
	const reply = await s.request('tools/call', { name: 'sleep_ms',
	    arguments: { ms: 350 }, _meta: { progressToken: 'tok-1' } },
	    { onMessage: (m) => seen.push(m) });
	assert.equal(reply.status, 200);
	assert.match(reply.contentType, /^text\/event-stream/,
	    'progress needs an SSE reply');
	assert.equal(toolText(reply.result), 'slept 350 ms');

	const progress = reply.messages.filter((m) =>
	    m.method === 'notifications/progress');
	assert.deepEqual(progress.map((m) => m.params.progress),
	    [100, 200, 300, 350]);
	for (const m of progress) {
		assert.equal(m.params.progressToken, 'tok-1',
		    'the client sees its own token');
		assert.equal(m.params.total, 350);
	}
	// All of them before the result, on the request's own stream.
	const resultAt = reply.messages.indexOf(reply.response);
	assert.ok(reply.messages.indexOf(progress.at(-1)) < resultAt);
	assert.equal(seen.length, progress.length);

	// A numeric token comes back as a number.
	const r2 = await s.request('tools/call', { name: 'sleep_ms',
	    arguments: { ms: 150 }, _meta: { progressToken: 42 } });
	const p2 = r2.messages.filter((m) => m.method === 'notifications/progress');
	assert.deepEqual(p2.map((m) => [m.params.progressToken,
	    m.params.progress]), [[42, 100], [42, 150]]);
});

itest('a sampling request from the server reaches the client and back',
    async (t) => {
	const { d } = await demoDaemon(t);
	const asked = [];
	const s = await initialize(d.mcpUrl(), {
		capabilities: { sampling: {} },
		onRequest: async (m) => {
			asked.push(m);
			return { role: 'assistant', model: 'itest-model',
			    content: { type: 'text', text: 'four' } };
		},
	});
	const r = await s.callTool('ask_model', { prompt: 'What is 2+2?' });
	assert.equal(toolText(r), 'four');
	assert.equal(asked.length, 1);
	assert.equal(asked[0].method, 'sampling/createMessage');
	assert.equal(asked[0].params.messages[0].content.text, 'What is 2+2?');
	assert.equal(s.answered.length, 1);
	assert.equal(s.answered[0].status, 202,
	    'the POSTed answer is accepted with 202');
});

itest('DELETE ends the session; unknown and missing sessions',
    async (t) => {
	const { d } = await demoDaemon(t);
	const s = await initialize(d.mcpUrl());
	assert.deepEqual(await s.call('ping'), {});

	const del = await s.delete();
	assert.ok([200, 204].includes(del.status), `DELETE: ${del.status}`);
	const after = await s.request('ping');
	assert.equal(after.status, 404, 'the deleted session is gone');
	assert.equal((await s.delete()).status, 404);

	const unknown = new McpSession(d.mcpUrl());
	unknown.sessionId = 'f'.repeat(32);
	unknown.protocolVersion = '2025-11-25';
	assert.equal((await unknown.request('tools/list', {})).status, 404);

	const missing = new McpSession(d.mcpUrl());
	missing.protocolVersion = '2025-11-25';
	assert.equal((await missing.request('tools/list', {})).status, 400,
	    'a request without Mcp-Session-Id that is not initialize');
});

itest('notifications get 202; a bad MCP-Protocol-Version header gets 400',
    async (t) => {
	const { d } = await demoDaemon(t);
	const s = await initialize(d.mcpUrl(), { protocolVersion: '2025-06-18' });

	const n = await s.notify('notifications/roots/list_changed');
	assert.equal(n.status, 202);
	assert.equal(n.body, '');
	const c = await s.notify('notifications/cancelled',
	    { requestId: 999, reason: 'nothing to cancel' });
	assert.equal(c.status, 202);

	for (const bad of ['1999-01-01', 'garbage']) {
		const r = await s.request('tools/list', {},
		    { headers: { 'mcp-protocol-version': bad } });
		assert.equal(r.status, 400, `MCP-Protocol-Version: ${bad}`);
	}
	// The right header, and (for compatibility) none at all, still work.
	assert.equal((await s.request('ping')).status, 200);
	assert.equal((await s.request('ping', undefined,
	    { headers: { 'mcp-protocol-version': null } })).status, 200);
});

itest('the GET stream opens as text/event-stream', async (t) => {
	const { d } = await demoDaemon(t);
	const s = await initialize(d.mcpUrl());
	const g = await s.openGet();
	try {
		assert.equal(g.status, 200);
		assert.match(g.contentType, /^text\/event-stream/);
		// The session keeps working while its GET stream is open.
		assert.equal(toolText(await s.callTool('echo', { text: 'x' })), 'x');
	} finally {
		g.close();
	}
});

itest('/servers/demo/mcp reaches the one server', async (t) => {
	const { d, execLog } = await demoDaemon(t);
	const s = await initialize(d.mcpUrl('demo'));
	const names = (await s.call('tools/list', {})).tools.map((x) => x.name);
	assert.deepEqual([...names].sort(), [...DEMO_TOOLS].sort());
	assert.equal(toolText(await s.callTool('echo', { text: 'direct' })),
	    'direct');
	assert.deepEqual(readJsonLines(execLog).map((e) => e.args.text),
	    ['direct']);

	const none = new McpSession(d.mcpUrl('no-such-server'));
	const r = await none.initialize();
	assert.equal(r.status, 404, 'an unknown server name');
});
