// Property-based tests of the compiled module in the host, with fast-check. `npm test` runs a
// bounded budget; `npm run fuzz` runs a million cases per property (FUZZ_RUNS) and fast-check prints
// the seed and path of any failure, to replay with FUZZ_SEED/FUZZ_PATH and keep as a regression.
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { certificateFacts } from '../host/certificate.js';
import { EnvoyHost, mtls, plaintext, tls, type Connection, type RequestOutcome } from '../host/index.js';
import { SIDECAR_DETAILS, xfccElement } from '../host/xfcc.js';
import { type Certificate, decide, requestPath, type Matcher, type Outcome, type Policy, type Rule } from './model/reference.js';
import { Attribute, craft, dns, pem, text, tlv, uri } from './support/der.js';
import { testPki } from './support/pki.js';

const MODULE = new URL('../build/cert-allowlist.wasm', import.meta.url).pathname;
const RUNS = Number(process.env.FUZZ_RUNS ?? 0);
const params = (defaultRuns: number): fc.Parameters<unknown> => ({
  numRuns: RUNS || defaultRuns,
  ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED), path: process.env.FUZZ_PATH } : {}),
});

// A certificate of a few fields around names and SANs of any content (no signature: the filter checks
// the Hash, never a signature), for the reader's fuzzing.
function certificateAround(values: Buffer[], sans: [number, Uint8Array][]): Buffer {
  const seq = (...parts: Buffer[]) => tlv(0x30, ...parts);
  const name = seq(...values.map((value) => tlv(0x31, seq(Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]), value))));
  const time = tlv(0x17, Buffer.from('260101000000Z'));
  const spki = Buffer.from(`3059301306072a8648ce3d020106082a8648ce3d030107034200${'04'.padEnd(130, '1')}`, 'hex');
  const san = seq(Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x11]), tlv(0x04, seq(...sans.map(([tag, value]) => tlv(tag, Buffer.from(value))))));
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, Buffer.from([1])),
    seq(Buffer.from([0x06, 0x03, 0x2a, 0x03, 0x04])),
    name,
    seq(time, time),
    name,
    spki,
    tlv(0xa3, seq(san)),
  );
  return seq(tbs, seq(Buffer.from([0x06, 0x03, 0x2a, 0x03, 0x04])), tlv(0x03, Buffer.from([0])));
}

// Pools small enough that generated rules and requests meet.
const SHAS = [
  '8d5816f39f390cb936cabe2151aee79d751830ea07dde2deb2900d8134edf7a7',
  '1111111111111111111111111111111111111111111111111111111111111111',
  'aaaabbbbccccddddeeeeffff0000111122223333444455556666777788889999',
  '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
];
const URIS = [
  'spiffe://partner.example/ns/bank/sa/batch',
  'spiffe://partner.example/ns/other/sa/x',
  'spiffe://cluster.local/ns/istio-system/sa/gateway',
  'spiffe://cluster.local/external-client',
];
const DNS = ['client.example.com', 'Client.Example.COM', 'other.example.com'];
const SUBJECTS = ['CN=alpha,O=Acme', 'O=test,CN=curl.example.com', 'CN=Acme\\, Inc.,O=x', 'O=evil\\,CN=alpha,C=US', 'CN=beta', 'CN=J\\C3\\BCrgen'];
const CNS = ['alpha', 'curl.example.com', 'Acme, Inc.', 'beta', 'Jürgen'];
const HOST_PATTERNS = ['payments.example.com', '*.bank.example', 'api.example.com'];
const PATH_PREFIXES = ['/ledger/', '/status/418', '/', '/a', '/ledger'];
const AUTHORITIES = [
  'payments.example.com',
  'PAYMENTS.example.com:443',
  'payments.example.com.',
  'payments.example.com:1@x',
  'x.bank.example',
  'bank.example',
  'user@api.example.com',
  'other.example',
  '[::1]:443',
  '',
];
const PATHS = [
  '/ledger/x',
  '/ledger',
  '/status/418',
  '//status/418',
  '/status/%2e%2e/status/418',
  '/status%2F418',
  '/status;x=1/418',
  '/a?q#f',
  '/',
  '/ledgers/x',
  '/a/../ledger/./x',
  '/%41',
  '/caf%C3%A9',
];

