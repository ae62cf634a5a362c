// Rules read from the client certificate itself — SPKI pins, email and IP SANs — with certificates
// made by openssl (RSA, ECDSA, Ed25519; twenty SANs of each kind), through XFCC's Cert= or a newer
// Envoy's peer_certificate, on the compiled module. A certificate is used only when its SHA-256 is
// the hash that vouches for it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { EnvoyHost, mtls, type HostOptions } from '../host/index.js';
import { xfccElement } from '../host/xfcc.js';
import { certificateFacts, peerCertificate, type CertificateFacts } from '../host/certificate.js';
import { authority } from '../demo/pki.js';

const MODULE = new URL('../build/cert-allowlist.wasm', import.meta.url).pathname;
let dir: string;
const certs: Record<string, CertificateFacts> = {};

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function issue(name: string, key: string, sans: string[], serial: string): void {
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${sans.join(',')}\n`);
  openssl(['req', '-new', '-key', key, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  openssl([
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-days',
    '30',
    '-out',
    `${name}.crt`,
    '-extfile',
    `${name}.ext`,
    '-set_serial',
    serial,
  ]);
  certs[name] = certificateFacts(new X509Certificate(readFileSync(join(dir, `${name}.crt`))));
}

// openssl's own SPKI pin: SHA-256 of the DER public key, base64.
function opensslSpki(name: string): string {
  return execFileSync(
    'sh',
    ['-c', `openssl x509 -in '${name}.crt' -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64`],
    { cwd: dir, encoding: 'utf8' },
  ).trim();
}

const MANY = Array.from({ length: 20 }, (_, i) => i + 1);
const SANS = [
  ...MANY.map((i) => `URI:spiffe://bank.example/client/${i}`),
  ...MANY.map((i) => `DNS:c${i}.bank.example`),
  ...MANY.map((i) => `email:ops${i}@bank.example`),
  ...MANY.map((i) => `IP:10.0.0.${i}`),
  'IP:2001:db8::1',
];

function issueBy(ca: string, name: string, key: string, subject: string, serial: string): void {
  writeFileSync(join(dir, `${name}.ext`), 'subjectAltName=DNS:x.example\n');
  openssl(['req', '-new', '-key', key, '-out', `${name}.csr`, '-subj', subject, '-utf8']);
  openssl([
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-days',
    '30',
    '-out',
    `${name}.crt`,
    '-extfile',
    `${name}.ext`,
    '-set_serial',
    serial,
  ]);
  certs[name] = certificateFacts(new X509Certificate(readFileSync(join(dir, `${name}.crt`))));
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cert-allowlist-cert-'));
  authority(dir, 'ca', '/CN=ca', 30);
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'rsa.key']);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', 'ec.key']);
  openssl(['genpkey', '-algorithm', 'ED25519', '-out', 'ed.key']);
  issue('rsa', 'rsa.key', SANS, '0x0123456789abcdef0123456789abcdef01234567');
  issue('rsa-renewed', 'rsa.key', ['URI:spiffe://bank.example/client/1'], '2');
  issue('ecdsa', 'ec.key', ['email:one@bank.example', 'IP:192.168.1.7'], '3');
  issue('ed25519', 'ed.key', ['DNS:ed.bank.example'], '4');
  // An issuer whose name needs every RFC 2253 escape, UTF-8 and a multi-valued RDN.
  authority(dir, 'odd-ca', '/C=DE/O=Bänk\\, "Quote" <x>;y\\+z+OU=Zürich/CN=#Odd CA ', 30);
  issueBy('odd-ca', 'high-serial', 'ec.key', '/CN=high', '0xfedcba98765432100123456789abcdef00112233');
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function filter(config: object, options: HostOptions = {}): Promise<EnvoyHost> {
  const host = await EnvoyHost.load(MODULE, { canary: false, ...options });
  assert.equal(host.configure(JSON.stringify({ identityHeader: 'x-client-identity', ...config })), true, JSON.stringify(host.logsAtLeast('error')));
  return host;
}

// A request from `name`'s certificate, behind an Istio gateway (XFCC with Cert=).
function behindGateway(host: EnvoyHost, name: string, xfcc = xfccElement(peerCertificate(certs[name]))): string {
  const c = certs[name];
  const outcome = host.request({ connection: mtls(peerCertificate(c)), headers: { 'x-forwarded-client-cert': xfcc } });
  return outcome.action === 'continued' ? outcome.upstreamHeaders!.find(([k]) => k === 'x-client-identity')![1] : outcome.response.details;
}

