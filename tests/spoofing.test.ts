// Every way a client could try to get in, each a named test expecting a denial (or no effect), on the
// compiled module. The README's security section lists them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvoyHost, mtls, plaintext, type Connection, type RequestOutcome, type RequestSpec } from '../host/index.js';

const MODULE = new URL('../build/cert-allowlist.wasm', import.meta.url).pathname;
const LISTED = '8d5816f39f390cb936cabe2151aee79d751830ea07dde2deb2900d8134edf7a7';
const OTHER_LISTED = '1111111111111111111111111111111111111111111111111111111111111111';
const ATTACKER = 'ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100';
const PARTNER_URI = 'spiffe://partner.example/ns/bank/sa/batch';
const GATEWAY_SA = 'spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account';

const GATEWAY_POLICY = {
  hosts: ['payments.example.com'],
  allow: [
    { name: 'listed', sha256: LISTED },
    { name: 'other-listed', sha256: OTHER_LISTED, paths: ['/other/'] },
    { name: 'partner', uriSan: PARTNER_URI },
    { name: 'admin', cn: 'admin' },
    { name: 'temporary', cn: 'temp', notBefore: '2026-12-01T00:00:00Z', notAfter: '2026-12-31T23:59:59Z' },
  ],
  deny: [{ name: 'no-teapot', sha256: LISTED, paths: ['/status/418'] }],
  identityHeader: 'x-client-identity',
};

const SIDECAR_POLICY = {
  identitySource: 'xfcc',
  trustedProxies: [{ uriSan: GATEWAY_SA }],
  allow: [{ name: 'partner', uriSan: PARTNER_URI }],
  identityHeader: 'x-client-identity',
};

const attacker = (extra: Partial<{ subject: string; uriSans: string[] }> = {}): Connection =>
  mtls({ sha256: ATTACKER, subject: 'CN=attacker', uriSans: ['spiffe://evil.example/sa/x'], dnsSans: [], ...extra });

async function filter(policy: object): Promise<EnvoyHost> {
  const host = await EnvoyHost.load(MODULE, { now: BigInt(Date.parse('2026-11-22T00:00:00Z')) * 1_000_000n });
  assert.equal(host.configure(JSON.stringify(policy)), true);
  return host;
}

function send(host: EnvoyHost, connection: Connection, spec: Partial<RequestSpec> = {}): RequestOutcome {
  return host.request({ connection, authority: 'payments.example.com', path: '/ledger/x', ...spec });
}

function assertDenied(outcome: RequestOutcome, reason: string): void {
  assert.equal(outcome.action, 'local_reply', 'the request went through');
  assert.equal(outcome.response.details, `cert_allowlist_${reason}`);
}

describe('spoofing a connection-mode gateway with XFCC', () => {
  const smuggle = (hash: string | null) => ({ headers: { 'x-forwarded-client-cert': `${hash ? `Hash=${hash};` : ''}URI=${PARTNER_URI}` } });
  it('a wrong Hash smuggles no SAN', async () => {
    assertDenied(send(await filter(GATEWAY_POLICY), attacker(), smuggle(LISTED)), 'not_allowed');
  });
  it('a missing Hash smuggles no SAN', async () => {
    assertDenied(send(await filter(GATEWAY_POLICY), attacker(), smuggle(null)), 'not_allowed');
  });
  it('the Hash of another listed certificate smuggles no SAN and no fingerprint', async () => {
    assertDenied(send(await filter(GATEWAY_POLICY), attacker(), smuggle(OTHER_LISTED)), 'not_allowed');
  });
  it('an XFCC element appended after the gateway\'s own changes nothing', async () => {
    const xfcc = `Hash=${ATTACKER};URI=spiffe://evil.example/sa/x,Hash=${LISTED};URI=${PARTNER_URI}`;
    assertDenied(send(await filter(GATEWAY_POLICY), attacker(), { headers: { 'x-forwarded-client-cert': xfcc } }), 'not_allowed');
  });
  it('a certificate whose first URI SAN is not the listed one is not allowed by its later SANs without the gateway\'s XFCC', async () => {
    assertDenied(send(await filter(GATEWAY_POLICY), attacker({ uriSans: ['spiffe://evil.example/sa/x', PARTNER_URI] })), 'not_allowed');
  });
});

