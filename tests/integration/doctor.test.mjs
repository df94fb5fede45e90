// mcprelayctl doctor: every check passing against a running daemon (stdio
// and https servers on loopback), then each seeded fault caught with its
// FAIL line and a fix: an invalid file, no daemon (sockets missing), a
// socket with the wrong mode, a stdio command missing or not executable,
// a .invalid name, a closed loopback port, plain TCP where TLS is
// expected, and the listen port taken by another program.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import {
	baseConfig, bin, closedPort, demoServer, freePort, itest, startDaemon,
	tmpdir, toYaml, waitFor,
} from './lib/harness.mjs';
import { makeCert } from './lib/fault-proxy.mjs';

/* Runs mcprelayctl doctor to its end, bounded. */
function doctor(args, { timeout = 20000 } = {}) {
	return new Promise((resolve, reject) => {
		const child = spawn(bin.ctl, ['doctor', ...args],
		    { stdio: ['ignore', 'pipe', 'pipe'] });
		let stdout = '', stderr = '';
		child.stdout.setEncoding('utf8');
		child.stderr.setEncoding('utf8');
		child.stdout.on('data', (d) => { stdout += d; });
		child.stderr.on('data', (d) => { stderr += d; });
		const timer = setTimeout(() => {
			child.kill('SIGKILL');
			reject(new Error(`doctor: no exit within ${timeout} ms; ` +
			    `stdout: ${stdout}; stderr: ${stderr}`));
		}, timeout);
		child.on('error', (e) => {
			clearTimeout(timer);
			reject(e);
		});
		child.on('close', (code, signal) => {
			clearTimeout(timer);
			resolve({ code, signal, stdout, stderr,
			    lines: stdout.split('\n').filter((l) => l !== '') });
		});
	});
}

/* The one line of a check: { status, detail, fix }. */
function line(r, check) {
	const found = r.lines.filter((l) => l.slice(6).startsWith(check + ': '));
	assert.equal(found.length, 1, `one '${check}' line in:\n${r.stdout}` +
	    r.stderr);
	const m = /^(ok|FAIL|skip)\s+[^:]+: (.*?)(?:; fix: (.*))?$/
	    .exec(found[0]);
	assert.ok(m, found[0]);
	return { status: m[1], detail: m[2], fix: m[3] };
}

const re = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/* A loopback server that closes each connection at once, or listens. */
function listenTcp(onConn = (s) => s.destroy()) {
	return new Promise((resolve) => {
		const srv = net.createServer(onConn);
		srv.listen(0, '127.0.0.1', () => resolve(srv));
	});
}

itest('doctor: every check ok against a running daemon with stdio and ' +
    'https servers', async (t) => {
	const dir = tmpdir(t);
	const { cert, key } = makeCert(dir);
	const srv = https.createServer({ cert: fs.readFileSync(cert),
	    key: fs.readFileSync(key) }, (req, res) => {
		res.writeHead(404);
		res.end();
	});
	await new Promise((r) => srv.listen(0, '127.0.0.1', r));
	t.after(() => srv.close());
	const tlsPort = srv.address().port;
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		servers: {
			demo: demoServer(),
			secure: { type: 'http',
			    url: `https://localhost:${tlsPort}/mcp`,
			    tls: { ca_file: cert }, retry: { max_retries: 0 } },
			off: demoServer([], { enabled: false }),
		},
	}) });
	await waitFor(() => /server demo: initializing -> ready/.test(d.log()));

	const r = await doctor(['--config', d.configPath, '--timeout', '5s']);
	assert.equal(r.code, 0, r.stdout + r.stderr);
	assert.equal(r.stderr, '');
	assert.equal(r.lines.at(-1), 'all checks passed');
	for (const l of r.lines.slice(0, -1))
		assert.match(l, /^(ok  |skip)  /, l);
	assert.match(line(r, 'config').detail,
	    /mcprelay\.yaml: valid: 3 servers \(demo, secure, off \[disabled\]\)/);
	assert.match(line(r, 'socket control').detail, new RegExp(
	    `^${re(path.join(dir, 'control.sock'))}, mode 0600, owner `));
	assert.match(line(r, 'socket mcp').detail, new RegExp(
	    `^${re(path.join(dir, 'mcp.sock'))}, mode 0600, owner `));
	assert.deepEqual(line(r, 'port http'), { status: 'ok', detail:
	    `127.0.0.1:${d.port}, bound by mcprelayd (pid ${d.pid})`,
	    fix: undefined });
	assert.equal(line(r, 'port metrics').status, 'skip');
	assert.match(line(r, 'command demo').detail,
	    new RegExp(`^${re(bin.demo)}, executable by \\S+$`));
	assert.equal(line(r, 'command demo').status, 'ok');
	assert.deepEqual(line(r, 'server off'), { status: 'skip',
	    detail: 'enabled: false', fix: undefined });
	assert.match(line(r, 'dns secure').detail,
	    /^localhost is (127\.0\.0\.1|::1)$/);
	assert.equal(line(r, 'tcp secure').status, 'ok');
	assert.match(line(r, 'tls secure').detail,
	    /^TLSv1\.[23], certificate verified$/);
	assert.equal(line(r, 'tls secure').status, 'ok');
	assert.deepEqual(line(r, 'oauth'), { status: 'skip',
	    detail: 'no oauth servers', fix: undefined });
	assert.equal(line(r, 'systemd').status, fs.existsSync(
	    '/run/systemd/system') ? line(r, 'systemd').status : 'skip');
});

