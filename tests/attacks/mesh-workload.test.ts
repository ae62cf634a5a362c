// The attacker inside the mesh: a workload with a mesh certificate that calls a sidecar running the
// filter in xfcc mode directly, writing whatever XFCC it likes. Against real Envoy (every pinned
// release), sidecar of envoy/sidecar.yaml.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { issueClient } from '../../demo/pki.js';
import { ENVOY_VERSIONS } from '../../envoy/install.js';
import { Attribute, StringTag, craft, text, uri } from '../support/der.js';
import { TestProxy } from '../support/envoy.js';
import { testPki } from '../support/pki.js';

const pki = testPki();
const BANK = 'spiffe://demo.local/ns/bank/sa/batch';
const TRUSTED = 'spiffe://cluster.local/ns/mesh/sa/trusted-proxy';

issueClient(pki.dir, { name: 'tenant', subject: '/CN=tenant', sans: [['URI', 'spiffe://cluster.local/ns/istio-system-tenant/sa/x']], purpose: '' });
issueClient(pki.dir, { name: 'trusted-proxy', subject: '/CN=trusted-proxy', sans: [['URI', TRUSTED]], purpose: '' });
// A certificate whose CN is no valid UniversalString (a code point past U+10FFFF): no TLS stack
// presents it, but anyone can put it in XFCC with its SHA-256 as the Hash.
craft(pki, {
  name: 'unreadable',
  subject: [[{ type: Attribute.CN, tag: StringTag.Universal, value: Buffer.from([0xff, 0xff, 0xff, 0xff]) }]],
  sans: [uri(BANK)],
});
craft(pki, {
  name: 'unreadable-utf8',
  subject: [[text(Attribute.O, 'x')], [{ type: Attribute.CN, tag: StringTag.UTF8, value: Buffer.from([0xc0, 0xaf, 0xff]) }]],
  sans: [uri(BANK)],
});

// An element as Envoy would write it for `client`'s certificate, Cert= included (read from the PEM's
// bytes: Node refuses to parse the unreadable ones).
function elementFor(client: string, subject?: string): string {
  const pem = readFileSync(pki.cert(client), 'utf8');
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
  const hash = createHash('sha256').update(der).digest('hex');
  return `Hash=${hash};Cert="${encodeURIComponent(pem)}"${subject === undefined ? '' : `;Subject="${subject}"`};URI=${BANK}`;
}

for (const version of ENVOY_VERSIONS) {
  describe(`Envoy ${version}: an attacker with a workload inside the mesh`, () => {
    let sidecar: TestProxy;
    const configure = async (config: unknown) => assert.ok((await sidecar.push(JSON.stringify(config))).accepted);
    before(async () => {
      sidecar = await TestProxy.start({ version, template: 'sidecar', configuration: '{"allow": []}', pki });
    });
    after(async () => {
      await sidecar?.stop();
    });

    it("is its own client, whatever elements — a real client's, certificate and all — it writes before its own", async () => {
      await configure({
        identitySource: 'xfcc',
        trustedProxies: [{ uriSanPrefix: 'spiffe://cluster.local/ns/istio-system/' }],
        allow: [{ name: 'bank', uriSanPrefix: 'spiffe://demo.local/ns/bank/' }],
      });
      const exchange = await sidecar.send({
        as: 'denied',
        path: '/',
        headers: [['x-forwarded-client-cert', elementFor('allowed', 'CN=batch.demo.local,O=Demo Bank')]],
      });
      assert.deepEqual([exchange.response.status, exchange.access?.details], [403, 'cert_allowlist_not_allowed']);
    });
    it("cannot push our own Envoy's element out of last place with a second XFCC header", async () => {
      await configure({
        identitySource: 'xfcc',
        trustedProxies: [{ uriSan: TRUSTED }],
        allow: [{ name: 'bank', uriSanPrefix: 'spiffe://demo.local/ns/bank/' }],
      });
      const forged = elementFor('allowed', 'CN=batch.demo.local,O=Demo Bank');
      const exchange = await sidecar.send({
        as: 'denied',
        path: '/',
        headers: [
          ['x-forwarded-client-cert', forged],
          ['x-forwarded-client-cert', forged],
        ],
      });
      assert.match(
        exchange.access?.xfcc ?? '',
        /;URI=spiffe:\/\/demo\.local\/ns\/bank\/sa\/batch,Hash=[0-9a-f]{64};Subject="CN=stranger\.demo\.local,O=Demo Partner";URI=[^,]*$/,
        "Envoy's element is last",
      );
      assert.deepEqual([exchange.response.status, exchange.access?.details], [403, 'cert_allowlist_not_allowed']);
    });
    it('is no trusted proxy by a SAN that extends a trusted prefix past its boundary', async () => {
      await configure({
        identitySource: 'xfcc',
        trustedProxies: [{ uriSanPrefix: 'spiffe://cluster.local/ns/istio-system' }],
        allow: [{ name: 'bank', uriSanPrefix: 'spiffe://demo.local/ns/bank/' }],
      });
      const exchange = await sidecar.send({
        as: 'tenant',
        path: '/',
        headers: [['x-forwarded-client-cert', elementFor('allowed', 'CN=batch.demo.local,O=Demo Bank')]],
      });
      assert.deepEqual([exchange.response.status, exchange.access?.details], [403, 'cert_allowlist_not_allowed']);
    });
    it('cannot trap the filter with a certificate no TLS stack would present, even as a trusted proxy', async () => {
      const config = {
        identitySource: 'xfcc',
        trustedProxies: [{ uriSan: TRUSTED }],
        allow: [
          { name: 'pinned', spki: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' },
          { name: 'bank', uriSanPrefix: 'spiffe://demo.local/ns/bank/' },
        ],
      };
      await configure(config);
      for (const forged of ['unreadable', 'unreadable-utf8']) {
        const exchange = await sidecar.send({ as: 'trusted-proxy', path: '/', headers: [['x-forwarded-client-cert', elementFor(forged)]] });
        assert.deepEqual([exchange.response.status, exchange.access?.details], [403, 'cert_allowlist_xfcc_malformed'], forged);
        assert.deepEqual(
          exchange.errors.map((line) => line.message),
          [],
          'the VM did not fail',
        );
      }
      const next = await sidecar.send({ as: 'allowed', path: '/' });
      assert.deepEqual([next.response.status, next.access?.details], [200, 'via_upstream'], 'the worker still serves');
    });
  });
}
