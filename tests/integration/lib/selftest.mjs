// Self-test of harness.mjs without mcprelayd: the YAML emitter (checked
// against PyYAML when python3 has it), the SSE parser, the HTTP and NDJSON
// clients against small mock servers, and daemon start/stop/leftover
// detection against a fake daemon.  Run: node tests/integration/lib/selftest.mjs

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

// A fake mcprelayd, written before the harness reads MCPRELAYD.
const fakeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcprelay-selftest-'));
const fakeDaemon = path.join(fakeDir, 'fake-mcprelayd');
fs.writeFileSync(fakeDaemon, `#!${process.execPath}
// Listens where the config says, starts a stray "upstream" in its own
// session, and on SIGTERM exits with FAKE_EXIT (leaving the upstream alive
// when FAKE_LEAVE is set).
const fs = require('node:fs'), net = require('node:net');
const { spawn } = require('node:child_process');
const cfg = fs.readFileSync(process.argv[process.argv.indexOf('-c') + 1], 'utf8');
if (process.env.FAKE_DIE) { console.error('fake: bad config'); process.exit(78); }
const port = Number(/^  http: 127\\.0\\.0\\.1:(\\d+)$/m.exec(cfg)[1]);
const sock = /^    path: (.*)$/m.exec(cfg)[1];
const ctl = /^  socket: (.*)$/m.exec(cfg)?.[1];
const up = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
console.log('fake: upstream pid ' + up.pid);
setTimeout(() => {
	net.createServer((c) => c.end()).listen(port, '127.0.0.1');
	net.createServer((c) => c.end()).listen(sock);
	if (ctl)
		net.createServer((c) => c.end()).listen(ctl);
	console.log('fake: listening');
}, 300);
process.on('SIGTERM', () => {
	if (!process.env.FAKE_LEAVE) up.kill('SIGKILL');
	try { fs.unlinkSync(sock); } catch {}
	try { if (ctl) fs.unlinkSync(ctl); } catch {}
	process.exit(Number(process.env.FAKE_EXIT ?? 0));
});
`, { mode: 0o755 });
process.env.MCPRELAYD = fakeDaemon;
process.on('exit', () => fs.rmSync(fakeDir, { recursive: true, force: true }));

const h = await import('./harness.mjs');

// ---- YAML -------------------------------------------------------------

test('YAML: a config comes out as the expected block text', () => {
	const text = h.toYaml({
		log: { level: 'debug' },
		listen: { http: '127.0.0.1:8931',
		    unix: { path: '/tmp/x/mcp.sock', mode: h.yamlRaw('0600') },
		    allowed_origins: [] },
		defaults: { retry: { max_retries: 3, initial_delay: '0.2s',
		    backoff_factor: 2.5, jitter: false } },
		servers: { demo: { type: 'stdio', command: '/b/demo',
		    args: ['--exec-log', '/tmp/x/exec.log', 'two words'],
		    env: {} } },
		list: [{ a: 1, b: [1, 2] }, [], ['x'], null],
	});
	assert.equal(text, `log:
  level: debug
listen:
  http: 127.0.0.1:8931
  unix:
    path: /tmp/x/mcp.sock
    mode: 0600
  allowed_origins: []
defaults:
  retry:
    max_retries: 3
    initial_delay: 0.2s
    backoff_factor: 2.5
    jitter: false
servers:
  demo:
    type: stdio
    command: /b/demo
    args:
      - "--exec-log"
      - /tmp/x/exec.log
      - "two words"
    env: {}
list:
  - a: 1
    b:
      - 1
      - 2
  - []
  -
    - x
  - null
`);
});

const tricky = ['yes', 'no', 'on', 'off', 'y', 'N', 'null', '~', '', 'true',
    'False', '1.0', '2', '0600', '0x10', '0o17', '1e3', '.5', '-1', '+1',
    '1:30', '127.0.0.1', '1.0.0', '2001-12-14', '.inf', '.NaN', '<<', '=',
    'a: b', 'a:', 'a #b', '#x', '- x', '-x', '--exec-log', '? q', '@at',
    '`bt', '%pct', '!bang', '&anchor', '*alias', '[a]', '{a}', 'a,b', '|',
    '>', "'single'", '"double"', 'tab\there', 'line\nbreak', 'cr\rx',
    'trailing ', ' leading', 'ünïcødé ✓', '\u2028sep', '\u0085nel',
    '\u007fdel', 'bs\\slash', 'C:\\path', 'http://h:1/p?q=1#f',
    '127.0.0.1:8080', '/tmp/x y/z', 'a__b', 'x'.repeat(200), '\ufeffbom',
    'emoji 😀'];

