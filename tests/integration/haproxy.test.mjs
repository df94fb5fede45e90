// Two mcprelayd instances behind HAProxy on loopback, as docs/deploy.md
// sets them up: stateless 2026-07-28 requests balanced round robin,
// legacy sessions kept on their instance by Mcp-Session-Id stickiness.
// One instance is killed under load in both eras; the errors each era's
// clients see are counted and printed (docs/deploy.md has the figures).
// Skipped only when haproxy is not installed (Debian: apt-get install
// haproxy; .ci/run installs it).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import {
	baseConfig, bin, demoServer, freePort, httpRequest, itest, killHard,
	sleep, srcdir, startDaemon, tmpdir, toolText, waitFor,
} from './lib/harness.mjs';

const haproxyMissing = spawnSync('haproxy', ['-v'], { encoding: 'utf8' })
    .error ? 'haproxy is not installed (Debian: apt-get install haproxy)' :
    false;

const LEGACY = '2025-11-25';
const MODERN = '2026-07-28';
const LEGACY_CLIENTS = 6;
const STATELESS_CLIENTS = 6;

/* The HAProxy configuration docs/deploy.md shows, on loopback ports. */
export function haproxyConfig(front, backends) {
	return `global
    maxconn 1024

defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    timeout queue 5s
    # A request that could not reach an instance, or whose instance died
    # before answering, is sent again, to another instance.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout

frontend mcp
    bind 127.0.0.1:${front}
    default_backend mcprelay

backend mcprelay
    balance roundrobin
    # Legacy sessions: the instance that answered initialize with an
    # Mcp-Session-Id gets every later request carrying it.
    stick-table type string len 64 size 100k expire 30m
    stick on req.hdr(mcp-session-id)
    stick store-response res.hdr(mcp-session-id)
${backends.map((b) => `    server ${b.name} 127.0.0.1:${b.port} check inter 200ms fall 1 rise 2`).join('\n')}
`;
}

/* haproxy -db in the foreground, stopped (and waited for) by t.after. */
async function startHaproxy(t, dir, front, backends) {
	const cfg = path.join(dir, 'haproxy.cfg');
	fs.writeFileSync(cfg, haproxyConfig(front, backends));
	const check = spawnSync('haproxy', ['-c', '-f', cfg],
	    { encoding: 'utf8', timeout: 10000 });
	assert.equal(check.status, 0, check.stdout + check.stderr);
	const log = path.join(dir, 'haproxy.log');
	const fd = fs.openSync(log, 'a');
	const child = spawn('haproxy', ['-db', '-f', cfg],
	    { stdio: ['ignore', fd, fd] });
	fs.closeSync(fd);
	const exited = new Promise((r) => child.once('exit', r));
	t.after(async () => {
		if (child.exitCode === null && child.signalCode === null) {
			child.kill('SIGTERM');
			const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
			await exited;
			clearTimeout(timer);
		}
	});
	await waitFor(() => new Promise((resolve) => {
		const s = net.connect({ host: '127.0.0.1', port: front });
		s.once('connect', () => { s.destroy(); resolve(true); });
		s.once('error', () => resolve(false));
	}), { timeout: 5000, message: 'haproxy to listen' });
	return { child, log };
}

/* The JSON-RPC message of a reply, JSON or SSE. */
function rpcOf(r) {
	if (r.json)
		return r.json;
	if (/^text\/event-stream/.test(r.headers['content-type'] ?? '')) {
		let last;
		for (const line of r.body.split('\n'))
			if (line.startsWith('data:'))
				try {
					const m = JSON.parse(line.slice(5));
					if (m.id !== undefined)
						last = m;
				} catch { /* a priming event */ }
		return last;
	}
	return undefined;
}

/*
 * Every other call sleeps 30 ms in the upstream, so that calls are in
 * flight on the instance when it is killed; the others echo their text,
 * so that each answer is known to be this request's.
 */
function toolCall(n, era, id) {
	if (id % 2 === 0)
		return { name: 'sleep_ms', arguments: { ms: 30 }, check: (res) =>
		    res.isError !== true && Array.isArray(res.content) };
	const text = `${era}-${n}-${id}`;
	return { name: 'echo', arguments: { text },
	    check: (res) => toolText(res) === text };
}

