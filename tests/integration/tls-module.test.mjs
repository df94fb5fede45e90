// The TLS module (modules/tls.so, daemon/tls.h): a daemon with stdio
// upstreams only never maps OpenSSL; one with an https upstream loads the
// module found beside the build tree's mcprelayd with no environment; a
// module that cannot be loaded is a configuration error at start-up (exit
// 78) and at reload (refused, the running configuration kept).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
	baseConfig, bin, demoServer, freePort, initialize, itest, slow,
	startDaemon, tmpdir, toYaml, toolText, waitFor, wrapper, writeConfig,
} from './lib/harness.mjs';
import { makeCert } from './lib/fault-proxy.mjs';

const OPENSSL = /libssl\.so|libcrypto\.so|libevent_openssl|\/tls\.so/;

function maps(pid) {
	return fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
}

/* mcprelay-demo-server serving https on a free loopback port. */
async function httpsDemo(t, dir) {
	const { cert, key } = makeCert(dir, { name: 'demo' });
	const port = await freePort();
	const log = path.join(dir, 'demo-https.log');
	const fd = fs.openSync(log, 'a');
	const child = spawn(bin.demo, ['--http', `127.0.0.1:${port}`,
	    '--tls-cert', cert, '--tls-key', key], { stdio: ['ignore',
	    'ignore', fd] });
	fs.closeSync(fd);
	const exited = new Promise((r) => child.on('exit', (...a) => r(a)));
	t.after(async () => {
		if (child.exitCode === null && child.signalCode === null) {
			child.kill('SIGTERM');
			await exited;
		}
	});
	await waitFor(() => fs.readFileSync(log, 'utf8')
	    .includes('listening on'), { message: 'the https demo to listen' });
	return { url: `https://127.0.0.1:${port}/mcp`, cert };
}

/* Runs mcprelayd (under the harness's wrapper) to its exit. */
function runDaemon(exe, configPath, env, args = ['-f', '-c', configPath]) {
	const argv = [...wrapper, exe, ...args];
	return new Promise((resolve, reject) => {
		const child = spawn(argv[0], argv.slice(1), {
			env: { ...process.env, ...env }, stdio: ['ignore',
			    'ignore', 'pipe'] });
		let stderr = '';
		child.stderr.on('data', (b) => { stderr += b; });
		const timer = setTimeout(() => {
			child.kill('SIGKILL');
			reject(new Error(`mcprelayd still running:\n${stderr}`));
		}, 10000 * slow);
		child.on('exit', (code, signal) => {
			clearTimeout(timer);
			resolve({ code, signal, stderr });
		});
	});
}

itest('stdio upstreams only: OpenSSL is never mapped, and no TLS module ' +
    'is needed', async (t) => {
	const dir = tmpdir(t);
	const d = await startDaemon({ t, dir, env: { MCPRELAY_TLS_MODULE:
	    path.join(dir, 'none', 'tls.so') }, config: baseConfig(dir, {
		servers: { demo: demoServer() } }) });
	const s = await initialize(d.mcpUrl());
	assert.equal(toolText(await s.callTool('echo', { text: 'x' })), 'x');
	const m = maps(d.pid);
	assert.match(m, /libevent/);	/* the maps are the daemon's */
	assert.doesNotMatch(m, OPENSSL);
});

itest('an https upstream from the build tree: modules/tls.so beside ' +
    'mcprelayd is loaded, with no environment', async (t) => {
	const dir = tmpdir(t);
	const demo = await httpsDemo(t, dir);
	const d = await startDaemon({ t, dir, env: { MCPRELAY_TLS_MODULE: '' },
	    config: baseConfig(dir, { servers: {
		remote: { type: 'http', url: demo.url,
		    tls: { ca_file: demo.cert } } } }) });
	const s = await initialize(d.mcpUrl('remote'));
	assert.equal(toolText(await s.callTool('echo', { text: 'tls' })),
	    'tls');
	const m = maps(d.pid);
	const module = path.join(path.dirname(fs.realpathSync(bin.mcprelayd)),
	    'modules', 'tls.so');
	assert.ok(m.includes(module), `${module} is mapped`);
	assert.match(m, /libssl\.so/);
});

