// Both protocol eras end to end through mcprelayd with the official SDKs
// (v2 client pinned to 2026-07-28 or 'auto', v1 as a legacy client) in front
// of dual-era, legacy-only and 2026-07-28-only upstreams, then the modern
// error paths and cancellation on the raw wire.  What mcprelayd does not do
// yet (docs/protocol.md, "Limits") is a `todo` test, never a wrong assertion.
// The npm packages come from package-lock.json via setup-npm.sh; without
// them these tests fail (they do not skip).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
	DEMO_TOOLS, ERR, McpSession, SseParser, baseConfig, bin,
	demoServer, httpRequest, itest, killHard, lastStartPid, readJsonLines,
	readLines, sleep, startDaemon, tmpdir, toolText, waitFor,
} from './lib/harness.mjs';
import { loadSdk, nodeModules } from './lib/everything.mjs';

const MODERN = '2026-07-28';
const META = Object.freeze({
	version: 'io.modelcontextprotocol/protocolVersion',
	caps: 'io.modelcontextprotocol/clientCapabilities',
	client: 'io.modelcontextprotocol/clientInfo',
	logLevel: 'io.modelcontextprotocol/logLevel',
	server: 'io.modelcontextprotocol/serverInfo',
	subscription: 'io.modelcontextprotocol/subscriptionId',
});
/* 2026-07-28 error codes (docs/protocol.md). */
const HEADER_MISMATCH = -32020;
const UNSUPPORTED_VERSION = -32022;
/* The caching hints mcprelayd adds where the upstream gave none. */
const TTL_MS = 5000;
const opts = { timeout: 10000 };

function packageDir(name) {
	const dir = path.join(nodeModules, name);
	if (!fs.existsSync(path.join(dir, 'package.json')))
		throw new Error(`${name} is not installed in ${nodeModules}: ` +
		    'tests/integration/setup-npm.sh (npm ci) failed or did not ' +
		    'run; this test cannot run without it');
	return dir;
}

let v2;
/* The v2 client package (its "." export). */
async function loadClientV2() {
	if (v2)
		return v2;
	const dir = packageDir('@modelcontextprotocol/client');
	const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'),
	    'utf8'));
	v2 = await import(pathToFileURL(path.join(dir,
	    pkg.exports['.'].import.default)).href);
	return v2;
}

function everythingEntry() {
	const dir = packageDir('@modelcontextprotocol/server-everything');
	const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'),
	    'utf8'));
	return path.join(dir, typeof pkg.bin === 'string' ? pkg.bin :
	    pkg.bin['mcp-server-everything']);
}

/*
 * A stdio server entry running argv behind two tees: what mcprelayd sends
 * it is appended to inLog, what it answers to outLog.  EOF still travels
 * down the pipe, so the MCP shutdown sequence works as without them.
 */
function teed(inLog, outLog, argv, extra = {}) {
	return { type: 'stdio', command: '/bin/sh', args: ['-c',
	    'in=$1; out=$2; shift 2; tee -a "$in" | "$@" | tee -a "$out"',
	    'teed', inLog, outLog, ...argv.map(String)], ...extra };
}

const jsonLines = (file) => readLines(file).map((l) => JSON.parse(l));

/* The first message in a tee's log that pred accepts.  tee writes the
 * pipe before the file, so the line may come a moment after its effect. */
const teeLine = (file, pred) => waitFor(() => jsonLines(file).find(pred),
    { timeout: 3000, message: `a line in ${path.basename(file)}` });

/* Keys of a request's params._meta that belong to 2026-07-28. */
const modernKeys = (msg) => Object.keys(msg?.params?._meta ?? {})
    .filter((k) => k.startsWith('io.modelcontextprotocol/'));

/*
 * A fetch for the SDK's transport that records every exchange: the body
 * sent, the status, and every JSON-RPC message that came back (JSON or SSE,
 * read from a clone of the response).
 */
function wireRecorder() {
	const wire = [];
	const rec = async (url, init = {}) => {
		const e = { method: init.method ?? 'GET',
		    headers: new Headers(init.headers), messages: [] };
		if (typeof init.body === 'string')
			e.body = JSON.parse(init.body);
		wire.push(e);
		const res = await fetch(url, init);
		e.status = res.status;
		e.contentType = res.headers.get('content-type') ?? '';
		if (e.contentType.startsWith('application/json'))
			e.messages.push(await res.clone().json());
		else if (e.contentType.startsWith('text/event-stream'))
			e.done = readSseInto(res.clone(), e.messages);
		return res;
	};
	return {
		wire,
		fetch: rec,
		/* POSTed requests of method (pred on the body). */
		requests: (method, pred = () => true) => wire.filter((e) =>
		    e.body?.method === method && 'id' in e.body && pred(e.body)),
		/* The response to the exchange e, once it is in. */
		response: (e) => waitFor(() => e.messages.find((m) =>
		    m.id === e.body.id && ('result' in m || 'error' in m)),
		    { timeout: 3000,
		    message: `the response to ${e.body.method}` }),
	};
}

async function readSseInto(res, out) {
	const parser = new SseParser();
	const decoder = new TextDecoder();
	const reader = res.body.getReader();
	try {
		for (;;) {
			const { value, done } = await reader.read();
			if (done)
				break;
			for (const ev of parser.feed(decoder.decode(value,
			    { stream: true })))
				if (ev.data !== '')
					out.push(JSON.parse(ev.data));
		}
	} catch {
		// the stream was aborted (a listen closed, a call cancelled)
	}
}

/* A v2 client; mode 'legacy' (the SDK's default), 'auto' or a pin. */
async function v2Client(url, { mode = { pin: MODERN }, capabilities = {},
    recorder } = {}) {
	const m = await loadClientV2();
	const options = { capabilities };
	if (mode !== 'legacy')
		options.versionNegotiation = { mode };
	const client = new m.Client({ name: 'mcprelay-eras', version: '1.0.0' },
	    options);
	const transport = new m.StreamableHTTPClientTransport(new URL(url),
	    recorder ? { fetch: recorder.fetch } : {});
	return { client, transport, connect: () => client.connect(transport,
	    opts) };
}

/* Fills each property of an elicitation's requestedSchema. */
const ELICIT_ANSWERS = { name: 'Ada', color: 'teal', response: 'Ada' };
function elicitAnswer(params) {
	const content = {};
	for (const k of Object.keys(params.requestedSchema?.properties ?? {}))
		content[k] = ELICIT_ANSWERS[k] ?? 'x';
	return { action: 'accept', content };
}

/* The demo's tools-extra list read from a file at each start. */
function demoWithExtras(extrasFile, args) {
	return { type: 'stdio', command: '/bin/sh', args: ['-c',
	    'extra=$(cat "$1"); demo=$0; shift; ' +
	    'exec "$demo" --tools-extra "$extra" "$@"',
	    bin.demo, extrasFile, ...args.map(String)] };
}

// ---- 1. modern SDK client -> dual-era demo -----------------------------

