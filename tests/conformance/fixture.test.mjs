// The conformance fixture of mcprelay-demo-server --conformance, driven
// over stdio without the suite and without mcprelayd: what it answers to
// clients of both eras, message by message, including what an HTTP test
// cannot see on stdio (notification order, server-to-client requests,
// listen streams, the end of input).
// Environment: DEMO (default $top_builddir/mcprelay-demo-server).
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

const demo = process.env.DEMO ||
    path.join(process.env.top_builddir ?? '.', 'mcprelay-demo-server');
const MODERN = '2026-07-28';
const META = (k) => `io.modelcontextprotocol/${k}`;
const ALL_CAPS = { sampling: {}, elicitation: {}, roots: {} };

// One demo server; every line it writes is kept in order.
class Server {
	constructor(args = ['--conformance']) {
		this.child = spawn(demo, args, { stdio: ['pipe', 'pipe',
		    'ignore'] });
		this.lines = [];
		this.waiters = [];
		let buf = '';
		this.child.stdout.on('data', (chunk) => {
			buf += chunk;
			let nl;
			while ((nl = buf.indexOf('\n')) !== -1) {
				this.lines.push(JSON.parse(buf.slice(0, nl)));
				buf = buf.slice(nl + 1);
				for (const w of this.waiters.splice(0))
					w();
			}
		});
		this.exited = new Promise((resolve) =>
		    this.child.on('exit', (code) => resolve(code)));
		this.nextId = 1;
	}

	send(msg) {
		this.child.stdin.write(JSON.stringify({ jsonrpc: '2.0',
		    ...msg }) + '\n');
	}

	// The first line from index `from` on that matches, within 5 s.
	until(pred, from = 0) {
		return new Promise((resolve, reject) => {
			const t = setTimeout(() => reject(new Error(
			    `no matching line; got ${JSON.stringify(
			    this.lines.slice(from))}`)), 5000);
			const check = () => {
				const i = this.lines.findIndex((l, j) =>
				    j >= from && pred(l));
				if (i !== -1) {
					clearTimeout(t);
					resolve({ line: this.lines[i], index: i });
				} else
					this.waiters.push(check);
			};
			check();
		});
	}

	// A request; resolves with its response line and where it was.
	async call(method, params = {}, id = this.nextId++) {
		const from = this.lines.length;
		this.send({ id, method, params });
		const { line, index } = await this.until((l) => l.id === id &&
		    l.method === undefined, from);
		return { ...line, index, from };
	}

	async initialize(capabilities = { sampling: {}, elicitation: {} }) {
		const r = await this.call('initialize', { protocolVersion:
		    '2025-11-25', capabilities, clientInfo: { name: 'fixture',
		    version: '1' } });
		this.send({ method: 'notifications/initialized' });
		return r;
	}

	// A 2026-07-28 request: version and capabilities in _meta.
	modern(method, params = {}, meta = {}) {
		return this.call(method, { ...params, _meta: {
		    [META('protocolVersion')]: MODERN,
		    [META('clientCapabilities')]: ALL_CAPS, ...meta } });
	}

	async close() {
		this.child.stdin.end();
		const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
		const code = await this.exited;
		clearTimeout(t);
		return code;
	}
}

const text = (r) => r.result.content[0].text;
const notes = (s, r, method) => s.lines.slice(r.from, r.index)
    .filter((l) => l.method === method);

