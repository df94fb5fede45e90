// Retry rules (docs/retry.md) against the demo server's injected failures:
// a rate-limit tool error retried after the 2 s it asks for, a JSON-RPC
// error retried with the rule's own delays, immediate failure, fallback,
// a breaker trip, a 503 from an http upstream, a per-tool timeout; retry
// safety over the rules (rejected at load time, -32015 at run time); and
// mcprelayctl rules / rules test.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startFaultProxy } from './lib/fault-proxy.mjs';
import {
	ERR, baseConfig, bin, demoServer, initialize, itest, readJsonLines,
	startDaemon, tmpdir, toYaml, toolText, waitFor,
} from './lib/harness.mjs';

const logLines = (d, re) => d.log().split('\n').filter((l) => re.test(l));

/* Runs a binary to its end (10 s bound): { code, stdout, stderr }. */
function run(file, args, timeout = 10000) {
	return new Promise((resolve, reject) => {
		const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
		let stdout = '', stderr = '';
		child.stdout.setEncoding('utf8');
		child.stderr.setEncoding('utf8');
		child.stdout.on('data', (d) => { stdout += d; });
		child.stderr.on('data', (d) => { stderr += d; });
		const timer = setTimeout(() => {
			child.kill('SIGKILL');
			reject(new Error(`${path.basename(file)}: no exit in ` +
			    `${timeout} ms`));
		}, timeout);
		child.on('error', (e) => { clearTimeout(timer); reject(e); });
		child.on('close', (code) => {
			clearTimeout(timer);
			resolve({ code, stdout, stderr });
		});
	});
}

const ctl = (d, ...args) => run(bin.ctl, [...args, '--socket',
    path.join(d.dir, 'control.sock')]);

/* A daemon with server "demo" (demo-server args, more server settings). */
async function demoDaemon(t, dir, args, extra = {}, over = {}) {
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		servers: { demo: demoServer(args, extra) }, ...over,
	}) });
	await waitFor(() => logLines(d, /server demo: \w+ -> ready/).length > 0,
	    { message: 'server demo to be ready' });
	return d;
}

itest('a rate-limit tool error "retry in 2s" is retried once after 2 s ' +
    'and succeeds', async (t) => {
	const dir = tmpdir(t);
	const exec = path.join(dir, 'exec.log');
	const d = await demoDaemon(t, dir, ['--exec-log', exec,
	    '--tool-error', 'echo:1:rate limit, retry in 2s'], {
		retry: { rules: [{ name: 'rate-limit', result_error: true,
		    message: 'retry in ([0-9]+)s', action: 'retry',
		    max_retries: 2 }] },
	});
	const s = await initialize(d.mcpUrl('demo'));
	const t0 = Date.now();
	const r = await s.callTool('echo', { text: 'hello' });
	const elapsed = Date.now() - t0;
	assert.equal(r.isError, undefined, JSON.stringify(r));
	assert.equal(toolText(r), 'hello');
	assert.ok(elapsed >= 1900, `retried after ${elapsed} ms, not ~2 s`);
	assert.deepEqual(readJsonLines(exec).map((e) => e.tool),
	    ['echo', 'echo'], 'exactly two executions');
	assert.equal(logLines(d, /server demo: tool 'echo' failed \(tool error: rate limit, retry in 2s\); retrying in 2\.00s as the error asks \(rule 'rate-limit', retry 1 of 2\)/).length, 1);

	const st = JSON.parse((await ctl(d, 'stats', 'demo', '--json')).stdout);
	assert.deepEqual(st.rules.matches, { 'rate-limit': 1 });
	assert.deepEqual(st.rules.actions,
	    { retry: 1, fail: 0, fallback: 0, trip: 0 });
	assert.equal(st.requests.ruleRetries, 1);
});

