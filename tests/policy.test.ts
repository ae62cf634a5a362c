// The full policy on the compiled module in the Envoy-faithful host: every row of the decision,
// every deny reason, XFCC trust, scope, validity windows, dry-run, the identity header, the deny
// reply, metrics and the deny log line. Every case also asserts that nothing was logged at error.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type CertificateFacts, certificateFacts, peerCertificate } from '../host/certificate.js';
import { EnvoyHost, mtls, plaintext, tls, type Connection, type RequestOutcome, type RequestSpec } from '../host/index.js';
import { SIDECAR_DETAILS, xfccElement } from '../host/xfcc.js';
import { Attribute, craft, text, uri } from './support/der.js';
import { testPki } from './support/pki.js';

const MODULE = new URL('../build/cert-allowlist.wasm', import.meta.url).pathname;

const ACME = '8d5816f39f390cb936cabe2151aee79d751830ea07dde2deb2900d8134edf7a7';
const LEAKED = '5f0c3a3e2a86b1d7c0f6e9b4a1d2c3b4a5f60718293a4b5c6d7e8f9012345678';
const STRANGER = 'ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100';
const GATEWAY_SA = 'spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account';

const REASONS = ['no_client_certificate', 'not_allowed', 'denied_by_rule', 'xfcc_mismatch', 'xfcc_untrusted', 'xfcc_missing', 'xfcc_malformed'];

const POLICY = {
  hosts: ['payments.example.com', '*.bank.example'],
  allow: [
    { name: 'acme-batch', sha256: ACME, hosts: ['payments.example.com'], paths: ['/ledger/'], notAfter: '2027-01-31T23:59:59Z' },
    { name: 'partner-ns', uriSanPrefix: 'spiffe://partner.example/ns/bank/' },
    { name: 'legacy', subject: 'O=test,CN=curl.example.com' },
    { name: 'client-dns', dnsSan: 'client.example.com' },
    { name: 'by-cn', cn: 'test.client' },
    { name: 'temporary', cn: 'temp', notBefore: '2026-12-01T00:00:00Z', notAfter: '2026-12-31T23:59:59Z' },
  ],
  deny: [
    { name: 'leaked-key-2026-11', sha256: LEAKED },
    { name: 'no-teapot', cn: 'test.client', paths: ['/status/418'] },
  ],
  identityHeader: 'x-client-identity',
};

const NOW = new Date('2026-11-22T12:00:00Z');

interface Peer {
  sha256?: string;
  subject?: string;
  uriSans?: string[];
  dnsSans?: string[];
}

const peer = ({ sha256 = STRANGER, subject = 'CN=stranger', uriSans = [], dnsSans = [] }: Peer = {}): Connection => mtls({ sha256, subject, uriSans, dnsSans });

async function filter(config: object = POLICY): Promise<EnvoyHost> {
  const host = await EnvoyHost.load(MODULE, { now: BigInt(NOW.getTime()) * 1_000_000n });
  assert.equal(host.configure(JSON.stringify(config)), true, JSON.stringify(host.logsAtLeast('warn')));
  host.clearLogs();
  return host;
}

function send(host: EnvoyHost, connection: Connection, spec: Partial<RequestSpec> = {}): RequestOutcome {
  return host.request({ connection, authority: 'payments.example.com', path: '/ledger/x', ...spec });
}

function decision(outcome: RequestOutcome): string {
  if (outcome.action === 'continued') {
    const identity = outcome.upstreamHeaders?.find(([k]) => k === 'x-client-identity')?.[1];
    return identity === undefined ? 'continued' : `allow:${identity}`;
  }
  return outcome.response.details.replace(/^cert_allowlist_/, '');
}

function assertClean(host: EnvoyHost): void {
  assert.deepEqual(host.logsAtLeast('error'), []);
  assert.equal(host.vmFailed, false);
}

function counters(host: EnvoyHost): Record<string, bigint> {
  const names = ['allowed', 'denied', 'dry_run_denied', ...REASONS.map((r) => `denied.${r}`)];
  return Object.fromEntries(names.map((n) => [n, host.metric(`cert_allowlist.${n}`) ?? -1n]));
}

