// Property-based tests of the compiled module in the host, with fast-check. `npm test` runs a
// bounded budget; `npm run fuzz` runs a million cases per property (FUZZ_RUNS) and fast-check prints
// the seed and path of any failure, to replay with FUZZ_SEED/FUZZ_PATH and keep as a regression.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EnvoyHost, mtls, plaintext, tls, type Connection, type RequestOutcome } from '../host/index.js';
import { decide, normalisePath, type Matcher, type Outcome, type Policy, type Rule } from './model/reference.js';

const MODULE = new URL('../build/cert-allowlist.wasm', import.meta.url).pathname;
const RUNS = Number(process.env.FUZZ_RUNS ?? 0);
const params = (defaultRuns: number): fc.Parameters<unknown> => ({
  numRuns: RUNS || defaultRuns,
  ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED), path: process.env.FUZZ_PATH } : {}),
});

// Pools small enough that generated rules and requests meet.
const SHAS = ['8d5816f39f390cb936cabe2151aee79d751830ea07dde2deb2900d8134edf7a7', '1111111111111111111111111111111111111111111111111111111111111111',
  'aaaabbbbccccddddeeeeffff0000111122223333444455556666777788889999', '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'];
const URIS = ['spiffe://partner.example/ns/bank/sa/batch', 'spiffe://partner.example/ns/other/sa/x', 'spiffe://cluster.local/ns/istio-system/sa/gateway', 'spiffe://cluster.local/external-client'];
const DNS = ['client.example.com', 'Client.Example.COM', 'other.example.com'];
const SUBJECTS = ['CN=alpha,O=Acme', 'O=test,CN=curl.example.com', 'CN=Acme\\, Inc.,O=x', 'O=evil\\,CN=alpha,C=US', 'CN=beta', 'CN=J\\C3\\BCrgen'];
const CNS = ['alpha', 'curl.example.com', 'Acme, Inc.', 'beta', 'Jürgen'];
const HOST_PATTERNS = ['payments.example.com', '*.bank.example', 'api.example.com'];
const PATH_PREFIXES = ['/ledger/', '/status/418', '/', '/a', '/ledger'];
const AUTHORITIES = ['payments.example.com', 'PAYMENTS.example.com.:443', 'x.bank.example', 'bank.example', 'user@api.example.com', 'other.example', '[::1]:443', ''];
const PATHS = ['/ledger/x', '/ledger', '/status/418', '//status/418', '/status/%2e%2e/status/418', '/status%2F418', '/status;x=1/418', '/a?q#f', '/', '/ledgers/x', '/a/../ledger/./x', '/%41'];
const TIMES = ['2026-01-01T00:00:00Z', '2026-06-01T00:00:00Z', '2027-01-01T00:00:00Z'];
const NOWS = [Date.parse('2025-12-31T23:59:59Z'), Date.parse('2026-03-01T00:00:00Z'), Date.parse('2026-09-01T00:00:00Z'), Date.parse('2027-02-01T00:00:00Z')];

const matcher: fc.Arbitrary<Matcher> = fc
  .record(
    {
      sha256: fc.constantFrom(...SHAS, SHAS[0].toUpperCase(), SHAS[1].match(/../g)!.join(':')),
      uriSan: fc.constantFrom(...URIS),
      uriSanPrefix: fc.constantFrom('spiffe://partner.example/ns/bank/', 'spiffe://cluster.local/'),
      dnsSan: fc.constantFrom(...DNS),
      subject: fc.constantFrom(...SUBJECTS),
      cn: fc.constantFrom(...CNS),
    },
    { requiredKeys: [] },
  )
  .filter((m) => Object.keys(m).length > 0);

const rule: fc.Arbitrary<Omit<Rule, 'name'>> = fc
  .tuple(
    matcher,
    fc.option(fc.uniqueArray(fc.constantFrom(...HOST_PATTERNS), { minLength: 1, maxLength: 2 }), { nil: undefined }),
    fc.option(fc.uniqueArray(fc.constantFrom(...PATH_PREFIXES), { minLength: 1, maxLength: 2 }), { nil: undefined }),
    fc.option(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })), { nil: undefined }),
  )
  .map(([m, hosts, paths, window]) => {
    const r: Omit<Rule, 'name'> = { ...m };
    if (hosts) r.hosts = hosts;
    if (paths) r.paths = paths;
    if (window) {
      const [a, b] = window[0] <= window[1] ? window : [window[1], window[0]];
      r.notBefore = TIMES[a];
      r.notAfter = TIMES[b];
    }
    return r;
  });