itest('a JSON-RPC error is retried with the rule\'s own delays; a more ' +
    'specific rule before it fails at once', async (t) => {
	const dir = tmpdir(t);
	const exec = path.join(dir, 'exec.log');
	const d = await demoDaemon(t, dir, ['--exec-log', exec,
	    '--rpc-error', 'add:2:-32603:database blip'], {
		retry: { rules: [
			{ name: 'bug', jsonrpc_code: -32603,
			    message: '^permanent', action: 'fail' },
			{ name: 'blip', jsonrpc_code: ['-32603..-32600'],
			    action: 'retry', max_retries: 3,
			    initial_delay: '0.3s', backoff_factor: 2,
			    jitter: false },
		] },
	});
	const s = await initialize(d.mcpUrl('demo'));
	const t0 = Date.now();
	assert.equal(toolText(await s.callTool('add', { a: 2, b: 3 })), '5');
	const elapsed = Date.now() - t0;
	assert.ok(elapsed >= 850, `two retries took ${elapsed} ms, not 0.9 s`);
	assert.equal(readJsonLines(exec).length, 3, 'two failures, a success');
	const lines = logLines(d, /rule 'blip', retry/);
	assert.equal(lines.length, 2);
	assert.match(lines[0], /error -32603: database blip\); retrying in 0\.30s \(rule 'blip', retry 1 of 3\)/);
	assert.match(lines[1], /retrying in 0\.60s \(rule 'blip', retry 2 of 3\)/);
});

itest('fail: a matching rule returns the error at once', async (t) => {
	const dir = tmpdir(t);
	const exec = path.join(dir, 'exec.log');
	const d = await demoDaemon(t, dir, ['--exec-log', exec,
	    '--rpc-error', 'add:0:-32603:permanent bug', '--exit-during',
	    'echo'], {
		retry: { rules: [
			{ name: 'bug', jsonrpc_code: -32603,
			    message: '^permanent', action: 'fail' },
			{ name: 'blip', jsonrpc_code: -32603, action: 'retry' },
		] },
		tools: { echo: { retry: { rules: [
			{ name: 'no-rerun', class: 'upstream_exit',
			    action: 'fail' }] } } },
	});
	const s = await initialize(d.mcpUrl('demo'));
	const r = await s.request('tools/call', { name: 'add',
	    arguments: { a: 1, b: 1 } });
	assert.equal(r.error?.code, -32603);
	assert.equal(r.error?.message, 'permanent bug');
	// echo is annotated idempotent, so without the rule a crash during
	// it would be re-sent; the rule fails it at once, one execution.
	const e = await s.request('tools/call', { name: 'echo',
	    arguments: { text: 'x' } });
	assert.equal(e.error?.code, ERR.UNAVAILABLE);
	assert.match(e.error?.message, /connection to server 'demo' was lost \(exited with status 4\); tool 'echo' is not retried \(rule 'no-rerun'\)/);
	assert.deepEqual(readJsonLines(exec).map((x) => x.tool),
	    ['add', 'echo']);
	const st = JSON.parse((await ctl(d, 'stats', 'demo', '--json')).stdout);
	assert.deepEqual(st.rules.matches, { bug: 1, 'no-rerun': 1 });
	assert.equal(st.rules.actions.fail, 2);
});

