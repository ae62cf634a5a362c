// Dependencies point one way, and this test fails when an import points the other: the pure modules
// of the filter (assembly/, but for its glue) ← the glue that talks to Envoy (assembly/index.ts,
// abi.ts, filter.ts, request-facts.ts — the only files that may import the SDK) ← the Envoy-faithful
// host (host/) ← real Envoy and the demo beside it (envoy/, demo/) ← the CLI (cli/) ← what runs
// all of them (scripts/, bench/, tests/). A file may import from its own layer and the layers below.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const SDK = '@solo-io/proxy-runtime';
const GLUE = new Set(['assembly/index.ts', 'assembly/abi.ts', 'assembly/filter.ts', 'assembly/request-facts.ts']);
const LAYERS = ['pure', 'glue', 'host', 'envoy', 'cli', 'runner'] as const;
type Layer = (typeof LAYERS)[number];

// The layer of a file (a path relative to the repository), or null for files outside the layers.
export function layerOf(file: string): Layer | null {
  if (GLUE.has(file)) return 'glue';
  if (file.startsWith('assembly/__tests__/')) return 'runner';
  if (file.startsWith('assembly/')) return 'pure';
  if (file.startsWith('host/')) return 'host';
  if (file.startsWith('envoy/') || file.startsWith('demo/')) return 'envoy';
  if (file.startsWith('cli/')) return 'cli';
  if (/^(scripts|bench|tests)\//.test(file)) return 'runner';
  return null;
}

// Every module a source file imports (static, re-exported or dynamic), as written.
export function importsOf(source: string): string[] {
  const found: string[] = [];
  for (const match of source.matchAll(
    /(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g,
  )) {
    found.push(match[1] ?? match[2] ?? match[3]);
  }
  return found;
}

// The file a relative import names (TypeScript's `.js` and AssemblyScript's bare names both mean `.ts`).
function targetOf(file: string, specifier: string): string {
  return relative(ROOT, resolve(ROOT, file, '..', specifier))
    .replace(/\.js$/, '.ts')
    .replace(/^(assembly\/.*?)(?<!\.ts)$/, '$1.ts');
}

// What is wrong with `file` importing `specifier`, or null when nothing is.
export function violation(file: string, specifier: string): string | null {
  const from = layerOf(file);
  if (from === null) return null;
  if (specifier.startsWith(SDK)) return from === 'glue' || from === 'runner' ? null : `${file} (${from}) imports the SDK (${specifier}): only the glue may`;
  if (!specifier.startsWith('.')) return null;
  const target = targetOf(file, specifier);
  const to = layerOf(target);
  if (to === null) return null;
  return LAYERS.indexOf(to) > LAYERS.indexOf(from) ? `${file} (${from}) imports ${target} (${to}), a layer above it` : null;
}

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(ts|mts|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

describe('dependencies point one way', () => {
  it('no import in the tree points to a layer above its file, and only the glue imports the SDK', () => {
    const files = ['assembly', 'host', 'envoy', 'demo', 'cli', 'scripts', 'bench', 'tests'].flatMap(sources);
    assert.ok(files.length > 80, `${files.length} source files found`);
    const imports = files.flatMap((file) => importsOf(readFileSync(join(ROOT, file), 'utf8')).map((specifier) => ({ file, specifier })));
    const between = imports.filter(({ file, specifier }) => specifier.startsWith('.') && layerOf(targetOf(file, specifier)) !== null);
    assert.ok(between.length > 250, `${between.length} imports between our own files`);
    assert.deepEqual(
      imports.map(({ file, specifier }) => violation(file, specifier)).filter((v) => v !== null),
      [],
    );
  });

  it('finds imports in each way they are written', () => {
    assert.deepEqual(
      importsOf(
        `import { a } from "./a";\nimport * as b from '../b.js';\nexport { c } from "./c";\nimport type { D } from './d.js';\nconst e = await import('./e.js');\nimport './f.js';`,
      ),
      ['./a', '../b.js', './c', './d.js', './e.js', './f.js'],
    );
  });

  it('names each wrong direction', () => {
    assert.match(violation('assembly/policy/decide.ts', '../filter') ?? '', /assembly\/policy\/decide\.ts \(pure\) imports assembly\/filter\.ts \(glue\)/);
    assert.match(violation('assembly/identity/xfcc.ts', '@solo-io/proxy-runtime/assembly') ?? '', /only the glue may/);
    assert.match(violation('host/certificate.ts', '../cli/secret.js') ?? '', /\(host\) imports cli\/secret\.ts \(cli\)/);
    assert.match(violation('envoy/proxy.ts', '../tests/support/envoy.js') ?? '', /\(envoy\) imports tests\/support\/envoy\.ts \(runner\)/);
    assert.match(violation('cli/main.ts', '../bench/count.js') ?? '', /a layer above it/);
  });

  it('lets a file import its own layer and those below', () => {
    assert.equal(violation('assembly/filter.ts', './policy/decide'), null);
    assert.equal(violation('assembly/filter.ts', `${SDK}/assembly`), null);
    assert.equal(violation('host/certificate.ts', '../assembly/cert/attribute-names.js'), null);
    assert.equal(violation('cli/main.ts', '../host/index.js'), null);
    assert.equal(violation('tests/e2e.test.ts', '../cli/main.js'), null);
  });
});
