// make conformance, the client side: the suite's client scenarios with
// mcprelayd as the MCP client (client.mjs is the --command: it starts a
// fresh mcprelayd pointed at each scenario's server and calls through it).
// For each requirement set, every scored client scenario runs once at that
// revision's wire, the authorization scenarios (auth/*) included: there
// client.mjs logs the daemon in with mcprelayctl login.
//
// Arguments: run names (client-2025-11-25, client-2026-07-28; default
// both).  Environment as run.mjs: top_srcdir, top_builddir,
// CONFORMANCE_BIN, MCPRELAYD.  Exit 1 when a scenario that runs has a
// failed check or fewer passed checks than expected.txt records.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expectedCounts, requiredScenarios } from './requirements.mjs';

const srcdir = process.env.top_srcdir;
const builddir = process.env.top_builddir;
const suite = process.env.CONFORMANCE_BIN;
const mcprelayd = process.env.MCPRELAYD || path.join(builddir, 'mcprelayd');
const mcprelayctl = process.env.MCPRELAYCTL ||
    path.join(builddir, 'mcprelayctl');
const here = path.join(srcdir, 'tests', 'conformance');
const results = path.join(builddir, 'tests', 'conformance', 'results');
const RUNS = ['2025-11-25', '2026-07-28'].map((revision) =>
    ({ name: `client-${revision}`, revision }));
// Run and counted too: scenarios of the upstream side the set leaves out
// (json-schema-2020-12-preservation was added after 2025-11-25 froze).
// auth/client-credentials-basic: the client credentials extension
// (not scored), which mcprelayd implements (docs/auth.md).
const EXTRA = {
	'2025-11-25': ['json-schema-2020-12-preservation',
	    'auth/client-credentials-basic'],
	'2026-07-28': ['auth/client-credentials-basic'],
};
// Extension scenarios are not on the spec timeline: the suite runs them
// at a --spec-version only with --force.
const FORCE = new Set(['auth/client-credentials-basic']);

// One scenario: the suite's exit status and its checks.json.
function runScenario(scenario, revision, outdir) {
	const logs = path.join(outdir, 'daemons');
	fs.mkdirSync(logs, { recursive: true });
	const command = `${process.execPath} ${path.join(here, 'client.mjs')}`;
	return new Promise((resolve) => {
		const log = fs.openSync(path.join(outdir,
		    `${scenario.replace(/\W/g, '_')}.log`), 'w');
		const child = spawn(process.execPath, [suite, 'client',
		    '--command', command, '--scenario', scenario,
		    '--spec-version', revision, '-o', outdir,
		    ...(FORCE.has(scenario) ? ['--force'] : [])],
		    { stdio: ['ignore', log, log], env: { ...process.env,
		    MCPRELAYD: mcprelayd, MCPRELAYCTL: mcprelayctl,
		    CLIENT_LOG_DIR: logs } });
		const t = setTimeout(() => child.kill('SIGKILL'), 120000);
		child.on('exit', (code, sig) => {
			clearTimeout(t);
			fs.closeSync(log);
			resolve(code ?? sig);
		});
	});
}

// The checks of the newest result folder of a scenario.
function checksOf(outdir, scenario) {
	// The suite keeps "auth/x" under auth/x-DATE.
	const where = path.join(outdir, path.dirname(scenario));
	const prefix = `${path.basename(scenario)}-`;
	if (!fs.existsSync(where))
		return null;
	const dirs = fs.readdirSync(where).filter((d) =>
	    d.startsWith(prefix) && /\d{4}-\d\d-\d\dT/.test(d)).sort();
	for (const d of dirs.reverse()) {
		const file = path.join(where, d, 'checks.json');
		if (fs.existsSync(file))
			return JSON.parse(fs.readFileSync(file, 'utf8'));
	}
	return null;
}

async function main() {
	const only = process.argv.slice(2);
	const unknown = only.filter((n) => !RUNS.some((r) => r.name === n));
	if (unknown.length > 0) {
		console.error(`run-client.mjs: unknown run(s) ` +
		    `${unknown.join(', ')}; runs: ` +
		    RUNS.map((r) => r.name).join(', '));
		return 2;
	}
	const full = expectedCounts(here);
	let bad = false, passed = 0, failed = 0;
	for (const run of RUNS) {
		if (only.length > 0 && !only.includes(run.name))
			continue;
		const outdir = path.join(results, run.name);
		fs.rmSync(outdir, { recursive: true, force: true });
		fs.mkdirSync(outdir, { recursive: true });
		const only1 = process.env.CLIENT_SCENARIOS?.split(',');
		const mine = requiredScenarios(suite, run.revision, 'client')
		    .concat(EXTRA[run.revision] ?? [])
		    .filter((s) => !only1 || only1.includes(s));
		console.log(`\n== ${run.name}: client scenarios with mcprelayd ` +
		    `as the client, --spec-version ${run.revision}`);
		let p = 0, f = 0;
		for (const scenario of mine) {
			const code = await runScenario(scenario, run.revision,
			    outdir);
			const checks = checksOf(outdir, scenario);
			if (checks === null) {
				console.log(`  FAILED ${scenario}: no result ` +
				    `(suite exit ${code}; ${outdir})`);
				f++;
				continue;
			}
			const ok = checks.filter((c) =>
			    c.status === 'SUCCESS').length;
			const ko = checks.filter((c) =>
			    c.status === 'FAILURE');
			const warn = checks.filter((c) =>
			    c.status === 'WARNING');
			p += ok;
			f += ko.length;
			for (const c of [...ko, ...warn])
				console.log(`  ${scenario}: ${c.status} ${c.id}: ` +
				    `${(c.errorMessage ?? c.description)
				    .slice(0, 300)}`);
			if (code !== 0 && ko.length === 0) {
				console.log(`  FAILED ${scenario}: the client ` +
				    `exited with an error (suite exit ${code})`);
				f++;
			}
			console.log(`  ${scenario}: ${ok} passed, ` +
			    `${ko.length} failed, ${warn.length} warnings`);
		}
		const want = only1 ? undefined : full.get(run.name);
		if (want !== undefined && p < want) {
			console.log(`  FAILED: ${p} checks passed, the full ` +
			    `pass in expected.txt has ${want}`);
			bad = true;
		}
		console.log(`${run.name}: ${p} passed, ${f} failed`);
		passed += p;
		failed += f;
		if (f > 0)
			bad = true;
	}
	console.log(`\nconformance (client): ${passed} passed, ${failed} ` +
	    'failed');
	return bad ? 1 : 0;
}

process.exitCode = await main();