describe('the decision, row by row', () => {
  const rows: [string, Connection, Partial<RequestSpec>, string][] = [
    ['a listed fingerprint inside its host and path', peer({ sha256: ACME }), {}, 'allow:acme-batch'],
    ['a listed fingerprint outside its paths', peer({ sha256: ACME }), { path: '/admin' }, 'not_allowed'],
    ['a listed fingerprint on another in-scope host', peer({ sha256: ACME }), { authority: 'api.bank.example' }, 'not_allowed'],
    ['a URI SAN under the partner prefix (first SAN)', peer({ uriSans: ['spiffe://partner.example/ns/bank/sa/x'] }), {}, 'allow:partner-ns'],
    ['an exact subject', peer({ subject: 'O=test,CN=curl.example.com' }), {}, 'allow:legacy'],
    ['a DNS SAN', peer({ dnsSans: ['client.example.com'] }), {}, 'allow:client-dns'],
    ['a CN', peer({ subject: 'CN=test.client,O=test' }), {}, 'allow:by-cn'],
    ['a CN on the one denied path', peer({ subject: 'CN=test.client,O=test' }), { path: '/status/418' }, 'denied_by_rule'],
    ['the denied path spelled with dot segments', peer({ subject: 'CN=test.client' }), { path: '/status/%2e%2e/status/418' }, 'denied_by_rule'],
    ['the denied path spelled with double slashes', peer({ subject: 'CN=test.client' }), { path: '//status/418' }, 'denied_by_rule'],
    ['the denied path spelled with %2F', peer({ subject: 'CN=test.client' }), { path: '/status%2F418' }, 'denied_by_rule'],
    ['a CN on a neighbouring path', peer({ subject: 'CN=test.client' }), { path: '/status/4180' }, 'allow:by-cn'],
    ['a leaked key that also has an allowed CN (deny beats allow)', peer({ sha256: LEAKED, subject: 'CN=test.client' }), {}, 'denied_by_rule'],
    ['an unknown certificate', peer(), {}, 'not_allowed'],
    ['TLS without a client certificate', tls(), {}, 'no_client_certificate'],
    ['plaintext', plaintext(), {}, 'no_client_certificate'],
    ["a host outside the filter's hosts", plaintext(), { authority: 'www.example.com' }, 'continued'],
    ['an in-scope host written with port, case and trailing dot', plaintext(), { authority: 'PAYMENTS.example.com.:443' }, 'no_client_certificate'],
  ];
  for (const [name, connection, spec, expected] of rows) {
    it(`${expected.startsWith('allow') || expected === 'continued' ? 'lets through' : 'denies'} ${name}: ${expected}`, async () => {
      const host = await filter();
      assert.equal(decision(send(host, connection, spec)), expected);
      assertClean(host);
    });
  }
});

describe("validity windows follow the filter's clock", () => {
  it('allows a temporary rule only inside its window', async () => {
    const host = await filter();
    const temp = peer({ subject: 'CN=temp' });
    assert.equal(decision(send(host, temp)), 'not_allowed');
    host.setTime(new Date('2026-12-01T00:00:00Z'));
    assert.equal(decision(send(host, temp)), 'allow:temporary');
    host.setTime(new Date('2026-12-31T23:59:59Z'));
    assert.equal(decision(send(host, temp)), 'allow:temporary');
    host.setTime(new Date('2027-01-01T00:00:00Z'));
    assert.equal(decision(send(host, temp)), 'not_allowed');
  });
  it("ends the batch job's access after its notAfter", async () => {
    const host = await filter();
    host.setTime(new Date('2027-02-01T00:00:00Z'));
    assert.equal(decision(send(host, peer({ sha256: ACME }))), 'not_allowed');
  });
});

// Real certificates for the XFCC cases: what a rule may see comes from a certificate that the
// connection's digest (or an element's Hash) proves, never from XFCC's text.
const pki = testPki([]);
const make = (name: string, subject: string, uris: string[]): CertificateFacts => {
  craft(pki, { name, subject: [[text(Attribute.CN, subject)]], sans: uris.map(uri) });
  return certificateFacts(new X509Certificate(readFileSync(pki.cert(name))));
};
const MULTI = make('multi', 'multi', ['spiffe://other.example/x', 'spiffe://partner.example/ns/bank/sa/y']);
const EXTERNAL = make('external', 'external', ['spiffe://cluster.local/external-client']);
const GATEWAY_PROXY = make('gateway', 'gateway', [GATEWAY_SA]);

