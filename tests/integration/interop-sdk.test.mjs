// Interop with the official TypeScript SDK: its Client, over each of the
// daemon's client transports (Streamable HTTP, legacy SSE, stdio through
// mcprelayctl connect), in front of the reference server-everything as a
// stdio upstream.  Tools, progress, sampling, resource subscriptions,
// prompts, logging; then the upstream is killed and the same client session
// must keep working.
//
// The packages come from tests/integration/package-lock.json, installed by
// setup-npm.sh into $top_builddir/tests/integration/node_modules.  When they
// are missing the tests FAIL (they do not skip): an interop regression must
// not hide behind a failed install.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
	baseConfig, bin, builddir, initialize, itest, lastStartPid, pidwrap,
	processAlive, readLines, startDaemon, tmpdir, toolText, waitFor,
} from './lib/harness.mjs';

const nodeModules = process.env.MCPRELAY_ITEST_NODE_MODULES ??
    path.join(builddir, 'tests', 'integration', 'node_modules');

/* Tool and prompt names of the pinned server-everything (2026.8.31). */
const EVERYTHING = Object.freeze({
	echo: 'echo',
	sum: 'get-sum',
	progress: 'trigger-long-running-operation',
	sampling: 'trigger-sampling-request',	// only when sampling is declared
	subscriberUpdates: 'toggle-subscriber-updates',
	simulatedLogging: 'toggle-simulated-logging',
	prompts: ['simple-prompt', 'args-prompt'],
	resource: 'demo://resource/dynamic/text/1',
});

/* The ESM file behind "pkg/sub" per the package's exports map. */
function resolveEsm(spec) {
	const parts = spec.split('/');
	const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
	const sub = '.' + spec.slice(name.length);
	const dir = path.join(nodeModules, name);
	const pkgFile = path.join(dir, 'package.json');
	if (!fs.existsSync(pkgFile))
		throw new Error(`${name} is not installed in ${nodeModules}: ` +
		    'tests/integration/setup-npm.sh (npm ci) failed or did not ' +
		    'run; the interop test cannot run without it');
	const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
	const pick = (target) => typeof target === 'string' ? target :
	    target?.import ?? target?.default;
	let file;
	if (pkg.exports?.[sub]) {
		file = pick(pkg.exports[sub]);
	} else {
		for (const [key, target] of Object.entries(pkg.exports ?? {})) {
			const star = key.indexOf('*');
			if (star === -1 || !sub.startsWith(key.slice(0, star)) ||
			    !sub.endsWith(key.slice(star + 1)))
				continue;
			const mid = sub.slice(star, sub.length - (key.length - star - 1));
			file = pick(target)?.replace('*', mid);
			break;
		}
	}
	file ??= sub;
	return path.join(dir, file);
}

let loaded;
/* The SDK's classes and server-everything's entry point, or throws. */
async function interop() {
	if (loaded)
		return loaded;
	const imp = (spec) => import(pathToFileURL(resolveEsm(spec)).href);
	const [client, streamable, sse, stdio, types] = await Promise.all([
		imp('@modelcontextprotocol/sdk/client/index.js'),
		imp('@modelcontextprotocol/sdk/client/streamableHttp.js'),
		imp('@modelcontextprotocol/sdk/client/sse.js'),
		imp('@modelcontextprotocol/sdk/client/stdio.js'),
		imp('@modelcontextprotocol/sdk/types.js'),
	]);
	const evDir = path.join(nodeModules, '@modelcontextprotocol',
	    'server-everything');
	const evPkg = JSON.parse(fs.readFileSync(path.join(evDir, 'package.json'),
	    'utf8'));
	const entry = path.join(evDir, typeof evPkg.bin === 'string' ?
	    evPkg.bin : evPkg.bin['mcp-server-everything']);
	loaded = { ...client, ...streamable, ...sse, ...stdio, ...types,
	    everythingEntry: entry, everythingVersion: evPkg.version };
	return loaded;
}

/* server-everything on stdio, its pid appended to pidfile at each start. */
function everythingCommand(m, pidfile) {
	return { command: '/bin/sh', args: [pidwrap, pidfile, process.execPath,
	    m.everythingEntry, 'stdio'] };
}

