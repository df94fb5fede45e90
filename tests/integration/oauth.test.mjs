// OAuth for remote upstreams (docs/auth.md) against a small authorization
// server and protected MCP server written here (loopback, node:http): the
// login through mcprelayctl with a scripted browser, one refresh for 50
// concurrent calls that meet an expired token, a revoked refresh token
// (needs_auth, -32008, the alert), a tampered iss or state refused, and
// the token file (0600, never in the log).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import {
	McpError, baseConfig, bin, initialize, itest, startDaemon, tmpdir,
	waitFor,
} from './lib/harness.mjs';

const CLIENT_SECRET = 'cs-5d0f7e2a91b4c3e8';

// The authorization server and the MCP server on one port; opts.iss and
// opts.state tamper with the redirect.
async function startAuthServer(opts = {}) {
	const s = {
		refreshes: 0, codeExchanges: 0, unauthorized: 0,
		tokens: new Map(),		// access token -> valid
		refreshTokens: new Set(),
		expiresIn: opts.expiresIn ?? 3600,
		revoked: [],
		calls: 0,
	};
	let base;
	const codes = new Map();
	const issue = () => {
		const at = `at-${randomBytes(12).toString('hex')}`;
		const rt = `rt-${randomBytes(12).toString('hex')}`;
		s.tokens.set(at, true);
		s.refreshTokens.add(rt);
		s.lastAccess = at;
		s.lastRefresh = rt;
		return { access_token: at, refresh_token: rt,
		    token_type: 'Bearer', expires_in: s.expiresIn,
		    scope: 'mcp:tools' };
	};
	const json = (res, status, obj, headers = {}) => {
		res.writeHead(status, { 'Content-Type': 'application/json',
		    ...headers });
		res.end(JSON.stringify(obj));
	};
	const form = (body) => Object.fromEntries(new URLSearchParams(body));
	const srv = http.createServer(async (req, res) => {
		let body = '';
		for await (const c of req)
			body += c;
		const u = new URL(req.url, base);
		if (u.pathname === '/.well-known/oauth-protected-resource/mcp')
			return json(res, 200, { resource: `${base}/mcp`,
			    authorization_servers: [base],
			    scopes_supported: ['mcp:tools'] });
		if (u.pathname === '/.well-known/oauth-authorization-server')
			return json(res, 200, { issuer: base,
			    authorization_endpoint: `${base}/authorize`,
			    token_endpoint: `${base}/token`,
			    registration_endpoint: `${base}/register`,
			    revocation_endpoint: `${base}/revoke`,
			    response_types_supported: ['code'],
			    code_challenge_methods_supported: ['S256'],
			    token_endpoint_auth_methods_supported:
			    ['client_secret_basic'],
			    authorization_response_iss_parameter_supported: true,
			    scopes_supported: ['mcp:tools', 'offline_access'] });
		if (u.pathname === '/register') {
			s.registration = JSON.parse(body);
			return json(res, 201, { client_id: 'dyn-client',
			    client_secret: CLIENT_SECRET,
			    token_endpoint_auth_method: 'client_secret_basic',
			    redirect_uris: s.registration.redirect_uris });
		}
		if (u.pathname === '/authorize') {
			const q = u.searchParams;
			s.authorize = Object.fromEntries(q);
			const code = `code-${randomBytes(8).toString('hex')}`;
			codes.set(code, q.get('code_challenge'));
			const to = new URL(q.get('redirect_uri'));
			to.searchParams.set('code', code);
			to.searchParams.set('state', opts.state ?? q.get('state'));
			to.searchParams.set('iss', opts.iss ?? base);
			res.writeHead(302, { Location: to.href });
			return res.end();
		}
		if (u.pathname === '/token') {
			const f = form(body);
			const basic = `Basic ${Buffer.from(
			    `dyn-client:${CLIENT_SECRET}`).toString('base64')}`;
			if (req.headers.authorization !== basic)
				return json(res, 401, { error: 'invalid_client' });
			if (f.resource !== `${base}/mcp`)
				return json(res, 400, { error: 'invalid_target' });
			if (f.grant_type === 'authorization_code') {
				const ch = codes.get(f.code);
				const want = createHash('sha256')
				    .update(f.code_verifier ?? '')
				    .digest('base64url');
				if (ch === undefined || ch !== want)
					return json(res, 400,
					    { error: 'invalid_grant' });
				codes.delete(f.code);
				s.codeExchanges++;
				return json(res, 200, issue());
			}
			if (f.grant_type === 'client_credentials') {
				s.clientGrants = (s.clientGrants ?? 0) + 1;
				const t = issue();
				delete t.refresh_token;
				return json(res, 200, t);
			}
			if (f.grant_type === 'refresh_token') {
				s.refreshes++;
				if (!s.refreshTokens.has(f.refresh_token))
					return json(res, 400,
					    { error: 'invalid_grant' });
				s.refreshTokens.delete(f.refresh_token);
				return json(res, 200, issue());
			}
			return json(res, 400, { error: 'unsupported_grant_type' });
		}
		if (u.pathname === '/revoke') {
			s.revoked.push(form(body).token);
			res.writeHead(200);
			return res.end();
		}
		const mcp = u.pathname === '/mcp' && req.method === 'POST';
		const sse = u.pathname === '/mcp' && req.method === 'GET';
		const post = u.pathname === '/messages' && req.method === 'POST';
		if (mcp || sse || post) {
			const tok = /^Bearer (.+)$/.exec(
			    req.headers.authorization ?? '')?.[1];
			if (!tok || s.tokens.get(tok) !== true) {
				s.unauthorized++;
				return json(res, 401, { error: 'invalid_token' }, {
				    'WWW-Authenticate': 'Bearer resource_metadata="' +
				    `${base}/.well-known/oauth-protected-resource/` +
				    'mcp", scope="mcp:tools"' });
			}
		}
		if (sse) {
			// Legacy HTTP+SSE: the endpoint event, then replies.
			if (!opts.sse) {
				res.writeHead(405);
				return res.end();
			}
			s.streams = (s.streams ?? 0) + 1;
			res.writeHead(200, { 'Content-Type': 'text/event-stream' });
			res.write('event: endpoint\ndata: /messages\n\n');
			s.stream = res;
			return;
		}
		if (post) {
			const reply = await answer(JSON.parse(body));
			res.writeHead(202);
			res.end();
			if (reply)
				s.stream?.write('event: message\ndata: ' +
				    `${JSON.stringify(reply)}\n\n`);
			return;
		}
		if (mcp) {
			const reply = await answer(JSON.parse(body));
			if (!reply) {
				res.writeHead(202);
				return res.end();
			}
			return json(res, 200, reply);
		}
		res.writeHead(404);
		res.end();
	});
	// A JSON-RPC reply to m, or null for a notification.
	async function answer(m) {
		{
			if (m.id === undefined)
				return null;
			let result;
			if (m.method === 'initialize')
				result = { protocolVersion: '2025-11-25',
				    capabilities: { tools: {} },
				    serverInfo: { name: 'oauth-test', version: '1' } };
			else if (m.method === 'tools/list')
				result = { tools: [{ name: 'echo',
				    inputSchema: { type: 'object' } }] };
			else if (m.method === 'tools/call') {
				s.calls++;
				await new Promise((r) => setTimeout(r, 100));
				result = { content: [{ type: 'text',
				    text: String(m.params.arguments?.n) }] };
			} else if (m.method === 'ping')
				result = {};
			else
				return { jsonrpc: '2.0', id: m.id,
				    error: { code: -32601, message: 'no' } };
			return { jsonrpc: '2.0', id: m.id, result };
		}
	}
	await new Promise((r) => srv.listen(0, '127.0.0.1', r));
	base = `http://127.0.0.1:${srv.address().port}`;
	s.base = base;
	s.close = () => new Promise((r) => {
		s.stream?.end();
		srv.closeAllConnections();
		srv.close(r);
	});
	return s;
}

