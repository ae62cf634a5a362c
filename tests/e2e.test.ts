// End to end in real Envoy, every pinned version: the filter behind the ingress gateway of
// envoy/gateway.yaml (OPTIONAL_MUTUAL, SANITIZE_SET, Istio's path normalisation), real TLS handshakes
// with openssl certificates, HTTP/1.1 and HTTP/2, configuration updates over ECDS, metrics from
// Envoy's admin endpoint and log lines as Envoy prints them.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ENVOY_VERSIONS } from '../envoy/install.js';
import { type CertificateFacts, certificateFacts, peerCertificate } from '../host/certificate.js';
import { xfccElement } from '../host/xfcc.js';
import { type Exchange, TestProxy } from './support/envoy.js';
import { testPki } from './support/pki.js';

const DEFAULT_CONFIG = readFileSync(new URL('../filter-config/cert-allowlist.json', import.meta.url), 'utf8');
const pki = testPki();
const facts = (client: string): CertificateFacts => certificateFacts(new X509Certificate(readFileSync(pki.cert(client))));
const peer = (client: string) => peerCertificate(facts(client));

function reply(exchange: Exchange): { status: number; details: string | null; body: string } {
  return { status: exchange.response.status, details: exchange.access?.details ?? null, body: exchange.response.body };
}

const DENIED_BODY = 'client certificate not authorized\n';

