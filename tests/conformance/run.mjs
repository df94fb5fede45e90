// make conformance, after run.sh found Node 22 and the pinned suite: runs
// the official MCP conformance suite (server scenarios) against mcprelayd in
// front of mcprelay-demo-server --conformance, for each requirement set and
// upstream transport, and prints the counts.  Exit 1 when a scored scenario
// of a scored run fails or passes fewer checks than expected.txt records.
//
// Arguments: run names to run (default: all); see README.md.
// Environment: top_srcdir, top_builddir (set by run.sh), CONFORMANCE_BIN
// (the suite's dist/index.js), MCPRELAYD and DEMO (binaries, default the
// build tree's), CONFORMANCE_TIMEOUT (seconds per suite run, default 900).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expectedCounts, requiredScenarios } from './requirements.mjs';

const srcdir = process.env.top_srcdir;
const builddir = process.env.top_builddir;
const suite = process.env.CONFORMANCE_BIN;
const mcprelayd = process.env.MCPRELAYD || path.join(builddir, 'mcprelayd');
const demo = process.env.DEMO ||
    path.join(builddir, 'mcprelay-demo-server');
const suiteTimeout = 1000 * Number(process.env.CONFORMANCE_TIMEOUT || 900);
const here = path.join(srcdir, 'tests', 'conformance');
const results = path.join(builddir, 'tests', 'conformance', 'results');
const REVISIONS = ['2025-11-25', '2026-07-28'];

const children = new Set();

