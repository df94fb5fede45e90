// The `--command` of `conformance client`: mcprelayd as the MCP client.
// The suite starts a scenario's server and runs this with its URL last;
// this starts a fresh mcprelayd whose one upstream is that URL
// (`type: http`), then acts as an agent talking to the daemon's per-server
// endpoint, so every request the scenario's server sees was sent by
// mcprelayd.  The agent side is plain: it speaks the era the scenario runs
// at, makes the calls the scenario asks for (MCP_CONFORMANCE_CONTEXT) or
// its usual ones, and answers server->client requests from their schema.
//
// For the authorization scenarios (auth/*) the server has `auth: type:
// oauth` (with the scenario's pre-registered credentials, and the suite's
// Client ID Metadata Document URL); once the daemon has met the 401, this
// runs `mcprelayctl login` and plays the browser: a GET of the
// authorization URL whose redirect (the scenario's server answers at once)
// is followed to the daemon's loopback listener.  A call refused with
// -32008 and data.action "login" (step-up) is logged in again and retried.
//
// Environment: MCPRELAYD (the daemon binary), MCPRELAYCTL,
// MCP_CONFORMANCE_SCENARIO,
// MCP_CONFORMANCE_PROTOCOL_VERSION, MCP_CONFORMANCE_CONTEXT (from the
// suite), CLIENT_LOG_DIR (where to keep the daemon's config and log).
// Exit status 0 when the agent's calls went as the scenario intends.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const MODERN = '2026-07-28';
const upstream = process.argv.at(-1);
const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
const version = process.env.MCP_CONFORMANCE_PROTOCOL_VERSION ?? '2025-11-25';
const context = process.env.MCP_CONFORMANCE_CONTEXT ?
    JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT) : {};
const modern = version >= MODERN;
const mcprelayd = process.env.MCPRELAYD;
const mcprelayctl = process.env.MCPRELAYCTL ??
    path.join(path.dirname(mcprelayd ?? '.'), 'mcprelayctl');
const isAuth = scenario.startsWith('auth/');
// The URL the suite's CIMD scenario expects as client_id.
const CIMD_URL = 'https://conformance-test.local/client-metadata.json';

function say(...a) {
	process.stderr.write(`client.mjs: ${a.join(' ')}\n`);
}

// The daemon, on a free port, with a private control socket (in a short
// folder of its own: a socket path has at most 107 bytes).
async function startDaemon(dir, sockdir) {
	const cfg = path.join(dir, 'mcprelay.yaml');
	const auth = [];
	if (isAuth) {
		auth.push('    auth:', '      type: oauth',
		    `      token_file: ${path.join(dir, 'tokens', 'up.json')}`,
		    `      client_metadata_url: ${CIMD_URL}`);
		// The client credentials extension: no person, no login.
		if (scenario.startsWith('auth/client-credentials'))
			auth.push('      grant: client_credentials');
		if (context.client_id !== undefined)
			auth.push(`      client_id: ${JSON.stringify(
			    context.client_id)}`);
		if (context.client_secret !== undefined) {
			const f = path.join(dir, 'client-secret');
			fs.writeFileSync(f, context.client_secret + '\n',
			    { mode: 0o600 });
			auth.push(`      client_secret_file: ${f}`);
		}
	}
	fs.writeFileSync(cfg, [
	    'log:', '  level: debug',
	    'listen:', '  http: 127.0.0.1:0',
	    'control:', `  socket: ${path.join(sockdir, 'control.sock')}`,
	    'defaults:', '  request_timeout: 20s',
	    'servers:', '  up:', '    type: http', `    url: ${upstream}`,
	    ...auth, ''
	].join('\n'));
	const log = fs.openSync(path.join(dir, 'mcprelayd.log'), 'w');
	const child = spawn(mcprelayd, ['-f', '-c', cfg],
	    { stdio: ['ignore', log, 'pipe'] });
	let text = '';
	const url = await new Promise((resolve, reject) => {
		const t = setTimeout(() => reject(new Error(
		    'mcprelayd: not listening within 10 s')), 10000);
		child.stderr.on('data', (d) => {
			fs.writeSync(log, d);
			text += d;
			const m = /listening for MCP on (http:\/\/\S+):(\d+)\/mcp/
			    .exec(text);
			if (m) {
				clearTimeout(t);
				resolve(`${m[1]}:${m[2]}/servers/up/mcp`);
			}
		});
		child.on('exit', (code) => {
			clearTimeout(t);
			reject(new Error(`mcprelayd exited ${code}: ` +
			    text.trim().split('\n').slice(-3).join(' | ')));
		});
	});
	return { child, url };
}

