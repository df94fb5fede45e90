// systemd integration (daemon/notify.c) without a booted systemd: the
// daemon under a fake service manager -- a Unix datagram socket bound by
// sd-helper as NOTIFY_SOCKET -- and socket-activated with LISTEN_FDS, by
// sd-helper and by systemd-socket-activate when it is installed.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import {
	baseConfig, bin, builddir, connectUnix, demoServer, findTaggedProcesses,
	freePort, initialize, itest, processAlive, slow, startDaemon, tmpdir,
	toolText, waitFor, writeConfig,
} from './lib/harness.mjs';

const helper = process.env.MCPRELAY_SD_HELPER ??
    path.join(builddir, 'tests', 'integration', 'sd-helper');

function haveSocketActivate() {
	const r = spawnSync('systemd-socket-activate', ['--version'],
	    { stdio: 'ignore' });
	return r.status === 0;
}

/* "A=1\nB=2" -> { A: '1', B: '2' } */
function fields(msg) {
	const out = {};
	for (const line of msg.split('\n')) {
		const eq = line.indexOf('=');
		if (eq > 0)
			out[line.slice(0, eq)] = line.slice(eq + 1);
	}
	return out;
}

/*
 * The service manager's notification socket: every datagram with the
 * CLOCK_MONOTONIC time it arrived and the sender's pid (SCM_CREDENTIALS).
 */
class NotifySink {
	/* A socket file in dir, or with abstract: an abstract "@name". */
	constructor(dir, { abstract = false } = {}) {
		this.path = abstract ? `@mcprelay-it-${process.pid}-` +
		    Math.random().toString(36).slice(2) :
		    path.join(dir, 'notify.sock');
		this.messages = [];
		this.buf = '';
		this.child = spawn(helper, ['sink', this.path],
		    { stdio: ['pipe', 'pipe', 'inherit'] });
		this.child.stdout.setEncoding('utf8');
		this.child.stdout.on('data', (d) => this.data(d));
		this.bound = false;
	}

	data(text) {
		this.buf += text;
		let nl;
		while ((nl = this.buf.indexOf('\n')) !== -1) {
			const line = JSON.parse(this.buf.slice(0, nl));
			this.buf = this.buf.slice(nl + 1);
			if (line.bound !== undefined) {
				this.bound = true;
				continue;
			}
			this.messages.push({ ...line, fields: fields(line.msg) });
		}
	}

	async ready() {
		await waitFor(() => this.bound || this.child.exitCode !== null,
		    { timeout: 5000, message: 'sd-helper sink to bind' });
		assert.ok(this.bound, `sd-helper sink did not start (${helper})`);
		return this;
	}

	/* The first message from index `from` on that pred accepts. */
	async wait(pred, { from = 0, timeout = 5000, message = 'a message' } = {}) {
		return waitFor(() => {
			for (let i = from; i < this.messages.length; i++)
				if (pred(this.messages[i].fields, this.messages[i]))
					return { ...this.messages[i], index: i };
			return null;
		}, { timeout, interval: 10, message:
		    `${message} on NOTIFY_SOCKET (got ${JSON.stringify(
		    this.messages.map((m) => m.msg))})` });
	}

	/* Messages other than WATCHDOG=1 pings, from index on. */
	events(from = 0) {
		return this.messages.slice(from)
		    .filter((m) => m.msg !== 'WATCHDOG=1');
	}

	stop() {
		if (this.child.exitCode === null)
			this.child.kill('SIGTERM');
	}
}

async function startSink(t, dir, opts) {
	const sink = new NotifySink(dir, opts);
	t.after(() => sink.stop());
	return sink.ready();
}

const isReady = (f) => f.READY === '1';
const hasStatus = (s) => (f) => f.STATUS === s;

function canConnect(opts) {
	return new Promise((resolve) => {
		const sock = net.connect(opts);
		sock.once('connect', () => {
			sock.destroy();
			resolve(true);
		});
		sock.once('error', () => resolve(false));
	});
}

