// mcprelayctl import, repoint and init on sample configurations of every
// supported agent (data/agents/, written for these tests: secrets, unknown
// keys, unsupported entries), and the shell completions: bash run for real
// (server names from a running daemon), zsh and fish syntax-checked.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
	baseConfig, bin, builddir, demoServer, itest, srcdir, startDaemon,
	tmpdir,
} from './lib/harness.mjs';

const data = path.join(srcdir, 'tests', 'integration', 'data', 'agents');
const completions = path.join(srcdir, 'ctl', 'completions');

/* Where each agent's user-level file is, under HOME. */
const AGENT_FILES = {
	'claude-code': '.claude.json',
	cursor: '.cursor/mcp.json',
	vscode: '.config/Code/User/mcp.json',
	windsurf: '.codeium/windsurf/mcp_config.json',
	gemini: '.gemini/settings.json',
};

/* The variables the samples keep for the daemon to expand. */
const AGENT_ENV = {
	'claude-code': { API_KEY: 'k' },
	windsurf: { TALARIA_MCP_TOKEN: 't' },
	gemini: { DB_CONNECTION_STRING: 'x', EXTERNAL_API_KEY: 'y' },
};

/* How repoint writes the URL, per agent. */
const URL_KEY = {
	'claude-code': 'url', cursor: 'url', vscode: 'url',
	windsurf: 'serverUrl', gemini: 'httpUrl',
};