/* Counters of one era's clients. */
function tally() {
	return { requests: 0, ok: 0, errors: 0, kinds: {}, after: 0,
	    afterOk: 0, maxMs: 0, reinit: 0 };
}

function countError(t, what) {
	t.errors++;
	t.kinds[what] = (t.kinds[what] ?? 0) + 1;
}

/* A legacy client: initialize, then tools/call in a loop; on 404 it
 * initializes again, as the spec requires. */
async function legacyClient(url, n, st, state) {
	const headers = (sid) => ({ 'content-type': 'application/json',
	    accept: 'application/json, text/event-stream',
	    'mcp-protocol-version': LEGACY, ...(sid ? { 'mcp-session-id': sid } :
	    {}) });
	const init = async () => {
		const r = await httpRequest(url, { headers: headers(), body: {
		    jsonrpc: '2.0', id: 0, method: 'initialize', params: {
		    protocolVersion: LEGACY, capabilities: {},
		    clientInfo: { name: `legacy-${n}`, version: '1' } } } });
		const sid = r.headers['mcp-session-id'];
		if (r.status !== 200 || !sid)
			throw new Error(`initialize: HTTP ${r.status} ${r.body}`);
		const ack = await httpRequest(url, { headers: headers(sid), body: {
		    jsonrpc: '2.0', method: 'notifications/initialized' } });
		if (ack.status !== 202)
			throw new Error(`initialized: HTTP ${ack.status}`);
		return sid;
	};
	let sid = await init();
	state.ready++;
	let id = 1;
	while (!state.stop) {
		const call = toolCall(n, 'legacy', id);
		const t0 = Date.now();
		const killed = state.killed;
		let r;
		st.requests++;
		if (killed)
			st.after++;
		try {
			r = await httpRequest(url, { headers: headers(sid), body: {
			    jsonrpc: '2.0', id: id++, method: 'tools/call',
			    params: { name: call.name, arguments: call.arguments } } });
		} catch (e) {
			countError(st, `network: ${e.code ?? e.message}`);
			continue;
		}
		st.maxMs = Math.max(st.maxMs, Date.now() - t0);
		const m = rpcOf(r);
		if (r.status === 200 && m?.result && call.check(m.result)) {
			st.ok++;
			if (killed)
				st.afterOk++;
			continue;
		}
		if (r.status === 404) {
			countError(st, 'HTTP 404 (session not found)');
			sid = await init();
			st.reinit++;
			continue;
		}
		countError(st, `HTTP ${r.status} ${m?.error?.code ?? ''}`.trim());
	}
}

/* A 2026-07-28 client: stateless tools/call in a loop. */
async function statelessClient(url, n, st, state) {
	let id = 1;
	while (!state.stop) {
		const call = toolCall(n, 'modern', id);
		const t0 = Date.now();
		const killed = state.killed;
		let r;
		st.requests++;
		if (killed)
			st.after++;
		try {
			r = await httpRequest(url, { headers: {
			    'content-type': 'application/json',
			    accept: 'application/json, text/event-stream',
			    'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call',
			    'mcp-name': call.name }, body: { jsonrpc: '2.0', id: id++,
			    method: 'tools/call', params: { name: call.name,
			    arguments: call.arguments, _meta: {
			    'io.modelcontextprotocol/protocolVersion': MODERN,
			    'io.modelcontextprotocol/clientCapabilities': {} } } } });
		} catch (e) {
			countError(st, `network: ${e.code ?? e.message}`);
			continue;
		}
		st.maxMs = Math.max(st.maxMs, Date.now() - t0);
		const m = rpcOf(r);
		if (r.status === 200 && m?.result && call.check(m.result)) {
			st.ok++;
			if (killed)
				st.afterOk++;
			continue;
		}
		countError(st, `HTTP ${r.status} ${m?.error?.code ?? ''}`.trim());
	}
}

function openSessions(d) {
	const r = spawnSync(bin.ctl, ['status', '--json', '--socket',
	    path.join(d.dir, 'control.sock')], { encoding: 'utf8',
	    timeout: 10000 });
	assert.equal(r.status, 0, r.stderr);
	return JSON.parse(r.stdout).sessions.open;
}

