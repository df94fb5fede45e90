// A TCP fault proxy for the chaos suite: it sits between mcprelayd and an
// HTTP upstream and disturbs the byte stream, not HTTP: latency, a
// bandwidth limit, resets, 1-byte slicing, half-open hangs and a data
// limit per connection.  The mode can change at any time; it applies to
// every connection, old and new, from then on.  Node's net module only.

import * as net from 'node:net';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/*
 * Modes (proxy.set(mode)):
 *   { kind: 'pass' }
 *   { kind: 'latency', ms }        each chunk waits ms before it is sent on
 *   { kind: 'bandwidth', bps }     at most bps bytes per second each way
 *   { kind: 'slice' }              1 byte per write, each in its own tick
 *   { kind: 'hang' }               nothing more is forwarded; sockets stay
 *                                  open (half-open peer); 'pass' resumes
 *   { kind: 'limit', bytes }       a connection is closed (reset) once it
 *                                  has carried bytes bytes toward the client
 * proxy.reset() destroys every open connection at once (RST to both sides).
 * Counters: proxy.stats { connections, resets, limited, bytesUp, bytesDown }.
 */
export async function startTcpFaultProxy({ host = '127.0.0.1', port }) {
	const proxy = {
		mode: { kind: 'pass' },
		conns: new Set(),
		stats: { connections: 0, resets: 0, limited: 0, bytesUp: 0,
		    bytesDown: 0 },
	};
	const server = net.createServer({ pauseOnConnect: true }, (client) => {
		proxy.stats.connections++;
		const upstream = net.connect({ host, port });
		const conn = { client, upstream, down: 0, dead: false };
		proxy.conns.add(conn);
		const kill = () => {
			if (conn.dead)
				return;
			conn.dead = true;
			proxy.conns.delete(conn);
			client.resetAndDestroy?.() ?? client.destroy();
			upstream.destroy();
		};
		conn.kill = kill;
		client.on('error', kill);
		upstream.on('error', kill);
		client.on('close', kill);
		upstream.on('close', kill);
		upstream.once('connect', () => {
			pump(proxy, conn, client, upstream, 'up');
			pump(proxy, conn, upstream, client, 'down');
			client.resume();
		});
	});
	await new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', resolve);
	});
	proxy.port = server.address().port;
	proxy.set = (mode) => {
		proxy.mode = mode;
	};
	proxy.reset = () => {
		for (const c of [...proxy.conns]) {
			proxy.stats.resets++;
			c.kill();
		}
	};
	/* Stop accepting first: a connection made between the reset and the
	 * close (the daemon reconnects at once) would keep close waiting. */
	proxy.close = async () => {
		const closed = new Promise((resolve) => server.close(() =>
		    resolve()));
		proxy.reset();
		await closed;
	};
	return proxy;
}

/*
 * Moves data from src to dst one chunk at a time, in order, applying the
 * mode current when each chunk is sent.  Reading pauses while a chunk is
 * being sent, so slowness pushes back on the sender (as a real link does).
 */
function pump(proxy, conn, src, dst, dir) {
	let busy = Promise.resolve();
	src.on('data', (chunk) => {
		src.pause();
		busy = busy.then(() => send(proxy, conn, dst, chunk, dir))
		    .then(() => {
			if (!conn.dead)
				src.resume();
		    }, () => conn.kill());
	});
	src.on('end', () => {
		busy.then(() => {
			if (!conn.dead)
				dst.end();
		});
	});
}

async function send(proxy, conn, dst, chunk, dir) {
	for (let off = 0; off < chunk.length && !conn.dead;) {
		const mode = proxy.mode;
		if (mode.kind === 'hang') {
			await sleep(50);
			continue;
		}
		let n = chunk.length - off;
		if (mode.kind === 'latency')
			await sleep(mode.ms);
		else if (mode.kind === 'slice')
			n = 1;
		else if (mode.kind === 'bandwidth') {
			// 20 slices a second, each of bps / 20 bytes.
			n = Math.min(n, Math.max(1, Math.floor(mode.bps / 20)));
			await sleep(50);
		}
		if (conn.dead)
			return;
		if (dir === 'down' && mode.kind === 'limit' &&
		    conn.down + n > mode.bytes) {
			n = Math.max(0, mode.bytes - conn.down);
			if (n > 0)
				dst.write(chunk.subarray(off, off + n));
			proxy.stats.limited++;
			conn.kill();
			return;
		}
		const piece = chunk.subarray(off, off + n);
		off += n;
		if (dir === 'down') {
			conn.down += n;
			proxy.stats.bytesDown += n;
		} else
			proxy.stats.bytesUp += n;
		if (!dst.write(piece))
			await new Promise((r) => {
				dst.once('drain', r);
				dst.once('close', r);
			});
		if (mode.kind === 'slice')
			await new Promise((r) => setImmediate(r));
	}
}