itest('modern SDK client, dual-era demo: discover, cached lists, calls, ' +
    'progress, MRTR sampling, listen, and an upstream restart mid-call',
    async (t) => {
	const dir = tmpdir(t);
	const f = { starts: path.join(dir, 'starts.log'),
	    exec: path.join(dir, 'exec.log'),
	    extras: path.join(dir, 'extras.txt') };
	fs.writeFileSync(f.extras, 'first_extra');
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    servers: { demo: demoWithExtras(f.extras, ['--starts-log', f.starts,
	    '--exec-log', f.exec]) } }) });
	await waitFor(() => /server demo: speaks dual MCP/.test(d.log()),
	    { message: 'the era probe to find a dual-era server' });
	await waitFor(() => /server demo: initializing -> ready/.test(d.log()));

	const rec = wireRecorder();
	const { client, connect } = await v2Client(d.mcpUrl('demo'),
	    { capabilities: { sampling: {} }, recorder: rec });
	const sampled = [];
	client.setRequestHandler('sampling/createMessage', async (req) => {
		sampled.push(req.params);
		return { model: 'eras-model', role: 'assistant',
		    content: { type: 'text', text: 'forty-two' } };
	});
	const updated = [], toolsChanged = [];
	client.setNotificationHandler('notifications/resources/updated',
	    (n) => updated.push(n.params));
	client.setNotificationHandler('notifications/tools/list_changed',
	    (n) => toolsChanged.push(n.params));
	await connect();
	t.after(() => client.close());

	// server/discover, answered by mcprelayd from the cached initialize.
	assert.equal(client.getProtocolEra(), 'modern');
	assert.equal(client.getNegotiatedProtocolVersion(), MODERN);
	const disc = client.getDiscoverResult();
	assert.ok(disc.supportedVersions.includes(MODERN),
	    `${disc.supportedVersions}`);
	assert.ok(disc.supportedVersions.includes('2025-11-25'));
	assert.deepEqual(disc.capabilities.tools, { listChanged: true });
	const [probe] = rec.requests('server/discover');
	assert.equal(probe.status, 200);
	assert.equal(probe.headers.get('mcp-protocol-version'), MODERN);
	assert.equal(probe.headers.get('mcp-method'), 'server/discover');
	assert.equal((await rec.response(probe)).result.resultType, 'complete');

	// tools/list: the cached list, with the caching hints on the wire.
	const tools = await client.listTools(undefined, opts);
	const names = tools.tools.map((x) => x.name);
	assert.deepEqual(names, [...DEMO_TOOLS, 'first_extra']);
	const [list] = rec.requests('tools/list');
	const lr = (await rec.response(list)).result;
	assert.equal(lr.resultType, 'complete');
	assert.equal(lr.ttlMs, TTL_MS);
	assert.equal(lr.cacheScope, 'private');
	assert.equal(list.body.params._meta[META.version], MODERN);
	assert.deepEqual(list.body.params._meta[META.caps], { sampling: {} });
	assert.equal(list.headers.get('mcp-session-id'), null,
	    'a modern client has no session');

	const echo = await client.callTool({ name: 'echo',
	    arguments: { text: 'über' } }, opts);
	assert.equal(toolText(echo), 'über');
	const [echoReq] = rec.requests('tools/call', (b) => b.params.name ===
	    'echo');
	assert.equal(echoReq.headers.get('mcp-name'), 'echo');
	const er = await rec.response(echoReq);
	assert.equal(er.result.resultType, 'complete');
	assert.equal(er.result._meta[META.server].name, 'mcprelay-demo',
	    'a dual-era upstream answers the modern request itself');

	// MRTR: ask_model answers input_required; the SDK asks its handler
	// and retries with inputResponses under a new id.
	const asked = await client.callTool({ name: 'ask_model',
	    arguments: { prompt: 'What is six times seven?' } }, opts);
	assert.equal(toolText(asked), 'forty-two');
	assert.equal(sampled.length, 1);
	assert.equal(sampled[0].messages[0].content.text,
	    'What is six times seven?');
	const rounds = rec.requests('tools/call', (b) => b.params.name ===
	    'ask_model');
	assert.equal(rounds.length, 2, 'one retry');
	const first = (await rec.response(rounds[0])).result;
	assert.equal(first.resultType, 'input_required');
	assert.equal(first.inputRequests.ask.method, 'sampling/createMessage');
	assert.equal(rounds[0].body.params.inputResponses, undefined);
	assert.notEqual(rounds[1].body.id, rounds[0].body.id);
	assert.equal(rounds[1].body.params.inputResponses.ask.content.text,
	    'forty-two');
	assert.equal((await rec.response(rounds[1])).result.resultType,
	    'complete');

	// subscriptions/listen: acknowledged, then a resource update tagged
	// with the listen request's id.
	const sub = await client.listen({ toolsListChanged: true,
	    resourceSubscriptions: ['demo://counter'] }, opts);
	assert.deepEqual(sub.honoredFilter, { toolsListChanged: true,
	    resourceSubscriptions: ['demo://counter'] });
	const [listen] = rec.requests('subscriptions/listen');
	assert.equal(listen.status, 200);
	assert.match(listen.contentType, /^text\/event-stream/);
	const subId = listen.body.id;
	assert.equal(toolText(await client.callTool({ name: 'increment',
	    arguments: {} }, opts)), '1');
	await waitFor(() => updated.length === 1,
	    { message: 'resources/updated' });
	assert.deepEqual(updated[0], { uri: 'demo://counter',
	    _meta: { [META.subscription]: subId } });

	// A progress stream across an upstream restart: the demo is killed
	// mid-call; sleep_ms (read-only, idempotent, stdio: trusted) is sent
	// again to the new process and its progress goes on on the same
	// stream.  The new process lists one more tool.
	fs.writeFileSync(f.extras, 'first_extra,second_extra');
	const progress = [];
	const slow = client.callTool({ name: 'sleep_ms', arguments: { ms: 800 } },
	    { ...opts, onprogress: (p) => progress.push(p) });
	await waitFor(() => progress.length >= 2, { message: 'progress' });
	const oldPid = lastStartPid(f.starts);
	await killHard(oldPid);
	const killedAt = progress.length;
	assert.equal(toolText(await slow), 'slept 800 ms');
	assert.ok(progress.every((p) => p.total === 800),
	    JSON.stringify(progress));
	const drops = progress.filter((p, i) => i > 0 &&
	    p.progress < progress[i - 1].progress);
	assert.equal(drops.length, 1, `one restart: ${JSON.stringify(progress)}`);
	assert.ok(progress.length - killedAt >= 3,
	    `progress after the restart: ${JSON.stringify(progress)}`);
	assert.equal(readLines(f.starts).length, 2);
	const newPid = lastStartPid(f.starts);
	assert.notEqual(newPid, oldPid);
	const sleeps = readJsonLines(f.exec).filter((e) => e.tool === 'sleep_ms');
	assert.deepEqual(sleeps.map((e) => e.pid), [oldPid, newPid]);

	// After the restart: the listen saw the tool list change, the next
	// call succeeds, and the resource subscription was restored upstream.
	await waitFor(() => toolsChanged.length === 1,
	    { message: 'tools/list_changed on the listen stream' });
	assert.deepEqual(toolsChanged[0],
	    { _meta: { [META.subscription]: subId } });
	assert.deepEqual((await client.listTools(undefined,
	    { ...opts, cacheMode: 'refresh' })).tools.map((x) => x.name),
	    [...DEMO_TOOLS, 'first_extra', 'second_extra']);
	assert.equal(toolText(await client.callTool({ name: 'second_extra',
	    arguments: { text: 'new' } }, opts)), 'second_extra: new');
	assert.equal(toolText(await client.callTool({ name: 'increment',
	    arguments: {} }, opts)), '1', 'a new process, a new counter');
	await waitFor(() => updated.length === 2,
	    { message: 'resources/updated after the restart' });
	assert.deepEqual(updated[1], updated[0]);

	// Closing the listen: the SDK aborts the stream (which ends it in
	// mcprelayd) and POSTs notifications/cancelled, accepted with 202.
	await sub.close();
	assert.equal(await sub.closed, 'local');
	await waitFor(() => /session - closed \(subscription stream closed\)/
	    .test(d.log()), { message: 'the listen to end in mcprelayd' });
	const [cancel] = rec.wire.filter((e) =>
	    e.body?.method === 'notifications/cancelled');
	assert.equal(cancel.body.params.requestId, subId);
	assert.equal(cancel.status, 202);
});

// ---- 2. modern SDK client -> legacy-only upstreams ---------------------