// Real certificates, for XFCC elements whose Cert= proves them (the model knows their facts).
const pki = testPki([]);
const POOL: Certificate[] = [
  { name: 'alpha', subject: 'alpha', uris: [URIS[0], URIS[1]], dnss: [DNS[0]] },
  { name: 'beta', subject: 'beta', uris: [URIS[3]], dnss: [] },
  { name: 'gateway', subject: 'gateway', uris: [URIS[2]], dnss: [] },
  { name: 'bare', subject: 'Acme, Inc.', uris: [], dnss: [DNS[2], DNS[0]] },
].map(({ name, subject, uris, dnss }) => {
  craft(pki, { name, subject: [[text(Attribute.O, 'Pool')], [text(Attribute.CN, subject)]], sans: [...uris.map(uri), ...dnss.map(dns)] });
  const facts = certificateFacts(new X509Certificate(readFileSync(pki.cert(name))));
  return { pem: facts.pem, sha256: facts.sha256, subject: facts.subject!, uriSans: facts.uriSans, dnsSans: facts.dnsSans, spki: facts.spkiSha256 };
});
const CERTIFICATES = new Map(POOL.map((c) => [c.pem, c]));
const poolPeer = (c: Certificate) => ({ sha256: c.sha256, subject: c.subject, uriSans: c.uriSans, dnsSans: c.dnsSans, pem: c.pem });
const TIMES = ['2026-01-01T00:00:00Z', '2026-06-01T00:00:00Z', '2027-01-01T00:00:00Z'];
const NOWS = [Date.parse('2025-12-31T23:59:59Z'), Date.parse('2026-03-01T00:00:00Z'), Date.parse('2026-09-01T00:00:00Z'), Date.parse('2027-02-01T00:00:00Z')];

