// Upstreams that fail in ways the reconnect tests do not cover: a server
// whose breaker is open hands its calls to its fallback, a hung server is
// found by the health-check ping and replaced, and a server whose command
// does not exist fails fast with -32017 and is not retried.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import {
	ERR, baseConfig, demoServer, initialize, itest, processAlive,
	readJsonLines, readLines, sleep, startDaemon, tmpdir, toolText,
	waitFor,
} from './lib/harness.mjs';

/* Lines of the daemon log that match re. */
const logLines = (d, re) => d.log().split('\n').filter((l) => re.test(l));

itest('fallback: while a is failed, its tools/call goes to b', async (t) => {
	const dir = tmpdir(t);
	const f = {
		execA: path.join(dir, 'exec-a.log'),
		execB: path.join(dir, 'exec-b.log'),
		startsA: path.join(dir, 'starts-a.log'),
		state: path.join(dir, 'state'),
	};
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		servers: {
			a: demoServer(['--name', 'a', '--fail-starts', 1000,
			    '--state-file', f.state, '--starts-log', f.startsA,
			    '--exec-log', f.execA, '--tools-extra', 'only_a'], {
				fallback: 'b',
				retry: { max_retries: 0 },
				circuit_breaker: { open_duration: '60s',
				    max_open_duration: '60s' },
			}),
			b: demoServer(['--name', 'b', '--exec-log', f.execB]),
		},
	}) });
	await waitFor(() => logLines(d, /server a: \w+ -> failed/).length > 0,
	    { message: 'server a to fail' });
	await waitFor(() => logLines(d, /server b: \w+ -> ready/).length > 0,
	    { message: 'server b to be ready' });

	const s = await initialize(d.mcpUrl('a'));
	const r = await s.request('tools/call',
	    { name: 'echo', arguments: { text: 'via-fallback' } });
	assert.equal(r.error, undefined, JSON.stringify(r.error));
	assert.equal(toolText(r.result), 'via-fallback');
	assert.equal(toolText(await s.callTool('add', { a: 1, b: 2 })), '3');

	// b ran both; a never ran anything and was started once.
	const ranB = readJsonLines(f.execB);
	assert.deepEqual(ranB.map((e) => e.tool), ['echo', 'add']);
	assert.deepEqual(ranB[0].args, { text: 'via-fallback' });
	assert.deepEqual(readLines(f.execA), []);
	assert.equal(readLines(f.startsA).length, 1,
	    'max_retries 0 and a long open breaker: one start');
	assert.equal(logLines(d, /server a: unavailable; tool 'echo' goes to fallback server b/)
	    .length, 1, 'the fallback is logged');

	// A tool b does not offer is not redirected: a's own error.
	const own = await s.request('tools/call',
	    { name: 'only_a', arguments: { text: 'x' } });
	assert.equal(own.error?.code, ERR.CIRCUIT_OPEN,
	    JSON.stringify(own.error ?? own.result));
	assert.equal(own.error.data?.server, 'a');
	assert.deepEqual(readLines(f.execA), []);
	assert.equal(readJsonLines(f.execB).length, 2);
});

itest('health check: a hung upstream is found by ping and replaced; the ' +
    'next call succeeds', async (t) => {
	const dir = tmpdir(t);
	const startsLog = path.join(dir, 'starts.log');
	const execLog = path.join(dir, 'exec.log');
	// The demo answers initialize and the four lists (5 requests), our
	// call and at most one ping before it, then nothing.
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		servers: { demo: demoServer(['--hang-after', 7,
		    '--starts-log', startsLog, '--exec-log', execLog],
		    { health_check_interval: '0.3s' }) },
	}) });
	const s = await initialize(d.mcpUrl('demo'));
	assert.equal(toolText(await s.callTool('echo', { text: 'one' })), 'one');
	const first = readJsonLines(startsLog);
	assert.equal(first.length, 1);
	assert.equal(readJsonLines(execLog)[0].pid, first[0].pid);

	// No client traffic from here: only the daemon's pings.  The ping
	// timeout is 5 s.
	const t0 = Date.now();
	await waitFor(() => readLines(startsLog).length === 2, { timeout: 9000,
	    interval: 50, message: 'a new start after the hang' });
	const noticed = Date.now() - t0;
	assert.ok(noticed < 8000, `noticed after ${noticed} ms`);
	assert.equal(logLines(d, /server demo: ready -> connecting \(health check: no answer to ping\)/)
	    .length, 1, 'the reason is logged');
	await waitFor(() => !processAlive(first[0].pid), { timeout: 3000,
	    message: 'the hung process to be stopped' });

	const r = await s.request('tools/call',
	    { name: 'echo', arguments: { text: 'two' } });
	assert.equal(r.error, undefined, JSON.stringify(r.error));
	assert.equal(toolText(r.result), 'two');
	const starts = readJsonLines(startsLog);
	assert.equal(starts.length, 2);
	const two = readJsonLines(execLog).filter((e) => e.args.text === 'two');
	assert.equal(two.length, 1);
	assert.equal(two[0].pid, starts[1].pid);
});

itest('a stdio command that does not exist: -32017 at once naming it, ' +
    'not retried; other servers unaffected', async (t) => {
	const dir = tmpdir(t);
	const missing = path.join(dir, 'no-such-mcp-server');
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		servers: {
			bad: { type: 'stdio', command: missing,
			    args: ['--flag'],
			    circuit_breaker: { open_duration: '30s',
			    max_open_duration: '30s' } },
			demo: demoServer([]),
		},
	}) });
	await waitFor(() => logLines(d, /server bad: \w+ -> failed/).length > 0,
	    { message: 'server bad to fail' });
	const failed = logLines(d, /server bad: \w+ -> failed/)[0];
	assert.match(failed, /No such file or directory/);
	assert.match(failed, /not retried/);

	const s = await initialize(d.mcpUrl('bad'));
	for (let i = 0; i < 3; i++) {
		const t0 = Date.now();
		const r = await s.request('tools/call',
		    { name: 'echo', arguments: { text: `try ${i}` } });
		const ms = Date.now() - t0;
		assert.equal(r.status, 200);
		assert.equal(r.error?.code, ERR.SPAWN,
		    JSON.stringify(r.error ?? r.result));
		assert.ok(r.error.message.includes(missing),
		    `the message names the command: ${r.error.message}`);
		assert.match(r.error.message, /No such file or directory/);
		assert.equal(r.error.data?.server, 'bad');
		assert.ok(ms < 1000, `answered in ${ms} ms`);
	}
	await sleep(500);	// a retry (initial_delay 0.2 s) would show
	assert.equal(logLines(d, /server bad: \w+ -> connecting/).length, 1,
	    'one connect attempt: ENOENT is not retried');
	assert.equal(logLines(d, /server bad: \w+ -> backoff/).length, 0);

	const ok = await initialize(d.mcpUrl('demo'));
	assert.equal(toolText(await ok.callTool('echo', { text: 'fine' })),
	    'fine');
});
