// The attacker whose CA signs what they ask for: SANs holding ';' ',' '"' or edge spaces, several CNs,
// names in every string type. Against real Envoy (every pinned release): at the gateway in connection
// mode, and at a sidecar behind it in xfcc mode — where Envoy writes those SANs into XFCC unescaped.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { DEMO_CLIENTS, issueClient } from '../../demo/pki.js';
import { ENVOY_VERSIONS } from '../../envoy/install.js';
import type { EnvoyConfig } from '../../envoy/render.js';
import { Attribute, StringTag, craft, text, uri } from '../support/der.js';
import { TestProxy } from '../support/envoy.js';
import { GATEWAY_SPIFFE, TEST_CLIENTS, testPki } from '../support/pki.js';
import { type Mesh, startMesh } from '../support/sidecar.js';

const pki = testPki();
const certificate = (client: string) => new X509Certificate(readFileSync(pki.cert(client)));
const sha256 = (client: string) => certificate(client).fingerprint256.replaceAll(':', '').toLowerCase();
const BANK = 'spiffe://demo.local/ns/bank/sa/batch';

// SANs that change how Envoy's XFCC reads.
issueClient(pki.dir, { name: 'adds-a-san', subject: '/CN=attacker', sans: [['URI', `spiffe://demo.local/ns/other/sa/attacker;URI=${BANK}`]], purpose: '' });
const victim = `Hash=${sha256('allowed')};Cert="${encodeURIComponent(certificate('allowed').toString())}";Subject="CN=batch.demo.local,O=Demo Bank";URI=${BANK}`;
issueClient(pki.dir, {
  name: 'forges-an-element',
  subject: '/CN=attacker',
  sans: [['URI', `spiffe://demo.local/ns/other/sa/attacker,${victim}`]],
  purpose: '',
});
issueClient(pki.dir, { name: 'leading-space', subject: '/CN=attacker', sans: [['URI', ` ${BANK}`]], purpose: '' });
issueClient(pki.dir, { name: 'trailing-space', subject: '/CN=attacker', sans: [['URI', `${BANK} `]], purpose: '' });
issueClient(pki.dir, { name: 'quoted', subject: '/CN=attacker', sans: [['URI', `"${BANK}"`]], purpose: '' });
issueClient(pki.dir, {
  name: 'hides-a-san',
  subject: '/CN=revoked',
  sans: [
    ['URI', 'spiffe://demo.local/ns/bank/sa/ok'],
    ['URI', 'spiffe://demo.local/ns/bank/sa/revoked'],
    ['URI', '"unbalanced'],
  ],
  purpose: '',
});
// Several CNs, and a CN in a multi-valued RDN.
issueClient(pki.dir, { name: 'two-cns', subject: '/CN=stranger/CN=batch.demo.local', sans: [['URI', BANK]], purpose: '' });
craft(pki, { name: 'cn-with-o', subject: [[text(Attribute.CN, 'batch.demo.local'), text(Attribute.O, 'x')]], sans: [uri(BANK)] });
// A CN= inside another attribute's value, as RFC 2253 escapes it and as a reader that honours quotes would take it.
craft(pki, { name: 'cn-in-o', subject: [[text(Attribute.O, 'evil,CN=batch.demo.local')], [text(Attribute.CN, 'attacker')]], sans: [uri(BANK)] });
craft(pki, { name: 'cn-in-quotes', subject: [[text(Attribute.O, '"evil,CN=batch.demo.local"')], [text(Attribute.CN, 'attacker')]], sans: [uri(BANK)] });
// Names that are no valid string of their type: a code point past U+10FFFF, and bytes that are not UTF-8.
craft(pki, {
  name: 'invalid-universal',
  subject: [[{ type: Attribute.CN, tag: StringTag.Universal, value: Buffer.from([0xff, 0xff, 0xff, 0xff]) }]],
  sans: [uri(BANK)],
});
craft(pki, { name: 'invalid-utf8', subject: [[{ type: Attribute.CN, tag: StringTag.UTF8, value: Buffer.from([0xc0, 0xaf, 0xff]) }]], sans: [uri(BANK)] });
// Node's OpenSSL will not load such a certificate; GnuTLS sends it as it is. Its stdin stays open:
// at EOF it would close the connection before the answer; `Connection: close` ends the exchange.
function gnutls(port: number, client: string): Promise<string> {
  return new Promise((resolve) => {
    const args = ['--insecure', `--x509certfile=${pki.cert(client)}`, `--x509keyfile=${pki.key(client)}`, '-p', String(port), '127.0.0.1'];
    const child = execFile('gnutls-cli', args, { timeout: 10_000 }, (error, stdout, stderr) =>
      resolve(`${stdout}${stderr}${error ? `\n${error.message}` : ''}`),
    );
    child.stdin?.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  });
}
// Names in every string type OpenSSL-based clients can present, with bytes above 0x7f.
const STRINGS: [string, number, Buffer][] = [
  ['utf8', StringTag.UTF8, Buffer.from('Jürgen 日本', 'utf8')],
  ['t61', StringTag.T61, Buffer.from([0x4a, 0xfc, 0x72])],
  ['printable', StringTag.Printable, Buffer.from([0x4a, 0xfc, 0x72])],
  ['ia5', StringTag.IA5, Buffer.from([0x4a, 0xfc, 0x72, 0x7f])],
  ['bmp', StringTag.BMP, Buffer.from([0x00, 0x4a, 0x65, 0xe5, 0x00, 0x2c])],
  ['universal', StringTag.Universal, Buffer.from([0, 0, 0, 0x4a, 0, 1, 0xf6, 0x00])],
];
for (const [name, tag, value] of STRINGS) {
  // Each CA's name differs in ASCII too: names that differ only by string type are the same name to BoringSSL.
  craft(pki, { name: `${name}-ca`, authority: true, subject: [[text(Attribute.O, `Exotic ${name}`)], [{ type: Attribute.CN, tag, value }]] });
  craft(pki, { name: `${name}-client`, issuer: `${name}-ca`, subject: [[text(Attribute.O, 'Demo')], [{ type: Attribute.CN, tag, value }]], sans: [uri(BANK)] });
}
// The gateway trusts the demo CA and each exotic one.
const bundle = `${pki.dir}/bundle.crt`;
writeFileSync(bundle, [pki.ca, ...STRINGS.map(([name]) => pki.cert(`${name}-ca`))].map((file) => readFileSync(file, 'utf8')).join(''));
const trustBundle = (bootstrap: EnvoyConfig) => {
  bootstrap.static_resources.listeners[0].filter_chains[0].transport_socket.typed_config.common_tls_context.validation_context.trusted_ca.filename = bundle;
};

