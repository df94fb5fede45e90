// Who may use the daemon (docs/security.md, "Local clients"): a client
// running as another uid (nobody, through setpriv) is refused on the HTTP
// listener (403, -32009) and on the Unix socket (-32009, closed) and its
// request never reaches the upstream (the demo's execution log stays
// empty); an allowed uid and a valid token get through; a per-server allow
// list hides and refuses that server; garbage tokens, a world-readable or
// missing tokens file and a peer lookup that fails (netlink forbidden)
// refuse with a clear error while the daemon goes on serving; refusals are
// counted by user.  The uid tests need root (CI runs as root): without it
// they are skipped with a message.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
	baseConfig, bin, builddir, connectUnix, demoServer, freePort,
	httpRequest, initialize, itest, readJsonLines, startDaemon, tmpdir,
	toolText, waitFor, yamlRaw,
} from './lib/harness.mjs';

const FORBIDDEN = -32009;
const NOBODY = [65534, 65534];
const SECRET_CI = 'ci-0123456789abcdef-secret';
const here = path.dirname(new URL(import.meta.url).pathname);
const noNetlink = process.env.MCPRELAY_NO_NETLINK ??
    path.join(builddir, 'tests', 'integration', 'no-netlink');

function needRoot(t) {
	if (process.getuid() === 0)
		return false;
	t.skip('not root: cannot run a client as another uid (setpriv ' +
	    '--reuid=nobody); CI runs these as root');
	return true;
}

/*
 * A directory nobody can reach into (0711), with the client script in it,
 * so that the uid switch is the only thing that changes.
 */
function sharedDir(t) {
	const dir = tmpdir(t);
	fs.chmodSync(dir, 0o711);
	fs.copyFileSync(path.join(here, 'lib', 'as-user.mjs'),
	    path.join(dir, 'as-user.mjs'));
	fs.chmodSync(path.join(dir, 'as-user.mjs'), 0o644);
	return dir;
}

/*
 * Run lib/as-user.mjs as [uid, gid, supplementary gids...] with the plan;
 * its JSON result.
 */
function asUser(dir, [uid, gid, ...groups], plan, timeout = 10000) {
	return new Promise((resolve, reject) => {
		const child = spawn('setpriv', [`--reuid=${uid}`,
		    `--regid=${gid}`, groups.length > 0 ?
		    `--groups=${groups.join(',')}` : '--clear-groups',
		    process.execPath,
		    path.join(dir, 'as-user.mjs'), JSON.stringify(plan)],
		    { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
		let out = '', err = '';
		child.stdout.on('data', (d) => { out += d; });
		child.stderr.on('data', (d) => { err += d; });
		const timer = setTimeout(() => {
			child.kill('SIGKILL');
			reject(new Error(`as-user: no exit in ${timeout} ms: ${err}`));
		}, timeout);
		child.on('close', (code) => {
			clearTimeout(timer);
			if (code !== 0)
				reject(new Error(`as-user exited ${code}: ${err}`));
			else
				resolve(JSON.parse(out));
		});
	});
}

function execLog(file) {
	return fs.existsSync(file) ? readJsonLines(file) : [];
}

/* The control socket's stats, read by root over the Unix control socket. */
async function stats(d) {
	const c = await connectUnix(path.join(d.dir, 'control.sock'));
	const r = await c.call('stats', {});
	c.close();
	return r;
}

/* Unix socket every user may connect to: access is the daemon's call. */
function openUnix(dir) {
	return { unix: { path: path.join(dir, 'mcp.sock'),
	    mode: yamlRaw('0666') } };
}

function assertRefusal(json, user, re) {
	assert.equal(json?.error?.code, FORBIDDEN, JSON.stringify(json));
	assert.equal(json.error.data.user, user);
	assert.match(json.error.message, re);
}

itest('HTTP: another uid is refused with 403 and nothing reaches the ' +
    'upstream; the refusal is logged once per connection and counted',
    async (t) => {
	if (needRoot(t))
		return;
	const dir = sharedDir(t);
	const exec = path.join(dir, 'exec.log');
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    servers: { demo: demoServer(['--exec-log', exec]) } }) });
	const call = { method: 'tools/call', params: { name: 'echo',
	    arguments: { text: 'hi' } } };
	const r = await asUser(dir, NOBODY, { http: `${d.url}/mcp`,
	    steps: [call, call] });
	assert.deepEqual(r.results.map((x) => x.status), [403, 403, 403]);
	assertRefusal(r.results[0].json, 'nobody', new RegExp(
	    "^Forbidden: user 'nobody' \\(uid 65534\\) may not use mcprelayd " +
	    '.*To allow it, add .nobody. to access.allow_users'));
	assert.equal(r.results[0].json.error.data.uid, 65534);
	assert.equal(r.results[0].json.error.data.listener, 'http');
	// The per-server endpoint refuses the same way, before any check of
	// the server.
	const s = await asUser(dir, NOBODY, { http: `${d.url}/servers/demo/mcp`,
	    steps: [] });
	assert.equal(s.results[0].status, 403);
	assert.deepEqual(execLog(exec), []);

	// Root (the daemon's user here) is served on the same listener.
	const root = await initialize(d.mcpUrl());
	const res = await root.call('tools/call', { name: 'echo',
	    arguments: { text: 'root' } });
	assert.equal(toolText(res), 'root');
	assert.deepEqual(execLog(exec).map((e) => e.tool), ['echo']);

	const st = await stats(d);
	assert.equal(st.access.refused, 4);
	assert.deepEqual(st.access.refusedByUser, { nobody: 4 });
	assert.equal(st.access.tokens, 'off');
	// Two connections, four refusals, two log lines.
	const lines = d.log().split('\n').filter((l) =>
	    /access: refused nobody \(uid 65534, socket inode \d+\) on http:/
	    .test(l));
	assert.equal(lines.length, 2, d.log());
	const metrics = await (async () => {
		const c = await connectUnix(path.join(dir, 'control.sock'));
		const m = await c.call('metrics', {});
		c.close();
		return m.text;
	})();
	assert.match(metrics, /^mcprelay_access_refusals_total\{user="nobody"\} 4$/m);
	const text = spawnSync(bin.ctl, ['stats', '--socket',
	    path.join(dir, 'control.sock')], { encoding: 'utf8',
	    timeout: 10000 });
	assert.equal(text.status, 0, text.stderr);
	assert.match(text.stdout, /^  access +refused=4 tokens=off$/m);
	assert.match(text.stdout, /^  refused by +nobody=4$/m);
});