itest('modern SDK client, legacy-only upstreams: lists and calls ' +
    'translated (modern _meta dropped, resultType added), missing ' +
    'resource -32602', async (t) => {
	const dir = tmpdir(t);
	const f = { evIn: path.join(dir, 'ev-in.log'),
	    evOut: path.join(dir, 'ev-out.log'),
	    oldIn: path.join(dir, 'old-in.log'),
	    oldOut: path.join(dir, 'old-out.log') };
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    servers: {
		ev: teed(f.evIn, f.evOut, [process.execPath, everythingEntry(),
		    'stdio']),
		// The demo refusing server/discover: a legacy-only server
		// that answers -32002 for an unknown resource.
		old: teed(f.oldIn, f.oldOut, [bin.demo, '--name', 'old',
		    '--error-method', 'server/discover']),
	    } }) });
	await waitFor(() => /server ev: initializing -> ready/.test(d.log()) &&
	    /server old: initializing -> ready/.test(d.log()),
	    { timeout: 15000, message: 'both servers ready' });
	assert.match(d.log(), /server ev: speaks legacy MCP/);
	assert.match(d.log(), /server old: speaks legacy MCP/);

	const rec = wireRecorder();
	const { client, connect } = await v2Client(d.mcpUrl('ev'),
	    { recorder: rec });
	await connect();
	t.after(() => client.close());
	assert.equal(client.getProtocolEra(), 'modern');

	const names = (await client.listTools(undefined, opts)).tools
	    .map((x) => x.name);
	for (const n of ['echo', 'get-sum', 'trigger-long-running-operation'])
		assert.ok(names.includes(n), `${n} in ${names}`);
	const lr = (await rec.response(rec.requests('tools/list')[0])).result;
	assert.equal(lr.resultType, 'complete');
	assert.equal(lr.ttlMs, TTL_MS);
	assert.equal(lr.cacheScope, 'private');

	assert.equal(toolText(await client.callTool({ name: 'echo',
	    arguments: { message: 'hi' } }, opts)), 'Echo: hi');
	const [echoReq] = rec.requests('tools/call');
	const er = (await rec.response(echoReq)).result;
	assert.equal(er.resultType, 'complete', 'added by mcprelayd');
	assert.equal(typeof er._meta[META.server].name, 'string');
	// What reached server-everything: a legacy request.
	const evCall = await teeLine(f.evIn, (x) => x.method === 'tools/call' &&
	    x.params.name === 'echo');
	assert.deepEqual(modernKeys(echoReq.body).sort(),
	    [META.caps, META.client, META.version].sort(),
	    'the client sent them');
	assert.deepEqual(modernKeys(evCall), [], 'mcprelayd dropped them');
	const evReply = await teeLine(f.evOut, (x) => x.id === evCall.id);
	assert.equal(evReply.result.resultType, undefined,
	    'server-everything itself knows no resultType');

	// Progress tokens and other _meta keys still pass.
	const progress = [];
	const long = await client.callTool({
	    name: 'trigger-long-running-operation',
	    arguments: { duration: 0.3, steps: 3 } },
	    { ...opts, onprogress: (p) => progress.push(p) });
	assert.match(toolText(long), /Duration: 0.3 seconds, Steps: 3/);
	assert.ok(progress.length >= 2, JSON.stringify(progress));
	assert.deepEqual(progress.map((p) => [p.progress, p.total]),
	    [[1, 3], [2, 3], [3, 3]].slice(0, progress.length));
	const longCall = await teeLine(f.evIn, (x) =>
	    x.method === 'tools/call' &&
	    x.params.name === 'trigger-long-running-operation');
	assert.deepEqual(Object.keys(longCall.params._meta), ['progressToken']);

	// (The SDK reports -32002 as -32602 too: the wire tells.)
	await assert.rejects(client.readResource({ uri: 'demo://nope' }, opts),
	    (e) => e.code === ERR.INVALID_PARAMS);
	assert.equal((await rec.response(rec.requests('resources/read')[0]))
	    .error.code, ERR.INVALID_PARAMS);

	// The legacy demo says -32002 for an unknown resource; the modern
	// client is told -32602, as 2026-07-28 has it.
	const oldRec = wireRecorder();
	const old = await v2Client(d.mcpUrl('old'), { mode: 'auto',
	    recorder: oldRec });
	await old.connect();
	t.after(() => old.client.close());
	assert.equal(old.client.getProtocolEra(), 'modern');
	assert.equal(toolText(await old.client.callTool({ name: 'add',
	    arguments: { a: 2, b: 3 } }, opts)), '5');
	await assert.rejects(old.client.readResource({ uri: 'demo://nope' },
	    opts), (e) => e.code === ERR.INVALID_PARAMS &&
	    e.data?.uri === 'demo://nope');
	const oldRead = await teeLine(f.oldIn, (x) => x.method ===
	    'resources/read');
	assert.deepEqual(modernKeys(oldRead), []);
	assert.equal((await teeLine(f.oldOut, (x) => x.id === oldRead.id))
	    .error.code, -32002, 'the upstream answered in its own era');
	const [readReq] = oldRec.requests('resources/read');
	assert.equal(readReq.status, 200);
	assert.deepEqual((await oldRec.response(readReq)).error, {
	    code: ERR.INVALID_PARAMS, message: 'resource not found',
	    data: { uri: 'demo://nope' } });
});

itest('modern SDK client, legacy-only upstream: a sampling request the ' +
    'upstream raises mid-call reaches the client as an InputRequiredResult',
    async (t) => {
	const dir = tmpdir(t);
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    servers: { ev: { type: 'stdio', command: process.execPath,
	    args: [everythingEntry(), 'stdio'] } } }) });
	await waitFor(() => /server ev: initializing -> ready/.test(d.log()),
	    { timeout: 15000 });
	const { client, connect } = await v2Client(d.mcpUrl('ev'),
	    { capabilities: { sampling: {} } });
	const sampled = [];
	client.setRequestHandler('sampling/createMessage', async (req) => {
		sampled.push(req.params);
		return { model: 'eras-model', role: 'assistant',
		    content: { type: 'text', text: 'sampled through MRTR' } };
	});
	await connect();
	t.after(() => client.close());
	const r = await client.callTool({ name: 'trigger-sampling-request',
	    arguments: { prompt: 'What is 2+2?', maxTokens: 16 } }, opts);
	assert.equal(r.isError, undefined, JSON.stringify(r));
	assert.equal(sampled.length, 1);
	assert.match(sampled[0].messages[0].content.text, /What is 2\+2\?/);
	assert.match(toolText(r), /sampled through MRTR/);
});

// ---- 3. legacy clients -> dual-era demo --------------------------------

