// Where the end-to-end suite sends its requests: the embedded gateway (npm test), or real Envoy
// started by docker compose (npm run e2e:envoy, which sets E2E_TARGET=envoy and the addresses).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gateway } from '../../gateway/gateway.js';
import { ensureDemoPki, type Pki } from '../../gateway/pki.js';
import { writeListeners } from '../../scripts/envoy-config.js';

const root = new URL('../../', import.meta.url).pathname;

export interface Target {
  name: string;
  url: string;
  adminUrl: string;
  pki: Pki;
  /** Applies a plugin configuration the way this target takes updates. */
  applyConfig(text: string): Promise<void>;
  /** Lines the target printed about refused configurations (embedded only; Envoy logs them itself). */
  messages: string[];
  close(): Promise<void>;
}

export const DEFAULT_CONFIG = readFileSync(join(root, 'filter-config/cert-allowlist.json'), 'utf8');

async function embedded(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'cert-allowlist-e2e-'));
  const config = join(dir, 'cert-allowlist.json');
  writeFileSync(config, DEFAULT_CONFIG);
  const pki = ensureDemoPki(join(root, 'build/pki'));
  const messages: string[] = [];
  const gateway = await Gateway.start({ module: join(root, 'build/cert-allowlist.wasm'), config, pki, port: 0, adminPort: 0, print: (line) => messages.push(line) });
  return {
    name: 'embedded gateway',
    url: `https://localhost:${gateway.port}`,
    adminUrl: `http://127.0.0.1:${gateway.adminPort}`,
    pki,
    messages,
    async applyConfig(text) {
      writeFileSync(config, text);
      gateway.reload();
    },
    async close() {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function envoy(): Promise<Target> {
  const env = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set: run the Envoy suite with npm run e2e:envoy`);
    return value;
  };
  const listeners = env('E2E_LDS_PATH');
  return {
    name: 'Envoy',
    url: env('E2E_URL'),
    adminUrl: env('E2E_ADMIN_URL'),
    pki: ensureDemoPki(join(root, 'build/pki')),
    messages: [],
    async applyConfig(text) {
      writeListeners(text, listeners);
    },
    async close() {},
  };
}

export function startTarget(): Promise<Target> {
  return process.env.E2E_TARGET === 'envoy' ? envoy() : embedded();
}