const BANK_PREFIX = { allow: [{ name: 'bank', uriSanPrefix: 'spiffe://demo.local/ns/bank/' }], identityHeader: 'x-client-identity' };
const subjectInXfcc = (xfcc: string | null) => /Subject="((?:[^"\\]|\\.)*)"/.exec(xfcc ?? '')?.[1];

for (const version of ENVOY_VERSIONS) {
  describe(`Envoy ${version}: an attacker with a crafted certificate, at the gateway (connection mode)`, () => {
    let gateway: TestProxy;
    before(async () => {
      gateway = await TestProxy.start({ version, configuration: JSON.stringify(BANK_PREFIX), pki, adjust: trustBundle });
    });
    after(async () => {
      await gateway?.stop();
    });
    const configure = async (config: unknown) => assert.ok((await gateway.push(JSON.stringify(config))).accepted);

    it("cannot add a SAN it does not have through ';' in XFCC's URI=", async () => {
      const exchange = await gateway.send({ as: 'adds-a-san', path: '/' });
      assert.match(
        exchange.access?.xfcc ?? '',
        /;URI=spiffe:\/\/demo\.local\/ns\/other\/sa\/attacker;URI=spiffe:\/\/demo\.local\/ns\/bank\/sa\/batch$/,
        'Envoy writes the SAN raw',
      );
      assert.equal(exchange.response.status, 403);
    });
    it('never matches a SAN trimmed or unquoted into equality', async () => {
      await configure({ allow: [{ name: 'batch', uriSan: BANK }] });
      for (const as of ['leading-space', 'trailing-space', 'quoted']) assert.equal((await gateway.send({ as, path: '/' })).response.status, 403, as);
    });
    it('never lets a SAN that breaks XFCC hide the others from a deny rule', async () => {
      await configure({ ...BANK_PREFIX, deny: [{ name: 'revoked', uriSan: 'spiffe://demo.local/ns/bank/sa/revoked' }] });
      const exchange = await gateway.send({ as: 'hides-a-san', path: '/' });
      assert.deepEqual([exchange.response.status, exchange.access?.details], [403, 'cert_allowlist_denied_by_rule']);
    });
    it('never allows by the CN of a subject with several, or of one in a multi-valued RDN; and denies by any of them', async () => {
      await configure({ allow: [{ name: 'by-cn', cn: 'batch.demo.local' }] });
      assert.equal((await gateway.send({ as: 'allowed', path: '/' })).response.status, 200, 'one CN of its own');
      assert.equal((await gateway.send({ as: 'two-cns', path: '/' })).response.status, 403);
      assert.equal((await gateway.send({ as: 'cn-with-o', path: '/' })).response.status, 403);
      await configure({ ...BANK_PREFIX, deny: [{ name: 'no-stranger', cn: 'stranger' }] });
      assert.equal((await gateway.send({ as: 'two-cns', path: '/' })).response.status, 403);
    });
    it('cannot fake a CN= inside the value of another attribute', async () => {
      await configure({ allow: [{ name: 'by-cn', cn: 'batch.demo.local' }] });
      for (const as of ['cn-in-o', 'cn-in-quotes']) {
        const exchange = await gateway.send({ as, path: '/' });
        assert.match(subjectInXfcc(exchange.access?.xfcc ?? null) ?? '', /^CN=attacker,O=\\?"?evil\\,CN=batch\.demo\.local/, `${as}: Envoy escapes the comma`);
        assert.deepEqual([exchange.response.status, exchange.access?.details], [403, 'cert_allowlist_not_allowed'], as);
      }
    });
    it('gets no HTTP response with a certificate whose names are no valid strings (BoringSSL refuses it)', async () => {
      await configure(BANK_PREFIX);
      const control = await gnutls(gateway.proxy.port, 'allowed');
      assert.match(control, /^HTTP\/1\.1 200 /m, `the client works: ${control}`);
      for (const as of ['invalid-universal', 'invalid-utf8']) {
        const output = await gnutls(gateway.proxy.port, as);
        assert.match(output, /Successfully sent 1 certificate/, `${as}: the certificate was sent`);
        assert.doesNotMatch(output, /^HTTP\//m, as);
        assert.match(output, /Received alert \[50\]: Decode error/, `${as}: Envoy's alert`);
      }
    });
    it('reads issuers of every string type as Envoy prints them, so a {serial, issuer} revocation meets the certificate', async () => {
      for (const [name] of STRINGS) {
        // Envoy prints the CA's subject — the clients' issuer — when the CA itself connects.
        const issuer = subjectInXfcc((await gateway.send({ as: `${name}-ca`, path: '/' })).access?.xfcc ?? null);
        assert.ok(issuer, `${name}: Envoy printed no subject`);
        await configure({ ...BANK_PREFIX, deny: [{ name: 'revoked', serial: certificate(`${name}-client`).serialNumber, issuer }] });
        const exchange = await gateway.send({ as: `${name}-client`, path: '/' });
        assert.deepEqual([exchange.response.status, exchange.access?.details], [403, 'cert_allowlist_denied_by_rule'], `${name}: issuer ${issuer}`);
      }
    });
  });

  describe(`Envoy ${version}: an attacker with a crafted certificate, behind the gateway (xfcc mode at a sidecar)`, () => {
    let mesh: Mesh;
    const config = { identitySource: 'xfcc', trustedProxies: [{ uriSan: GATEWAY_SPIFFE }], ...BANK_PREFIX };
    before(async () => {
      mesh = await startMesh(version, pki, JSON.stringify(config), trustBundle);
    });
    after(async () => {
      await mesh?.stop();
    });

    it("cannot forge a whole element — any Hash, any Cert — through ',' in its SAN", async () => {
      const exchange = await mesh.sidecar.send({ as: 'forges-an-element', path: '/', via: mesh.gateway });
      assert.ok((exchange.access?.xfcc ?? '').includes(`attacker,${victim},`), 'Envoy writes the SAN raw, and the forged element stands in the header');
      assert.deepEqual([exchange.response.status, exchange.access?.details], [403, 'cert_allowlist_xfcc_malformed']);
    });
    it("cannot add a SAN through ';'", async () => {
      const exchange = await mesh.sidecar.send({ as: 'adds-a-san', path: '/', via: mesh.gateway });
      assert.deepEqual([exchange.response.status, exchange.access?.details], [403, 'cert_allowlist_xfcc_malformed']);
    });
    it('never matches a SAN trimmed or unquoted into equality', async () => {
      for (const as of ['leading-space', 'trailing-space', 'quoted'])
        assert.equal((await mesh.sidecar.send({ as, path: '/', via: mesh.gateway })).response.status, 403, as);
    });
    it('reads subjects of every string type as Envoy prints them (the element agrees with its certificate)', async () => {
      for (const [name] of STRINGS) {
        const exchange = await mesh.sidecar.send({ as: `${name}-client`, path: '/', via: mesh.gateway });
        assert.deepEqual(
          [exchange.response.status, exchange.upstream?.headers['x-client-identity']],
          [200, 'bank'],
          `${name}: ${subjectInXfcc(exchange.access?.xfcc ?? null)}`,
        );
      }
    });
    it('still lets the plain clients through', async () => {
      for (const client of DEMO_CLIENTS.filter((c) => c.name === 'allowed' || c.name === 'multi-san')) {
        assert.equal((await mesh.sidecar.send({ as: client.name, path: '/', via: mesh.gateway })).response.status, 200, client.name);
      }
      assert.ok(TEST_CLIENTS.length > 0);
    });
  });
}
