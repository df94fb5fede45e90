// Client sessions over time: resuming the GET stream with Last-Event-ID
// (missed events replayed in order, never twice), idle sessions ended after
// listen.session_idle_timeout (with their per_client upstreams), and a
// server->client request that no connected client can take.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import {
	ERR, baseConfig, demoServer, initialize, itest, processAlive,
	readJsonLines, sleep, startDaemon, tmpdir, toolText, waitFor,
} from './lib/harness.mjs';

/* The texts of the demo's log notifications among messages. */
const logTexts = (messages) => messages
    .filter((m) => m.method === 'notifications/message')
    .map((m) => m.params.data);

/* Event ids of the log notifications on a stream, in arrival order. */
function logEvents(stream) {
	return stream.events.filter((e) => e.data !== '').map((e) => ({
		id: e.id, text: JSON.parse(e.data).params?.data,
	}));
}

itest('Last-Event-ID: a resumed GET stream gets the missed events in ' +
    'order, with no duplicates', async (t) => {
	const dir = tmpdir(t);
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		servers: { demo: demoServer([]) },
	}) });
	const s = await initialize(d.mcpUrl());
	assert.deepEqual(await s.call('logging/setLevel', { level: 'debug' }),
	    {});
	/* A server-initiated message: the demo's log notification. */
	const emit = async (text) => {
		const r = await s.callTool('log_message',
		    { level: 'info', text });
		assert.equal(toolText(r), 'logged');
	};

	// 1. The stream is open: m1..m3 arrive on it, each with an id.
	const g1 = await s.openGet();
	assert.equal(g1.status, 200);
	assert.match(g1.contentType, /^text\/event-stream/);
	for (const m of ['m1', 'm2', 'm3'])
		await emit(m);
	await g1.waitForMessage((m) => m.params?.data === 'm3');
	const ev1 = logEvents(g1);
	assert.deepEqual(ev1.map((e) => e.text), ['m1', 'm2', 'm3']);
	for (const e of ev1)
		assert.ok(e.id, 'every event carries an id');
	assert.equal(new Set(ev1.map((e) => e.id)).size, 3);

	// 2. The connection drops; m4..m6 happen meanwhile.
	g1.close();
	await g1.done;
	for (const m of ['m4', 'm5', 'm6'])
		await emit(m);

	// 3. Resuming after the last event seen: exactly m4..m6, in order.
	const g2 = await s.openGet({ lastEventId: ev1[2].id });
	assert.equal(g2.status, 200);
	await g2.waitForMessage((m) => m.params?.data === 'm6');
	await sleep(200);	// a duplicate would show by now
	const ev2 = logEvents(g2);
	assert.deepEqual(ev2.map((e) => e.text), ['m4', 'm5', 'm6']);
	g2.close();
	await g2.done;

	// 4. A client that lost more resumes from m1: m2..m6 replayed from
	// the buffer, in order; then a live event follows.
	const g3 = await s.openGet({ lastEventId: ev1[0].id });
	await g3.waitForMessage((m) => m.params?.data === 'm6');
	await emit('m7');
	await g3.waitForMessage((m) => m.params?.data === 'm7');
	await sleep(200);
	const ev3 = logEvents(g3);
	assert.deepEqual(ev3.map((e) => e.text),
	    ['m2', 'm3', 'm4', 'm5', 'm6', 'm7']);
	g3.close();
	await g3.done;

	// 5. Resuming after m7 replays nothing old; m8 arrives once.
	const g4 = await s.openGet({ lastEventId: ev3[5].id });
	await emit('m8');
	await g4.waitForMessage((m) => m.params?.data === 'm8');
	await sleep(200);
	assert.deepEqual(logEvents(g4).map((e) => e.text), ['m8']);

	// An event id names one event: the same id never comes back with
	// other content, across all four connections.
	const byId = new Map();
	for (const e of [...ev1, ...ev2, ...ev3, ...logEvents(g4)]) {
		if (byId.has(e.id))
			assert.equal(byId.get(e.id), e.text,
			    `event id ${e.id} reused for ${e.text}`);
		byId.set(e.id, e.text);
	}
	assert.equal(byId.size, 8, 'eight events, eight ids');
	g4.close();
});

