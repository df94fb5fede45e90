// Pagination of merged lists (routing.page_size): following nextCursor on
// the aggregate and on a server's own endpoint gives exactly the one-page
// listing, page by page; cursors the daemon did not issue are -32602.

import assert from 'node:assert/strict';
import {
	ERR, baseConfig, demoServer, initialize, itest, startDaemon, tmpdir,
} from './lib/harness.mjs';

const servers = () => ({
	a: demoServer(['--name', 'a', '--tools-extra', 'only_a1,only_a2']),
	b: demoServer(['--name', 'b', '--tools-extra', 'only_b']),
});

/* Every page of a list, following nextCursor. */
async function allPages(s, method, key) {
	const pages = [];
	let cursor;
	for (let i = 0; i < 100; i++) {
		const page = await s.call(method, cursor ? { cursor } : {});
		assert.ok(Array.isArray(page[key]), `${method}: ${key} is a list`);
		pages.push(page);
		cursor = page.nextCursor;
		if (cursor === undefined)
			return pages;
		assert.equal(typeof cursor, 'string');
	}
	assert.fail(`${method}: more than 100 pages`);
}

itest('page_size 3: following nextCursor gives the one-page listing',
    async (t) => {
	const dir = tmpdir(t);
	const paged = await startDaemon({ t, dir, config: baseConfig(dir, {
		routing: { page_size: 3 }, servers: servers() }) });
	const dir1 = tmpdir(t);
	const whole = await startDaemon({ t, dir: dir1, config: baseConfig(dir1,
	    { servers: servers() }) });
	const ps = await initialize(paged.mcpUrl());
	const ws = await initialize(whole.mcpUrl());

	for (const [method, key] of [['tools/list', 'tools'],
	    ['resources/list', 'resources'], ['prompts/list', 'prompts']]) {
		const one = await ws.call(method, {});
		assert.equal(one.nextCursor, undefined,
		    `${method}: page_size 0 is one page`);
		const pages = await allPages(ps, method, key);
		const n = one[key].length;
		assert.equal(pages.length, Math.max(1, Math.ceil(n / 3)),
		    `${method}: ${n} items in pages of 3`);
		pages.forEach((p, i) => assert.equal(p[key].length,
		    i < pages.length - 1 ? 3 : n - 3 * (pages.length - 1),
		    `${method}: size of page ${i + 1}`));
		assert.deepEqual(pages.flatMap((p) => p[key]), one[key],
		    `${method}: the pages together are the one-page list`);
	}

	// The tools: 7 clashing demo tools per server, prefixed, plus the
	// three unique ones: 17 names, 6 pages, no name twice.
	const names = (await allPages(ps, 'tools/list', 'tools'))
	    .flatMap((p) => p.tools.map((x) => x.name));
	assert.equal(names.length, 17);
	assert.equal(new Set(names).size, 17, `unique: ${names}`);
	for (const n of ['a__echo', 'b__echo', 'only_a1', 'only_a2', 'only_b'])
		assert.ok(names.includes(n), `${n} in ${names}`);

	// One server's endpoint is paged the same way.
	const one = await initialize(paged.mcpUrl('a'));
	const aPages = await allPages(one, 'tools/list', 'tools');
	assert.deepEqual(aPages.map((p) => p.tools.length), [3, 3, 3]);
	const aWhole = await (await initialize(whole.mcpUrl('a')))
	    .call('tools/list', {});
	assert.deepEqual(aPages.flatMap((p) => p.tools), aWhole.tools);
});

itest('a cursor the daemon did not issue is -32602', async (t) => {
	const dir = tmpdir(t);
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		routing: { page_size: 3 }, servers: servers() }) });
	const s = await initialize(d.mcpUrl());
	const first = await s.call('tools/list', {});
	assert.equal(typeof first.nextCursor, 'string');
	for (const cursor of ['bogus', '', 'o:', 'o:-1', 'o:+3', 'o:3x',
	    'o:18', 'o:99999999999999999999999', 42, { o: 3 }]) {
		const r = await s.request('tools/list', { cursor });
		assert.equal(r.status, 200);
		assert.equal(r.error?.code, ERR.INVALID_PARAMS,
		    `cursor ${JSON.stringify(cursor)}: ` +
		    JSON.stringify(r.error ?? r.result).slice(0, 200));
	}
	// A null cursor is no cursor: the first page.
	assert.deepEqual(await s.call('tools/list', { cursor: null }), first);
	// The issued one still works after all that.
	const second = await s.call('tools/list', { cursor: first.nextCursor });
	assert.equal(second.tools.length, 3);
	assert.notDeepEqual(second.tools, first.tools);
});