itest('doctor: an invalid configuration fails with file:line:col',
    async (t) => {
	const dir = tmpdir(t);
	const file = path.join(dir, 'bad.yaml');
	fs.writeFileSync(file, toYaml({ servers: { demo: { type: 'stdio',
	    command: bin.demo, retry: { max_retires: 5 } } } }));
	const r = await doctor(['--config', file]);
	assert.equal(r.code, 1, r.stdout);
	const c = line(r, 'config');
	assert.equal(c.status, 'FAIL');
	assert.match(c.detail, new RegExp(`^${re(file)}:6:7: ` +
	    'servers\\.demo\\.retry: unknown key .max_retires.'));
	assert.equal(c.fix, `correct it (mcprelayctl check-config ${file})`);
	assert.match(r.stderr, /max_retires/);
	assert.equal(line(r, 'checks').status, 'skip');
	assert.equal(r.lines.at(-1), '1 check failed');

	const none = await doctor(['--config', path.join(dir, 'none.yaml')]);
	assert.equal(none.code, 1);
	assert.equal(line(none, 'config').fix,
	    'write one (mcprelay.yaml(5)), or name yours with --config');
});

itest('doctor: no daemon, missing and unexecutable commands, DNS, refused ' +
    'TCP, failed TLS and a taken port, each caught', async (t) => {
	const dir = tmpdir(t);
	const bindir = path.join(dir, 'bin');
	fs.mkdirSync(bindir);
	const plain = path.join(bindir, 'plain-file');
	fs.writeFileSync(plain, '#!/bin/sh\n', { mode: 0o644 });
	fs.writeFileSync(path.join(bindir, 'tool'), '#!/bin/sh\n',
	    { mode: 0o644 });
	// Something else on the listen port; a port nothing listens on; a
	// port that speaks plain TCP (an HTTP error) where TLS is expected.
	const squatter = await listenTcp();
	t.after(() => squatter.close());
	const closed = await closedPort();
	const notTls = await listenTcp((s) => {
		s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n' +
		    'Content-Length: 0\r\n\r\n'));
		s.on('error', () => {});
	});
	t.after(() => notTls.close());
	// Accepts and says nothing: the handshake must be cut at --timeout.
	const held = [];
	const stall = await listenTcp((s) => held.push(s));
	t.after(() => {
		for (const s of held)
			s.destroy();
		stall.close();
	});
	const file = path.join(dir, 'mcprelay.yaml');
	fs.writeFileSync(file, toYaml(baseConfig(dir, {
		listen: { http: `127.0.0.1:${squatter.address().port}` },
		servers: {
			missing: { type: 'stdio', command: 'mcprelay-no-such-cmd' },
			noexec: { type: 'stdio', command: plain },
			pathnoexec: { type: 'stdio', command: 'tool',
			    env: { PATH: bindir } },
			nodns: { type: 'http',
			    url: 'http://mcprelay-doctor.invalid/mcp' },
			refused: { type: 'http',
			    url: `http://127.0.0.1:${closed}/mcp` },
			notls: { type: 'http',
			    url: `https://127.0.0.1:${notTls.address().port}/mcp` },
			stall: { type: 'sse',
			    url: `https://127.0.0.1:${stall.address().port}/sse` },
		},
	})));
	const started = Date.now();
	const r = await doctor(['--config', file, '--timeout', '3s']);
	const took = Date.now() - started;
	assert.equal(r.code, 1, r.stdout + r.stderr);
	assert.ok(took >= 3000 && took < 5000,
	    `doctor took ${took} ms with --timeout 3s`);

	assert.equal(line(r, 'config').status, 'ok');
	assert.deepEqual(line(r, 'socket control'), { status: 'FAIL',
	    detail: `${path.join(dir, 'control.sock')}: No such file or ` +
	    'directory', fix: 'start mcprelayd (systemctl start mcprelayd, ' +
	    'or mcprelayd -c CONFIG)' });
	assert.equal(line(r, 'socket mcp').status, 'FAIL');
	const port = line(r, 'port http');
	assert.equal(port.status, 'FAIL');
	assert.equal(port.detail, `cannot bind 127.0.0.1:` +
	    `${squatter.address().port}: Address already in use (not by ` +
	    'mcprelayd)');
	assert.match(port.fix, /^stop the program that has it/);
	assert.deepEqual(line(r, 'command missing'), { status: 'FAIL',
	    detail: `'mcprelay-no-such-cmd' not found on PATH ` +
	    `(${process.env.PATH})`, fix: 'install it, or give its full ' +
	    'path in servers.missing.command' });
	const ne = line(r, 'command noexec');
	assert.equal(ne.status, 'FAIL');
	assert.match(ne.detail, new RegExp(`^${re(plain)} is not executable by `));
	assert.match(ne.fix, new RegExp(`^chmod \\+x ${re(plain)}`));
	const pne = line(r, 'command pathnoexec');
	assert.equal(pne.status, 'FAIL');
	assert.match(pne.detail, new RegExp(
	    `^${re(path.join(bindir, 'tool'))} is not executable by `));

	const dns = line(r, 'dns nodns');
	assert.equal(dns.status, 'FAIL');
	assert.match(dns.detail, /^mcprelay-doctor\.invalid: |^no answer/);
	assert.match(dns.fix, /servers\.nodns\.url|--timeout/);
	assert.equal(line(r, 'tcp nodns').status, 'skip');

	assert.equal(line(r, 'dns refused').status, 'ok');
	assert.deepEqual(line(r, 'tcp refused'), { status: 'FAIL', detail:
	    `connect 127.0.0.1 port ${closed}: Connection refused`,
	    fix: `is the server running at http://127.0.0.1:${closed}/mcp? ` +
	    'check the port and any firewall' });
	assert.equal(line(r, 'tls refused').status, 'skip');

	assert.equal(line(r, 'tcp notls').status, 'ok');
	const tls = line(r, 'tls notls');
	assert.equal(tls.status, 'FAIL');
	assert.match(tls.detail, new RegExp('^handshake with 127\\.0\\.0\\.1 ' +
	    `port ${notTls.address().port}: (wrong version number|` +
	    'packet length too long|record layer failure|the peer closed)'));
	assert.match(tls.fix, /tls\.ca_file/);
	assert.deepEqual(line(r, 'tls stall'), { status: 'FAIL', detail:
	    `handshake with 127.0.0.1 port ${stall.address().port}: no ` +
	    'handshake in time', fix: 'is it https at that port? set ' +
	    'servers.stall.tls.ca_file to the CA that signed its certificate ' +
	    '(docs/remote.md)' });
	assert.equal(line(r, 'oauth').status, 'skip');
	assert.match(r.lines.at(-1), /^\d+ checks failed$/);
	assert.equal(Number(r.lines.at(-1).split(' ')[0]),
	    r.lines.filter((l) => l.startsWith('FAIL')).length);
	assert.equal(r.lines.filter((l) => l.startsWith('FAIL')).length, 10);
});