/* The daemon's config with every stdio server tagged for stop()'s check. */
function taggedConfig(dir, tag, over) {
	const cfg = baseConfig(dir, over);
	for (const s of Object.values(cfg.servers))
		s.env = { ...(s.env ?? {}), MCPRELAY_ITEST_TAG: tag };
	return cfg;
}

/*
 * A daemon started by a launcher (sd-helper activate, systemd-socket-
 * activate) that execs it in place, so the launcher's pid is the daemon's.
 * stop() asserts a clean exit and no upstream left behind.
 */
const newTag = () =>
    `sd-${process.pid}-${Math.random().toString(36).slice(2)}`;

function spawnLaunched(t, dir, tag, argv, env) {
	const logPath = path.join(dir, 'mcprelayd.log');
	const fd = fs.openSync(logPath, 'a');
	const child = spawn(argv[0], argv.slice(1), {
		cwd: dir, stdio: ['ignore', fd, fd], detached: true,
		env: { ...process.env, ...env, MCPRELAY_ITEST_TAG: tag },
	});
	fs.closeSync(fd);
	const exited = new Promise((resolve) => child.once('exit',
	    (code, signal) => resolve({ code, signal })));
	const d = {
		child, pid: child.pid, tag, logPath, exited,
		log: () => fs.readFileSync(logPath, 'utf8'),
		async stop() {
			if (child.exitCode === null && child.signalCode === null)
				process.kill(child.pid, 'SIGTERM');
			const timer = setTimeout(() => {
				try { process.kill(-child.pid, 'SIGKILL'); } catch { }
			}, 10000);
			const r = await exited;
			clearTimeout(timer);
			await waitFor(() => findTaggedProcesses(tag).length === 0,
			    { timeout: 3000, message: 'upstreams to exit' });
			return r;
		},
	};
	t.after(async () => {
		if (child.exitCode === null && child.signalCode === null) {
			try { process.kill(-child.pid, 'SIGKILL'); } catch { }
		}
		for (const p of findTaggedProcesses(tag))
			try { process.kill(p.pid, 'SIGKILL'); } catch { }
	});
	return d;
}

itest('READY=1 once every listener accepts; STATUS= follows servers and ' +
    'sessions; STOPPING=1 on SIGTERM', async (t) => {
	const dir = tmpdir(t);
	const sink = await startSink(t, dir);
	const d = await startDaemon({ t, dir, env: { NOTIFY_SOCKET: sink.path },
	    config: baseConfig(dir, { servers: {
		demo: demoServer(),
		// Never starts: the daemon is ready without waiting for it.
		broken: { type: 'stdio', command: path.join(dir, 'absent') },
	    } }) });

	const ready = await sink.wait(isReady, { message: 'READY=1' });
	// Datagrams arrive in order: READY=1 is the first thing said.
	assert.equal(ready.index, 0);
	assert.equal(ready.pid, d.pid, 'sent by the daemon itself');
	assert.match(ready.fields.STATUS,
	    /^[01]\/2 servers ready, 0 client sessions$/);
	assert.ok(await canConnect({ host: '127.0.0.1', port: d.port }));
	assert.ok(await canConnect({ path: d.socketPath }));

	await sink.wait(hasStatus('1/2 servers ready, 0 client sessions'));
	const s = await initialize(d.mcpUrl());
	await sink.wait(hasStatus('1/2 servers ready, 1 client session'));
	const u = await connectUnix(d.socketPath);
	await u.initialize();
	const two = await sink.wait(
	    hasStatus('1/2 servers ready, 2 client sessions'));
	assert.equal(toolText(await u.call('tools/call', { name: 'echo',
	    arguments: { text: 'unix' } })), 'unix');
	u.close();
	const one = await sink.wait(
	    hasStatus('1/2 servers ready, 1 client session'),
	    { from: two.index + 1 });
	await s.delete();
	await sink.wait(hasStatus('1/2 servers ready, 0 client sessions'),
	    { from: one.index + 1 });

	const n = sink.messages.length;
	await d.stop();
	const stopping = await sink.wait((f) => f.STOPPING === '1',
	    { from: n, message: 'STOPPING=1' });
	assert.equal(stopping.fields.STATUS, 'stopping');
	assert.equal(stopping.pid, d.pid);
	assert.deepEqual(sink.events(n).map((m) => m.msg),
	    ['STOPPING=1\nSTATUS=stopping'], 'nothing after STOPPING=1');
	// READY=1 exactly once in the daemon's life.
	assert.equal(sink.messages.filter((m) => isReady(m.fields)).length, 1);
});

