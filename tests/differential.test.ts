// Differential conformance: one table of scenarios, each run through real Envoy (every pinned
// version) and through the TypeScript host (host/), comparing what a client, an operator and the
// upstream see — status, response details, body and headers of a local reply, the headers the
// upstream receives from the filter, the filter's log lines and its counters. The host is handed
// exactly what Envoy handed the filter: the :authority, :path and XFCC from Envoy's access log, the
// connection's certificate. Any difference fails: the host is fixed, never the expectation.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ENVOY_VERSIONS } from '../envoy/install.js';
import type { EnvoyConfig } from '../envoy/render.js';
import { certificateFacts, peerCertificate } from '../host/certificate.js';
import { type Connection, EnvoyHost, type Header, type HostOptions, mtls, plaintext, tls } from '../host/index.js';
import { probeModule } from './fixtures/probe-module.js';
import { type Exchange, type FilterLogLine, MODULE, TestProxy, type TestRequest } from './support/envoy.js';
import { testPki } from './support/pki.js';

const pki = testPki();
const DEFAULT_CONFIG = readFileSync(new URL('../filter-config/cert-allowlist.json', import.meta.url), 'utf8');

/** What one request looked like from outside the filter. */
interface Observed {
  status: number;
  /** %RESPONSE_CODE_DETAILS% */
  details: string;
  /** A local reply's body and headers (an upstream's answer differs between the two on purpose). */
  reply?: { body: string; headers: Record<string, string> };
  /** The request headers the filter adds or removes, as the upstream received them. */
  upstream: [string, string][] | null;
  log: FilterLogLine[];
  /** Counters that changed, by how much. */
  counters: Record<string, number>;
  /** The filter state the access log prints. */
  filterState: Record<string, string>;
}

// Headers the filter (or the probe) sets or strips on the request.
const FILTER_REQUEST_HEADERS = /^(x[-_]client[-_]identity|x-added)$/i;
// Headers of a local reply that say what the filter asked for; `date`, `server` and the like are the HCM's.
// content-length is left out: Envoy's HTTP/1.1 codec adds `content-length: 0` to an empty reply, which
// is framing, not what the filter asked for (the bodies are compared).
const REPLY_HEADERS = ['content-type', 'x-cert-allowlist-reason', 'x-probe', 'grpc-status'];

function replyHeaders(headers: Record<string, string> | Header[]): Record<string, string> {
  const entries = Array.isArray(headers) ? headers : Object.entries(headers);
  return Object.fromEntries(entries.filter(([name]) => REPLY_HEADERS.includes(name)).sort(([a], [b]) => a.localeCompare(b)));
}

function delta(before: Map<string, number | bigint>, now: Map<string, number | bigint>): Record<string, number> {
  const changed: Record<string, number> = {};
  for (const [name, value] of now) {
    const difference = Number(value) - Number(before.get(name) ?? 0);
    if (difference !== 0) changed[name] = difference;
  }
  return changed;
}

// Envoy prints proxy-wasm's `warn` as spdlog's `warning`.
const ENVOY_LEVEL: Record<string, string> = { warn: 'warning' };

/** Both sides of one scenario. */
class Pair {
  constructor(
    readonly envoy: TestProxy,
    readonly host: EnvoyHost,
  ) {}

  // The connection as Envoy saw it: the listener's certificate, and the client's if it sent one.
  private connection(request: TestRequest): Connection {
    if (request.plaintextListener) return plaintext();
    const facts = (file: string) => certificateFacts(new X509Certificate(readFileSync(file)));
    const local = peerCertificate(facts(pki.serverCert));
    if (!request.as) return tls({ local });
    return mtls(peerCertificate(facts(pki.cert(request.as))), { local });
  }

