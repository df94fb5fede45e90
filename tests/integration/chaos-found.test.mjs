// Regression tests for daemon bugs the chaos suite (tests/chaos/,
// docs/chaos.md) found, each reduced to a small deterministic case.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
	ERR, baseConfig, bin, demoServer, initialize, itest, readLines,
	startDaemon, tmpdir, toolText, waitFor,
} from './lib/harness.mjs';

function files(t) {
	const dir = tmpdir(t);
	return { dir, startsLog: path.join(dir, 'starts.log'),
	    state: path.join(dir, 'state') };
}

function serverStats(dir, name) {
	return JSON.parse(execFileSync(bin.ctl, ['stats', name, '--json',
	    '--socket', path.join(dir, 'control.sock')], { encoding: 'utf8',
	    timeout: 10000 }));
}

/*
 * circuit_breaker.enabled: false was ignored: the breaker still opened
 * after failure_threshold failed connects and cut the retries short
 * (chaos: "retry 4 of 50" then "failed", and -32011 for every call).
 */
itest('circuit_breaker.enabled: false: retries run to max_retries and ' +
    'the breaker never opens', async (t) => {
	const f = files(t);
	const d = await startDaemon({ t, dir: f.dir, config: baseConfig(f.dir, {
		defaults: {
			retry: { max_retries: 6, initial_delay: '0.05s',
			    max_delay: '0.2s' },
			circuit_breaker: { enabled: false,
			    failure_threshold: 2 },
		},
		servers: { demo: demoServer(['--fail-starts', 4,
		    '--state-file', f.state, '--starts-log', f.startsLog]) },
	}) });
	const s = await initialize(d.mcpUrl('demo'));
	// Queued until the 5th start, the first that works.
	assert.equal(toolText(await s.callTool('echo', { text: 'queued' })),
	    'queued');
	assert.equal(readLines(f.startsLog).length, 5);
	const st = serverStats(f.dir, 'demo');
	assert.equal(st.state, 'ready');
	assert.equal(st.breaker.state, 'closed');
	assert.equal(st.breaker.timesOpened, 0);
});

itest('circuit_breaker.enabled: false: retries exhausted give -32010, ' +
    'never -32011, and probes bring the server back', async (t) => {
	const f = files(t);
	const d = await startDaemon({ t, dir: f.dir, config: baseConfig(f.dir, {
		defaults: {
			retry: { max_retries: 2, initial_delay: '0.05s',
			    max_delay: '0.3s' },
			circuit_breaker: { enabled: false,
			    failure_threshold: 1 },
		},
		servers: { demo: demoServer(['--fail-starts', 100,
		    '--state-file', f.state, '--starts-log', f.startsLog]) },
	}) });
	const s = await initialize(d.mcpUrl('demo'));
	const r = await s.request('tools/call', { name: 'echo',
	    arguments: { text: 'x' } });
	assert.equal(r.error?.code, ERR.UNAVAILABLE, JSON.stringify(r.json ??
	    r.error));
	// Probed every max_delay: it keeps trying by itself.
	const n = readLines(f.startsLog).length;
	await waitFor(() => readLines(f.startsLog).length >= n + 2,
	    { timeout: 5000, message: 'probes at max_delay' });
	const ok = await waitFor(async () => {
		if (Number(fs.readFileSync(f.state, 'utf8')) < 100)
			fs.writeFileSync(f.state, '100\n');
		const x = await s.request('tools/call', { name: 'echo',
		    arguments: { text: 'back' } });
		assert.notEqual(x.error?.code, ERR.CIRCUIT_OPEN);
		return x.result && x;
	}, { timeout: 10000, interval: 200, message: 'the server back' });
	assert.equal(toolText(ok.result), 'back');
	assert.equal(serverStats(f.dir, 'demo').breaker.timesOpened, 0);
});