async function oauthDaemon(t, as, dir, type = 'http', auth = {}) {
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		servers: { up: { type, url: `${as.base}/mcp`,
		    ...(type === 'http' ? { protocol: 'legacy' } : {}),
		    auth: { type: 'oauth', ...auth,
		    token_file: path.join(dir, 'tokens', 'up.json') } } },
	}) });
	d.controlPath = path.join(dir, 'control.sock');
	return d;
}

// mcprelayctl login with a scripted browser: { code, events, stderr }.
function login(d) {
	return new Promise((resolve, reject) => {
		const child = spawn(bin.ctl, ['login', 'up', '--json',
		    '--socket', d.controlPath], { stdio: ['ignore', 'pipe',
		    'pipe'] });
		const events = [];
		let out = '', stderr = '';
		child.stderr.on('data', (x) => { stderr += x; });
		child.stdout.on('data', (x) => {
			out += x;
			let i;
			while ((i = out.indexOf('\n')) >= 0) {
				const ev = JSON.parse(out.slice(0, i));
				out = out.slice(i + 1);
				events.push(ev);
				if (ev.phase === 'authorize')
					fetch(ev.url).then((r) => r.text())
					    .catch(() => {});
			}
		});
		const timer = setTimeout(() => {
			child.kill('SIGKILL');
			reject(new Error(`login: no exit; ${stderr}`));
		}, 15000);
		child.on('close', (code) => {
			clearTimeout(timer);
			resolve({ code, events, stderr });
		});
	});
}

