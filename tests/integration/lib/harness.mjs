// Integration-test harness for mcprelayd: temp dirs, config files (a small
// YAML emitter), starting and stopping the daemon with its upstreams, an MCP
// Streamable HTTP client on fetch, an NDJSON client for the Unix socket, and
// bounded polling.  node: modules only, so it runs without an npm install.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// ---- where things are ---------------------------------------------------

const here = path.dirname(fileURLToPath(import.meta.url));

/* make check exports top_srcdir and top_builddir; alone, the source tree
 * doubles as the build tree. */
export const srcdir = path.resolve(process.env.top_srcdir ??
    path.join(here, '..', '..', '..'));
export const builddir = path.resolve(process.env.top_builddir ?? srcdir);

export const bin = {
	mcprelayd: process.env.MCPRELAYD ?? path.join(builddir, 'mcprelayd'),
	demo: process.env.MCPRELAY_DEMO_SERVER ??
	    path.join(builddir, 'mcprelay-demo-server'),
	ctl: process.env.MCPRELAYCTL ?? path.join(builddir, 'mcprelayctl'),
};

/*
 * MCPRELAY_WRAPPER: a command (split at blanks) that mcprelayd runs under,
 * e.g. valgrind (make check-valgrind); MCPRELAY_ITEST_SLOW: a factor for
 * the harness's own bounds (start-up, stop, each itest, waitFor's default)
 * for a daemon that much slower.
 */
export const wrapper = (process.env.MCPRELAY_WRAPPER ?? '').split(/\s+/)
    .filter(Boolean);
export const slow = Math.max(1, Number(process.env.MCPRELAY_ITEST_SLOW ?? 1));

/* Records its pid in a file, then execs the rest of its arguments. */
export const pidwrap = path.join(here, 'pidwrap.sh');

/* Revisions a 2025-era client may negotiate with mcprelayd. */
export const SUPPORTED_VERSIONS = Object.freeze([
	'2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25',
]);

/* JSON-RPC codes: the standard ones and mcprelayd's (daemon/errors.h). */
export const ERR = Object.freeze({
	PARSE: -32700,
	INVALID_REQUEST: -32600,
	METHOD_NOT_FOUND: -32601,
	INVALID_PARAMS: -32602,
	INTERNAL: -32603,
	UNAVAILABLE: -32010,
	CIRCUIT_OPEN: -32011,
	QUEUE_FULL: -32012,
	QUEUE_TIMEOUT: -32013,
	TIMEOUT: -32014,
	MAYBE_RAN: -32015,
	DISABLED: -32016,
	SPAWN: -32017,
	NO_CLIENT: -32018,
	SHUTDOWN: -32019,
});

/* The demo server's built-in tools (daemon/demo-server.c). */
export const DEMO_TOOLS = Object.freeze([
	'echo', 'add', 'sleep_ms', 'current_time', 'increment', 'ask_model',
	'log_message',
]);

// ---- cleanup that also runs when a test fails or the run is interrupted --

const live = {
	children: new Set(),	// ChildProcess objects we spawned
	tags: new Set(),	// MCPRELAY_ITEST_TAG values of daemons
	dirs: new Set(),	// temp dirs to remove
	closers: new Set(),	// functions closing sockets and streams
};
const keepDirs = !!process.env.MCPRELAY_ITEST_KEEP;

function killQuietly(pid, signal = 'SIGKILL') {
	try {
		process.kill(pid, signal);
		return true;
	} catch {
		return false;
	}
}

/* Synchronous: it must work from process.on('exit'). */
function emergencyCleanup() {
	for (const close of live.closers)
		try { close(); } catch { /* going away anyway */ }
	for (const child of live.children) {
		if (child.exitCode === null && child.signalCode === null) {
			killQuietly(-child.pid);
			killQuietly(child.pid);
		}
	}
	for (const tag of live.tags)
		for (const p of findTaggedProcesses(tag))
			killQuietly(p.pid);
	if (!keepDirs)
		for (const dir of live.dirs)
			fs.rmSync(dir, { recursive: true, force: true });
}

process.on('exit', emergencyCleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
	process.once(sig, () => {
		emergencyCleanup();
		process.exit(128 + os.constants.signals[sig]);
	});
}

/*
 * Processes whose environment carries MCPRELAY_ITEST_TAG=tag: the daemon and
 * every upstream it spawned (the harness puts the tag in each server's env),
 * wherever they were re-parented.  Linux /proc; empty elsewhere.
 */
export function findTaggedProcesses(tag) {
	const needle = Buffer.from(`MCPRELAY_ITEST_TAG=${tag}\0`);
	const found = [];
	let entries;
	try {
		entries = fs.readdirSync('/proc');
	} catch {
		return found;
	}
	for (const e of entries) {
		if (!/^\d+$/.test(e) || Number(e) === process.pid)
			continue;
		try {
			const env = fs.readFileSync(`/proc/${e}/environ`);
			if (!env.includes(needle))
				continue;
			const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
			if (/^\d+ \(.*\) Z /s.test(stat))
				continue;	// a zombie is dead already
			const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8')
			    .split('\0').filter(Boolean).join(' ');
			found.push({ pid: Number(e), cmd });
		} catch {
			// gone meanwhile, or not ours to read
		}
	}
	return found;
}

export function processAlive(pid) {
	try {
		process.kill(pid, 0);
	} catch (e) {
		return e.code === 'EPERM';
	}
	try {
		const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
		return !/^\d+ \(.*\) Z /s.test(stat);
	} catch {
		return true;
	}
}

// ---- small helpers --------------------------------------------------------

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/*
 * Calls fn until it returns something truthy (which is returned) or the
 * timeout passes (then throws, with the last error fn threw, if any).
 */
