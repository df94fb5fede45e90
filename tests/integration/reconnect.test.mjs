// The reconnecting handler's acceptance tests (the numbered list):
// connect with retry, retries exhausted and recovery, calls queued while a
// server is down, crashes between and during calls, aggregate names, and
// one restart for many waiting calls.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
	DEMO_TOOLS, ERR, baseConfig, demoServer, initialize, itest,
	killHard, lastStartPid, readJsonLines, readLines, sleep, slow,
	startDaemon, tmpdir, toolText, waitFor,
} from './lib/harness.mjs';

/* A temp dir and the demo's log files in it. */
function files(t) {
	const dir = tmpdir(t);
	return {
		dir,
		execLog: path.join(dir, 'exec.log'),
		startsLog: path.join(dir, 'starts.log'),
		state: path.join(dir, 'state'),
	};
}

const execsOf = (execLog, tool) =>
    readJsonLines(execLog).filter((e) => e.tool === tool);

itest('(1) connect with retry: ready on the 3rd start, delays as configured',
    async (t) => {
	const f = files(t);
	const d = await startDaemon({ t, dir: f.dir, config: baseConfig(f.dir, {
		servers: { demo: demoServer(['--fail-starts', 2,
		    '--state-file', f.state, '--starts-log', f.startsLog,
		    '--exec-log', f.execLog]) },
	}) });
	// Right after start: the call waits in the queue until READY.
	const s = await initialize(d.mcpUrl());
	const r = await s.callTool('echo', { text: 'queued' });
	assert.equal(toolText(r), 'queued');

	const starts = readJsonLines(f.startsLog);
	assert.equal(starts.length, 3, 'two failed starts, then one good');
	assert.equal(fs.readFileSync(f.state, 'utf8').trim(), '3');
	// initial_delay 0.2 s, then x2 (jitter off); generous bounds (and
	// more so for a daemon under valgrind: MCPRELAY_ITEST_SLOW).
	const gaps = [starts[1].time - starts[0].time,
	    starts[2].time - starts[1].time];
	for (const [i, want] of [[0, 0.2], [1, 0.4]]) {
		assert.ok(gaps[i] >= 0.9 * want &&
		    gaps[i] <= 1.5 * want + 0.15 * slow,
		    `gap ${i + 1} is ${gaps[i].toFixed(3)} s, want about ${want} s`);
	}
	assert.equal(execsOf(f.execLog, 'echo').length, 1);
	assert.equal(execsOf(f.execLog, 'echo')[0].pid, starts[2].pid);
});

itest('(2) max retries exceeded: -32010/-32011 naming the server; then it ' +
    'recovers by itself', async (t) => {
	const f = files(t);
	const d = await startDaemon({ t, dir: f.dir, config: baseConfig(f.dir, {
		defaults: {
			// 3 failed starts end the cycle before the breaker
			// (threshold 5) trips; it probes every 1-2 s after.
			retry: { max_retries: 2 },
			circuit_breaker: { open_duration: '1s',
			    max_open_duration: '2s' },
		},
		servers: { demo: demoServer(['--fail-starts', 100,
		    '--state-file', f.state, '--starts-log', f.startsLog,
		    '--exec-log', f.execLog]) },
	}) });
	// The server's own endpoint: the aggregate cannot know whose tool
	// "echo" is before the server has ever listed its tools.
	const s = await initialize(d.mcpUrl('demo'));
	const t0 = Date.now();
	const r = await s.request('tools/call',
	    { name: 'echo', arguments: { text: 'doomed' } });
	assert.equal(r.status, 200);
	assert.ok(r.error, `an error, got ${JSON.stringify(r.result)}`);
	assert.ok([ERR.UNAVAILABLE, ERR.CIRCUIT_OPEN].includes(r.error.code),
	    `error code ${r.error.code}: ${r.error.message}`);
	assert.equal(r.error.data?.server, 'demo');
	assert.ok(Date.now() - t0 < 5000, 'failed before queue_timeout');
	assert.ok(readLines(f.startsLog).length >= 3,
	    '1 start + max_retries 2 before giving up');
	assert.equal(execsOf(f.execLog, 'echo').length, 0);

	// Remove the failure: the next start counts past --fail-starts.  The
	// daemon must find out by itself (breaker probes), no reload.
	const fixed = readLines(f.startsLog).length;
	const ok = await waitFor(async () => {
		if (Number(fs.readFileSync(f.state, 'utf8')) < 100)
			fs.writeFileSync(f.state, '100\n');
		const x = await s.request('tools/call',
		    { name: 'echo', arguments: { text: 'recovered' } });
		return x.result && x;
	}, { timeout: 15000, interval: 300, message: 'the server to recover' });
	assert.equal(toolText(ok.result), 'recovered');
	assert.ok(readLines(f.startsLog).length > fixed, 'a new start');
	assert.equal(execsOf(f.execLog, 'echo').length, 1);
});