itest('legacy clients (v1 SDK, v2 SDK in legacy mode), dual-era demo: ' +
    'sessions, sampling and elicitation as server-to-client requests; a ' +
    'modern client beside them gets elicitation as MRTR rounds',
    async (t) => {
	const v1 = await loadSdk();
	const dir = tmpdir(t);
	const starts = path.join(dir, 'starts.log');
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    servers: { demo: demoServer(['--conformance', '--starts-log',
	    starts]) } }) });
	await waitFor(() => /server demo: initializing -> ready/.test(d.log()));

	const seen = [];
	const legacy = new v1.Client({ name: 'eras-legacy', version: '1.0.0' },
	    { capabilities: { sampling: {}, elicitation: {} } });
	legacy.setRequestHandler(v1.CreateMessageRequestSchema, async (req) => {
		seen.push(req);
		return { model: 'legacy-model', role: 'assistant',
		    content: { type: 'text', text: 'legacy answer' } };
	});
	legacy.setRequestHandler(v1.ElicitRequestSchema, async (req) => {
		seen.push(req);
		return elicitAnswer(req.params);
	});
	const tr = new v1.StreamableHTTPClientTransport(
	    new URL(d.mcpUrl('demo')));
	await legacy.connect(tr, opts);
	t.after(() => legacy.close());
	assert.equal(tr.protocolVersion, '2025-11-25');
	assert.match(tr.sessionId ?? '', /^[0-9a-f]{32}$/, 'a legacy session');
	assert.equal(legacy.getServerVersion().name, 'demo');

	assert.equal(toolText(await legacy.callTool({ name: 'add',
	    arguments: { a: 2, b: 3 } }, undefined, opts)), '5');
	const names = (await legacy.listTools(undefined, opts)).tools
	    .map((x) => x.name);
	for (const n of [...DEMO_TOOLS, 'test_elicitation'])
		assert.ok(names.includes(n), `${n} in ${names}`);

	// The demo sends sampling/createMessage to a legacy session.
	const asked = await legacy.callTool({ name: 'ask_model',
	    arguments: { prompt: 'legacy?' } }, undefined, opts);
	assert.equal(toolText(asked), 'legacy answer');
	assert.equal(seen.length, 1);
	assert.equal(seen[0].method, 'sampling/createMessage');
	assert.equal(seen[0].params.messages[0].content.text, 'legacy?');

	const elicited = await legacy.callTool({ name: 'test_elicitation',
	    arguments: { message: 'Who are you?' } }, undefined, opts);
	assert.equal(seen.length, 2);
	assert.equal(seen[1].method, 'elicitation/create');
	assert.equal(seen[1].params.message, 'Who are you?');
	assert.equal(toolText(elicited),
	    'User response: action=accept, content={"response":"Ada"}');

	// The v2 SDK in its default (legacy) mode: the same session era.
	const v2legacy = await v2Client(d.mcpUrl('demo'),
	    { mode: 'legacy', capabilities: { sampling: {} } });
	v2legacy.client.setRequestHandler('sampling/createMessage', async () =>
	    ({ model: 'v2-legacy', role: 'assistant',
	    content: { type: 'text', text: 'v2 in legacy mode' } }));
	await v2legacy.connect();
	t.after(() => v2legacy.client.close());
	assert.equal(v2legacy.client.getProtocolEra(), 'legacy');
	assert.match(v2legacy.transport.sessionId ?? '', /^[0-9a-f]{32}$/);
	assert.equal(toolText(await v2legacy.client.callTool({ name: 'ask_model',
	    arguments: { prompt: 'v2?' } }, opts)), 'v2 in legacy mode');

	// A modern client ('auto' finds the era) on the same upstream
	// process: two elicitation rounds, requestState echoed each time.
	const rec = wireRecorder();
	const modern = await v2Client(d.mcpUrl('demo'), { mode: 'auto',
	    capabilities: { elicitation: {} }, recorder: rec });
	const modernSeen = [];
	modern.client.setRequestHandler('elicitation/create', async (req) => {
		modernSeen.push(req.params.message);
		return elicitAnswer(req.params);
	});
	await modern.connect();
	t.after(() => modern.client.close());
	assert.equal(modern.client.getProtocolEra(), 'modern');
	const rounds = await modern.client.callTool({
	    name: 'test_input_required_result_multi_round', arguments: {} },
	    opts);
	assert.equal(toolText(rounds),
	    'Multi-round complete for Ada who likes teal');
	assert.deepEqual(modernSeen, ['Step 1: What is your name?',
	    'Step 2: What is your favorite color?']);
	const calls = rec.requests('tools/call');
	assert.equal(calls.length, 3);
	for (let i = 1; i < 3; i++) {
		const prev = (await rec.response(calls[i - 1])).result;
		assert.equal(prev.resultType, 'input_required');
		assert.equal(calls[i].body.params.requestState, prev.requestState,
		    'requestState echoed byte for byte');
	}
	assert.equal(readLines(starts).length, 1, 'one upstream process for all');
});

// ---- legacy client -> 2026-07-28-only upstream -------------------------

/* A stdio server that speaks only 2026-07-28: no initialize, _meta needed. */
const MODERN_ONLY_SERVER = `
import * as readline from 'node:readline';
const V = '${MODERN}', P = 'io.modelcontextprotocol/';
const out = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
const done = (r) => ({ resultType: 'complete', ...r,
    _meta: { [P + 'serverInfo']: { name: 'modern-only', version: '1.0.0' } } });
const tools = ['echo', 'ask'].map((name) => ({ name, inputSchema: {
    type: 'object', properties: { text: { type: 'string' } } } }));
readline.createInterface({ input: process.stdin }).on('line', (line) => {
	const m = JSON.parse(line);
	if (m.id === undefined || !m.method)
		return;
	const reply = (result) => out({ jsonrpc: '2.0', id: m.id, result });
	const fail = (code, message) => out({ jsonrpc: '2.0', id: m.id,
	    error: { code, message } });
	const meta = m.params?._meta ?? {};
	if (meta[P + 'protocolVersion'] !== V ||
	    typeof meta[P + 'clientCapabilities'] !== 'object')
		return fail(-32602, 'modern-only: a ' + V + ' _meta is needed');
	if (m.method === 'server/discover')
		return reply(done({ supportedVersions: [V],
		    capabilities: { tools: {} } }));
	if (m.method === 'tools/list')
		return reply(done({ tools }));
	if (m.method !== 'tools/call')
		return fail(-32601, 'Method not found: ' + m.method);
	const text = m.params.arguments?.text;
	if (m.params.name === 'echo')
		return reply(done({ content: [{ type: 'text',
		    text: 'modern echo: ' + text + ' from ' +
		    meta[P + 'clientInfo']?.name }] }));
	const answer = m.params.inputResponses?.ask;
	if (answer && m.params.requestState !== 'round-1')
		return fail(-32602, 'requestState not echoed');
	if (answer)
		return reply(done({ content: [{ type: 'text',
		    text: 'model said: ' + answer.content?.text }] }));
	if (!meta[P + 'clientCapabilities'].sampling)
		return fail(-32021, 'ask needs sampling');
	reply({ resultType: 'input_required', requestState: 'round-1',
	    inputRequests: { ask: { method: 'sampling/createMessage',
	    params: { messages: [{ role: 'user', content: { type: 'text',
	    text } }], maxTokens: 16 } } } });
});
`;

async function modernOnlyDaemon(t) {
	const dir = tmpdir(t);
	const script = path.join(dir, 'modern-only.mjs');
	fs.writeFileSync(script, MODERN_ONLY_SERVER);
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    servers: { mod: { type: 'stdio', command: process.execPath,
	    args: [script] } } }) });
	await waitFor(() => /server mod: initializing -> ready/.test(d.log()),
	    { message: 'the modern-only server to be ready' });
	return d;
}

async function legacyClient(url, { onSampling } = {}) {
	const v1 = await loadSdk();
	const client = new v1.Client({ name: 'eras-legacy', version: '1.0.0' },
	    { capabilities: { sampling: {} } });
	if (onSampling)
		client.setRequestHandler(v1.CreateMessageRequestSchema,
		    onSampling);
	await client.connect(new v1.StreamableHTTPClientTransport(new URL(url)),
	    opts);
	return client;
}

itest('legacy SDK client, 2026-07-28-only upstream: mcprelayd answers ' +
    'initialize and injects the _meta the server needs', async (t) => {
	const d = await modernOnlyDaemon(t);
	assert.match(d.log(), /server mod: speaks modern MCP/);
	const client = await legacyClient(d.mcpUrl('mod'));
	t.after(() => client.close());
	assert.deepEqual((await client.listTools(undefined, opts)).tools
	    .map((x) => x.name), ['echo', 'ask']);
	assert.equal(toolText(await client.callTool({ name: 'echo',
	    arguments: { text: 'hi' } }, undefined, opts)),
	    'modern echo: hi from eras-legacy');
});

itest('legacy SDK client, 2026-07-28-only upstream: an InputRequiredResult ' +
    'becomes a sampling request on the client\'s stream, and the answer ' +
    'goes back upstream as inputResponses', async (t) => {
	const d = await modernOnlyDaemon(t);
	const sampled = [];
	const client = await legacyClient(d.mcpUrl('mod'), {
	    onSampling: async (req) => {
		sampled.push(req.params);
		return { model: 'legacy-model', role: 'assistant',
		    content: { type: 'text', text: 'four' } };
	    } });
	t.after(() => client.close());
	const r = await client.callTool({ name: 'ask',
	    arguments: { text: 'What is 2+2?' } }, undefined, opts);
	assert.equal(sampled.length, 1);
	assert.equal(sampled[0].messages[0].content.text, 'What is 2+2?');
	assert.equal(toolText(r), 'model said: four');
});

// ---- 4. the modern error paths and cancellation on the wire ------------

function modernMeta(over = {}) {
	return { [META.version]: MODERN, [META.caps]: {}, ...over };
}

/* Headers a 2026-07-28 POST carries; null drops one. */
function modernHeaders(method, extra = {}) {
	return { 'content-type': 'application/json',
	    accept: 'application/json, text/event-stream',
	    'mcp-protocol-version': MODERN, 'mcp-method': method, ...extra };
}

function post(url, body, headers) {
	return httpRequest(url, { headers: modernHeaders(body.method, headers),
	    body });
}

function assertRpcError(r, status, code, id) {
	assert.equal(r.status, status, r.body);
	assert.match(r.headers['content-type'] ?? '', /^application\/json/);
	assert.equal(r.json?.jsonrpc, '2.0', r.body);
	assert.equal(r.json.id, id, r.body);
	assert.equal(r.json.error?.code, code, r.body);
	return r.json.error;
}

