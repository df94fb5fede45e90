// The monitoring files shipped in packaging/: every metric the Grafana
// dashboard and the Prometheus alerting rules query exists in the real
// "mcprelayctl metrics" output of a running daemon (and the name checker
// is shown to catch a misspelt one); the rules pass "promtool check rules"
// and their unit tests ("promtool test rules"), with the thresholds of
// the daemon's own alerts.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
	baseConfig, bin, demoServer, initialize, itest, srcdir, startDaemon,
	tmpdir, waitFor,
} from './lib/harness.mjs';

const dashboardFile = path.join(srcdir, 'packaging', 'grafana',
    'mcprelay.json');
const rulesDir = path.join(srcdir, 'packaging', 'prometheus');
const rulesFile = path.join(rulesDir, 'mcprelay-rules.yml');

/* PromQL words that are not metric names. */
const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on',
    'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'inf', 'nan',
    'atan2']);

/*
 * The metric names an expression selects: string literals, Grafana
 * variables, label matchers, range and subquery brackets and grouping
 * clauses removed, what remains that is an identifier and not a call or a
 * keyword.  Also the label names it groups or matches by.
 */
export function promqlNames(expr) {
	const labels = new Set();
	let e = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
	    .replace(/\$\{[^}]*\}|\$\w+/g, '1');
	e = e.replace(/\{([^}]*)\}/g, (m, inner) => {
		for (const x of inner.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g))
			labels.add(x[1]);
		return ' ';
	});
	e = e.replace(/\[[^\]]*\]/g, ' ');
	e = e.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g,
	    (m, kw, inner) => {
		for (const l of inner.split(',').map((s) => s.trim()))
			if (l !== '')
				labels.add(l);
		return ' ';
	});
	const metrics = new Set();
	for (const m of e.matchAll(/[a-zA-Z_:][\w:]*(?=\s*(\()?)/g)) {
		const word = m[0];
		if (m[1] === '(' || PROMQL_WORDS.has(word.toLowerCase()))
			continue;
		const before = e[m.index - 1];
		if (before !== undefined && /[\w.]/.test(before))
			continue;	// inside a number such as 1e3
		metrics.add(word);
	}
	return { metrics, labels };
}

/* Every PromQL expression of the dashboard: targets and variables. */
function dashboardExprs(dash) {
	const out = [];
	const walk = (panels) => {
		for (const p of panels ?? []) {
			for (const t of p.targets ?? [])
				if (t.expr)
					out.push(t.expr);
			walk(p.panels);
		}
	};
	walk(dash.panels);
	for (const v of dash.templating?.list ?? []) {
		const q = typeof v.query === 'string' ? v.query : v.query?.query;
		if (v.type !== 'query' || !q)
			continue;
		// label_values(METRIC_SELECTOR, LABEL): the selector is PromQL.
		const m = /^label_values\((.*),\s*(\w+)\)$/.exec(q);
		out.push(m ? m[1] : q);
	}
	return out;
}

/* The rules' expressions, read with promtool's own eyes: YAML via JSON. */
function rulesExprs(text) {
	// The file is ours and simple: expr is a scalar or a block scalar.
	const out = [];
	const lines = text.split('\n');
	for (let i = 0; i < lines.length; i++) {
		const m = /^(\s*)expr:\s*(.*)$/.exec(lines[i]);
		if (!m)
			continue;
		if (m[2] !== '|' && m[2] !== '>') {
			out.push(m[2]);
			continue;
		}
		const body = [];
		while (i + 1 < lines.length && (lines[i + 1].trim() === '' ||
		    lines[i + 1].search(/\S/) > m[1].length))
			body.push(lines[++i]);
		out.push(body.join('\n'));
	}
	return out;
}

