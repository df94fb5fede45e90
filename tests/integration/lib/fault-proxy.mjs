// A small fault-injecting HTTP(S) proxy for the remote upstream tests: it
// forwards to one target on loopback, records every request, and applies
// the first matching fault rule: answer a status (503, 429 + Retry-After,
// 404...), reset the connection before or in the middle of the response,
// cut an SSE stream (before a chosen event, with a retry: field first),
// delay, or refuse connections altogether.  Also makes self-signed
// certificates with the openssl command.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding',
    'proxy-connection', 'upgrade', 'te', 'trailer']);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/*
 * A self-signed certificate for 127.0.0.1 and localhost in dir:
 * { cert, key } paths (PEM).  name tells several apart.
 */
export function makeCert(dir, { name = 'server', san =
    'IP:127.0.0.1,DNS:localhost' } = {}) {
	const cert = path.join(dir, `${name}.crt`);
	const key = path.join(dir, `${name}.key`);
	execFileSync('openssl', ['req', '-x509', '-newkey', 'ec',
	    '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
	    '-keyout', key, '-out', cert, '-days', '1',
	    '-subj', `/CN=mcprelay-test-${name}`,
	    '-addext', `subjectAltName=${san}`], { stdio: 'pipe' });
	return { cert, key };
}

/*
 * Starts the proxy on 127.0.0.1 (port 0: any) in front of target
 * ("http://127.0.0.1:PORT").  tls: { cert, key } makes it an https front.
 *
 * proxy.rule(r) adds a fault rule, tried in order, each at most r.count
 * times (default 1; Infinity for always):
 *   when(req)          which requests (default: all); req is
 *                      { method, path, headers, body, json }
 *   status, headers, body   answer this instead of forwarding
 *   reset: 'before'    drop the connection without an answer
 *   reset: 'mid'       forward, then drop the connection after the
 *                      response headers and first body chunk
 *   cut(eventText)     forward an SSE reply but drop the connection just
 *                      before the first event cut() accepts
 *   retry              (with cut) send "retry: N" first
 *   delay              wait this many ms, then forward
 * Every request lands in proxy.requests as { method, path, headers, body,
 * json, t, fault }; cuts in proxy.cuts as { t, path }.
 */
export async function startFaultProxy({ target, tls, port = 0 }) {
	const targetUrl = new URL(target);
	const proxy = {
		requests: [],
		cuts: [],
		rules: [],
		connections: 0,
		sockets: new Set(),
		upstreams: new Set(),
	};
	const opts = tls ? { key: fs.readFileSync(tls.key),
	    cert: fs.readFileSync(tls.cert) } : {};
	const server = (tls ? https : http).createServer(opts);
	server.keepAliveTimeout = 5000;
	server.on(tls ? 'secureConnection' : 'connection', (sock) => {
		proxy.connections++;
		proxy.sockets.add(sock);
		sock.on('close', () => proxy.sockets.delete(sock));
	});
	server.on('tlsClientError', () => { /* a refused certificate */ });
	server.on('request', (req, res) => {
		handle(proxy, targetUrl, req, res).catch(() => {
			res.destroy();
		});
	});

	const listen = (p) => new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(p, '127.0.0.1', () => {
			server.off('error', reject);
			resolve(server.address().port);
		});
	});
	proxy.port = await listen(port);
	proxy.url = (p = '/mcp') => `${tls ? 'https' : 'http'}://127.0.0.1:` +
	    `${proxy.port}${p}`;
	proxy.rule = (r) => {
		proxy.rules.push({ count: 1, ...r });
		return proxy;
	};
	/* The requests so far that match pred. */
	proxy.seen = (pred = () => true) => proxy.requests.filter(pred);
	/* Drop every connection (streams break), keep listening. */
	proxy.drop = () => {
		for (const s of proxy.sockets)
			s.destroy();
		for (const u of proxy.upstreams)
			u.destroy();
	};
	/* Stop listening and drop every connection: "connection refused". */
	proxy.refuse = async () => {
		await new Promise((resolve) => server.close(() => resolve()));
		for (const s of proxy.sockets)
			s.destroy();
		for (const u of proxy.upstreams)
			u.destroy();
	};
	/* Listen again on the same port. */
	proxy.accept = () => listen(proxy.port);
	/* Stop accepting before dropping: a client reconnecting in between
	 * would keep close waiting. */
	proxy.close = async () => {
		const closed = server.listening ? new Promise((resolve) =>
		    server.close(() => resolve())) : null;
		for (const s of proxy.sockets)
			s.destroy();
		for (const u of proxy.upstreams)
			u.destroy();
		await closed;
	};
	return proxy;
}

async function readBody(req) {
	const chunks = [];
	for await (const c of req)
		chunks.push(c);
	return Buffer.concat(chunks);
}

async function handle(proxy, targetUrl, req, res) {
	const body = await readBody(req);
	const text = body.toString('utf8');
	let json;
	try {
		json = text ? JSON.parse(text) : undefined;
	} catch { /* not JSON */ }
	const record = { method: req.method, path: req.url, headers: req.headers,
	    body: text, json, t: Date.now() };
	proxy.requests.push(record);
	const rule = proxy.rules.find((r) => r.count > 0 &&
	    (!r.when || r.when(record)));
	if (rule) {
		rule.count--;
		record.fault = rule.status ?? rule.reset ?? (rule.cut ? 'cut' :
		    rule.delay ? 'delay' : 'rule');
	}
	if (rule?.status) {
		res.writeHead(rule.status, { 'content-type': 'text/plain',
		    ...rule.headers });
		res.end(rule.body ?? `fault ${rule.status}`);
		return;
	}
	if (rule?.reset === 'before') {
		req.socket.destroy();
		return;
	}
	if (rule?.delay)
		await sleep(rule.delay);

	const headers = {};
	for (const [k, v] of Object.entries(req.headers))
		if (!HOP_BY_HOP.has(k))
			headers[k] = v;
	headers.host = targetUrl.host;
	const up = http.request({ host: targetUrl.hostname, port: targetUrl.port,
	    method: req.method, path: req.url, headers, agent: false });
	proxy.upstreams.add(up);
	up.on('close', () => proxy.upstreams.delete(up));
	up.on('error', () => res.destroy());
	res.on('close', () => up.destroy());
	up.on('response', (ur) => {
		const out = {};
		for (const [k, v] of Object.entries(ur.headers))
			if (!HOP_BY_HOP.has(k))
				out[k] = v;
		res.writeHead(ur.statusCode, out);
		const sse = (ur.headers['content-type'] ?? '')
		    .startsWith('text/event-stream');
		if (rule?.reset === 'mid') {
			ur.once('data', (chunk) => {
				res.write(chunk);
				setTimeout(() => {
					res.socket?.destroy();
					up.destroy();
				}, 20);
			});
			return;
		}
		if (rule?.cut && sse) {
			if (rule.retry !== undefined)
				res.write(`retry: ${rule.retry}\n\n`);
			let buf = '';
			ur.setEncoding('utf8');
			ur.on('data', (chunk) => {
				buf += chunk;
				let m;
				while ((m = /\r?\n\r?\n/.exec(buf)) !== null) {
					const ev = buf.slice(0, m.index + m[0].length);
					buf = buf.slice(m.index + m[0].length);
					if (rule.cut(ev)) {
						proxy.cuts.push({ t: Date.now(),
						    path: req.url });
						res.socket?.destroy();
						up.destroy();
						return;
					}
					res.write(ev);
				}
			});
			ur.on('end', () => res.end(buf));
			return;
		}
		ur.pipe(res);
	});
	up.end(body);
}