itest('modern requests on the raw wire: header and _meta errors, removed ' +
    'methods, no GET stream, the Base64 Mcp-Name, notifications',
    async (t) => {
	const dir = tmpdir(t);
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    servers: { demo: demoServer([]) } }) });
	await waitFor(() => /server demo: initializing -> ready/.test(d.log()));
	const url = d.mcpUrl('demo');
	const list = (id, meta = modernMeta()) => ({ jsonrpc: '2.0', id,
	    method: 'tools/list', params: { _meta: meta } });

	// The well-formed request, for contrast.
	let r = await post(url, list(1));
	assert.equal(r.status, 200, r.body);
	assert.equal(r.headers['mcp-session-id'], undefined);
	assert.equal(r.json.result.resultType, 'complete');

	// MCP-Protocol-Version missing, or not _meta's.
	let e = assertRpcError(await post(url, list(2),
	    { 'mcp-protocol-version': null }), 400, HEADER_MISMATCH, 2);
	assert.match(e.message, /MCP-Protocol-Version header is required/);
	e = assertRpcError(await post(url, list(3),
	    { 'mcp-protocol-version': '2025-11-25' }), 400, HEADER_MISMATCH, 3);
	assert.match(e.message, /'2025-11-25' does not match _meta value/);
	assertRpcError(await post(url, list(4), { 'mcp-method': 'prompts/list' }),
	    400, HEADER_MISMATCH, 4);

	// A version mcprelayd does not serve.
	e = assertRpcError(await post(url, list(5, modernMeta(
	    { [META.version]: '2099-01-01' })), { 'mcp-protocol-version':
	    '2099-01-01' }), 400, UNSUPPORTED_VERSION, 5);
	assert.equal(e.data.requested, '2099-01-01');
	assert.ok(Array.isArray(e.data.supported) &&
	    e.data.supported.includes(MODERN), JSON.stringify(e.data));
	assert.ok(!e.data.supported.includes('2099-01-01'));

	// _meta without clientCapabilities, or no _meta at all under a
	// modern MCP-Protocol-Version.
	e = assertRpcError(await post(url, list(6, { [META.version]: MODERN })),
	    400, ERR.INVALID_PARAMS, 6);
	assert.match(e.message, /clientCapabilities/);
	assertRpcError(await post(url, { jsonrpc: '2.0', id: 7,
	    method: 'tools/list', params: {} }), 400, ERR.INVALID_PARAMS, 7);
	assertRpcError(await post(url, list(8, modernMeta(
	    { [META.logLevel]: 'loud' }))), 400, ERR.INVALID_PARAMS, 8);

	// Methods 2026-07-28 removed.
	for (const [id, method] of [[9, 'ping'], [10, 'logging/setLevel'],
	    [11, 'resources/subscribe']]) {
		e = assertRpcError(await post(url, { jsonrpc: '2.0', id, method,
		    params: { _meta: modernMeta() } }), 404,
		    ERR.METHOD_NOT_FOUND, id);
		assert.match(e.message, new RegExp(`${method}.*removed`));
	}

	// No session: no GET stream, nothing to DELETE.
	for (const method of ['GET', 'DELETE']) {
		r = await httpRequest(url, { method,
		    headers: { accept: 'text/event-stream' } });
		assert.equal(r.status, 405, `${method}: ${r.body}`);
	}

	// Mcp-Name: plain, Base64 sentinel, and a sentinel naming another tool.
	const call = (id, text) => ({ jsonrpc: '2.0', id, method: 'tools/call',
	    params: { name: 'echo', arguments: { text }, _meta: modernMeta() } });
	const b64 = (s) => `=?base64?${Buffer.from(s).toString('base64')}?=`;
	r = await post(url, call(12, 'plain'), { 'mcp-name': 'echo' });
	assert.equal(r.status, 200, r.body);
	assert.equal(toolText(r.json.result), 'plain');
	r = await post(url, call(13, 'sentinel'), { 'mcp-name': b64('echo') });
	assert.equal(r.status, 200, r.body);
	assert.equal(toolText(r.json.result), 'sentinel');
	assert.equal(r.json.result.resultType, 'complete');
	e = assertRpcError(await post(url, call(14, 'x'),
	    { 'mcp-name': b64('add') }), 400, HEADER_MISMATCH, 14);
	assert.match(e.message, /Mcp-Name/);
	assertRpcError(await post(url, call(15, 'x')), 400, HEADER_MISMATCH, 15);

	// A modern notification is accepted (202, no body) and ignored.
	r = await post(url, { jsonrpc: '2.0', method: 'notifications/cancelled',
	    params: { requestId: 12, _meta: modernMeta() } });
	assert.equal(r.status, 202, r.body);
	assert.equal(r.body, '');

	// Without _meta and without a session it is still legacy: refused.
	r = await httpRequest(url, { headers: { 'content-type':
	    'application/json', accept: 'application/json, text/event-stream' },
	    body: { jsonrpc: '2.0', id: 16, method: 'tools/list' } });
	assertRpcError(r, 400, ERR.INVALID_REQUEST, 16);
});

itest('closing a modern request\'s SSE stream cancels it upstream',
    async (t) => {
	const dir = tmpdir(t);
	const f = { in: path.join(dir, 'in.log'), out: path.join(dir, 'out.log'),
	    exec: path.join(dir, 'exec.log') };
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    servers: { demo: teed(f.in, f.out, [bin.demo, '--exec-log',
	    f.exec]) } }) });
	await waitFor(() => /server demo: initializing -> ready/.test(d.log()));
	const url = d.mcpUrl('demo');

	const started = Date.now();
	const ac = new AbortController();
	const res = await fetch(url, { method: 'POST', signal: ac.signal,
	    headers: modernHeaders('tools/call', { 'mcp-name': 'sleep_ms' }),
	    body: JSON.stringify({ jsonrpc: '2.0', id: 'slow',
	    method: 'tools/call', params: { name: 'sleep_ms',
	    arguments: { ms: 2000 },
	    _meta: modernMeta({ progressToken: 'p-slow' }) } }) });
	assert.equal(res.status, 200);
	assert.match(res.headers.get('content-type'), /^text\/event-stream/);
	// The first progress event, then the client goes away.
	const got = [];
	const parser = new SseParser();
	const reader = res.body.getReader();
	while (got.length === 0) {
		const { value, done } = await reader.read();
		assert.ok(!done, 'the stream ended before any progress');
		for (const ev of parser.feed(new TextDecoder().decode(value)))
			if (ev.data !== '')
				got.push(JSON.parse(ev.data));
	}
	assert.deepEqual(got[0], { jsonrpc: '2.0',
	    method: 'notifications/progress', params: { progressToken: 'p-slow',
	    progress: 100, total: 2000 } });
	ac.abort();

	// The demo was told, under the id it got the call with.
	const [run] = readJsonLines(f.exec);
	assert.equal(run.tool, 'sleep_ms');
	const cancel = await teeLine(f.in, (m) =>
	    m.method === 'notifications/cancelled');
	assert.equal(cancel.params.requestId, run.id);
	const call = await teeLine(f.in, (m) => m.id === run.id);
	assert.equal(call.method, 'tools/call');
	assert.equal(call.params._meta[META.version], MODERN,
	    'a dual-era upstream got the modern request');

	// The demo stopped the sleep: past its end, no answer came.
	await sleep(Math.max(0, started + 2300 - Date.now()));
	assert.equal(jsonLines(f.out).filter((m) => m.id === run.id).length, 0,
	    'the cancelled call was never answered');
	// And the server goes on serving.
	const r = await post(url, { jsonrpc: '2.0', id: 2, method: 'tools/call',
	    params: { name: 'echo', arguments: { text: 'after' },
	    _meta: modernMeta() } }, { 'mcp-name': 'echo' });
	assert.equal(toolText(r.json.result), 'after');
});