// mcprelayctl with the daemon's socket; resolves to its exit code.
function ctl(sock, args, onLine) {
	return new Promise((resolve) => {
		const child = spawn(mcprelayctl, [...args, '--socket', sock],
		    { stdio: ['ignore', 'pipe', 'pipe'] });
		let buf = '';
		child.stdout.on('data', (d) => {
			buf += d;
			let i;
			while ((i = buf.indexOf('\n')) >= 0) {
				const line = buf.slice(0, i);
				buf = buf.slice(i + 1);
				onLine?.(line);
			}
		});
		child.stderr.on('data', (d) => say(`mcprelayctl: ${d}`.trim()));
		const t = setTimeout(() => child.kill('SIGKILL'), 25000);
		child.on('exit', (code) => {
			clearTimeout(t);
			resolve(code);
		});
	});
}

// The server's state, as mcprelayctl servers --json says.
async function serverState(sock) {
	let out = '';
	await ctl(sock, ['servers', '--json'], (l) => { out += l; });
	try {
		return JSON.parse(out).find((s) => s.name === 'up')?.state;
	} catch {
		return undefined;
	}
}

async function waitState(sock, states, ms) {
	const end = Date.now() + ms;
	let st;
	while (Date.now() < end) {
		st = await serverState(sock);
		if (states.includes(st))
			return st;
		await new Promise((r) => setTimeout(r, 100));
	}
	return st;
}

// mcprelayctl login, with this as the browser: the authorization URL is
// fetched and its redirects followed to the daemon's loopback listener.
async function login(sock) {
	let browsed = null;
	const code = await ctl(sock, ['login', 'up', '--json'], (line) => {
		let ev;
		try {
			ev = JSON.parse(line);
		} catch {
			return;
		}
		if (ev.phase === 'authorize')
			browsed = fetch(ev.url, { redirect: 'follow',
			    signal: AbortSignal.timeout(15000) })
			    .then((r) => r.text()).catch((e) =>
			    say(`browser: ${e.message}`));
		else if (ev.phase === 'failed')
			say(`login failed: ${ev.message}`);
	});
	await browsed;
	if (code !== 0)
		throw new Error(`mcprelayctl login exited ${code}`);
}

function stopDaemon(child) {
	return new Promise((resolve) => {
		if (child.exitCode !== null || child.signalCode !== null)
			return resolve(child.exitCode ?? child.signalCode);
		const t = setTimeout(() => child.kill('SIGKILL'), 10000);
		child.removeAllListeners('exit');
		child.on('exit', (code, sig) => {
			clearTimeout(t);
			resolve(code ?? sig);
		});
		child.kill('SIGTERM');
	});
}

// Fills an elicitation form from its schema: every default, as a user
// who accepts what is proposed would.
function fillForm(schema) {
	const content = {};
	for (const [k, p] of Object.entries(schema?.properties ?? {}))
		if (p.default !== undefined)
			content[k] = p.default;
		else if (p.type === 'boolean')
			content[k] = true;
		else if (p.type === 'string')
			content[k] = p.enum?.[0] ?? 'yes';
		else if (p.type === 'number' || p.type === 'integer')
			content[k] = p.minimum ?? 1;
	return content;
}