itest('an https upstream without the TLS module: exit 78, and the message ' +
    'names the server, the file and why', async (t) => {
	const dir = tmpdir(t);
	const missing = path.join(dir, 'missing', 'tls.so');
	const configPath = writeConfig(dir, baseConfig(dir, {
		listen: { http: `127.0.0.1:${await freePort()}` },
		servers: { demo: demoServer(),
		    remote: { type: 'http', url: 'https://127.0.0.1:9/mcp' } },
	}));
	const r = await runDaemon(bin.mcprelayd, configPath,
	    { MCPRELAY_TLS_MODULE: missing });
	assert.equal(r.code, 78, r.stderr);
	assert.ok(r.stderr.includes(`${configPath}: https upstream 'remote' ` +
	    `needs TLS support: cannot load ${missing}: cannot open shared ` +
	    'object file: No such file or directory'), r.stderr);
	assert.doesNotMatch(r.stderr, /Sanitizer|runtime error/);

	// --check-config says the same.
	const c = await runDaemon(bin.mcprelayd, configPath,
	    { MCPRELAY_TLS_MODULE: missing }, ['--check-config', configPath]);
	assert.equal(c.code, 78, c.stderr);
	assert.ok(c.stderr.includes(`${configPath}: https upstream 'remote' ` +
	    `needs TLS support: cannot load ${missing}: cannot open shared ` +
	    'object file: No such file or directory'), c.stderr);
	const ok = await runDaemon(bin.mcprelayd, configPath,
	    { MCPRELAY_TLS_MODULE: '' }, ['--check-config', configPath]);
	assert.equal(ok.code, 0, ok.stderr);

	// OAuth's endpoints are https too: the same check.
	const oauthPath = writeConfig(dir, baseConfig(dir, {
		listen: { http: `127.0.0.1:${await freePort()}` },
		servers: { up: { type: 'http', url: 'http://127.0.0.1:9/mcp',
		    auth: { type: 'oauth',
		    token_file: path.join(dir, 'tok.json') } } },
	}), 'oauth.yaml');
	const o = await runDaemon(bin.mcprelayd, oauthPath,
	    { MCPRELAY_TLS_MODULE: missing });
	assert.equal(o.code, 78, o.stderr);
	assert.ok(o.stderr.includes("OAuth upstream 'up' needs TLS support: " +
	    `cannot load ${missing}: `), o.stderr);
});

itest('a modules/tls.so beside the daemon that is no module: exit 78 with ' +
    "the loader's reason", async (t) => {
	const dir = tmpdir(t);
	const exe = path.join(dir, 'sbin', 'mcprelayd');
	fs.mkdirSync(path.join(dir, 'sbin', 'modules'), { recursive: true });
	fs.copyFileSync(bin.mcprelayd, exe);
	fs.chmodSync(exe, 0o755);
	const junk = path.join(dir, 'sbin', 'modules', 'tls.so');
	fs.writeFileSync(junk, 'not an ELF file\n'.repeat(16));
	const configPath = writeConfig(dir, baseConfig(dir, {
		listen: { http: `127.0.0.1:${await freePort()}` },
		servers: { remote: { type: 'http',
		    url: 'https://127.0.0.1:9/mcp' } },
	}));
	const r = await runDaemon(exe, configPath, { MCPRELAY_TLS_MODULE: '' });
	assert.equal(r.code, 78, r.stderr);
	assert.ok(r.stderr.includes("https upstream 'remote' needs TLS " +
	    `support: cannot load ${junk}: invalid ELF header`), r.stderr);
});

itest('SIGHUP adding an https upstream without the TLS module: the reload ' +
    'is refused with the message, the running configuration kept',
    async (t) => {
	const dir = tmpdir(t);
	const missing = path.join(dir, 'missing', 'tls.so');
	const config = (servers) => baseConfig(dir, { servers });
	const d = await startDaemon({ t, dir, env: { MCPRELAY_TLS_MODULE:
	    missing }, config: config({ demo: demoServer() }) });
	const s = await initialize(d.mcpUrl());

	const cfg = config({ demo: demoServer(), remote: { type: 'sse',
	    url: 'HTTPS://127.0.0.1:9/sse' } });
	cfg.listen.http = `127.0.0.1:${d.port}`;
	for (const srv of Object.values(cfg.servers))
		if (srv.type === 'stdio')
			srv.env = { MCPRELAY_ITEST_TAG: d.tag };
	fs.writeFileSync(d.configPath, toYaml(cfg));
	process.kill(d.pid, 'SIGHUP');
	await waitFor(() => /reload: .* is invalid; keeping the running/
	    .test(d.log()), { message: 'the reload to be refused' });
	assert.ok(d.log().includes(`${d.configPath}: https upstream 'remote' ` +
	    `needs TLS support: cannot load ${missing}: cannot open shared ` +
	    'object file: No such file or directory'), d.log());
	assert.ok(d.running());
	assert.equal(toolText(await s.callTool('echo', { text: 'on' })), 'on');
	assert.doesNotMatch(maps(d.pid), OPENSSL);
});
