// The command-line tools: mcprelayd --check-config and mcprelayctl
// check-config (same message, exit 78 / 0), and mcprelayctl connect, the
// stdio bridge to the daemon's Unix socket (a scoped session, an unknown
// server, no daemon).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
	ERR, baseConfig, bin, demoServer, itest, srcdir, startDaemon, tmpdir,
	toYaml,
} from './lib/harness.mjs';

/*
 * Runs a binary to its end with a 10 s bound.  input: lines written to
 * stdin; stdin is then closed unless keepOpen (it is closed when the
 * process exits).  Resolves to { code, signal, stdout, stderr }.
 */
function run(file, args, { input = [], keepOpen = false,
    timeout = 10000 } = {}) {
	return new Promise((resolve, reject) => {
		const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
		let stdout = '', stderr = '';
		child.stdout.setEncoding('utf8');
		child.stderr.setEncoding('utf8');
		child.stdout.on('data', (d) => { stdout += d; });
		child.stderr.on('data', (d) => { stderr += d; });
		child.stdin.on('error', () => {});
		const timer = setTimeout(() => {
			child.kill('SIGKILL');
			reject(new Error(`${path.basename(file)} ${args.join(' ')}: ` +
			    `no exit within ${timeout} ms; stdout: ${stdout}; ` +
			    `stderr: ${stderr}`));
		}, timeout);
		child.on('error', (e) => {
			clearTimeout(timer);
			reject(e);
		});
		child.on('close', (code, signal) => {
			clearTimeout(timer);
			resolve({ code, signal, stdout, stderr });
		});
		for (const line of input)
			child.stdin.write(typeof line === 'string' ? line + '\n' :
			    JSON.stringify(line) + '\n');
		if (!keepOpen)
			child.stdin.end();
	});
}

const jsonLines = (text) => text.split('\n').filter((l) => l !== '')
    .map((l) => JSON.parse(l));

itest('check-config: a misspelt key exits 78 with file:line:col, in ' +
    'mcprelayd and mcprelayctl alike', async (t) => {
	const dir = tmpdir(t);
	const file = path.join(dir, 'bad.yaml');
	const text = toYaml({ servers: { demo: { type: 'stdio',
	    command: bin.demo, retry: { max_retries: 1, max_retires: 5 } } } });
	fs.writeFileSync(file, text);
	const lines = text.split('\n');
	const line = lines.findIndex((l) => /^\s*max_retires:/.test(l)) + 1;
	const col = lines[line - 1].search(/\S/) + 1;
	const want = `${file}:${line}:${col}: servers.demo.retry: unknown key ` +
	    "'max_retires' (did you mean 'max_retries'?)\n";

	const d = await run(bin.mcprelayd, ['--check-config', file]);
	assert.equal(d.code, 78, `mcprelayd: ${d.stderr}`);
	assert.equal(d.stderr, want);
	assert.equal(d.stdout, '');

	const c = await run(bin.ctl, ['check-config', file]);
	assert.equal(c.code, 78, `mcprelayctl: ${c.stderr}`);
	assert.equal(c.stderr, want);
	assert.equal(c.stdout, '');
});

itest('check-config: a valid file exits 0 with a one-line summary',
    async (t) => {
	const dir = tmpdir(t);
	const file = path.join(dir, 'good.yaml');
	fs.writeFileSync(file, toYaml({
		listen: { http: '127.0.0.1:18931' },
		servers: { demo: { type: 'stdio', command: bin.demo },
		    off: { type: 'stdio', command: bin.demo, enabled: false } },
	}));
	const want = `${file}: valid: 2 servers (demo, off [disabled]), ` +
	    'http 127.0.0.1:18931, unix off\n';
	for (const [prog, args] of [[bin.mcprelayd, ['--check-config', file]],
	    [bin.ctl, ['check-config', file]]]) {
		const r = await run(prog, args);
		assert.equal(r.code, 0, `${prog}: ${r.stderr}`);
		assert.equal(r.stdout, want);
		assert.equal(r.stderr, '');
	}
	// The shipped configurations are valid.
	for (const name of ['mcprelay.yaml', 'demo.yaml']) {
		const shipped = path.join(srcdir, 'config', name);
		const r = await run(bin.mcprelayd, ['--check-config', shipped]);
		assert.equal(r.code, 0, `${name}: ${r.stderr}`);
		assert.match(r.stdout, new RegExp(`^${shipped.replace(
		    /[.*+?^${}()|[\]\\]/g, '\\$&')}: valid: [^\n]*\n$`));
	}
});

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: {
	protocolVersion: '2025-06-18', capabilities: {},
	clientInfo: { name: 'ctl-test', version: '1' } } };
