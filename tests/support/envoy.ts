// The filter in real Envoy, for the tests: a proxy of envoy/ (the gateway, or a sidecar) with an echo upstream,
// one call per request that returns everything a test may want to compare — the response, Envoy's
// access log record (response details, and the :authority, :path and XFCC the filter was handed), what
// the upstream received, and the filter's log lines for that request as Envoy printed them.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type EchoedRequest, startEchoUpstream } from '../../demo/upstream.js';
import type { Pki } from '../../demo/pki.js';
import { EnvoyProxy, type PluginOptions, type ProxyOptions, type PushResult } from '../../envoy/proxy.js';
import type { EnvoyLogLine } from '../../envoy/process.js';
import { type HttpRequest, type HttpResponse, send } from './client.js';

// The module under test; CERT_ALLOWLIST_MODULE names another build (to see an attack test fail on
// the build before a fix).
export const MODULE = process.env.CERT_ALLOWLIST_MODULE ?? new URL('../../build/cert-allowlist.wasm', import.meta.url).pathname;

export interface AccessRecord {
  status: number | null;
  details: string | null;
  authority: string | null;
  path: string | null;
  xfcc: string | null;
  /** The filter state the filter sets: the deciding rule, a dry-run denial's reason. */
  rule: string | null;
  dry_run: string | null;
}

export interface FilterLogLine {
  level: string;
  message: string;
}

export interface Exchange {
  response: HttpResponse;
  /** Envoy's access log record of the request; null when Envoy logged none (say, a failed handshake). */
  access: AccessRecord | null;
  /** What the upstream received; undefined when the request never reached it. */
  upstream?: EchoedRequest;
  /** The filter's own log lines while the request ran, Envoy's `wasm log …:` prefix removed. */
  filterLog: FilterLogLine[];
  /** Every line Envoy printed at error level or above while the request ran. */
  errors: EnvoyLogLine[];
}

export interface TestRequest extends Omit<HttpRequest, 'port' | 'ca' | 'client'> {
  /** A client of the test PKI, by name; none: no client certificate. */
  as?: string;
  /** Send without TLS, to a plaintext listener of that name (the test adds it to the bootstrap). */
  plaintextListener?: string;
  /** Send to this proxy in front (the gateway before a sidecar), and observe this one. */
  via?: TestProxy;
  /** The test expects Envoy to log at error level during this request; otherwise any such line fails it. */
  expectErrors?: boolean;
}

const WASM_PREFIX = /^wasm log(?: [^:]*)?: /;

export function filterLines(lines: EnvoyLogLine[]): FilterLogLine[] {
  return lines
    .filter((line) => line.logger === 'wasm' && WASM_PREFIX.test(line.message))
    .map((line) => ({ level: line.level, message: line.message.replace(WASM_PREFIX, '') }));
}

export interface TestProxyOptions extends Omit<ProxyOptions, 'plugin' | 'pki' | 'upstreamPort'> {
  pki: Pki;
  /** The plugin configuration Envoy starts with; null: the proxy runs without the filter. */
  configuration: string | null;
  plugin?: Partial<PluginOptions>;
  /** Where the proxy forwards to; default an echo upstream of the test's own. */
  upstreamPort?: number;
}

export class TestProxy {
  private readonly received = new Map<string, EchoedRequest>();

  private constructor(
    readonly proxy: EnvoyProxy,
    readonly pki: Pki,
    private readonly upstream: { close(): Promise<void> },
    received: Map<string, EchoedRequest>,
  ) {
    this.received = received;
  }

  static async start(options: TestProxyOptions): Promise<TestProxy> {
    const received = new Map<string, EchoedRequest>();
    const upstream = await startEchoUpstream(0, '127.0.0.1', (request) => {
      const id = request.headers['x-test-id'];
      if (typeof id === 'string') received.set(id, request);
    });
    try {
      const proxy = await EnvoyProxy.start({
        ...options,
        plugin: options.configuration === null ? undefined : { module: MODULE, ...options.plugin, configuration: options.configuration },
        pki: options.pki.dir,
        upstreamPort: options.upstreamPort ?? upstream.port,
        componentLogLevel: options.componentLogLevel ?? 'wasm:debug',
      });
      return new TestProxy(proxy, options.pki, upstream, received);
    } catch (error) {
      await upstream.close();
      throw error;
    }
  }

  get envoy() {
    return this.proxy.envoy;
  }

  get version(): string {
    return this.proxy.envoy.version;
  }

  push(configuration: string, plugin?: Partial<PluginOptions>): Promise<PushResult> {
    return this.proxy.push(configuration, plugin);
  }

  async send(request: TestRequest): Promise<Exchange> {
    const id = randomUUID();
    const from = this.envoy.lines.length;
    const port = request.via ? request.via.proxy.port : request.plaintextListener ? await this.envoy.port(request.plaintextListener) : this.proxy.port;
    const { via: _via, expectErrors: _expect, ...http } = request;
    const response = await send({
      ...http,
      port,
      ca: request.plaintextListener ? undefined : this.pki.ca,
      client: request.as ? { cert: this.pki.cert(request.as), key: this.pki.key(request.as) } : undefined,
      headers: [...(request.headers ?? []), ['x-test-id', id]],
    });
    const access = response.status === 0 ? null : await this.accessRecord(id, from);
    const lines = this.envoy.logSince(from);
    const errors = lines.filter((line) => line.level === 'error' || line.level === 'critical');
    // Every test checks, without writing it, that Envoy logged nothing at error level: a trap, a
    // refused call, a filter error line. A test that expects one says so.
    if (errors.length > 0 && !request.expectErrors) {
      throw new assert.AssertionError({
        message: `Envoy logged at error level during ${request.path ?? '/'}:\n${errors.map((line) => line.message).join('\n')}`,
        actual: errors.length,
        expected: 0,
        operator: '===',
      });
    }
    return { response, access, upstream: this.received.get(id), filterLog: filterLines(lines), errors };
  }

  // The access log line of request `id` (gateway.yaml writes it to stderr, after the filter's lines).
  private async accessRecord(id: string, from: number): Promise<AccessRecord | null> {
    for (let i = 0; i < 100; i++) {
      for (const line of this.envoy.lines.slice(from)) {
        if (!line.startsWith('{') || !line.includes(id)) continue;
        const record = JSON.parse(line) as AccessRecord & { test_id: string | null };
        if (record.test_id === id)
          return {
            status: record.status,
            details: record.details,
            authority: record.authority,
            path: record.path,
            xfcc: record.xfcc,
            rule: record.rule ?? null,
            dry_run: record.dry_run ?? null,
          };
      }
      await sleep(20);
    }
    return null;
  }

  /** The filter's counters and gauges, by the name the filter defined (`cert_allowlist.allowed`, …). */
  async metrics(): Promise<Map<string, number>> {
    const stats = await this.envoy.stats('^wasmcustom\\.');
    return new Map([...stats].map(([name, value]) => [name.slice('wasmcustom.'.length), value]));
  }

  async stop(): Promise<void> {
    await this.proxy.stop();
    await this.upstream.close();
  }
}