const policy: fc.Arbitrary<Policy> = fc
  .record({
    mode: fc.constantFrom<Policy['mode']>('enforce', 'dry-run'),
    identitySource: fc.constantFrom<Policy['identitySource']>('connection', 'xfcc'),
    trustedProxies: fc.array(matcher, { maxLength: 2 }),
    hosts: fc.option(fc.uniqueArray(fc.constantFrom(...HOST_PATTERNS), { minLength: 1, maxLength: 2 }), { nil: undefined }),
    allow: fc.array(rule, { maxLength: 6 }),
    deny: fc.array(rule, { maxLength: 3 }),
  })
  .map((p) => {
    const out: Policy = {
      mode: p.mode,
      identitySource: p.identitySource,
      trustedProxies: p.trustedProxies,
      allow: p.allow.map((r, i) => ({ name: `allow-${i}`, ...r })),
      deny: p.deny.map((r, i) => ({ name: `deny-${i}`, ...r })),
      identityHeader: 'x-client-identity',
    };
    if (p.hosts) out.hosts = p.hosts;
    return out;
  });

const peer = fc.record({
  sha256: fc.constantFrom(...SHAS, 'ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100'),
  subject: fc.constantFrom(...SUBJECTS, ''),
  uriSans: fc.subarray(URIS, { maxLength: 2 }),
  dnsSans: fc.subarray(DNS, { maxLength: 2 }),
});

const connection: fc.Arbitrary<Connection> = fc.oneof(
  fc.constant(plaintext()),
  fc.constant(tls()),
  peer.map((p) => mtls(p)),
);

// An XFCC element as Envoy writes it (Hash, Subject quoted, URI/DNS unquoted, one per SAN).
const element = fc
  .record({ hash: fc.option(fc.constantFrom(...SHAS, SHAS[2].toUpperCase()), { nil: undefined }), subject: fc.option(fc.constantFrom(...SUBJECTS), { nil: undefined }), uris: fc.subarray(URIS), dnss: fc.subarray(DNS) })
  .map((e) => [
    ...(e.hash ? [`Hash=${e.hash}`] : []),
    ...(e.subject !== undefined ? [`Subject="${e.subject.replaceAll('"', '\\"')}"`] : []),
    ...e.uris.map((u) => `URI=${u}`),
    ...e.dnss.map((d) => `DNS=${d}`),
  ].join(';'))
  .filter((text) => text.length > 0);

const xfccHeaders = fc.oneof(
  { weight: 1, arbitrary: fc.constant<string[]>([]) },
  { weight: 4, arbitrary: fc.array(element, { minLength: 1, maxLength: 3 }).map((elements) => [elements.join(',')]) },
  { weight: 1, arbitrary: fc.tuple(element, element).map(([a, b]) => [a, b]) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((junk) => [junk]) },
);

const request = fc.record({
  connection,
  authority: fc.constantFrom(...AUTHORITIES),
  // Known spellings, and paths pieced together from the parts that normalisation acts on.
  path: fc.oneof(
    fc.constantFrom(...PATHS),
    fc.array(fc.constantFrom('/', '/', '.', '..', 'ledger', 'ledgers', 'status', '418', 'a', '%2e', '%2F', '%41', ';x=1', '?q', '#f'), { maxLength: 8 }).map((parts) => parts.join('')),
  ),
  xfcc: xfccHeaders,
  nowMs: fc.constantFrom(...NOWS),
  // The client's own XFCC element with this connection's hash, to exercise the SAN completion.
  ownElement: fc.boolean(),
});

function observed(outcome: RequestOutcome): Outcome | 'continued' {
  if (outcome.action === 'continued') {
    const identity = outcome.upstreamHeaders?.find(([k]) => k === 'x-client-identity')?.[1];
    return identity === undefined ? 'continued' : { kind: 'allow', rule: identity };
  }
  assert.equal(outcome.action, 'local_reply', `unexpected action ${outcome.action}`);
  assert.equal(outcome.response.status, 403);
  return { kind: 'deny', reason: outcome.response.details.replace(/^cert_allowlist_/, '') };
}