test('initialize era: content tools, resources, prompts, completion',
    async () => {
	const s = new Server();
	await s.initialize();
	const list = await s.call('tools/list');
	const names = list.result.tools.map((t) => t.name);
	for (const n of ['echo', 'test_simple_text', 'test_image_content',
	    'test_audio_content', 'test_embedded_resource',
	    'test_multiple_content_types', 'test_tool_with_logging',
	    'test_tool_with_progress', 'test_error_handling', 'test_sampling',
	    'test_elicitation', 'test_elicitation_sep1034_defaults',
	    'test_elicitation_sep1330_enums', 'json_schema_2020_12_tool',
	    'test_input_required_result_multi_round'])
		assert.ok(names.includes(n), n);
	const schema = list.result.tools.find((t) =>
	    t.name === 'json_schema_2020_12_tool').inputSchema;
	assert.equal(schema.$schema,
	    'https://json-schema.org/draft/2020-12/schema');
	assert.equal(schema.$defs.address.$anchor, 'addressDef');
	assert.equal(schema.additionalProperties, false);
	assert.deepEqual(schema.then, { required: ['phone'] });
	assert.ok(Array.isArray(schema.allOf[0].anyOf));

	assert.equal(text(await s.call('tools/call',
	    { name: 'test_simple_text' })),
	    'This is a simple text response for testing.');
	const img = (await s.call('tools/call',
	    { name: 'test_image_content', arguments: {} })).result.content[0];
	assert.equal(img.mimeType, 'image/png');
	assert.equal(Buffer.from(img.data, 'base64').subarray(1, 4)
	    .toString(), 'PNG');
	const wav = (await s.call('tools/call',
	    { name: 'test_audio_content' })).result.content[0];
	assert.equal(wav.mimeType, 'audio/wav');
	assert.equal(Buffer.from(wav.data, 'base64').subarray(0, 4)
	    .toString(), 'RIFF');
	const mixed = (await s.call('tools/call',
	    { name: 'test_multiple_content_types' })).result.content;
	assert.deepEqual(mixed.map((c) => c.type),
	    ['text', 'image', 'resource']);
	assert.deepEqual(JSON.parse(mixed[2].resource.text),
	    { test: 'data', value: 123 });
	assert.equal((await s.call('tools/call', { name: 'test_simple_text',
	    arguments: [] })).error.code, -32602);
	const err = await s.call('tools/call', { name: 'test_error_handling' });
	assert.equal(err.result.isError, true);

	const read = async (uri) => s.call('resources/read', { uri });
	assert.equal((await read('test://static-text')).result.contents[0].text,
	    'This is the content of the static text resource.');
	assert.equal((await read('test://static-binary')).result.contents[0]
	    .mimeType, 'image/png');
	assert.deepEqual(JSON.parse((await read('test://template/123/data'))
	    .result.contents[0].text), { id: '123', templateTest: true,
	    data: 'Data for ID: 123' });
	const missing = await read('test://nope');
	assert.equal(missing.error.code, -32002);
	assert.equal(missing.error.data.uri, 'test://nope');
	const tpl = await s.call('resources/templates/list');
	assert.equal(tpl.result.resourceTemplates[0].uriTemplate,
	    'test://template/{id}/data');
	assert.deepEqual((await s.call('resources/subscribe',
	    { uri: 'test://watched-resource' })).result, {});
	assert.deepEqual((await s.call('resources/unsubscribe',
	    { uri: 'test://watched-resource' })).result, {});

	const args = await s.call('prompts/get', { name:
	    'test_prompt_with_arguments', arguments: { arg1: 'a', arg2: 'b' } });
	assert.equal(args.result.messages[0].content.text,
	    "Prompt with arguments: arg1='a', arg2='b'");
	assert.equal((await s.call('prompts/get', { name:
	    'test_prompt_with_arguments', arguments: { arg1: 'a' } }))
	    .error.code, -32602);
	const emb = await s.call('prompts/get', { name:
	    'test_prompt_with_embedded_resource', arguments: { resourceUri:
	    'test://x' } });
	assert.equal(emb.result.messages[0].content.resource.uri, 'test://x');
	const comp = await s.call('completion/complete', { ref: { type:
	    'ref/prompt', name: 'test_prompt_with_arguments' }, argument:
	    { name: 'arg1', value: 'pa' } });
	assert.deepEqual(comp.result.completion, { values: ['paris', 'park',
	    'party'], total: 3, hasMore: false });
	assert.equal(await s.close(), 0);
});