describe('SPKI pins', () => {
  it("equal openssl's pin for RSA, ECDSA and Ed25519 keys", async () => {
    for (const name of ['rsa', 'ecdsa', 'ed25519']) {
      const host = await filter({ allow: [{ name: 'pinned', spki: opensslSpki(name) }] });
      assert.equal(behindGateway(host, name), 'pinned', name);
    }
  });
  it('survive renewal with the same key, and refuse another key', async () => {
    const host = await filter({ allow: [{ name: 'pinned', spki: opensslSpki('rsa') }] });
    assert.equal(behindGateway(host, 'rsa'), 'pinned');
    assert.equal(behindGateway(host, 'rsa-renewed'), 'pinned');
    assert.equal(behindGateway(host, 'ecdsa'), 'cert_allowlist_not_allowed');
  });
  it('are never taken from a Cert= whose hash is not the Hash', async () => {
    const host = await filter({ allow: [{ name: 'pinned', spki: opensslSpki('rsa') }] });
    // The connection is ecdsa's; its XFCC element carries rsa's certificate.
    const forged = xfccElement({ ...peerCertificate(certs.ecdsa), pem: certs.rsa.pem });
    assert.equal(behindGateway(host, 'ecdsa', forged), 'cert_allowlist_not_allowed');
  });
  it('answer the same once a certificate has been read: the same text again, never another', async () => {
    // Certificates are remembered by digest and text; none of this may change an answer.
    const host = await filter({ allow: [{ name: 'pinned', spki: opensslSpki('rsa') }] });
    for (let i = 0; i < 3; i++) assert.equal(behindGateway(host, 'rsa'), 'pinned');
    assert.equal(
      behindGateway(host, 'ecdsa', xfccElement({ ...peerCertificate(certs.ecdsa), pem: certs.rsa.pem })),
      'cert_allowlist_not_allowed',
      'another connection presenting the remembered text',
    );
    const rsa = certs.rsa;
    const bare = host.request({ connection: mtls(peerCertificate(rsa)) });
    assert.equal(bare.response.details, 'cert_allowlist_not_allowed', 'the remembered certificate without its text in this request');
    assert.equal(behindGateway(host, 'rsa'), 'pinned');
  });
  it("are read from Envoy's peer_certificate where it exists, without XFCC", async () => {
    const host = await filter({ allow: [{ name: 'pinned', spki: opensslSpki('ed25519') }] }, { envoyVersion: '1.40.0' });
    const c = certs.ed25519;
    const outcome = host.request({ connection: mtls({ ...peerCertificate(c), uriSans: [], dnsSans: [] }) });
    assert.equal(outcome.action, 'continued');
    const older = await filter({ allow: [{ name: 'pinned', spki: opensslSpki('ed25519') }] });
    assert.equal(
      older.request({ connection: mtls({ ...peerCertificate(c), uriSans: [], dnsSans: [] }) }).action,
      'local_reply',
      'no attribute and no XFCC: no certificate to read',
    );
  });
  it("work in xfcc mode from the client's element, when its Cert matches its Hash", async () => {
    const gateway = 'ab'.repeat(32);
    const policy = { identitySource: 'xfcc', trustedProxies: [{ uriSan: 'spiffe://gw' }], allow: [{ name: 'pinned', spki: opensslSpki('ecdsa') }] };
    const host = await filter(policy);
    const request = (client: string) =>
      host.request({
        connection: mtls({ sha256: gateway, subject: '', uriSans: ['spiffe://gw'] }),
        headers: { 'x-forwarded-client-cert': `${client},Hash=${gateway};URI=spiffe://gw` },
      });
    assert.equal(request(xfccElement(peerCertificate(certs.ecdsa))).action, 'continued');
    assert.equal(request(xfccElement({ ...peerCertificate(certs.rsa), pem: certs.ecdsa.pem })).action, 'local_reply');
  });
});

