// npm run e2e:envoy: the end-to-end suite against real Envoy. Starts docker compose, waits (bounded)
// for Envoy to be ready, runs tests/e2e.test.ts against it, always tears down, and prints Envoy's
// log when something failed. Without a Docker engine it says so and fails, unless asked to skip
// (--allow-skip or E2E_ALLOW_SKIP=1), so it never passes silently.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureDemoPki } from '../gateway/pki.js';
import { LISTENERS_FILE, writeListeners } from './envoy-config.js';

const root = new URL('..', import.meta.url).pathname;
const allowSkip = process.argv.includes('--allow-skip') || process.env.E2E_ALLOW_SKIP === '1';
const port = process.env.ENVOY_PORT ?? '10443';
const adminPort = process.env.ENVOY_ADMIN_PORT ?? '19901';
const compose = ['compose', '-f', join(root, 'envoy/docker-compose.yml')];

if (spawnSync('docker', ['info'], { stdio: 'ignore' }).status !== 0) {
  console.error('e2e:envoy SKIPPED: no Docker engine answers (docker info failed); the Envoy end-to-end suite did not run.');
  process.exit(allowSkip ? 0 : 1);
}

execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
ensureDemoPki(join(root, 'build/pki'));
writeListeners(readFileSync(join(root, 'filter-config/cert-allowlist.json'), 'utf8'));

let failed = true;
try {
  execFileSync('docker', [...compose, 'up', '-d', '--quiet-pull'], { stdio: 'inherit', env: { ...process.env, ENVOY_PORT: port, ENVOY_ADMIN_PORT: adminPort } });
  let ready = false;
  for (let i = 0; i < 120 && !ready; i++) {
    ready = await fetch(`http://127.0.0.1:${adminPort}/ready`).then((r) => r.ok, () => false);
    if (!ready) await sleep(500);
  }
  if (!ready) throw new Error('Envoy did not become ready within 60 s');
  const run = spawnSync('node', ['--import', 'tsx', '--test', 'tests/e2e.test.ts'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, E2E_TARGET: 'envoy', E2E_URL: `https://localhost:${port}`, E2E_ADMIN_URL: `http://127.0.0.1:${adminPort}`, E2E_LDS_PATH: LISTENERS_FILE },
  });
  failed = run.status !== 0;
} catch (error) {
  console.error(`e2e:envoy: ${(error as Error).message}`);
} finally {
  if (failed) spawnSync('docker', [...compose, 'logs', '--no-color', 'envoy'], { stdio: 'inherit' });
  spawnSync('docker', [...compose, 'down', '--volumes', '--timeout', '5'], { stdio: 'inherit' });
}
process.exit(failed ? 1 : 0);
