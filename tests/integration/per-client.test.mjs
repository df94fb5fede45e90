// session_mode: per_client: each client session gets its own upstream
// process (the demo's increment counter is per process), the per-server
// max_processes cap is enforced with -32012, and ending a session (DELETE)
// stops its process.  The server's shared connection, which keeps its
// tool lists for the aggregate view, is started as well and is not counted
// in max_processes.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import {
	ERR, baseConfig, demoServer, initialize, itest, processAlive,
	readJsonLines, startDaemon, tmpdir, toolText, waitFor,
} from './lib/harness.mjs';

function setup(t, extra) {
	const dir = tmpdir(t);
	const f = {
		dir,
		startsLog: path.join(dir, 'starts.log'),
		execLog: path.join(dir, 'exec.log'),
	};
	f.config = baseConfig(dir, {
		servers: { demo: demoServer(['--starts-log', f.startsLog,
		    '--exec-log', f.execLog], { session_mode: 'per_client',
		    ...extra }) },
	});
	return f;
}

const pidsOf = (f) => readJsonLines(f.startsLog).map((s) => s.pid);

/* The pid that ran the n-th (0-based) logged call of tool. */
function execPid(f, tool, n) {
	const runs = readJsonLines(f.execLog).filter((e) => e.tool === tool);
	assert.ok(runs.length > n, `${tool} ran ${runs.length} times`);
	return runs[n].pid;
}

async function increment(s) {
	return Number(toolText(await s.callTool('increment', {})));
}

itest('per_client: each session has its own process and counter',
    async (t) => {
	const f = setup(t, { max_processes: 4 });
	const d = await startDaemon({ t, dir: f.dir, config: f.config });
	// The shared connection (lists for routing) starts with the daemon.
	await waitFor(() => pidsOf(f).length === 1,
	    { message: 'the shared connection to start' });
	const shared = pidsOf(f)[0];

	const a = await initialize(d.mcpUrl('demo'));
	const b = await initialize(d.mcpUrl('demo'));
	assert.equal(await increment(a), 1);
	assert.equal(await increment(a), 2);
	assert.equal(await increment(b), 1, 'B has its own counter');
	assert.equal(await increment(a), 3);
	assert.equal(await increment(b), 2);

	const starts = pidsOf(f);
	assert.equal(starts.length, 3, 'shared + one per session');
	const [pa, pb] = [execPid(f, 'increment', 0), execPid(f, 'increment', 2)];
	assert.notEqual(pa, pb);
	assert.deepEqual(starts, [shared, pa, pb]);
	assert.equal(execPid(f, 'increment', 1), pa);
	assert.equal(execPid(f, 'increment', 3), pa);
	assert.equal(execPid(f, 'increment', 4), pb);
	assert.ok(!readJsonLines(f.execLog).some((e) => e.pid === shared),
	    'no call reaches the shared connection');

	// A session on the aggregate endpoint gets its own process too.
	const c = await initialize(d.mcpUrl());
	assert.equal(await increment(c), 1);
	assert.equal(pidsOf(f).length, 4);
});

itest('per_client: max_processes 1 refuses a second session with -32012; ' +
    'DELETE stops the process and frees the slot', async (t) => {
	const f = setup(t, { max_processes: 1 });
	const d = await startDaemon({ t, dir: f.dir, config: f.config });
	await waitFor(() => pidsOf(f).length === 1,
	    { message: 'the shared connection to start' });

	const a = await initialize(d.mcpUrl('demo'));
	assert.equal(await increment(a), 1);
	assert.equal(await increment(a), 2);
	const pa = execPid(f, 'increment', 0);

	const b = await initialize(d.mcpUrl('demo'));
	const refused = await b.request('tools/call',
	    { name: 'increment', arguments: {} });
	assert.equal(refused.status, 200);
	assert.equal(refused.error?.code, ERR.QUEUE_FULL,
	    JSON.stringify(refused.error ?? refused.result));
	assert.equal(refused.error.message, "server 'demo' already runs " +
	    'max_processes (1) per-client processes');
	assert.equal(pidsOf(f).length, 2, 'no process started for B');
	assert.equal(readJsonLines(f.execLog).length, 2, 'B ran nothing');

	// A still works: the refusal did not touch its process.
	assert.equal(await increment(a), 3);

	const del = await a.delete();
	assert.equal(del.status, 200);
	await waitFor(() => !processAlive(pa), { timeout: 5000,
	    message: `A's upstream (pid ${pa}) to exit after DELETE` });
	assert.ok(!d.processes().some((p) => p.pid === pa));

	// The slot is free: B gets a new process with a fresh counter.
	assert.equal(await increment(b), 1);
	const pb = execPid(f, 'increment', 3);
	assert.notEqual(pb, pa);
	assert.equal(pidsOf(f).length, 3);
	assert.equal(pidsOf(f)[2], pb);
});
