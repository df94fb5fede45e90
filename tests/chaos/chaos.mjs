// The chaos suite: 64 client sessions over Streamable HTTP, legacy
// HTTP+SSE and the Unix socket call tools through mcprelayd for a bounded
// time while a fault controller with a fixed seed disturbs the upstreams
// (a stdio demo server and an HTTP one behind an HTTP fault proxy and a TCP
// fault proxy).  Every tool call carries a unique id in its arguments and
// the upstreams log every execution; the checker then asserts, Jepsen
// style, that every request got exactly one response, that no
// non-idempotent call ran twice, that every success the client saw was
// executed, that "may or may not have run" answers stay below a bound, and
// that the daemon's RSS and descriptors come back to their baseline.
//
// node tests/chaos/chaos.mjs [--seconds N] [--seed S]  (CHAOS_SECONDS,
// CHAOS_SEED), or through chaos.test.mjs in make check.  docs/chaos.md.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
	baseConfig, bin, demoServer, freePort, lastStartPid, readLines,
	sleep, startDaemon, waitFor,
} from '../integration/lib/harness.mjs';
import { startFaultProxy } from '../integration/lib/fault-proxy.mjs';
import { startTcpFaultProxy } from './tcp-fault-proxy.mjs';
import { LegacySseClient, StreamableClient, UnixClient } from './clients.mjs';

/* The bounds the checker holds the run to (docs/chaos.md). */
export const BOUNDS = Object.freeze({
	// -32015 answers, as a share of all tool calls.
	maybeRanShare: 0.02,
	// Descriptors after the run may exceed the baseline by this many.
	fdSlack: 2,
	// RSS after the run may exceed the baseline by this many KiB.
	rssSlackKiB: 8 * 1024,
});