// An answer to a server->client request (legacy era) or an input request
// (modern era).
function answer(req) {
	switch (req.method) {
	case 'elicitation/create':
		return { action: 'accept',
		    content: fillForm(req.params?.requestedSchema) };
	case 'sampling/createMessage':
		return { role: 'assistant', model: 'conformance-client',
		    content: { type: 'text', text: 'ok' } };
	case 'roots/list':
		return { roots: [] };
	case 'ping':
		return {};
	default:
		return null;
	}
}

// A header value as 2026-07-28 encodes it: Base64 sentinel unless it is
// plain visible ASCII without leading or trailing space.
function encodeHeader(v) {
	const plain = /^[\x20-\x7e]*$/.test(v) && v === v.trim() &&
	    !/^=\?base64\?.*\?=$/.test(v);
	return plain ? v :
	    `=?base64?${Buffer.from(v, 'utf8').toString('base64')}?=`;
}

// Mcp-Param-* for the arguments a tool's inputSchema marks x-mcp-header.
function paramHeaders(schema, args, out = {}) {
	for (const [k, p] of Object.entries(schema?.properties ?? {})) {
		const v = args?.[k];
		if (v === undefined || v === null)
			continue;
		if (typeof p['x-mcp-header'] === 'string') {
			if (['string', 'number', 'boolean'].includes(typeof v))
				out[`Mcp-Param-${p['x-mcp-header']}`] =
				    encodeHeader(String(v));
		} else if (typeof v === 'object')
			paramHeaders(p, v, out);
	}
	return out;
}

class Agent {
	constructor(url) {
		this.url = url;
		this.nextId = 1;
		this.session = null;
		this.capabilities = { elicitation: { form: {} }, sampling: {},
		    roots: {} };
	}

	// The standard headers a modern request carries (Mcp-Method, and
	// Mcp-Name for the methods that name something).
	headers(msg) {
		const h = { 'Content-Type': 'application/json',
		    Accept: 'application/json, text/event-stream',
		    'MCP-Protocol-Version': modern ? MODERN : version };
		if (this.session)
			h['Mcp-Session-Id'] = this.session;
		if (modern && msg?.method !== undefined) {
			h['Mcp-Method'] = msg.method;
			const name = msg.params?.name ?? msg.params?.uri;
			if (['tools/call', 'prompts/get', 'resources/read']
			    .includes(msg.method) && name !== undefined)
				h['Mcp-Name'] = encodeHeader(name);
			if (msg.method === 'tools/call')
				Object.assign(h, paramHeaders(this.tools?.find(
				    (t) => t.name === name)?.inputSchema,
				    msg.params.arguments));
		}
		return h;
	}

	// POSTs a message; for a request, reads the SSE or JSON reply to the
	// end, answering server->client requests met on the way.
	async post(msg) {
		const res = await fetch(this.url, { method: 'POST',
		    headers: this.headers(msg), body: JSON.stringify(msg),
		    signal: AbortSignal.timeout(25000) });
		if (msg.id === undefined || msg.method === undefined) {
			await res.text();
			return { res };
		}
		const type = res.headers.get('content-type') ?? '';
		if (!type.startsWith('text/event-stream'))
			return { res, body: JSON.parse(await res.text()) };
		let reply = null;
		let buf = '';
		const decoder = new TextDecoder();
		for await (const chunk of res.body) {
			buf += decoder.decode(chunk, { stream: true });
			let i;
			while ((i = buf.indexOf('\n\n')) >= 0) {
				const ev = buf.slice(0, i);
				buf = buf.slice(i + 2);
				const data = ev.split('\n')
				    .filter((l) => l.startsWith('data:'))
				    .map((l) => l.slice(5).trimStart()).join('\n');
				if (!data)
					continue;
				const m = JSON.parse(data);
				if (m.id === msg.id && m.method === undefined)
					reply = m;
				else if (m.method !== undefined &&
				    m.id !== undefined)
					await this.respond(m);
			}
			if (reply)
				break;
		}
		return { res, body: reply };
	}