// mcprelayctl ARGS --json: the parsed output, or undefined.
function ctlJson(d, args) {
	return new Promise((resolve) => {
		const c = spawn(bin.ctl, [...args, '--json', '--socket',
		    d.controlPath], { stdio: ['ignore', 'pipe', 'ignore'] });
		let out = '';
		c.stdout.on('data', (x) => { out += x; });
		c.on('close', () => {
			try {
				resolve(JSON.parse(out));
			} catch {
				resolve(undefined);
			}
		});
	});
}

/* mcprelayctl doctor's line about the server's OAuth token. */
function doctorOauth(dir) {
	return new Promise((resolve) => {
		const c = spawn(bin.ctl, ['doctor', '--config', path.join(dir,
		    'mcprelay.yaml'), '--timeout', '2s'],
		    { stdio: ['ignore', 'pipe', 'ignore'] });
		let out = '';
		c.stdout.on('data', (x) => { out += x; });
		c.on('close', () => resolve(out.split('\n').find((l) =>
		    / oauth up: /.test(l))));
	});
}

async function serverState(d) {
	return (await ctlJson(d, ['servers']))?.find((s) => s.name === 'up');
}

async function loggedIn(t, opts = {}) {
	const dir = tmpdir(t);
	const as = await startAuthServer(opts);
	t.after(() => as.close());
	const d = await oauthDaemon(t, as, dir, opts.sse ? 'sse' : 'http');
	await waitFor(async () => (await serverState(d))?.state ===
	    'needs_auth', { timeout: 5000 });
	const r = await login(d);
	assert.equal(r.code, 0, r.stderr);
	await waitFor(async () => (await serverState(d))?.state === 'ready',
	    { timeout: 5000 });
	return { dir, as, d };
}

itest('before a login: needs_auth, -32008 naming mcprelayctl login, the ' +
    'alert; the login asks with PKCE S256, state, resource and the ' +
    'challenge scope and gets tokens', { timeout: 30000 }, async (t) => {
	const dir = tmpdir(t);
	const as = await startAuthServer();
	t.after(() => as.close());
	const d = await oauthDaemon(t, as, dir);
	await waitFor(async () => (await serverState(d))?.state ===
	    'needs_auth', { timeout: 5000 });
	const s = await initialize(d.mcpUrl('up'));
	await assert.rejects(s.callTool('echo', { n: 1 }), (e) => {
		assert.ok(e instanceof McpError);
		assert.equal(e.code, -32008);
		assert.match(e.message, /mcprelayctl login up/);
		assert.equal(e.data?.action, 'login');
		return true;
	});
	assert.match(d.log(), /alert: server up: .*mcprelayctl login up/);
	assert.equal(await doctorOauth(dir), 'FAIL  oauth up: no usable ' +
	    'token: a login is needed; fix: mcprelayctl login up');

	const r = await login(d);
	assert.equal(r.code, 0, r.stderr);
	const done = r.events.find((e) => e.phase === 'done');
	assert.equal(done.scope, 'mcp:tools');
	assert.equal(as.authorize.code_challenge_method, 'S256');
	assert.equal(as.authorize.resource, `${as.base}/mcp`);
	assert.equal(as.authorize.scope, 'mcp:tools offline_access');
	assert.equal(as.authorize.client_id, 'dyn-client');
	assert.equal(as.registration.application_type, 'native');
	assert.equal(as.codeExchanges, 1);
	await waitFor(async () => (await serverState(d))?.state === 'ready',
	    { timeout: 5000 });
	const s2 = await initialize(d.mcpUrl('up'));
	const res = await s2.callTool('echo', { n: 7 });
	assert.equal(res.content[0].text, '7');
	const st = await serverState(d);
	assert.equal(st.auth.state, 'valid');
	assert.equal(st.auth.refreshable, true);
	assert.ok(st.auth.expiresAt > Date.now() / 1000 + 3500);
	const text = await new Promise((resolve) => {
		const c = spawn(bin.ctl, ['servers', '--socket', d.controlPath],
		    { stdio: ['ignore', 'pipe', 'ignore'] });
		let out = '';
		c.stdout.on('data', (x) => { out += x; });
		c.on('close', () => resolve(out));
	});
	assert.match(text, /^ +auth: valid, access token expires in (59m|1h)\S*, scope mcp:tools, refreshable$/m);
	assert.match(await doctorOauth(dir),
	    /^ok {4}oauth up: token expires in (59|60) min, renewed by itself$/);
});