itest('HTTP and Unix: an allowed uid gets through, but not into another ' +
    'user\'s session', async (t) => {
	if (needRoot(t))
		return;
	const dir = sharedDir(t);
	const exec = path.join(dir, 'exec.log');
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    listen: openUnix(dir), access: { allow_users: ['nobody'] },
	    servers: { demo: demoServer(['--exec-log', exec]) } }) });
	const r = await asUser(dir, NOBODY, { http: `${d.url}/mcp`,
	    steps: [{ method: 'tools/call', params: { name: 'echo',
	    arguments: { text: 'from nobody' } } }] });
	assert.deepEqual(r.results.map((x) => x.status), [200, 200]);
	assert.equal(r.results[1].json.result.content[0].text, 'from nobody');
	const u = await asUser(dir, NOBODY, { unix: path.join(dir, 'mcp.sock'),
	    until: 2, lines: [
		{ jsonrpc: '2.0', id: 1, method: 'initialize', params: {
		    protocolVersion: '2025-11-25', capabilities: {},
		    clientInfo: { name: 'x', version: '1' } } },
		{ jsonrpc: '2.0', method: 'notifications/initialized' },
		{ jsonrpc: '2.0', id: 2, method: 'tools/call', params: {
		    name: 'echo', arguments: { text: 'unix nobody' } } },
	    ] });
	assert.equal(u.lines[0].id, 1);
	assert.ok(u.lines[0].result, JSON.stringify(u.lines[0]));
	assert.equal(u.lines[1].result.content[0].text, 'unix nobody');
	assert.deepEqual(execLog(exec).map((e) => e.args.text),
	    ['from nobody', 'unix nobody']);
	// Allowed, but a session belongs to the one who opened it: root's
	// session id is "not found" for nobody.
	const root = await initialize(d.mcpUrl());
	const other = await asUser(dir, NOBODY, { http: `${d.url}/mcp`,
	    sessionId: root.sessionId, steps: [{ method: 'tools/call',
	    params: { name: 'echo', arguments: { text: 'stolen' } } }] });
	assert.equal(other.results[0].status, 404);
	assert.equal(other.results[0].json.error.code, -32001);
	assert.deepEqual(execLog(exec).map((e) => e.args.text),
	    ['from nobody', 'unix nobody']);
	assert.equal((await stats(d)).access.refused, 0);
});