export async function waitFor(fn, { timeout = 5000 * slow, interval = 50,
    message = 'condition' } = {}) {
	const deadline = Date.now() + timeout;
	let lastError;
	for (;;) {
		try {
			const v = await fn();
			if (v)
				return v;
			lastError = undefined;
		} catch (e) {
			if (e?.fatal)
				throw e;
			lastError = e;
		}
		if (Date.now() >= deadline) {
			const err = new Error(`timed out after ${timeout} ms ` +
			    `waiting for ${message}` + (lastError ?
			    `; last error: ${lastError.message}` : ''));
			err.cause = lastError;
			throw err;
		}
		await sleep(Math.min(interval, Math.max(1, deadline - Date.now())));
	}
}

/* Non-empty lines of a file; [] when it does not exist (yet). */
export function readLines(file) {
	let text;
	try {
		text = fs.readFileSync(file, 'utf8');
	} catch (e) {
		if (e.code === 'ENOENT')
			return [];
		throw e;
	}
	return text.split('\n').filter((l) => l.trim() !== '');
}

/* readLines, each parsed as JSON (the demo's exec and starts logs). */
export function readJsonLines(file) {
	return readLines(file).map((l, i) => {
		try {
			return JSON.parse(l);
		} catch {
			throw new Error(`${file}:${i + 1}: not JSON: ${l}`);
		}
	});
}

/* The text of a CallToolResult's first text block. */
export function toolText(result) {
	const block = result?.content?.find?.((c) => c.type === 'text');
	if (!block)
		throw new Error(`no text content in ${JSON.stringify(result)}`);
	return block.text;
}

/*
 * A temp dir, removed when the test ends (t.after) and at process exit.
 * Short, under /tmp when TMPDIR is long: Unix socket paths must stay under
 * 108 bytes.
 */
export function tmpdir(t) {
	let base = os.tmpdir();
	if (base.length > 40)
		base = '/tmp';
	const dir = fs.mkdtempSync(path.join(base, 'mcprelay-it-'));
	live.dirs.add(dir);
	const remove = () => {
		live.dirs.delete(dir);
		if (!keepDirs)
			fs.rmSync(dir, { recursive: true, force: true });
	};
	if (t)
		t.after(remove);
	currentScope?.dirs.push(remove);
	return dir;
}

/* A TCP port that was free a moment ago. */
export function freePort() {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.unref();
		srv.on('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const { port } = srv.address();
			srv.close(() => resolve(port));
		});
	});
}

/*
 * A TCP port nothing listens on, for a "connection refused".  Not a
 * freePort(): a port the kernel handed out can be handed out again, to a
 * server another test starts meanwhile.  So one below the ephemeral range,
 * which no listen(0) gets, that refuses a connection now.
 */
export async function closedPort() {
	const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range',
	    'utf8').trim().split(/\s+/)[0]);
	const base = low > 11024 ? 10000 : 1024;
	for (let i = 0; i < 50; i++) {
		const port = base + Math.floor(Math.random() * (low - base));
		if (!(await canConnect({ host: '127.0.0.1', port })))
			return port;
	}
	throw new Error('no closed port below the ephemeral range');
}

async function canConnect(opts, timeout = 200) {
	return new Promise((resolve) => {
		const sock = net.connect(opts);
		const done = (ok) => {
			clearTimeout(timer);
			sock.destroy();
			resolve(ok);
		};
		const timer = setTimeout(() => done(false), timeout);
		sock.once('connect', () => done(true));
		sock.once('error', () => done(false));
	});
}

// ---- YAML -----------------------------------------------------------------

/* Text written into the YAML as it is (e.g. an octal mode: 0600). */
export class YamlRaw {
	constructor(text) {
		this.text = String(text);
	}
}
export const yamlRaw = (text) => new YamlRaw(text);

const YAML_RESERVED = /^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|\.inf|\.Inf|\.INF|\.nan|\.NaN|\.NAN|[-+]\.(?:inf|Inf|INF)|<<|=)$/;
/* Anything a YAML 1.1 or 1.2 resolver may read as a number or a date. */
const YAML_NUMERIC = /^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?$|^[-+]?(?:[0-9][0-9_]*)?\.[0-9.]*(?:[eE][-+][0-9]+)?$|^[-+]?0[xXoObB][0-9a-fA-F_]+$|^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$|^\d{4}-\d\d?-\d\d?(?:[Tt ]|$)/;
/* A conservative plain scalar: no indicator first, no ": " or " #". */
const YAML_PLAIN = /^[A-Za-z0-9_./][A-Za-z0-9_./@+,=()-]*(?::[A-Za-z0-9_./@+,=()-]+)*$/;