describe('SANs in connection mode', () => {
  const multi = mtls(peerCertificate(MULTI));
  const xfcc = (value: string) => ({ headers: { 'x-forwarded-client-cert': value } });
  it("come, every one, from the certificate in the gateway's element, whose SHA-256 is the connection's", async () => {
    const host = await filter();
    assert.equal(decision(send(host, multi, xfcc(xfccElement(peerCertificate(MULTI))))), 'allow:partner-ns');
  });
  it("never come from URI= text, even in an element with the connection's Hash", async () => {
    const host = await filter();
    const text = `Hash=${MULTI.sha256};Subject="CN=multi";URI=spiffe://other.example/x;URI=spiffe://partner.example/ns/bank/sa/y`;
    assert.equal(decision(send(host, multi, xfcc(text))), 'not_allowed');
  });
  it('never come from a Cert= that is another certificate', async () => {
    const host = await filter();
    assert.equal(decision(send(host, multi, xfcc(xfccElement({ ...peerCertificate(MULTI), pem: EXTERNAL.pem })))), 'not_allowed');
  });
  it('are all a deny rule considers when the certificate is not there: one it cannot see counts as a match', async () => {
    const host = await filter({ ...POLICY, deny: [{ name: 'revoked', uriSan: 'spiffe://partner.example/ns/bank/sa/revoked' }] });
    assert.equal(decision(send(host, multi)), 'denied_by_rule');
    assert.equal(decision(send(host, multi, xfcc(xfccElement(peerCertificate(MULTI))))), 'allow:partner-ns');
  });
});

describe('identity from XFCC behind a trusted proxy (the sidecar case)', () => {
  const SIDECAR = {
    identitySource: 'xfcc',
    trustedProxies: [{ uriSan: GATEWAY_SA }],
    allow: [{ name: 'external', uriSan: 'spiffe://cluster.local/external-client' }],
    identityHeader: 'x-client-identity',
  };
  // The gateway set the client's element (SANITIZE_SET, with Cert=); the sidecar's Envoy appended the gateway's.
  const CLIENT = xfccElement(peerCertificate(EXTERNAL));
  const GATEWAY = xfccElement(peerCertificate(GATEWAY_PROXY), SIDECAR_DETAILS);
  const fromGateway = mtls(peerCertificate(GATEWAY_PROXY));
  const xfcc = (value: string) => ({ headers: { 'x-forwarded-client-cert': value } });

  it('resolves to the external client', async () => {
    const host = await filter(SIDECAR);
    assert.equal(decision(send(host, fromGateway, xfcc(`${CLIENT},${GATEWAY}`))), 'allow:external');
    assertClean(host);
  });
  it('denies XFCC on a connection without a client certificate as xfcc_untrusted', async () => {
    const host = await filter(SIDECAR);
    assert.equal(decision(send(host, tls(), xfcc(`${CLIENT},${GATEWAY}`))), 'xfcc_untrusted');
  });
  it("denies a last element that is not this connection's as xfcc_mismatch", async () => {
    const host = await filter(SIDECAR);
    assert.equal(decision(send(host, fromGateway, xfcc(`${GATEWAY},${CLIENT}`))), 'xfcc_mismatch');
  });
  it('denies a request without XFCC as xfcc_missing', async () => {
    const host = await filter(SIDECAR);
    assert.equal(decision(send(host, fromGateway)), 'xfcc_missing');
  });
  it('denies a chain of trusted proxies only as xfcc_missing', async () => {
    const host = await filter(SIDECAR);
    assert.equal(decision(send(host, fromGateway, xfcc(GATEWAY))), 'xfcc_missing');
  });
  it('denies a header Envoy would not write as xfcc_malformed', async () => {
    const host = await filter(SIDECAR);
    assert.equal(decision(send(host, fromGateway, xfcc(`${CLIENT},${GATEWAY},"`))), 'xfcc_malformed');
    assert.equal(decision(send(host, fromGateway, xfcc(`Subject=unquoted,${GATEWAY}`))), 'xfcc_malformed');
  });
  it('denies a client element without a certificate to prove it as xfcc_malformed', async () => {
    const host = await filter(SIDECAR);
    const text = `Hash=${EXTERNAL.sha256};Subject="CN=external";URI=spiffe://cluster.local/external-client`;
    assert.equal(decision(send(host, fromGateway, xfcc(`${text},${GATEWAY}`))), 'xfcc_malformed');
  });
  it('reads a second XFCC header as part of the same list', async () => {
    const host = await filter(SIDECAR);
    const outcome = send(host, fromGateway, {
      headers: [
        ['x-forwarded-client-cert', CLIENT],
        ['x-forwarded-client-cert', GATEWAY],
      ],
    });
    assert.equal(decision(outcome), 'allow:external');
  });
});