test('initialize era: logging and progress come before the result',
    async () => {
	const s = new Server();
	await s.initialize();
	await s.call('logging/setLevel', { level: 'debug' });
	const log = await s.call('tools/call',
	    { name: 'test_tool_with_logging' });
	assert.deepEqual(notes(s, log, 'notifications/message')
	    .map((n) => n.params.data), ['Tool execution started',
	    'Tool processing data', 'Tool execution completed']);
	await s.call('logging/setLevel', { level: 'warning' });
	const quiet = await s.call('tools/call',
	    { name: 'test_tool_with_logging' });
	assert.equal(notes(s, quiet, 'notifications/message').length, 0);
	const prog = await s.call('tools/call', { name:
	    'test_tool_with_progress', _meta: { progressToken: 'p-1' } });
	assert.deepEqual(notes(s, prog, 'notifications/progress')
	    .map((n) => [n.params.progressToken, n.params.progress,
	    n.params.total]), [['p-1', 0, 100], ['p-1', 50, 100],
	    ['p-1', 100, 100]]);
	assert.equal(text(prog), 'p-1');

	// The tool list really changes, and the session is told.
	const has = async () => (await s.call('tools/list')).result.tools
	    .some((t) => t.name === 'test_dynamic_tool');
	assert.equal(await has(), false);
	const trig = await s.call('tools/call',
	    { name: 'test_trigger_tool_change' });
	assert.deepEqual(notes(s, trig, 'notifications/tools/list_changed')
	    .map((n) => n.params), [{}]);
	assert.equal(await has(), true);
	assert.equal(text(await s.call('tools/call',
	    { name: 'test_dynamic_tool' })), 'The dynamic tool answers.');
	await s.call('tools/call', { name: 'test_trigger_tool_change' });
	assert.equal(await has(), false);
	assert.equal((await s.call('tools/call',
	    { name: 'test_dynamic_tool' })).error.code, -32602);
	assert.equal(await s.close(), 0);
});

test('initialize era: sampling and elicitation are real requests',
    async () => {
	const s = new Server();
	await s.initialize();
	const from = s.lines.length;
	s.send({ id: 'call-1', method: 'tools/call', params: { name:
	    'test_sampling', arguments: { prompt: 'Say hi' } } });
	const { line: req } = await s.until((l) =>
	    l.method === 'sampling/createMessage', from);
	assert.equal(req.params.messages[0].content.text, 'Say hi');
	assert.equal(req.params.maxTokens, 100);
	s.send({ id: req.id, result: { role: 'assistant', content: { type:
	    'text', text: 'hi' }, model: 'm', stopReason: 'endTurn' } });
	const { line: res } = await s.until((l) => l.id === 'call-1', from);
	assert.equal(text(res), 'LLM response: hi');

	// Two rounds of elicitation, the second built from the first.
	const from2 = s.lines.length;
	s.send({ id: 'call-2', method: 'tools/call', params: { name:
	    'test_input_required_result_multi_round' } });
	const { line: e1 } = await s.until((l) =>
	    l.method === 'elicitation/create', from2);
	assert.equal(e1.params.message, 'Step 1: What is your name?');
	s.send({ id: e1.id, result: { action: 'accept', content:
	    { name: 'Alice' } } });
	const { line: e2 } = await s.until((l) =>
	    l.method === 'elicitation/create' && l.id !== e1.id, from2);
	s.send({ id: e2.id, result: { action: 'accept', content:
	    { color: 'blue' } } });
	const { line: done } = await s.until((l) => l.id === 'call-2', from2);
	assert.equal(text(done), 'Multi-round complete for Alice who likes blue');

	// The client refuses: a tool error, not a hang.
	const from3 = s.lines.length;
	s.send({ id: 'call-3', method: 'tools/call', params: { name:
	    'test_elicitation', arguments: { message: 'Name?' } } });
	const { line: e3 } = await s.until((l) =>
	    l.method === 'elicitation/create', from3);
	assert.equal(e3.params.requestedSchema.required[0], 'response');
	s.send({ id: e3.id, error: { code: -32601, message: 'no way' } });
	const { line: refused } = await s.until((l) => l.id === 'call-3',
	    from3);
	assert.equal(refused.result.isError, true);
	assert.match(text(refused), /an error: no way/);

	// roots were not declared at initialize: no request goes out.
	const roots = await s.call('tools/call', { name:
	    'test_input_required_result_list_roots' });
	assert.equal(roots.result.isError, true);
	assert.match(text(roots), /roots/);

	// Input ends while the client still owes an answer.
	const from4 = s.lines.length;
	s.send({ id: 'call-4', method: 'tools/call', params: { name:
	    'test_elicitation_sep1034_defaults' } });
	const { line: e4 } = await s.until((l) =>
	    l.method === 'elicitation/create', from4);
	assert.equal(e4.params.requestedSchema.properties.score.default, 95.5);
	assert.equal(await s.close(), 0);
	const last = s.lines.find((l) => l.id === 'call-4');
	assert.equal(last.result.isError, true);
});