/* A Client that answers sampling and records what it is sent. */
function newClient(m) {
	const seen = { sampling: [], updated: [], logs: [] };
	const client = new m.Client({ name: 'mcprelay-itest', version: '1.0.0' },
	    { capabilities: { sampling: {} } });
	client.setRequestHandler(m.CreateMessageRequestSchema, async (req) => {
		seen.sampling.push(req.params);
		return { model: 'itest-model', role: 'assistant',
		    content: { type: 'text', text: 'sampled by the test' } };
	});
	client.setNotificationHandler(m.ResourceUpdatedNotificationSchema,
	    (n) => seen.updated.push(n.params.uri));
	client.setNotificationHandler(m.LoggingMessageNotificationSchema,
	    (n) => seen.logs.push(n.params));
	return { client, seen };
}

const opts = { timeout: 10000 };

itest('server-everything answers initialize over stdio under pidwrap ' +
    '(no daemon)', async (t) => {
	const m = await interop();
	const dir = tmpdir(t);
	const pidfile = path.join(dir, 'everything.pid');
	const { client } = newClient(m);
	const transport = new m.StdioClientTransport({
	    ...everythingCommand(m, pidfile), stderr: 'pipe' });
	await client.connect(transport, opts);
	let pid;
	try {
		assert.equal(client.getServerVersion()?.name,
		    'mcp-servers/everything');
		pid = lastStartPid(pidfile);
		assert.equal(pid, transport.pid, 'pidwrap execs in place');
		const names = (await client.listTools(undefined, opts)).tools
		    .map((x) => x.name);
		for (const n of [EVERYTHING.echo, EVERYTHING.sum, EVERYTHING.progress,
		    EVERYTHING.sampling, EVERYTHING.subscriberUpdates,
		    EVERYTHING.simulatedLogging])
			assert.ok(names.includes(n), `${n} in ${names}`);
		const prompts = (await client.listPrompts(undefined, opts)).prompts
		    .map((x) => x.name);
		for (const n of EVERYTHING.prompts)
			assert.ok(prompts.includes(n), `${n} in ${prompts}`);
	} finally {
		await client.close();
	}
	await waitFor(() => !processAlive(pid), { timeout: 5000,
	    message: 'server-everything to exit after close' });
});

/*
 * The whole conversation, then (crash: true) a SIGKILL of the upstream,
 * then more of it on the same client session.
 */
async function exercise(m, client, seen, pidfile, { crash = true } = {}) {
	assert.ok(client.getServerCapabilities()?.tools, 'tools capability');

	const names = (await client.listTools(undefined, opts)).tools
	    .map((x) => x.name);
	for (const n of [EVERYTHING.echo, EVERYTHING.sum, EVERYTHING.progress,
	    EVERYTHING.sampling, EVERYTHING.subscriberUpdates])
		assert.ok(names.includes(n), `${n} in ${names}`);

	const echo = await client.callTool({ name: EVERYTHING.echo,
	    arguments: { message: 'hello' } }, undefined, opts);
	assert.equal(toolText(echo), 'Echo: hello');
	const sum = await client.callTool({ name: EVERYTHING.sum,
	    arguments: { a: 2, b: 3 } }, undefined, opts);
	assert.equal(toolText(sum), 'The sum of 2 and 3 is 5.');

	// Progress: four steps over one second.
	const progress = [];
	const long = await client.callTool({ name: EVERYTHING.progress,
	    arguments: { duration: 1, steps: 4 } }, undefined,
	    { ...opts, onprogress: (p) => progress.push(p) });
	assert.match(toolText(long), /Duration: 1 seconds, Steps: 4/);
	// The SDK handles notifications a microtask later than responses, so
	// it may drop the last one, which arrives right before the result.
	assert.ok(progress.length >= 3, `${progress.length} progress updates`);
	assert.deepEqual(progress.map((p) => [p.progress, p.total]),
	    [[1, 4], [2, 4], [3, 4], [4, 4]].slice(0, progress.length));

	// Sampling: the server asks this client's "model" mid-call.
	const sampled = await client.callTool({ name: EVERYTHING.sampling,
	    arguments: { prompt: 'What is 2+2?', maxTokens: 16 } }, undefined,
	    opts);
	assert.equal(seen.sampling.length, 1);
	assert.match(seen.sampling[0].messages[0].content.text, /What is 2\+2\?/);
	assert.equal(seen.sampling[0].maxTokens, 16);
	assert.match(toolText(sampled), /sampled by the test/);
	assert.match(toolText(sampled), /itest-model/);

	// Resources: read, subscribe, get an update, stop the updates.
	const read = await client.readResource({ uri: EVERYTHING.resource }, opts);
	assert.equal(read.contents[0].uri, EVERYTHING.resource);
	assert.match(read.contents[0].text, /^Resource 1: /);
	assert.deepEqual(await client.subscribeResource(
	    { uri: EVERYTHING.resource }, opts), {});
	const on = await client.callTool({ name: EVERYTHING.subscriberUpdates,
	    arguments: {} }, undefined, opts);
	assert.match(toolText(on), /^Started/);
	await waitFor(() => seen.updated.includes(EVERYTHING.resource),
	    { timeout: 8000, message: 'notifications/resources/updated' });
	const off = await client.callTool({ name: EVERYTHING.subscriberUpdates,
	    arguments: {} }, undefined, opts);
	assert.match(toolText(off), /^Stopped/);

	// Prompts.
	const prompts = (await client.listPrompts(undefined, opts)).prompts
	    .map((p) => p.name);
	for (const n of EVERYTHING.prompts)
		assert.ok(prompts.includes(n), `${n} in ${prompts}`);
	const prompt = await client.getPrompt({ name: 'args-prompt',
	    arguments: { city: 'Paris' } }, opts);
	assert.equal(prompt.messages[0].content.text, "What's weather in Paris?");

	// Logging: set the level, then let the server log.
	assert.deepEqual(await client.setLoggingLevel('debug', opts), {});
	const logOn = await client.callTool({ name: EVERYTHING.simulatedLogging,
	    arguments: {} }, undefined, opts);
	assert.match(toolText(logOn), /^Started/);
	await waitFor(() => seen.logs.some((l) => /level[- ]message/i
	    .test(String(l.data))), { timeout: 8000,
	    message: 'a notifications/message from the simulated logging' });
	await client.callTool({ name: EVERYTHING.simulatedLogging,
	    arguments: {} }, undefined, opts);

	if (!crash)
		return;
	// Kill the upstream; the same session must keep working.
	const before = readLines(pidfile).length;
	const victim = lastStartPid(pidfile);
	process.kill(victim, 'SIGKILL');
	const again = (await client.listTools(undefined, opts)).tools
	    .map((x) => x.name);
	assert.ok(again.includes(EVERYTHING.echo), `echo in ${again}`);
	const after = await client.callTool({ name: EVERYTHING.echo,
	    arguments: { message: 'after the crash' } }, undefined, opts);
	assert.equal(toolText(after), 'Echo: after the crash');
	await waitFor(() => readLines(pidfile).length === before + 1,
	    { timeout: 5000, message: 'server-everything to be restarted' });
	assert.notEqual(lastStartPid(pidfile), victim);
	assert.ok(!processAlive(victim));
}