itest('fallback: rules send an overloaded server\'s calls to its fallback',
    async (t) => {
	const dir = tmpdir(t);
	const execA = path.join(dir, 'exec-a.log');
	const execB = path.join(dir, 'exec-b.log');
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		servers: {
			a: demoServer(['--name', 'a', '--exec-log', execA,
			    '--rpc-error', 'echo:0:-32000:overloaded',
			    '--tool-error', 'add:1:busy, try elsewhere'], {
				fallback: 'b',
				retry: { rules: [
					{ name: 'overloaded',
					    jsonrpc_code: -32000,
					    action: 'fallback' },
					{ name: 'busy', result_error: true,
					    message: '^busy', action: 'fallback' },
				] },
			}),
			b: demoServer(['--name', 'b', '--exec-log', execB]),
		},
	}) });
	await waitFor(() => logLines(d, /server [ab]: \w+ -> ready/).length >= 2,
	    { message: 'both servers to be ready' });
	const s = await initialize(d.mcpUrl('a'));
	// A JSON-RPC error and a tool error, each answered by b.
	assert.equal(toolText(await s.callTool('echo', { text: 'fb' })), 'fb');
	assert.equal(toolText(await s.callTool('add', { a: 1, b: 2 })), '3');
	assert.deepEqual(readJsonLines(execA).map((x) => x.tool),
	    ['echo', 'add']);
	assert.deepEqual(readJsonLines(execB).map((x) => [x.tool, x.args]),
	    [['echo', { text: 'fb' }], ['add', { a: 1, b: 2 }]]);
	assert.equal(logLines(d, /server a: a retry rule asks; tool '(echo|add)' goes to fallback server b/).length, 2);
	// a stays up: once add stops failing, a answers it itself.
	assert.equal(toolText(await s.callTool('add', { a: 2, b: 2 })), '4');
	assert.equal(readJsonLines(execA).length, 3);
	assert.equal(readJsonLines(execB).length, 2);
	const st = JSON.parse((await ctl(d, 'stats', 'a', '--json')).stdout);
	assert.deepEqual(st.rules.matches, { overloaded: 1, busy: 1 });
	assert.equal(st.requests.fallbacks, 2);
});

itest('connect failures: a rule\'s delays, or no retry at all',
    async (t) => {
	const dir = tmpdir(t);
	const f = (n) => path.join(dir, n);
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		servers: {
			slow: demoServer(['--fail-starts', 2, '--state-file',
			    f('state-slow'), '--starts-log', f('starts-slow')], {
				retry: { rules: [{ name: 'spawn-slowly',
				    class: 'upstream_exit', action: 'retry',
				    initial_delay: '0.6s', backoff_factor: 1,
				    jitter: false }] },
			}),
			never: demoServer(['--fail-starts', 100, '--state-file',
			    f('state-never'), '--starts-log', f('starts-never')], {
				retry: { rules: [{ name: 'give-up',
				    class: 'upstream_exit', action: 'fail' }] },
				// No half-open probe during the test.
				circuit_breaker: { open_duration: '60s',
				    max_open_duration: '60s' },
			}),
		},
	}) });
	await waitFor(() => logLines(d, /server slow: \w+ -> ready/).length > 0,
	    { message: 'server slow to be ready', timeout: 10000 });
	const starts = readJsonLines(f('starts-slow')).map((x) => x.time);
	assert.equal(starts.length, 3);
	for (let i = 1; i < 3; i++)
		assert.ok(starts[i] - starts[i - 1] >= 0.55,
		    `start ${i + 1} came ${starts[i] - starts[i - 1]} s after`);
	assert.equal(logLines(d, /server slow: .*\[upstream_exit\]; retry \d of 3 in 0\.60s \(rule 'spawn-slowly'\)/).length, 2);
	await waitFor(() => logLines(d, /server never: \w+ -> failed/).length > 0,
	    { message: 'server never to fail' });
	assert.equal(readJsonLines(f('starts-never')).length, 1, 'not retried');
	assert.equal(logLines(d, /server never: .*\[upstream_exit\]; not retried \(rule 'give-up'\)/).length, 1);
});