/* Runs mcprelayctl to its end (10 s bound) with env over a clean one. */
function ctl(args, env = {}, { cwd } = {}) {
	return new Promise((resolve, reject) => {
		const child = spawn(bin.ctl, args, {
			cwd,
			env: { PATH: process.env.PATH, LANG: 'C', ...env },
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		let stdout = '', stderr = '';
		child.stdout.setEncoding('utf8');
		child.stderr.setEncoding('utf8');
		child.stdout.on('data', (d) => { stdout += d; });
		child.stderr.on('data', (d) => { stderr += d; });
		const timer = setTimeout(() => {
			child.kill('SIGKILL');
			reject(new Error(`mcprelayctl ${args.join(' ')}: no exit ` +
			    `in 10 s; ${stdout} ${stderr}`));
		}, 10000);
		child.on('error', (e) => { clearTimeout(timer); reject(e); });
		child.on('close', (code) => {
			clearTimeout(timer);
			resolve({ code, stdout, stderr });
		});
	});
}

const BASE = (dir) => '# mcprelay.yaml for the import tests: one server ' +
    'already configured.\n' +
    'control:\n' +
    `  socket: ${dir}/control.sock\n` +
    '\n' +
    'listen:\n' +
    '  http: 127.0.0.1:8931\n' +
    '\n' +
    'servers:\n' +
    '  existing:\n' +
    '    type: stdio\n' +
    '    command: /bin/true\n' +
    '\n' +
    'alerts:\n' +
    '  breaker_open: true\n';

/* A HOME with the agent's sample in place, and a configuration. */
function setup(t, agent, sample = `${agent}.json`) {
	const dir = tmpdir(t);
	const home = path.join(dir, 'home');
	const file = path.join(home, AGENT_FILES[agent]);
	fs.mkdirSync(path.dirname(file), { recursive: true });
	fs.copyFileSync(path.join(data, sample), file);
	const config = path.join(dir, 'mcprelay.yaml');
	fs.writeFileSync(config, BASE(dir), { mode: 0o640 });
	const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'),
	    MCPRELAY_CONTROL_SOCKET: path.join(dir, 'control.sock') };
	return { dir, home, file, config, env };
}

function backups(file) {
	const base = path.basename(file) + '.mcprelay-backup-';
	return fs.readdirSync(path.dirname(file)).filter((n) =>
	    n.startsWith(base));
}

for (const agent of Object.keys(AGENT_FILES)) {
	itest(`import ${agent}: exact diff, --write loads, repoint and ` +
	    '--undo round-trip', async (t) => {
		const { dir, file, config, env } = setup(t, agent);
		const original = fs.readFileSync(file);
		const base = fs.readFileSync(config, 'utf8');
		const want = fs.readFileSync(path.join(data, `${agent}.out`),
		    'utf8').replaceAll('@DIR@', dir);

		let r = await ctl(['import', '--from', agent, '--config',
		    config], env);
		assert.equal(r.stderr, '');
		assert.equal(r.code, 0);
		assert.equal(r.stdout, want);
		assert.equal(fs.readFileSync(config, 'utf8'), base,
		    'a dry run writes nothing');
		assert.equal(fs.existsSync(path.join(dir, 'mcprelay.env')),
		    false);

		if (agent === 'claude-code') {
			// ${API_KEY} unset: the result does not load, nothing
			// changes, exit 78.
			r = await ctl(['import', '--from', agent, '--config',
			    config, '--write'], env);
			assert.equal(r.code, 78, r.stderr);
			assert.match(r.stderr, /environment variable 'API_KEY' is not set/);
			assert.match(r.stderr, /the new configuration does not load; .* is unchanged/);
			assert.equal(fs.readFileSync(config, 'utf8'), base);
			assert.equal(fs.existsSync(path.join(dir,
			    'mcprelay.env')), false, 'the env file is rolled back');
		}

		r = await ctl(['import', '--from', agent, '--config', config,
		    '--write'], { ...env, ...AGENT_ENV[agent] });
		assert.equal(r.code, 0, r.stderr);
		assert.match(r.stdout, /\nmcprelayd is not running: it reads the new servers when it starts\n$/);
		assert.match(r.stderr, /mcprelayd is not running/);
		const envFile = path.join(dir, 'mcprelay.env');
		assert.equal(fs.readFileSync(envFile, 'utf8'),
		    fs.readFileSync(path.join(data, `${agent}.env`), 'utf8'));
		assert.equal(fs.statSync(envFile).mode & 0o777, 0o600);
		assert.equal(fs.statSync(config).mode & 0o777, 0o640,
		    'the configuration keeps its mode');
		// The diff was the change: the new text starts as the old one.
		const now = fs.readFileSync(config, 'utf8');
		assert.ok(now.startsWith(base.slice(0, base.indexOf(
		    '\nalerts:'))), now);
		r = await ctl(['check-config', config],
		    { ...env, ...AGENT_ENV[agent] });
		assert.equal(r.code, 0, r.stderr);
		// No leftovers of the atomic writes.
		assert.deepEqual(fs.readdirSync(dir).sort(),
		    ['home', 'mcprelay.env', 'mcprelay.yaml']);

		// Once imported, the same names are clashes.
		r = await ctl(['import', '--from', agent, '--config', config],
		    { ...env, ...AGENT_ENV[agent] });
		assert.equal(r.code, 0);
		assert.match(r.stdout, /: 0 to import, /);

		// repoint: imported names go through the daemon, the rest and
		// unknown keys stay.
		const before = JSON.parse(original.toString());
		const key = agent === 'vscode' ? 'servers' : 'mcpServers';
		const imported = [...now.matchAll(/^ {2}([\w.-]+):$/gm)]
		    .map((m) => m[1]).filter((n) => n !== 'existing');
		r = await ctl(['repoint', agent, '--config', config],
		    { ...env, ...AGENT_ENV[agent] });
		assert.equal(r.code, 0, r.stderr);
		const after = JSON.parse(fs.readFileSync(file, 'utf8'));
		assert.deepEqual(Object.keys(after), Object.keys(before));
		for (const k of Object.keys(before))
			if (k !== key)
				assert.deepEqual(after[k], before[k], k);
		assert.deepEqual(Object.keys(after[key]),
		    Object.keys(before[key]));
		for (const [name, old] of Object.entries(before[key])) {
			const e = after[key][name];
			// "existing" is another server of the same name.
			if (!imported.includes(name)) {
				assert.deepEqual(e, old, name);
				continue;
			}
			const url = `http://127.0.0.1:8931/servers/${name}/mcp`;
			assert.equal(e[URL_KEY[agent]], url, name);
			if (agent === 'claude-code' || agent === 'vscode')
				assert.equal(e.type, 'http');
			for (const k of ['command', 'args', 'env', 'headers'])
				assert.equal(e[k], undefined, `${name}.${k}`);
			// Keys repoint does not know are kept.
			for (const k of ['timeout', 'trust', 'includeTools',
			    'alwaysAllow', 'disabled', 'gallery'])
				if (k in old)
					assert.deepEqual(e[k], old[k], `${name}.${k}`);
		}
		if (agent === 'claude-code')
			assert.match(r.stdout, /\n {2}! existing: not the server of that name in .* \(another command or URL\); left alone\n/);
		assert.match(fs.readFileSync(file, 'utf8'), /^\{\n {2}"/);
		assert.equal(backups(file).length, 1);
		assert.match(backups(file)[0], /\.mcprelay-backup-\d{8}T\d{6}Z$/);
		assert.deepEqual(fs.readFileSync(path.join(path.dirname(file),
		    backups(file)[0])), original);

		// A second repoint changes nothing and makes no backup.
		r = await ctl(['repoint', agent, '--config', config],
		    { ...env, ...AGENT_ENV[agent] });
		assert.equal(r.code, 0, r.stderr);
		assert.match(r.stdout, /nothing to repoint/);
		assert.equal(backups(file).length, 1);

		r = await ctl(['repoint', agent, '--undo'], env);
		assert.equal(r.code, 0, r.stderr);
		assert.ok(fs.readFileSync(file).equals(original),
		    '--undo gives back the original bytes');
		assert.deepEqual(backups(file), []);
		r = await ctl(['repoint', agent, '--undo'], env);
		assert.equal(r.code, 1);
		assert.match(r.stderr, /no backup of .* to restore/);
	});
}

itest('import and repoint leave an unparseable agent file untouched',
    async (t) => {
	const { file, config, env } = setup(t, 'cursor', 'broken.json');
	const original = fs.readFileSync(file);
	let r = await ctl(['import', '--from', 'cursor', '--config', config],
	    env);
	assert.equal(r.code, 1);
	assert.match(r.stderr, /mcp\.json: not valid JSON: /);
	r = await ctl(['repoint', 'cursor', '--config', config], env);
	assert.equal(r.code, 1);
	assert.match(r.stderr, /mcp\.json: .*; left untouched\n$/);
	assert.ok(fs.readFileSync(file).equals(original));
	assert.deepEqual(backups(file), []);
});

itest('a VS Code file with comments imports, but repoint refuses to ' +
    'rewrite it', async (t) => {
	const { file, config, env } = setup(t, 'vscode',
	    'vscode-comments.json');
	const original = fs.readFileSync(file);
	let r = await ctl(['import', '--from', 'vscode', '--config', config,
	    '--write'], env);
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stdout, /mcp\.json: 1 to import, 0 skipped\n {2}\+ fetch\n/);
	r = await ctl(['repoint', 'vscode', '--config', config], env);
	assert.equal(r.code, 1);
	assert.match(r.stderr, /left untouched/);
	assert.ok(fs.readFileSync(file).equals(original));
	assert.deepEqual(backups(file), []);
});

itest('repoint --stdio and a FILE use mcprelayctl connect', async (t) => {
	const { dir, file, config, env } = setup(t, 'cursor');
	const copy = path.join(dir, 'project-mcp.json');
	fs.copyFileSync(file, copy);
	let r = await ctl(['import', '--from', copy, '--config', config,
	    '--write'], env);
	assert.equal(r.code, 0, r.stderr);
	r = await ctl(['repoint', copy, '--config', config], env);
	assert.equal(r.code, 0, r.stderr);
	const j = JSON.parse(fs.readFileSync(copy, 'utf8'));
	assert.deepEqual(j.mcpServers.lapras,
	    { type: 'stdio', command: 'mcprelayctl',
	    args: ['connect', 'lapras'] });
	assert.deepEqual(j.mcpServers.workspace.args,
	    ['${workspaceFolder}/dist/index.js'], 'not imported: unchanged');
	r = await ctl(['repoint', copy, '--undo'], env);
	assert.equal(r.code, 0, r.stderr);
	assert.ok(fs.readFileSync(copy).equals(fs.readFileSync(file)));

	r = await ctl(['repoint', 'cursor', '--stdio', '--config', config],
	    env);
	assert.equal(r.code, 0, r.stderr);
	assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8'))
	    .mcpServers.spreadjs, { command: 'mcprelayctl',
	    args: ['connect', 'spreadjs'] });
});

itest('init writes a valid starter configuration and never replaces one',
    async (t) => {
	const dir = tmpdir(t);
	const home = path.join(dir, 'home');
	const env = { HOME: home, XDG_CONFIG_HOME: path.join(dir, 'xdg') };
	const user = path.join(dir, 'xdg', 'mcprelay', 'mcprelay.yaml');
	let r = await ctl(['init', '--user'], env);
	assert.equal(r.code, 0, r.stderr);
	assert.equal(r.stdout, `wrote ${user}: valid: 0 servers, http ` +
	    '127.0.0.1:8931, unix off\nnext: add servers (mcprelayctl ' +
	    'import), then start mcprelayd (systemctl --user enable --now ' +
	    'mcprelayd)\n');
	assert.equal(fs.statSync(user).mode & 0o777, 0o600);
	assert.equal(fs.statSync(path.dirname(user)).mode & 0o777, 0o700);
	assert.equal(fs.readFileSync(user, 'utf8'),
	    fs.readFileSync(path.join(srcdir, 'config', 'mcprelay.yaml'),
	    'utf8'));
	r = await ctl(['check-config', user], env);
	assert.equal(r.code, 0, r.stderr);

	fs.appendFileSync(user, '# edited\n');
	const edited = fs.readFileSync(user);
	r = await ctl(['init', '--user'], env);
	assert.equal(r.code, 1);
	assert.equal(r.stderr, `mcprelayctl: ${user} already exists; not ` +
	    'replaced\n');
	assert.ok(fs.readFileSync(user).equals(edited));
	assert.deepEqual(fs.readdirSync(path.dirname(user)),
	    ['mcprelay.yaml'], 'no temporary file left');

	// Without XDG_CONFIG_HOME: ~/.config; --config: anywhere.
	r = await ctl(['init', '--user'], { HOME: home });
	assert.equal(r.code, 0, r.stderr);
	assert.ok(fs.existsSync(path.join(home, '.config', 'mcprelay',
	    'mcprelay.yaml')));
	const sys = path.join(dir, 'etc', 'mcprelay', 'mcprelay.yaml');
	r = await ctl(['init', '--config', sys], env);
	assert.equal(r.code, 0, r.stderr);
	assert.equal(fs.statSync(sys).mode & 0o777, 0o644);

	// import then finds the user's file by default.
	const agentFile = path.join(home, '.cursor', 'mcp.json');
	fs.mkdirSync(path.dirname(agentFile), { recursive: true });
	fs.copyFileSync(path.join(data, 'cursor.json'), agentFile);
	r = await ctl(['import'], { ...env,
	    MCPRELAY_CONTROL_SOCKET: path.join(dir, 'none.sock') });
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stdout, new RegExp(`^--- ${user}$`, 'm'));
});

