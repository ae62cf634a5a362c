// Every hunk of patches/@solo-io+proxy-runtime+0.1.8.patch must be needed: the filter compiles with
// the patched SDK, and without any one of the patch's files it does not, for the reason the README
// gives. Compiled in a copy of the project, so node_modules stays as npm ci left it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const ROOT = new URL('..', import.meta.url).pathname;
const PATCH = join(ROOT, 'patches/@solo-io+proxy-runtime+0.1.8.patch');
const SDK = 'node_modules/@solo-io/proxy-runtime';
const scratch = mkdtempSync(join(tmpdir(), 'sdk-patch-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

// The patch, one part per file it changes.
const parts = readFileSync(PATCH, 'utf8')
  .split(/^(?=diff --git )/m)
  .filter((part) => part.startsWith('diff --git'));

// A copy of the sources and the patched SDK; `undo` reverses one part of the patch in it.
function compile(name: string, undo?: string): { status: number | null; output: string } {
  const dir = join(scratch, name);
  cpSync(join(ROOT, 'assembly'), join(dir, 'assembly'), { recursive: true });
  cpSync(join(ROOT, 'asconfig.json'), join(dir, 'asconfig.json'));
  cpSync(join(ROOT, SDK), join(dir, SDK), { recursive: true });
  if (undo !== undefined) {
    writeFileSync(join(dir, 'part.patch'), undo);
    const reversed = spawnSync('patch', ['-R', '-p4', '-d', join(dir, SDK), '-i', join(dir, 'part.patch')], { encoding: 'utf8' });
    assert.equal(reversed.status, 0, reversed.stdout + reversed.stderr);
  }
  const asc = spawnSync(join(ROOT, 'node_modules/.bin/asc'), ['assembly/index.ts', '--target', 'release', '--noEmit'], { cwd: dir, encoding: 'utf8' });
  return { status: asc.status, output: asc.stdout + asc.stderr };
}

describe('the SDK patch', () => {
  it('has the two parts the README names', () => {
    assert.deepEqual(
      parts.map((part) => /^diff --git a\/\S+\/assembly\/(\S+)/.exec(part)?.[1]),
      ['malloc.ts', 'runtime.ts'],
    );
  });
  it('lets the filter compile', () => {
    const { status, output } = compile('patched');
    assert.equal(status, 0, output);
  });
  for (const [file, missing] of [
    ['malloc.ts', 'rt/index-full'],
    ['runtime.ts', 'bindings/wasi_unstable'],
  ]) {
    it(`is needed in ${file}: without it the SDK imports ${missing}, which AssemblyScript 0.27 does not have`, () => {
      const part = parts.find((p) => p.includes(`/assembly/${file} `));
      assert.ok(part, `no part for ${file}`);
      const { status, output } = compile(`without-${file}`, part);
      assert.notEqual(status, 0);
      assert.match(output, new RegExp(`File '~lib/${missing}\\.ts' not found`));
    });
  }
});
