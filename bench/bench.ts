// npm run bench: the filter's cost per request, side by side with the floor (bench/floor.wat: the
// same host calls with no SDK and no logic), measured interleaved in one process through the
// Envoy-faithful host; plus configure time, linear memory per rule and module size. Prints a table
// and writes build/bench.json. Not part of npm test: timings are for comparing, never asserting.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import wabtInit from 'wabt';
import { X509Certificate } from 'node:crypto';
import { EnvoyHost, mtls, type Plugin, type RequestSpec } from '../host/index.js';
import { xfccElement } from '../host/xfcc.js';
import { ensureDemoPki } from '../demo/pki.js';
import { certificateFacts, peerCertificate } from '../host/certificate.js';

const root = new URL('..', import.meta.url).pathname;
const MODULE = join(root, 'build/cert-allowlist.wasm');
const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 5 : 21;
const BATCH = quick ? 500 : 2000;
const LIST_SIZES = quick ? [1, 1000, 100_000] : [1, 1000, 100_000, 1_000_000];

const digest = (i: number) => `${(i * 2654435761 >>> 0).toString(16).padStart(8, '0')}${i.toString(16).padStart(56, '0')}`;
const STRANGER = 'f'.repeat(64);

function fingerprints(count: number, extra: object = {}): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < count; i++) parts.push(`{"name":"client-${i}","sha256":"${digest(i)}"}`);
  const rest = JSON.stringify(extra).slice(1, -1);
  return Buffer.from(`{"allow":[${parts.join(',')}]${rest ? `,${rest}` : ''}}`);
}

async function filterHost(config: Buffer): Promise<EnvoyHost> {
  const host = await EnvoyHost.load(MODULE, { canary: false });
  if (!host.configure(config)) throw new Error(`configuration refused: ${host.logsAtLeast('error').map((e) => e.message).join('; ')}`);
  return host;
}

// The floor module; configured with `{"deny":true}` it is the denying floor (see floor.wat).
async function floorHost(configuration = '{}'): Promise<EnvoyHost> {
  const wabt = await wabtInit();
  const module = wabt.parseWat('floor.wat', readFileSync(join(root, 'bench/floor.wat'), 'utf8'));
  const host = await EnvoyHost.load(module.toBinary({}).buffer, { canary: false });
  module.destroy();
  host.configure(configuration);
  return host;
}

interface Scenario {
  name: string;
  note: string;
  plugin: Plugin;
  spec: RequestSpec;
  expect: number;
  samples: number[];
  /** The floor this scenario is compared with: the floor module serving the same request. */
  floor: Scenario | null;
  /** For a denial: the denying floor, which also makes the calls a denial needs. */
  denyingFloor?: Scenario;
}

const peer = (sha256: string, extra: object = {}) => mtls({ sha256, subject: 'CN=client,O=Bench', uriSans: [], dnsSans: [], ...extra });