test('2026-07-28: InputRequiredResult rounds and sealed requestState',
    async () => {
	const s = new Server();
	const r1 = await s.modern('tools/call', { name:
	    'test_input_required_result_elicitation', arguments: {} });
	assert.equal(r1.result.resultType, 'input_required');
	assert.equal(r1.result.inputRequests.user_name.method,
	    'elicitation/create');
	assert.equal(typeof r1.result.requestState, 'string');
	const accept = (content) => ({ action: 'accept', content });
	const r2 = await s.modern('tools/call', { name:
	    'test_input_required_result_elicitation', inputResponses:
	    { user_name: accept({ name: 'Alice' }), extra: { x: 1 } },
	    requestState: r1.result.requestState });
	assert.equal(text(r2), 'Hello, Alice!');
	assert.equal(r2.result.resultType, 'complete');
	assert.ok(r2.result._meta[META('serverInfo')].name);

	// A missing answer is asked again; malformed ones are -32602.
	const again = await s.modern('tools/call', { name:
	    'test_input_required_result_elicitation', inputResponses:
	    { wrong_key: accept({}) } });
	assert.equal(again.result.resultType, 'input_required');
	for (const bad of [{ user_name: 12345 }, null, { user_name:
	    { action: 'maybe' } }])
		assert.equal((await s.modern('tools/call', { name:
		    'test_input_required_result_elicitation',
		    inputResponses: bad })).error.code, -32602);

	// Tampered, foreign or expired-looking state is refused.
	const t1 = await s.modern('tools/call', { name:
	    'test_input_required_result_tampered_state' });
	const state = t1.result.requestState;
	const retry = (rs, name = 'test_input_required_result_tampered_state') =>
	    s.modern('tools/call', { name, inputResponses: { confirm:
	    accept({ ok: true }) }, requestState: rs });
	assert.equal(text(await retry(state)), 'integrity-ok: state verified');
	assert.equal((await retry(state + '-TAMPERED')).error.code, -32602);
	assert.equal((await retry(state.replace('"state":{}',
	    '"state":{"x":1}'))).error.code, -32602);
	assert.equal((await retry(state,
	    'test_input_required_result_request_state')).error.code, -32602);

	// Three rounds, each with a new state.
	const m1 = await s.modern('tools/call', { name:
	    'test_input_required_result_multi_round' });
	const m2 = await s.modern('tools/call', { name:
	    'test_input_required_result_multi_round', inputResponses:
	    { step1: accept({ name: 'Bob' }) }, requestState:
	    m1.result.requestState });
	assert.ok(m2.result.inputRequests.step2);
	assert.notEqual(m2.result.requestState, m1.result.requestState);
	const m3 = await s.modern('tools/call', { name:
	    'test_input_required_result_multi_round', inputResponses:
	    { step2: accept({ color: 'red' }) }, requestState:
	    m2.result.requestState });
	assert.equal(text(m3), 'Multi-round complete for Bob who likes red');

	// Only what the client declared is asked; else -32021.
	const caps = await s.modern('tools/call', { name:
	    'test_input_required_result_capabilities' }, { [META(
	    'clientCapabilities')]: { sampling: {} } });
	assert.deepEqual(Object.keys(caps.result.inputRequests),
	    ['sample_input']);
	const none = await s.modern('tools/call', { name:
	    'test_missing_capability' }, { [META('clientCapabilities')]: {} });
	assert.equal(none.error.code, -32021);
	assert.deepEqual(none.error.data, { requiredCapabilities:
	    { sampling: {} } });

	// prompts/get asks too.
	const p1 = await s.modern('prompts/get', { name:
	    'test_input_required_result_prompt' });
	const p2 = await s.modern('prompts/get', { name:
	    'test_input_required_result_prompt', inputResponses:
	    { user_context: accept({ context: 'ctx' }) }, requestState:
	    p1.result.requestState });
	assert.equal(p2.result.messages[0].content.text,
	    'Prompt with context: ctx');
	assert.equal(await s.close(), 0);
});