function yamlQuote(s) {
	// JSON's escapes are all valid in YAML double quotes; YAML also wants
	// DEL, C1 controls, the line/paragraph separators and BOM escaped.
	return JSON.stringify(s).replace(/[\u007f-\u009f\u2028\u2029\ufeff]/g,
	    (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

function yamlScalar(v) {
	if (v instanceof YamlRaw)
		return v.text;
	if (v === null || v === undefined)
		return 'null';
	switch (typeof v) {
	case 'boolean':
		return v ? 'true' : 'false';
	case 'bigint':
		return String(v);
	case 'number':
		if (Number.isNaN(v))
			return '.nan';
		if (!Number.isFinite(v))
			return v > 0 ? '.inf' : '-.inf';
		// YAML 1.1 floats need a dot before the exponent.
		return String(v).replace(/^(-?\d+)e/, '$1.0e');
	case 'string':
		if (YAML_PLAIN.test(v) && !YAML_RESERVED.test(v) &&
		    !YAML_NUMERIC.test(v))
			return v;
		return yamlQuote(v);
	default:
		throw new TypeError(`cannot write a ${typeof v} as YAML`);
	}
}

const isMap = (v) => v !== null && typeof v === 'object' &&
    !Array.isArray(v) && !(v instanceof YamlRaw);

function yamlLines(v, indent) {
	const pad = ' '.repeat(indent);
	const out = [];
	if (Array.isArray(v)) {
		for (const item of v) {
			if (isMap(item) && Object.keys(item).length > 0) {
				// "- k: v" then the other keys under k.
				const sub = yamlLines(item, indent + 2);
				sub[0] = pad + '- ' + sub[0].slice(indent + 2);
				out.push(...sub);
			} else if (Array.isArray(item) && item.length > 0) {
				out.push(pad + '-');
				out.push(...yamlLines(item, indent + 2));
			} else {
				out.push(pad + '- ' + yamlInline(item));
			}
		}
		return out;
	}
	for (const [k, val] of Object.entries(v)) {
		if (val === undefined)
			continue;
		const key = yamlScalar(String(k));
		if ((isMap(val) && Object.keys(val).length > 0) ||
		    (Array.isArray(val) && val.length > 0)) {
			out.push(pad + key + ':');
			out.push(...yamlLines(val, indent + 2));
		} else {
			out.push(pad + key + ': ' + yamlInline(val));
		}
	}
	return out;
}

function yamlInline(v) {
	if (Array.isArray(v))
		return '[]';	// only ever called for empty ones
	if (isMap(v))
		return '{}';
	return yamlScalar(v);
}

/* Block-style YAML for maps, lists and scalars. */
export function toYaml(obj) {
	if (!isMap(obj) && !Array.isArray(obj))
		return yamlScalar(obj) + '\n';
	const lines = yamlLines(obj, 0);
	return lines.length ? lines.join('\n') + '\n' : '{}\n';
}

/* Writes obj as YAML to dir/name and returns the path. */
export function writeConfig(dir, obj, name = 'mcprelay.yaml') {
	const file = path.join(dir, name);
	fs.writeFileSync(file, toYaml(obj));
	return file;
}

// ---- configuration --------------------------------------------------------

function deepMerge(a, b) {
	if (!isMap(a) || !isMap(b))
		return b === undefined ? a : b;
	const out = { ...a };
	for (const [k, v] of Object.entries(b))
		out[k] = deepMerge(a[k], v);
	return out;
}

/* A stdio server entry running the demo server with these flags. */
export function demoServer(args = [], extra = {}) {
	return { type: 'stdio', command: bin.demo, args: args.map(String),
	    ...extra };
}

/*
 * The configuration essentials: debug logging, the Unix socket and the
 * control socket in dir, the test retry policy (fast, no jitter).
 * listen.http is filled in by startDaemon.  Everything in over is merged
 * over it (maps deeply, anything else replaced).
 */
export function baseConfig(dir, over = {}) {
	return deepMerge({
		log: { level: 'debug' },
		listen: {
			unix: { path: path.join(dir, 'mcp.sock'),
			    mode: yamlRaw('0600') },
		},
		control: { socket: path.join(dir, 'control.sock') },
		defaults: {
			retry: { max_retries: 3, initial_delay: '0.2s',
			    max_delay: '2s', backoff_factor: 2.0,
			    jitter: false },
			circuit_breaker: { failure_threshold: 5,
			    open_duration: '1s', max_open_duration: '5s' },
			request_timeout: '10s',
			queue_limit: 64,
			queue_timeout: '5s',
		},
		servers: {},
	}, over);
}

// ---- the daemon -------------------------------------------------------------

let tagSeq = 0;
let currentScope = null;	// the running itest(), for logs and cleanup

class Daemon {
	constructor(fields) {
		Object.assign(this, fields);
		this.stopped = false;
	}

	/* Endpoints; no name = the aggregate. */
	mcpUrl(server) {
		return server ? `${this.url}/servers/${encodeURIComponent(server)}/mcp`
		    : `${this.url}/mcp`;
	}

	sseUrl(server) {
		return server ? `${this.url}/servers/${encodeURIComponent(server)}/sse`
		    : `${this.url}/sse`;
	}

	log() {
		try {
			return fs.readFileSync(this.logPath, 'utf8');
		} catch {
			return '';
		}
	}

	running() {
		return this.child.exitCode === null && this.child.signalCode === null;
	}

	/* Upstream processes (and anything else) still carrying our tag. */
	processes() {
		return findTaggedProcesses(this.tag)
		    .filter((p) => p.pid !== this.pid);
	}

	/*
	 * SIGTERM, wait, SIGKILL fallback.  Asserts a clean exit (status 0)
	 * and that no upstream outlives the daemon by more than a few seconds.
	 * { check: false } only cleans up.
	 */
	async stop({ timeout = 10000 * slow, check = true } = {}) {
		if (this.stopped)
			return this.exit;
		this.stopped = true;
		const problems = [];
		if (this.running()) {
			killQuietly(this.pid, 'SIGTERM');
			const t = setTimeout(() => {
				problems.push(`did not exit within ${timeout} ms ` +
				    'of SIGTERM: killed');
				killQuietly(-this.pid);
				killQuietly(this.pid);
			}, timeout);
			await this.exited;
			clearTimeout(t);
		} else if (check) {
			problems.push('had exited before stop()');
		}
		const { code, signal } = await this.exited;
		if (problems.length === 0 && (code !== 0 || signal !== null))
			problems.push(`exited with ${signal ?? 'status ' + code}` +
			    ', want status 0');
		killQuietly(-this.pid);	// anything left in its group
		let left = [];
		try {
			await waitFor(() => (left = this.processes()).length === 0,
			    { timeout: 3000, message: 'upstreams to exit' });
		} catch {
			problems.push('left processes behind: ' + left.map((p) =>
			    `${p.pid} (${p.cmd})`).join(', '));
			for (const p of left)
				killQuietly(p.pid);
		}
		live.children.delete(this.child);
		live.tags.delete(this.tag);
		this.exit = { code, signal };
		if (check && problems.length)
			assert.fail(`mcprelayd ${problems.join('; ')}\n` +
			    logTail(this.log()));
		return this.exit;
	}
}

function logTail(text, lines = 80) {
	const all = text.split('\n');
	return `--- mcprelayd log (last ${Math.min(lines, all.length)} lines) ---\n` +
	    all.slice(-lines).join('\n');
}

/*
 * Starts mcprelayd -f -c FILE in dir (a new temp dir if not given) with
 * stdout and stderr in dir/mcprelayd.log, and waits until its HTTP port
 * (and Unix socket, when configured) accept connections.  config is an
 * object (see baseConfig) or a path; as an object it gets listen.http =
 * 127.0.0.1:<free port> unless it has one, and every stdio server gets
 * MCPRELAY_ITEST_TAG in its env so that stop() can find stray upstreams.
 */
export async function startDaemon({ t, dir, config, env = {}, args = [],
    readyTimeout = 10000 * slow } = {}) {
	dir ??= tmpdir(t);
	const tag = `${process.pid}-${++tagSeq}-${Math.random().toString(36).slice(2, 10)}`;
	let configPath, port, socketPath, controlPath;
	if (typeof config === 'string') {
		configPath = config;
		const m = /^\s*http:\s*"?[\w.[\]:]*:(\d+)"?\s*$/m
		    .exec(fs.readFileSync(config, 'utf8'));
		port = m ? Number(m[1]) : undefined;
	} else {
		const cfg = structuredCloneConfig(config ?? baseConfig(dir));
		cfg.listen ??= {};
		if (cfg.listen.http === undefined)
			cfg.listen.http = `127.0.0.1:${await freePort()}`;
		// The long form: {address, tokens_file}.
		const m = /:(\d+)$/.exec(String(cfg.listen.http?.address ??
		    cfg.listen.http));
		port = m ? Number(m[1]) : undefined;
		socketPath = cfg.listen.unix?.path;
		controlPath = cfg.control?.socket || undefined;
		for (const s of Object.values(cfg.servers ?? {}))
			if (s && (s.type ?? 'stdio') === 'stdio')
				s.env = { ...(s.env ?? {}), MCPRELAY_ITEST_TAG: tag };
		configPath = writeConfig(dir, cfg);
	}
	if (!fs.existsSync(bin.mcprelayd))
		throw new Error(`no daemon binary at ${bin.mcprelayd}: build ` +
		    'first (top_builddir=' + builddir + ')');

	const logPath = path.join(dir, 'mcprelayd.log');
	const fd = fs.openSync(logPath, 'a');
	const argv = [bin.mcprelayd, '-f', '-c', configPath, ...args];
	if (wrapper.length)
		argv.unshift(...wrapper);
	const child = spawn(argv[0], argv.slice(1), {
		cwd: dir,
		env: { ...process.env, ...env, MCPRELAY_ITEST_TAG: tag },
		stdio: ['ignore', fd, fd],
		detached: true,	// its own group: kill(-pid) reaches stragglers
	});
	fs.closeSync(fd);
	live.children.add(child);
	live.tags.add(tag);
	const exited = new Promise((resolve) => {
		child.once('exit', (code, signal) => resolve({ code, signal }));
		child.once('error', (err) => resolve({ code: -1, signal: null,
		    error: err }));
	});
	const d = new Daemon({ child, pid: child.pid, tag, dir, configPath,
	    logPath, port, socketPath, exited,
	    url: port ? `http://127.0.0.1:${port}` : undefined });
	if (t)
		t.after(() => d.stop({ check: false }));
	currentScope?.daemons.push(d);

	try {
		await waitFor(async () => {
			if (!d.running()) {
				const { code, signal, error } = await exited;
				throw Object.assign(new Error('mcprelayd exited ' +
				    'during start-up: ' + (error?.message ??
				    signal ?? `status ${code}`)), { fatal: true });
			}
			if (port && !await canConnect({ host: '127.0.0.1', port }))
				return false;
			if (socketPath && !await canConnect({ path: socketPath }))
				return false;
			// Opened last; slow under valgrind.
			if (controlPath && !await canConnect({ path: controlPath }))
				return false;
			return true;
		}, { timeout: readyTimeout, interval: 50,
		    message: `mcprelayd to listen on ${port ? 'port ' + port : ''}` +
		    `${socketPath ? ' ' + socketPath : ''}` });
	} catch (e) {
		await d.stop({ check: false });
		throw new Error(`${e.message}\n` +
		    `config ${configPath}:\n${fs.readFileSync(configPath, 'utf8')}` +
		    logTail(d.log()));
	}
	return d;
}

/* structuredClone, keeping YamlRaw values. */
function structuredCloneConfig(v) {
	if (v instanceof YamlRaw)
		return v;
	if (Array.isArray(v))
		return v.map(structuredCloneConfig);
	if (isMap(v))
		return Object.fromEntries(Object.entries(v).map(([k, x]) =>
		    [k, structuredCloneConfig(x)]));
	return v;
}

/*
 * node:test's test() with the harness's rules: a 30 s bound, daemons
 * started inside are stopped at the end (asserting a clean exit), and on a
 * failure or a timeout their logs are printed.
 */
export function itest(name, opts, fn) {
	if (typeof opts === 'function')
		[fn, opts] = [opts, {}];
	const timeout = (opts.timeout ?? 30000) * slow;
	return test(name, { ...opts, timeout: timeout + 5000 }, async (t) => {
		const scope = { daemons: [], dirs: [], failed: false };
		const outer = currentScope;
		currentScope = scope;
		const dumpLogs = () => {
			for (const d of scope.daemons) {
				const text = `daemon ${d.pid} (${d.dir}, ` +
				    `${d.running() ? 'running' : 'exited'})\n` +
				    logTail(d.log(), 150);
				for (const line of text.split('\n'))
					t.diagnostic(line);
			}
		};
		// A failing subtest does not make fn throw: note it.
		const subtest = t.test.bind(t);
		t.test = (sname, sopts, sfn) => {
			if (typeof sopts === 'function')
				[sfn, sopts] = [sopts, {}];
			return subtest(sname, sopts, async (st) => {
				try {
					return await sfn(st);
				} catch (e) {
					scope.failed = true;
					throw e;
				}
			});
		};
		let timer;
		try {
			await Promise.race([
				fn(t),
				new Promise((_, reject) => {
					timer = setTimeout(() => reject(new Error(
					    `test timed out after ${timeout} ms`)),
					    timeout);
				}),
			]);
			clearTimeout(timer);
			if (scope.failed)
				dumpLogs();
			for (const d of scope.daemons)
				await d.stop();
		} catch (e) {
			clearTimeout(timer);
			if (!scope.failed)
				dumpLogs();
			throw e;
		} finally {
			currentScope = outer;
			for (const d of scope.daemons)
				await d.stop({ check: false });
			for (const remove of scope.dirs)
				remove();
		}
	});
}

// ---- Server-Sent Events -----------------------------------------------------

/*
 * An incremental text/event-stream parser (the WHATWG rules): feed() text
 * as it arrives, get back complete events {event, data, id, retry}.  id is
 * set only on events that carried an id field; lastEventId persists.
 * Events with no data (an MCP priming event) are returned too.
 */
export class SseParser {
	constructor() {
		this.buf = '';
		this.first = true;
		this.lastEventId = '';
		this.reset();
	}

	reset() {
		this.data = [];
		this.event = '';
		this.id = undefined;
		this.retry = undefined;
		this.fields = 0;
	}

	feed(text) {
		const events = [];
		this.buf += text;
		if (this.first && this.buf.length > 0) {
			if (this.buf.charCodeAt(0) === 0xfeff)
				this.buf = this.buf.slice(1);
			this.first = false;
		}
		let start = 0;
		const re = /\r\n|\r|\n/g;
		let m;
		while ((m = re.exec(this.buf)) !== null) {
			// A CR at the very end may be the first half of CRLF.
			if (m[0] === '\r' && m.index === this.buf.length - 1)
				break;
			this.line(this.buf.slice(start, m.index), events);
			start = m.index + m[0].length;
		}
		this.buf = this.buf.slice(start);
		return events;
	}

	/* At end of stream: a final CR ends a line; an unfinished event is
	 * dropped, as the spec says. */
	end() {
		const events = [];
		if (this.buf.endsWith('\r'))
			this.feed('\n').forEach((e) => events.push(e));
		this.buf = '';
		this.reset();
		return events;
	}

	line(line, events) {
		if (line === '') {
			if (this.fields > 0) {
				const ev = { event: this.event || 'message',
				    data: this.data.join('\n') };
				if (this.id !== undefined)
					ev.id = this.id;
				if (this.retry !== undefined)
					ev.retry = this.retry;
				events.push(ev);
			}
			this.reset();
			return;
		}
		if (line.startsWith(':'))
			return;
		const colon = line.indexOf(':');
		const field = colon === -1 ? line : line.slice(0, colon);
		let value = colon === -1 ? '' : line.slice(colon + 1);
		if (value.startsWith(' '))
			value = value.slice(1);
		switch (field) {
		case 'data':
			this.data.push(value);
			break;
		case 'event':
			this.event = value;
			break;
		case 'id':
			if (value.includes('\0'))
				return;
			this.id = this.lastEventId = value;
			break;
		case 'retry':
			if (!/^\d+$/.test(value))
				return;
			this.retry = Number(value);
			break;
		default:
			return;
		}
		this.fields++;
	}
}

// ---- MCP over Streamable HTTP -------------------------------------------------

export class McpError extends Error {
	constructor(error, reply) {
		super(`JSON-RPC error ${error.code}: ${error.message}` +
		    (error.data !== undefined ? ` ${JSON.stringify(error.data)}` : ''));
		this.code = error.code;
		this.data = error.data;
		this.rpcError = error;
		this.reply = reply;
	}
}

const isRequest = (m) => m && typeof m.method === 'string' && 'id' in m;
const isNotification = (m) => m && typeof m.method === 'string' && !('id' in m);
const isResponse = (m) => m && !('method' in m) && ('result' in m || 'error' in m);

function headerObject(h) {
	const o = {};
	for (const [k, v] of Object.entries(h))
		if (v !== null && v !== undefined)
			o[k.toLowerCase()] = String(v);
	return o;
}

/*
 * One client of the Streamable HTTP endpoint.  Replies are plain objects:
 * { status, headers (a Headers), contentType, messages (every JSON-RPC
 * message received, in order), events (SSE events), body/json (non-SSE
 * bodies), response (the reply to our request), result, error }.
 * Nothing throws on HTTP or JSON-RPC errors except call()/callTool().
 *
 * Server-to-client requests arriving on a stream are answered by POSTing
 * the result of onRequest(msg) (or its thrown {code, message}); without an
 * onRequest they get -32601.  Each such answer is recorded in .answered.
 */
export class McpSession {
	constructor(url, { headers = {}, onRequest, onMessage,
	    timeout = 15000 * slow } = {}) {
		this.url = url;
		this.extraHeaders = headers;
		this.onRequest = onRequest;
		this.onMessage = onMessage;
		this.timeout = timeout;
		this.sessionId = null;
		this.protocolVersion = null;
		this.nextId = 1;
		this.answered = [];
		this.lastEventId = null;
	}

	headers(extra = {}) {
		return headerObject({
			'content-type': 'application/json',
			accept: 'application/json, text/event-stream',
			'mcp-session-id': this.sessionId,
			'mcp-protocol-version': this.protocolVersion,
			...this.extraHeaders,
			...extra,
		});
	}

	/*
	 * initialize, then notifications/initialized (sendInitialized: false
	 * to skip it).  Returns the initialize reply; .initialized holds the
	 * notification's reply.
	 */
	async initialize({ protocolVersion = '2025-11-25', capabilities = {},
	    clientInfo = { name: 'mcprelay-itest', version: '1.0.0' },
	    sendInitialized = true, headers } = {}) {
		const reply = await this.request('initialize',
		    { protocolVersion, capabilities, clientInfo }, { headers });
		if (reply.result) {
			this.sessionId = reply.headers.get('mcp-session-id');
			this.protocolVersion = reply.result.protocolVersion;
		}
		this.initReply = reply;
		if (reply.result && sendInitialized)
			this.initialized = await this.notify('notifications/initialized');
		return reply;
	}

	/*
	 * POST one message (an object, or a string sent as it is).  wantId
	 * names the response to wait for on an SSE stream; after it arrives,
	 * reading stops (linger: ms to keep reading for more, to catch
	 * duplicates).
	 */
	async post(message, { headers, onMessage, onRequest, timeout,
	    wantId, linger = 0 } = {}) {
		const body = typeof message === 'string' ? message :
		    JSON.stringify(message);
		if (wantId === undefined && isRequest(message))
			wantId = message.id;
		const ac = new AbortController();
		const ms = timeout ?? this.timeout;
		const timer = setTimeout(() => ac.abort(new Error(
		    `no complete reply within ${ms} ms`)), ms);
		const reply = { messages: [], events: [], invalid: [] };
		try {
			const res = await fetch(this.url, { method: 'POST',
			    headers: this.headers(headers), body,
			    signal: ac.signal });
			reply.status = res.status;
			reply.headers = res.headers;
			reply.contentType = res.headers.get('content-type') ?? '';
			if (reply.contentType.startsWith('text/event-stream')) {
				await this.readSse(res, reply, { wantId, linger,
				    onMessage, onRequest });
			} else {
				reply.body = await res.text();
				if (reply.body !== '') {
					try {
						reply.json = JSON.parse(reply.body);
					} catch {
						reply.invalid.push(reply.body);
					}
				}
				const msgs = Array.isArray(reply.json) ? reply.json :
				    reply.json !== undefined ? [reply.json] : [];
				for (const m of msgs)
					this.take(m, reply, wantId, { onMessage,
					    onRequest });
			}
		} catch (e) {
			const what = `POST ${this.url}` +
			    (isRequest(message) ? ` ${message.method}` : '');
			if (ac.signal.aborted)
				throw new Error(`${what}: ${ac.signal.reason.message}` +
				    ` (status ${reply.status}, got ${reply.messages.length}` +
				    ` messages: ${JSON.stringify(reply.messages).slice(0, 500)})`);
			// undici says "fetch failed" or "terminated"; the cause
			// says what happened (ECONNREFUSED, "other side closed").
			throw new Error(`${what}: ${e.message}` + (e.cause ?
			    `: ${e.cause.code ?? ''} ${e.cause.message}` : '') +
			    (reply.status ? ` (after status ${reply.status})` : ''),
			    { cause: e });
		} finally {
			clearTimeout(timer);
		}
		await Promise.all(reply.pendingAnswers ?? []);
		delete reply.pendingAnswers;
		// A lone error without our id (-32700 has id null) is the reply.
		if (!reply.response) {
			const rs = reply.messages.filter(isResponse);
			if (rs.length === 1 && (wantId === undefined ||
			    rs[0].id === null || rs[0].id === undefined))
				reply.response = rs[0];
		}
		reply.result = reply.response?.result;
		reply.error = reply.response?.error;
		return reply;
	}

	take(m, reply, wantId, { onMessage, onRequest }) {
		reply.messages.push(m);
		if (isResponse(m)) {
			if (wantId !== undefined && m.id === wantId) {
				if (reply.response)
					reply.duplicates = (reply.duplicates ?? 0) + 1;
				else
					reply.response = m;
			}
			return;
		}
		(onMessage ?? this.onMessage)?.(m);
		if (isRequest(m)) {
			reply.pendingAnswers ??= [];
			reply.pendingAnswers.push(this.answer(m,
			    onRequest ?? this.onRequest));
		}
	}

	async answer(m, onRequest) {
		let response;
		try {
			if (!onRequest)
				throw { code: ERR.METHOD_NOT_FOUND,
				    message: `the test client does not handle ${m.method}` };
			response = { jsonrpc: '2.0', id: m.id,
			    result: await onRequest(m) };
		} catch (e) {
			response = { jsonrpc: '2.0', id: m.id, error: {
			    code: e.code ?? ERR.INTERNAL,
			    message: e.message ?? String(e) } };
		}
		const r = await this.post(response);
		this.answered.push({ request: m, response, status: r.status });
	}

	async readSse(res, reply, { wantId, linger, onMessage, onRequest }) {
		const parser = new SseParser();
		const decoder = new TextDecoder();
		const reader = res.body.getReader();
		let stopAt = Infinity;
		let lingerTimer;
		try {
			for (;;) {
				if (Date.now() >= stopAt)
					break;
				const { value, done } = await reader.read();
				const text = done ? decoder.decode() :
				    decoder.decode(value, { stream: true });
				const events = parser.feed(text);
				if (done)
					events.push(...parser.end());
				for (const ev of events) {
					reply.events.push(ev);
					if (ev.id !== undefined)
						this.lastEventId = ev.id;
					if (ev.data === '')
						continue;
					let m;
					try {
						m = JSON.parse(ev.data);
					} catch {
						reply.invalid.push(ev.data);
						continue;
					}
					this.take(m, reply, wantId,
					    { onMessage, onRequest });
				}
				if (done)
					break;
				if (reply.response && stopAt === Infinity) {
					if (!linger)
						break;
					stopAt = Date.now() + linger;
					lingerTimer = setTimeout(() =>
					    reader.cancel().catch(() => {}), linger);
				}
			}
		} catch (e) {
			if (!(reply.response && stopAt !== Infinity))
				throw e;
		} finally {
			clearTimeout(lingerTimer);
			reader.cancel().catch(() => {});
		}
	}

	/* A request with the next id; see post() for the reply. */
	request(method, params, opts = {}) {
		const msg = { jsonrpc: '2.0', id: opts.id ?? this.nextId++, method };
		if (params !== undefined)
			msg.params = params;
		return this.post(msg, opts);
	}

	notify(method, params, opts = {}) {
		const msg = { jsonrpc: '2.0', method };
		if (params !== undefined)
			msg.params = params;
		return this.post(msg, opts);
	}

	/* The result, or throws McpError / an Error naming the HTTP status. */
	async call(method, params, opts) {
		const reply = await this.request(method, params, opts);
		if (reply.error)
			throw new McpError(reply.error, reply);
		if (reply.status !== 200 || !reply.response)
			throw new Error(`${method}: HTTP ${reply.status} ` +
			    `${reply.contentType}: ${reply.body ??
			    JSON.stringify(reply.messages)}`.slice(0, 800));
		return reply.result;
	}

	callTool(name, args = {}, opts = {}) {
		const params = { name, arguments: args };
		if (opts.progressToken !== undefined)
			params._meta = { progressToken: opts.progressToken };
		return this.call('tools/call', params, opts);
	}

	/*
	 * The GET stream for server-initiated messages.  Resolves once the
	 * response headers are in; messages then collect in .messages.
	 */
	async openGet({ lastEventId, headers, onMessage, onRequest,
	    timeout = 5000 * slow } = {}) {
		const ac = new AbortController();
		const timer = setTimeout(() => ac.abort(new Error(
		    `no GET response headers within ${timeout} ms`)), timeout);
		const h = this.headers({ 'content-type': null,
		    accept: 'text/event-stream',
		    'last-event-id': lastEventId ?? null, ...headers });
		let res;
		try {
			res = await fetch(this.url, { method: 'GET', headers: h,
			    signal: ac.signal });
		} finally {
			clearTimeout(timer);
		}
		const stream = {
			status: res.status,
			headers: res.headers,
			contentType: res.headers.get('content-type') ?? '',
			messages: [],
			events: [],
			invalid: [],
			ended: false,
			close: () => {
				live.closers.delete(stream.close);
				ac.abort(new Error('closed'));
			},
			/* The first message (after index from) that pred accepts. */
			waitForMessage: (pred, { timeout: ms = 5000, from = 0 } = {}) =>
			    waitFor(() => stream.messages.slice(from).find(pred),
			    { timeout: ms, interval: 20,
			    message: 'a message on the GET stream' }),
		};
		live.closers.add(stream.close);
		if (!stream.contentType.startsWith('text/event-stream')) {
			stream.body = await res.text();
			stream.ended = true;
			live.closers.delete(stream.close);
			return stream;
		}
		stream.done = this.readSse(res, stream, { wantId: undefined,
		    linger: 0, onMessage, onRequest }).catch((e) => {
			if (!ac.signal.aborted)
				stream.error = e;
		}).finally(() => {
			stream.ended = true;
		});
		return stream;
	}

	async delete({ headers } = {}) {
		const res = await fetch(this.url, { method: 'DELETE',
		    headers: this.headers({ 'content-type': null, accept: null,
		    ...headers }), signal: AbortSignal.timeout(this.timeout) });
		return { status: res.status, headers: res.headers,
		    body: await res.text() };
	}
}

/* A new session, initialized; throws when initialize does not succeed. */
export async function initialize(url, opts = {}) {
	const s = new McpSession(url, opts);
	const reply = await s.initialize(opts);
	if (reply.status !== 200 || !reply.result)
		throw new Error(`initialize at ${url}: HTTP ${reply.status}: ` +
		    (reply.error ? JSON.stringify(reply.error) :
		    reply.body ?? JSON.stringify(reply.messages)));
	return s;
}

/*
 * One raw HTTP exchange over a fresh connection (node:http, so a server
 * that answers before reading the whole body is still heard).  Resolves to
 * { status, headers, body, json }.
 */
export function httpRequest(url, { method = 'POST', headers = {}, body,
    timeout = 10000 * slow } = {}) {
	return new Promise((resolve, reject) => {
		const req = http.request(url, { method, headers: headerObject(headers),
		    agent: false, timeout });
		let settled = false;
		req.on('response', (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('error', () => {});
			const finish = () => {
				if (settled)
					return;
				settled = true;
				const text = Buffer.concat(chunks).toString('utf8');
				let json;
				try {
					json = text ? JSON.parse(text) : undefined;
				} catch { /* not JSON */ }
				resolve({ status: res.statusCode, headers: res.headers,
				    body: text, json });
			};
			res.on('end', finish);
			res.on('close', finish);
		});
		req.on('timeout', () => req.destroy(new Error(
		    `${method} ${url}: no response within ${timeout} ms`)));
		req.on('error', (e) => {
			if (!settled) {
				settled = true;
				reject(e);
			}
		});
		if (body !== undefined)
			req.end(typeof body === 'string' || Buffer.isBuffer(body) ?
			    body : JSON.stringify(body));
		else
			req.end();
	});
}

// ---- NDJSON over the Unix socket ------------------------------------------------

/*
 * One connection to the daemon's Unix socket: a JSON-RPC message per line
 * each way.  Lines that are not JSON arrive as { raw }.  Messages are kept
 * in .received; next() takes them in order.
 */
export class NdjsonClient {
	constructor(sock, { onRequest } = {}) {
		this.sock = sock;
		this.onRequest = onRequest;
		this.received = [];
		this.queue = [];
		this.buf = '';
		this.nextId = 1;
		this.closed = false;
		this.close = this.close.bind(this);
		live.closers.add(this.close);
		sock.setEncoding('utf8');
		sock.on('data', (d) => this.data(d));
		sock.on('error', (e) => {
			this.error = e;
		});
		sock.on('close', () => {
			this.closed = true;
		});
	}

	data(text) {
		this.buf += text;
		let nl;
		while ((nl = this.buf.indexOf('\n')) !== -1) {
			const line = this.buf.slice(0, nl).replace(/\r$/, '');
			this.buf = this.buf.slice(nl + 1);
			if (line.trim() === '')
				continue;
			let m;
			try {
				m = JSON.parse(line);
			} catch {
				m = { raw: line };
			}
			this.received.push(m);
			if (isRequest(m) && this.onRequest) {
				Promise.resolve().then(() => this.onRequest(m)).then(
				    (result) => this.send({ jsonrpc: '2.0', id: m.id,
				    result }), (e) => this.send({ jsonrpc: '2.0',
				    id: m.id, error: { code: e.code ?? ERR.INTERNAL,
				    message: e.message ?? String(e) } }));
				continue;
			}
			this.queue.push(m);
		}
	}

	/* An object as one line, or a string as it is (a newline added). */
	send(msg) {
		const text = typeof msg === 'string' ? msg : JSON.stringify(msg);
		this.sock.write(text.endsWith('\n') ? text : text + '\n');
	}

	/* The first queued message that filter accepts, removed from the queue. */
	async next({ timeout = 5000 * slow, filter = () => true } = {}) {
		return waitFor(() => {
			const i = this.queue.findIndex(filter);
			if (i !== -1)
				return { m: this.queue.splice(i, 1)[0] };
			if (this.closed)
				throw new Error('the daemon closed the connection');
			return null;
		}, { timeout, interval: 10, message: 'a line from the socket' })
		    .then((x) => x.m);
	}

	/* The full response message to a new request. */
	request(method, params, { timeout = 10000 * slow } = {}) {
		const id = this.nextId++;
		const msg = { jsonrpc: '2.0', id, method };
		if (params !== undefined)
			msg.params = params;
		this.send(msg);
		return this.next({ timeout,
		    filter: (m) => isResponse(m) && m.id === id });
	}

	notify(method, params) {
		const msg = { jsonrpc: '2.0', method };
		if (params !== undefined)
			msg.params = params;
		this.send(msg);
	}

	async call(method, params, opts) {
		const r = await this.request(method, params, opts);
		if (r.error)
			throw new McpError(r.error, r);
		return r.result;
	}

	async initialize({ protocolVersion = '2025-11-25', capabilities = {},
	    clientInfo = { name: 'mcprelay-itest', version: '1.0.0' } } = {}) {
		const result = await this.call('initialize',
		    { protocolVersion, capabilities, clientInfo });
		this.notify('notifications/initialized');
		return result;
	}

	close() {
		live.closers.delete(this.close);
		this.sock.destroy();
	}
}

export function connectUnix(socketPath, { timeout = 5000 * slow,
    onRequest } = {}) {
	return new Promise((resolve, reject) => {
		const sock = net.connect({ path: socketPath });
		const timer = setTimeout(() => {
			sock.destroy();
			reject(new Error(`connect ${socketPath}: timed out`));
		}, timeout);
		sock.once('connect', () => {
			clearTimeout(timer);
			resolve(new NdjsonClient(sock, { onRequest }));
		});
		sock.once('error', (e) => {
			clearTimeout(timer);
			reject(e);
		});
	});
}

// ---- upstream processes -------------------------------------------------------------

/* The pid of the newest start in a demo --starts-log (or a pidwrap file). */
export function lastStartPid(file) {
	const lines = readLines(file);
	if (lines.length === 0)
		throw new Error(`${file}: no start recorded`);
	const last = lines[lines.length - 1];
	return /^\d+$/.test(last.trim()) ? Number(last) : JSON.parse(last).pid;
}

/* SIGKILL pid and wait until it is gone (reaped or a zombie). */
export async function killHard(pid) {
	process.kill(pid, 'SIGKILL');
	await waitFor(() => !processAlive(pid), { timeout: 3000, interval: 10,
	    message: `pid ${pid} to die` });
}