itest('trip on a crash: the server fails fast instead of reconnecting',
    async (t) => {
	const dir = tmpdir(t);
	const starts = path.join(dir, 'starts.log');
	const d = await demoDaemon(t, dir, ['--exit-during', 'increment',
	    '--starts-log', starts], {
		retry: { rules: [{ name: 'crash', class: 'upstream_exit',
		    action: 'trip' }] },
		circuit_breaker: { failure_threshold: 1, open_duration: '60s',
		    max_open_duration: '60s' },
	});
	const s = await initialize(d.mcpUrl('demo'));
	const r = await s.request('tools/call', { name: 'increment',
	    arguments: {} });
	assert.equal(r.error?.code, ERR.MAYBE_RAN, 'trip does not retry it');
	const e = await s.request('tools/call', { name: 'echo',
	    arguments: { text: 'x' } });
	assert.equal(e.error?.code, ERR.CIRCUIT_OPEN);
	assert.equal(logLines(d, /server demo: ready -> failed \(circuit breaker opened by a retry rule\)/).length, 1);
	assert.equal(readJsonLines(starts).length, 1, 'no reconnect');
});

itest('trip: errors the breaker would not count open it', async (t) => {
	const dir = tmpdir(t);
	const d = await demoDaemon(t, dir, ['--rpc-error',
	    'add:0:-32603:broken'], {
		retry: { rules: [{ name: 'broken', jsonrpc_code: -32603,
		    action: 'trip' }] },
		circuit_breaker: { failure_threshold: 2, open_duration: '60s',
		    max_open_duration: '60s' },
	});
	const s = await initialize(d.mcpUrl('demo'));
	for (let i = 0; i < 2; i++) {
		const r = await s.request('tools/call', { name: 'add',
		    arguments: { a: 1, b: 1 } });
		assert.equal(r.error?.code, -32603, `call ${i + 1}`);
	}
	await waitFor(() => logLines(d, /server demo: ready -> failed \(circuit breaker opened by retry rule 'broken'\)/).length === 1,
	    { message: 'the breaker to open' });
	const r = await s.request('tools/call', { name: 'echo',
	    arguments: { text: 'x' } });
	assert.equal(r.error?.code, ERR.CIRCUIT_OPEN);
	const st = JSON.parse((await ctl(d, 'stats', 'demo', '--json')).stdout);
	assert.equal(st.breaker.state, 'open');
	assert.deepEqual(st.rules.matches, { broken: 2 });
});

/* The demo server over HTTP behind the fault proxy: { proxy, exec }. */
async function httpDemo(t, dir) {
	const exec = path.join(dir, 'exec.log');
	const up = spawn(bin.demo, ['--http', '127.0.0.1:0', '--exec-log', exec],
	    { stdio: ['ignore', 'ignore', 'pipe'] });
	t.after(() => up.kill('SIGKILL'));
	let err = '';
	up.stderr.setEncoding('utf8');
	up.stderr.on('data', (x) => { err += x; });
	await waitFor(() => /listening on (http:\S+)/.test(err),
	    { message: 'the demo server to listen' });
	const target = /listening on (http:\/\/[^/\s]+)/.exec(err)[1];
	const proxy = await startFaultProxy({ target });
	t.after(() => proxy.close());
	return { proxy, exec };
}

itest('an http 503 on a call is retried after the rule\'s delay',
    async (t) => {
	const dir = tmpdir(t);
	const { proxy, exec } = await httpDemo(t, dir);
	proxy.rule({ when: (r) => r.method === 'POST' &&
	    r.json?.method === 'tools/call', status: 503, count: 1 });
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		servers: { web: { type: 'http', url: proxy.url(),
		    tools: { echo: { idempotent: true, retry: { rules: [
			{ name: 'busy', http_status: 503, action: 'retry',
			    initial_delay: '0.8s', jitter: false }] } } } } },
	}) });
	await waitFor(() => logLines(d, /server web: \w+ -> ready/).length > 0,
	    { message: 'server web to be ready' });
	const s = await initialize(d.mcpUrl('web'));
	const t0 = Date.now();
	assert.equal(toolText(await s.callTool('echo', { text: 'w' })), 'w');
	assert.ok(Date.now() - t0 >= 750, 'waited the rule\'s 0.8 s');
	assert.equal(readJsonLines(exec).length, 1, 'the 503 never reached it');
	assert.equal(logLines(d, /retrying in 0\.80s \(rule 'busy', retry 1 of 3\)/).length, 1);
});