itest('two instances behind HAProxy: one killed under load; stateless ' +
    'clients see no error, legacy clients on it one 404 each and ' +
    're-initialize', { skip: haproxyMissing, timeout: 60000 }, async (t) => {
	const start = async () => {
		const dir = tmpdir(t);
		const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		    log: { level: 'info' }, servers: { demo: demoServer() } }) });
		await waitFor(() => /server demo: initializing -> ready/
		    .test(d.log()), { message: 'demo ready' });
		return d;
	};
	const a = await start();
	const b = await start();
	const dir = tmpdir(t);
	const front = await freePort();
	const hap = await startHaproxy(t, dir, front, [
	    { name: 'a', port: a.port }, { name: 'b', port: b.port }]);
	const url = `http://127.0.0.1:${front}/servers/demo/mcp`;

	const legacy = tally();
	const stateless = tally();
	const state = { stop: false, killed: false, ready: 0 };
	// Sessions first, one after the other: round robin puts every
	// other one on each instance.
	const clients = [];
	for (let i = 0; i < LEGACY_CLIENTS; i++) {
		clients.push(legacyClient(url, i, legacy, state));
		await waitFor(() => state.ready === i + 1,
		    { message: `legacy client ${i} to initialize` });
	}
	for (let i = 0; i < STATELESS_CLIENTS; i++)
		clients.push(statelessClient(url, i, stateless, state));
	const onA = openSessions(a);
	const onB = openSessions(b);
	assert.equal(onA + onB, LEGACY_CLIENTS);
	assert.ok(onA > 0 && onB > 0, `sessions on a: ${onA}, on b: ${onB}`);

	await sleep(1500);
	const beforeKill = { legacy: legacy.ok, stateless: stateless.ok };
	state.killed = true;
	await killHard(a.pid);
	await sleep(2500);
	state.stop = true;
	await Promise.all(clients);
	await a.stop({ check: false });

	const figures = {
		instances: 2, killed: 'a', legacySessionsOnKilled: onA,
		legacy: { clients: LEGACY_CLIENTS, ...legacy },
		stateless: { clients: STATELESS_CLIENTS, ...stateless },
		okBeforeKill: beforeKill,
	};
	console.log('haproxy failover figures: ' + JSON.stringify(figures));
	t.diagnostic('haproxy failover figures: ' + JSON.stringify(figures));

	// Load ran before and after the kill, in both eras.
	assert.ok(beforeKill.legacy > 0 && beforeKill.stateless > 0);
	assert.ok(legacy.afterOk > 0 && stateless.afterOk > 0,
	    JSON.stringify(figures));
	// Stateless: HAProxy's retries and redispatch hide the dead instance.
	assert.equal(stateless.errors, 0, JSON.stringify(figures));
	// Legacy: each session on the dead instance is told 404 once, and its
	// client initializes again on the other; nothing else fails.
	assert.deepEqual(legacy.kinds, { 'HTTP 404 (session not found)': onA },
	    JSON.stringify(figures));
	assert.equal(legacy.reinit, onA);
	assert.equal(openSessions(b), LEGACY_CLIENTS);
	assert.match(fs.readFileSync(hap.log, 'utf8'), /Server mcprelay\/a is DOWN/);
});

itest('docs/deploy.md: its HAProxy configuration is valid and has the ' +
    'lines this test runs with', { skip: haproxyMissing }, async (t) => {
	const doc = fs.readFileSync(path.join(srcdir, 'docs', 'deploy.md'),
	    'utf8');
	const m = /## HAProxy\n[^]*?```\n([^]*?)```/.exec(doc);
	assert.ok(m, 'no configuration block under "## HAProxy"');
	const dir = tmpdir(t);
	const cfg = path.join(dir, 'haproxy.cfg');
	fs.writeFileSync(cfg, m[1]);
	const check = spawnSync('haproxy', ['-c', '-f', cfg],
	    { encoding: 'utf8', timeout: 10000 });
	assert.equal(check.status, 0, check.stdout + check.stderr);
	const ours = haproxyConfig(1, [{ name: 'a', port: 2 }]).split('\n')
	    .map((l) => l.trim()).filter((l) => /^(stick|retry|retries|option|balance|mode)/.test(l));
	assert.equal(ours.length, 8, ours.join('\n'));
	for (const line of ours)
		assert.ok(m[1].split('\n').some((l) => l.trim() === line),
		    `docs/deploy.md lacks '${line}'`);
});