itest('session_idle_timeout: an idle session is ended (404) and its ' +
    'per_client upstream stopped; one with an open stream is kept',
    async (t) => {
	const dir = tmpdir(t);
	const execLog = path.join(dir, 'exec.log');
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		listen: { session_idle_timeout: '1s' },
		servers: { pc: demoServer(['--exec-log', execLog],
		    { session_mode: 'per_client' }) },
	}) });
	const idle = await initialize(d.mcpUrl('pc'));
	const streaming = await initialize(d.mcpUrl('pc'));
	assert.equal(toolText(await idle.callTool('increment', {})), '1');
	const pid = readJsonLines(execLog)[0].pid;
	const g = await streaming.openGet();
	assert.equal(g.status, 200);

	// Nothing touches the idle session from here on.
	const t0 = Date.now();
	await waitFor(() => !processAlive(pid), { timeout: 4000,
	    message: `the idle session's upstream (pid ${pid}) to stop` });
	assert.ok(Date.now() - t0 >= 700,
	    `stopped after ${Date.now() - t0} ms, before the 1 s timeout`);
	const elapsed = Date.now() - t0;
	if (elapsed < 2000)
		await sleep(2000 - elapsed);

	const r = await idle.request('ping');
	assert.equal(r.status, 404, 'the idle session has ended');
	assert.equal(r.error?.code, -32001);

	// The session with its GET stream open is still there.
	const p = await streaming.request('ping');
	assert.equal(p.status, 200);
	assert.deepEqual(p.result, {});
	assert.ok(!g.ended, 'the GET stream is still open');
	g.close();

	// A new session works as usual.
	const again = await initialize(d.mcpUrl('pc'));
	assert.equal(toolText(await again.callTool('increment', {})), '1');
});

itest('session_idle_timeout: activity keeps a session; idle past the ' +
    'timeout it is gone for requests and DELETE (404)', async (t) => {
	const dir = tmpdir(t);
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		listen: { session_idle_timeout: '1s' },
		servers: { demo: demoServer([]) },
	}) });
	const s = await initialize(d.mcpUrl());
	assert.deepEqual(await s.call('ping'), {});
	// Activity keeps it: pings every 0.5 s for 1.5 s.
	for (let i = 0; i < 3; i++) {
		await sleep(500);
		assert.equal((await s.request('ping')).status, 200,
		    `ping ${i + 1} while active`);
	}
	await sleep(1300);
	const r = await s.request('ping');
	assert.equal(r.status, 404);
	assert.equal(r.error?.code, -32001);
	const del = await s.delete();
	assert.equal(del.status, 404, 'DELETE of an ended session');
});

itest('ask_model from a client without sampling: a tool error, and the ' +
    'daemon keeps working', async (t) => {
	const dir = tmpdir(t);
	const execLog = path.join(dir, 'exec.log');
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		servers: { demo: demoServer(['--exec-log', execLog]) },
	}) });
	// Declares roots but not sampling.
	const asked = [];
	const s = await initialize(d.mcpUrl(), {
		capabilities: { roots: {} },
		onRequest: async (m) => {
			asked.push(m);
			return {};
		},
	});
	const r = await s.request('tools/call',
	    { name: 'ask_model', arguments: { prompt: 'anyone?' } });
	assert.equal(r.status, 200);
	assert.equal(r.error, undefined, JSON.stringify(r.error));
	assert.equal(r.result.isError, true);
	assert.match(toolText(r.result), /sampling/);
	assert.match(toolText(r.result), /no connected client/);
	assert.equal(asked.length, 0, 'the client was not asked');
	assert.ok(!r.messages.some((m) => m.method === 'sampling/createMessage'));
	assert.equal(readJsonLines(execLog).filter((e) =>
	    e.tool === 'ask_model').length, 1);

	// The same session and the server go on working.
	assert.equal(toolText(await s.callTool('add', { a: 2, b: 40 })), '42');
	assert.deepEqual(await s.call('ping'), {});
	// And a client that does offer sampling gets asked.
	const capable = await initialize(d.mcpUrl(), {
		capabilities: { sampling: {} },
		onRequest: async () => ({ role: 'assistant', model: 'm',
		    content: { type: 'text', text: 'yes' } }),
	});
	assert.equal(toolText(await capable.callTool('ask_model',
	    { prompt: 'now?' })), 'yes');
	assert.ok(/no connected client can answer sampling\/createMessage/
	    .test(d.log()), 'the refusal is logged');
});

/*
 * A session open before a server's first start must not be told its lists
 * "changed": it never saw them.  (handler_list_done() once decided this
 * after becoming ready had already set have_lists.)
 */
itest('no list_changed notification for a server\'s first lists',
    async (t) => {
	const dir = tmpdir(t);
	// Every demo response 400 ms late: the session and its stream are
	// open well before the server is ready.
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		servers: { demo: demoServer(['--delay-ms', 400]) },
	}) });
	const s = await initialize(d.mcpUrl());
	const g = await s.openGet();
	assert.equal(g.status, 200);
	assert.ok(!/server demo: \w+ -> ready/.test(d.log()),
	    'the session is open before the server is ready');
	await waitFor(() => /server demo: \w+ -> ready/.test(d.log()),
	    { timeout: 5000, message: 'the server to be ready' });
	await sleep(300);
	assert.deepEqual(g.messages.map((m) => m.method), [],
	    'nothing changed that the client could have seen');
	g.close();
});
