// The pass-through (docs/architecture.md): a success answer to a legacy
// client's call reaches the client as the very bytes the server sent, only
// the id replaced, over HTTP and the Unix socket, from a stdio and an HTTP
// upstream; a server with retry rules, a 2026-07-28 client and an error
// answer take the parsed way instead, and get the same content.  The same
// for the call on its way in: the server gets the client's bytes, only the
// id replaced, unless something in it must be read (a progress token).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';

import {
	baseConfig, bin, httpRequest, initialize, itest, startDaemon, tmpdir,
	waitFor, slow,
} from './lib/harness.mjs';

/*
 * What the servers below answer a tools/call with: valid JSON that json-c
 * would write differently (spaces, member order, escapes it does not use).
 */
const raw = (id, text) => '{ "result" : { "content" : [ { "type" : "text" ,' +
    ' "text" : "caf\\u00e9 \\/ ' + text + '" } ] , "isError" : false } ,' +
    ` "id" : ${id} , "jsonrpc" : "2.0" }`;

/* A legacy stdio server: argv[2] is its one tool's name. */
const STDIO_SERVER = `
import * as readline from 'node:readline';
import * as fs from 'node:fs';
const tool = process.argv[2];
const seen = process.argv[3];
const raw = ${raw.toString()};
const out = (s) => process.stdout.write(s + '\\n');
readline.createInterface({ input: process.stdin }).on('line', (line) => {
	const m = JSON.parse(line);
	if (m.id === undefined || !m.method)
		return;
	const reply = (result) => out(JSON.stringify({ jsonrpc: '2.0',
	    id: m.id, result }));
	if (m.method === 'initialize')
		return reply({ protocolVersion: '2025-11-25',
		    capabilities: { tools: {} },
		    serverInfo: { name: 'raw-' + tool, version: '1.0.0' } });
	if (m.method === 'tools/list')
		return reply({ tools: [{ name: tool, inputSchema:
		    { type: 'object' } }] });
	if (m.method === 'ping')
		return reply({});
	if (m.method === 'tools/call')
		fs.appendFileSync(seen, line + '\\n');
	if (m.method === 'tools/call' && m.params.arguments?.fail)
		return out(JSON.stringify({ jsonrpc: '2.0', id: m.id, error:
		    { code: -32000, message: 'asked to fail' } }));
	if (m.method === 'tools/call')
		return out(raw(m.id, m.params.arguments?.text ?? ''));
	out(JSON.stringify({ jsonrpc: '2.0', id: m.id,
	    error: { code: -32601, message: 'Method not found' } }));
});
`;

/* The same server over Streamable HTTP (JSON replies), on a free port. */
function startHttpServer(t, tool, seen) {
	const server = http.createServer((req, res) => {
		if (req.method !== 'POST') {
			res.writeHead(req.method === 'DELETE' ? 200 : 405).end();
			return;
		}
		let body = '';
		req.on('data', (c) => {
			body += c;
		});
		req.on('end', () => {
			const m = JSON.parse(body);
			if (m.method === 'tools/call')
				seen.push(body);
			const send = (text) => res.writeHead(200, {
			    'content-type': 'application/json',
			    'mcp-session-id': 'raw-session' }).end(text);
			const reply = (result) => send(JSON.stringify({
			    jsonrpc: '2.0', id: m.id, result }));
			if (m.id === undefined)
				res.writeHead(202).end();
			else if (m.method === 'initialize')
				reply({ protocolVersion: '2025-11-25',
				    capabilities: { tools: {} },
				    serverInfo: { name: 'raw-http', version: '1' } });
			else if (m.method === 'tools/list')
				reply({ tools: [{ name: tool, inputSchema:
				    { type: 'object' } }] });
			else if (m.method === 'tools/call')
				send(raw(m.id, m.params.arguments?.text ?? ''));
			else
				reply({});
		});
	});
	t.after(() => new Promise((r) => server.close(r)));
	server.keepAliveTimeout = 60000;
	return new Promise((resolve) => server.listen(0, '127.0.0.1',
	    () => resolve(`http://127.0.0.1:${server.address().port}/mcp`)));
}