itest('per-request logLevel: a modern request that asked for logs gets ' +
    'notifications/message on its stream; one that did not, or asked for ' +
    'a higher level, gets none', async (t) => {
	const dir = tmpdir(t);
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    servers: { demo: demoServer([]),
		// Legacy only: it logs at its session's level whatever a
		// request asks, so mcprelayd does the filtering.
		old: demoServer(['--name', 'old', '--error-method',
		    'server/discover']) } }) });
	await waitFor(() => /server demo: initializing -> ready/.test(d.log()) &&
	    /server old: initializing -> ready/.test(d.log()));
	const call = async (server, meta) => {
		const s = new McpSession(d.mcpUrl(server),
		    { headers: { 'mcp-protocol-version': MODERN } });
		const r = await s.request('tools/call', { name: 'log_message',
		    arguments: { level: 'warning', text: 'hello' },
		    _meta: meta }, { headers: { 'mcp-method': 'tools/call',
		    'mcp-name': 'log_message' } });
		return { text: toolText(r.result), logs: r.messages.filter(
		    (m) => m.method === 'notifications/message').map(
		    (m) => m.params) };
	};
	const info = modernMeta({ [META.logLevel]: 'info' });
	for (const [server, logger] of [['demo', 'demo'], ['old', 'demo']])
		assert.deepEqual(await call(server, info), { text: 'logged',
		    logs: [{ level: 'warning', logger, data: 'hello' }] });
	// A dual server filters by itself; the legacy one logs anyway and
	// mcprelayd keeps it from the requests that did not ask.
	for (const meta of [modernMeta(), modernMeta({ [META.logLevel]:
	    'error' })]) {
		assert.deepEqual(await call('demo', meta),
		    { text: 'filtered', logs: [] });
		assert.deepEqual(await call('old', meta),
		    { text: 'logged', logs: [] });
	}
});

/*
 * MRTR translation on the wire: a legacy upstream's sampling request during
 * a modern call comes back as an InputRequiredResult whose requestState
 * mcprelayd signed; an altered state is refused, the right one with the
 * input response finishes the very same upstream call.
 */
itest('raw wire: InputRequiredResult for a legacy upstream, altered ' +
    'requestState refused, the retry finishes the parked call', async (t) => {
	const dir = tmpdir(t);
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    servers: { ev: { type: 'stdio', command: process.execPath,
	    args: [everythingEntry(), 'stdio'] } } }) });
	await waitFor(() => /server ev: initializing -> ready/.test(d.log()),
	    { timeout: 15000 });
	const url = d.mcpUrl('ev');
	const meta = modernMeta({ [META.caps]: { sampling: {} } });
	const call = (id, extra = {}) => ({ jsonrpc: '2.0', id,
	    method: 'tools/call', params: { name: 'trigger-sampling-request',
	    arguments: { prompt: 'Capital of France?', maxTokens: 16 },
	    _meta: meta, ...extra } });
	const hdr = { 'mcp-name': 'trigger-sampling-request' };

	let r = await post(url, call(1), hdr);
	assert.equal(r.status, 200, r.body);
	const first = r.json.result;
	assert.equal(first.resultType, 'input_required', r.body);
	const keys = Object.keys(first.inputRequests);
	assert.equal(keys.length, 1);
	assert.equal(first.inputRequests[keys[0]].method,
	    'sampling/createMessage');
	assert.match(first.requestState, /^mcprelay:[0-9a-f]{32}\.[0-9a-f]{64}$/);

	// One character changed: the HMAC no longer matches.
	const s = first.requestState;
	const altered = s.slice(0, 12) + (s[12] === 'a' ? 'b' : 'a') +
	    s.slice(13);
	r = await post(url, call(2, { requestState: altered,
	    inputResponses: { [keys[0]]: { role: 'assistant', model: 'm',
	    content: { type: 'text', text: 'Paris' } } } }), hdr);
	assert.equal(r.json.error?.code, -32602, r.body);

	// The genuine state with the answer: the parked call completes.
	r = await post(url, call(3, { requestState: s,
	    inputResponses: { [keys[0]]: { role: 'assistant', model: 'm',
	    content: { type: 'text', text: 'Paris' } } } }), hdr);
	assert.equal(r.status, 200, r.body);
	assert.equal(r.json.id, 3);
	assert.equal(r.json.result.resultType, 'complete', r.body);
	assert.match(JSON.stringify(r.json.result.content), /Paris/);

	// A state is good once: the park is gone.
	r = await post(url, call(4, { requestState: s,
	    inputResponses: { [keys[0]]: { role: 'assistant', model: 'm',
	    content: { type: 'text', text: 'Paris' } } } }), hdr);
	assert.equal(r.json.error?.code, -32602, r.body);
});

/*
 * The legacy conformance fixture asks for several inputs at once and names
 * its requests after them (_meta "mcprelay/inputKey"): mcprelayd gathers
 * them into one
 * InputRequiredResult under those names, refuses what the client did not
 * declare (and the fixture passes the -32021 on), takes answers a first
 * request already brings, and parks the call again for a second round.
 */
itest('raw wire: a legacy server\'s inputs raised together are one ' +
    'round, named as it named them; -32021 passed on; inputResponses ' +
    'without a state answer; a second round re-parks', async (t) => {
	const dir = tmpdir(t);
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    servers: { old: demoServer(['--name', 'old', '--conformance',
	    '--era', 'legacy']) } }) });
	await waitFor(() => /server old: initializing -> ready/.test(d.log()));
	const url = d.mcpUrl('old');
	let id = 0;
	const call = (name, caps, extra = {}) => post(url, { jsonrpc: '2.0',
	    id: ++id, method: 'tools/call', params: { name, arguments: {},
	    _meta: modernMeta({ [META.caps]: caps }), ...extra } },
	    { 'mcp-name': name });
	const all = { elicitation: {}, sampling: {}, roots: {} };
	const name = { action: 'accept', content: { name: 'Alice' } };
	const sample = { role: 'assistant', model: 'm',
	    content: { type: 'text', text: 'Hi there' } };
	const roots = { roots: [{ uri: 'file:///tmp', name: 'tmp' }] };

	// A round nobody answers: its call keeps waiting upstream under the
	// name user_name (until request_timeout).
	let r = await call('test_input_required_result_elicitation', all);
	assert.deepEqual(Object.keys(r.json.result?.inputRequests ?? {}),
	    ['user_name'], r.body);

	// A first request that brings its answer is not asked at all, though
	// another call's request is still out under the same name: the name
	// is the server's params._meta "mcprelay/inputKey", not its id.
	r = await call('test_input_required_result_elicitation', all,
	    { inputResponses: { user_name: name, extra_key: name } });
	assert.equal(r.status, 200, r.body);
	assert.equal(r.json.result.resultType, 'complete', r.body);
	assert.equal(toolText(r.json.result), 'Hello, Alice!');

	// Three requests raised together: one round, the fixture's names.
	r = await call('test_input_required_result_multiple_inputs', all);
	assert.equal(r.status, 200, r.body);
	const first = r.json.result;
	assert.equal(first.resultType, 'input_required', r.body);
	assert.deepEqual(Object.keys(first.inputRequests).sort(),
	    ['client_roots', 'greeting', 'user_name']);
	assert.deepEqual(Object.fromEntries(Object.entries(
	    first.inputRequests).map(([k, v]) => [k, v.method])), {
	    user_name: 'elicitation/create',
	    greeting: 'sampling/createMessage', client_roots: 'roots/list' });
	// An answer missing: refused, and the round still stands.
	r = await call('test_input_required_result_multiple_inputs', all, {
	    requestState: first.requestState,
	    inputResponses: { user_name: name, greeting: sample } });
	assert.equal(r.json.error?.code, -32602, r.body);
	assert.match(r.json.error.message, /client_roots/);
	r = await call('test_input_required_result_multiple_inputs', all, {
	    requestState: first.requestState, inputResponses: {
	    user_name: name, greeting: sample, client_roots: roots } });
	assert.equal(r.json.result?.resultType, 'complete', r.body);
	assert.equal(toolText(r.json.result),
	    'Name: Alice; Greeting: Hi there; Roots: 1');

	// Only sampling declared: elicitation is refused to the server, the
	// round asks only for the sample.
	r = await call('test_input_required_result_capabilities',
	    { sampling: {} });
	assert.equal(r.json.result?.resultType, 'input_required', r.body);
	assert.deepEqual(Object.keys(r.json.result.inputRequests),
	    ['sample_input']);

	// A call that cannot do without sampling fails with the refusal.
	r = await call('test_missing_capability', {});
	assert.equal(r.status, 400, r.body);
	assert.equal(r.json.error?.code, -32021, r.body);
	assert.deepEqual(r.json.error.data, { requiredCapabilities:
	    { sampling: {} } });

	// Two rounds: the call is parked again after the first retry, under
	// a new state; the old one is spent.
	r = await call('test_input_required_result_multi_round', all);
	const s1 = r.json.result;
	assert.deepEqual(Object.keys(s1.inputRequests), ['step1'], r.body);
	r = await call('test_input_required_result_multi_round', all, {
	    requestState: s1.requestState, inputResponses: { step1: name } });
	const s2 = r.json.result;
	assert.equal(s2?.resultType, 'input_required', r.body);
	assert.deepEqual(Object.keys(s2.inputRequests), ['step2']);
	assert.notEqual(s2.requestState, s1.requestState);
	r = await call('test_input_required_result_multi_round', all, {
	    requestState: s2.requestState, inputResponses: { step2: {
	    action: 'accept', content: { color: 'blue' } } } });
	assert.equal(toolText(r.json.result),
	    'Multi-round complete for Alice who likes blue', r.body);
	r = await call('test_input_required_result_multi_round', all, {
	    requestState: s1.requestState, inputResponses: { step1: name } });
	assert.equal(r.json.error?.code, -32602, r.body);
});