test('2026-07-28: caching, errors, logLevel, progress', async () => {
	const s = new Server();
	const read = await s.modern('resources/read',
	    { uri: 'test://static-text' });
	assert.equal(read.result.ttlMs, 0);
	assert.equal(read.result.cacheScope, 'public');
	const list = await s.modern('tools/list');
	assert.equal(list.result.ttlMs, 0);
	const nf = await s.modern('resources/read', { uri: 'test://nope' });
	assert.equal(nf.error.code, -32602);
	assert.equal(nf.error.data.uri, 'test://nope');
	for (const m of ['ping', 'initialize', 'logging/setLevel',
	    'resources/subscribe'])
		assert.equal((await s.modern(m)).error.code, -32601, m);
	const nocaps = await s.call('tools/list', { _meta: {
	    [META('protocolVersion')]: MODERN } });
	assert.equal(nocaps.error.code, -32602);

	const quiet = await s.modern('tools/call',
	    { name: 'test_logging_tool' });
	assert.equal(notes(s, quiet, 'notifications/message').length, 0);
	const loud = await s.modern('tools/call',
	    { name: 'test_logging_tool' }, { [META('logLevel')]: 'debug' });
	assert.equal(notes(s, loud, 'notifications/message').length, 1);

	const prog = await s.modern('tools/call', { name:
	    'test_tool_with_progress' }, { progressToken: 7 });
	assert.deepEqual(notes(s, prog, 'notifications/progress')
	    .map((n) => n.params.progress), [0, 50, 100]);
	assert.equal(text(prog), '7');
	assert.equal(await s.close(), 0);
});

test('2026-07-28: subscriptions/listen streams', async () => {
	const s = new Server();
	const listen = (id, notifications) => {
		s.send({ id, method: 'subscriptions/listen', params: {
		    notifications, _meta: { [META('protocolVersion')]: MODERN,
		    [META('clientCapabilities')]: {} } } });
		return s.until((l) => l.method ===
		    'notifications/subscriptions/acknowledged' &&
		    l.params._meta[META('subscriptionId')] === id);
	};
	const ack = await listen('L1', { toolsListChanged: true,
	    promptsListChanged: true });
	assert.deepEqual(ack.line.params.notifications,
	    { toolsListChanged: true });
	await listen('L2', { promptsListChanged: true });
	await listen('L3', { toolsListChanged: true });
	s.send({ method: 'notifications/cancelled', params:
	    { requestId: 'L3' } });
	const trig = await s.modern('tools/call',
	    { name: 'test_trigger_tool_change' });
	// Only the stream that asked, tagged; no untagged one without an
	// initialized session.
	const changed = notes(s, trig, 'notifications/tools/list_changed');
	assert.deepEqual(changed.map((n) =>
	    n.params._meta[META('subscriptionId')]), ['L1']);
	assert.ok((await s.modern('tools/list')).result.tools.some((t) =>
	    t.name === 'test_dynamic_tool'));
	assert.equal(await s.close(), 0);
	// At the end of input the open streams end with their result.
	const ends = s.lines.filter((l) => typeof l.id === 'string' &&
	    l.id.startsWith('L'));
	assert.deepEqual(ends.map((l) => [l.id, l.result.resultType,
	    l.result._meta[META('subscriptionId')]]),
	    [['L1', 'complete', 'L1'], ['L2', 'complete', 'L2']]);
});

test('without --conformance the fixture is not there', async () => {
	const s = new Server([]);
	const r = await s.call('tools/call', { name: 'test_simple_text' });
	assert.equal(r.error.code, -32602);
	const list = await s.call('tools/list');
	assert.ok(!list.result.tools.some((t) => t.name.startsWith('test_')));
	assert.equal(await s.close(), 0);
});