/* COMPREPLY of the bash completion for words (the last is completed). */
function bashComplete(words, env = {}, cwd) {
	const script = `source ${JSON.stringify(path.join(completions, 'bash',
	    'mcprelayctl'))}\n` +
	    `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})\n` +
	    `COMP_CWORD=${words.length - 1}\n` +
	    '_mcprelayctl\n' +
	    'printf "%s\\n" "${COMPREPLY[@]}"\n';
	const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script], {
		cwd,
		env: { PATH: `${builddir}:${process.env.PATH}`, ...env },
		encoding: 'utf8', timeout: 10000,
	});
	assert.equal(r.status, 0, r.stderr);
	assert.equal(r.stderr, '');
	return r.stdout.split('\n').filter((l) => l !== '');
}

itest('bash completion: commands, options, agents, files', async (t) => {
	const dir = tmpdir(t);
	fs.writeFileSync(path.join(dir, 'cfg.yaml'), '');
	const env = { MCPRELAY_CONTROL_SOCKET: path.join(dir, 'none.sock') };
	// Every command of "mcprelayctl help", and nothing else.
	const help = await ctl(['help']);
	const commands = [...help.stdout.matchAll(/^ {2}(\S+) /gm)]
	    .map((m) => m[1]);
	assert.ok(commands.includes('import') && commands.includes('init'));
	assert.deepEqual(bashComplete(['mcprelayctl', ''], env, dir),
	    [...commands, '--help', '--version']);
	assert.deepEqual(bashComplete(['mcprelayctl', 're'], env, dir),
	    ['reconnect', 'reload', 'repoint']);
	assert.deepEqual(bashComplete(['mcprelayctl', 'servers', '--'], env,
	    dir), ['--names', '--json', '--socket', '--config', '--help']);
	assert.deepEqual(bashComplete(['mcprelayctl', 'import', '--from',
	    'c'], env, dir), ['claude-code', 'cursor', 'cfg.yaml']);
	assert.deepEqual(bashComplete(['mcprelayctl', 'repoint', 'w'], env,
	    dir), ['windsurf']);
	assert.deepEqual(bashComplete(['mcprelayctl', 'init', '--'], env,
	    dir), ['--user', '--config', '--help']);
	// No daemon: no server names, and no error output.
	assert.deepEqual(bashComplete(['mcprelayctl', 'stats', ''], env, dir),
	    []);
});