// ---- protocol: auto | modern | legacy ---------------------------------

itest('protocol pinned per server: legacy never asks server/discover; ' +
    'modern never initializes, and a refused discover is a failure, not ' +
    'a fallback', async (t) => {
	const dir = tmpdir(t);
	const f = { leg: path.join(dir, 'leg-in.log'),
	    mod: path.join(dir, 'mod-in.log') };
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    servers: {
		// Both dual-era (--conformance): auto would call them dual.
		leg: teed(f.leg, path.join(dir, 'leg-out.log'), [bin.demo,
		    '--name', 'leg', '--conformance'], { protocol: 'legacy' }),
		mod: teed(f.mod, path.join(dir, 'mod-out.log'), [bin.demo,
		    '--name', 'mod', '--conformance'], { protocol: 'modern' }),
		bad: { ...demoServer(['--name', 'bad', '--error-method',
		    'server/discover']), protocol: 'modern' },
	    } }) });
	await waitFor(() => /server leg: initializing -> ready/.test(d.log()) &&
	    /server mod: initializing -> ready/.test(d.log()) &&
	    /server bad: initializing -> failed/.test(d.log()),
	    { timeout: 15000, message: 'leg and mod ready, bad failed' });
	assert.match(d.log(), /server bad: initializing -> failed \(server\/discover was refused \(protocol: modern\)/);
	assert.doesNotMatch(d.log(), /server (leg|mod): speaks/);

	const legIn = jsonLines(f.leg).map((m) => m.method);
	assert.equal(legIn[0], 'initialize');
	assert.ok(!legIn.includes('server/discover'), legIn.join(' '));
	const modIn = jsonLines(f.mod).map((m) => m.method);
	assert.equal(modIn[0], 'server/discover');
	assert.ok(!modIn.includes('initialize'), modIn.join(' '));

	// A modern call: translated for leg (its _meta dropped), passed
	// through to mod with its _meta.
	for (const [name, i] of [['leg', 1], ['mod', 2]]) {
		const r = await post(d.mcpUrl(name), { jsonrpc: '2.0', id: i,
		    method: 'tools/call', params: { name: 'echo', arguments:
		    { text: `to ${name}` }, _meta: modernMeta() } },
		    { 'mcp-name': 'echo' });
		assert.equal(r.status, 200, r.body);
		assert.equal(r.json.result.resultType, 'complete', r.body);
		assert.equal(toolText(r.json.result), `to ${name}`);
	}
	const legCall = await teeLine(f.leg, (m) => m.method === 'tools/call');
	assert.deepEqual(modernKeys(legCall), []);
	const modCall = await teeLine(f.mod, (m) => m.method === 'tools/call');
	assert.equal(modCall.params._meta[META.version], MODERN);

	const st = spawnSync(bin.ctl, ['servers', '--json', '--socket',
	    path.join(dir, 'control.sock')], { encoding: 'utf8',
	    timeout: 10000 });
	assert.equal(st.status, 0, st.stderr);
	const era = Object.fromEntries(JSON.parse(st.stdout).map((s) =>
	    [s.name, s.protocol]));
	assert.deepEqual(era, { leg: 'legacy', mod: 'modern', bad: 'modern' });
});

itest('legacy SDK client, 2026-07-28-only fixture: mcprelayd answers ping, ' +
    'setLevel and subscribe itself, sends the level as _meta logLevel, and ' +
    'hears of a tool list change through its own subscriptions/listen',
    async (t) => {
	const dir = tmpdir(t);
	const fin = path.join(dir, 'in.log');
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    servers: { mod: teed(fin, path.join(dir, 'out.log'), [bin.demo,
		'--conformance', '--era', 'modern']) } }) });
	await waitFor(() => /server mod: initializing -> ready/.test(d.log()),
	    { timeout: 10000, message: 'the modern-only fixture ready' });
	assert.match(d.log(), /server mod: speaks modern MCP/);
	const listen = await teeLine(fin,
	    (m) => m.method === 'subscriptions/listen');
	assert.deepEqual(listen.params.notifications,
	    { toolsListChanged: true });

	const v1 = await loadSdk();
	const client = new v1.Client({ name: 'eras-legacy', version: '1.0.0' },
	    { capabilities: {} });
	let changed = 0;
	const logs = [];
	client.setNotificationHandler(v1.ToolListChangedNotificationSchema,
	    () => { changed++; });
	client.setNotificationHandler(v1.LoggingMessageNotificationSchema,
	    (n) => { logs.push(n.params); });
	await client.connect(new v1.StreamableHTTPClientTransport(
	    new URL(d.mcpUrl('mod'))), opts);
	t.after(() => client.close());
	await client.ping(opts);
	await client.setLoggingLevel('info', opts);
	await client.subscribeResource({ uri: 'test://static-text' }, opts);
	// (Its one initialize was mcprelayd's probe, refused.)
	const sent = jsonLines(fin).map((m) => m.method);
	assert.equal(sent.filter((m) => m === 'initialize').length, 1);
	for (const m of ['ping', 'logging/setLevel', 'resources/subscribe'])
		assert.ok(!sent.includes(m), `${m} reached the server`);

	await client.callTool({ name: 'test_logging_tool', arguments: {} },
	    undefined, opts);
	const call = await teeLine(fin, (m) => m.method === 'tools/call' &&
	    m.params.name === 'test_logging_tool');
	assert.equal(call.params._meta[META.logLevel], 'info');
	await waitFor(() => logs.length > 0,
	    { message: 'the log message on the legacy session' });

	const before = (await client.listTools(undefined, opts)).tools
	    .map((x) => x.name);
	assert.ok(!before.includes('test_dynamic_tool'));
	await client.callTool({ name: 'test_trigger_tool_change',
	    arguments: {} }, undefined, opts);
	await waitFor(() => changed > 0,
	    { message: 'notifications/tools/list_changed' });
	const after = (await client.listTools(undefined, opts)).tools
	    .map((x) => x.name);
	assert.ok(after.includes('test_dynamic_tool'), after.join(' '));
});

/*
 * A 2026-07-28 HTTP server whose tool's x-mcp-header moves from Region to
 * Zone without a list_changed: its -32020 makes mcprelayd fetch the tools
 * again and re-send the call once.  With `stubborn` it refuses every call.
 */