describe('the identity header', () => {
  it('is removed when the client sends it, even on a request out of scope', async () => {
    const host = await filter();
    const outcome = send(host, plaintext(), { authority: 'www.example.com', headers: { 'X-Client-Identity': 'acme-batch' } });
    assert.equal(outcome.action, 'continued');
    assert.equal(
      outcome.upstreamHeaders?.some(([k]) => k === 'x-client-identity'),
      false,
    );
  });
  it("carries the allowing rule's name, never the client's value", async () => {
    const host = await filter();
    const outcome = send(host, peer({ sha256: ACME }), { headers: { 'x-client-identity': 'admin' } });
    assert.deepEqual(
      outcome.upstreamHeaders?.filter(([k]) => k === 'x-client-identity'),
      [['x-client-identity', 'acme-batch']],
    );
  });
});

describe('dry-run', () => {
  it('lets a denied request through, logs and counts it, and sets no identity header', async () => {
    const host = await filter({ ...POLICY, mode: 'dry-run' });
    const outcome = send(host, peer(), { headers: { 'x-client-identity': 'forged' } });
    assert.equal(outcome.action, 'continued');
    assert.equal(
      outcome.upstreamHeaders?.some(([k]) => k === 'x-client-identity'),
      false,
    );
    assert.match(outcome.logs.find((l) => l.level === 'info')?.message ?? '', /^cert-allowlist: deny reason=not_allowed .* mode=dry-run$/);
    assert.equal(host.metric('cert_allowlist.dry_run_denied'), 1n);
    assert.equal(host.metric('cert_allowlist.denied'), 0n);
    assertClean(host);
  });
  it('still sets the identity header on an allowed request', async () => {
    const host = await filter({ ...POLICY, mode: 'dry-run' });
    assert.equal(decision(send(host, peer({ sha256: ACME }))), 'allow:acme-batch');
  });
});

describe('the deny reply', () => {
  it('is 403 with the default body and details naming the reason', async () => {
    const host = await filter();
    const outcome = send(host, peer());
    assert.deepEqual(outcome.localReply, {
      status: 403,
      details: 'cert_allowlist_not_allowed',
      body: 'client certificate not authorized\n',
      headers: [['content-type', 'text/plain']],
      grpcStatus: -1,
    });
  });
  it('follows denyResponse, with the reason header when asked', async () => {
    const host = await filter({ ...POLICY, denyResponse: { status: 401, body: '<p>no</p>', contentType: 'text/html', includeReason: true } });
    const outcome = send(host, tls());
    assert.deepEqual(outcome.localReply, {
      status: 401,
      details: 'cert_allowlist_no_client_certificate',
      body: '<p>no</p>',
      headers: [
        ['content-type', 'text/html'],
        ['x-cert-allowlist-reason', 'no_client_certificate'],
      ],
      grpcStatus: -1,
    });
  });
});

describe('metrics', () => {
  it('count every request in scope exactly once', async () => {
    const host = await filter();
    const connections = [peer({ sha256: ACME }), peer(), tls(), plaintext(), peer({ sha256: LEAKED }), peer({ subject: 'CN=test.client' })];
    for (let i = 0; i < 600; i++) send(host, connections[i % connections.length]);
    for (let i = 0; i < 50; i++) send(host, peer(), { authority: 'www.example.com' });
    const c = counters(host);
    assert.equal(c.allowed + c.denied + c.dry_run_denied, 600n);
    assert.equal(c.allowed, 200n);
    assert.equal(
      REASONS.reduce((sum, r) => sum + c[`denied.${r}`], 0n),
      c.denied,
    );
    assert.equal(c['denied.no_client_certificate'], 200n);
    assert.equal(c['denied.denied_by_rule'], 100n);
    assert.equal(host.metric('cert_allowlist.rules'), 8n);
    assertClean(host);
  });
});