itest('Unix socket: another uid gets -32009 and is closed; nothing ' +
    'reaches the upstream', async (t) => {
	if (needRoot(t))
		return;
	const dir = sharedDir(t);
	const exec = path.join(dir, 'exec.log');
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    listen: openUnix(dir),
	    servers: { demo: demoServer(['--exec-log', exec]) } }) });
	const u = await asUser(dir, NOBODY, { unix: path.join(dir, 'mcp.sock'),
	    lines: [{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: {
	    name: 'echo', arguments: { text: 'x' } } }] });
	assert.equal(u.closed, true);
	assert.equal(u.lines.length, 1, JSON.stringify(u.lines));
	assert.equal(u.lines[0].id, null);
	assertRefusal(u.lines[0], 'nobody',
	    /user 'nobody' \(uid 65534\) may not use mcprelayd/);
	assert.equal(u.lines[0].error.data.listener, 'unix');
	assert.deepEqual(execLog(exec), []);
	assert.match(d.log(), /access: refused nobody \(uid 65534, pid \d+, comm node\) on unix:/);
	// The daemon goes on serving the clients it allows.
	const c = await connectUnix(path.join(dir, 'mcp.sock'));
	await c.initialize();
	assert.equal(toolText(await c.call('tools/call', { name: 'echo',
	    arguments: { text: 'root' } })), 'root');
	c.close();
	assert.deepEqual((await stats(d)).access.refusedByUser, { nobody: 1 });
});

itest('a per-server allow list hides and refuses the server for others',
    async (t) => {
	if (needRoot(t))
		return;
	const dir = sharedDir(t);
	const execOpen = path.join(dir, 'open.log');
	const execProd = path.join(dir, 'prod.log');
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    listen: openUnix(dir), access: { allow_users: ['nobody'] },
	    servers: {
		open: demoServer(['--exec-log', execOpen]),
		prod: demoServer(['--exec-log', execProd],
		    { allow: { users: ['root'] } }),
	    } }) });
	const list = { method: 'tools/list', params: {} };
	const callProd = { method: 'tools/call', params: {
	    name: 'prod__echo', arguments: { text: 'p' } } };
	const callOpen = { method: 'tools/call', params: {
	    name: 'open__echo', arguments: { text: 'o' } } };
	const r = await asUser(dir, NOBODY, { http: `${d.url}/mcp`,
	    steps: [list, callProd, callOpen] });
	assert.deepEqual(r.results.map((x) => x.status), [200, 200, 200, 200]);
	const names = r.results[1].json.result.tools.map((x) => x.name);
	assert.ok(names.includes('open__echo'), names.join());
	assert.deepEqual(names.filter((n) => n.startsWith('prod__')), []);
	assertRefusal(r.results[2].json, 'nobody', new RegExp(
	    "user 'nobody' \\(uid 65534\\) may not use server 'prod'.*" +
	    'add nobody to servers.prod.allow.users'));
	assert.equal(r.results[3].json.result.content[0].text, 'o');
	// Its own endpoint: 403; the Unix socket's scope: -32009, closed.
	const own = await asUser(dir, NOBODY, { http: `${d.url}/servers/prod/mcp`,
	    steps: [] });
	assert.equal(own.results[0].status, 403);
	assertRefusal(own.results[0].json, 'nobody', /server 'prod'/);
	const u = await asUser(dir, NOBODY, { unix: path.join(dir, 'mcp.sock'),
	    lines: [{ jsonrpc: '2.0', method: 'mcprelay/scope', params: {
	    server: 'prod' } }, { jsonrpc: '2.0', id: 1, method: 'tools/list' }] });
	assert.equal(u.closed, true);
	assert.equal(u.lines.length, 1);
	assert.equal(u.lines[0].error.data.server, 'prod');
	assert.deepEqual(execLog(execProd), []);
	assert.deepEqual(execLog(execOpen).map((e) => e.args.text), ['o']);

	// Root sees and uses both.
	const root = await initialize(d.mcpUrl());
	const all = (await root.call('tools/list', {})).tools.map((x) => x.name);
	assert.ok(all.includes('prod__echo') && all.includes('open__echo'));
	assert.equal(toolText(await root.call('tools/call', { name: 'prod__echo',
	    arguments: { text: 'root' } })), 'root');
	assert.deepEqual(execLog(execProd).map((e) => e.args.text), ['root']);
	assert.deepEqual((await stats(d)).access.refusedByUser, { nobody: 3 });
});

