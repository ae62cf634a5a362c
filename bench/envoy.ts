// npm run bench:envoy: cert-allowlist in real Envoy under load, beside no filter and beside what a
// user would pick instead (Envoy's RBAC filter, a Lua filter). h2load (Debian's nghttp2-client) sends
// plaintext HTTP/2 over a fixed number of keep-alive connections to the client proxy, which holds
// mutual-TLS connections to the gateway; the gateway answers itself. Per scenario: requests per
// second, p50/p99 latency (h2load's per-request log), and the gateway's own CPU time per request from
// /proc — less disturbed than latency by the load generator sharing the machine, though not immune —
// with what each filter adds over the no-filter floor measured in the same round; medians of several
// rounds. Prints the table and writes build/bench-envoy.json. Not part of npm test.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { NEWEST_ENVOY } from '../envoy/install.js';
import { envoyTable } from './readme.js';
import { CLOCK_TICKS, type EnvoyScenario, Pair, envoyScenarios } from './envoy-scenarios.js';
import { ROOT } from './scenarios.js';

const quick = process.argv.includes('--quick');
const REQUESTS = quick ? 20_000 : 60_000;
const ROUNDS = quick ? 1 : 3;
// A scenario that serves fewer than REQUESTS in this many seconds (RBAC with many principals) is
// measured on what it serves in that time, never fewer than MIN_REQUESTS.
const SECONDS = quick ? 2 : 6;
const MIN_REQUESTS = 1000;
const WARM_UP = 1000;
const CONNECTIONS = 4;
const STREAMS = 10;

export interface LoadResult {
  requests: number;
  statuses: Map<number, number>;
  seconds: number;
  latenciesUs: number[];
}

// `count` requests through the pair's client proxy, h2load logging each one.
export function load(pair: Pair, scenario: EnvoyScenario, count: number, connections = CONNECTIONS, streams = STREAMS): LoadResult {
  const dir = mkdtempSync(join(tmpdir(), 'bench-envoy-'));
  try {
    const log = join(dir, 'requests.tsv');
    const args = ['-n', String(count), '-c', String(connections), '-m', String(streams), `--log-file=${log}`];
    if (scenario.xfcc) args.push('-H', `x-forwarded-client-cert: ${scenario.xfcc}`);
    args.push(`http://127.0.0.1:${pair.port}/ledger/x`);
    const output = execFileSync('h2load', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
    // "finished in 6.52s", or in ms or us for short runs.
    const finished = /finished in ([\d.]+)(s|ms|us),/.exec(output);
    if (!finished) throw new Error(`h2load printed no duration:\n${output}`);
    const seconds = Number(finished[1]) / { s: 1, ms: 1e3, us: 1e6 }[finished[2] as 's' | 'ms' | 'us'];
    const statuses = new Map<number, number>();
    const latenciesUs: number[] = [];
    for (const line of readFileSync(log, 'utf8').split('\n')) {
      const [, status, us] = line.split('\t');
      if (status === undefined) continue;
      statuses.set(Number(status), (statuses.get(Number(status)) ?? 0) + 1);
      latenciesUs.push(Number(us));
    }
    return { requests: latenciesUs.length, statuses, seconds, latenciesUs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

interface Measurement {
  requests: number;
  rps: number;
  p50Us: number;
  p99Us: number;
  cpuUs: number;
}

// One scenario once: a fresh pair, a warm-up, then `count` requests.
async function measure(scenario: EnvoyScenario): Promise<Measurement> {
  const pair = await Pair.start(scenario);
  try {
    const warm = load(pair, scenario, WARM_UP);
    const count = Math.max(MIN_REQUESTS, Math.min(REQUESTS, Math.round((WARM_UP / warm.seconds) * SECONDS)));
    const before = pair.gatewayCpuSeconds();
    const result = load(pair, scenario, count);
    const cpu = pair.gatewayCpuSeconds() - before;
    const wrong = [...result.statuses].filter(([status]) => status !== scenario.status);
    if (result.requests !== count || wrong.length > 0)
      throw new Error(`${scenario.name}: ${result.requests} of ${count} requests logged, statuses ${JSON.stringify([...result.statuses])}`);
    const sorted = result.latenciesUs.sort((a, b) => a - b);
    return { requests: count, rps: count / result.seconds, p50Us: percentile(sorted, 0.5), p99Us: percentile(sorted, 0.99), cpuUs: (cpu / count) * 1e6 };
  } finally {
    await pair.stop();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  execFileSync('npx', ['tsx', 'scripts/require-tools.ts', 'h2load'], { cwd: ROOT, stdio: 'inherit' });
  const scenarios = envoyScenarios();
  // Rounds, each scenario once per round: what a filter adds is measured against the no-filter
  // floor of the same round, so drift in the machine's load hits both alike.
  const rounds: Measurement[][] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const measured: Measurement[] = [];
    for (const scenario of scenarios) {
      measured.push(await measure(scenario));
      console.log(`round ${round + 1}: ${scenario.name}: ${Math.round(measured[measured.length - 1].rps)} requests/s`);
    }
    rounds.push(measured);
  }
  const rows = scenarios.map((scenario, i) => {
    const runs = rounds.map((measured) => measured[i]);
    const added = rounds.map((measured) => measured[i].cpuUs - measured[0].cpuUs);
    return {
      name: scenario.name,
      note: scenario.note,
      requests: median(runs.map((r) => r.requests)),
      rps: median(runs.map((r) => r.rps)),
      p50Us: median(runs.map((r) => r.p50Us)),
      p99Us: median(runs.map((r) => r.p99Us)),
      cpuUs: median(runs.map((r) => r.cpuUs)),
      addedUs: median(added),
      addedRangeUs: [Math.min(...added), Math.max(...added)] as [number, number],
    };
  });
  const report = {
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Envoy ${NEWEST_ENVOY} (one worker)`,
    method: `medians of ${ROUNDS} rounds; per round h2load over ${CONNECTIONS} connections × ${STREAMS} streams, after ${WARM_UP} to warm up: ${REQUESTS} requests, or what the scenario serves in ${SECONDS} s; CPU: the gateway's user + system time from /proc counted in 1/${CLOCK_TICKS} s; added: over the no-filter floor of the same round`,
    rows,
  };
  writeFileSync(join(ROOT, 'build/bench-envoy.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\n${envoyTable(report)}`);
  console.log('\nwritten to build/bench-envoy.json; npm run bench:readme puts the table in README.md');
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