  async run(request: TestRequest): Promise<{ envoy: Observed; host: Observed; exchange: Exchange }> {
    const countersBefore = await this.envoy.metrics();
    const exchange = await this.envoy.send(request);
    assert.ok(exchange.access, `Envoy logged no access for ${JSON.stringify(request)}: ${exchange.response.error ?? exchange.response.status}`);
    const local = exchange.upstream === undefined;
    const envoy: Observed = {
      status: exchange.response.status,
      details: exchange.access.details ?? '',
      reply: local ? { body: exchange.response.body, headers: replyHeaders(exchange.response.headers) } : undefined,
      upstream: local ? null : exchange.upstream!.rawHeaders.filter(([name]) => FILTER_REQUEST_HEADERS.test(name)),
      log: exchange.filterLog,
      counters: delta(countersBefore, await this.envoy.metrics()),
      filterState: Object.fromEntries(
        Object.entries({ 'wasm.cert_allowlist_rule': exchange.access.rule, 'wasm.cert_allowlist_dry_run': exchange.access.dry_run }).filter(
          ([, value]) => value !== null,
        ),
      ) as Record<string, string>,
    };

    const hostCounters = new Map([...this.host.environment.metrics].map(([name, metric]) => [name, metric.value]));
    const headers: Header[] = [
      [':authority', exchange.access.authority ?? ''],
      [':path', exchange.access.path ?? ''],
      [':method', request.method ?? 'GET'],
    ];
    for (const [name, value] of request.headers ?? []) if (name.toLowerCase() !== 'x-forwarded-client-cert') headers.push([name.toLowerCase(), value]);
    if (exchange.access.xfcc !== null) headers.push(['x-forwarded-client-cert', exchange.access.xfcc]);
    const outcome = this.host.request({ connection: this.connection(request), headers });
    const hostLocal = outcome.action !== 'continued';
    const host: Observed = {
      status: outcome.response.status,
      details: outcome.response.details,
      reply: hostLocal ? { body: outcome.response.body, headers: replyHeaders(outcome.response.headers) } : undefined,
      upstream: hostLocal ? null : (outcome.upstreamHeaders ?? []).filter(([name]) => FILTER_REQUEST_HEADERS.test(name)),
      log: outcome.logs
        .filter((entry) => entry.origin === 'plugin')
        .map((entry) => ({ level: ENVOY_LEVEL[entry.level] ?? entry.level, message: entry.message })),
      counters: delta(hostCounters, new Map([...this.host.environment.metrics].map(([name, metric]) => [name, metric.value]))),
      filterState: outcome.filterState,
    };
    return { envoy, host, exchange };
  }

  /** Runs a scenario on both and requires the same observation; returns it. */
  async same(request: TestRequest): Promise<Observed> {
    const { envoy, host } = await this.run(request);
    assert.deepEqual(host, envoy, `the host differs from Envoy ${this.envoy.version} for ${JSON.stringify(request)}`);
    return envoy;
  }

  async configure(configuration: string): Promise<boolean> {
    const pushed = await this.envoy.push(configuration);
    assert.equal(
      this.host.configure(configuration),
      pushed.accepted,
      `the host and Envoy ${this.envoy.version} disagree on taking ${configuration.slice(0, 200)}`,
    );
    return pushed.accepted;
  }
}

// A plaintext listener beside the TLS one, with the same connection manager.
function withPlaintextListener(bootstrap: EnvoyConfig): void {
  const listener = structuredClone(bootstrap.static_resources.listeners[0]);
  listener.name = 'plaintext';
  delete listener.filter_chains[0].transport_socket;
  listener.filter_chains[0].filters[0].typed_config.stat_prefix = 'plaintext';
  bootstrap.static_resources.listeners.push(listener);
}