itest('allow_groups: the Unix socket knows the peer\'s own groups, TCP ' +
    'only the user database\'s', async (t) => {
	if (needRoot(t))
		return;
	const dir = sharedDir(t);
	// A gid in no group file: only the kernel's list of the peer has it.
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    listen: openUnix(dir), access: { allow_groups: ['54321'] },
	    servers: { demo: demoServer() } }) });
	const member = [65534, 65534, 54321];
	const u = await asUser(dir, member, { unix: path.join(dir, 'mcp.sock'),
	    until: 1, lines: [{ jsonrpc: '2.0', id: 1, method: 'ping' }] });
	assert.deepEqual(u.lines[0], { jsonrpc: '2.0', id: 1, result: {} });
	const h = await asUser(dir, member, { http: `${d.url}/mcp`, steps: [] });
	assert.equal(h.results[0].status, 403);
	assert.match(h.results[0].json.error.message,
	    /no group of access.allow_groups/);
	const stranger = await asUser(dir, NOBODY, { unix: path.join(dir,
	    'mcp.sock'), lines: [{ jsonrpc: '2.0', id: 1, method: 'ping' }] });
	assert.equal(stranger.lines[0].error.code, FORBIDDEN);
	assert.deepEqual((await stats(d)).access.refusedByUser, { nobody: 2 });
});

function writeTokens(dir, text, mode) {
	const file = path.join(dir, 'tokens');
	fs.writeFileSync(file, text);
	fs.chmodSync(file, mode);
	return file;
}

itest('a valid token gets through whatever the uid; garbage tokens are ' +
    'refused, even from an allowed uid', async (t) => {
	if (needRoot(t))
		return;
	const dir = sharedDir(t);
	const exec = path.join(dir, 'exec.log');
	const tokens = writeTokens(dir, `# test\nci ${SECRET_CI}\n`, 0o600);
	const cfg = baseConfig(dir, {
	    servers: { demo: demoServer(['--exec-log', exec]),
		prod: demoServer([], { allow: { tokens: ['ops'] } }) } });
	const d = await startDaemon({ t, dir, config: { ...cfg, listen: {
	    ...cfg.listen, http: { address: `127.0.0.1:${await freePort()}`,
	    tokens_file: tokens } } } });
	const call = { method: 'tools/call', params: { name: 'demo__echo',
	    arguments: { text: 'token' } } };
	const ok = await asUser(dir, NOBODY, { http: `${d.url}/mcp`,
	    token: SECRET_CI, steps: [call, { method: 'tools/list',
	    params: {} }] });
	assert.deepEqual(ok.results.map((x) => x.status), [200, 200, 200]);
	assert.equal(ok.results[1].json.result.content[0].text, 'token');
	// Token ci may not use prod (its allow lists only token ops).
	assert.deepEqual(ok.results[2].json.result.tools.map((x) => x.name)
	    .filter((n) => n.startsWith('prod__')), []);
	assert.deepEqual(execLog(exec).map((e) => e.args.text), ['token']);

	for (const bad of ['garbage-garbage-garbage', SECRET_CI + 'x', 'x']) {
		const r = await asUser(dir, NOBODY, { http: `${d.url}/mcp`,
		    token: bad, steps: [] });
		assert.equal(r.results[0].status, 403);
		assert.equal(r.results[0].json.error.code, FORBIDDEN);
		assert.match(r.results[0].json.error.message, bad === 'x' ?
		    /the bearer token is malformed/ :
		    /the bearer token matches no entry of listen.http.tokens_file/);
	}
	// Root is allowed by uid, but a bad token is still a refusal.
	const rr = await httpRequest(`${d.url}/mcp`, { headers: {
	    'Content-Type': 'application/json', Authorization: 'Bearer ' +
	    'not-the-right-token-at-all' }, body: { jsonrpc: '2.0', id: 1,
	    method: 'ping' } });
	assert.equal(rr.status, 403);
	assert.equal(rr.json.error.data.user, 'unidentified');
	assert.deepEqual(execLog(exec).map((e) => e.args.text), ['token']);
	assert.ok(!d.log().includes(SECRET_CI), 'the secret is in the log');
	assert.ok(!d.log().includes('not-the-right-token'),
	    'a presented token is in the log');
	const st = await stats(d);
	assert.equal(st.access.tokens, '1 loaded');
	assert.deepEqual(st.access.refusedByUser, { unidentified: 4 });
});