const INITIALIZED = { jsonrpc: '2.0', method: 'notifications/initialized' };

itest('mcprelayctl connect NAME: a scoped session over stdio', async (t) => {
	const dir = tmpdir(t);
	const execLog = path.join(dir, 'exec.log');
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		servers: {
			demo: demoServer(['--exec-log', execLog]),
			other: demoServer(['--name', 'other', '--tools-extra',
			    'only_other']),
		},
	}) });
	const r = await run(bin.ctl, ['connect', 'demo', '--socket',
	    d.socketPath], { input: [INIT, INITIALIZED,
	    { jsonrpc: '2.0', id: 2, method: 'tools/call',
		params: { name: 'add', arguments: { a: 2, b: 3 } } },
	    { jsonrpc: '2.0', id: 3, method: 'tools/list' }] });
	assert.equal(r.code, 0, r.stderr);
	assert.equal(r.stderr, '');
	// Replies to pipelined requests may come in any order.
	const out = jsonLines(r.stdout).filter((m) => 'id' in m)
	    .sort((x, y) => x.id - y.id);
	assert.deepEqual(out.map((m) => m.id), [1, 2, 3],
	    `one reply per request: ${r.stdout}`);
	assert.equal(out[0].result.protocolVersion, '2025-06-18');
	assert.equal(out[0].result.serverInfo.name, 'demo', 'scoped to demo');
	assert.deepEqual(out[1].result,
	    { content: [{ type: 'text', text: '5' }] });
	// Scoped: demo's own names, nothing of the other server.
	const names = out[2].result.tools.map((x) => x.name);
	assert.ok(names.includes('add') && !names.includes('only_other') &&
	    !names.some((n) => n.includes('__')), `${names}`);
	const ran = JSON.parse(fs.readFileSync(execLog, 'utf8').trim());
	assert.deepEqual([ran.tool, ran.args], ['add', { a: 2, b: 3 }]);
});

itest('mcprelayctl connect: an unknown server is -32016; no daemon is ' +
    'exit 3', async (t) => {
	const dir = tmpdir(t);
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		servers: { demo: demoServer([]) },
	}) });
	// stdin stays open: the daemon is the one that ends it.
	const r = await run(bin.ctl, ['connect', 'nosuch', '--socket',
	    d.socketPath], { keepOpen: true });
	assert.deepEqual(jsonLines(r.stdout), [{ jsonrpc: '2.0', id: null,
	    error: { code: ERR.DISABLED, message: "unknown server 'nosuch'" } }]);
	assert.equal(r.code, 1, 'the daemon closed the connection first');
	assert.match(r.stderr, /closed the connection/);

	// No socket at all.
	const none = await run(bin.ctl, ['connect', 'demo', '--socket',
	    path.join(dir, 'nothing.sock')], { input: [INIT] });
	assert.equal(none.code, 3, none.stderr);
	assert.match(none.stderr, /mcprelayd is not running/);
	assert.equal(none.stdout, '');

	// A socket file left by a daemon that died: nobody listens.
	process.kill(d.pid, 'SIGKILL');
	await d.exited;
	await d.stop({ check: false });
	assert.ok(fs.existsSync(d.socketPath), 'the stale socket is there');
	const stale = await run(bin.ctl, ['connect', 'demo', '--socket',
	    d.socketPath], { input: [INIT] });
	assert.equal(stale.code, 3, stale.stderr);
	assert.match(stale.stderr, /mcprelayd is not running/);
	assert.equal(stale.stdout, '');
});