itest('queue: false fails at once while the server reconnects',
    async (t) => {
	const dir = tmpdir(t);
	const { proxy } = await httpDemo(t, dir);
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		servers: { web: { type: 'http', url: proxy.url(),
		    retry: { max_retries: 10, initial_delay: '1s' },
		    tools: { echo: { queue: false } } } },
	}) });
	await waitFor(() => logLines(d, /server web: \w+ -> ready/).length > 0,
	    { message: 'server web to be ready' });
	const s = await initialize(d.mcpUrl('web'));
	proxy.rule({ when: (r) => r.method === 'POST' &&
	    r.json?.method === 'initialize', status: 503, count: Infinity });
	assert.equal((await ctl(d, 'reconnect', 'web')).code, 0);
	await waitFor(() => logLines(d, /server web: \w+ -> backoff/).length > 0,
	    { message: 'server web to back off' });
	const t0 = Date.now();
	const r = await s.request('tools/call', { name: 'echo',
	    arguments: { text: 'x' } });
	assert.equal(r.error?.code, ERR.UNAVAILABLE);
	assert.match(r.error?.message, /server 'web' is reconnecting and tool 'echo' does not wait for it \(queue: false\)/);
	assert.ok(Date.now() - t0 < 900, 'at once, not after the backoff');
});

