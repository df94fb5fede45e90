// The pinned @modelcontextprotocol/server-everything as a remote upstream
// (its streamableHttp and sse modes on a port of ours, killed and restarted
// at will), and the SDK's client classes.  Both come from the node_modules
// that setup-npm.sh installs into the build tree; without them the tests
// that need them fail and say why.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { builddir, waitFor } from './harness.mjs';

export const nodeModules = process.env.MCPRELAY_ITEST_NODE_MODULES ??
    path.join(builddir, 'tests', 'integration', 'node_modules');

function packageDir(name) {
	const dir = path.join(nodeModules, name);
	if (!fs.existsSync(path.join(dir, 'package.json')))
		throw new Error(`${name} is not installed in ${nodeModules}: ` +
		    'tests/integration/setup-npm.sh (npm ci) failed or did not ' +
		    'run; this test cannot run without it');
	return dir;
}

/* The ESM file behind "pkg/sub" per the package's exports map. */
function resolveEsm(spec) {
	const parts = spec.split('/');
	const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
	const sub = '.' + spec.slice(name.length);
	const dir = packageDir(name);
	const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'),
	    'utf8'));
	const pick = (t) => typeof t === 'string' ? t : t?.import ?? t?.default;
	let file;
	if (pkg.exports?.[sub]) {
		file = pick(pkg.exports[sub]);
	} else {
		for (const [key, target] of Object.entries(pkg.exports ?? {})) {
			const star = key.indexOf('*');
			if (star === -1 || !sub.startsWith(key.slice(0, star)) ||
			    !sub.endsWith(key.slice(star + 1)))
				continue;
			const mid = sub.slice(star, sub.length - (key.length - star - 1));
			file = pick(target)?.replace('*', mid);
			break;
		}
	}
	return path.join(dir, file ?? sub);
}

let sdk;
/* The SDK client's classes and schemas. */
export async function loadSdk() {
	if (sdk)
		return sdk;
	const imp = (spec) => import(pathToFileURL(resolveEsm(spec)).href);
	const mods = await Promise.all([
		imp('@modelcontextprotocol/sdk/client/index.js'),
		imp('@modelcontextprotocol/sdk/client/streamableHttp.js'),
		imp('@modelcontextprotocol/sdk/client/sse.js'),
		imp('@modelcontextprotocol/sdk/types.js'),
	]);
	sdk = Object.assign({}, ...mods);
	return sdk;
}

function everythingEntry() {
	const dir = packageDir('@modelcontextprotocol/server-everything');
	const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'),
	    'utf8'));
	return path.join(dir, typeof pkg.bin === 'string' ? pkg.bin :
	    pkg.bin['mcp-server-everything']);
}

const running = new Set();
process.on('exit', () => {
	for (const e of running)
		try { process.kill(-e.pid, 'SIGKILL'); } catch { /* gone */ }
});

function canConnect(port) {
	return new Promise((resolve) => {
		const s = net.connect({ host: '127.0.0.1', port });
		s.once('connect', () => { s.destroy(); resolve(true); });
		s.once('error', () => resolve(false));
	});
}

/*
 * server-everything in mode ('streamableHttp' or 'sse') listening on port,
 * its output in logFile.  Resolves once the port accepts connections.
 * .url is its MCP endpoint (/mcp) or SSE stream (/sse); kill() ends it
 * (SIGKILL) and waits for the port to be free; restart() starts it again
 * on the same port.
 */
export async function startEverything({ mode, port, logFile, t }) {
	const e = { mode, port, pid: undefined, child: undefined,
	    url: `http://127.0.0.1:${port}${mode === 'sse' ? '/sse' : '/mcp'}` };
	const entry = everythingEntry();
	e.start = async () => {
		const fd = fs.openSync(logFile, 'a');
		const child = spawn(process.execPath, [entry, mode], {
			env: { ...process.env, PORT: String(port) },
			stdio: ['ignore', fd, fd], detached: true });
		fs.closeSync(fd);
		e.child = child;
		e.pid = child.pid;
		e.exited = new Promise((resolve) => child.once('exit', resolve));
		running.add(e);
		await waitFor(async () => {
			if (child.exitCode !== null)
				throw Object.assign(new Error('server-everything ' +
				    `exited: see ${logFile}`), { fatal: true });
			return canConnect(port);
		}, { timeout: 15000, interval: 50,
		    message: `server-everything (${mode}) on port ${port}` });
	};
	e.kill = async () => {
		if (!e.child || e.child.exitCode !== null ||
		    e.child.signalCode !== null)
			return;
		try { process.kill(-e.pid, 'SIGKILL'); } catch { /* gone */ }
		await e.exited;
		running.delete(e);
		await waitFor(async () => !await canConnect(port),
		    { timeout: 5000, message: `port ${port} to close` });
	};
	e.restart = async () => {
		await e.kill();
		await e.start();
	};
	await e.start();
	if (t)
		t.after(() => e.kill());
	return e;
}