itest('a world-readable or missing tokens file refuses every token with ' +
    'the reason; the daemon keeps serving, and a fixed file is used after ' +
    'a reload', async (t) => {
	const dir = tmpdir(t);
	const tokens = writeTokens(dir, `ci ${SECRET_CI}\n`, 0o644);
	const cfg = baseConfig(dir, { servers: { demo: demoServer() } });
	const d = await startDaemon({ t, dir, config: { ...cfg, listen: {
	    ...cfg.listen, http: { address: `127.0.0.1:${await freePort()}`,
	    tokens_file: tokens } } } });
	const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };
	const auth = { 'Content-Type': 'application/json',
	    Authorization: `Bearer ${SECRET_CI}` };
	let r = await httpRequest(`${d.url}/mcp`, { headers: auth, body: ping });
	assert.equal(r.status, 403);
	assert.match(r.json.error.message, new RegExp('bearer tokens are not ' +
	    'accepted now: the tokens file is unusable \\(.*tokens: mode 0644 ' +
	    'lets group or others read or write it'));
	assert.match(d.log(), /tokens file not used, every bearer token is refused/);
	// Without a token, the daemon's user is served.
	const root = await initialize(d.mcpUrl());
	assert.equal(toolText(await root.call('tools/call', { name: 'echo',
	    arguments: { text: 'still here' } })), 'still here');
	assert.match((await stats(d)).access.tokens, /^unusable: .*mode 0644/);

	// Fixed and reloaded: the token works.
	fs.chmodSync(tokens, 0o600);
	process.kill(d.pid, 'SIGHUP');
	await waitReload(d, 1);
	r = await httpRequest(`${d.url}/mcp`, { headers: auth, body: {
	    jsonrpc: '2.0', id: 1, method: 'initialize', params: {
	    protocolVersion: '2025-11-25', capabilities: {},
	    clientInfo: { name: 'x', version: '1' } } } });
	assert.equal(r.status, 200, r.body);

	// Removed and reloaded: refused again, with that reason.
	fs.unlinkSync(tokens);
	process.kill(d.pid, 'SIGHUP');
	await waitReload(d, 2);
	r = await httpRequest(`${d.url}/mcp`, { headers: auth, body: ping });
	assert.equal(r.status, 403);
	assert.match(r.json.error.message,
	    /tokens: cannot open: No such file or directory/);
	assert.equal(toolText(await root.call('tools/call', { name: 'echo',
	    arguments: { text: 'and still' } })), 'and still');
});

async function waitReload(d, n) {
	await waitFor(async () => (await stats(d)).reloads.ok === n,
	    { timeout: 5000, message: `reload ${n}` });
}

itest('a peer lookup that fails (netlink forbidden) is a refusal with the ' +
    'reason; Unix clients and tokens still work', async (t) => {
	if (!fs.existsSync(noNetlink))
		throw new Error(`no ${noNetlink}: build it (make check)`);
	const dir = tmpdir(t);
	const tokens = writeTokens(dir, `ci ${SECRET_CI}\n`, 0o600);
	const cfg = baseConfig(dir, { servers: { demo: demoServer() } });
	const port = await freePort();
	const config = { ...cfg, listen: { ...cfg.listen, http: {
	    address: `127.0.0.1:${port}`, tokens_file: tokens } } };
	// startDaemon runs bin.mcprelayd: point it at the wrapper.
	const wrapper = path.join(dir, 'mcprelayd-no-netlink');
	fs.writeFileSync(wrapper, `#!/bin/sh\nexec '${noNetlink}' ` +
	    `'${bin.mcprelayd}' "$@"\n`);
	fs.chmodSync(wrapper, 0o755);
	const saved = bin.mcprelayd;
	let d;
	try {
		bin.mcprelayd = wrapper;
		d = await startDaemon({ t, dir, config });
	} finally {
		bin.mcprelayd = saved;
	}
	assert.match(d.log(), /access: netlink sock_diag socket: Address family not supported by protocol; TCP clients cannot be identified/);
	const r = await httpRequest(`${d.url}/mcp`, { headers: {
	    'Content-Type': 'application/json' }, body: { jsonrpc: '2.0',
	    id: 1, method: 'ping' } });
	assert.equal(r.status, 403);
	assert.equal(r.json.error.code, FORBIDDEN);
	assert.equal(r.json.error.data.user, 'unidentified');
	assert.match(r.json.error.message, new RegExp('^Forbidden: mcprelayd ' +
	    'refuses clients it cannot identify: netlink sock_diag socket: ' +
	    'Address family not supported by protocol\\.  Connect from a ' +
	    'process of this host \\(loopback or the Unix socket\\), or send ' +
	    '"Authorization: Bearer TOKEN"'));
	// A token needs no lookup; the Unix socket has SO_PEERCRED.
	const init = await initialize(d.mcpUrl(), { headers: {
	    Authorization: `Bearer ${SECRET_CI}` } });
	assert.equal(toolText(await init.call('tools/call', { name: 'echo',
	    arguments: { text: 'token' } })), 'token');
	const c = await connectUnix(path.join(dir, 'mcp.sock'));
	await c.initialize();
	assert.equal(toolText(await c.call('tools/call', { name: 'echo',
	    arguments: { text: 'unix' } })), 'unix');
	c.close();
	assert.deepEqual((await stats(d)).access.refusedByUser,
	    { unidentified: 1 });
});