itest('the access token expires in the middle of 50 concurrent calls: ' +
    'one refresh, every call answered', { timeout: 30000 }, async (t) => {
	const { as, d } = await loggedIn(t);
	const s = await initialize(d.mcpUrl('up'));
	const calls = [];
	for (let i = 0; i < 25; i++)
		calls.push(s.callTool('echo', { n: i }));
	await waitFor(() => as.calls >= 1, { timeout: 5000 });
	// The server forgets the token: the next requests get 401.
	as.tokens.set(as.lastAccess, false);
	for (let i = 25; i < 50; i++)
		calls.push(s.callTool('echo', { n: i }));
	const results = await Promise.all(calls);
	assert.deepEqual(results.map((r) => r.content[0].text),
	    Array.from({ length: 50 }, (_, i) => String(i)));
	assert.equal(as.refreshes, 1);
	assert.ok(as.unauthorized >= 1, 'no request met the expired token');
	assert.equal((await serverState(d)).state, 'ready');
});

itest('a short-lived access token is refreshed before it expires: no ' +
    'request meets a 401', { timeout: 30000 }, async (t) => {
	const { as, d } = await loggedIn(t, { expiresIn: 2 });
	const first = as.lastAccess;
	// Refreshed at 3/4 of the 2 s lifetime, before the server would
	// refuse the old token.
	await waitFor(() => as.refreshes === 1, { timeout: 5000 });
	assert.notEqual(as.lastAccess, first);
	as.tokens.set(first, false);
	const s = await initialize(d.mcpUrl('up'));
	const res = await s.callTool('echo', { n: 3 });
	assert.equal(res.content[0].text, '3');
	assert.equal(as.unauthorized, 1, 'only the 401 before the login');
	assert.match(d.log(), /server up: access token refreshed/);
});

itest('type: sse: the token on the stream and the POSTs; a refused ' +
    'token is refreshed once and the stream opened again with the new one',
    { timeout: 30000 }, async (t) => {
	const { as, d } = await loggedIn(t, { sse: true });
	const s = await initialize(d.mcpUrl('up'));
	assert.equal((await s.callTool('echo', { n: 5 })).content[0].text,
	    '5');
	const streams = as.streams;
	// The server forgets the token and drops the stream.
	as.tokens.set(as.lastAccess, false);
	as.stream.end();
	await waitFor(() => as.refreshes === 1, { timeout: 10000 });
	await waitFor(async () => (await serverState(d))?.state === 'ready' &&
	    as.streams > streams, { timeout: 10000 });
	assert.equal((await s.callTool('echo', { n: 6 })).content[0].text,
	    '6');
	assert.equal(as.refreshes, 1);
});

itest('grant: client_credentials: tokens without a login, a new grant ' +
    'when the token is refused', { timeout: 30000 }, async (t) => {
	const dir = tmpdir(t);
	const as = await startAuthServer();
	t.after(() => as.close());
	const secret = path.join(dir, 'client.secret');
	fs.writeFileSync(secret, `${CLIENT_SECRET}\n`, { mode: 0o600 });
	const d = await oauthDaemon(t, as, dir, 'http', {
	    grant: 'client_credentials', client_id: 'dyn-client',
	    client_secret_file: secret });
	await waitFor(async () => (await serverState(d))?.state === 'ready',
	    { timeout: 5000 });
	assert.equal(as.clientGrants, 1);
	assert.equal(as.registration, undefined, 'registered anyway');
	const s = await initialize(d.mcpUrl('up'));
	as.tokens.set(as.lastAccess, false);
	const calls = [];
	for (let i = 0; i < 10; i++)
		calls.push(s.callTool('echo', { n: i }));
	const results = await Promise.all(calls);
	assert.deepEqual(results.map((r) => r.content[0].text),
	    Array.from({ length: 10 }, (_, i) => String(i)));
	assert.equal(as.clientGrants, 2);
	assert.ok(!d.log().includes(CLIENT_SECRET));
});

