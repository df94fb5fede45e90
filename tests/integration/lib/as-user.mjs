// A client that access.test.mjs runs as another uid (setpriv): argv[2] is
// a JSON plan, stdout one JSON result.
//   {http: URL, token?, steps: [{method, params}]}  initialize first, then
//     each step on the session, all over one kept-alive connection:
//     {results: [{status, json}]}; a refused initialize ends the plan.
//     With sessionId: the steps on that session, without initialize.
//   {unix: PATH, lines: [...]}  connect, send the lines, read until the
//     daemon closes or 3 s pass: {lines: [parsed], closed}.
import * as http from 'node:http';
import * as net from 'node:net';

const plan = JSON.parse(process.argv[2]);

function post(agent, url, headers, body) {
	return new Promise((resolve, reject) => {
		const req = http.request(url, { method: 'POST', agent, headers: {
		    'Content-Type': 'application/json',
		    Accept: 'application/json, text/event-stream', ...headers } });
		req.on('response', (res) => {
			let text = '';
			res.setEncoding('utf8');
			res.on('data', (d) => { text += d; });
			res.on('end', () => {
				let json;
				const data = /^data: (.*)$/m.exec(text);
				try {
					json = JSON.parse(data ? data[1] : text);
				} catch { /* not JSON */ }
				resolve({ status: res.statusCode, json,
				    session: res.headers['mcp-session-id'] });
			});
		});
		req.on('error', reject);
		req.end(JSON.stringify(body));
	});
}

async function runHttp() {
	const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
	const headers = plan.token ? { Authorization: `Bearer ${plan.token}` } :
	    {};
	const results = [];
	if (plan.sessionId) {
		// Someone else's session: no initialize of our own.
		headers['Mcp-Session-Id'] = plan.sessionId;
		for (const [i, st] of (plan.steps ?? []).entries()) {
			const r = await post(agent, plan.http, headers,
			    { jsonrpc: '2.0', id: i + 1, method: st.method,
			    params: st.params });
			results.push({ status: r.status, json: r.json });
		}
		agent.destroy();
		return { results };
	}
	const init = await post(agent, plan.http, headers, { jsonrpc: '2.0',
	    id: 0, method: 'initialize', params: { protocolVersion:
	    '2025-11-25', capabilities: {}, clientInfo: { name: 'as-user',
	    version: '1' } } });
	results.push({ status: init.status, json: init.json });
	if (init.status === 200) {
		headers['Mcp-Session-Id'] = init.session;
		await post(agent, plan.http, headers, { jsonrpc: '2.0',
		    method: 'notifications/initialized' });
		let id = 1;
		for (const s of plan.steps ?? []) {
			const r = await post(agent, plan.http, headers,
			    { jsonrpc: '2.0', id: id++, method: s.method,
			    params: s.params });
			results.push({ status: r.status, json: r.json });
		}
	} else {
		// Refused: the same connection is refused again.
		for (const s of plan.steps ?? []) {
			const r = await post(agent, plan.http, headers,
			    { jsonrpc: '2.0', id: 9, method: s.method,
			    params: s.params });
			results.push({ status: r.status, json: r.json });
		}
	}
	agent.destroy();
	return { results };
}

function runUnix() {
	return new Promise((resolve) => {
		const sock = net.connect({ path: plan.unix });
		const lines = [];
		let buf = '', closed = false;
		const done = () => resolve({ lines, closed });
		const timer = setTimeout(() => {
			sock.destroy();
			done();
		}, plan.wait ?? 3000);
		sock.setEncoding('utf8');
		sock.on('connect', () => {
			for (const l of plan.lines ?? [])
				sock.write(JSON.stringify(l) + '\n');
		});
		sock.on('data', (d) => {
			buf += d;
			let nl;
			while ((nl = buf.indexOf('\n')) !== -1) {
				lines.push(JSON.parse(buf.slice(0, nl)));
				buf = buf.slice(nl + 1);
			}
			if (plan.until !== undefined && lines.length >= plan.until) {
				clearTimeout(timer);
				sock.destroy();
				done();
			}
		});
		sock.on('error', () => {});
		sock.on('close', () => {
			closed = true;
			clearTimeout(timer);
			done();
		});
	});
}

const out = plan.unix ? await runUnix() : await runHttp();
process.stdout.write(JSON.stringify(out) + '\n');
