// SIGHUP reloads the configuration: a server added appears (clients are
// told the lists changed) while sessions and unchanged servers go on
// untouched; an invalid file keeps the running configuration and the error
// is logged as file:line:col; per_client upstreams follow their server.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import {
	baseConfig, demoServer, initialize, itest, processAlive,
	readJsonLines, readLines, sleep, startDaemon, tmpdir, toYaml, toolText,
	waitFor,
} from './lib/harness.mjs';

/*
 * Writes cfg over the daemon's config file as startDaemon would have (same
 * port, the harness's tag in every stdio server's env, so unchanged
 * servers compare equal), sends SIGHUP and waits for the outcome.
 */
async function reload(d, cfg, { want = 'applied' } = {}) {
	cfg.listen.http = `127.0.0.1:${d.port}`;
	for (const s of Object.values(cfg.servers))
		s.env = { ...(s.env ?? {}), MCPRELAY_ITEST_TAG: d.tag };
	const text = toYaml(cfg);
	fs.writeFileSync(d.configPath, text);
	const re = want === 'applied' ? /reload: applied/g :
	    /reload: .* is invalid; keeping the running configuration/g;
	const before = (d.log().match(re) ?? []).length;
	process.kill(d.pid, 'SIGHUP');
	await waitFor(() => (d.log().match(re) ?? []).length > before,
	    { timeout: 5000, message: `the reload to be ${want}` });
	return text;
}

itest('SIGHUP adding a server: its tools appear, the session and the ' +
    'unchanged server go on', async (t) => {
	const dir = tmpdir(t);
	const f = {
		startsDemo: path.join(dir, 'starts-demo.log'),
		execExtra: path.join(dir, 'exec-extra.log'),
	};
	const config = (withExtra) => baseConfig(dir, {
		routing: { tool_prefix: 'always' },
		servers: {
			demo: demoServer(['--starts-log', f.startsDemo]),
			...(withExtra ? { extra: demoServer(['--name', 'extra',
			    '--tools-extra', 'only_extra', '--exec-log',
			    f.execExtra]) } : {}),
		},
	});
	const d = await startDaemon({ t, dir, config: config(false) });
	const s = await initialize(d.mcpUrl());
	const sid = s.sessionId;
	assert.equal(toolText(await s.callTool('demo__echo', { text: 'a' })),
	    'a');
	const before = (await s.call('tools/list', {})).tools.map((x) => x.name);
	assert.ok(!before.some((n) => n.startsWith('extra__')));
	assert.equal(readLines(f.startsDemo).length, 1);
	const g = await s.openGet();
	assert.equal(g.status, 200);

	await reload(d, config(true));
	await g.waitForMessage((m) =>
	    m.method === 'notifications/tools/list_changed', { timeout: 5000 });

	const after = (await s.call('tools/list', {})).tools.map((x) => x.name);
	assert.ok(after.includes('extra__only_extra'), `${after}`);
	assert.ok(after.includes('extra__echo'));
	assert.deepEqual(after.filter((n) => n.startsWith('demo__')), before,
	    'the unchanged server lists the same tools');
	assert.equal(toolText(await s.callTool('extra__only_extra',
	    { text: 'new' })), 'only_extra: new');
	assert.deepEqual(readJsonLines(f.execExtra).map((e) => e.tool),
	    ['only_extra']);

	// Same session, same upstream process.
	assert.equal(s.sessionId, sid);
	assert.equal(toolText(await s.callTool('demo__echo', { text: 'b' })),
	    'b');
	assert.equal(readLines(f.startsDemo).length, 1,
	    'the unchanged server was not restarted');

	// Removing it again: clients are told, its tools are gone.
	const seen = g.messages.length;
	await reload(d, config(false));
	await g.waitForMessage((m) =>
	    m.method === 'notifications/tools/list_changed',
	    { timeout: 5000, from: seen });
	const last = (await s.call('tools/list', {})).tools.map((x) => x.name);
	assert.deepEqual(last, before);
	const gone = await s.request('tools/call',
	    { name: 'extra__only_extra', arguments: { text: 'x' } });
	assert.equal(gone.error?.code, -32602);
	assert.equal(toolText(await s.callTool('demo__echo', { text: 'c' })),
	    'c');
	assert.equal(readLines(f.startsDemo).length, 1);
	g.close();
});

itest('SIGHUP with an invalid file: the daemon keeps serving and logs ' +
    'file:line:col', async (t) => {
	const dir = tmpdir(t);
	const startsLog = path.join(dir, 'starts.log');
	const config = (retry) => baseConfig(dir, {
		servers: { demo: demoServer(['--starts-log', startsLog],
		    { retry }) },
	});
	const d = await startDaemon({ t, dir,
	    config: config({ max_retries: 2 }) });
	const s = await initialize(d.mcpUrl());
	assert.equal(toolText(await s.callTool('echo', { text: '1' })), '1');

	const text = await reload(d, config({ max_retires: 5 }),
	    { want: 'invalid' });
	const lines = text.split('\n');
	const line = lines.findIndex((l) => /^\s*max_retires:/.test(l)) + 1;
	const col = lines[line - 1].search(/\S/) + 1;
	const want = `${d.configPath}:${line}:${col}: servers.demo.retry: ` +
	    "unknown key 'max_retires' (did you mean 'max_retries'?)";
	assert.ok(d.log().includes(want),
	    `the log has "${want}":\n${d.log().split('\n').slice(-8).join('\n')}`);

	// Still serving, with the old configuration and the same upstream.
	assert.ok(d.running());
	assert.equal(toolText(await s.callTool('echo', { text: '2' })), '2');
	const other = await initialize(d.mcpUrl());
	assert.deepEqual(await other.call('ping'), {});
	assert.equal(readLines(startsLog).length, 1);

	// A fixed file is taken on the next SIGHUP.
	await reload(d, config({ max_retries: 2 }));
	assert.equal(toolText(await s.callTool('echo', { text: '3' })), '3');
	assert.equal(readLines(startsLog).length, 1);
});

