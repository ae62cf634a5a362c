// npm start: builds the filter if needed, makes the demo PKI, and runs the local mTLS gateway with
// the compiled filter until Ctrl-C.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { Gateway } from '../gateway/gateway.js';
import { DEMO_CLIENTS, ensureDemoPki } from '../gateway/pki.js';

const root = new URL('..', import.meta.url).pathname;
const usage = `usage: npm start -- [--config FILE] [--port 8443] [--admin-port 9901] [--upstream-port 0] [--pki build/pki]`;

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: join(root, 'filter-config/cert-allowlist.json') },
    port: { type: 'string', default: '8443' },
    'admin-port': { type: 'string', default: '9901' },
    'upstream-port': { type: 'string', default: '0' },
    pki: { type: 'string', default: join(root, 'build/pki') },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}

function port(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    console.error(`--${name}: expected a port number, got ${JSON.stringify(text)}\n${usage}`);
    process.exit(2);
  }
  return value;
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const module = join(root, 'build/cert-allowlist.wasm');
if (!existsSync(module) || statSync(module).mtimeMs < newestSource(join(root, 'assembly'))) {
  console.log('building the filter (npm run build)…');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
}

const pki = ensureDemoPki(values.pki!);
const gateway = await Gateway.start({
  module,
  config: values.config!,
  pki,
  port: port('port', values.port!),
  adminPort: port('admin-port', values['admin-port']!),
  upstreamPort: port('upstream-port', values['upstream-port']!),
}).catch((error: Error) => {
  console.error(`cannot start the gateway: ${error.message}`);
  process.exit(1);
});

const rel = (path: string) => relative(process.cwd(), path) || '.';
const curl = (client?: string) =>
  `curl --cacert ${rel(pki.ca)}${client ? ` --cert ${rel(pki.cert(client))} --key ${rel(pki.key(client))}` : ''} ${gateway.url}/hello`;
console.log(`cert-allowlist gateway on ${gateway.url} (upstream echo on 127.0.0.1:${gateway.upstreamPort})`);
console.log(`configuration: ${rel(values.config!)} (watched: edits apply without restart)`);
console.log(`demo certificates in ${rel(pki.dir)}: ${DEMO_CLIENTS.map((c) => `${c.name} (${c.purpose})`).join(', ')}\n`);
console.log('allowed — 200, the upstream echoes x-client-identity and the XFCC the gateway set:');
console.log(`  ${curl('allowed')}`);
console.log('denied — 403 client certificate not authorized:');
console.log(`  ${curl('denied')}`);
console.log('no client certificate — 403:');
console.log(`  ${curl()}`);
console.log(`metrics:\n  curl http://127.0.0.1:${gateway.adminPort}/stats/prometheus\n`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log('stopping…');
    gateway.close().then(() => process.exit(0));
  });
}