/* Metric names and labels in a Prometheus text exposition's samples. */
function exposition(text) {
	const names = new Set();
	const labels = new Set();
	for (const line of text.split('\n')) {
		if (line === '' || line.startsWith('#'))
			continue;
		const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? /.exec(line);
		assert.ok(m, `not a sample: ${line}`);
		names.add(m[1]);
		for (const l of (m[3] ?? '').matchAll(/(\w+)="/g))
			labels.add(l[1]);
	}
	return { names, labels };
}

/* Names in exprs missing from the exposition, as "name (in expr)". */
function missing(exprs, { names, labels }) {
	const out = [];
	// Labels Prometheus adds when it scrapes, and the histogram's le.
	const known = new Set([...labels, 'instance', 'job', 'le']);
	for (const expr of exprs) {
		const n = promqlNames(expr);
		for (const m of n.metrics)
			if (!names.has(m))
				out.push(`metric ${m} (in ${expr})`);
		for (const l of n.labels)
			if (!known.has(l))
				out.push(`label ${l} (in ${expr})`);
	}
	return out;
}

test('the PromQL name extractor finds metrics and ignores functions, ' +
    'labels, variables and keywords', () => {
	const n = promqlNames('histogram_quantile(0.99, sum by (instance, ' +
	    'server, le) (rate(mcprelay_server_request_duration_seconds_bucket' +
	    '{instance=~"$instance", server=~"a|b"}[$__rate_interval]))) ' +
	    '/ on (server) group_left mcprelay_servers > 1e3 and ' +
	    'mcprelay_sessions offset 5m');
	assert.deepEqual([...n.metrics].sort(), ['mcprelay_server_request_' +
	    'duration_seconds_bucket', 'mcprelay_servers', 'mcprelay_sessions']);
	assert.deepEqual([...n.labels].sort(), ['instance', 'le', 'server']);
	// A misspelt name is reported.
	const real = { names: new Set(['mcprelay_server_requests_total']),
	    labels: new Set(['server', 'outcome']) };
	assert.deepEqual(missing(['rate(mcprelay_server_requests_total[5m])'],
	    real), []);
	assert.deepEqual(missing(['rate(mcprelay_server_request_total[5m])',
	    'sum by (clas) (mcprelay_server_requests_total)'], real), [
		'metric mcprelay_server_request_total (in ' +
		    'rate(mcprelay_server_request_total[5m]))',
		'label clas (in sum by (clas) (mcprelay_server_requests_total))',
	]);
});

function promtool(args, opts = {}) {
	const r = spawnSync('promtool', args, { encoding: 'utf8',
	    timeout: 20000, ...opts });
	assert.ok(!r.error, 'promtool is not installed (Debian: apt-get ' +
	    `install prometheus); this test needs it: ${r.error?.message}`);
	return r;
}

test('the alerting rules pass promtool check rules and their unit tests',
    () => {
	let r = promtool(['check', 'rules', rulesFile]);
	assert.equal(r.status, 0, r.stdout + r.stderr);
	assert.match(r.stdout, /SUCCESS: 4 rules found/);
	r = promtool(['test', 'rules', 'mcprelay-rules.test.yml'],
	    { cwd: rulesDir });
	assert.equal(r.status, 0, r.stdout + r.stderr);
	assert.match(r.stdout, /SUCCESS/);
});

itest('every metric the dashboard and the rules query is in the daemon\'s ' +
    'metrics output; the rules use its alert thresholds', async (t) => {
	const dir = tmpdir(t);
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
	    servers: { demo: demoServer() } }) });
	await waitFor(() => /server demo: initializing -> ready/.test(d.log()));
	const s = await initialize(d.mcpUrl('demo'));
	await s.callTool('echo', { text: 'x' });
	const ctl = (args) => {
		const r = spawnSync(bin.ctl, [...args, '--socket',
		    path.join(dir, 'control.sock')], { encoding: 'utf8',
		    timeout: 10000 });
		assert.equal(r.status, 0, r.stderr);
		return r.stdout;
	};
	const exp = exposition(ctl(['metrics']));
	assert.ok(exp.names.has('mcprelay_server_requests_total'));

	const dash = JSON.parse(fs.readFileSync(dashboardFile, 'utf8'));
	const exprs = dashboardExprs(dash);
	assert.ok(exprs.length >= 30, `only ${exprs.length} expressions`);
	assert.deepEqual(missing(exprs, exp), []);
	// What the issue asks the dashboard to show.
	const used = new Set(exprs.flatMap((e) => [...promqlNames(e).metrics]));
	for (const m of ['mcprelay_server_ready', 'mcprelay_server_requests_total',
	    'mcprelay_server_request_errors_total',
	    'mcprelay_server_connect_retries_total',
	    'mcprelay_server_requests_retried_total',
	    'mcprelay_server_breaker_open', 'mcprelay_server_requests_queued',
	    'mcprelay_server_request_duration_seconds_bucket',
	    'mcprelay_server_reconnects_total'])
		assert.ok(used.has(m), `the dashboard does not show ${m}`);
	const ids = [];
	const walk = (ps) => ps?.forEach((p) => { ids.push(p.id); walk(p.panels); });
	walk(dash.panels);
	assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');

	const rules = fs.readFileSync(rulesFile, 'utf8');
	const rexprs = rulesExprs(rules);
	assert.equal(rexprs.length, 4);
	assert.deepEqual(missing(rexprs, exp), []);
	// The thresholds are the daemon's defaults.
	const cfg = JSON.parse(ctl(['show-config']));
	assert.equal(typeof cfg.alerts.retries_per_minute, 'number',
	    JSON.stringify(cfg.alerts));
	assert.match(rules, new RegExp(`\\) > ${cfg.alerts.retries_per_minute}\\n`));
	assert.match(rules, new RegExp('mcprelay_server_consecutive_failures >= ' +
	    `${cfg.alerts.consecutive_failures}\\n`));
	assert.equal(cfg.alerts.breaker_open, true);
});
