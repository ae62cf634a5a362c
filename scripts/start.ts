// npm start: the filter in real Envoy, behind an ingress gateway configured as istiod configures one
// (envoy/gateway.yaml), with the demo PKI and an echo upstream. The configuration file is watched and
// each change pushed to Envoy as an update it validates; what Envoy says is printed. Ctrl-C stops.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, unwatchFile, watchFile } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { DEMO_CLIENTS, type Pki, PkiError, ensureDemoPki } from '../demo/pki.js';
import { startEchoUpstream } from '../demo/upstream.js';
import { EnvoyProxy, type PushResult } from '../envoy/proxy.js';
import { InstallError, NEWEST_ENVOY, installEnvoy } from '../envoy/install.js';
import { parseLogLine } from '../envoy/process.js';

const root = new URL('..', import.meta.url).pathname;
const usage = 'usage: npm start -- [--config FILE] [--port 8443] [--admin-port 9901] [--pki DIR] [--envoy VERSION]';

function fail(message: string, code = 2): never {
  console.error(`${message}\n${usage}`);
  process.exit(code);
}

const OPTIONS = {
  config: { type: 'string', default: join(root, 'filter-config/cert-allowlist.json') },
  port: { type: 'string', default: '8443' },
  'admin-port': { type: 'string', default: '9901' },
  pki: { type: 'string', default: join(root, 'build/pki') },
  envoy: { type: 'string', default: NEWEST_ENVOY },
  help: { type: 'boolean', default: false },
} as const;
let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];
try {
  ({ values } = parseArgs({ options: OPTIONS }));
} catch (error) {
  fail((error as Error).message);
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}

function port(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535) fail(`--${name}: expected a port number, got ${JSON.stringify(text)}`);
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

const listenPort = port('port', values.port!);
const adminPort = port('admin-port', values['admin-port']!);
const configFile = values.config!;
if (!existsSync(configFile)) fail(`--config: ${configFile}: no such file`, 1);

const module = join(root, 'build/cert-allowlist.wasm');
if (!existsSync(module) || statSync(module).mtimeMs < newestSource(join(root, 'assembly'))) {
  console.log('building the filter (npm run build)…');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
}

try {
  installEnvoy(values.envoy!, (line) => console.log(line));
} catch (error) {
  if (error instanceof InstallError) fail(`--envoy: ${error.message}`, 1);
  throw error;
}

let pki: Pki;
try {
  pki = ensureDemoPki(values.pki!);
} catch (error) {
  if (error instanceof PkiError) fail(`--pki: ${error.message}`, 1);
  throw error;
}

// What Envoy prints, as an operator wants to read it: the filter's lines, Envoy's warnings and
// errors, and one line per request from the access log.
function show(raw: string): void {
  if (raw.startsWith('{')) {
    const record = JSON.parse(raw) as { status: number; details: string; authority: string; path: string };
    console.log(`  ${record.status} ${record.details} ${record.authority}${record.path}`);
    return;
  }
  const line = parseLogLine(raw);
  if (line === null) return;
  const message = line.message.replace(/^wasm log(?: [^:]*)?: /, '');
  if (line.logger === 'wasm' || line.level === 'warning' || line.level === 'error' || line.level === 'critical') console.log(`  [${line.level}] ${message}`);
}

const upstream = await startEchoUpstream(0);
const readConfig = () => readFileSync(configFile, 'utf8');
let gateway: EnvoyProxy;
try {
  gateway = await EnvoyProxy.start({
    version: values.envoy!,
    plugin: { module, configuration: readConfig() },
    pki: pki.dir,
    upstreamPort: upstream.port,
    port: listenPort,
    adminPort,
    // Istio runs its proxies at `warning`; the filter's info lines (one per denial) are shown here as
    // `sidecar.istio.io/componentLogLevel: "wasm:info"` shows them on a gateway.
    logLevel: 'warning',
    componentLogLevel: 'wasm:info',
    onLine: show,
  });
} catch (error) {
  await upstream.close();
  fail(`cannot start Envoy ${values.envoy}: ${(error as Error).message}`, 1);
}

const rel = (path: string) => relative(process.cwd(), path) || '.';
if (!gateway.started.accepted) {
  console.error(
    `the filter refused ${rel(configFile)}, so Envoy answers every request with 500 (as an Istio gateway does after a refused first WasmPlugin configuration):`,
  );
  for (const line of gateway.started.errors) console.error(`  ${line.message}`);
  await gateway.stop();
  await upstream.close();
  process.exit(1);
}

const curl = (client?: string) =>
  `curl --cacert ${rel(pki.ca)}${client ? ` --cert ${rel(pki.cert(client))} --key ${rel(pki.key(client))}` : ''} ${gateway.url}/hello`;
const demo = new Map(DEMO_CLIENTS.map((client) => [client.name, client.purpose]));
console.log(`\ncert-allowlist in Envoy ${values.envoy} on ${gateway.url} (upstream echo on 127.0.0.1:${upstream.port})`);
console.log(`configuration: ${rel(configFile)} (watched: each change is pushed to Envoy, which validates it)`);
console.log(`certificates in ${rel(pki.dir)}\n`);
for (const client of pki.clients) {
  console.log(`${client}${demo.has(client) ? ` — ${demo.get(client)}` : ''}:\n  ${curl(client)}`);
}
console.log(`no client certificate — 403:\n  ${curl()}`);
console.log(`metrics:\n  curl -s ${gateway.envoy.adminUrl}/stats/prometheus | grep '^cert_allowlist'\n`);

let pushing: Promise<PushResult | void> = Promise.resolve();
watchFile(configFile, { interval: 200 }, () => {
  pushing = pushing.then(async () => {
    let text: string;
    try {
      text = readConfig();
    } catch {
      return;
    }
    const result = await gateway.push(text);
    if (result.accepted) {
      console.log(`configuration ${rel(configFile)}: Envoy took the update`);
    } else {
      console.log(`configuration ${rel(configFile)}: Envoy refused the update (its reasons are above) and keeps serving the previous one`);
    }
  });
});

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    console.log('stopping…');
    unwatchFile(configFile);
    await gateway.stop();
    await upstream.close();
    process.exit(0);
  });
}