	async respond(req) {
		const result = answer(req);
		await this.post(result === null ?
		    { jsonrpc: '2.0', id: req.id, error: { code: -32601,
		    message: `not supported: ${req.method}` } } :
		    { jsonrpc: '2.0', id: req.id, result });
	}

	async request(method, params = {}) {
		if (modern)
			params = { ...params, _meta: { ...params._meta,
			    'io.modelcontextprotocol/protocolVersion': MODERN,
			    'io.modelcontextprotocol/clientCapabilities':
			    this.capabilities,
			    'io.modelcontextprotocol/clientInfo': { name:
			    'conformance-agent', version: '1.0.0' } } };
		const { res, body } = await this.post({ jsonrpc: '2.0',
		    id: this.nextId++, method, params });
		if (!body)
			throw new Error(`${method}: HTTP ${res.status}, ` +
			    'no reply');
		if (method === 'tools/list')
			this.tools = body.result?.tools;
		if (body.error)
			throw Object.assign(new Error(`${method}: ` +
			    `${body.error.code} ${body.error.message}`),
			    { rpc: body.error });
		return body.result;
	}

	// A modern call that may come back input_required: answered and
	// retried as the multi-round-trip pattern says, a bounded number of
	// times.
	async call(method, params) {
		let result;
		for (let logins = 0; ; logins++) {
			try {
				result = await this.request(method, params);
				break;
			} catch (e) {
				if (e.rpc?.code !== -32008 ||
				    e.rpc?.data?.action !== 'login' ||
				    logins >= 5 || !this.sock)
					throw e;
				await login(this.sock);
			}
		}
		for (let round = 0; round < 8 &&
		    result?.resultType === 'input_required'; round++)
			result = await this.request(method,
			    this.retryParams(params, result));
		return result;
	}

	retryParams(params, result) {
		const inputResponses = {};
		for (const [k, r] of Object.entries(result.inputRequests ?? {}))
			inputResponses[k] = answer(r);
		const retry = { ...params, inputResponses };
		if (result.requestState !== undefined)
			retry.requestState = result.requestState;
		return retry;
	}

	async open() {
		if (modern)
			return;
		const { res, body } = await this.post({ jsonrpc: '2.0',
		    id: this.nextId++, method: 'initialize', params: {
		    protocolVersion: version, capabilities: this.capabilities,
		    clientInfo: { name: 'conformance-agent',
		    version: '1.0.0' } } });
		if (!body?.result)
			throw new Error(`initialize: HTTP ${res.status} ` +
			    JSON.stringify(body?.error ?? body));
		this.session = res.headers.get('mcp-session-id');
		this.serverCaps = body.result.capabilities;
		await this.post({ jsonrpc: '2.0',
		    method: 'notifications/initialized' });
	}

	async close() {
		if (this.session)
			await fetch(this.url, { method: 'DELETE',
			    headers: this.headers() }).catch(() => {});
	}
}