itest('a tool\'s own timeout', async (t) => {
	const dir = tmpdir(t);
	const d = await demoDaemon(t, dir, [], {
		tools: { sleep_ms: { timeout: '0.3s' } },
	});
	const s = await initialize(d.mcpUrl('demo'));
	const t0 = Date.now();
	const r = await s.request('tools/call', { name: 'sleep_ms',
	    arguments: { ms: 5000 } });
	assert.equal(r.error?.code, ERR.TIMEOUT);
	assert.match(r.error?.message, /did not answer tools\/call within the tool's timeout \(0\.3s\)/);
	assert.ok(Date.now() - t0 < 4000, 'the tool timeout, not 60 s');
});

itest('retry safety: a rule that would re-run a non-idempotent call is ' +
    'refused at load time; at run time the call gets -32015', async (t) => {
	const dir = tmpdir(t);
	const file = path.join(dir, 'bad.yaml');
	const text = toYaml({ servers: { demo: { type: 'stdio',
	    command: bin.demo, tools: { increment: { retry: { rules: [
		{ class: 'upstream_exit', action: 'retry' }] } } } } } });
	fs.writeFileSync(file, text);
	const lines = text.split('\n');
	const line = lines.findIndex((l) => /- class: upstream_exit/.test(l)) + 1;
	const col = lines[line - 1].indexOf('class') + 1;
	const c = await run(bin.mcprelayd, ['--check-config', file]);
	assert.equal(c.code, 78, c.stderr);
	assert.equal(c.stderr, `${file}:${line}:${col}: servers.demo.tools.` +
	    `increment.retry.rules[0]: rule 'bad.yaml:${line}' would run tool ` +
	    "'increment' again after a 'upstream_exit' failure, when it may " +
	    "already have run; declare it 'idempotent: true' under " +
	    'servers.demo.tools.increment if running it twice is harmless\n');

	// A server-wide rule is allowed, but never re-runs increment.
	const exec = path.join(dir, 'exec.log');
	const d = await demoDaemon(t, dir, ['--exec-log', exec,
	    '--exit-during', 'increment'], {
		retry: { rules: [{ name: 'crash', class: ['upstream_exit',
		    'reset'], action: 'retry', initial_delay: '0.1s' }] },
	});
	const s = await initialize(d.mcpUrl('demo'));
	const r = await s.request('tools/call', { name: 'increment',
	    arguments: {} });
	assert.equal(r.error?.code, ERR.MAYBE_RAN);
	assert.match(r.error?.message, /may or may not have run/);
	assert.equal(readJsonLines(exec).length, 1, 'run once, never again');
	assert.equal(logLines(d, /rule 'crash' would retry tool 'increment', but it may have run and is not safe to repeat/).length, 1);
});

itest('mcprelayctl rules and rules test', async (t) => {
	const dir = tmpdir(t);
	const exec = path.join(dir, 'exec.log');
	const d = await demoDaemon(t, dir, ['--exec-log', exec,
	    '--tool-error', 'echo:1:rate limit, retry in 1s'], {
		retry: { max_retries: 3, initial_delay: '0.5s', rules: [
			{ name: 'rate-limit', result_error: true,
			    message: 'retry in ([0-9]+)s', action: 'retry',
			    max_retries: 2 },
			{ name: 'blip', jsonrpc_code: [-32603, '-32099..-32000'],
			    action: 'retry', initial_delay: '2s',
			    backoff_factor: 3, jitter: false },
		] },
		tools: { echo: { retry: { rules: [
			{ name: 'echo-timeout', class: 'timeout',
			    action: 'fail' }] } } },
	}, { defaults: { retry: { max_retries: 3, initial_delay: '0.2s',
	    max_delay: '20s', backoff_factor: 2.0, jitter: false, rules: [
		{ name: 'last', class: 'http_429', action: 'trip' }] } } });
	const cfg = d.configPath;
	const s = await initialize(d.mcpUrl('demo'));
	assert.equal(toolText(await s.callTool('echo', { text: 'a' })), 'a');

	const lineOf = (re) => fs.readFileSync(cfg, 'utf8').split('\n')
	    .findIndex((l) => re.test(l)) + 1;
	const o = (re) => `${cfg}:${lineOf(re)}`;
	let r = await ctl(d, 'rules', 'demo', 'echo');
	assert.equal(r.code, 0, r.stderr);
	const pad = (x, n) => x.padEnd(n);
	const row = (i, name, scope, action, m, origin, match) =>
	    `${String(i).padStart(3)}  ${pad(name, 20)} ${pad(scope, 8)} ` +
	    `${pad(action, 8)} ${String(m).padStart(7)}  ${pad(origin, 28)} ` +
	    match;
	assert.equal(r.stdout, [
		'server demo, tool echo (timeout 10s, idempotent from ' +
		    'annotations, queue true): 4 rules, first match wins',
		'  #  NAME                 SCOPE    ACTION   MATCHES  ORIGIN' +
		    '                       MATCH',
		row(1, 'echo-timeout', 'tool', 'fail', 0,
		    o(/name: echo-timeout/), 'class=timeout'),
		row(2, 'rate-limit', 'server', 'retry', 1,
		    o(/name: rate-limit/), 'result_error ' +
		    'message=/retry in ([0-9]+)s/ (max_retries 2)'),
		row(3, 'blip', 'server', 'retry', 0, o(/name: blip/),
		    'jsonrpc_code=-32603,-32099..-32000 (initial_delay 2s, ' +
		    'backoff_factor 3, jitter false)'),
		row(4, 'last', 'defaults', 'trip', 0, o(/name: last/),
		    'class=http_429'),
		'  -  (built-in)           retry_on: connect_failure,reset,' +
		    'timeout,spawn_failure,upstream_exit,http_5xx,http_429,' +
		    'session_expired',
		''].join('\n'));

	r = await ctl(d, 'rules', 'test', 'demo', 'add', '--jsonrpc-code',
	    '-32050');
	assert.equal(r.code, 0, r.stderr);
	assert.equal(r.stdout, [
		'server demo, tool add: jsonrpc_code -32050',
		`rule:    blip (server #2, ${o(/name: blip/)}): ` +
		    'jsonrpc_code=-32603,-32099..-32000',
		'action:  retry',
		'outcome: retry after the delays below',
		'delays:  2.00s 6.00s 18.00s (max_retries 3, jitter none)',
		''].join('\n'));

	r = await ctl(d, 'rules', 'test', 'demo', 'echo', '--result-error',
	    'rate limit, retry in 20s');
	assert.equal(r.code, 0, r.stderr);
	assert.equal(r.stdout, [
		"server demo, tool echo: result_error 'rate limit, retry in 20s'",
		`rule:    rate-limit (server #1, ${o(/name: rate-limit/)}): ` +
		    'result_error message=/retry in ([0-9]+)s/',
		'action:  retry',
		'outcome: retry after the delays below',
		'hint:    20s (from the message)',
		'delays:  20.00s 20.00s (max_retries 2, jitter none)',
		''].join('\n'));

	r = await ctl(d, 'rules', 'test', 'demo', 'echo', '--class',
	    'timeout');
	assert.equal(r.code, 0, r.stderr);
	assert.equal(r.stdout, [
		'server demo, tool echo: class timeout',
		`rule:    echo-timeout (tool #1, ${o(/name: echo-timeout/)}): ` +
		    'class=timeout',
		'action:  fail',
		'outcome: fail: the client gets the error at once',
		''].join('\n'));

	r = await ctl(d, 'rules', 'test', 'demo', 'increment', '--class',
	    'reset', '--json');
	assert.equal(r.code, 0, r.stderr);
	const j = JSON.parse(r.stdout);
	assert.equal(j.rule, null);
	assert.equal(j.scope, 'builtin');
	assert.equal(j.action, 'retry');
	assert.equal(j.retrySafe, false);
	assert.equal(j.outcome, 'fail with -32015: the call may already have ' +
	    'run and the tool is not idempotent');

	r = await ctl(d, 'rules', 'test', 'demo', 'echo', '--class', 'timout');
	assert.equal(r.code, 1);
	assert.match(r.stderr, /unknown error class 'timout'/);
	r = await ctl(d, 'rules', 'test', 'demo', 'echo');
	assert.equal(r.code, 2);
	assert.match(r.stderr, /usage: mcprelayctl rules/);
	r = await ctl(d, 'rules', 'nosuch');
	assert.equal(r.code, 1);
	assert.match(r.stderr, /unknown server 'nosuch'/);
});

itest('a reload changes rules without restarting the server', async (t) => {
	const dir = tmpdir(t);
	const d = await demoDaemon(t, dir, ['--rpc-error',
	    'add:0:-32603:broken'], {
		retry: { rules: [{ name: 'flip', jsonrpc_code: -32603,
		    action: 'fail' }] },
	});
	const s = await initialize(d.mcpUrl('demo'));
	let r = await s.request('tools/call', { name: 'add',
	    arguments: { a: 1, b: 1 } });
	assert.equal(r.error?.code, -32603);
	const text = fs.readFileSync(d.configPath, 'utf8');
	assert.match(text, /action: fail/);
	fs.writeFileSync(d.configPath, text.replace('action: fail',
	    'action: trip'));
	const re = await ctl(d, 'reload');
	assert.equal(re.code, 0, re.stderr);
	const list = JSON.parse((await ctl(d, 'rules', 'demo', '--json'))
	    .stdout);
	assert.equal(list.rules.length, 1);
	assert.equal(list.rules[0].action, 'trip');
	assert.equal(list.rules[0].matches, 1, 'counted by name across it');
	r = await s.request('tools/call', { name: 'add',
	    arguments: { a: 1, b: 1 } });
	assert.equal(r.error?.code, -32603);
	const st = JSON.parse((await ctl(d, 'stats', 'demo', '--json')).stdout);
	assert.equal(st.process.starts, 1, 'the server was not restarted');
	assert.deepEqual(st.rules.actions,
	    { retry: 0, fail: 1, fallback: 0, trip: 1 });
	assert.equal(st.breaker.consecutiveFailures, 1);
});