async function startRelay(t) {
	const dir = tmpdir(t);
	const script = path.join(dir, 'raw-server.mjs');
	fs.writeFileSync(script, STDIO_SERVER);
	const stdio = (tool, extra = {}) => ({ type: 'stdio', protocol: 'legacy',
	    command: process.execPath, args: [script, tool,
	    path.join(dir, `calls-${tool}`)], ...extra });
	const remoteSeen = [];
	const url = await startHttpServer(t, 'remote_raw', remoteSeen);
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    servers: {
		plain: stdio('plain_raw'),
		// A rule that never matches still makes the answer be read.
		ruled: stdio('ruled_raw', { retry: { rules: [{
		    jsonrpc_code: -32099, action: 'fail' }] } }),
		remote: { type: 'http', protocol: 'legacy', url },
	    } }) });
	await waitFor(() => ['plain', 'ruled', 'remote'].every((n) =>
	    new RegExp(`server ${n}: initializing -> ready`).test(d.log())),
	    { timeout: 10000 * slow, message: 'the three servers ready' });
	// The tool calls each server was sent, as their text.
	const seen = (tool) => tool === 'remote_raw' ? remoteSeen :
	    fs.readFileSync(path.join(dir, `calls-${tool}`), 'utf8')
	    .split('\n').filter((l) => l !== '');
	return { d, dir, seen };
}

const call = (id, name, args) => ({ jsonrpc: '2.0', id, method: 'tools/call',
    params: { name, arguments: args } });

itest('a legacy client over HTTP gets the server\'s bytes, its own id in ' +
    'them; rules, errors and 2026-07-28 clients take the parsed way',
    async (t) => {
	const { d, dir } = await startRelay(t);

	// stdio upstream, per-server endpoint.
	let s = await initialize(d.mcpUrl('plain'));
	let r = await s.post(call(41, 'plain_raw', { text: 'a' }));
	assert.equal(r.status, 200);
	assert.equal(r.body, raw(41, 'a'));
	// A string id goes in as a string.
	r = await s.post(call('x"1', 'plain_raw', { text: 'b' }));
	assert.equal(r.body, raw('"x\\"1"', 'b'));
	// An id above INT64_MAX goes back as it came.
	r = await s.post('{"jsonrpc":"2.0","id":18446744073709551615,' +
	    '"method":"tools/call","params":{"name":"plain_raw",' +
	    '"arguments":{"text":"big"}}}');
	assert.equal(r.body, raw('18446744073709551615', 'big'));

	// HTTP upstream.
	s = await initialize(d.mcpUrl('remote'));
	r = await s.post(call(7, 'remote_raw', { text: 'c' }));
	assert.equal(r.status, 200);
	assert.equal(r.body, raw(7, 'c'));

	// Aggregate endpoint: the tool is found by name, bytes unchanged.
	s = await initialize(d.mcpUrl());
	r = await s.post(call(8, 'plain_raw', { text: 'd' }));
	assert.equal(r.body, raw(8, 'd'));

	// A server with rules: parsed, so written by json-c; same content.
	s = await initialize(d.mcpUrl('ruled'));
	r = await s.post(call(9, 'ruled_raw', { text: 'e' }));
	assert.notEqual(r.body, raw(9, 'e'));
	assert.deepEqual(JSON.parse(r.body), JSON.parse(raw(9, 'e')));
	assert.match(r.body, /^\{"result":\{"content":\[\{"type":"text"/);

	// An error answer is parsed (the rules and the stats read it).
	s = await initialize(d.mcpUrl('plain'));
	r = await s.post(call(10, 'plain_raw', { fail: true }));
	assert.deepEqual(r.json, { jsonrpc: '2.0', id: 10,
	    error: { code: -32000, message: 'asked to fail' } });

	// A 2026-07-28 client: translated (resultType), hence parsed.
	r = await httpRequest(d.mcpUrl('plain'), {
	    headers: { 'content-type': 'application/json',
	    accept: 'application/json, text/event-stream',
	    'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call',
	    'mcp-name': 'plain_raw' },
	    body: { jsonrpc: '2.0', id: 11, method: 'tools/call', params: {
	    name: 'plain_raw', arguments: { text: 'f' }, _meta: {
	    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
	    'io.modelcontextprotocol/clientCapabilities': {} } } } });
	assert.equal(r.status, 200, r.body);
	assert.equal(r.json.result.resultType, 'complete', r.body);
	assert.equal(r.json.result.content[0].text, 'caf\u00e9 / f');

	// The stats count the answers passed through like any other.
	const st = JSON.parse(execFileSync(bin.ctl, ['stats', '--json',
	    '--socket', path.join(dir, 'control.sock')], { encoding: 'utf8' }));
	const srv = Object.fromEntries(st.servers.map((x) => [x.name, x]));
	assert.deepEqual([st.requests.ok, st.requests.error], [6, 1]);
	assert.deepEqual([srv.plain.requests.total, srv.plain.requests.ok,
	    srv.plain.requests.errors, srv.plain.latency.count,
	    srv.plain.operations.execute_tool.successes], [6, 5, 1, 6, 6]);
	assert.deepEqual([srv.remote.requests.ok, srv.remote.latency.count],
	    [1, 1]);
	assert.equal(srv.plain.requests.inFlight, 0);
});

itest('a legacy client on the Unix socket gets the server\'s bytes on one ' +
    'line', async (t) => {
	const { d, dir, seen } = await startRelay(t);
	const sock = net.connect({ path: path.join(dir, 'mcp.sock') });
	t.after(() => sock.destroy());
	let buf = '';
	const lines = [];
	sock.setEncoding('utf8');
	sock.on('data', (c) => {
		buf += c;
		let nl;
		while ((nl = buf.indexOf('\n')) !== -1) {
			lines.push(buf.slice(0, nl));
			buf = buf.slice(nl + 1);
		}
	});
	const send = (m) => sock.write(JSON.stringify(m) + '\n');
	send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {
	    protocolVersion: '2025-11-25', capabilities: {},
	    clientInfo: { name: 'raw', version: '1' } } });
	await waitFor(() => lines.length >= 1, { message: 'initialize answer' });
	send({ jsonrpc: '2.0', method: 'notifications/initialized' });
	send(call(2, 'remote_raw', { text: 'u' }));
	send(call(3, 'plain_raw', { text: 'v' }));
	await waitFor(() => lines.length >= 3, { message: 'two answers' });
	assert.deepEqual(lines.slice(1).sort(), [raw(2, 'u'), raw(3, 'v')]);

	// On its way in, a call is the client's bytes with our id.
	sock.write(spaced('"u-4"', 'plain_raw') + '\n');
	await waitFor(() => lines.length >= 4, { message: 'a third answer' });
	assert.equal(lines[3], raw('"u-4"', 'w'));
	assert.equal(seen('plain_raw').length, 2);
	sameButId(seen('plain_raw')[1], spaced('"u-4"', 'plain_raw'));
	void d;
});

/*
 * A call as no JSON writer would send it (spaces, member order, escapes
 * json-c does not write, a number json-c would write as 1.5); text 'w'.
 */
const spaced = (id, tool, extra = '') => '{ "params" : { "arguments" : ' +
    '{ "text" : "w" , "s" : "\\u00e9\\/" , "n" : 1.50 } , "name" : "' +
    tool + '"' + extra + ' } , "method" : "tools/call" , "jsonrpc" : "2.0" ,' +
    ` "id" : ${id} }`;

/* line is sent with only its id replaced (by an integer of ours). */
function sameButId(line, sent) {
	const m = / "id" : (\d+) \}$/.exec(line);
	assert.ok(m, `an integer id at the end of ${line}`);
	assert.equal(line, sent.replace(/ "id" : [^ ]+ \}$/, ` "id" : ${m[1]} }`));
}

