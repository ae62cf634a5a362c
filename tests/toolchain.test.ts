// The toolchain a contributor gets from `npm ci`: every installed package admits the Node the README
// names (so npm ci warns about no engine), and npm inside the project's scripts is the npm the user
// runs — no dependency brings its own (as-pect's glob-promise once pulled in npm 6, which then
// shadowed npm in every script through node_modules/.bin).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = new URL('..', import.meta.url).pathname;
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: { node?: string } }> };

type Version = [number, number, number];
const version = (text: string): Version => {
  const [major = 0, minor = 0, patch = 0] = text.replace(/^v/, '').split('.').map(Number);
  return [major, minor, patch];
};
const compare = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

// Whether `node` satisfies an engines range of the forms packages use: ">=X", "^X.Y", "A || B".
export function admits(range: string, node: string): boolean {
  const have = version(node);
  return range.split('||').some((alternative) => {
    const match = /^\s*(>=|\^)?\s*([\d.]+)\s*$/.exec(alternative);
    if (!match) throw new Error(`an engines range this test cannot read: ${range}`);
    const want = version(match[2]);
    if (match[1] === '^') return have[0] === want[0] && compare(have, want) >= 0;
    return match[1] === '>=' ? compare(have, want) >= 0 : compare(have, want) === 0;
  });
}

describe('the toolchain', () => {
  it('every installed package admits this Node', () => {
    const refusing = Object.entries(lock.packages)
      .filter(([, meta]) => meta.engines?.node !== undefined && !admits(meta.engines.node, process.version))
      .map(([path, meta]) => `${path} wants node ${meta.engines!.node}`);
    assert.deepEqual(refusing, []);
  });

  it('reads engines ranges as npm does', () => {
    assert.equal(admits('>=22', 'v20.20.2'), false);
    assert.equal(admits('>=20', 'v20.20.2'), true);
    assert.equal(admits('^12.20.0 || >=14', 'v20.20.2'), true);
    assert.equal(admits('^18.0.0', 'v20.20.2'), false);
  });

  it('no dependency installs its own npm', () => {
    assert.ok(!existsSync(join(ROOT, 'node_modules/.bin/npm')), 'node_modules/.bin/npm shadows npm in the scripts');
    const npms = Object.keys(lock.packages).filter((path) => /(^|\/)node_modules\/npm$/.test(path));
    assert.deepEqual(npms, []);
  });
});