itest('bash completion offers the running daemon\'s servers, also ' +
    'those import added', async (t) => {
	const dir = tmpdir(t);
	const d = await startDaemon({ t, dir, config: baseConfig(dir, {
		servers: { alpha: demoServer() } }) });
	const sock = path.join(dir, 'control.sock');
	const agent = path.join(dir, 'agent.json');
	fs.writeFileSync(agent, JSON.stringify({ mcpServers: {
		// A secret: the daemon must read it from env_file to reload.
		beta: { command: bin.demo, env: { API_TOKEN: 's3cr3t-0' } },
		gamma: { command: bin.demo },
	} }, null, 2));
	let r = await ctl(['import', '--from', agent, '--config',
	    d.configPath, '--write'], { HOME: dir });
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stdout, /\nreloaded mcprelayd: 3 servers\n$/);
	assert.equal(fs.readFileSync(path.join(dir, 'mcprelay.env'), 'utf8'),
	    'MCPRELAY_BETA_API_TOKEN=s3cr3t-0\n');
	assert.match(fs.readFileSync(d.configPath, 'utf8'),
	    /\n {6}API_TOKEN: "\$\{MCPRELAY_BETA_API_TOKEN\}"\n/);
	r = await ctl(['servers', '--names', '--socket', sock]);
	assert.equal(r.code, 0, r.stderr);
	assert.equal(r.stdout, 'alpha\nbeta\ngamma\n');

	assert.deepEqual(bashComplete(['mcprelayctl', 'stats', '--socket',
	    sock, ''], {}, dir), ['alpha', 'beta', 'gamma']);
	assert.deepEqual(bashComplete(['mcprelayctl', 'disable', 'g'],
	    { MCPRELAY_CONTROL_SOCKET: sock }, dir), ['gamma']);
	assert.deepEqual(bashComplete(['mcprelayctl', 'stats', '--config',
	    d.configPath, 'b'], {}, dir), ['beta']);
});

for (const [shell, file] of [['zsh', 'zsh/_mcprelayctl'],
    ['fish', 'fish/mcprelayctl.fish']]) {
	const have = spawnSync('sh', ['-c', `command -v ${shell}`])
	    .status === 0;
	itest(`${shell} completion parses (${shell} -n)`, {
		skip: have ? false : `${shell} is not installed (.ci/run ` +
		    'installs it)',
	}, async () => {
		const r = spawnSync(shell, ['-n', path.join(completions, file)],
		    { encoding: 'utf8', timeout: 10000 });
		assert.equal(r.stderr, '');
		assert.equal(r.status, 0);
	});
}