itest('an abstract NOTIFY_SOCKET (@name) is reached too', async (t) => {
	const dir = tmpdir(t);
	const sink = await startSink(t, dir, { abstract: true });
	const d = await startDaemon({ t, dir, config: baseConfig(dir),
	    env: { NOTIFY_SOCKET: sink.path } });
	const ready = await sink.wait(isReady, { message: 'READY=1' });
	assert.equal(ready.pid, d.pid);
	assert.equal(ready.fields.STATUS, '0/0 servers ready, 0 client sessions');
});

itest('no READY=1 when the config does not load or a listener cannot ' +
    'be bound', async (t) => {
	const dir = tmpdir(t);
	const sink = await startSink(t, dir);
	const run = async (cfgPath) => {
		const child = spawn(bin.mcprelayd, ['-f', '-c', cfgPath], {
			cwd: dir, stdio: 'ignore',
			env: { ...process.env, NOTIFY_SOCKET: sink.path },
		});
		t.after(() => child.exitCode === null && child.kill('SIGKILL'));
		return new Promise((resolve) => child.once('exit',
		    (code) => resolve(code)));
	};

	const bad = path.join(dir, 'bad.yaml');
	fs.writeFileSync(bad, 'listen:\n  http: [\n');
	assert.equal(await run(bad), 78);

	// The port is taken: the HTTP listener cannot be bound.
	const busy = net.createServer();
	await new Promise((r) => busy.listen(0, '127.0.0.1', r));
	t.after(() => busy.close());
	const cfg = writeConfig(dir, baseConfig(dir, { listen: {
	    http: `127.0.0.1:${busy.address().port}` } }), 'busy.yaml');
	assert.equal(await run(cfg), 69);

	// A daemon that did start, as a control: its READY=1 does arrive.
	const d = await startDaemon({ t, dir, env: { NOTIFY_SOCKET: sink.path },
	    config: baseConfig(dir) });
	const ready = await sink.wait(isReady, { message: 'READY=1' });
	assert.equal(ready.pid, d.pid);
	assert.equal(ready.index, 0, 'no message from the failed starts: ' +
	    JSON.stringify(sink.messages.map((m) => m.msg)));
});