// What the agent does in each scenario; the default lists the tools and
// calls the first with two numbers.
const SCENARIOS = {
	async default(a) {
		const { tools } = await a.call('tools/list');
		if (tools.length > 0)
			await a.call('tools/call', { name: tools[0].name,
			    arguments: { a: 2, b: 3 } });
	},
	async 'json-schema-ref-no-deref'(a) {
		await a.call('tools/list');
	},
	async 'json-schema-2020-12-preservation'(a) {
		const { tools } = await a.call('tools/list');
		const focal = tools.find((t) =>
		    t.name === 'json_schema_2020_12_tool');
		if (!focal)
			throw new Error('json_schema_2020_12_tool not listed');
		await a.call('tools/call', { name: 'json_schema_echo',
		    arguments: { schema: focal.inputSchema } });
	},
	async 'request-metadata'(a) {
		await a.call('server/discover');
		await a.call('tools/list');
	},
	// Every tool, prompt and resource the server offers, once each:
	// a tool the daemon refused to list is never called.
	async everything(a) {
		const { tools } = await a.call('tools/list');
		const calls = context.toolCalls ?? tools.map((t) =>
		    ({ name: t.name, arguments: {} }));
		for (const c of calls) {
			if (!tools.some((t) => t.name === c.name))
				continue;
			await a.call('tools/call', { name: c.name,
			    arguments: c.arguments ?? {} }).catch((e) =>
			    say(`tools/call ${c.name}: ${e.message}`));
		}
		const caps = a.serverCaps ?? {};
		if (caps.resources) {
			const { resources } = await a.call('resources/list');
			for (const r of resources)
				await a.call('resources/read', { uri: r.uri });
		}
		if (caps.prompts) {
			const { prompts } = await a.call('prompts/list');
			for (const p of prompts)
				await a.call('prompts/get', { name: p.name,
				    arguments: {} });
		}
	},
	// An unrelated call between a multi-round-trip request and its
	// retry must go out without the other's inputResponses/requestState.
	async 'sep-2322-client-request-state'(a) {
		await a.call('tools/list');
		const first = { name: 'test_mrtr_echo_state', arguments: {} };
		const r = await a.request('tools/call', first);
		await a.call('tools/call', { name: 'test_mrtr_unrelated',
		    arguments: {} });
		if (r?.resultType === 'input_required')
			await a.call('tools/call', a.retryParams(first, r));
		for (const name of ['test_mrtr_no_state',
		    'test_mrtr_no_result_type'])
			await a.call('tools/call', { name, arguments: {} });
	},
};
for (const s of ['http-standard-headers', 'http-custom-headers',
    'http-invalid-tool-headers'])
	SCENARIOS[s] = SCENARIOS.everything;

async function main() {
	if (!mcprelayd)
		throw new Error('MCPRELAYD is not set');
	const dir = process.env.CLIENT_LOG_DIR ?
	    fs.mkdtempSync(path.join(process.env.CLIENT_LOG_DIR,
	    `${scenario.replace(/\W/g, '_')}-`)) :
	    fs.mkdtempSync(path.join(os.tmpdir(), 'mcprelay-client-'));
	const sockdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcprelay-'));
	const { child, url } = await startDaemon(dir, sockdir).catch((e) => {
		fs.rmSync(sockdir, { recursive: true, force: true });
		throw e;
	});
	let failure = null;
	const sock = path.join(sockdir, 'control.sock');
	try {
		if (isAuth) {
			// The daemon meets the 401 (and its challenge) first.
			let st = await waitState(sock, ['needs_auth', 'ready'],
			    10000);
			// A server that refuses the new token at once (it
			// moved to another authorization server) is logged
			// in again, as an operator would: a few times.
			for (let n = 0; st !== 'ready'; n++) {
				if (n === 3)
					throw new Error(`server state ${st} ` +
					    'after 3 logins');
				await login(sock);
				st = await waitState(sock, ['ready',
				    'needs_auth'], 10000);
			}
		}
		const a = new Agent(url);
		a.sock = sock;
		await a.open();
		if (modern) {
			const d = await a.request('server/discover')
			    .catch(() => null);
			a.serverCaps = d?.capabilities;
		}
		await (SCENARIOS[scenario] ?? SCENARIOS.default)(a);
		await a.close();
	} catch (e) {
		failure = e;
	}
	const code = await stopDaemon(child);
	fs.rmSync(sockdir, { recursive: true, force: true });
	if (failure)
		throw failure;
	if (code !== 0)
		throw new Error(`mcprelayd exited ${code} on SIGTERM`);
	if (!process.env.CLIENT_LOG_DIR)
		fs.rmSync(dir, { recursive: true, force: true });
}

main().then(() => process.exit(0), (e) => {
	say(e.message);
	process.exit(1);
});