describe('serial and issuer', () => {
  for (const name of ['rsa', 'ecdsa', 'ed25519', 'high-serial']) {
    it(`equal openssl's and inspect's, and match: ${name}`, async () => {
      const serial = openssl(['x509', '-in', `${name}.crt`, '-noout', '-serial'])
        .trim()
        .replace(/^serial=/, '');
      const issuer = openssl(['x509', '-in', `${name}.crt`, '-noout', '-issuer', '-nameopt', 'RFC2253'])
        .trim()
        .replace(/^issuer=/, '');
      assert.equal(certs[name].serial, serial, 'inspect agrees with openssl');
      assert.equal(certs[name].issuer, issuer, 'inspect agrees with openssl');
      const host = await filter({ deny: [{ name: 'revoked', serial, issuer }], allow: [{ name: 'anyone', issuer }] });
      assert.equal(behindGateway(host, name), 'cert_allowlist_denied_by_rule');
      const other = await filter({ deny: [{ name: 'revoked', serial: '01', issuer }], allow: [{ name: 'anyone', issuer }] });
      assert.equal(behindGateway(other, name), 'anyone');
    });
  }
  it('accept a serial written with colons and a leading 00 byte', async () => {
    const issuer = certs['high-serial'].issuer;
    const host = await filter({ allow: [{ name: 'by-serial', serial: `00:${certs['high-serial'].serial.match(/../g)!.join(':').toLowerCase()}`, issuer }] });
    assert.equal(behindGateway(host, 'high-serial'), 'by-serial');
  });
  it('refuse a serial without its issuer', async () => {
    const host = await EnvoyHost.load(MODULE, { canary: false });
    assert.equal(host.configure(JSON.stringify({ allow: [{ name: 'a', serial: '0A' }] })), false);
    assert.match(host.logsAtLeast('error')[0].message, /allow\[0\]\.serial: needs issuer too/);
  });
});

describe('expiry warnings', () => {
  it('count allowed requests whose certificate expires within the window, and warn once per certificate per hour', async () => {
    const host = await filter({ expiryWarningDays: 60, allow: [{ name: 'anyone', issuer: certs.rsa.issuer }] });
    const warnings = () => host.logs.filter((l) => l.message.startsWith('cert-allowlist: certificate expiring'));
    host.setTime(new Date());
    behindGateway(host, 'rsa');
    behindGateway(host, 'rsa');
    behindGateway(host, 'ecdsa');
    assert.equal(host.metric('cert_allowlist.expiring'), 3n);
    assert.equal(warnings().length, 2, 'one per certificate');
    const notAfter = new Date(
      openssl(['x509', '-in', 'rsa.crt', '-noout', '-enddate'])
        .trim()
        .replace(/^notAfter=/, ''),
    ).toISOString();
    assert.match(
      warnings()[0].message,
      new RegExp(`rule="anyone" sha256=${certs.rsa.sha256} subject="CN=rsa" not_after=${notAfter.replaceAll('.', '\\.')} days_left=(29|30)$`),
    );
    host.setTime(new Date(Date.now() + 2 * 3_600_000));
    behindGateway(host, 'rsa');
    assert.equal(warnings().length, 3, 'again after an hour');
    assert.equal(warnings()[0].level, 'warn');
  });
  it('stay quiet outside the window', async () => {
    const host = await filter({ expiryWarningDays: 10, allow: [{ name: 'anyone', issuer: certs.rsa.issuer }] });
    behindGateway(host, 'rsa');
    assert.equal(host.metric('cert_allowlist.expiring'), 0n);
  });
});