const matcher: fc.Arbitrary<Matcher> = fc
  .record(
    {
      sha256: fc.constantFrom(...SHAS, SHAS[0].toUpperCase(), SHAS[1].match(/../g)!.join(':')),
      uriSan: fc.constantFrom(...URIS),
      uriSanPrefix: fc.constantFrom(
        'spiffe://partner.example/ns/bank/',
        'spiffe://cluster.local/',
        'spiffe://partner.example/ns/bank',
        'spiffe://cluster.local/ns/istio',
      ),
      dnsSan: fc.constantFrom(...DNS),
      subject: fc.constantFrom(...SUBJECTS),
      cn: fc.constantFrom(...CNS, 'alpha', 'beta'),
      spki: fc.constantFrom(...POOL.map((c) => c.spki)),
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
  fc.constantFrom(...POOL).map((c) => mtls(poolPeer(c))),
);

// An XFCC element as Envoy writes it (Hash, Subject quoted, URI/DNS unquoted, one per SAN) — for a
// pool certificate, Cert= and all (sometimes with its text altered), or text alone.
const textElement = fc
  .record({
    hash: fc.option(fc.constantFrom(...SHAS, SHAS[2].toUpperCase()), { nil: undefined }),
    subject: fc.option(fc.constantFrom(...SUBJECTS), { nil: undefined }),
    uris: fc.subarray(URIS),
    dnss: fc.subarray(DNS),
  })
  .map((e) =>
    [
      ...(e.hash ? [`Hash=${e.hash}`] : []),
      ...(e.subject !== undefined ? [`Subject="${e.subject.replaceAll('"', '\\"')}"`] : []),
      ...e.uris.map((u) => `URI=${u}`),
      ...e.dnss.map((d) => `DNS=${d}`),
    ].join(';'),
  )
  .filter((text) => text.length > 0);

const certificateElement = fc
  .record({ c: fc.constantFrom(...POOL), gateway: fc.boolean(), alter: fc.constantFrom('none', 'none', 'none', 'uri', 'subject', 'hash', 'cert') })
  .map(({ c, gateway, alter }) => {
    const other = POOL[(POOL.indexOf(c) + 1) % POOL.length];
    let e = xfccElement(poolPeer(c), gateway ? undefined : { ...SIDECAR_DETAILS, cert: true });
    if (alter === 'uri') e += `;URI=${URIS[0]}`;
    if (alter === 'subject') e = e.replace(/Subject="[^"]*"/, 'Subject="CN=alpha"');
    if (alter === 'hash') e = e.replace(c.sha256, other.sha256);
    if (alter === 'cert') e = e.replace(encodeURIComponent(c.pem), encodeURIComponent(other.pem));
    return e;
  });

const element = fc.oneof(textElement, certificateElement);

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
    fc
      .array(fc.constantFrom('/', '/', '.', '..', 'ledger', 'ledgers', 'status', '418', 'a', '%2e', '%2F', '%41', ';x=1', '?q', '#f'), { maxLength: 8 })
      .map((parts) => parts.join('')),
  ),
  xfcc: xfccHeaders,
  nowMs: fc.constantFrom(...NOWS),
  // The element our own Envoy writes for this connection, appended as Envoy appends it.
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
  it("the filter decides every request as the README's rules do (reference model), never traps and logs no error", async () => {
    await fc.assert(
      fc.asyncProperty(policy, fc.array(request, { minLength: 1, maxLength: 10 }), async (config, requests) => {
        const host = await EnvoyHost.load(MODULE, { canary: false });
        assert.equal(host.configure(JSON.stringify(config)), true, JSON.stringify(host.logsAtLeast('error')));
        for (const r of requests) {
          const headers: [string, string][] = [];
          let xfcc = r.xfcc;
          if (r.ownElement && r.connection.kind === 'mtls') {
            const own = xfccElement(r.connection.peer, config.identitySource === 'xfcc' ? SIDECAR_DETAILS : undefined);
            xfcc = xfcc.length ? [`${xfcc.join(',')},${own}`] : [own];
          }
          for (const value of xfcc) headers.push(['x-forwarded-client-cert', value]);
          host.setTime(BigInt(r.nowMs) * 1_000_000n);
          const outcome = host.request({ connection: r.connection, authority: r.authority, path: r.path, headers });
          const expected = decide(config, { connection: r.connection, authority: r.authority, path: r.path, xfcc, nowMs: r.nowMs }, CERTIFICATES);
          const actual = observed(outcome);
          const said = `${JSON.stringify(r.authority)} ${JSON.stringify(r.path)} ${JSON.stringify(xfcc)}`;
          if (expected.kind === 'out_of_scope') {
            assert.equal(actual, 'continued');
          } else if (expected.kind === 'deny' && config.mode === 'dry-run') {
            assert.equal(actual, 'continued');
            assert.match(outcome.logs.map((l) => l.message).join('\n'), new RegExp(`deny reason=${expected.reason} `));
          } else {
            assert.deepEqual(actual, expected.kind === 'deny' ? { kind: 'deny', reason: expected.reason } : expected, said);
          }
        }
        assert.deepEqual(host.logsAtLeast('error'), []);
        assert.equal(host.vmFailed, false);
      }),
      params(2000),
    );
  });

  it('scopes every path as the reference model reads it: an allow rule only on a path read one way, a deny rule on every ambiguous one', async () => {
    const host = await EnvoyHost.load(MODULE, { canary: false });
    const segment = fc.constantFrom('', '.', '..', 'a', 'ledger', '%2e', '%2E%2e', '%2F', '%2f..', 'b;x=1', ';', '%41', '%zz', '%', '%C3%A9', '%ff', '\\', ' ');
    const path = fc
      .tuple(fc.boolean(), fc.array(segment, { maxLength: 7 }), fc.constantFrom('', '?q=/../x', '#f'))
      .map(([rooted, segments, tail]) => `${rooted ? '/' : ''}${segments.join('/')}${tail}`);
    assert.ok(
      host.configure(
        JSON.stringify({
          allow: [
            { name: 'ledger', sha256: SHAS[0], paths: ['/ledger/'] },
            { name: 'elsewhere', sha256: SHAS[1] },
          ],
          deny: [{ name: 'no-a', sha256: SHAS[1], paths: ['/a'] }],
          identityHeader: 'x-client-identity',
        }),
      ),
    );
    await fc.assert(
      fc.asyncProperty(path, async (raw) => {
        const read = requestPath(raw);
        const ledger = host.request({ connection: mtls({ sha256: SHAS[0], subject: '' }), path: raw });
        const underLedger = read?.startsWith('/ledger/') === true;
        assert.equal(ledger.action === 'continued', underLedger, `${raw} reads as ${read}: allowed under /ledger/ only then`);
        const a = host.request({ connection: mtls({ sha256: SHAS[1], subject: '' }), path: raw });
        const underA = read === null || read === '/a' || read.startsWith('/a/');
        assert.equal(a.action === 'continued', !underA, `${raw} reads as ${read}: denied under /a when ambiguous or there`);
      }),
      params(1000),
    );
  });

  it('any XFCC bytes, authority, path, subject and SANs get exactly one of allow or deny, without a trap', async () => {
    const hosts = await Promise.all(
      ['connection', 'xfcc'].map(async (identitySource) => {
        const host = await EnvoyHost.load(MODULE, { canary: false });
        host.configure(
          JSON.stringify({
            identitySource,
            trustedProxies: [{ uriSan: URIS[2] }],
            hosts: ['*.example.com', 'payments.example.com'],
            allow: [
              { name: 'a', uriSanPrefix: 'spiffe://' },
              { name: 'b', cn: 'alpha', paths: ['/ledger/'] },
            ],
            deny: [{ name: 'd', dnsSan: 'x', paths: ['/x'] }],
          }),
        );
        return host;
      }),
    );
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
    const anyPeer = fc
      .record({
        sha256: fc.constantFrom(...SHAS),
        subject: fc.string({ unit: 'binary', maxLength: 80 }),
        uriSans: fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { maxLength: 3 }),
        dnsSans: fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { maxLength: 3 }),
      })
      .map((p) => mtls(p));
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 1 }),
        fc.oneof(connection, anyPeer),
        bytes,
        fc.string({ unit: 'binary', maxLength: 60 }),
        fc.string({ unit: 'binary', maxLength: 120 }),
        async (which, conn, xfcc, authority, path) => {
          const host = hosts[which];
          const outcome = host.request({ connection: conn, authority, path: `/${path}`, headers: [['x-forwarded-client-cert', xfcc]] });
          assert.ok(
            outcome.action === 'continued' || (outcome.action === 'local_reply' && outcome.response.status === 403),
            `${outcome.action} ${outcome.response.status}`,
          );
          assert.equal(host.vmFailed, false);
        },
      ),
      params(20000),
    );
    for (const host of hosts) assert.deepEqual(host.logsAtLeast('error'), []);
  });

  it('a chain as Envoy writes it: the client behind any number of trusted proxies is found', async () => {
    const host = await EnvoyHost.load(MODULE, { canary: false });
    const clients = POOL.filter((c) => c.uriSans[0] !== URIS[2]);
    host.configure(
      JSON.stringify({
        identitySource: 'xfcc',
        trustedProxies: [{ uriSan: URIS[2] }],
        allow: clients.map((c, i) => ({ name: `client-${i}`, sha256: c.sha256 })),
        identityHeader: 'x-client-identity',
      }),
    );
    const gateway = POOL.find((c) => c.uriSans[0] === URIS[2])!;
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: clients.length - 1 }), fc.nat({ max: 3 }), async (client, proxies) => {
        const elements = [xfccElement(poolPeer(clients[client]))];
        for (let i = 0; i < proxies; i++) elements.push(xfccElement(poolPeer(gateway), { ...SIDECAR_DETAILS, by: 'spiffe://x' }));
        elements.push(xfccElement(poolPeer(gateway), SIDECAR_DETAILS));
        const outcome = host.request({ connection: mtls(poolPeer(gateway)), headers: { 'x-forwarded-client-cert': elements.join(',') } });
        assert.deepEqual(
          outcome.upstreamHeaders?.find(([k]) => k === 'x-client-identity'),
          ['x-client-identity', `client-${client}`],
        );
      }),
      params(2000),
    );
  });

  it('any certificate bytes whose Hash is their SHA-256 — mutated, truncated, every string type — are read or refused, never a trap', async () => {
    // Behind a trusted proxy, the forged element is the client, so its certificate is read.
    const host = await EnvoyHost.load(MODULE, { canary: false });
    const gateway = POOL.find((c) => c.uriSans[0] === URIS[2])!;
    host.configure(
      JSON.stringify({
        identitySource: 'xfcc',
        trustedProxies: [{ uriSan: URIS[2] }],
        allow: [
          { name: 'pinned', spki: POOL[0].spki },
          { name: 'any', uriSanPrefix: 'spiffe://' },
        ],
        deny: [{ name: 'd', cn: 'x' }],
      }),
    );
    const ders = POOL.map((c) => Buffer.from(c.pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64'));
    // Names of every string tag, with any contents: the reader's conversions must be total.
    const stringValue = fc
      .tuple(fc.constantFrom(0x0c, 0x12, 0x13, 0x14, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1e, 0x04, 0x30), fc.uint8Array({ maxLength: 24 }))
      .map(([tag, value]) => tlv(tag, Buffer.from(value)));
    const mutated = fc.oneof(
      fc.tuple(fc.constantFrom(...ders), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 6 })).map(([der, edits]) => {
        const out = Buffer.from(der);
        for (const [at, value] of edits) out[at % out.length] = value;
        return out;
      }),
      fc.tuple(fc.constantFrom(...ders), fc.nat()).map(([der, cut]) => der.subarray(0, cut % der.length)),
      fc.tuple(fc.constantFrom(...ders), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([der, at, bytes]) => {
        const i = at % der.length;
        return Buffer.concat([der.subarray(0, i), Buffer.from(bytes), der.subarray(i)]);
      }),
      // A well-formed certificate around names and SANs of any content.
      fc
        .tuple(
          fc.array(stringValue, { minLength: 1, maxLength: 4 }),
          fc.array(fc.tuple(fc.constantFrom(0x81, 0x82, 0x86, 0x87), fc.uint8Array({ maxLength: 20 })), { maxLength: 4 }),
        )
        .map(([values, sans]) => certificateAround(values, sans)),
    );
    await fc.assert(
      fc.asyncProperty(mutated, async (der) => {
        const hash = createHash('sha256').update(der).digest('hex');
        const forged = `Hash=${hash};Cert="${encodeURIComponent(pem(der))}"`;
        const last = xfccElement(poolPeer(gateway), SIDECAR_DETAILS);
        const outcome = host.request({ connection: mtls(poolPeer(gateway)), headers: { 'x-forwarded-client-cert': `${forged},${last}` } });
        assert.ok(outcome.action === 'continued' || outcome.response.status === 403, `${outcome.action} ${outcome.response.status}`);
        assert.equal(host.vmFailed, false);
      }),
      params(20000),
    );
    assert.deepEqual(host.logsAtLeast('error'), []);
  });

  it("XFCC written for certificates with SANs of any content — the attacker's own — gets allow or deny, never a trap", async () => {
    const hosts = await Promise.all(
      ['connection', 'xfcc'].map(async (identitySource) => {
        const host = await EnvoyHost.load(MODULE, { canary: false });
        host.configure(
          JSON.stringify({
            identitySource,
            trustedProxies: [{ uriSan: URIS[2] }],
            allow: [
              { name: 'a', uriSanPrefix: 'spiffe://partner.example/ns/bank/' },
              { name: 'b', sha256: SHAS[0] },
            ],
            deny: [{ name: 'd', dnsSan: 'x' }],
          }),
        );
        return host;
      }),
    );
    const gateway = POOL.find((c) => c.uriSans[0] === URIS[2])!;
    const sanText = fc.string({ unit: fc.constantFrom(...'ab/:;,="\\ HashURIDNSCert%'.split('')), maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 1 }),
        fc.array(sanText, { maxLength: 3 }),
        fc.array(sanText, { maxLength: 2 }),
        fc.constantFrom(...SHAS),
        async (which, uris, dnss, sha256) => {
          // As Envoy writes an element for a certificate with these SANs: raw.
          const element = xfccElement({ sha256, subject: 'CN=attacker', uriSans: uris, dnsSans: dnss });
          const headers: [string, string][] = [
            ['x-forwarded-client-cert', which === 1 ? `${element},${xfccElement(poolPeer(gateway), SIDECAR_DETAILS)}` : element],
          ];
          const connection =
            which === 1 ? mtls(poolPeer(gateway)) : mtls({ sha256, subject: 'CN=attacker', uriSans: uris.slice(0, 1), dnsSans: dnss.slice(0, 1) });
          const outcome = hosts[which].request({ connection, headers });
          assert.ok(outcome.action === 'continued' || outcome.response.status === 403);
          // Nothing the attacker wrote may add a SAN: with no certificate behind it, neither mode allows by the bank prefix.
          assert.notEqual(outcome.upstreamHeaders?.find(([k]) => k === 'x-client-identity')?.[1], 'a', JSON.stringify(headers));
          assert.equal(hosts[which].vmFailed, false);
        },
      ),
      params(20000),
    );
  });

  it('any configuration text is accepted, or refused with exactly one error line — never a trap', async () => {
    const valid = JSON.stringify({
      allow: [{ name: 'a', sha256: SHAS[0], hosts: ['x.example'] }],
      deny: [{ name: 'd', cn: 'x' }],
      denyResponse: { status: 403 },
    });
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