itest('a revoked refresh token: needs_auth, a clear error, the alert; ' +
    'logout revokes and deletes the tokens', { timeout: 30000 },
    async (t) => {
	const { dir, as, d } = await loggedIn(t);
	const watch = spawn(bin.ctl, ['watch', '--json', '--socket',
	    d.controlPath], { stdio: ['ignore', 'pipe', 'ignore'] });
	t.after(() => watch.kill());
	let events = '';
	watch.stdout.on('data', (x) => { events += x; });
	await waitFor(async () => (await ctlJson(d, ['stats']))?.events
	    ?.subscribers === 1, { timeout: 5000 });
	as.tokens.set(as.lastAccess, false);
	as.refreshTokens.clear();
	const s = await initialize(d.mcpUrl('up'));
	await assert.rejects(s.callTool('echo', { n: 1 }), (e) => {
		assert.equal(e.code, -32008);
		assert.match(e.message, /needs authorization.*mcprelayctl login up/);
		return true;
	});
	assert.equal(as.refreshes, 1);
	assert.equal((await serverState(d)).state, 'needs_auth');
	// The event (the alert itself fired at start-up: once a window).
	await waitFor(() => events.split('\n').some((l) => l &&
	    JSON.parse(l).phase === 'needs_auth' &&
	    /the refresh token was refused.*mcprelayctl login up/
	    .test(JSON.parse(l).message)), { timeout: 5000 });
	assert.match(d.log(), /alert: server up: server up needs authorization/);

	// A new login, then logout.
	const r = await login(d);
	assert.equal(r.code, 0, r.stderr);
	const file = path.join(dir, 'tokens', 'up.json');
	assert.ok(fs.existsSync(file));
	const rt = as.lastRefresh;
	const out = await new Promise((resolve) => {
		const c = spawn(bin.ctl, ['logout', 'up', '--socket',
		    d.controlPath], { stdio: 'ignore' });
		c.on('close', resolve);
	});
	assert.equal(out, 0);
	assert.ok(!fs.existsSync(file), 'the token file is still there');
	await waitFor(() => as.revoked.includes(rt), { timeout: 5000 });
});

for (const [what, opts, why] of [
	['iss', { iss: 'https://evil.example' }, /iss is 'https:\/\/evil\.example'/],
	['state', { state: 'forged' }, /state does not match/],
]) {
	itest(`a tampered ${what} in the redirect is refused before the ` +
	    'code is used', { timeout: 30000 }, async (t) => {
		const dir = tmpdir(t);
		const as = await startAuthServer(opts);
		t.after(() => as.close());
		const d = await oauthDaemon(t, as, dir);
		await waitFor(async () => (await serverState(d))?.state ===
		    'needs_auth', { timeout: 5000 });
		const r = await login(d);
		assert.equal(r.code, 1);
		assert.match(r.stderr, why);
		assert.equal(as.codeExchanges, 0);
		assert.ok(!fs.existsSync(path.join(dir, 'tokens', 'up.json')));
		assert.equal((await serverState(d)).state, 'needs_auth');
	});
}

itest('the token file is 0600 and no token or secret reaches the log',
    { timeout: 30000 }, async (t) => {
	const { dir, as, d } = await loggedIn(t);
	const s = await initialize(d.mcpUrl('up'));
	as.tokens.set(as.lastAccess, false);
	await s.callTool('echo', { n: 1 });
	assert.equal(as.refreshes, 1);
	const file = path.join(dir, 'tokens', 'up.json');
	assert.equal(fs.statSync(file).mode & 0o777, 0o600);
	const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
	assert.equal(saved.access_token, as.lastAccess);
	assert.equal(saved.refresh_token, as.lastRefresh);
	const log = d.log();
	for (const secret of [...as.tokens.keys(), as.lastRefresh,
	    CLIENT_SECRET])
		assert.ok(!log.includes(secret), 'a secret reached the log');
	const st = await serverState(d);
	assert.ok(!JSON.stringify(st).includes(as.lastAccess));
});