describe('the deny log line', () => {
  it('says who was refused and why, in one info line', async () => {
    const host = await filter();
    const outcome = send(host, peer({ subject: 'CN=stranger', uriSans: ['spiffe://x/y'] }), { path: '/ledger/x?q=1' });
    assert.deepEqual(
      outcome.logs.map((l) => [l.level, l.message]),
      [
        [
          'info',
          `cert-allowlist: deny reason=not_allowed rule="" sha256=${STRANGER} uri_san="spiffe://x/y" subject="CN=stranger" host="payments.example.com" path="/ledger/x?q=1" mode=enforce`,
        ],
      ],
    );
  });
  it('names the deny rule', async () => {
    const host = await filter();
    assert.match(send(host, peer({ sha256: LEAKED })).logs[0].message, / reason=denied_by_rule rule="leaked-key-2026-11" /);
  });
  it('escapes what the client controls so no line can be forged', async () => {
    const host = await filter();
    const outcome = send(host, tls(), { path: `/x"\n2026 cert-allowlist: allow\\${'a'.repeat(400)}` });
    const [line] = outcome.logs.map((l) => l.message);
    assert.doesNotMatch(line, /\n/);
    assert.match(line, /path="\/x\\"\\x0a2026 cert-allowlist: allow\\\\a+"… mode=enforce$/);
  });
  it('is not written for an allowed request', async () => {
    const host = await filter();
    assert.deepEqual(
      send(host, peer({ sha256: ACME })).logs.filter((l) => l.level !== 'trace' && l.level !== 'debug'),
      [],
    );
  });
});

describe('configuration updates', () => {
  it('reject a configuration whose self-test fails, and keep the previous one serving', async () => {
    const host = await filter();
    const broken = { ...POLICY, selfTests: [{ name: 'partner allowed', request: { uriSans: ['spiffe://partner.example/ns/other/x'] }, expect: 'allow' }] };
    assert.equal(host.configure(JSON.stringify(broken)), false);
    assert.deepEqual(
      host.logsAtLeast('error').map((l) => l.message),
      ['cert-allowlist: rejected configuration: selfTests[0]: self-test "partner allowed" expected allow, got deny (no_client_certificate)'],
    );
    assert.equal(decision(send(host, peer({ sha256: ACME }))), 'allow:acme-batch');
  });
  it('give the same answer whenever a VM loads them: self-tests never read the clock', async () => {
    // Envoy loads a configuration in a canary, then in every worker, and again after a restart or a
    // VM reload; a worker that refuses what the canary accepted runs without the filter.
    const windowed = { allow: [{ name: 'temp', cn: 'x', notAfter: '2027-01-31T23:59:59Z' }] };
    const unpinned = { ...windowed, selfTests: [{ name: 'x may post', request: { subject: 'CN=x' }, expect: 'allow' }] };
    const pinned = { ...windowed, selfTests: [{ name: 'x may post', request: { subject: 'CN=x', at: '2027-01-01T00:00:00Z' }, expect: 'allow' }] };
    for (const year of [2026, 2031]) {
      const host = await EnvoyHost.load(MODULE, { now: BigInt(Date.UTC(year, 0, 1)) * 1_000_000n });
      assert.equal(host.configure(JSON.stringify(unpinned)), false, `${year}`);
      assert.match(host.logsAtLeast('error')[0].message, /expected allow, got deny \(not_allowed\) at 2027-01-31T23:59:59\.001Z/);
      assert.equal(host.configure(JSON.stringify(pinned)), true, `${year}`);
    }
  });
  it('apply a new deny rule to the next request', async () => {
    const host = await filter();
    assert.equal(host.configure(JSON.stringify({ ...POLICY, deny: [{ name: 'acme-revoked', sha256: ACME }] })), true);
    assert.equal(decision(send(host, peer({ sha256: ACME }))), 'denied_by_rule');
  });
});
