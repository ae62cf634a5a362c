// npm run bench: what the filter costs per request and per configured rule, measured where it is
// honest. Exactly: the WebAssembly instructions the module executes (bench/instrument.ts counts them;
// no machine or host changes them), with the largest single request and where they go, function by
// function. In time: nanoseconds per request in a lean host whose own cost is a fraction of a
// microsecond (bench/lean-host.ts), beside a floor module that makes a request's host calls and
// nothing else. Plus configure cost, memory per rule and module size. Prints the tables and writes
// build/bench.json. Not part of npm test (tests/bench.test.ts guards the instruction counts instead).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CountingHost } from './count.js';
import { floorModule } from './floor.js';
import { requestsTable } from './readme.js';
import { LeanHost, type LeanOutcome } from './lean-host.js';
import { ROOT, type Scenario, fingerprints, leanOf, scenarios } from './scenarios.js';

const MODULE = join(ROOT, 'build/cert-allowlist.wasm');
const NAMED = join(ROOT, 'build/bench/cert-allowlist.named.wasm');
const quick = process.argv.includes('--quick');
const LIST_SIZES = quick ? [1, 1000, 100_000] : [1, 1000, 100_000, 1_000_000];
const COUNTED = quick ? 2_000 : 10_000;
const ROUNDS = quick ? 5 : 15;
const BATCH = quick ? 2_000 : 10_000;
const CONFIGURE_SIZES = quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000];

// The release module built again with its name section (asc --debug keeps the code as it is), for
// the per-function breakdown; its counts must equal the release module's.
function namedBuild(): Uint8Array {
  mkdirSync(join(ROOT, 'build/bench'), { recursive: true });
  execFileSync(join(ROOT, 'node_modules/.bin/asc'), ['assembly/index.ts', '--target', 'release', '--debug', '-o', NAMED], { cwd: ROOT, stdio: 'inherit' });
  return readFileSync(NAMED);
}