itest('doctor: a socket with the wrong mode or gone, the daemon running',
    async (t) => {
	const dir = tmpdir(t);
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    servers: { demo: demoServer() } }) });
	const control = path.join(dir, 'control.sock');
	fs.chmodSync(control, 0o666);
	fs.rmSync(path.join(dir, 'mcp.sock'));
	const r = await doctor(['--config', d.configPath]);
	assert.equal(r.code, 1, r.stdout + r.stderr);
	assert.deepEqual(line(r, 'socket control'), { status: 'FAIL',
	    detail: `${control} has mode 0666, want 0600`,
	    fix: `chmod 0600 ${control}, or restart mcprelayd so that it ` +
	    'makes the socket again' });
	assert.equal(line(r, 'socket mcp').status, 'FAIL');
	assert.match(line(r, 'socket mcp').detail, /No such file or directory/);
	// The daemon still answers, so its port is its own.
	assert.equal(line(r, 'port http').detail,
	    `127.0.0.1:${d.port}, bound by mcprelayd (pid ${d.pid})`);
	assert.equal(r.lines.at(-1), '2 checks failed');
	fs.chmodSync(control, 0o600);
});

itest('doctor as root checks sockets and commands as the daemon\'s user',
    { skip: process.getuid?.() !== 0 ? 'needs root (setpriv to nobody)' :
    false }, async (t) => {
	const dir = tmpdir(t);
	fs.chmodSync(dir, 0o755);
	const run = path.join(dir, 'run');
	fs.mkdirSync(run);
	fs.chmodSync(run, 0o777);
	// Binaries nobody can reach, wherever the build tree is.
	const daemon = path.join(dir, 'mcprelayd');
	const demo = path.join(dir, 'demo-server');
	fs.copyFileSync(bin.mcprelayd, daemon);
	fs.copyFileSync(bin.demo, demo);
	fs.chmodSync(daemon, 0o755);
	fs.chmodSync(demo, 0o755);
	// Executable, but in a directory only root may enter.
	const secret = path.join(dir, 'secret');
	fs.mkdirSync(secret, { mode: 0o700 });
	const tool = path.join(secret, 'tool');
	fs.writeFileSync(tool, '#!/bin/sh\n', { mode: 0o755 });
	const port = await freePort();
	const file = path.join(dir, 'mcprelay.yaml');
	fs.writeFileSync(file, toYaml(baseConfig(run, {
		log: { level: 'info' },
		listen: { http: `127.0.0.1:${port}` },
		servers: {
			demo: { type: 'stdio', command: demo },
			hidden: { type: 'stdio', command: tool,
			    retry: { max_retries: 0 } },
		},
	})));
	const log = fs.openSync(path.join(dir, 'mcprelayd.log'), 'a');
	const child = spawn('setpriv', ['--reuid=65534', '--regid=65534',
	    '--clear-groups', daemon, '-f', '-c', file],
	    { stdio: ['ignore', log, log] });
	fs.closeSync(log);
	const exited = new Promise((r) => child.once('exit', (code, signal) =>
	    r({ code, signal })));
	t.after(() => {
		if (child.exitCode === null && child.signalCode === null)
			child.kill('SIGKILL');
	});
	await waitFor(() => fs.existsSync(path.join(run, 'control.sock')),
	    { message: 'the daemon (as nobody) to listen' });

	const r = await doctor(['--config', file]);
	assert.equal(r.code, 1, r.stdout + r.stderr);
	assert.equal(line(r, 'socket control').detail,
	    `${path.join(run, 'control.sock')}, mode 0600, owner nobody`);
	assert.equal(line(r, 'command demo').detail,
	    `${demo}, executable by nobody`);
	// Root could run it; the daemon's user cannot.
	assert.deepEqual(line(r, 'command hidden'), { status: 'FAIL',
	    detail: `${tool}: user nobody cannot reach it (Permission denied)`,
	    fix: 'let user nobody search the directories above it (chmod ' +
	    'o+x), or move it' });
	assert.equal(r.lines.at(-1), '1 check failed');

	child.kill('SIGTERM');
	assert.deepEqual(await exited, { code: 0, signal: null },
	    fs.readFileSync(path.join(dir, 'mcprelayd.log'), 'utf8'));
});
