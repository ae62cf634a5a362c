// npm run build:cli: the CLI as the package ships it — cli/ and the host/ it runs the filter in,
// compiled to JavaScript in dist/, with the release module beside them (dist/build/), where
// cli/filter.ts looks for it. Run by `npm pack` (prepack) after npm run build.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const module = join(root, 'build/cert-allowlist.wasm');
if (!existsSync(module)) {
  console.error(`${module} is missing: run npm run build first`);
  process.exit(1);
}
rmSync(join(root, 'dist'), { recursive: true, force: true });
execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.cli.json'], { cwd: root, stdio: 'inherit' });
mkdirSync(join(root, 'dist/build'), { recursive: true });
copyFileSync(module, join(root, 'dist/build/cert-allowlist.wasm'));
chmodSync(join(root, 'dist/cli/bin.js'), 0o755);
console.log('dist/: the CLI and the release module');