function checker(scenario: Scenario): (outcome: LeanOutcome) => void {
  return (outcome) => {
    if (outcome.status !== scenario.status) throw new Error(`${scenario.name}: got ${outcome.status}, expected ${scenario.status}`);
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

interface Row {
  name: string;
  note: string;
  instructions: number;
  maxInstructions: number;
  floorInstructions: number;
  ns: number;
  floorNs: number;
  functions: { name: string; instructions: number }[];
}

async function main(): Promise<void> {
  const release = readFileSync(MODULE);
  const named = namedBuild();
  const floor = await floorModule();
  const all = scenarios(LIST_SIZES);

  // The floors: the same request through the floor module, allowing or denying.
  const floors = new Map<string, { counting: CountingHost; timing: LeanHost }>();
  for (const kind of ['allow', 'deny'] as const) {
    const configuration = Buffer.from(kind === 'deny' ? '{"deny":true}' : '{}');
    const counting = await CountingHost.load(floor);
    counting.configure(configuration);
    const timing = await LeanHost.load(floor);
    timing.configure(configuration);
    floors.set(kind, { counting, timing });
  }

  const rows: Row[] = [];
  const timed: { run: (n: number) => void; floorRun: (n: number) => void; samples: number[]; floorSamples: number[] }[] = [];
  for (const scenario of all) {
    const request = leanOf(scenario.request);
    const check = checker(scenario);
    const counting = await CountingHost.load(release);
    if (!counting.configure(scenario.configuration).accepted) throw new Error(`${scenario.name}: configuration refused`);
    const counts = counting.requests(request, COUNTED, 100, check);
    // The same configuration and requests through a fresh release module and the named build: the
    // same count, or the breakdown would describe another module.
    const namedHost = await CountingHost.load(named);
    const fresh = await CountingHost.load(release);
    namedHost.configure(scenario.configuration);
    fresh.configure(scenario.configuration);
    namedHost.requests(request, 200, 0, check);
    fresh.requests(request, 200, 0, check);
    if (namedHost.total() !== fresh.total()) throw new Error(`${scenario.name}: the named build counts differently from the release module`);
    const functions = namedHost.breakdown(request, 100).slice(0, 12);
    const floorHosts = floors.get(scenario.floor)!;
    const floorCounts = floorHosts.counting.requests(request, 100, 10, () => {});
    const timing = await LeanHost.load(release);
    timing.configure(scenario.configuration);
    const run = (n: number) => {
      for (let i = 0; i < n; i++) check(timing.send(request));
    };
    const floorRun = (n: number) => {
      for (let i = 0; i < n; i++) floorHosts.timing.send(request);
    };
    rows.push({
      name: scenario.name,
      note: scenario.note,
      instructions: counts.mean,
      maxInstructions: counts.max,
      floorInstructions: floorCounts.mean,
      ns: 0,
      floorNs: 0,
      functions,
    });
    timed.push({ run, floorRun, samples: [], floorSamples: [] });
  }
  // Interleaved rounds: every scenario and its floor in each, so drift hits them alike.
  for (const t of timed) {
    t.run(BATCH / 10);
    t.floorRun(BATCH / 10);
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of timed) {
      let start = process.hrtime.bigint();
      t.run(BATCH);
      t.samples.push(Number(process.hrtime.bigint() - start) / BATCH);
      start = process.hrtime.bigint();
      t.floorRun(BATCH);
      t.floorSamples.push(Number(process.hrtime.bigint() - start) / BATCH);
    }
  }
  rows.forEach((row, i) => {
    row.ns = median(timed[i].samples);
    row.floorNs = median(timed[i].floorSamples);
  });

  const configure: { rules: number; instructionsPerRule: number; ms: number; bytesPerRule: number; functions: { name: string; instructions: number }[] }[] = [];
  const one = await LeanHost.load(release);
  one.configure(fingerprints(1));
  for (const size of CONFIGURE_SIZES) {
    const configuration = fingerprints(size);
    const counting = await CountingHost.load(release);
    const counted = counting.configure(configuration);
    const timing = await LeanHost.load(release);
    const start = process.hrtime.bigint();
    if (!counted.accepted || !timing.configure(configuration)) throw new Error('configuration refused');
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const functions = size <= 100_000 ? (await CountingHost.load(named)).configureBreakdown(configuration, size).slice(0, 12) : [];
    configure.push({
      rules: size,
      instructionsPerRule: counted.instructions / size,
      ms,
      bytesPerRule: (timing.memoryBytes() - one.memoryBytes()) / size,
      functions,
    });
  }

  const report = {
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`,
    method: `instructions: mean and largest of ${COUNTED} requests after 100; ns: median of ${ROUNDS} interleaved rounds of ${BATCH}`,
    requests: rows,
    configure,
    module: { bytes: release.length, gzipBytes: gzipSync(release, { level: 9 }).length },
  };
  mkdirSync(join(ROOT, 'build'), { recursive: true });
  writeFileSync(join(ROOT, 'build/bench.json'), `${JSON.stringify(report, null, 2)}\n`);

  console.log(`\n${requestsTable(report)}`);
  if (process.argv.includes('--functions')) {
    for (const r of rows) {
      console.log(`\n${r.name}:`);
      for (const f of r.functions) console.log(`  ${Math.round(f.instructions).toString().padStart(7)}  ${f.name}`);
    }
    for (const c of configure.filter((c) => c.functions.length > 0)) {
      console.log(`\nconfigure, ${c.rules.toLocaleString('en')} sha256 rules, per rule:`);
      for (const f of c.functions) console.log(`  ${Math.round(f.instructions).toString().padStart(7)}  ${f.name}`);
    }
  }
  console.log('\nwritten to build/bench.json (per-function breakdowns included; --functions prints them); npm run bench:readme puts the tables in README.md');
}

await main();