itest('SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1; an invalid ' +
    'file keeps the daemon serving and STATUS= says so', async (t) => {
	const dir = tmpdir(t);
	const sink = await startSink(t, dir);
	const d = await startDaemon({ t, dir, env: { NOTIFY_SOCKET: sink.path },
	    config: baseConfig(dir, { servers: { demo: demoServer() } }) });
	await sink.wait(hasStatus('1/1 servers ready, 0 client sessions'));
	const s = await initialize(d.mcpUrl());
	await sink.wait(hasStatus('1/1 servers ready, 1 client session'));
	const config = (servers) => taggedConfig(dir, d.tag, { listen: {
	    http: `127.0.0.1:${d.port}` }, servers });

	// Reload one: a server is added.
	writeConfig(dir, config({ demo: demoServer(),
	    second: demoServer(['--name', 'second']) }));
	let from = sink.messages.length;
	const before = process.hrtime.bigint() / 1000n;
	process.kill(d.pid, 'SIGHUP');
	const reloading = await sink.wait((f) => f.RELOADING === '1',
	    { from, message: 'RELOADING=1' });
	const after = process.hrtime.bigint() / 1000n;
	// Both clocks are CLOCK_MONOTONIC.
	const usec = BigInt(reloading.fields.MONOTONIC_USEC);
	assert.ok(usec >= before && usec <= after,
	    `MONOTONIC_USEC ${usec} within [${before}, ${after}]`);
	assert.equal(reloading.pid, d.pid);
	const ready = await sink.wait(isReady, { from, message: 'READY=1' });
	assert.equal(ready.index, reloading.index + 1,
	    'READY=1 right after RELOADING=1');
	assert.match(ready.fields.STATUS,
	    /^[12]\/2 servers ready, 1 client session$/);
	await sink.wait(hasStatus('2/2 servers ready, 1 client session'),
	    { from });

	// Reload two: the file is invalid.
	fs.writeFileSync(d.configPath, 'servers:\n  demo: {type: nope}\n');
	from = sink.messages.length;
	process.kill(d.pid, 'SIGHUP');
	const failed = await sink.wait(isReady, { from, message: 'READY=1' });
	assert.deepEqual(sink.events(from).map((m) => Object.keys(m.fields)),
	    [['RELOADING', 'MONOTONIC_USEC', 'STATUS'], ['READY', 'STATUS']]);
	assert.equal(failed.fields.STATUS, '2/2 servers ready, 1 client ' +
	    'session; last reload failed (invalid configuration), running ' +
	    'the previous one');
	// Still serving, on the previous configuration (two servers, so
	// their clashing tool names are prefixed).
	assert.equal(toolText(await s.callTool('second__echo',
	    { text: 'still here' })), 'still here');

	// Reload three: fixed again.
	writeConfig(dir, config({ demo: demoServer() }));
	from = sink.messages.length;
	process.kill(d.pid, 'SIGHUP');
	const fixed = await sink.wait(isReady, { from, message: 'READY=1' });
	assert.equal(fixed.fields.STATUS, '1/1 servers ready, 1 client session');
	assert.equal(toolText(await s.callTool('echo', { text: 'ok' })), 'ok');
});

itest('WATCHDOG=1 every half WATCHDOG_USEC, only when meant for us',
    async (t) => {
	const dir = tmpdir(t);

	await t.test('WATCHDOG_USEC=400000: a ping every 200 ms', async () => {
		const sink = await startSink(t, dir);
		const d = await startDaemon({ t, dir, config: baseConfig(dir),
		    env: { NOTIFY_SOCKET: sink.path, WATCHDOG_USEC: '400000' } });
		await waitFor(() => sink.messages.filter((m) =>
		    m.msg === 'WATCHDOG=1').length >= 8, { timeout: 5000,
		    message: '8 WATCHDOG=1 pings' });
		const pings = sink.messages.filter((m) => m.msg === 'WATCHDOG=1');
		assert.ok(pings.every((m) => m.pid === d.pid));
		const gaps = pings.slice(1).map((m, i) =>
		    (m.t_us - pings[i].t_us) / 1000);
		const sorted = [...gaps].sort((a, b) => a - b);
		const median = sorted[Math.floor(sorted.length / 2)];
		// Never late enough for the manager to kill us, never early.
		// Under valgrind (slow) the first pings bunch up while the
		// daemon starts; judge the steady state after them.
		const steady = slow > 1 ? gaps.slice(2) : gaps;
		assert.ok(steady.every((g) => g > 150 && g < 400),
		    `gaps ${gaps.map((g) => g.toFixed(1)).join(', ')} ms`);
		assert.ok(median >= 190 && median <= 260, `median ${median} ms`);
		await d.stop();
	});

	await t.test('WATCHDOG_PID of another process: no pings', async () => {
		const dir2 = tmpdir(t);
		const sink = await startSink(t, dir2);
		const d = await startDaemon({ t, dir: dir2,
		    config: baseConfig(dir2), env: { NOTIFY_SOCKET: sink.path,
		    WATCHDOG_USEC: '200000', WATCHDOG_PID: String(process.pid) } });
		await sink.wait(isReady);
		await new Promise((r) => setTimeout(r, 600));
		assert.deepEqual(sink.messages.filter((m) =>
		    m.msg === 'WATCHDOG=1'), []);
		await d.stop();
	});

	await t.test('no WATCHDOG_USEC: no pings', async () => {
		const dir3 = tmpdir(t);
		const sink = await startSink(t, dir3);
		const d = await startDaemon({ t, dir: dir3,
		    config: baseConfig(dir3), env: { NOTIFY_SOCKET: sink.path } });
		await sink.wait(isReady);
		await new Promise((r) => setTimeout(r, 600));
		assert.deepEqual(sink.messages.filter((m) =>
		    m.msg === 'WATCHDOG=1'), []);
		await d.stop();
	});
});

