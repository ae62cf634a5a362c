// The Envoy-faithful host, verified with a hand-written probe module (no SDK, no filter), against
// the contract in docs/host-contract.md (and, through tests/differential.test.ts, against real Envoy).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvoyHost, HostLoadError, mtls, plaintext, tls, type Connection, type RequestOutcome } from '../host/index.js';
import { HeaderMap } from '../host/header-map.js';
import { decodePairs, encodePairs } from '../host/pairs.js';
import { probeModule, type ProbeVariant } from './fixtures/probe-module.js';

const PEER = {
  sha256: '8d5816f39f390cb936cabe2151aee79d751830ea07dde2deb2900d8134edf7a7',
  subject: 'CN=client.example,O=Acme\\, Inc.,C=US',
  uriSans: ['spiffe://demo.local/ns/bank/sa/batch', 'spiffe://demo.local/second'],
  dnsSans: ['client.example.com'],
};

async function probeHost(variant: ProbeVariant = {}, options = {}): Promise<EnvoyHost> {
  const host = await EnvoyHost.load(await probeModule(variant), options);
  assert.equal(host.configure('probe-config'), true);
  return host;
}

async function loadError(variant: ProbeVariant): Promise<string> {
  const error = await EnvoyHost.load(await probeModule(variant)).then(
    () => assert.fail('the module loaded'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof HostLoadError, String(error));
  return error.message;
}

const messages = (outcome: RequestOutcome) => outcome.logs.map((entry) => entry.message);

/** Reads a property through the probe: returns the status, the allocations it cost and the value. */
function property(host: EnvoyHost, connection: Connection, path: string, headers: Record<string, string> = {}) {
  const outcome = host.request({ connection, headers: { 'x-action': 'p', 'x-path': path, ...headers } });
  const report = messages(outcome)[2];
  return { status: report.charCodeAt(0) - 48, mallocs: report.charCodeAt(1) - 48, value: report.slice(3) };
}

describe('loading a module as Envoy does', () => {
  it('refuses a module without an ABI version export', async () => {
    assert.equal(await loadError({ noAbiMarker: true }), 'Missing or unknown Proxy-Wasm ABI version');
  });
  it("refuses an import Envoy does not register, such as AssemblyScript's env.abort", async () => {
    const imports = '(import "env" "abort" (func (param i32 i32 i32 i32)))';
    assert.equal(await loadError({ imports }), 'Failed to load Wasm module due to a missing import: env.abort');
  });
  it("refuses an import whose signature differs from Envoy's", async () => {
    const imports = '(import "env" "proxy_log" (func (param i32 i32) (result i32)))';
    assert.equal(
      await loadError({ imports }),
      'Failed to load Wasm module due to an import type mismatch for env.proxy_log, want: (i32, i32) -> (i32), but host exports: (i32, i32, i32) -> (i32)',
    );
  });
  it('refuses any imported global', async () => {
    const imports = '(import "env" "proxy_log_level" (global i32))';
    assert.equal(await loadError({ imports }), 'Failed to load Wasm module due to a missing import: env.proxy_log_level');
  });
  it('refuses an ABI 0.1.0 import in an ABI 0.2.0 module', async () => {
    const imports = '(import "env" "proxy_clear_route_cache" (func (result i32)))';
    assert.equal(await loadError({ imports }), 'Failed to load Wasm module due to a missing import: env.proxy_clear_route_cache');
  });
  it('refuses an export Envoy calls when its signature is wrong', async () => {
    assert.equal(await loadError({ configureParams: 'i32' }), 'Bad function signature for: proxy_on_configure');
  });
  it('refuses a module without an allocator', async () => {
    assert.equal(await loadError({ noMalloc: true }), 'Wasm module is missing malloc function.');
  });
  it('traps a host call other than logging during _initialize (restricted_callback)', async () => {
    const initialize = '(drop (call $get_property (i32.const 0) (i32.const 0) (i32.const 1032) (i32.const 1036)))';
    assert.match(await loadError({ initialize }), /^Wasm VM failed to start: Function: _initialize failed: .*restricted_callback: env\.proxy_get_property/);
  });
  it('allows logging during _initialize', async () => {
    const host = await probeHost();
    assert.equal(host.logs[0].message, 'started');
  });
  it('fails a start section that calls the host, which has no context yet', async () => {
    const extra = '(func $early (call $say (i32.const 304) (i32.const 7))) (start $early)';
    assert.match(await loadError({ extra }), /no current context/);
  });
});

describe('call order', () => {
  it('starts each VM with _initialize, then context create, vm start and configure — canary first, then the worker', async () => {
    const host = await probeHost();
    assert.deepEqual(
      host.logs.map((entry) => `${entry.vm}:${entry.message}`),
      [
        'worker:started',
        'canary:started',
        'canary:ctx_create',
        'canary:vm_start',
        'canary:01:probe-config',
        'worker:ctx_create',
        'worker:vm_start',
        'worker:01:probe-config',
      ],
    );
  });
  it('runs a request as create, request headers, response headers, log, done, delete', async () => {
    const host = await probeHost();
    const outcome = host.request({ connection: tls(), headers: { 'x-action': '-' } });
    assert.equal(outcome.action, 'continued');
    assert.deepEqual(messages(outcome), ['ctx_create', 'request_headers', 'response_headers', '20:', 'log', 'done', 'delete']);
  });
  it('gives the first root context id 1 and streams the following ids', async () => {
    const host = await probeHost();
    const outcome = host.request({ connection: tls(), headers: { 'x-action': '-' } });
    assert.deepEqual([...new Set(outcome.logs.map((entry) => entry.context))], [2]);
  });
  it('offers the plugin configuration as buffer 7 only during proxy_on_configure', async () => {
    const host = await probeHost();
    const outcome = host.request({ connection: tls(), headers: { 'x-action': 'b' } });
    assert.equal(messages(outcome)[2], '10:');
  });
  it('keeps the running configuration when the canary refuses an update', async () => {
    const host = await probeHost();
    host.clearLogs();
    assert.equal(host.configure(''), false);
    // An empty configuration is size 0: the probe reads (0, 0) without an allocation, then refuses.
    assert.deepEqual(
      host.logs.map((entry) => `${entry.vm}:${entry.message}`),
      ['canary:started', 'canary:ctx_create', 'canary:vm_start', 'canary:00:'],
    );
    assert.equal(host.request({ connection: tls(), headers: { 'x-action': '-' } }).action, 'continued');
  });
  it('leaves the filter out of a worker that refuses what its canary accepted, whatever the failure policy', async () => {
    // Envoy: the worker gets no plugin handle and PluginConfig::createContext adds no filter.
    const host = await probeHost({ acceptOnce: true }, { failurePolicy: 'FAIL_CLOSED' });
    host.clearLogs();
    assert.equal(host.configure('second'), true);
    const worker = host.logs.filter((entry) => entry.vm === 'worker');
    assert.deepEqual(
      worker.map((entry) => `${entry.context}:${entry.level}:${entry.message}`),
      ['2:info:ctx_create', '2:info:vm_start', '2:info:01:second', '0:error:Failed to configure thread-local Wasm plugin', '1:info:done', '1:info:delete'],
    );
    const outcome = host.request({ connection: tls(), headers: { 'x-action': 'r' } });
    assert.equal(outcome.action, 'continued');
    assert.equal(outcome.response.status, 200);
    assert.deepEqual(messages(outcome), []);
  });
  it('retires the previous root context after an accepted update', async () => {
    const host = await probeHost();
    host.clearLogs();
    assert.equal(host.configure('second'), true);
    assert.deepEqual(
      host.logs.filter((entry) => entry.vm === 'worker').map((entry) => `${entry.context}:${entry.message}`),
      ['2:ctx_create', '2:vm_start', '2:01:second', '1:done', '1:delete'],
    );
  });
});

describe('properties', () => {
  it('answers the certificate digest only for a connection with a client certificate', async () => {
    const host = await probeHost();
    const path = 'connection\0sha256_peer_certificate_digest';
    assert.equal(property(host, plaintext(), path).status, 1);
    assert.equal(property(host, tls(), path).status, 1);
    assert.deepEqual(property(host, mtls(PEER), path), { status: 0, mallocs: 1, value: PEER.sha256 });
  });
  it('does not split a dotted path: one unknown name is NotFound', async () => {
    const host = await probeHost();
    assert.equal(property(host, mtls(PEER), 'connection.sha256_peer_certificate_digest').status, 1);
  });
  it('answers the subject Ok-but-empty without allocating on TLS without a client certificate', async () => {
    const host = await probeHost();
    const path = 'connection\0subject_peer_certificate';
    assert.equal(property(host, plaintext(), path).status, 1);
    assert.deepEqual(property(host, tls(), path), { status: 0, mallocs: 0, value: '' });
    assert.equal(property(host, mtls(PEER), path).value, PEER.subject);
  });
  it('exposes only the first URI and DNS SAN', async () => {
    const host = await probeHost();
    assert.equal(property(host, mtls(PEER), 'connection\0uri_san_peer_certificate').value, PEER.uriSans[0]);
    assert.equal(property(host, mtls(PEER), 'connection\0dns_san_peer_certificate').value, PEER.dnsSans[0]);
    assert.equal(property(host, mtls({ ...PEER, dnsSans: [] }), 'connection\0dns_san_peer_certificate').status, 1);
  });
  it('encodes connection.mtls as one byte', async () => {
    const host = await probeHost();
    assert.equal(property(host, mtls(PEER), 'connection\0mtls').value, '\x01');
    assert.equal(property(host, tls(), 'connection\0mtls').value, '\x00');
    assert.equal(property(host, plaintext(), 'connection\0mtls').value, '\x00');
  });
  it('answers tls_version only on TLS', async () => {
    const host = await probeHost();
    assert.equal(property(host, plaintext(), 'connection\0tls_version').status, 1);
    assert.equal(property(host, tls({ tlsVersion: 'TLSv1.2' }), 'connection\0tls_version').value, 'TLSv1.2');
  });
  it('encodes source.port as 8 little-endian bytes', async () => {
    const host = await probeHost();
    const value = property(host, plaintext({ source: '10.0.0.1:16191' }), 'source\0port').value;
    assert.deepEqual(Buffer.from(value, 'latin1'), Buffer.from([0x3f, 0x3f, 0, 0, 0, 0, 0, 0]));
  });
  it('cannot serialize a whole object or an empty path', async () => {
    const host = await probeHost();
    assert.equal(property(host, mtls(PEER), 'connection').status, 3);
    assert.equal(property(host, mtls(PEER), '').status, 3);
  });
  it('tolerates a trailing NUL and refuses an empty token', async () => {
    const host = await probeHost();
    assert.equal(property(host, tls(), 'connection\0tls_version\0').status, 0);
    assert.equal(property(host, tls(), 'connection\0\0tls_version').status, 1);
    assert.equal(property(host, tls(), 'nosuchthing').status, 1);
  });
  it('answers plugin_root_id, empty without allocating when the root id is empty', async () => {
    assert.deepEqual(property(await probeHost(), tls(), 'plugin_root_id'), { status: 0, mallocs: 0, value: '' });
    assert.equal(property(await probeHost({}, { rootId: 'cert-allowlist' }), tls(), 'plugin_root_id').value, 'cert-allowlist');
  });
  it('re-reads memory after the allocator grew it', async () => {
    const host = await probeHost();
    const big = 'b'.repeat(300_000);
    const before = host.memoryBytes();
    const read = property(host, tls(), 'request\0headers\0x-big', { 'x-big': big });
    assert.ok(host.memoryBytes() > before, 'memory grew');
    assert.deepEqual(read, { status: 0, mallocs: 1, value: big.slice(0, 200) });
  });
});

describe('header maps', () => {
  it('makes request headers unreadable after the request continued (BadArgument)', async () => {
    const host = await probeHost();
    assert.equal(messages(host.request({ connection: tls(), headers: { 'x-action': '-' } }))[3], '20:');
  });
  it('forwards a header the filter added', async () => {
    const host = await probeHost();
    const outcome = host.request({ connection: tls(), headers: { 'x-action': 'a' } });
    assert.deepEqual(outcome.upstreamHeaders?.at(-1), ['x-added', 'yes']);
  });
  it('puts the pseudo-headers first in the request map', async () => {
    const host = await probeHost();
    const outcome = host.request({ connection: tls(), authority: 'a.example', path: '/p', headers: { 'x-action': '-' } });
    assert.deepEqual(outcome.upstreamHeaders?.slice(0, 4), [
      [':authority', 'a.example'],
      [':path', '/p'],
      [':method', 'GET'],
      [':scheme', 'https'],
    ]);
  });
  it('decodes pairs strictly: trailing bytes make the whole list empty', () => {
    const pairs = encodePairs([
      [Buffer.from('a'), Buffer.from('1')],
      [Buffer.from('bb'), Buffer.from('')],
    ]);
    assert.deepEqual(
      decodePairs(pairs).map(([k, v]) => `${k}=${v}`),
      ['a=1', 'bb='],
    );
    assert.deepEqual(decodePairs(Buffer.concat([pairs, Buffer.from([0])])), []);
    assert.deepEqual(decodePairs(pairs.subarray(0, pairs.length - 1)), []);
    const badTerminator = Buffer.from(pairs);
    badTerminator[4 + 16 + 1] = 0x41;
    assert.deepEqual(decodePairs(badTerminator), []);
  });
  it("lower-cases header names ASCII-only, as Envoy's LowerCaseString does", () => {
    const map = HeaderMap.fromStrings([
      ['X-Client', 'a'],
      ['X-\u00c0', 'b'],
    ]);
    assert.deepEqual(
      map.pairs.map(([k]) => k.toString('latin1')),
      ['x-client', 'x-\u00c0'],
    );
    assert.equal(map.getString('x-CLIENT'), 'a');
    assert.equal(map.get(Buffer.from('X-CLIENT')), map.get('x-client'));
    assert.equal(map.getString('x-\u00c0'), 'b');
    assert.equal(map.getString('x-\u00e0'), undefined);
    assert.equal(map.getString('x-clien'), undefined);
  });
  it('refuses more than 1024 pairs', () => {
    const many = encodePairs(Array.from({ length: 1025 }, () => [Buffer.from('k'), Buffer.from('v')] as [Buffer, Buffer]));
    assert.deepEqual(decodePairs(many), []);
  });
});

describe('local replies', () => {
  it('sends the reply after the callback returns, even if it returned Continue, and skips the upstream', async () => {
    const host = await probeHost();
    let upstreamCalled = false;
    const outcome = host.request({
      connection: tls(),
      headers: { 'x-action': 'r' },
      upstream: () => {
        upstreamCalled = true;
        return { status: 200 };
      },
    });
    assert.equal(outcome.action, 'local_reply');
    assert.equal(upstreamCalled, false);
    assert.equal(outcome.response.status, 403);
    assert.equal(outcome.response.body, 'denied');
    assert.equal(outcome.response.details, 'a_b_c', 'white space in details becomes _');
    assert.deepEqual(outcome.response.headers, [
      [':status', '403'],
      ['x-probe', '1'],
      ['content-length', '6'],
      ['content-type', 'text/plain'],
    ]);
    // The request never left, so its headers are still readable then (Envoy: 00, not BadArgument).
    assert.deepEqual(messages(outcome).slice(2), ['response_headers', '00:r', 'log', 'done', 'delete'], 'the reply passes the encode path');
  });
  it('drops malformed extra headers silently, and content headers of an empty body', async () => {
    const host = await probeHost();
    const outcome = host.request({ connection: tls(), headers: { 'x-action': 'm' } });
    assert.deepEqual(outcome.response.headers, [[':status', '401']]);
    assert.equal(outcome.localReply?.grpcStatus, -1);
  });
  it('answers a gRPC request trailers-only with the status mapped from HTTP', async () => {
    const host = await probeHost();
    const outcome = host.request({ connection: tls(), headers: { 'x-action': 'r', 'content-type': 'application/grpc' } });
    assert.equal(outcome.response.status, 200);
    assert.deepEqual(
      outcome.response.headers.filter(([k]) => k.startsWith('grpc-')),
      [
        ['grpc-status', '7'],
        ['grpc-message', 'denied'],
      ],
    );
  });
  it('reports a stop without a reply as paused', async () => {
    const host = await probeHost();
    assert.equal(host.request({ connection: tls(), headers: { 'x-action': 's' } }).action, 'paused');
  });
});

describe('traps and fail policies', () => {
  it('fails the VM on a trap, logs the function, and answers 503 wasm_fail_stream from then on', async () => {
    const host = await probeHost();
    const outcome = host.request({ connection: tls(), headers: { 'x-action': 't' } });
    assert.equal(host.vmFailed, true);
    assert.equal(outcome.response.status, 503);
    assert.equal(outcome.response.details, 'wasm_fail_stream');
    assert.match(host.logsAtLeast('error')[0].message, /^Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable/);
    const later = host.request({ connection: tls(), headers: { 'x-action': '-' } });
    assert.deepEqual([later.response.status, later.response.details, messages(later)], [503, 'wasm_fail_stream', []]);
  });
  it('answers the trapping request 503 under FAIL_OPEN, then lets requests pass unfiltered', async () => {
    const host = await probeHost({}, { failurePolicy: 'FAIL_OPEN' });
    const trapped = host.request({ connection: tls(), headers: { 'x-action': 't' } });
    assert.deepEqual([trapped.response.status, trapped.response.details], [503, 'wasm_fail_stream']);
    const later = host.request({ connection: tls(), headers: { 'x-action': 'r' } });
    assert.deepEqual([later.action, later.response.status, messages(later)], ['continued', 200, []]);
  });
  it('lets even the trapping request continue under the legacy fail_open flag', async () => {
    const host = await probeHost({}, { failOpen: true });
    assert.equal(host.request({ connection: tls(), headers: { 'x-action': 't' } }).action, 'continued');
    assert.equal(host.request({ connection: tls(), headers: { 'x-action': 'r' } }).action, 'continued');
  });
  it('answers 503 under FAIL_RELOAD until the backoff has passed, then serves from a fresh VM', async () => {
    const host = await probeHost({}, { failurePolicy: 'FAIL_RELOAD', now: 1_000_000_000_000n });
    host.request({ connection: tls(), headers: { 'x-action': 't' } });
    assert.equal(host.request({ connection: tls(), headers: { 'x-action': 'r' } }).response.details, 'wasm_fail_stream');
    host.setTime(1_000_000_000_000n + 999_999_999n);
    assert.equal(host.request({ connection: tls(), headers: { 'x-action': 'r' } }).response.details, 'wasm_fail_stream');
    host.setTime(1_000_000_000_000n + 1_000_000_000n);
    const reloaded = host.request({ connection: tls(), headers: { 'x-action': 'r' } });
    assert.deepEqual([reloaded.response.status, messages(reloaded).slice(0, 4)], [403, ['started', 'ctx_create', 'vm_start', '01:probe-config']]);
  });
  it('answers 500 to every request while no configuration was ever accepted (a WasmPlugin over ECDS)', async () => {
    const host = await EnvoyHost.load(await probeModule());
    assert.equal(host.configure(''), false);
    const outcome = host.request({ connection: tls(), headers: { 'x-action': 'r' } });
    assert.deepEqual([outcome.response.status, outcome.response.details, outcome.response.body], [500, '', '']);
  });
  it('serves again from a fresh VM after a configuration change', async () => {
    const host = await probeHost();
    host.request({ connection: tls(), headers: { 'x-action': 't' } });
    assert.equal(host.configure('after-failure'), true);
    assert.equal(host.vmFailed, false);
    assert.equal(host.request({ connection: tls(), headers: { 'x-action': '-' } }).action, 'continued');
  });
  it('returns from proc_exit instead of trapping', async () => {
    const host = await probeHost();
    const outcome = host.request({ connection: tls(), headers: { 'x-action': 'x' } });
    assert.equal(host.vmFailed, false);
    assert.ok(messages(outcome).includes('after exit'));
  });
});

describe('metrics, clock and host-call counts', () => {
  it('counts a custom counter across requests', async () => {
    const host = await probeHost();
    host.request({ connection: tls(), headers: { 'x-action': 'k' } });
    host.request({ connection: tls(), headers: { 'x-action': 'k' } });
    assert.equal(host.metric('probe.requests'), 2n);
  });
  it('serves the clock the test set', async () => {
    const host = await probeHost();
    // Every byte below 0x80, so the probe's log line carries it through UTF-8 unchanged.
    host.setTime(0x1a2b3c4d5e6f7071n);
    const report = messages(host.request({ connection: tls(), headers: { 'x-action': 'n' } }))[2];
    assert.equal(Buffer.from(report.slice(3), 'latin1').readBigUInt64LE(), 0x1a2b3c4d5e6f7071n);
  });
  it('counts the host calls a request made', async () => {
    const host = await probeHost();
    const outcome = host.request({ connection: tls(), headers: { 'x-action': 'r' } });
    assert.equal(outcome.hostCalls['env.proxy_send_local_response'], 1);
    assert.equal(outcome.hostCalls['env.proxy_get_header_map_value'], 2);
  });
});
