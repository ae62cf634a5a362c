// npm run bench:envoy: cert-allowlist in real Envoy under load, beside no filter and beside what a
// user would pick instead (Envoy's RBAC filter, a Lua filter). h2load (Debian's nghttp2-client) sends
// plaintext HTTP/2 over a fixed number of keep-alive connections to the client proxy, which holds
// mutual-TLS connections to the gateway; the gateway answers itself. Per scenario: requests per
// second, p50/p99 latency (h2load's per-request log), and the gateway's own CPU time per request from
// /proc — the figure that does not depend on what else shares the machine — with what each filter
// adds over no filter. Prints the table and writes build/bench-envoy.json. Not part of npm test.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { NEWEST_ENVOY } from '../envoy/install.js';
import { CLOCK_TICKS, type EnvoyScenario, Pair, envoyScenarios } from './envoy-scenarios.js';
import { ROOT } from './scenarios.js';

const quick = process.argv.includes('--quick');
const REQUESTS = quick ? 20_000 : 100_000;
// A scenario that serves fewer than REQUESTS in this many seconds (RBAC with many principals) is
// measured on what it serves in that time, never fewer than MIN_REQUESTS.
const SECONDS = quick ? 2 : 10;
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

async function main(): Promise<void> {
  execFileSync('npx', ['tsx', 'scripts/require-tools.ts', 'h2load'], { cwd: ROOT, stdio: 'inherit' });
  const rows: { name: string; note: string; requests: number; rps: number; p50Us: number; p99Us: number; cpuUs: number; addedUs: number }[] = [];
  for (const scenario of envoyScenarios()) {
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
      rows.push({
        name: scenario.name,
        note: scenario.note,
        requests: count,
        rps: count / result.seconds,
        p50Us: percentile(sorted, 0.5),
        p99Us: percentile(sorted, 0.99),
        cpuUs: (cpu / count) * 1e6,
        addedUs: 0,
      });
      console.log(`${scenario.name}: ${count} requests, ${Math.round(count / result.seconds)} requests/s`);
    } finally {
      await pair.stop();
    }
  }
  const floor = rows[0].cpuUs;
  for (const row of rows) row.addedUs = row.cpuUs - floor;
  const report = {
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Envoy ${NEWEST_ENVOY} (one worker)`,
    method: `h2load over ${CONNECTIONS} connections × ${STREAMS} streams, after ${WARM_UP} to warm up: ${REQUESTS} requests, or what the scenario serves in ${SECONDS} s; CPU: the gateway's user + system time from /proc counted in 1/${CLOCK_TICKS} s`,
    rows,
  };
  writeFileSync(join(ROOT, 'build/bench-envoy.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\n${report.machine}; ${report.method}\n`);
  console.log('| scenario | requests/s | p50 µs | p99 µs | gateway CPU µs/request | added over no filter | what |');
  console.log('|---|---:|---:|---:|---:|---:|---|');
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${Math.round(r.rps).toLocaleString('en')} | ${Math.round(r.p50Us)} | ${Math.round(r.p99Us)} | ${r.cpuUs.toFixed(1)} | ${r === rows[0] ? '' : r.addedUs.toFixed(1)} | ${r.note} |`,
    );
  }
  console.log('\nwritten to build/bench-envoy.json; npm run bench:readme puts the table in README.md');
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