for (const version of ENVOY_VERSIONS) {
  const hostOptions: HostOptions = { pluginName: 'cert-allowlist', rootId: 'cert-allowlist', envoyVersion: version };

  describe(`Envoy ${version} and the host agree on the filter`, () => {
    let pair: Pair;
    before(async () => {
      const envoy = await TestProxy.start({ version, configuration: DEFAULT_CONFIG, pki, adjust: withPlaintextListener, componentLogLevel: 'wasm:trace' });
      const host = await EnvoyHost.load(MODULE, hostOptions);
      assert.ok(host.configure(DEFAULT_CONFIG));
      pair = new Pair(envoy, host);
    });
    after(async () => {
      await pair?.envoy.stop();
    });

    const requests: [string, TestRequest][] = [
      ['a listed client', { as: 'allowed', path: '/hello' }],
      [
        'a listed client sending its own identity headers',
        {
          as: 'allowed',
          path: '/hello',
          headers: [
            ['x-client-identity', 'admin'],
            ['X-Client-Identity', 'root'],
          ],
        },
      ],
      ['a client that is not listed', { as: 'denied', path: '/hello?q=1' }],
      ['no client certificate', { path: '/hello' }],
      ['plaintext', { plaintextListener: 'plaintext', path: '/hello' }],
      ['a deny rule by path', { as: 'allowed', path: '/status/418' }],
      ['a deny rule by path, spelled with dot segments', { as: 'allowed', path: '/status/./x/../418' }],
      ['the second URI SAN', { as: 'multi-san', path: '/hello' }],
      ['an escaped CN', { as: 'escaped', path: '/hello' }],
      ['a client-sent XFCC', { as: 'denied', path: '/hello', headers: [['x-forwarded-client-cert', 'Hash=00;URI=spiffe://demo.local/ns/bank/sa/batch']] }],
      ['an authority with a port', { as: 'denied', path: '/', authority: 'localhost:8443' }],
      ['HTTP/2', { as: 'denied', path: '/h2', http: '2' }],
    ];
    for (const [name, request] of requests) {
      it(`${name}, default configuration`, async () => {
        await pair.same(request);
      });
    }

    it('every deny reason of connection mode, with reasons in the reply and dry-run', async () => {
      const config = {
        allow: [
          { name: 'bank', uriSanPrefix: 'spiffe://demo.local/ns/bank/' },
          { name: 'by-email', emailSan: 'batch@demo.local' },
        ],
        deny: [{ name: 'no-multi', dnsSan: 'two.demo.local' }],
        identityHeader: 'x-client-identity',
        denyResponse: { status: 401, body: 'go away', contentType: 'text/x-reason', includeReason: true },
      };
      assert.ok(await pair.configure(JSON.stringify(config)));
      for (const request of [{ as: 'allowed' }, { as: 'email-ip' }, { as: 'several-sans' }, { as: 'denied' }, {}, { as: 'no-san' }])
        await pair.same({ path: '/r', ...request });
      assert.ok(await pair.configure(JSON.stringify({ ...config, mode: 'dry-run' })));
      for (const request of [{ as: 'several-sans' }, { as: 'denied' }, {}]) await pair.same({ path: '/dry', ...request });
    });
    it('pins by SPKI, serial and issuer read from the certificate', async () => {
      const denied = certificateFacts(new X509Certificate(readFileSync(pki.cert('denied'))));
      const config = {
        allow: [
          { name: 'spki', spki: denied.spkiSha256, paths: ['/spki'] },
          { name: 'serial', serial: denied.serial, issuer: denied.issuer },
        ],
        identityHeader: 'x-client-identity',
        expiryWarningDays: 3650,
      };
      assert.ok(await pair.configure(JSON.stringify(config)));
      for (const path of ['/spki', '/serial']) for (const as of ['denied', 'allowed']) await pair.same({ as, path });
    });
    it('refuses an update the filter refuses, and keeps serving the previous configuration', async () => {
      assert.ok(await pair.configure(DEFAULT_CONFIG));
      assert.equal(await pair.configure('{"allow":[{"name":"x","sha256":"bad"}]}'), false);
      await pair.same({ as: 'allowed', path: '/still' });
      await pair.same({ as: 'denied', path: '/still' });
    });
  });

  describe(`Envoy ${version} and the host agree on the host contract (probe module)`, () => {
    let pair: Pair;
    before(async () => {
      const module = join(tmpdir(), `cert-allowlist-probe-${process.pid}.wasm`);
      writeFileSync(module, await probeModule());
      const envoy = await TestProxy.start({
        version,
        configuration: 'probe-config',
        pki,
        plugin: { module },
        adjust: withPlaintextListener,
        componentLogLevel: 'wasm:trace',
      });
      const host = await EnvoyHost.load(module, hostOptions);
      assert.ok(host.configure('probe-config'));
      pair = new Pair(envoy, host);
    });
    after(async () => {
      await pair?.envoy.stop();
    });

    // The property NotFound matrix: what each connection kind answers for the properties the filter
    // reads (volatile ones — ids, ports, addresses — are compared by their status alone).
    const properties = [
      'connection/mtls',
      'connection/tls_version',
      'connection/sha256_peer_certificate_digest',
      'connection/subject_peer_certificate',
      'connection/uri_san_peer_certificate',
      'connection/dns_san_peer_certificate',
      'connection/peer_certificate',
      'connection/peer_certificate_valid',
      'connection/subject_local_certificate',
      'connection/termination_details',
      'connection.mtls',
      'connection/sha256_peer_certificate_digest/more',
      'request/headers/x-action',
    ];
    const kinds: [string, TestRequest][] = [
      ['plaintext', { plaintextListener: 'plaintext' }],
      ['TLS without a client certificate', {}],
      ['mTLS', { as: 'several-sans' }],
    ];
    for (const property of properties) {
      it(`answers ${property} as Envoy does for plaintext, TLS and mTLS`, async () => {
        for (const [, kind] of kinds)
          await pair.same({
            ...kind,
            path: '/p',
            headers: [
              ['x-action', 'p'],
              ['x-path', property],
            ],
          });
      });
    }
    it('completes local replies as Envoy does: details, body, headers, malformed header pairs', async () => {
      for (const action of ['r', 'm']) await pair.same({ as: 'allowed', path: '/', headers: [['x-action', action]] });
      await pair.same({ as: 'allowed', path: '/', method: 'HEAD', headers: [['x-action', 'r']] });
      await pair.same({
        as: 'allowed',
        path: '/',
        http: '2',
        headers: [
          ['x-action', 'r'],
          ['content-type', 'application/grpc'],
        ],
      });
    });
    it('adds request headers, counts and survives proc_exit as Envoy does', async () => {
      for (const action of ['a', 'k', 'x']) await pair.same({ as: 'allowed', path: '/', headers: [['x-action', action]] });
    });
  });

  describe(`Envoy ${version} and the host agree on failure`, () => {
    let module: string;
    before(async () => {
      module = join(tmpdir(), `cert-allowlist-probe-${process.pid}.wasm`);
      writeFileSync(module, await probeModule());
    });

    // Each policy as Envoy's filter configuration states it, and as the host's options do.
    const policies: [string, (filter: EnvoyConfig) => void, Pick<HostOptions, 'failurePolicy' | 'failOpen'>][] = [
      ['FAIL_CLOSED', () => {}, { failurePolicy: 'FAIL_CLOSED' }],
      ['FAIL_OPEN', (filter) => void (filter.resources[0].typed_config.config.failure_policy = 'FAIL_OPEN'), { failurePolicy: 'FAIL_OPEN' }],
      ['FAIL_RELOAD', (filter) => void (filter.resources[0].typed_config.config.failure_policy = 'FAIL_RELOAD'), { failurePolicy: 'FAIL_RELOAD' }],
      [
        'the legacy fail_open flag',
        (filter) => {
          const config = filter.resources[0].typed_config.config;
          delete config.failure_policy;
          config.fail_open = true;
        },
        { failOpen: true },
      ],
    ];
    for (const [name, adjustFilter, failure] of policies) {
      it(`after a trap under ${name}`, async () => {
        const envoy = await TestProxy.start({ version, configuration: 'probe-config', pki, plugin: { module }, adjustFilter, componentLogLevel: 'wasm:trace' });
        try {
          const host = await EnvoyHost.load(module, { ...hostOptions, ...failure });
          assert.ok(host.configure('probe-config'));
          const pair = new Pair(envoy, host);
          const trap = await pair.run({ as: 'allowed', path: '/', headers: [['x-action', 't']], expectErrors: true });
          assert.deepEqual(
            [trap.host.status, trap.host.details, trap.host.upstream],
            [trap.envoy.status, trap.envoy.details, trap.envoy.upstream],
            'the request that trapped',
          );
          assert.match(trap.exchange.errors.map((line) => line.message).join('\n'), /failed: Uncaught RuntimeError/, 'Envoy logged the trap');
          const next = await pair.run({ as: 'allowed', path: '/', headers: [['x-action', 'a']] });
          assert.deepEqual(
            [next.host.status, next.host.details, next.host.upstream],
            [next.envoy.status, next.envoy.details, next.envoy.upstream],
            'the request after it',
          );
          if (failure.failurePolicy === 'FAIL_RELOAD') {
            // After the backoff (base 1 s, jittered) a fresh VM serves again.
            await sleep(2_500);
            host.setTime(new Date(Date.now() + 2_500));
            await pair.same({ as: 'allowed', path: '/', headers: [['x-action', 'a']] });
          }
        } finally {
          await envoy.stop();
        }
      });
    }
    it('answers 500 to every request after a refused first configuration (a WasmPlugin delivered over ECDS)', async () => {
      const envoy = await TestProxy.start({ version, configuration: '{"allow": []', pki });
      try {
        assert.equal(envoy.proxy.started.accepted, false);
        const host = await EnvoyHost.load(MODULE, hostOptions);
        assert.equal(host.configure('{"allow": []'), false);
        await new Pair(envoy, host).same({ as: 'allowed', path: '/' });
      } finally {
        await envoy.stop();
      }
    });
  });
}