itest('(3) a call while the server is down succeeds once it is back ' +
    'within queue_timeout, and runs once', async (t) => {
	const f = files(t);
	// The counter says 3 of --fail-starts 3 are used: the first start
	// works.  Setting it back to 1 makes the next two starts fail.
	fs.writeFileSync(f.state, '3\n');
	const d = await startDaemon({ t, dir: f.dir, config: baseConfig(f.dir, {
		servers: { demo: demoServer(['--fail-starts', 3,
		    '--state-file', f.state, '--starts-log', f.startsLog,
		    '--exec-log', f.execLog]) },
	}) });
	const s = await initialize(d.mcpUrl());
	assert.equal(toolText(await s.callTool('echo', { text: 'warm' })), 'warm');
	assert.equal(readLines(f.startsLog).length, 1);

	fs.writeFileSync(f.state, '1\n');
	await killHard(lastStartPid(f.startsLog));
	// Down for sure: the first restart has failed.
	await waitFor(() => readLines(f.startsLog).length >= 2,
	    { timeout: 3000, message: 'a failed restart' });
	const t0 = Date.now();
	const r = await s.callTool('echo', { text: 'while-down' });
	assert.equal(toolText(r), 'while-down');
	assert.ok(Date.now() - t0 < 5000, 'answered within queue_timeout');

	const ran = readJsonLines(f.execLog).filter((e) =>
	    e.args.text === 'while-down');
	assert.equal(ran.length, 1, 'executed exactly once');
	const starts = readJsonLines(f.startsLog);
	assert.equal(starts.length, 4, 'the killed one, 2 failures, 1 good');
	assert.equal(ran[0].pid, starts[3].pid);
});

itest('(4) upstream killed between calls: the next call just works',
    async (t) => {
	const f = files(t);
	const d = await startDaemon({ t, dir: f.dir, config: baseConfig(f.dir, {
		servers: { demo: demoServer(['--starts-log', f.startsLog,
		    '--exec-log', f.execLog], { trust_annotations: true }) },
	}) });
	const s = await initialize(d.mcpUrl());
	assert.equal(toolText(await s.callTool('echo', { text: 'one' })), 'one');
	const first = lastStartPid(f.startsLog);

	await killHard(first);
	const r = await s.request('tools/call',
	    { name: 'echo', arguments: { text: 'two' } });
	assert.equal(r.error, undefined, `no error: ${JSON.stringify(r.error)}`);
	assert.equal(toolText(r.result), 'two');

	const starts = readJsonLines(f.startsLog);
	assert.equal(starts.length, 2, 'restarted once');
	const two = readJsonLines(f.execLog).filter((e) => e.args.text === 'two');
	assert.equal(two.length, 1);
	assert.equal(two[0].pid, starts[1].pid);
	assert.notEqual(two[0].pid, first);
});

itest('(5) killed during a non-idempotent call: -32015, ran at most once',
    async (t) => {
	const f = files(t);
	const d = await startDaemon({ t, dir: f.dir, config: baseConfig(f.dir, {
		// Trusting annotations must not make increment retryable.
		servers: { demo: demoServer(['--exit-during', 'increment',
		    '--starts-log', f.startsLog, '--exec-log', f.execLog],
		    { trust_annotations: true }) },
	}) });
	const s = await initialize(d.mcpUrl());
	const r = await s.request('tools/call',
	    { name: 'increment', arguments: { by: 1 } });
	assert.equal(r.status, 200);
	assert.ok(r.error, `an error, got ${JSON.stringify(r.result)}`);
	assert.equal(r.error.code, ERR.MAYBE_RAN, r.error.message);
	assert.equal(r.error.data?.server, 'demo');
	assert.equal(execsOf(f.execLog, 'increment').length, 1,
	    'not sent again');

	// The server comes back for the next call; increment still ran once.
	assert.equal(toolText(await s.callTool('echo', { text: 'after' })),
	    'after');
	await sleep(300);
	assert.equal(execsOf(f.execLog, 'increment').length, 1);
	assert.equal(readLines(f.startsLog).length, 2);
});