function cleanup() {
	for (const child of children)
		child.kill('SIGKILL');
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'])
	process.on(sig, () => { cleanup(); process.exit(130); });

// A child whose stderr is kept in a file and watched for a line.
function start(cmd, args, logfile) {
	const log = fs.openSync(logfile, 'w');
	const child = spawn(cmd, args, { stdio: ['ignore', log, 'pipe'] });
	let text = '';
	const waiters = [];
	children.add(child);
	child.stderr.on('data', (chunk) => {
		fs.writeSync(log, chunk);
		text += chunk.toString();
		for (const w of waiters.splice(0))
			w();
	});
	child.on('exit', () => {
		children.delete(child);
		for (const w of waiters.splice(0))
			w();
	});
	child.lastLine = () => text.trim().split('\n').pop() ?? '';
	child.waitFor = (re, ms) => new Promise((resolve, reject) => {
		const deadline = setTimeout(() => reject(new Error(
		    `${path.basename(cmd)}: no ${re} within ${ms} ms`)), ms);
		const check = () => {
			const m = re.exec(text);
			if (m) {
				clearTimeout(deadline);
				resolve(m);
			} else if (child.exitCode !== null ||
			    child.signalCode !== null) {
				clearTimeout(deadline);
				reject(new Error(`${path.basename(cmd)} exited ` +
				    `(${child.exitCode ?? child.signalCode}): ` +
				    text.trim().split('\n').slice(-3).join(' | ')));
			} else
				waiters.push(check);
		};
		check();
	});
	return child;
}

// SIGTERM, then the exit status; a daemon must leave with 0.
function stop(child, ms = 10000) {
	return new Promise((resolve) => {
		if (child.exitCode !== null || child.signalCode !== null)
			return resolve(child.exitCode ?? child.signalCode);
		const t = setTimeout(() => child.kill('SIGKILL'), ms);
		child.on('exit', (code, sig) => {
			clearTimeout(t);
			resolve(code ?? sig);
		});
		child.kill('SIGTERM');
	});
}

function runSuite(url, revision, outdir) {
	const out = path.join(outdir, 'suite.log');
	return new Promise((resolve) => {
		const log = fs.openSync(out, 'w');
		const child = spawn(process.execPath, [suite, 'server', '--url',
		    url, '--requirements', revision, '-o', outdir],
		    { stdio: ['ignore', log, log] });
		children.add(child);
		const t = setTimeout(() => child.kill('SIGKILL'), suiteTimeout);
		child.on('exit', (code, sig) => {
			clearTimeout(t);
			children.delete(child);
			fs.closeSync(log);
			resolve({ code: code ?? sig, log: fs.readFileSync(out,
			    'utf8') });
		});
	});
}

// Per scenario: passed and failed from the summary, warnings and the
// failed checks' messages from the checks.json files.
function tally(revision, outdir, log) {
	const want = new Set(requiredScenarios(suite, revision, 'server'));
	const seen = new Map();
	const summary = log.slice(log.lastIndexOf('=== SUMMARY ==='));
	for (const m of summary.matchAll(
	    /^[✓✗] (\S+): (\d+) passed, (\d+) failed/gmu))
		seen.set(m[1], { passed: +m[2], failed: +m[3], warnings: 0,
		    problems: [] });
	for (const dir of fs.readdirSync(outdir)) {
		const file = path.join(outdir, dir, 'checks.json');
		const name = dir.replace(/^server-/, '').replace(
		    /-\d{4}-\d\d-\d\dT[\d-]+Z$/, '');
		if (!fs.existsSync(file) || !seen.has(name))
			continue;
		for (const c of JSON.parse(fs.readFileSync(file, 'utf8'))) {
			if (c.status === 'WARNING')
				seen.get(name).warnings++;
			if (c.status === 'FAILURE' || c.status === 'WARNING')
				seen.get(name).problems.push(`${c.status} ` +
				    `${c.id}: ${c.errorMessage ?? c.description}`);
		}
	}
	const t = { passed: 0, failed: 0, warnings: 0, scenarios: 0,
	    missing: [], lines: [], unscored: { passed: 0, failed: 0 } };
	for (const name of want) {
		const s = seen.get(name);
		t.scenarios++;
		if (s === undefined) {
			t.missing.push(name);
			t.failed++;
			t.lines.push(`  FAILED ${name}: no result (see suite.log)`);
			continue;
		}
		t.passed += s.passed;
		t.failed += s.failed;
		t.warnings += s.warnings;
		for (const p of s.problems)
			t.lines.push(`  ${name}: ${p.slice(0, 300)}`);
	}
	for (const [name, s] of seen)
		if (!want.has(name)) {
			t.unscored.passed += s.passed;
			t.unscored.failed += s.failed;
		}
	return t;
}

// POSTs one JSON-RPC message; the parsed answer, from JSON or SSE.
async function post(url, msg, session) {
	const headers = { 'Content-Type': 'application/json',
	    Accept: 'application/json, text/event-stream',
	    'MCP-Protocol-Version': '2025-11-25' };
	if (session)
		headers['Mcp-Session-Id'] = session;
	const res = await fetch(url, { method: 'POST', headers,
	    body: JSON.stringify(msg), signal: AbortSignal.timeout(10000) });
	const text = await res.text();
	const data = text.split('\n').filter((l) => l.startsWith('data:'))
	    .map((l) => l.slice(5)).join('') || text;
	return { res, body: data ? JSON.parse(data) : null };
}

// Whether tools/call of the fixture works through url: null, or why not.
async function probe(url) {
	try {
		const init = await post(url, { jsonrpc: '2.0', id: 1,
		    method: 'initialize', params: { protocolVersion:
		    '2025-11-25', capabilities: {}, clientInfo: { name:
		    'probe', version: '1' } } });
		if (!init.body?.result)
			return `initialize: HTTP ${init.res.status} ` +
			    JSON.stringify(init.body?.error ?? init.body);
		const sid = init.res.headers.get('mcp-session-id');
		await post(url, { jsonrpc: '2.0', method:
		    'notifications/initialized' }, sid);
		const call = await post(url, { jsonrpc: '2.0', id: 2,
		    method: 'tools/call', params: { name: 'test_simple_text',
		    arguments: {} } }, sid);
		if (!call.body?.result?.content)
			return `tools/call: HTTP ${call.res.status} ` +
			    JSON.stringify(call.body?.error ?? call.body);
		return null;
	} catch (e) {
		return e.message;
	}
}

function relayConfig(dir, server) {
	const file = path.join(dir, 'mcprelay.yaml');
	fs.writeFileSync(file, [
	    'log:', '  level: info',
	    'listen:', '  http: 127.0.0.1:0',
	    'servers:', '  demo:', ...server.map((l) => `    ${l}`), ''
	].join('\n'));
	return file;
}

async function startDemoHttp(dir, extra = []) {
	const child = start(demo, ['--http', '127.0.0.1:0', '--http-reply',
	    'sse', '--conformance', ...extra],
	    path.join(dir, 'demo.log'));
	const m = await child.waitFor(/listening on (http:\S+\/mcp)/, 10000);
	return { child, url: m[1] };
}

async function startRelay(dir, server) {
	const cfg = relayConfig(dir, server);
	const child = start(mcprelayd, ['-f', '-c', cfg],
	    path.join(dir, 'mcprelayd.log'));
	const m = await child.waitFor(
	    /listening for MCP on (http:\/\/\S+):(\d+)\/mcp/, 10000);
	return { child, url: `${m[1]}:${m[2]}/servers/demo/mcp` };
}

function demoHasHttp() {
	return new Promise((resolve) => {
		const child = spawn(demo, ['--help'], { stdio: ['ignore',
		    'pipe', 'ignore'] });
		let text = '';
		child.stdout.on('data', (d) => { text += d; });
		child.on('exit', () => resolve(/--http\b/.test(text)));
		child.on('error', () => resolve(false));
	});
}

// Upstream era and requirement set that cannot pass in full through a
// translation, and why (docs/protocol.md, Limits): such a run is a
// diagnostic.  None at present.
const ERA_LIMITS = {};

// Each run: how to set it up, and whether its failures fail make.
const RUNS = [];
for (const revision of REVISIONS) {
	RUNS.push({ name: `relay-stdio-${revision}`, revision, scored: true,
	    what: 'mcprelayd -> mcprelay-demo-server --conformance (stdio)',
	    async setup(dir) {
		return [await startRelay(dir, ['type: stdio',
		    `command: ${demo}`, 'args: [--conformance]'])];
	    } });
	for (const era of [null, 'legacy', 'modern']) {
	const why = era && ERA_LIMITS[`${era}-${revision}`];
	RUNS.push({ name: `relay-http-${era ? `${era}-` : ''}${revision}`,
	    revision, scored: !why,
	    what: 'mcprelayd -> mcprelay-demo-server --http --conformance' +
	    (era ? ` --era ${era}` : '') + (why ? ` (diagnostic: ${why})` : ''),
	    needsHttp: true,
	    async setup(dir) {
		const up = await startDemoHttp(dir, era ? ['--era', era] : []);
		const relay = await startRelay(dir, ['type: http',
		    `url: ${up.url}`]).catch(async (e) => {
			await stop(up.child);
			throw e;
		});
		let why = await probe(relay.url);
		if (why !== null) {
			why += `; mcprelayd's last log line: ` +
			    relay.child.lastLine().replace(/^\S+ \S+ /, '');
			await stop(relay.child);
			await stop(up.child);
			throw Object.assign(new Error(why),
			    { unavailable: true });
		}
		return [relay, up];
	    } });
	}
	// The same fixture speaking one era only: mcprelayd translates.
	for (const era of ['legacy', 'modern']) {
		const why = ERA_LIMITS[`${era}-${revision}`];
		RUNS.push({ name: `relay-stdio-${era}-${revision}`, revision,
		    scored: why === undefined,
		    what: `mcprelayd -> mcprelay-demo-server --conformance ` +
		    `--era ${era} (stdio)${why ? ` (diagnostic: ${why})` : ''}`,
		    async setup(dir) {
			return [await startRelay(dir, ['type: stdio',
			    `command: ${demo}`, `args: [--conformance, --era, ` +
			    `${era}]`])];
		    } });
	}
	RUNS.push({ name: `direct-http-${revision}`, revision, scored: false,
	    what: 'mcprelay-demo-server --http --conformance, no relay ' +
	    '(diagnostic: fixture and demo transport alone)',
	    needsHttp: true,
	    async setup(dir) {
		return [await startDemoHttp(dir)];
	    } });
}

async function main() {
	const only = process.argv.slice(2);
	const unknown = only.filter((n) => !RUNS.some((r) => r.name === n));
	if (unknown.length > 0) {
		console.error(`run.mjs: unknown run(s) ${unknown.join(', ')}; ` +
		    `runs: ${RUNS.map((r) => r.name).join(', ')}`);
		return 2;
	}
	const full = expectedCounts(here);
	const httpDemo = await demoHasHttp();
	let passed = 0, failed = 0, bad = false;
	fs.mkdirSync(results, { recursive: true });
	for (const run of RUNS) {
		if (only.length > 0 && !only.includes(run.name))
			continue;
		const outdir = path.join(results, run.name);
		const dir = outdir;	/* configs and logs too */
		fs.rmSync(outdir, { recursive: true, force: true });
		fs.mkdirSync(outdir, { recursive: true });
		console.log(`\n== ${run.name}: ${run.what}, ` +
		    `--requirements ${run.revision}`);
		const label = run.scored ? 'HTTP upstream' : 'direct HTTP run';
		if (run.needsHttp && !httpDemo) {
			console.log(`${label}: not available (${demo} has no ` +
			    '--http mode)');
			continue;
		}
		let procs;
		try {
			procs = await run.setup(dir);
		} catch (e) {
			if (e.unavailable) {
				console.log(`${label}: not available ` +
				    `(${e.message})`);
				continue;
			}
			console.log(`  FAILED to start: ${e.message}`);
			if (run.scored) {
				bad = true;
				failed++;
			}
			continue;
		}
		const { code, log } = await runSuite(procs[0].url,
		    run.revision, outdir);
		for (const p of procs) {
			const rc = await stop(p.child);
			if (rc !== 0) {
				console.log(`  FAILED: ${path.basename(
				    p.child.spawnfile)} exited ${rc} on ` +
				    `SIGTERM (logs in ${dir})`);
				if (run.scored)
					bad = true;
			}
		}
		const t = tally(run.revision, outdir, log);
		for (const line of t.lines)
			console.log(line);
		console.log(`  scored: ${t.scenarios} scenarios, ${t.passed} ` +
		    `passed, ${t.failed} failed, ${t.warnings} warnings; not ` +
		    `scored: ${t.unscored.passed} passed, ${t.unscored.failed} ` +
		    `failed (suite exit ${code}; ${outdir})`);
		const want = full.get(run.name);
		if (want !== undefined && t.passed < want) {
			console.log(`  FAILED: ${t.passed} checks passed, the ` +
			    `full pass in expected.txt has ${want}`);
			if (run.scored)
				bad = true;
		}
		console.log(`${run.name}: ${t.passed} passed, ${t.failed} ` +
		    `failed${run.scored ? '' : ' (diagnostic, not scored)'}`);
		if (run.scored) {
			passed += t.passed;
			failed += t.failed;
			if (t.failed > 0)
				bad = true;
		}
	}
	console.log(`\nconformance: ${passed} passed, ${failed} failed`);
	return bad ? 1 : 0;
}

process.exitCode = await main();