itest('socket activation: the daemon serves the sockets it is passed, ' +
    'told apart by FileDescriptorName=', async (t) => {
	const dir = tmpdir(t);
	const sink = await startSink(t, dir);
	const httpPort = await freePort();
	const cfgPort = await freePort();
	const actSock = path.join(dir, 'act.sock');
	const cfgSock = path.join(dir, 'config.sock');
	const ctlSock = path.join(dir, 'act-control.sock');
	const tag = newTag();
	const cfgPath = writeConfig(dir, taggedConfig(dir, tag, {
		listen: { http: `127.0.0.1:${cfgPort}`, unix: { path: cfgSock } },
		servers: { demo: demoServer() },
	}));
	// Not in name order: fds are told apart by name, not by position.
	const d = spawnLaunched(t, dir, tag, [helper, 'activate',
	    `mcp=${actSock}`, `control=${ctlSock}`,
	    `http=127.0.0.1:${httpPort}`, '--',
	    bin.mcprelayd, '-f', '-c', cfgPath], { NOTIFY_SOCKET: sink.path });
	const ready = await sink.wait(isReady, { message: 'READY=1' });
	assert.equal(ready.pid, d.pid, 'the launcher exec()ed the daemon');

	const s = await initialize(`http://127.0.0.1:${httpPort}/mcp`);
	assert.equal(toolText(await s.callTool('echo', { text: 'http' })),
	    'http');
	const u = await connectUnix(actSock);
	await u.initialize();
	assert.equal(toolText(await u.call('tools/call', { name: 'echo',
	    arguments: { text: 'unix' } })), 'unix');
	u.close();
	// The configured addresses were not bound.
	assert.equal(await canConnect({ host: '127.0.0.1', port: cfgPort }),
	    false);
	assert.equal(fs.existsSync(cfgSock), false);
	assert.equal(fs.existsSync(path.join(dir, 'control.sock')), false,
	    'the configured control socket is not created');
	assert.match(d.log(), /socket activation: mcp socket .*act\.sock \(fd 3\)/);
	assert.match(d.log(),
	    /socket activation: control socket .*act-control\.sock \(fd 4\)/);
	assert.match(d.log(), /socket activation: http socket 127\.0\.0\.1 \(fd 5\)/);
	assert.doesNotMatch(d.log(), /is not used; closed/);

	// The control socket: a reload through it is announced like SIGHUP's.
	const from = sink.messages.length;
	const ctl = spawnSync(bin.ctl, ['reload', '--socket', ctlSock],
	    { encoding: 'utf8', timeout: 10000 });
	assert.equal(ctl.status, 0, `mcprelayctl reload: ${ctl.stdout}` +
	    `${ctl.stderr}`);
	await sink.wait(isReady, { from, message: 'READY=1 after the reload' });
	assert.deepEqual(sink.events(from).map((m) => Object.keys(m.fields)),
	    [['RELOADING', 'MONOTONIC_USEC', 'STATUS'], ['READY', 'STATUS']]);

	const exit = await d.stop();
	assert.deepEqual(exit, { code: 0, signal: null }, d.log());
	// The socket file belongs to whoever created it (the socket unit).
	assert.ok(fs.existsSync(actSock));
});