describe('properties', () => {
  it('the filter decides every request as the README\'s rules do (reference model), never traps and logs no error', async () => {
    await fc.assert(
      fc.asyncProperty(policy, fc.array(request, { minLength: 1, maxLength: 10 }), async (config, requests) => {
        const host = await EnvoyHost.load(MODULE, { canary: false });
        assert.equal(host.configure(JSON.stringify(config)), true, JSON.stringify(host.logsAtLeast('error')));
        for (const r of requests) {
          const headers: [string, string][] = [];
          let xfcc = r.xfcc;
          if (r.ownElement && r.connection.kind === 'mtls') {
            const own = `Hash=${r.connection.peer.sha256};URI=spiffe://partner.example/ns/bank/sa/batch;DNS=client.example.com`;
            xfcc = xfcc.length ? [`${xfcc.join(',')},${own}`] : [own];
          }
          for (const value of xfcc) headers.push(['x-forwarded-client-cert', value]);
          host.setTime(BigInt(r.nowMs) * 1_000_000n);
          const outcome = host.request({ connection: r.connection, authority: r.authority, path: r.path, headers });
          const expected = decide(config, { connection: r.connection, authority: r.authority, path: r.path, xfcc, nowMs: r.nowMs });
          const actual = observed(outcome);
          if (expected.kind === 'out_of_scope') {
            assert.equal(actual, 'continued');
          } else if (expected.kind === 'deny' && config.mode === 'dry-run') {
            assert.equal(actual, 'continued');
            assert.match(outcome.logs.map((l) => l.message).join('\n'), new RegExp(`deny reason=${expected.reason} `));
          } else {
            assert.deepEqual(actual, expected.kind === 'deny' ? { kind: 'deny', reason: expected.reason } : expected);
          }
        }
        assert.deepEqual(host.logsAtLeast('error'), []);
        assert.equal(host.vmFailed, false);
      }),
      params(2000),
    );
  });

  it('normalises every path as the reference model does', async () => {
    const host = await EnvoyHost.load(MODULE, { canary: false });
    const segment = fc.constantFrom('', '.', '..', 'a', 'ledger', '%2e', '%2E%2e', '%2F', '%2f..', 'b;x=1', ';', '%41', '%zz', '%');
    const path = fc
      .tuple(fc.boolean(), fc.array(segment, { maxLength: 7 }), fc.constantFrom('', '?q=/../x', '#f'))
      .map(([rooted, segments, tail]) => `${rooted ? '/' : ''}${segments.join('/')}${tail}`);
    await fc.assert(
      fc.asyncProperty(path, async (raw) => {
        // Allowed under the model's normal form as a prefix, and not under anything deeper.
        const normal = normalisePath(raw);
        const deeper = normal.endsWith('/') ? `${normal}zz` : `${normal}/`;
        assert.ok(host.configure(JSON.stringify({ allow: [{ name: 'here', sha256: SHAS[0], paths: [normal] }], deny: [{ name: 'deeper', sha256: SHAS[0], paths: [deeper] }] })));
        const outcome = host.request({ connection: mtls({ sha256: SHAS[0], subject: '' }), path: raw });
        assert.equal(outcome.action, 'continued', `${raw} is ${normal} to the model; the filter said ${outcome.response.details}`);
      }),
      params(1000),
    );
  });

  it('any XFCC bytes, authority, path, subject and SANs get exactly one of allow or deny, without a trap', async () => {
    const hosts = await Promise.all(['connection', 'xfcc'].map(async (identitySource) => {
      const host = await EnvoyHost.load(MODULE, { canary: false });
      host.configure(JSON.stringify({ identitySource, trustedProxies: [{ uriSan: URIS[2] }], hosts: ['*.example.com', 'payments.example.com'], allow: [{ name: 'a', uriSanPrefix: 'spiffe://' }, { name: 'b', cn: 'alpha', paths: ['/ledger/'] }], deny: [{ name: 'd', dnsSan: 'x', paths: ['/x'] }] }));
      return host;
    }));
    const bytes = fc.oneof(
      { weight: 30, arbitrary: fc.uint8Array({ maxLength: 300 }) },
      { weight: 30, arbitrary: element.map((e) => Buffer.from(e)) },
      {
        weight: 30,
        arbitrary: fc.tuple(element, fc.uint8Array({ maxLength: 8 }), fc.nat()).map(([e, noise, at]) => {
          const buffer = Buffer.from(e);
          const i = at % (buffer.length + 1);
          return Buffer.concat([buffer.subarray(0, i), noise, buffer.subarray(i)]);
        }),
      },
      // 10 000 elements; a 64 KiB quoted value ending in a lone quote or backslash; a 64 KiB unquoted one.
      { weight: 1, arbitrary: element.map((e) => Buffer.from(Array(10_000).fill(e).join(','))) },
      { weight: 1, arbitrary: fc.constantFrom('"', '\\').map((c) => Buffer.from(`Hash=${SHAS[0]};Cert="${'x'.repeat(65_536)}${c}`)) },
      { weight: 1, arbitrary: fc.constant(Buffer.from(`URI=${'u'.repeat(65_536)}`)) },
    );
    // Subjects and SANs of every shape, as the connection reports them.
    const anyPeer = fc.record({
      sha256: fc.constantFrom(...SHAS),
      subject: fc.string({ unit: 'binary', maxLength: 80 }),
      uriSans: fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { maxLength: 3 }),
      dnsSans: fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { maxLength: 3 }),
    }).map((p) => mtls(p));
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 1 }), fc.oneof(connection, anyPeer), bytes, fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 120 }), async (which, conn, xfcc, authority, path) => {
        const host = hosts[which];
        const outcome = host.request({ connection: conn, authority, path: `/${path}`, headers: [['x-forwarded-client-cert', xfcc]] });
        assert.ok(outcome.action === 'continued' || (outcome.action === 'local_reply' && outcome.response.status === 403), `${outcome.action} ${outcome.response.status}`);
        assert.equal(host.vmFailed, false);
      }),
      params(20000),
    );
    for (const host of hosts) assert.deepEqual(host.logsAtLeast('error'), []);
  });

  it('a valid XFCC chain survives serialising and parsing: the client behind trusted proxies is found', async () => {
    const host = await EnvoyHost.load(MODULE, { canary: false });
    host.configure(JSON.stringify({
      identitySource: 'xfcc',
      trustedProxies: [{ uriSan: URIS[2] }],
      allow: SHAS.map((sha256, i) => ({ name: `client-${i}`, sha256 })),
      identityHeader: 'x-client-identity',
    }));
    const quoted = fc.string({ unit: fc.constantFrom(...'abc ,;="\\CN=Oé'.split('')), maxLength: 30 });
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: SHAS.length - 1 }), quoted, fc.subarray(URIS.filter((u) => u !== URIS[2])), fc.nat({ max: 3 }), async (client, subject, uris, proxies) => {
        const escaped = subject.replaceAll('\\', '\\\\').replaceAll('"', '\\"');
        const elements = [[`Hash=${SHAS[client]}`, `Subject="${escaped}"`, ...uris.map((u) => `URI=${u}`)].join(';')];
        const gateway = 'cafe'.repeat(16);
        for (let i = 0; i < proxies; i++) elements.push(`By=spiffe://x;Hash=${gateway};Subject="";URI=${URIS[2]}`);
        const last = `Hash=${gateway};URI=${URIS[2]}`;
        const outcome = host.request({ connection: mtls({ sha256: gateway, subject: '', uriSans: [URIS[2]] }), headers: { 'x-forwarded-client-cert': [...elements, last].join(',') } });
        assert.deepEqual(outcome.upstreamHeaders?.find(([k]) => k === 'x-client-identity'), ['x-client-identity', `client-${client}`]);
      }),
      params(20000),
    );
  });

  it('any configuration text is accepted, or refused with exactly one error line — never a trap', async () => {
    const valid = JSON.stringify({ allow: [{ name: 'a', sha256: SHAS[0], hosts: ['x.example'] }], deny: [{ name: 'd', cn: 'x' }], denyResponse: { status: 403 } });
    const configs = fc.oneof(
      fc.json({ maxDepth: 6 }),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify({ allow: [v] })),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ allow: [], denyResponse: v })),
      fc.tuple(fc.nat(), fc.string({ unit: 'binary', maxLength: 4 })).map(([at, noise]) => {
        const i = at % (valid.length + 1);
        return valid.slice(0, i) + noise + valid.slice(i + (at % 3));
      }),
      fc.string({ unit: 'binary', maxLength: 200 }),
    );
    // Through the canary, as Envoy applies an update: a refused configuration never reaches the
    // worker. (Refused by the worker itself, each would leave its root context there; 240 000 of
    // them outgrew the VM's 1 GiB in a million-run fuzz.) A trap in the canary is an error line too.
    const host = await EnvoyHost.load(MODULE);
    await fc.assert(
      fc.asyncProperty(configs, async (text) => {
        host.clearLogs();
        const accepted = host.configure(text);
        const errors = host.logsAtLeast('error');
        assert.equal(host.vmFailed, false);
        if (accepted) assert.deepEqual(errors, []);
        else assert.match(errors.map((e) => e.message).join('\n'), /^cert-allowlist: rejected configuration: [^\n]+$/);
      }),
      params(20000),
    );
  });
});