describe('spoofing a sidecar in xfcc mode', () => {
  const client = `Hash=${LISTED};Subject="CN=partner";URI=${PARTNER_URI}`;
  it('XFCC on a plaintext connection is untrusted', async () => {
    assertDenied(send(await filter(SIDECAR_POLICY), plaintext(), { headers: { 'x-forwarded-client-cert': client } }), 'xfcc_untrusted');
  });
  it('a forged trusted-proxy element with the attacker\'s own hash is a mismatch', async () => {
    const forged = `${client},Hash=${ATTACKER};Subject="CN=attacker";URI=${GATEWAY_SA}`;
    assertDenied(send(await filter(SIDECAR_POLICY), attacker(), { headers: { 'x-forwarded-client-cert': forged } }), 'xfcc_mismatch');
  });
  it('a forged trusted-proxy element before our own Envoy\'s is judged as a client, and denied', async () => {
    const chain = `${client},Hash=${LISTED};URI=${GATEWAY_SA},Hash=${ATTACKER};Subject="CN=attacker";URI=spiffe://evil.example/sa/x`;
    assertDenied(send(await filter(SIDECAR_POLICY), attacker(), { headers: { 'x-forwarded-client-cert': chain } }), 'not_allowed');
  });
  it('a second XFCC header cannot hide the real last element', async () => {
    const ours = `Hash=${ATTACKER};Subject="CN=attacker";URI=spiffe://evil.example/sa/x`;
    const outcome = send(await filter(SIDECAR_POLICY), attacker(), { headers: [['x-forwarded-client-cert', ours], ['x-forwarded-client-cert', client]] });
    assertDenied(outcome, 'xfcc_mismatch');
  });
});

describe('headers the client controls', () => {
  it('the identity header sent by the client never reaches the upstream', async () => {
    const outcome = send(await filter(GATEWAY_POLICY), attacker(), { headers: { 'x-client-identity': 'listed' } });
    assertDenied(outcome, 'not_allowed');
    const allowed = send(await filter(GATEWAY_POLICY), mtls({ sha256: LISTED, subject: '' }), { headers: { 'X-Client-Identity': 'admin' } });
    assert.deepEqual(allowed.upstreamHeaders?.filter(([k]) => k === 'x-client-identity'), [['x-client-identity', 'listed']]);
  });
});

describe('host tricks stay in scope', () => {
  for (const authority of ['payments.example.com:443', 'PAYMENTS.EXAMPLE.COM', 'payments.example.com.', 'user@payments.example.com', 'Payments.Example.Com.:8443']) {
    it(`:authority ${JSON.stringify(authority)} is the protected host`, async () => {
      assertDenied(send(await filter(GATEWAY_POLICY), attacker(), { authority }), 'not_allowed');
    });
  }
  it('an IPv6 literal is a host of its own, never a wildcard match', async () => {
    const host = await filter({ ...GATEWAY_POLICY, hosts: ['[::1]'] });
    assertDenied(send(host, attacker(), { authority: '[::1]:443' }), 'not_allowed');
  });
  it('a second Host header beside :authority changes nothing: the filter reads :authority, as Envoy routes by it', async () => {
    assertDenied(send(await filter(GATEWAY_POLICY), attacker(), { headers: { host: 'www.example.com' } }), 'not_allowed');
  });
});

describe('path tricks cannot slip past a deny rule', () => {
  for (const path of ['/status/418', '/status%2F418', '/status/%2e%2e/status/418', '/status/%2E/418', '/./status/418', '//status//418', '/status;jsessionid=1/418',
    '/status/418;x', '/status/418?x=/ok', '/status/418#top', '/x/../status/418', '/%73tatus/418']) {
    it(`${path} is /status/418`, async () => {
      assertDenied(send(await filter(GATEWAY_POLICY), mtls({ sha256: LISTED, subject: '' }), { path }), 'denied_by_rule');
    });
  }
});

describe('identity tricks', () => {
  it('an escaped comma cannot fake a CN=', async () => {
    assertDenied(send(await filter(GATEWAY_POLICY), attacker({ subject: 'O=evil\\,CN=admin,C=US' })), 'not_allowed');
  });
  it('a CN in another attribute\'s quoted value is not the CN', async () => {
    assertDenied(send(await filter(GATEWAY_POLICY), attacker({ subject: 'O="evil,CN=admin",C=US' })), 'not_allowed');
  });
  it('a rule outside its validity window does not allow', async () => {
    const host = await filter(GATEWAY_POLICY);
    assertDenied(send(host, attacker({ subject: 'CN=temp' })), 'not_allowed');
    host.setTime(new Date('2027-01-01T00:00:00Z'));
    assertDenied(send(host, attacker({ subject: 'CN=temp' })), 'not_allowed');
    host.setTime(new Date('2026-12-15T00:00:00Z'));
    assert.equal(send(host, attacker({ subject: 'CN=temp' })).action, 'continued');
  });
  it('another listed fingerprint does not open a path scoped to it', async () => {
    assertDenied(send(await filter(GATEWAY_POLICY), mtls({ sha256: OTHER_LISTED, subject: '' }), { path: '/ledger/x' }), 'not_allowed');
  });
});