describe('SANs read from the certificate', () => {
  it('match every email and IP SAN of a certificate with twenty of each, as openssl lists them', async () => {
    const listed = openssl(['x509', '-in', 'rsa.crt', '-noout', '-ext', 'subjectAltName']);
    const emails = [...listed.matchAll(/email:([^,\s]+)/g)].map((m) => m[1]);
    const ips = [...listed.matchAll(/IP Address:([^,\s]+)/g)].map((m) => m[1]);
    assert.equal(emails.length, 20);
    assert.equal(ips.length, 21);
    // One rule per SAN, each scoped to its own path: every one must be found in the certificate.
    const host = await filter({
      allow: [
        ...emails.map((e, i) => ({ name: `email-${i}`, emailSan: e, paths: [`/email/${i}`] })),
        ...ips.map((ip, i) => ({ name: `ip-${i}`, ipSan: ip, paths: [`/ip/${i}`] })),
      ],
    });
    const c = certs.rsa;
    const send = (path: string) =>
      host.request({ path, connection: mtls(peerCertificate(c)), headers: { 'x-forwarded-client-cert': xfccElement(peerCertificate(c)) } });
    const identity = (path: string) => send(path).upstreamHeaders?.find(([k]) => k === 'x-client-identity')?.[1];
    for (let i = 0; i < emails.length; i++) assert.equal(identity(`/email/${i}`), `email-${i}`);
    for (let i = 0; i < ips.length; i++) assert.equal(identity(`/ip/${i}`), `ip-${i}`);
    assert.equal(identity('/elsewhere'), undefined);
    const only = await filter({
      allow: [
        { name: 'last-ip', ipSan: '2001:0db8:0:0:0:0:0:1' },
        { name: 'last-email', emailSan: emails[19] },
      ],
    });
    assert.equal(behindGateway(only, 'rsa'), 'last-ip');
    const mail = await filter({ allow: [{ name: 'last-email', emailSan: emails[19] }] });
    assert.equal(behindGateway(mail, 'rsa'), 'last-email');
    assert.equal(behindGateway(mail, 'ecdsa'), 'cert_allowlist_not_allowed');
  });
  it('include every URI and DNS SAN when Envoy provides peer_certificate, without XFCC', async () => {
    const host = await filter(
      { allow: [{ name: 'twentieth', uriSan: 'spiffe://bank.example/client/20', dnsSan: 'c20.bank.example' }] },
      { envoyVersion: '1.40.0' },
    );
    const c = certs.rsa;
    const outcome = host.request({ connection: mtls(peerCertificate(c)) });
    assert.equal(outcome.upstreamHeaders?.find(([k]) => k === 'x-client-identity')?.[1], 'twentieth');
    const older = await filter({ allow: [{ name: 'twentieth', uriSan: 'spiffe://bank.example/client/20' }] });
    assert.equal(
      older.request({ connection: mtls({ ...peerCertificate(c), dnsSans: [] }) }).action,
      'local_reply',
      'only the first SAN without XFCC or peer_certificate',
    );
  });
  it('refuse an ipSan that is not an address and an spki that is not a key hash', async () => {
    const host = await EnvoyHost.load(MODULE, { canary: false });
    assert.equal(host.configure(JSON.stringify({ allow: [{ name: 'a', ipSan: '10.0.0.256' }] })), false);
    assert.match(host.logsAtLeast('error')[0].message, /allow\[0\]\.ipSan: expected an IPv4 or IPv6 address, got "10\.0\.0\.256"/);
    assert.equal(host.configure(JSON.stringify({ allow: [{ name: 'a', spki: 'abc' }] })), false);
    assert.match(host.logsAtLeast('error')[1].message, /allow\[0\]\.spki: expected the base64 SHA-256 of a public key/);
  });
});

describe('malformed certificates', () => {
  it('never trap the filter: mutated DER and PEM in Cert= get exactly one of allow or deny', async () => {
    const host = await filter({
      allow: [
        { name: 'pinned', spki: opensslSpki('rsa') },
        { name: 'ip', ipSan: '10.0.0.1' },
      ],
    });
    const der = new X509Certificate(certs.rsa.pem).raw;
    const pemOf = (bytes: Buffer) => `-----BEGIN CERTIFICATE-----\n${bytes.toString('base64')}\n-----END CERTIFICATE-----\n`;
    await fc.assert(
      fc.property(fc.nat({ max: der.length - 1 }), fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.nat({ max: 3 }), (at, noise, how) => {
        const bytes = Buffer.from(der);
        let mutated: Buffer;
        if (how === 0) mutated = bytes.subarray(0, at);
        else if (how === 1) mutated = Buffer.concat([bytes.subarray(0, at), Buffer.from(noise), bytes.subarray(at + noise.length)]);
        else if (how === 2) mutated = Buffer.concat([bytes.subarray(0, at), Buffer.from(noise), bytes.subarray(at)]);
        else mutated = Buffer.from(pemOf(bytes).slice(0, at));
        const pem = how === 3 ? mutated.toString('latin1') : pemOf(mutated);
        // The hash vouches for the mutated bytes, so the filter really parses them.
        const sha256 = createHash('sha256').update(mutated).digest('hex');
        const outcome = host.request({
          connection: mtls({ sha256, subject: '' }),
          headers: { 'x-forwarded-client-cert': xfccElement({ sha256, subject: '', uriSans: [], dnsSans: [], pem }) },
        });
        assert.ok(outcome.action === 'continued' || outcome.response.status === 403);
        assert.equal(host.vmFailed, false);
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 3000) },
    );
    assert.deepEqual(host.logsAtLeast('error'), []);
  });
});
