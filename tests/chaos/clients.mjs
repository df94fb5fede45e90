// MCP clients for the chaos suite, one class per transport, all with the
// same shape: open(), call(method, params) -> the response message (or
// { transportError }), close().  They count every response by id, so a
// second answer to one request is seen (dup), and never retry anything.

import * as http from 'node:http';
import * as net from 'node:net';
import { SseParser } from '../integration/lib/harness.mjs';

const INIT_PARAMS = { protocolVersion: '2025-11-25', capabilities: {},
    clientInfo: { name: 'mcprelay-chaos', version: '1' } };

/* Pending requests by id; responses counted per id. */
class Pending {
	constructor() {
		this.waiting = new Map();
		this.seen = new Map();	// id -> responses received
		this.dups = [];
		this.unknown = [];
	}

	wait(id, timeoutMs) {
		return new Promise((resolve) => {
			const timer = setTimeout(() => {
				this.waiting.delete(id);
				resolve({ transportError: `no response within ` +
				    `${timeoutMs} ms` });
			}, timeoutMs);
			this.waiting.set(id, (m) => {
				clearTimeout(timer);
				resolve(m);
			});
		});
	}

	deliver(m) {
		if (m.id === undefined || m.id === null || m.method !== undefined)
			return;
		const n = (this.seen.get(m.id) ?? 0) + 1;
		this.seen.set(m.id, n);
		if (n > 1) {
			this.dups.push(m);
			return;
		}
		const w = this.waiting.get(m.id);
		if (w) {
			this.waiting.delete(m.id);
			w(m);
		} else
			this.unknown.push(m);
	}

	failAll(why) {
		for (const [id, w] of this.waiting) {
			this.waiting.delete(id);
			w({ transportError: why });
		}
	}
}

/* Streamable HTTP: a POST per request, JSON or SSE reply. */
export class StreamableClient {
	constructor(url, { timeoutMs }) {
		this.url = new URL(url);
		this.timeoutMs = timeoutMs;
		this.agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
		this.pending = new Pending();
		this.nextId = 1;
		this.kind = 'http';
	}

	post(msg) {
		return new Promise((resolve) => {
			const body = JSON.stringify(msg);
			const headers = { 'content-type': 'application/json',
			    accept: 'application/json, text/event-stream',
			    'content-length': Buffer.byteLength(body) };
			if (this.sessionId) {
				headers['mcp-session-id'] = this.sessionId;
				headers['mcp-protocol-version'] = '2025-11-25';
			}
			const req = http.request(this.url, { method: 'POST',
			    headers, agent: this.agent });
			req.setTimeout(this.timeoutMs, () => req.destroy(
			    new Error(`no reply within ${this.timeoutMs} ms`)));
			req.on('error', (e) => resolve({ error: e.message }));
			req.on('response', (res) => {
				const ct = res.headers['content-type'] ?? '';
				const sse = ct.startsWith('text/event-stream');
				const parser = sse ? new SseParser() : null;
				let text = '';
				res.setEncoding('utf8');
				res.on('data', (c) => {
					if (!sse) {
						text += c;
						return;
					}
					for (const ev of parser.feed(c))
						if (ev.data)
							this.pending.deliver(
							    JSON.parse(ev.data));
				});
				res.on('error', (e) => resolve({ error: e.message }));
				res.on('end', () => {
					if (!sse && text) {
						try {
							this.pending.deliver(
							    JSON.parse(text));
						} catch {
							resolve({ status: res.statusCode,
							    error: 'not JSON: ' +
							    text.slice(0, 200) });
							return;
						}
					}
					resolve({ status: res.statusCode,
					    headers: res.headers });
				});
			});
			req.end(body);
		});
	}

	async open() {
		const id = this.nextId++;
		const got = this.pending.wait(id, this.timeoutMs);
		const r = await this.post({ jsonrpc: '2.0', id,
		    method: 'initialize', params: INIT_PARAMS });
		if (r.error)
			this.pending.failAll(r.error);
		const m = await got;
		if (!m.result)
			throw new Error(`initialize: ${JSON.stringify(m)} ` +
			    `${JSON.stringify(r)}`);
		this.sessionId = r.headers['mcp-session-id'];
		await this.post({ jsonrpc: '2.0',
		    method: 'notifications/initialized' });
	}

	async call(method, params) {
		const id = this.nextId++;
		const got = this.pending.wait(id, this.timeoutMs);
		const r = await this.post({ jsonrpc: '2.0', id, method, params });
		if (r.error && this.pending.waiting.has(id)) {
			// The exchange failed without a response: report it.
			this.pending.waiting.get(id)({ transportError: r.error });
			this.pending.waiting.delete(id);
		} else if (!r.error && this.pending.waiting.has(id)) {
			this.pending.waiting.get(id)({ transportError:
			    `HTTP ${r.status} without a response` });
			this.pending.waiting.delete(id);
		}
		return got;
	}

	async close() {
		if (this.sessionId)
			await new Promise((resolve) => {
				const req = http.request(this.url, {
				    method: 'DELETE', agent: this.agent, headers: {
				    'mcp-session-id': this.sessionId } },
				    (res) => {
					res.resume();
					res.on('end', resolve);
					res.on('error', resolve);
				});
				req.on('error', resolve);
				req.end();
			});
		this.agent.destroy();
	}
}