for (const version of ENVOY_VERSIONS) {
  describe(`Envoy ${version}: the filter behind an Istio-like ingress gateway`, () => {
    let gateway: TestProxy;
    before(async () => {
      gateway = await TestProxy.start({ version, configuration: DEFAULT_CONFIG, pki });
      assert.ok(gateway.proxy.started.accepted, gateway.envoy.tail(20));
    });
    after(async () => {
      await gateway?.stop();
    });
    const configure = async (config: unknown) => {
      const result = await gateway.push(typeof config === 'string' ? config : JSON.stringify(config));
      assert.ok(result.accepted, result.errors.map((line) => line.message).join('\n'));
    };

    it('lets a listed client through over HTTP/2 and HTTP/1.1, and the upstream learns who it is', async () => {
      for (const http of ['2', '1.1'] as const) {
        const exchange = await gateway.send({ as: 'allowed', path: '/hello', http });
        assert.equal(exchange.response.status, 200, `HTTP/${http}: ${exchange.response.body}`);
        assert.equal(exchange.upstream?.headers['x-client-identity'], 'bank-batch');
        assert.deepEqual(exchange.filterLog, [], 'an allowed request logs nothing');
      }
    });
    it('forwards XFCC exactly as the host writes it for the gateway (Hash, Cert, Subject, URI)', async () => {
      for (const client of ['allowed', 'several-sans', 'escaped', 'email-ip', 'no-san']) {
        const exchange = await gateway.send({ as: client, path: '/hello', headers: [['x-forwarded-client-cert', 'By=spiffe://evil;Hash=00']] });
        assert.equal(exchange.access?.xfcc, xfccElement(peer(client)), client);
      }
    });
    it('answers 403 with the readable body to a trusted client that is not listed, and logs one line', async () => {
      const exchange = await gateway.send({ as: 'denied', path: '/hello?x=1' });
      assert.deepEqual(reply(exchange), { status: 403, details: 'cert_allowlist_not_allowed', body: DENIED_BODY });
      assert.equal(exchange.response.headers['content-type'], 'text/plain');
      assert.equal(exchange.upstream, undefined);
      const sha256 = facts('denied').sha256;
      assert.deepEqual(exchange.filterLog, [
        {
          level: 'info',
          message: `cert-allowlist: deny reason=not_allowed rule="" sha256=${sha256} uri_san="spiffe://demo.local/ns/other/sa/stranger" subject="CN=stranger.demo.local,O=Demo Partner" host="localhost" path="/hello?x=1" mode=enforce`,
        },
      ]);
    });
    it('answers 403 to a connection without a client certificate', async () => {
      const exchange = await gateway.send({ path: '/hello' });
      assert.deepEqual(reply(exchange), { status: 403, details: 'cert_allowlist_no_client_certificate', body: DENIED_BODY });
    });
    it('never lets a certificate from an unknown CA complete the handshake', async () => {
      const exchange = await gateway.send({ as: 'other-ca', path: '/hello' });
      assert.equal(exchange.response.status, 0, 'an HTTP response arrived');
    });
    it('denies a listed client on the path a deny rule names', async () => {
      assert.deepEqual(reply(await gateway.send({ as: 'allowed', path: '/status/418' })), {
        status: 403,
        details: 'cert_allowlist_denied_by_rule',
        body: DENIED_BODY,
      });
      assert.equal((await gateway.send({ as: 'allowed', path: '/status/200' })).response.status, 200);
    });
    it("names the deciding rule to Envoy's access log as filter state, and a dry-run denial's reason", async () => {
      const allowed = await gateway.send({ as: 'allowed', path: '/hello' });
      assert.deepEqual([allowed.access?.rule, allowed.access?.dry_run], ['bank-batch', null]);
      const deniedByRule = await gateway.send({ as: 'allowed', path: '/status/418' });
      assert.equal(deniedByRule.access?.details, 'cert_allowlist_denied_by_rule');
      assert.equal(deniedByRule.access?.rule, 'no-teapot', 'the deny rule');
      const notAllowed = await gateway.send({ as: 'denied', path: '/hello' });
      assert.deepEqual([notAllowed.access?.rule, notAllowed.access?.dry_run], [null, null], 'no rule decided: the reason is in the details');
      await configure({ ...JSON.parse(DEFAULT_CONFIG), mode: 'dry-run' });
      try {
        const dryRun = await gateway.send({ as: 'denied', path: '/hello' });
        assert.deepEqual([dryRun.response.status, dryRun.access?.dry_run], [200, 'not_allowed']);
      } finally {
        await configure(DEFAULT_CONFIG);
      }
    });
    it('allows a client by a CN that RFC 2253 escapes', async () => {
      const exchange = await gateway.send({ as: 'escaped', path: '/hello' });
      assert.equal(exchange.upstream?.headers['x-client-identity'], 'acme');
      assert.match(exchange.access?.xfcc ?? '', /;Subject="CN=Acme\\, Inc\. batch,O=Demo Bank";/);
    });
    it('ignores XFCC and identity headers the client sends', async () => {
      const forged: [string, string][] = [
        ['x-forwarded-client-cert', `Hash=${facts('allowed').sha256};URI=spiffe://demo.local/ns/bank/sa/batch`],
        ['x-client-identity', 'bank-batch'],
      ];
      assert.equal((await gateway.send({ as: 'denied', path: '/hello', headers: forged })).response.status, 403);
      const exchange = await gateway.send({ as: 'allowed', path: '/hello', headers: [['x-client-identity', 'admin']] });
      assert.deepEqual(
        exchange.upstream?.rawHeaders.filter(([name]) => name.toLowerCase() === 'x-client-identity'),
        [['x-client-identity', 'bank-batch']],
      );
    });
    it('matches the second URI SAN and the second DNS SAN of a certificate', async () => {
      await configure({
        allow: [
          { name: 'by-uri', uriSan: 'spiffe://demo.local/ns/bank/sa/second', paths: ['/uri'] },
          { name: 'by-dns', dnsSan: 'two.demo.local' },
        ],
        identityHeader: 'x-client-identity',
      });
      assert.equal((await gateway.send({ as: 'several-sans', path: '/uri' })).upstream?.headers['x-client-identity'], 'by-uri');
      assert.equal((await gateway.send({ as: 'several-sans', path: '/dns' })).upstream?.headers['x-client-identity'], 'by-dns');
    });
    it('matches email and IP SANs read from the certificate', async () => {
      await configure({
        allow: [
          { name: 'by-email', emailSan: 'batch@demo.local', paths: ['/email'] },
          { name: 'by-ip', ipSan: '2001:0DB8::0001' },
        ],
        identityHeader: 'x-client-identity',
      });
      assert.equal((await gateway.send({ as: 'email-ip', path: '/email' })).upstream?.headers['x-client-identity'], 'by-email');
      assert.equal((await gateway.send({ as: 'email-ip', path: '/ip' })).upstream?.headers['x-client-identity'], 'by-ip');
      assert.equal((await gateway.send({ as: 'allowed', path: '/ip' })).response.status, 403);
    });
    it('pins a client by its public key, read from the certificate XFCC carries', async () => {
      await configure({ allow: [{ name: 'pinned', spki: facts('denied').spkiSha256 }], identityHeader: 'x-client-identity' });
      assert.equal((await gateway.send({ as: 'denied', path: '/hello' })).upstream?.headers['x-client-identity'], 'pinned');
      assert.equal((await gateway.send({ as: 'allowed', path: '/hello' })).response.status, 403);
    });
    it('serves 10 000 sha256 rules', async () => {
      const allow = Array.from({ length: 9_999 }, (_, i) => ({ name: `client-${i}`, sha256: i.toString(16).padStart(64, '0') }));
      allow.push({ name: 'the-allowed-one', sha256: facts('allowed').sha256 });
      await configure({ allow, identityHeader: 'x-client-identity' });
      assert.equal((await gateway.send({ as: 'allowed', path: '/hello' })).upstream?.headers['x-client-identity'], 'the-allowed-one');
      assert.equal((await gateway.send({ as: 'denied', path: '/hello' })).response.status, 403);
      const metrics = await gateway.metrics();
      assert.equal(metrics.get('cert_allowlist.rules'), 10_000);
    });
    it('takes a valid update for the next request, and refuses an invalid one while the previous keeps serving', async () => {
      await configure(DEFAULT_CONFIG);
      assert.equal((await gateway.send({ as: 'denied', path: '/hello' })).response.status, 403);
      const partner = JSON.parse(DEFAULT_CONFIG);
      partner.allow.push({ name: 'partner', uriSan: 'spiffe://demo.local/ns/other/sa/stranger' });
      await configure(partner);
      assert.equal((await gateway.send({ as: 'denied', path: '/hello' })).upstream?.headers['x-client-identity'], 'partner');

      const refused = await gateway.push(JSON.stringify({ ...partner, allow: [{ name: 'broken', sha256: 'xyz' }] }));
      assert.equal(refused.accepted, false);
      assert.ok(
        refused.errors.some(
          (line) =>
            line.logger === 'wasm' && line.message.endsWith('cert-allowlist: rejected configuration: allow[0].sha256: expected 64 hex digits, got "xyz"'),
        ),
        refused.errors.map((line) => line.raw).join('\n'),
      );
      assert.equal(
        (await gateway.send({ as: 'denied', path: '/hello' })).upstream?.headers['x-client-identity'],
        'partner',
        'the previous configuration keeps serving',
      );
      await configure(DEFAULT_CONFIG);
    });
    it("counts each request in Envoy's stats, by reason, and exports them to Prometheus", async () => {
      const before = await gateway.metrics();
      await gateway.send({ as: 'allowed', path: '/hello' });
      await gateway.send({ as: 'denied', path: '/hello' });
      await gateway.send({ path: '/hello' });
      const now = await gateway.metrics();
      const delta = (name: string) => (now.get(name) ?? 0) - (before.get(name) ?? 0);
      assert.deepEqual(
        [
          delta('cert_allowlist.allowed'),
          delta('cert_allowlist.denied'),
          delta('cert_allowlist.denied.not_allowed'),
          delta('cert_allowlist.denied.no_client_certificate'),
        ],
        [1, 2, 1, 1],
      );
      const prometheus = await gateway.envoy.prometheus();
      assert.match(prometheus, new RegExp(`^cert_allowlist_allowed\\{\\} ${now.get('cert_allowlist.allowed')}$`, 'm'));
      assert.match(prometheus, /^cert_allowlist_denied_no_client_certificate\{\} \d+$/m);
    });
  });
}