function headerServer({ stubborn = false } = {}) {
	const seen = { lists: 0, calls: [] };
	let mark = 'Region';
	const server = http.createServer((req, res) => {
		let body = '';
		req.on('data', (c) => { body += c; });
		req.on('end', () => {
			const m = JSON.parse(body || '{}');
			const send = (status, msg) => {
				res.writeHead(status, { 'content-type':
				    'application/json' });
				res.end(JSON.stringify({ jsonrpc: '2.0',
				    id: m.id, ...msg }));
			};
			if (req.method !== 'POST' || m.id === undefined) {
				res.writeHead(req.method === 'POST' ? 202 : 405);
				return res.end();
			}
			const done = { resultType: 'complete' };
			if (m.method === 'server/discover')
				return send(200, { result: { ...done,
				    supportedVersions: [MODERN], capabilities:
				    { tools: {} }, serverInfo: { name: 'hdr',
				    version: '1' } } });
			if (m.method === 'tools/list') {
				seen.lists++;
				const tools = [{ name: 'geo', inputSchema: {
				    type: 'object', properties: { region: {
				    type: 'string', 'x-mcp-header': mark } } } }];
				// The schema changes after the first listing.
				mark = 'Zone';
				return send(200, { result: { ...done, tools } });
			}
			if (m.method !== 'tools/call')
				return send(200, { error: { code: -32601,
				    message: 'no' } });
			seen.calls.push(Object.keys(req.headers)
			    .filter((h) => h.startsWith('mcp-param-')));
			if (stubborn || req.headers['mcp-param-zone'] !==
			    m.params.arguments.region)
				return send(400, { error: { code: -32020,
				    message: 'Header mismatch: Mcp-Param-Zone ' +
				    'header is required' } });
			send(200, { result: { ...done, content: [{ type:
			    'text', text: `in ${req.headers['mcp-param-zone']}`
			    }] } });
		});
	});
	return new Promise((resolve) => server.listen(0, '127.0.0.1', () =>
	    resolve({ server, seen, url: `http://127.0.0.1:` +
	    `${server.address().port}/mcp` })));
}

itest('a -32020 from a 2026-07-28 HTTP server: mcprelayd fetches the tools ' +
    'again and re-sends the call once with the new Mcp-Param headers',
    async (t) => {
	for (const stubborn of [false, true]) {
		const up = await headerServer({ stubborn });
		const dir = tmpdir(t);
		const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		    servers: { hdr: { type: 'http', url: up.url } } }) });
		await waitFor(() => /server hdr: initializing -> ready/
		    .test(d.log()), { message: 'hdr ready' });
		const r = await post(d.mcpUrl('hdr'), { jsonrpc: '2.0', id: 1,
		    method: 'tools/call', params: { name: 'geo', arguments:
		    { region: 'eu' }, _meta: modernMeta() } },
		    { 'mcp-name': 'geo', 'mcp-param-region': 'eu' });
		assert.deepEqual(up.seen.calls, [['mcp-param-region'],
		    ['mcp-param-zone']]);
		assert.equal(up.seen.lists, 2);
		if (stubborn)
			assertRpcError(r, 400, HEADER_MISMATCH, 1);
		else {
			assert.equal(r.status, 200, r.body);
			assert.equal(toolText(r.json.result), 'in eu');
		}
		await d.stop();
		await new Promise((resolve) => up.server.close(resolve));
	}
});

itest('tasks are not translated between the eras: a legacy client\'s task ' +
    'to a 2026-07-28-only server and a modern tasks/get to a legacy one ' +
    'are refused with errors that say so', async (t) => {
	const d = await modernOnlyDaemon(t);
	const s = new McpSession(d.mcpUrl('mod'));
	await s.initialize();
	const task = await s.request('tools/call', { name: 'echo',
	    arguments: { text: 'x' }, task: { ttl: 60000 } });
	assert.equal(task.error?.code, -32602, JSON.stringify(task));
	assert.match(task.error.message, /server 'mod' speaks only 2026-07-28, whose tasks differ .*does not translate tasks/);
	const get = await s.request('tasks/get', { taskId: 't1' });
	assert.equal(get.error?.code, -32601, JSON.stringify(get));
	// Without a task, the same call goes through.
	const ok = await s.request('tools/call', { name: 'echo',
	    arguments: { text: 'x' } });
	assert.match(toolText(ok.result), /^modern echo: x/);

	const dir = tmpdir(t);
	const d2 = await startDaemon({ t, dir, config: baseConfig(dir, {
	    servers: { old: demoServer(['--name', 'old', '--error-method',
	    'server/discover']) } }) });
	await waitFor(() => /server old: initializing -> ready/.test(d2.log()));
	const r = await post(d2.mcpUrl('old'), { jsonrpc: '2.0', id: 7,
	    method: 'tasks/get', params: { taskId: 't1',
	    _meta: modernMeta() } });
	const err = assertRpcError(r, 404, -32601, 7);
	assert.match(err.message, /server 'old' speaks only the legacy protocol/);
});

/*
 * Both translation directions with the official SDKs: an elicitation
 * round trip and a progress stream across an upstream restart, against
 * the fixture speaking one era only.
 */
async function oneEraDaemon(t, era) {
	const dir = tmpdir(t);
	const starts = path.join(dir, 'starts.log');
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    servers: { one: demoServer(['--conformance', '--era', era,
	    '--starts-log', starts]) } }) });
	await waitFor(() => /server one: initializing -> ready/.test(d.log()),
	    { timeout: 10000, message: `the ${era}-only fixture ready` });
	assert.match(d.log(), new RegExp(`server one: speaks ${era} MCP`));
	return { d, starts };
}

/* sleep_ms with progress; the upstream killed once it has reported. */
async function progressAcrossRestart(call, starts) {
	const progress = [];
	const slow = call((p) => progress.push(p));
	await waitFor(() => progress.length >= 2, { message: 'progress' });
	const oldPid = lastStartPid(starts);
	await killHard(oldPid);
	const killedAt = progress.length;
	const r = await slow;
	assert.equal(toolText(r), 'slept 800 ms');
	assert.ok(progress.length - killedAt >= 3,
	    `progress after the restart: ${JSON.stringify(progress)}`);
	assert.equal(readLines(starts).length, 2, 'one restart');
	assert.notEqual(lastStartPid(starts), oldPid);
}

itest('modern SDK client, legacy-only fixture: elicitation as MRTR rounds, ' +
    'and progress across an upstream restart', async (t) => {
	const { d, starts } = await oneEraDaemon(t, 'legacy');
	const modern = await v2Client(d.mcpUrl('one'), { mode: 'auto',
	    capabilities: { elicitation: {} } });
	const asked = [];
	modern.client.setRequestHandler('elicitation/create', async (req) => {
		asked.push(req.params.message);
		return elicitAnswer(req.params);
	});
	await modern.connect();
	t.after(() => modern.client.close());
	assert.equal(modern.client.getProtocolEra(), 'modern');
	const r = await modern.client.callTool({ name: 'test_elicitation',
	    arguments: { message: 'Who are you?' } }, opts);
	assert.deepEqual(asked, ['Who are you?']);
	assert.equal(toolText(r),
	    'User response: action=accept, content={"response":"Ada"}');
	await progressAcrossRestart((onprogress) => modern.client.callTool(
	    { name: 'sleep_ms', arguments: { ms: 800 } },
	    { ...opts, onprogress }), starts);
});

itest('legacy SDK client, modern-only fixture: elicitation as a server ' +
    'request from an InputRequiredResult, and progress across an upstream ' +
    'restart', async (t) => {
	const { d, starts } = await oneEraDaemon(t, 'modern');
	const v1 = await loadSdk();
	const legacy = new v1.Client({ name: 'eras-legacy', version: '1.0.0' },
	    { capabilities: { elicitation: {} } });
	const asked = [];
	legacy.setRequestHandler(v1.ElicitRequestSchema, async (req) => {
		asked.push(req.params.message);
		return elicitAnswer(req.params);
	});
	await legacy.connect(new v1.StreamableHTTPClientTransport(
	    new URL(d.mcpUrl('one'))), opts);
	t.after(() => legacy.close());
	const r = await legacy.callTool({ name: 'test_elicitation',
	    arguments: { message: 'Who are you?' } }, undefined, opts);
	assert.deepEqual(asked, ['Who are you?']);
	assert.equal(toolText(r),
	    'User response: action=accept, content={"response":"Ada"}');
	await progressAcrossRestart((onprogress) => legacy.callTool(
	    { name: 'sleep_ms', arguments: { ms: 800 } }, undefined,
	    { ...opts, onprogress }), starts);
});