/* Legacy HTTP+SSE (2024-11-05): GET /sse, POST to the endpoint. */
export class LegacySseClient {
	constructor(url, { timeoutMs }) {
		this.url = new URL(url);
		this.timeoutMs = timeoutMs;
		this.agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
		this.pending = new Pending();
		this.nextId = 1;
		this.kind = 'sse';
	}

	openStream() {
		return new Promise((resolve, reject) => {
			const req = http.get(this.url, { headers: {
			    accept: 'text/event-stream' }, agent: false });
			this.streamReq = req;
			const timer = setTimeout(() => reject(new Error(
			    'no endpoint event')), this.timeoutMs);
			req.on('error', (e) => {
				clearTimeout(timer);
				this.pending.failAll(`SSE stream: ${e.message}`);
				reject(e);
			});
			req.on('response', (res) => {
				if (res.statusCode !== 200) {
					clearTimeout(timer);
					reject(new Error(`GET /sse: ${res.statusCode}`));
					res.resume();
					return;
				}
				const parser = new SseParser();
				res.setEncoding('utf8');
				res.on('data', (c) => {
					for (const ev of parser.feed(c)) {
						if (ev.event === 'endpoint') {
							this.endpoint = new URL(
							    ev.data, this.url);
							clearTimeout(timer);
							resolve();
						} else if (ev.data)
							this.pending.deliver(
							    JSON.parse(ev.data));
					}
				});
				res.on('close', () => {
					this.streamClosed = true;
					this.pending.failAll('SSE stream closed');
				});
			});
		});
	}

	post(msg) {
		return new Promise((resolve) => {
			const body = JSON.stringify(msg);
			const req = http.request(this.endpoint, { method: 'POST',
			    agent: this.agent, headers: {
			    'content-type': 'application/json',
			    'content-length': Buffer.byteLength(body) } });
			req.setTimeout(this.timeoutMs, () => req.destroy(
			    new Error('no reply to the POST')));
			req.on('error', (e) => resolve({ error: e.message }));
			req.on('response', (res) => {
				res.resume();
				res.on('end', () => resolve({
				    status: res.statusCode }));
			});
			req.end(body);
		});
	}

	async open() {
		await this.openStream();
		const m = await this.call('initialize', INIT_PARAMS);
		if (!m.result)
			throw new Error(`initialize: ${JSON.stringify(m)}`);
		await this.post({ jsonrpc: '2.0',
		    method: 'notifications/initialized' });
	}

	async call(method, params) {
		const id = this.nextId++;
		const got = this.pending.wait(id, this.timeoutMs);
		const r = await this.post({ jsonrpc: '2.0', id, method, params });
		if ((r.error || r.status !== 202) && this.pending.waiting.has(id)) {
			this.pending.waiting.get(id)({ transportError:
			    r.error ?? `POST answered ${r.status}` });
			this.pending.waiting.delete(id);
		}
		return got;
	}

	async close() {
		this.streamReq?.destroy();
		this.agent.destroy();
	}
}

/* The Unix socket: NDJSON, one session per connection, scoped to a server. */
export class UnixClient {
	constructor(path, server, { timeoutMs }) {
		this.path = path;
		this.server = server;
		this.timeoutMs = timeoutMs;
		this.pending = new Pending();
		this.nextId = 1;
		this.buf = '';
		this.kind = 'unix';
	}

	open() {
		return new Promise((resolve, reject) => {
			const sock = net.connect({ path: this.path });
			this.sock = sock;
			sock.setEncoding('utf8');
			sock.on('data', (d) => {
				this.buf += d;
				let nl;
				while ((nl = this.buf.indexOf('\n')) !== -1) {
					const line = this.buf.slice(0, nl);
					this.buf = this.buf.slice(nl + 1);
					if (line.trim() !== '')
						this.pending.deliver(JSON.parse(line));
				}
			});
			sock.on('close', () => {
				this.closed = true;
				this.pending.failAll('Unix socket closed');
			});
			sock.on('error', reject);
			sock.once('connect', async () => {
				this.send({ jsonrpc: '2.0', method: 'mcprelay/scope',
				    params: { server: this.server } });
				const m = await this.call('initialize', INIT_PARAMS);
				if (!m.result) {
					reject(new Error(`initialize: ` +
					    JSON.stringify(m)));
					return;
				}
				this.send({ jsonrpc: '2.0',
				    method: 'notifications/initialized' });
				resolve();
			});
		});
	}

	send(msg) {
		this.sock.write(JSON.stringify(msg) + '\n');
	}

	call(method, params) {
		const id = this.nextId++;
		const got = this.pending.wait(id, this.timeoutMs);
		this.send({ jsonrpc: '2.0', id, method, params });
		return got;
	}

	async close() {
		this.sock.end();
		await new Promise((r) => {
			if (this.closed)
				r();
			else
				this.sock.once('close', r);
			setTimeout(r, 2000);
		});
	}
}
