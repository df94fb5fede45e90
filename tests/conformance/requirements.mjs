// What run.mjs and run-client.mjs both read: the scenarios a requirement
// set scores (from the suite's own YAML) and the full-pass counts of
// expected.txt.
import fs from 'node:fs';
import path from 'node:path';

// The scenarios listed under `section:` (server or client) of the suite's
// requirements/REVISION.yaml; suite is the path of its dist/index.js.
export function requiredScenarios(suite, revision, section) {
	const yaml = fs.readFileSync(path.join(path.dirname(path.dirname(
	    suite)), 'requirements', `${revision}.yaml`), 'utf8');
	const list = [];
	let inside = false;
	for (const line of yaml.split('\n')) {
		if (/^\S/.test(line))
			inside = line.startsWith(`${section}:`);
		else if (inside && /^\s+- \S+\s*$/.test(line))
			list.push(line.trim().slice(2));
	}
	return list;
}

// expected.txt in dir: run name -> the passed checks of a full pass.
export function expectedCounts(dir) {
	const map = new Map();
	for (const line of fs.readFileSync(path.join(dir, 'expected.txt'),
	    'utf8').split('\n')) {
		const f = line.replace(/#.*/, '').trim().split(/\s+/);
		if (f.length >= 2 && /^\d+$/.test(f[1]))
			map.set(f[0], Number(f[1]));
	}
	return map;
}