itest('socket activation: unnamed sockets by address; LISTEN_PID of ' +
    'another process is ignored', async (t) => {
	await t.test('no LISTEN_FDNAMES: TCP is http, the configured Unix path ' +
	    'is mcp', async (st) => {
		const dir = tmpdir(st);
		const sink = await startSink(st, dir);
		const httpPort = await freePort();
		const sock = path.join(dir, 'mcp.sock');
		const tag = newTag();
		const cfgPath = writeConfig(dir, taggedConfig(dir, tag, {
			listen: { http: `127.0.0.1:${await freePort()}`,
			    unix: { path: sock } },
			servers: { demo: demoServer() },
		}));
		const d = spawnLaunched(st, dir, tag, [helper, 'activate',
		    `-=127.0.0.1:${httpPort}`, `-=${sock}`, '--',
		    bin.mcprelayd, '-f', '-c', cfgPath],
		    { NOTIFY_SOCKET: sink.path });
		await sink.wait(isReady, { message: 'READY=1' });
		const s = await initialize(`http://127.0.0.1:${httpPort}/mcp`);
		assert.equal(toolText(await s.callTool('echo', { text: 'a' })),
		    'a');
		const u = await connectUnix(sock);
		await u.initialize();
		u.close();
		assert.match(d.log(), /socket activation: mcp socket .*mcp\.sock/);
		assert.deepEqual(await d.stop(), { code: 0, signal: null },
		    d.log());
	});

	await t.test('LISTEN_PID is not ours: the configured listeners',
	    async (st) => {
		const dir = tmpdir(st);
		const sink = await startSink(st, dir);
		const cfgPort = await freePort();
		const cfgPath = writeConfig(dir, baseConfig(dir, {
			listen: { http: `127.0.0.1:${cfgPort}` },
		}));
		const d = spawnLaunched(st, dir, newTag(), [helper, 'activate',
		    '--listen-pid', '1', `http=127.0.0.1:${await freePort()}`,
		    '--', bin.mcprelayd, '-f', '-c', cfgPath],
		    { NOTIFY_SOCKET: sink.path });
		await sink.wait(isReady, { message: 'READY=1' });
		assert.ok(await canConnect({ host: '127.0.0.1', port: cfgPort }));
		assert.doesNotMatch(d.log(), /socket activation/);
		assert.deepEqual(await d.stop(), { code: 0, signal: null },
		    d.log());
	});
});

itest('socket activation with systemd-socket-activate', {
	skip: haveSocketActivate() ? false :
	    'systemd-socket-activate is not installed (package systemd)',
}, async (t) => {
	const dir = tmpdir(t);
	const sink = await startSink(t, dir);
	const port = await freePort();
	const tag = newTag();
	const cfgPath = writeConfig(dir, taggedConfig(dir, tag, {
		listen: { http: 'off' },
		servers: { demo: demoServer() },
	}));
	const sock = path.join(dir, 'act.sock');
	const d = spawnLaunched(t, dir, tag, ['systemd-socket-activate',
	    '-l', `127.0.0.1:${port}`, '-l', sock, '--fdname=http:mcp',
	    '-E', `NOTIFY_SOCKET=${sink.path}`, '-E', 'MCPRELAY_ITEST_TAG',
	    bin.mcprelayd, '-f', '-c', cfgPath], {});
	// It execs the daemon on the first connection, which is then served.
	await waitFor(() => canConnect({ host: '127.0.0.1', port }),
	    { message: 'systemd-socket-activate to listen' });
	const s = await initialize(`http://127.0.0.1:${port}/mcp`);
	assert.equal(toolText(await s.callTool('echo', { text: 'sa' })), 'sa');
	const ready = await sink.wait(isReady, { message: 'READY=1' });
	assert.equal(ready.pid, d.pid);
	const u = await connectUnix(sock);
	await u.initialize();
	u.close();
	assert.ok(processAlive(d.pid));
	assert.deepEqual(await d.stop(), { code: 0, signal: null }, d.log());
});