itest('(6) killed during a read-only call: retried, one result',
    async (t) => {
	const f = files(t);
	const d = await startDaemon({ t, dir: f.dir, config: baseConfig(f.dir, {
		defaults: { request_timeout: '20s' },
		servers: { demo: demoServer(['--starts-log', f.startsLog,
		    '--exec-log', f.execLog], { trust_annotations: true }) },
	}) });
	const s = await initialize(d.mcpUrl());
	const pending = s.request('tools/call',
	    { name: 'sleep_ms', arguments: { ms: 1500 } }, { linger: 500 });
	await waitFor(() => execsOf(f.execLog, 'sleep_ms').length === 1,
	    { timeout: 5000, message: 'sleep_ms to start' });
	await sleep(200);
	const first = lastStartPid(f.startsLog);
	await killHard(first);

	const r = await pending;
	assert.equal(r.error, undefined, `no error: ${JSON.stringify(r.error)}`);
	assert.equal(toolText(r.result), 'slept 1500 ms');
	assert.equal(r.duplicates, undefined, 'exactly one result');
	const sleeps = execsOf(f.execLog, 'sleep_ms');
	assert.equal(sleeps.length, 2, 'sent again after the crash');
	assert.equal(sleeps[0].pid, first);
	assert.notEqual(sleeps[1].pid, first);
	assert.equal(readLines(f.startsLog).length, 2);
});

itest('(7) aggregate listing prefixes clashing names; unknown tool -32602',
    async (t) => {
	const f = files(t);
	const execA = path.join(f.dir, 'exec-a.log');
	const execB = path.join(f.dir, 'exec-b.log');
	const d = await startDaemon({ t, dir: f.dir, config: baseConfig(f.dir, {
		servers: {
			a: demoServer(['--name', 'a', '--tools-extra',
			    'shared,only_a', '--exec-log', execA]),
			b: demoServer(['--name', 'b', '--tools-extra',
			    'shared,only_b', '--exec-log', execB]),
		},
	}) });
	const s = await initialize(d.mcpUrl());
	const names = [];
	let cursor;
	do {
		const page = await s.call('tools/list', cursor ? { cursor } : {});
		names.push(...page.tools.map((x) => x.name));
		cursor = page.nextCursor;
	} while (cursor);
	assert.equal(new Set(names).size, names.length,
	    `names are unique: ${names}`);
	for (const base of [...DEMO_TOOLS, 'shared']) {
		assert.ok(names.includes(`a__${base}`), `a__${base} in ${names}`);
		assert.ok(names.includes(`b__${base}`), `b__${base} in ${names}`);
		assert.ok(!names.includes(base), `no bare ${base}: it clashes`);
	}
	for (const only of ['only_a', 'only_b'])
		assert.equal(names.filter((n) => n === only).length, 1,
		    `${only} keeps its name, once`);

	assert.equal(toolText(await s.callTool('a__echo', { text: 'to a' })),
	    'to a');
	assert.equal(toolText(await s.callTool('b__shared', { text: 'sh' })),
	    'shared: sh');
	assert.equal(toolText(await s.callTool('only_a', { text: 'x' })),
	    'only_a: x');
	// Each call reached its owner, under the upstream's own name.
	assert.deepEqual(readJsonLines(execA).map((e) => [e.tool, e.args.text]),
	    [['echo', 'to a'], ['only_a', 'x']]);
	assert.deepEqual(readJsonLines(execB).map((e) => [e.tool, e.args.text]),
	    [['shared', 'sh']]);

	const r = await s.request('tools/call',
	    { name: 'c__nope', arguments: {} });
	assert.equal(r.error?.code, ERR.INVALID_PARAMS);
	assert.match(r.error.message, /c__nope/);
	const bare = await s.request('tools/call',
	    { name: 'echo', arguments: { text: 'which?' } });
	assert.equal(bare.error?.code, ERR.INVALID_PARAMS,
	    'a clashing bare name is not guessed');
});

itest('(8) 50 concurrent calls to a dead server: one restart, all succeed',
    async (t) => {
	const f = files(t);
	const d = await startDaemon({ t, dir: f.dir, config: baseConfig(f.dir, {
		servers: { demo: demoServer(['--starts-log', f.startsLog,
		    '--exec-log', f.execLog], { trust_annotations: true }) },
	}) });
	const s = await initialize(d.mcpUrl());
	assert.equal(toolText(await s.callTool('echo', { text: 'warm' })), 'warm');
	assert.equal(readLines(f.startsLog).length, 1);

	await killHard(lastStartPid(f.startsLog));
	const texts = Array.from({ length: 50 }, (_, i) => `call-${i}`);
	const replies = await Promise.all(texts.map((text) =>
	    s.request('tools/call', { name: 'echo', arguments: { text } })));
	replies.forEach((r, i) => {
		assert.equal(r.error, undefined,
		    `${texts[i]}: ${JSON.stringify(r.error)}`);
		assert.equal(toolText(r.result), texts[i]);
	});

	await sleep(500);	// a second restart would show by now
	const starts = readJsonLines(f.startsLog);
	assert.equal(starts.length, 2, 'exactly one new start');
	const ran = readJsonLines(f.execLog).filter((e) =>
	    e.args.text?.startsWith('call-'));
	assert.deepEqual(ran.map((e) => e.args.text).sort(), [...texts].sort(),
	    'each ran exactly once');
	assert.ok(ran.every((e) => e.pid === starts[1].pid));
});