itest('a legacy client\'s call reaches the server as the bytes it sent, ' +
    'only the id replaced; one with a progress token is built', async (t) => {
	const { d, seen } = await startRelay(t);

	// stdio upstream, an integer id and a string one.
	let s = await initialize(d.mcpUrl('plain'));
	let r = await s.post(spaced(51, 'plain_raw'));
	assert.equal(r.status, 200);
	assert.equal(r.body, raw(51, 'w'));
	r = await s.post(spaced('"s-1"', 'plain_raw'));
	assert.equal(r.body, raw('"s-1"', 'w'));
	let lines = seen('plain_raw');
	assert.equal(lines.length, 2);
	sameButId(lines[0], spaced(51, 'plain_raw'));
	sameButId(lines[1], spaced('"s-1"', 'plain_raw'));
	// Our ids, not the client's: two calls, two ids.
	assert.notEqual(JSON.parse(lines[0]).id, JSON.parse(lines[1]).id);

	// HTTP upstream, through the aggregate endpoint.
	s = await initialize(d.mcpUrl());
	r = await s.post(spaced(52, 'remote_raw'));
	assert.equal(r.body, raw(52, 'w'));
	assert.equal(seen('remote_raw').length, 1);
	sameButId(seen('remote_raw')[0], spaced(52, 'remote_raw'));

	// A progress token must be read and replaced: built by json-c, the
	// token the server sees is ours, and the content is the same.
	s = await initialize(d.mcpUrl('plain'));
	const withMeta = spaced(53, 'plain_raw',
	    ' , "_meta" : { "progressToken" : "p1" }');
	r = await s.post(withMeta);
	assert.equal(r.body, raw(53, 'w'));
	lines = seen('plain_raw');
	assert.equal(lines.length, 3);
	assert.doesNotMatch(lines[2], / : /);
	const m = JSON.parse(lines[2]);
	assert.match(m.params._meta.progressToken, /^mcprelay-\d+$/);
	assert.deepEqual(m.params.arguments, JSON.parse(withMeta).params.arguments);
	assert.equal(m.params.name, 'plain_raw');
});
