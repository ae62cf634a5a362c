// One running Envoy: started from a rendered bootstrap with ports chosen by the kernel, ready when its
// admin endpoint says so (bounded wait), its log lines kept as Envoy prints them, stopped on request
// or when this process exits. Used by `npm start`, the tests and the benchmark.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { envoyBinary, installedVersion } from './install.js';
import { type EnvoyConfig, writeConfig } from './render.js';

export interface EnvoyOptions {
  version: string;
  bootstrap: EnvoyConfig;
  /** Envoy's log level; Istio's proxies run at `warning`. Default `info`. */
  logLevel?: string;
  /** e.g. `wasm:debug`; Istio's default is `misc:error`. */
  componentLogLevel?: string;
  /** Worker threads; default 1, so that every request meets the same VM. */
  concurrency?: number;
  /** Where the bootstrap goes; default a fresh temporary folder, removed on stop. */
  dir?: string;
  /** Called with every line Envoy writes to stderr (its log, and the access log the templates send there). */
  onLine?: (line: string) => void;
  /** How long to wait for readiness. Default 30 s. */
  readyTimeoutMs?: number;
}

/** One line of Envoy's log in its default format: `[time][thread][level][logger] [file:line] message`. */
export interface EnvoyLogLine {
  level: string;
  logger: string;
  message: string;
  raw: string;
}

const LOG_LINE = /^\[[^\]]*\]\[\d+\]\[(\w+)\]\[([\w-]+)\] \[[^\]]*\] (.*)$/;

export function parseLogLine(raw: string): EnvoyLogLine | null {
  const match = LOG_LINE.exec(raw);
  return match ? { level: match[1], logger: match[2], message: match[3], raw } : null;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export class EnvoyError extends Error {}

export class Envoy {
  /** Every line Envoy wrote to stderr, in order. */
  readonly lines: string[] = [];
  private exited: Promise<number | null>;
  private exitCode: number | null | undefined = undefined;

  private constructor(
    readonly version: string,
    private readonly child: ChildProcess,
    readonly dir: string,
    private readonly ownsDir: boolean,
    onLine: ((line: string) => void) | undefined,
  ) {
    let pending = '';
    const take = (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        this.lines.push(line);
        onLine?.(line);
        newline = pending.indexOf('\n');
      }
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        running.delete(child);
        this.exitCode = code;
        resolve(code);
      });
    });
  }

  static async start(options: EnvoyOptions): Promise<Envoy> {
    if (installedVersion(options.version) !== options.version) {
      throw new EnvoyError(`Envoy ${options.version} is not installed: run \`tsx scripts/install-envoy.ts ${options.version}\` (npm test and npm start do)`);
    }
    const ownsDir = options.dir === undefined;
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'cert-allowlist-envoy-'));
    const bootstrap = join(dir, 'envoy.yaml');
    const adminAddress = join(dir, 'admin-address');
    rmSync(adminAddress, { force: true });
    writeConfig(bootstrap, options.bootstrap);
    const args = [
      '-c',
      bootstrap,
      '--admin-address-path',
      adminAddress,
      '--disable-hot-restart',
      '--concurrency',
      String(options.concurrency ?? 1),
      '--log-level',
      options.logLevel ?? 'info',
      '--file-flush-interval-msec',
      '10',
    ];
    if (options.componentLogLevel) args.push('--component-log-level', options.componentLogLevel);
    const child = spawn(envoyBinary(options.version), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    const envoy = new Envoy(options.version, child, dir, ownsDir, options.onLine);
    await envoy.waitReady(adminAddress, options.readyTimeoutMs ?? 30_000);
    return envoy;
  }

  /** The Envoy process (the installed entry point execs the binary, so this is Envoy's own). */
  get pid(): number {
    return this.child.pid ?? 0;
  }

  private adminAddress = '';

  get adminUrl(): string {
    return `http://${this.adminAddress}`;
  }

  private async waitReady(addressFile: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exitCode !== undefined) {
        throw new EnvoyError(`Envoy ${this.version} exited (code ${this.exitCode}) before it was ready:\n${this.tail(30)}`);
      }
      try {
        this.adminAddress = readFileSync(addressFile, 'utf8').trim();
      } catch {
        this.adminAddress = '';
      }
      if (this.adminAddress) {
        const ready = await fetch(`${this.adminUrl}/ready`).then(
          (r) => r.ok,
          () => false,
        );
        if (ready) return;
      }
      await sleep(50);
    }
    await this.stop();
    throw new EnvoyError(`Envoy ${this.version} was not ready within ${timeoutMs / 1000} s:\n${this.tail(30)}`);
  }

  /** The last lines Envoy printed, for an error message. */
  tail(count: number): string {
    return this.lines.slice(-count).join('\n');
  }

  /** The port a listener (by name) is bound to. */
  async port(listener: string): Promise<number> {
    const response = await fetch(`${this.adminUrl}/listeners?format=json`);
    const body = (await response.json()) as { listener_statuses: { name: string; local_address: { socket_address: { port_value: number } } }[] };
    const status = body.listener_statuses.find((entry) => entry.name === listener);
    if (!status) throw new EnvoyError(`Envoy has no listener named ${listener}`);
    return status.local_address.socket_address.port_value;
  }

  /** Counters and gauges (integers), by name. */
  async stats(filter?: string): Promise<Map<string, number>> {
    const query = filter ? `?filter=${encodeURIComponent(filter)}` : '';
    const text = await (await fetch(`${this.adminUrl}/stats${query}`)).text();
    const stats = new Map<string, number>();
    for (const line of text.split('\n')) {
      const match = /^(\S+): (\d+)$/.exec(line);
      if (match) stats.set(match[1], Number(match[2]));
    }
    return stats;
  }

  async stat(name: string): Promise<number> {
    return (await this.stats(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`)).get(name) ?? 0;
  }

  async prometheus(): Promise<string> {
    return (await fetch(`${this.adminUrl}/stats/prometheus`)).text();
  }

  /**
   * Log lines Envoy printed from `from` on, parsed. A message with newlines spans several lines of
   * output: those that follow a log line and are neither a log line nor an access log record (JSON)
   * are joined to it.
   */
  logSince(from: number): EnvoyLogLine[] {
    const parsed: EnvoyLogLine[] = [];
    let last: EnvoyLogLine | null = null;
    for (const raw of this.lines.slice(from)) {
      const line = parseLogLine(raw);
      if (line) {
        parsed.push(line);
        last = line;
      } else if (last && !raw.startsWith('{')) {
        last.message += `\n${raw}`;
        last.raw += `\n${raw}`;
      } else {
        last = null;
      }
    }
    return parsed;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  async stop(): Promise<void> {
    if (this.exitCode === undefined) {
      this.child.kill('SIGTERM');
      const stopped = await Promise.race([this.exited.then(() => true), sleep(5_000).then(() => false)]);
      if (!stopped) {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