function run(scenario: Scenario, count: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const outcome = scenario.plugin.request(scenario.spec);
    if (outcome.response.status !== scenario.expect) throw new Error(`${scenario.name}: got ${outcome.response.status}`);
  }
  return Number(process.hrtime.bigint() - start) / count;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const scenarios: Scenario[] = [];
  const floorModule = await floorHost();
  // Each row is compared with the floor module serving the same request: the host's own cost of
  // carrying, say, a 2 KB XFCC header is not the filter's. One floor row per distinct set of headers.
  const floors = new Map<string, Scenario>();
  const floorFor = (spec: RequestSpec, forName: string): Scenario => {
    const key = JSON.stringify(spec.headers ?? {});
    let floor = floors.get(key);
    if (!floor) {
      const name = floors.size === 0 ? 'floor' : `floor, the request of "${forName}"`;
      const note = floors.size === 0 ? 'raw ABI: digest property, :authority, :path, Continue' : 'raw ABI as above; the header is carried, not read';
      floor = { name, note, plugin: floorModule.defaultPlugin, spec, expect: 200, samples: [], floor: null };
      floors.set(key, floor);
      scenarios.push(floor);
    }
    return floor;
  };
  const add = (name: string, note: string, host: EnvoyHost, spec: RequestSpec, expect: number) => {
    const floor = floorFor(spec, name);
    scenarios.push({ name, note, plugin: host.defaultPlugin, spec, expect, samples: [], floor, denyingFloor: expect === 403 ? denyingFloor : undefined });
  };
  const base = { authority: 'payments.example.com', path: '/ledger/x' };
  floorFor({ ...base, connection: peer(STRANGER) }, 'floor');
  const denyingFloor: Scenario = {
    name: 'floor, denying',
    note: 'raw ABI as the floor, then subject, URI SAN, 2 counters, log line, 403 local reply',
    plugin: (await floorHost('{"deny":true}')).defaultPlugin,
    spec: { ...base, connection: peer(STRANGER) },
    expect: 403,
    samples: [],
    floor: null,
  };
  scenarios.push(denyingFloor);

  for (const size of LIST_SIZES) {
    const host = await filterHost(fingerprints(size));
    add(`allow, ${size.toLocaleString('en')} sha256 rules`, 'connection mode, listed', host, { ...base, connection: peer(digest(size - 1)) }, 200);
    add(`deny, ${size.toLocaleString('en')} sha256 rules`, 'connection mode, unlisted (403 + log line)', host, { ...base, connection: peer(STRANGER) }, 403);
  }
  const scoped = Buffer.from(JSON.stringify({
    hosts: ['payments.example.com', '*.bank.example'],
    allow: Array.from({ length: 1000 }, (_, i) => ({ name: `client-${i}`, sha256: digest(i), hosts: ['payments.example.com'], paths: ['/ledger/', '/reports/'] })),
    deny: [{ name: 'no-teapot', cn: 'client', paths: ['/status/418'] }],
  }));
  add('allow, 1,000 host/path-scoped rules', 'connection mode, host and path read and normalised', await filterHost(scoped), { ...base, connection: peer(digest(999)) }, 200);
  add('deny, dry-run', 'logged and counted, continues', await filterHost(fingerprints(1000, { mode: 'dry-run' })), { ...base, connection: peer(STRANGER) }, 200);

  const gatewayCert = 'a'.repeat(64);
  const pem = encodeURIComponent(`-----BEGIN CERTIFICATE-----\n${'MIIB'.padEnd(1500, 'A')}\n-----END CERTIFICATE-----\n`);
  const xfcc = `Hash=${digest(7)};Cert="${pem}";Subject="CN=client,O=Bench";URI=spiffe://partner.example/ns/bank/sa/batch,` +
    `By=spiffe://cluster.local/ns/app/sa/app;Hash=${gatewayCert};Subject="";URI=spiffe://cluster.local/ns/istio-system/sa/gateway`;
  const xfccConfig = fingerprints(1000, { identitySource: 'xfcc', trustedProxies: [{ uriSan: 'spiffe://cluster.local/ns/istio-system/sa/gateway' }] });
  add('allow, XFCC mode, 2-element header', `xfcc mode, ${xfcc.length} byte header with Cert=`, await filterHost(xfccConfig),
    { ...base, connection: peer(gatewayCert, { subject: '', uriSans: ['spiffe://cluster.local/ns/istio-system/sa/gateway'] }), headers: { 'x-forwarded-client-cert': xfcc } }, 200);
  // A rule read from the certificate itself: the filter decodes Cert=, checks its SHA-256 against
  // the connection and reads the SPKI (the demo PKI's allowed certificate).
  const demo = certificateFacts(new X509Certificate(readFileSync(ensureDemoPki(join(root, 'build/pki')).cert('allowed'))));
  add('allow, SPKI pin from XFCC Cert=', 'connection mode, the certificate read from Cert= (then remembered by digest and text)', await filterHost(Buffer.from(JSON.stringify({ allow: [{ name: 'pinned', spki: demo.spkiSha256 }] }))),
    { ...base, connection: mtls(peerCertificate(demo)), headers: { 'x-forwarded-client-cert': xfccElement(peerCertificate(demo)) } }, 200);

  for (const scenario of scenarios) run(scenario, BATCH); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const scenario of scenarios) scenario.samples.push(run(scenario, BATCH));
  }

  const configure: { rules: number; ms: number }[] = [];
  const memory: { rules: number; bytesPerRule: number }[] = [];
  for (const size of quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000]) {
    const config = fingerprints(size);
    const times: number[] = [];
    for (let i = 0; i < (size >= 1_000_000 ? 1 : 5); i++) {
      const host = await EnvoyHost.load(MODULE, { canary: false });
      const start = process.hrtime.bigint();
      if (!host.configure(config)) throw new Error('refused');
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
      if (i === 0) {
        const small = await filterHost(fingerprints(1));
        memory.push({ rules: size, bytesPerRule: (host.memoryBytes() - small.memoryBytes()) / size });
      }
    }
    configure.push({ rules: size, ms: median(times) });
  }

  const report = {
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`,
    rounds: ROUNDS,
    batch: BATCH,
    requests: scenarios.map((s) => ({
      name: s.name,
      note: s.note,
      medianNs: median(s.samples),
      floor: (s.floor ?? s).name,
      ratio: median(s.samples) / median((s.floor ?? s).samples),
      ratioToDenyingFloor: s.denyingFloor ? median(s.samples) / median(s.denyingFloor.samples) : undefined,
    })),
    configure,
    memory,
    moduleBytes: statSync(MODULE).size,
  };
  mkdirSync(join(root, 'build'), { recursive: true });
  writeFileSync(join(root, 'build/bench.json'), `${JSON.stringify(report, null, 2)}\n`);

  console.log(`machine: ${report.machine}; ${ROUNDS} interleaved rounds of ${BATCH} requests, medians\n`);
  console.log('| scenario | ns/request | × floor | × denying floor | what |');
  console.log('|---|---:|---:|---:|---|');
  for (const r of report.requests) {
    const denying = r.ratioToDenyingFloor === undefined ? '' : r.ratioToDenyingFloor.toFixed(2);
    console.log(`| ${r.name} | ${Math.round(r.medianNs)} | ${r.ratio.toFixed(2)} | ${denying} | ${r.note} |`);
  }
  console.log('\n| configure | ms |\n|---|---:|');
  for (const c of configure) console.log(`| ${c.rules.toLocaleString('en')} sha256 rules | ${Math.round(c.ms)} |`);
  console.log('\n| linear memory | bytes per rule |\n|---|---:|');
  for (const m of memory) console.log(`| ${m.rules.toLocaleString('en')} sha256 rules | ${Math.round(m.bytesPerRule)} |`);
  console.log(`\nrelease module: ${report.moduleBytes} bytes (${(report.moduleBytes / 1024).toFixed(1)} KiB)`);
  console.log('written to build/bench.json');
}

await main();