/* mulberry32: a small PRNG, so a seed replays the same choices. */
export function rng(seed) {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6D2B79F5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

const NON_IDEMPOTENT = new Set(['increment']);

/*
 * An AddressSanitizer build keeps freed memory in its quarantine (256 MiB
 * by default) and its RSS says nothing about leaks; LeakSanitizer checks
 * those when the daemon exits (a leak fails its clean exit).
 */
function sanitized(file) {
	return fs.readFileSync(file).includes('__asan_init');
}

function procStatus(pid) {
	const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
	return {
		rssKiB: Number(/^VmRSS:\s+(\d+)/m.exec(text)[1]),
		fds: fs.readdirSync(`/proc/${pid}/fd`).length,
	};
}

/* The HTTP demo server on a fixed port, restartable. */
class HttpUpstream {
	constructor(port, execLog, dir) {
		this.port = port;
		this.execLog = execLog;
		this.logPath = path.join(dir, 'http-demo.log');
		this.starts = 0;
	}

	async start() {
		const fd = fs.openSync(this.logPath, 'a');
		this.child = spawn(bin.demo, ['--http', `127.0.0.1:${this.port}`,
		    '--name', 'remote', '--exec-log', this.execLog,
		    '--delay-ms', '5'], { stdio: ['ignore', fd, fd] });
		fs.closeSync(fd);
		this.starts++;
		this.exited = new Promise((r) => this.child.once('exit', r));
		await waitFor(() => fs.readFileSync(this.logPath, 'utf8')
		    .split('listening on').length - 1 >= this.starts,
		    { timeout: 10000, message: 'the HTTP demo server to listen' });
	}

	signal(sig) {
		try {
			this.child.kill(sig);
		} catch { /* gone */ }
	}

	async kill() {
		this.signal('SIGCONT');
		this.signal('SIGKILL');
		await this.exited;
	}
}

/* The clients: 64 sessions, three transports, two servers. */
function makeClients(d, timeoutMs) {
	const plan = [
		['http', 'local', 12], ['http', 'remote', 12],
		['sse', 'local', 8], ['sse', 'remote', 8],
		['unix', 'local', 12], ['unix', 'remote', 12],
	];
	const clients = [];
	for (const [kind, server, n] of plan)
		for (let i = 0; i < n; i++) {
			const c = kind === 'http' ?
			    new StreamableClient(d.mcpUrl(server), { timeoutMs }) :
			    kind === 'sse' ?
			    new LegacySseClient(d.sseUrl(server), { timeoutMs }) :
			    new UnixClient(d.socketPath, server, { timeoutMs });
			c.name = `${kind}-${server}-${i}`;
			c.server = server;
			clients.push(c);
		}
	return clients;
}

/* One client's loop: sequential tool calls until the end. */
async function clientLoop(c, seed, endAt, records) {
	const random = rng(seed);
	let n = 0;
	while (Date.now() < endAt) {
		const r = random();
		const tool = r < 0.5 ? 'increment' : r < 0.85 ? 'echo' :
		    'sleep_ms';
		const rid = `${c.name}-${n++}`;
		const args = tool === 'increment' ? { by: 1, rid } :
		    tool === 'echo' ? { text: rid, rid } :
		    { ms: 20 + Math.floor(random() * 200), rid };
		const rec = { rid, client: c.name, kind: c.kind,
		    server: c.server, tool, t0: Date.now() };
		records.push(rec);
		const m = await c.call('tools/call', { name: tool,
		    arguments: args });
		rec.t1 = Date.now();
		if (m.transportError) {
			rec.outcome = 'transport';
			rec.detail = m.transportError;
			break;	// this session is unusable now
		} else if (m.error) {
			rec.outcome = 'error';
			rec.code = m.error.code;
			rec.detail = m.error.message;
		} else {
			rec.outcome = m.result?.isError ? 'tool-error' : 'ok';
			rec.text = m.result?.content?.[0]?.text;
		}
	}
}

/*
 * The fault controller: one fault at a time, chosen by the seeded PRNG,
 * held for a while, then undone.  Returns the list of faults applied.
 */
async function faultLoop({ random, endAt, stdio, httpUp, httpProxy, tcp,
    log }) {
	const faults = [];
	const between = () => sleep(200 + Math.floor(random() * 800));
	const hold = (lo, hi) => sleep(lo + Math.floor(random() * (hi - lo)));
	const isPost = (r) => r.method === 'POST';
	const kinds = [
		'kill-stdio', 'stall-stdio', 'kill-http', 'stall-http',
		'http-503', 'http-429', 'expire-session', 'http-reset-mid',
		'http-reset-before', 'tcp-latency', 'tcp-bandwidth',
		'tcp-reset', 'tcp-slice', 'tcp-hang', 'tcp-limit',
	];
	while (Date.now() < endAt) {
		await between();
		if (Date.now() >= endAt)
			break;
		const kind = kinds[Math.floor(random() * kinds.length)];
		const f = { kind, t: Date.now() };
		faults.push(f);
		log?.(`fault ${kind}`);
		switch (kind) {
		case 'kill-stdio':
			try {
				process.kill(lastStartPid(stdio.startsLog),
				    'SIGKILL');
			} catch { /* already gone */ }
			break;
		case 'stall-stdio': {
			const pid = lastStartPid(stdio.startsLog);
			try {
				process.kill(pid, 'SIGSTOP');
				await hold(500, 4000);
			} finally {
				try {
					process.kill(pid, 'SIGCONT');
				} catch { /* gone */ }
			}
			break;
		}
		case 'kill-http':
			await httpUp.kill();
			await hold(100, 2000);
			await httpUp.start();
			break;
		case 'stall-http':
			httpUp.signal('SIGSTOP');
			await hold(500, 4000);
			httpUp.signal('SIGCONT');
			break;
		case 'http-503':
		case 'http-429':
		case 'expire-session':
		case 'http-reset-mid':
		case 'http-reset-before': {
			const count = 1 + Math.floor(random() * 4);
			const rule = kind === 'http-503' ?
			    { status: 503, when: isPost } :
			    kind === 'http-429' ? { status: 429, when: isPost,
			    headers: { 'retry-after': '1' } } :
			    kind === 'expire-session' ? { status: 404,
			    when: (r) => r.headers['mcp-session-id'] !==
			    undefined, body: 'session expired' } :
			    { reset: kind === 'http-reset-mid' ? 'mid' : 'before',
			    when: isPost };
			httpProxy.rule({ ...rule, count });
			f.count = count;
			await hold(300, 2000);
			httpProxy.rules.length = 0;
			break;
		}
		case 'tcp-reset':
			tcp.reset();
			break;
		default: {
			const mode = kind === 'tcp-latency' ? { kind: 'latency',
			    ms: 20 + Math.floor(random() * 300) } :
			    kind === 'tcp-bandwidth' ? { kind: 'bandwidth',
			    bps: 500 + Math.floor(random() * 8000) } :
			    kind === 'tcp-slice' ? { kind: 'slice' } :
			    kind === 'tcp-hang' ? { kind: 'hang' } :
			    { kind: 'limit', bytes: 50 + Math.floor(random() *
			    2000) };
			f.mode = mode;
			tcp.set(mode);
			await hold(300, 3000);
			tcp.set({ kind: 'pass' });
			if (kind === 'tcp-hang')
				tcp.reset();	// the half-open peers go away
			break;
		}
		}
	}
	return faults;
}

/* Executions from the upstreams' logs: rid -> [{server, tool}]. */
function readExecutions(files) {
	const byRid = new Map();
	const foreign = [];
	for (const [server, file] of Object.entries(files)) {
		for (const line of readLines(file)) {
			const e = JSON.parse(line);
			const rid = e.args?.rid;
			if (rid === undefined) {
				foreign.push({ server, ...e });
				continue;
			}
			if (!byRid.has(rid))
				byRid.set(rid, []);
			byRid.get(rid).push({ server, tool: e.tool });
		}
	}
	return { byRid, foreign };
}

/*
 * The checker.  Returns { failures: [...], figures: {...} }; failures is
 * empty when every promise held.
 */
export function check({ records, clients, execs, bounds = BOUNDS }) {
	const failures = [];
	const fail = (what, recs) => failures.push(`${what}: ${recs.length}` +
	    (recs.length ? ` (e.g. ${JSON.stringify(recs[0])})` : ''));
	const byOutcome = {};
	const byCode = {};
	let maybeRan = 0, maybeRanExecuted = 0, timeouts = 0;
	const noResponse = [], ranTwice = [], okNotRun = [], wrongServer = [],
	    badText = [], nonIdemTwice = [];
	const known = new Set();
	for (const r of records) {
		known.add(r.rid);
		byOutcome[r.outcome] = (byOutcome[r.outcome] ?? 0) + 1;
		if (r.outcome === 'error')
			byCode[r.code] = (byCode[r.code] ?? 0) + 1;
		const ex = execs.byRid.get(r.rid) ?? [];
		if (ex.some((e) => e.server !== r.server || e.tool !== r.tool))
			wrongServer.push({ ...r, ex });
		if (r.outcome === 'transport')
			noResponse.push(r);
		if (NON_IDEMPOTENT.has(r.tool) && ex.length > 1)
			nonIdemTwice.push({ ...r, executions: ex.length });
		if (r.outcome === 'ok') {
			if (ex.length === 0)
				okNotRun.push(r);
			if (NON_IDEMPOTENT.has(r.tool) && ex.length !== 1)
				ranTwice.push(r);
			if (r.tool === 'echo' && r.text !== r.rid)
				badText.push(r);
		}
		if (r.outcome === 'error' && r.code === -32015) {
			maybeRan++;
			if (ex.length > 0)
				maybeRanExecuted++;
		}
		if (r.outcome === 'error' && r.code === -32014)
			timeouts++;
	}
	const dups = clients.flatMap((c) => c.pending.dups.map((m) =>
	    ({ client: c.name, id: m.id })));
	const unknown = clients.flatMap((c) => c.pending.unknown.map((m) =>
	    ({ client: c.name, id: m.id })));
	const phantom = [...execs.byRid.keys()].filter((rid) => !known.has(rid));
	if (noResponse.length)
		fail('requests without a response', noResponse);
	if (dups.length)
		fail('responses beyond the first for one request', dups);
	if (unknown.length)
		fail('responses to no pending request', unknown);
	if (nonIdemTwice.length)
		fail('non-idempotent calls executed more than once', nonIdemTwice);
	if (okNotRun.length)
		fail('successes that were never executed', okNotRun);
	if (ranTwice.length)
		fail('non-idempotent successes not executed exactly once',
		    ranTwice);
	if (wrongServer.length)
		fail('executions by another server or tool', wrongServer);
	if (badText.length)
		fail('echo results with the wrong text', badText);
	if (phantom.length)
		fail('executions of requests no client sent',
		    phantom.map((rid) => ({ rid })));
	if (byOutcome['tool-error'])
		fail('tool errors', records.filter((r) =>
		    r.outcome === 'tool-error'));
	const total = records.length;
	const maybeShare = total ? maybeRan / total : 0;
	if (maybeShare > bounds.maybeRanShare)
		failures.push(`-32015 answers: ${maybeRan} of ${total} ` +
		    `(${(100 * maybeShare).toFixed(2)} %) > bound ` +
		    `${100 * bounds.maybeRanShare} %`);
	const byKind = {};
	for (const r of records)
		byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
	return {
		failures,
		figures: {
			calls: total, byTransport: byKind, byOutcome,
			errorsByCode: byCode, maybeRan, maybeRanExecuted,
			timeouts, executions: [...execs.byRid.values()]
			    .reduce((a, v) => a + v.length, 0),
			nonIdempotentCalls: records.filter((r) =>
			    NON_IDEMPOTENT.has(r.tool)).length,
		},
	};
}

/*
 * One run.  seconds: how long the clients call and the faults go on.
 * Returns { failures, figures }; throws only on set-up errors.
 */
export async function runChaos({ seconds = 35, seed = 7, dir, t, log,
    clientTimeoutMs = 60000 } = {}) {
	dir ??= fs.mkdtempSync('/tmp/mcprelay-chaos-');
	const execLocal = path.join(dir, 'exec-local.log');
	const execRemote = path.join(dir, 'exec-remote.log');
	const startsLocal = path.join(dir, 'starts-local.log');
	const httpUp = new HttpUpstream(await freePort(), execRemote, dir);
	await httpUp.start();
	const httpProxy = await startFaultProxy({
	    target: `http://127.0.0.1:${httpUp.port}` });
	const tcp = await startTcpFaultProxy({ port: httpProxy.port });
	const classes = ['connect_failure', 'reset', 'timeout',
	    'upstream_exit', 'http_5xx', 'http_429', 'session_expired',
	    'protocol_error'];
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		log: { level: 'info' },
		defaults: {
			retry: { max_retries: 50, initial_delay: '0.05s',
			    max_delay: '0.5s', backoff_factor: 2.0,
			    jitter: false },
			retry_on: classes,
			circuit_breaker: { enabled: false },
			request_timeout: '3s',
			queue_limit: 256,
			queue_timeout: '10s',
			health_check_interval: '2s',
		},
		servers: {
			local: demoServer(['--name', 'local', '--exec-log',
			    execLocal, '--starts-log', startsLocal,
			    '--delay-ms', '5']),
			remote: { type: 'http',
			    url: `http://127.0.0.1:${tcp.port}/mcp`,
			    trust_annotations: true },
		},
	}) });
	const stdio = { startsLog: startsLocal };
	const cleanup = async () => {
		await httpUp.kill();
		await tcp.close();
		await httpProxy.close();
	};
	try {
		// Warm-up: every path used once, then the baseline.
		const warm = makeClients(d, clientTimeoutMs);
		await Promise.all(warm.map((c) => c.open()));
		await Promise.all(warm.map((c) => c.call('tools/call',
		    { name: 'echo', arguments: { text: 'warm' } })));
		await Promise.all(warm.map((c) => c.close()));
		await settle(d);
		const before = procStatus(d.pid);
		log?.(`baseline: ${JSON.stringify(before)}`);

		const clients = makeClients(d, clientTimeoutMs);
		await Promise.all(clients.map((c) => c.open()));
		const records = [];
		const started = Date.now();
		const endAt = started + seconds * 1000;
		const faultsP = faultLoop({ random: rng(seed), endAt, stdio,
		    httpUp, httpProxy, tcp, log });
		await Promise.all(clients.map((c, i) =>
		    clientLoop(c, seed * 1000 + i, endAt, records)));
		const faults = await faultsP;
		const elapsed = (Date.now() - started) / 1000;
		await Promise.all(clients.map((c) => c.close()));
		await settle(d);
		const rssCompared = !sanitized(bin.mcprelayd);
		const after = await waitForBaseline(d.pid, before, rssCompared);
		const execs = readExecutions({ local: execLocal,
		    remote: execRemote });
		const result = check({ records, clients, execs });
		const f = result.figures;
		f.seconds = Number(elapsed.toFixed(1));
		f.seed = seed;
		f.faults = {};
		for (const x of faults)
			f.faults[x.kind] = (f.faults[x.kind] ?? 0) + 1;
		f.faultCount = faults.length;
		f.tcpProxy = { ...tcp.stats };
		f.httpUpstreamStarts = httpUp.starts;
		f.stdioUpstreamStarts = readLines(startsLocal).length;
		f.daemon = { before, after };
		if (after.fds > before.fds + BOUNDS.fdSlack)
			result.failures.push(`descriptors: ${after.fds} after, ` +
			    `${before.fds} before (slack ${BOUNDS.fdSlack})`);
		f.rssCompared = rssCompared;
		if (f.rssCompared &&
		    after.rssKiB > before.rssKiB + BOUNDS.rssSlackKiB)
			result.failures.push(`RSS: ${after.rssKiB} KiB after, ` +
			    `${before.rssKiB} KiB before (slack ` +
			    `${BOUNDS.rssSlackKiB} KiB)`);
		result.daemon = d;
		result.dir = dir;
		return result;
	} finally {
		await cleanup();
	}
}