itest('the same conversation directly with server-everything (baseline, ' +
    'no daemon)', async (t) => {
	const m = await interop();
	const dir = tmpdir(t);
	const pidfile = path.join(dir, 'everything.pid');
	const { client, seen } = newClient(m);
	await client.connect(new m.StdioClientTransport({
	    ...everythingCommand(m, pidfile), stderr: 'pipe' }), opts);
	try {
		await exercise(m, client, seen, pidfile, { crash: false });
	} finally {
		await client.close();
	}
});

const transports = {
	'Streamable HTTP (/servers/everything/mcp)': (m, d) =>
	    new m.StreamableHTTPClientTransport(new URL(d.mcpUrl('everything'))),
	'legacy SSE (/servers/everything/sse)': (m, d) =>
	    new m.SSEClientTransport(new URL(d.sseUrl('everything'))),
	'stdio (mcprelayctl connect everything)': (m, d) => {
		const tr = new m.StdioClientTransport({ command: bin.ctl,
		    args: ['connect', 'everything', '--socket', d.socketPath],
		    env: { ...process.env, MCPRELAY_ITEST_TAG: d.tag },
		    stderr: 'pipe' });
		const err = fs.createWriteStream(path.join(d.dir, 'ctl.stderr'));
		tr.stderr.pipe(err);
		return tr;
	},
};

for (const [name, makeTransport] of Object.entries(transports)) {
	itest(`SDK client over ${name} through the daemon, surviving an ` +
	    'upstream crash', async (t) => {
		const m = await interop();
		const dir = tmpdir(t);
		const pidfile = path.join(dir, 'everything.pid');
		const d = await startDaemon({ t, dir, config: baseConfig(dir, {
			servers: { everything: { type: 'stdio',
			    ...everythingCommand(m, pidfile),
			    trust_annotations: true } },
		}) });
		const { client, seen } = newClient(m);
		await client.connect(makeTransport(m, d), opts);
		try {
			await exercise(m, client, seen, pidfile);
		} finally {
			await client.close();
		}
		// The daemon also still serves a new client.
		const s = await initialize(d.mcpUrl('everything'));
		assert.equal(toolText(await s.callTool('echo',
		    { message: 'fresh' })), 'Echo: fresh');
	});
}