test('YAML: tricky strings are quoted where a resolver would bite', () => {
	const plain = (s) => !/^["]/.test(h.toYaml({ k: s }).slice(3));
	for (const s of ['debug', '0.2s', '64KiB', '127.0.0.1:8080', '/tmp/x',
	    'a__b', 'stdio', 'on_conflict'])
		assert.ok(plain(s), `${s} should stay plain`);
	for (const s of ['yes', 'no', 'on', 'null', '~', '', '1.0', '0600',
	    '1:30', '127.0.0.1', '2001-12-14', 'a: b', '#x', '--exec-log',
	    'a #b', ' leading', 'trailing '])
		assert.ok(!plain(s), `${JSON.stringify(s)} must be quoted`);
	assert.equal(h.toYaml({ k: 'line\nbreak' }), 'k: "line\\nbreak"\n');
	assert.equal(h.toYaml({ k: '\u2028' }), 'k: "\\u2028"\n');
});

test('YAML: round trip through PyYAML (libyaml loader when present)', (t) => {
	const py = spawnSync('python3', ['-c', 'import yaml'], { encoding: 'utf8' });
	if (py.status !== 0) {
		t.skip('python3 with PyYAML is not installed');
		return;
	}
	const obj = {
		strings: tricky,
		map: Object.fromEntries(tricky.filter((s) => s !== '<<')
		    .map((s, i) => [s, i])),
		nums: [0, 1, -3, 2.5, 1e-7, 123456789],
		bools: [true, false],
		nested: [{ a: [{ b: { c: ['d'] } }] }],
		nil: null,
	};
	for (const loader of ['CSafeLoader', 'SafeLoader']) {
		const r = spawnSync('python3', ['-c', `
import sys, json, yaml
L = getattr(yaml, '${loader}', None)
if L is None: print('null'); sys.exit(0)
print(json.dumps(yaml.load(sys.stdin.read(), Loader=L)))`],
		    { input: h.toYaml(obj), encoding: 'utf8' });
		assert.equal(r.status, 0, r.stderr);
		const back = JSON.parse(r.stdout);
		if (back !== null)
			assert.deepEqual(back, obj, `${loader} round trip`);
	}
});

// ---- SSE ----------------------------------------------------------------

const sseText = '\ufeff: a comment\r\n' +
    'id: 1\r\nevent: message\r\ndata: {"a":1}\r\n\r\n' +
    'data: line one\ndata: line two\n\n' +
    'id: 2\ndata:\n\n' +			// a priming event: id, no data
    'retry: 1500\rdata:  two spaces\r\r' +
    'data\n\n' +				// field without colon
    'id: 3\nfoo: ignored\ndata: x\n\n' +
    'data: unfinished';

const sseWant = [
	{ event: 'message', data: '{"a":1}', id: '1' },
	{ event: 'message', data: 'line one\nline two' },
	{ event: 'message', data: '', id: '2' },
	{ event: 'message', data: ' two spaces', retry: 1500 },
	{ event: 'message', data: '' },
	{ event: 'message', data: 'x', id: '3' },
];

test('SSE: parses a stream fed whole', () => {
	const p = new h.SseParser();
	assert.deepEqual([...p.feed(sseText), ...p.end()], sseWant);
	assert.equal(p.lastEventId, '3');
});

test('SSE: the same events whatever the chunking', () => {
	for (let size = 1; size <= 7; size++) {
		const p = new h.SseParser();
		const got = [];
		for (let i = 0; i < sseText.length; i += size)
			got.push(...p.feed(sseText.slice(i, i + size)));
		got.push(...p.end());
		assert.deepEqual(got, sseWant, `chunks of ${size}`);
	}
	for (let cut = 0; cut <= sseText.length; cut++) {
		const p = new h.SseParser();
		const got = [...p.feed(sseText.slice(0, cut)),
		    ...p.feed(sseText.slice(cut)), ...p.end()];
		assert.deepEqual(got, sseWant, `cut at ${cut}`);
	}
});

test('SSE: a CR at the end of a chunk waits for a possible LF', () => {
	const p = new h.SseParser();
	assert.deepEqual(p.feed('data: a\r'), []);
	assert.deepEqual(p.feed('\n\r'), []);
	assert.deepEqual(p.feed('\n'), [{ event: 'message', data: 'a' }]);
});

// ---- the HTTP client against a mock Streamable HTTP server ----------------

function mockMcpServer() {
	const sid = 'a'.repeat(32);
	const state = { answers: [], gets: [], deleted: false, posts: [] };
	const srv = http.createServer(async (req, res) => {
		let body = '';
		for await (const c of req)
			body += c;
		state.posts.push({ method: req.method, headers: req.headers, body });
		const send = (status, obj, headers = {}) => {
			res.writeHead(status, { 'content-type': 'application/json',
			    ...headers });
			res.end(obj === undefined ? '' : JSON.stringify(obj));
		};
		if (req.method === 'DELETE') {
			state.deleted = true;
			return send(200);
		}
		if (req.method === 'GET') {
			state.gets.push(req.headers['last-event-id'] ?? null);
			res.writeHead(200, { 'content-type': 'text/event-stream' });
			res.write('id: g1\ndata:\n\n');
			res.write('id: g2\ndata: {"jsonrpc":"2.0","method":' +
			    '"notifications/message","params":{"level":"info",' +
			    '"data":"hello"}}\n\n');
			return;	// left open, like a real GET stream
		}
		let m;
		try {
			m = JSON.parse(body);
		} catch {
			return send(400, { jsonrpc: '2.0', id: null,
			    error: { code: -32700, message: 'Parse error' } });
		}
		if (m.method === 'initialize') {
			return send(200, { jsonrpc: '2.0', id: m.id, result: {
			    protocolVersion: m.params.protocolVersion,
			    capabilities: {}, serverInfo: { name: 'mock',
			    version: '1' } } }, { 'mcp-session-id': sid });
		}
		if (state.deleted)
			return send(404);
		if (req.headers['mcp-session-id'] !== sid)
			return send(400);
		if (!('method' in m)) {		// our answer to ask/sample
			state.answers.push(m);
			state.onAnswer?.(m);
			res.writeHead(202);
			return res.end();
		}
		if (!('id' in m)) {
			res.writeHead(202);
			return res.end();
		}
		if (m.method === 'dup') {
			res.writeHead(200, { 'content-type': 'text/event-stream' });
			const r = JSON.stringify({ jsonrpc: '2.0', id: m.id,
			    result: {} });
			res.write(`data: ${r}\n\n`);
			setTimeout(() => res.end(`data: ${r}\n\n`), 50);
			return;
		}
		if (m.method === 'tools/call') {
			res.writeHead(200, { 'content-type': 'text/event-stream' });
			res.write('id: p0\ndata:\n\n');
			const token = m.params._meta?.progressToken;
			for (const p of [1, 2]) {
				res.write(`id: p${p}\ndata: ${JSON.stringify({
				    jsonrpc: '2.0', method: 'notifications/progress',
				    params: { progressToken: token, progress: p,
				    total: 2 } })}\n\n`);
			}
			// A server->client request; the result follows our answer.
			state.onAnswer = (a) => {
				state.onAnswer = null;
				res.end(`id: p9\r\ndata: ${JSON.stringify({
				    jsonrpc: '2.0', id: m.id, result: { content: [{
				    type: 'text', text: a.result.content.text }] } })}` +
				    '\r\n\r\n');
			};
			res.write(`data: ${JSON.stringify({ jsonrpc: '2.0',
			    id: 's-1', method: 'sampling/createMessage',
			    params: { messages: [] } })}\n\n`);
			return;
		}
		return send(200, { jsonrpc: '2.0', id: m.id, result: {} });
	});
	return new Promise((resolve) => srv.listen(0, '127.0.0.1', () =>
	    resolve({ srv, state, sid,
	    url: `http://127.0.0.1:${srv.address().port}/mcp` })));
}

test('HTTP client: initialize, SSE with progress and a server request, ' +
    'GET with Last-Event-ID, DELETE', async () => {
	const { srv, state, sid, url } = await mockMcpServer();
	try {
		const s = await h.initialize(url, { protocolVersion: '2025-06-18' });
		assert.equal(s.sessionId, sid);
		assert.equal(s.protocolVersion, '2025-06-18');
		assert.equal(s.initialized.status, 202);
		const notif = state.posts.at(-1);
		assert.equal(notif.headers['mcp-session-id'], sid);
		assert.equal(notif.headers['mcp-protocol-version'], '2025-06-18');
		assert.match(notif.headers.accept, /text\/event-stream/);

		const seen = [];
		const reply = await s.request('tools/call', { name: 'x',
		    _meta: { progressToken: 't' } }, {
			onMessage: (m) => seen.push(m.method),
			onRequest: async (m) => {
				assert.equal(m.method, 'sampling/createMessage');
				return { role: 'assistant', model: 'm',
				    content: { type: 'text', text: 'answered' } };
			},
		});
		assert.equal(reply.status, 200);
		assert.match(reply.contentType, /^text\/event-stream/);
		assert.deepEqual(seen, ['notifications/progress',
		    'notifications/progress', 'sampling/createMessage']);
		assert.equal(reply.result.content[0].text, 'answered');
		assert.equal(s.answered.length, 1);
		assert.equal(s.answered[0].status, 202);
		assert.equal(state.answers[0].id, 's-1');
		assert.equal(s.lastEventId, 'p9');
		assert.equal(reply.messages.at(-1), reply.response);

		const dup = await s.request('dup', {}, { linger: 300 });
		assert.equal(dup.duplicates, 1);

		const bad = await s.post('{not json');
		assert.equal(bad.status, 400);
		assert.equal(bad.error.code, -32700);

		const missing = await new h.McpSession(url).request('ping');
		assert.equal(missing.status, 400);

		const g = await s.openGet({ lastEventId: 'p9' });
		assert.equal(g.status, 200);
		const m = await g.waitForMessage((x) => x.method ===
		    'notifications/message');
		assert.equal(m.params.data, 'hello');
		assert.deepEqual(state.gets, ['p9']);
		assert.equal(g.events[0].id, 'g1');
		g.close();

		const del = await s.delete();
		assert.equal(del.status, 200);
		assert.equal((await s.request('ping')).status, 404);
		await assert.rejects(s.call('ping'), /HTTP 404/);
	} finally {
		srv.closeAllConnections();
		srv.close();
	}
});

test('httpRequest: raw exchanges, including an early answer', async () => {
	const srv = http.createServer((req, res) => {
		if (req.url === '/early') {
			res.writeHead(413, { connection: 'close' });
			res.end('too big');
			return;
		}
		let n = 0;
		req.on('data', (c) => { n += c.length; });
		req.on('end', () => res.end(JSON.stringify({ n,
		    origin: req.headers.origin })));
	});
	await new Promise((r) => srv.listen(0, '127.0.0.1', r));
	const base = `http://127.0.0.1:${srv.address().port}`;
	try {
		const r = await h.httpRequest(base + '/', { body: 'x'.repeat(1000),
		    headers: { origin: 'http://evil.example' } });
		assert.equal(r.status, 200);
		assert.deepEqual(r.json, { n: 1000, origin: 'http://evil.example' });
		const e = await h.httpRequest(base + '/early',
		    { body: 'x'.repeat(100 * 1024) });
		assert.equal(e.status, 413);
	} finally {
		srv.close();
	}
});

// ---- NDJSON ---------------------------------------------------------------

test('NDJSON client: lines, garbage, requests from the server', async () => {
	const dir = h.tmpdir();
	const sockPath = path.join(dir, 's.sock');
	const srv = net.createServer((c) => {
		let buf = '';
		c.setEncoding('utf8');
		c.on('data', (d) => {
			buf += d;
			let nl;
			while ((nl = buf.indexOf('\n')) !== -1) {
				const line = buf.slice(0, nl);
				buf = buf.slice(nl + 1);
				let m;
				try {
					m = JSON.parse(line);
				} catch {
					c.write('{"jsonrpc":"2.0","id":null,"error":' +
					    '{"code":-32700,"message":"Parse error"}}\n');
					continue;
				}
				if (m.method === 'ask') {
					c.write('{"jsonrpc":"2.0","method":"note"}\n' +
					    '{"jsonrpc":"2.0","id":"q","method":"roots/list"}\n');
					c.pendingId = m.id;
				} else if (m.id === 'q') {
					c.write(JSON.stringify({ jsonrpc: '2.0',
					    id: c.pendingId, result: m.result }) + '\n');
				} else {
					c.write('not json at all\n');
				}
			}
		});
	});
	await new Promise((r) => srv.listen(sockPath, r));
	try {
		const c = await h.connectUnix(sockPath, {
			onRequest: async (m) => ({ roots: [{ uri: 'file:///' +
			    m.method }] }),
		});
		c.send('garbage');
		const e = await c.next();
		assert.equal(e.error.code, -32700);
		assert.equal(e.id, null);
		const r = await c.request('ask', {});
		assert.deepEqual(r.result, { roots: [{ uri: 'file:///roots/list' }] });
		assert.equal((await c.next()).method, 'note');
		c.send({ jsonrpc: '2.0', method: 'x' });
		assert.deepEqual(await c.next(), { raw: 'not json at all' });
		c.close();
	} finally {
		srv.close();
	}
});

// ---- the daemon lifecycle, against the fake --------------------------------

test('waitFor: returns the value, or times out naming the last error', async () => {
	let n = 0;
	assert.equal(await h.waitFor(() => ++n >= 3 && n, { interval: 1 }), 3);
	await assert.rejects(h.waitFor(() => {
		throw new Error('still no');
	}, { timeout: 50, message: 'thing' }), /waiting for thing; last error: still no/);
});

test('startDaemon/stop: ready on the port, clean stop, nothing left', async () => {
	const dir = h.tmpdir();
	const d = await h.startDaemon({ dir, config: h.baseConfig(dir, {
	    servers: { demo: h.demoServer(['--name', 'x']) } }) });
	assert.ok(d.running());
	assert.match(d.url, /^http:\/\/127\.0\.0\.1:\d+$/);
	assert.equal(d.mcpUrl('a b'), `${d.url}/servers/a%20b/mcp`);
	assert.equal(d.processes().length, 1, 'the fake upstream runs');
	assert.match(fs.readFileSync(d.configPath, 'utf8'),
	    /MCPRELAY_ITEST_TAG: "?[\w-]+"?/);
	assert.match(d.log(), /fake: listening/);
	assert.deepEqual(await d.stop(), { code: 0, signal: null });
	assert.equal(d.processes().length, 0);
});

test('startDaemon/stop: a bad exit status and a stray upstream fail', async () => {
	const dir = h.tmpdir();
	const d = await h.startDaemon({ dir, config: h.baseConfig(dir),
	    env: { FAKE_EXIT: '3', FAKE_LEAVE: '1' } });
	const stray = d.processes()[0].pid;
	await assert.rejects(d.stop(), (e) => {
		assert.match(e.message, /exited with status 3, want status 0/);
		assert.match(e.message, /left processes behind: \d+ \(sleep 60\)/);
		return true;
	});
	await h.waitFor(() => !h.processAlive(stray), { timeout: 2000 });
});

test('startDaemon: a daemon that dies at start-up is reported with its log',
    async () => {
	const dir = h.tmpdir();
	await assert.rejects(h.startDaemon({ dir, config: h.baseConfig(dir),
	    env: { FAKE_DIE: '1' } }), (e) => {
		assert.match(e.message, /exited during start-up: status 78/);
		assert.match(e.message, /fake: bad config/);
		return true;
	});
});

test('closedPort refuses, below the ephemeral range', async () => {
	const port = await h.closedPort();
	const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range',
	    'utf8').trim().split(/\s+/)[0]);
	assert.ok(port >= 1024 && port < low, `${port}`);
	await assert.rejects(new Promise((resolve, reject) => {
		const s = net.connect({ host: '127.0.0.1', port }, () => {
			s.destroy();
			resolve();
		});
		s.on('error', reject);
	}), { code: 'ECONNREFUSED' });
});

test('freePort gives a bindable port', async () => {
	const port = await h.freePort();
	assert.ok(port > 1024);
	const s = net.createServer();
	await new Promise((r) => s.listen(port, '127.0.0.1', r));
	s.close();
});