/* No sessions left and the upstream keep-alive pool idle (4 s). */
async function settle(d) {
	const ctlStats = () => new Promise((resolve, reject) => {
		const child = spawn(bin.ctl, ['stats', '--json', '--socket',
		    path.join(d.dir, 'control.sock')], { stdio: ['ignore',
		    'pipe', 'inherit'] });
		let out = '';
		child.stdout.on('data', (c) => { out += c; });
		child.on('error', reject);
		child.on('close', () => {
			try {
				resolve(JSON.parse(out));
			} catch (e) {
				reject(e);
			}
		});
	});
	await waitFor(async () => (await ctlStats()).sessions.open === 0,
	    { timeout: 20000, interval: 200, message: 'every session closed' });
	await sleep(5000);
}

/* Descriptors and RSS back within the bounds, or the last reading. */
async function waitForBaseline(pid, before, rssCompared) {
	let now = procStatus(pid);
	const deadline = Date.now() + 20000;
	while (Date.now() < deadline && (now.fds > before.fds +
	    BOUNDS.fdSlack || (rssCompared &&
	    now.rssKiB > before.rssKiB + BOUNDS.rssSlackKiB))) {
		await sleep(500);
		now = procStatus(pid);
	}
	return now;
}

export function report({ failures, figures }) {
	const lines = [];
	const f = figures;
	lines.push(`chaos: ${f.seconds} s, seed ${f.seed}, ${f.calls} tool ` +
	    `calls (${Object.entries(f.byTransport).map(([k, v]) =>
	    `${k} ${v}`).join(', ')}), ${f.nonIdempotentCalls} non-idempotent`);
	lines.push(`  outcomes: ${JSON.stringify(f.byOutcome)}; errors by ` +
	    `code: ${JSON.stringify(f.errorsByCode)}`);
	lines.push(`  -32015 (may or may not have run): ${f.maybeRan} ` +
	    `(${f.calls ? (100 * f.maybeRan / f.calls).toFixed(2) : 0} %, ` +
	    `bound ${100 * BOUNDS.maybeRanShare} %), of which executed ` +
	    `${f.maybeRanExecuted}; -32014 timeouts ${f.timeouts}`);
	lines.push(`  executions logged: ${f.executions}`);
	lines.push(`  faults: ${f.faultCount} ${JSON.stringify(f.faults)}`);
	lines.push(`  upstream starts: stdio ${f.stdioUpstreamStarts}, http ` +
	    `${f.httpUpstreamStarts}; tcp proxy ${JSON.stringify(f.tcpProxy)}`);
	lines.push(`  daemon: fds ${f.daemon.before.fds} -> ` +
	    `${f.daemon.after.fds} (slack ${BOUNDS.fdSlack}), RSS ` +
	    `${f.daemon.before.rssKiB} -> ${f.daemon.after.rssKiB} KiB ` +
	    (f.rssCompared ? `(slack ${BOUNDS.rssSlackKiB} KiB)` :
	    '(not compared: ASan build; LeakSanitizer checks at exit)'));
	lines.push(failures.length ? `  FAILED:\n    ${failures.join('\n    ')}`
	    : '  every check held');
	return lines.join('\n');
}

// As a program: one run, the report on stdout, exit 1 on a failure.
if (import.meta.url === `file://${process.argv[1]}`) {
	const arg = (name, env, dflt) => {
		const i = process.argv.indexOf(name);
		return Number(i !== -1 ? process.argv[i + 1] :
		    process.env[env] ?? dflt);
	};
	const seconds = arg('--seconds', 'CHAOS_SECONDS', 35);
	const seed = arg('--seed', 'CHAOS_SEED', 7);
	const verbose = process.argv.includes('-v');
	const r = await runChaos({ seconds, seed, log: verbose ?
	    (s) => console.error(`${new Date().toISOString()} ${s}`) :
	    undefined });
	console.log(report(r));
	const exit = await r.daemon.stop({ check: false });
	const clean = exit.code === 0 && exit.signal === null;
	if (!clean)
		console.log(`  mcprelayd exited with ${JSON.stringify(exit)}`);
	if (r.failures.length === 0 && clean && !process.env.MCPRELAY_ITEST_KEEP)
		fs.rmSync(r.dir, { recursive: true, force: true });
	else
		console.log(`  files in ${r.dir}`);
	process.exit(r.failures.length === 0 && clean ? 0 : 1);
}