itest('SIGHUP keeps per_client upstreams of an unchanged server and stops ' +
    'them when it is removed', async (t) => {
	const dir = tmpdir(t);
	const execLog = path.join(dir, 'exec.log');
	const config = (servers) => baseConfig(dir, { servers });
	const pc = () => demoServer(['--exec-log', execLog],
	    { session_mode: 'per_client' });
	const d = await startDaemon({ t, dir, config: config({ pc: pc() }) });
	const a = await initialize(d.mcpUrl('pc'));
	assert.equal(toolText(await a.callTool('increment', {})), '1');
	const pid = readJsonLines(execLog)[0].pid;

	await reload(d, config({ pc: pc(), other: demoServer([]) }));
	assert.equal(toolText(await a.callTool('increment', {})), '2',
	    'the same process after the reload');
	assert.equal(readJsonLines(execLog)[1].pid, pid);

	await reload(d, config({ other: demoServer([]) }));
	await waitFor(() => !processAlive(pid), { timeout: 5000,
	    message: `the per-client upstream (pid ${pid}) to stop` });
	const r = await a.request('tools/call',
	    { name: 'increment', arguments: {} });
	assert.equal(r.status, 404);
	assert.equal(r.error?.code, -32016);
	await sleep(100);
	assert.equal(readJsonLines(execLog).length, 2);
});

/*
 * Reload under client load: while four clients call the unchanged server
 * without pause, three reloads add a server, change one and remove one.
 * No call to the unchanged server may fail, and it is never restarted.
 */
itest('reloads under load fail no call to an unchanged server',
    { timeout: 40000 }, async (t) => {
	const dir = tmpdir(t);
	const startsKeep = path.join(dir, 'starts-keep.log');
	const keep = demoServer(['--starts-log', startsKeep]);
	const servers = (step) => {
		const s = { keep };
		if (step >= 1)
			s.added = demoServer(['--name', 'added']);
		// Step 2 changes "added"; step 3 removes it.
		if (step === 2)
			s.added = demoServer(['--name', 'added', '--delay-ms', 1]);
		if (step === 3)
			delete s.added;
		return s;
	};
	const config = (step) => baseConfig(dir, {
		routing: { tool_prefix: 'always' }, servers: servers(step),
	});
	const d = await startDaemon({ t, dir, config: config(0) });
	const sessions = await Promise.all([0, 1, 2, 3].map(() =>
	    initialize(d.mcpUrl())));
	let stop = false, calls = 0;
	const failures = [];
	const worker = async (s, w) => {
		for (let i = 0; !stop && i < 5000; i++) {
			try {
				const text = `${w}-${i}`;
				const r = await s.callTool('keep__echo', { text });
				assert.equal(toolText(r), text);
				calls++;
			} catch (e) {
				failures.push(String(e?.message ?? e));
			}
		}
	};
	const load = sessions.map((s, w) => worker(s, w));
	try {
		for (const step of [1, 2, 3]) {
			await sleep(300);
			await reload(d, config(step));
		}
		await sleep(300);
	} finally {
		stop = true;
		await Promise.all(load);
	}
	assert.deepEqual(failures, [], 'every call to the unchanged server ' +
	    'succeeded');
	assert.ok(calls > 50, `the load really ran (${calls} calls)`);
	assert.equal(readLines(startsKeep).length, 1,
	    'the unchanged server was never restarted');
	const names = (await sessions[0].call('tools/list', {})).tools
	    .map((x) => x.name);
	assert.ok(!names.some((n) => n.startsWith('added__')), `${names}`);
});

itest('SIGHUP applies new listen limits at once, also on a connection ' +
    'already open', async (t) => {
	const dir = tmpdir(t);
	const config = (maxBody) => baseConfig(dir, {
		listen: { max_body_size: maxBody },
		servers: { demo: demoServer([]) },
	});
	const d = await startDaemon({ t, dir, config: config('64KiB') });
	const sock = net.connect(d.port, '127.0.0.1');
	t.after(() => sock.destroy());
	let got = '';
	sock.on('data', (b) => { got += b.toString('latin1'); });
	const post = (body) => {
		got = '';
		sock.write('POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
		    'Content-Type: application/json\r\n' +
		    `Content-Length: ${body.length}\r\n\r\n${body}`);
	};
	const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping',
	    params: { pad: 'x'.repeat(2000) } });
	post(body);
	await waitFor(() => /\r\n\r\n\{.*\}$/s.test(got),
	    { message: 'the first answer' });
	assert.match(got, /^HTTP\/1\.1 400 /, 'no session, but not too large');
	assert.doesNotMatch(got, /Connection: close/i);

	await reload(d, config('1KiB'));
	post(body);
	await waitFor(() => /\r\n\r\n\{.*\}$/s.test(got),
	    { message: 'the second answer' });
	assert.match(got, /^HTTP\/1\.1 413 /);
	assert.match(got, /"limit":"max_body_size","value":1024/);
});
