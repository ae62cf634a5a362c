// xfcc mode end to end in real Envoy, every pinned version: a client reaches the ingress gateway
// (SANITIZE_SET), which forwards over mutual TLS with its own certificate to a workload's sidecar
// (APPEND_FORWARD, envoy/sidecar.yaml), where the filter reads the two-hop XFCC Envoy really writes,
// walks past the gateway (a trusted proxy) and decides on the client.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ENVOY_VERSIONS } from '../envoy/install.js';
import type { EnvoyConfig } from '../envoy/render.js';
import { type CertificateFacts, certificateFacts, peerCertificate } from '../host/certificate.js';
import { SIDECAR_DETAILS, xfccElement } from '../host/xfcc.js';
import { type Exchange, TestProxy } from './support/envoy.js';
import { GATEWAY_SPIFFE, testPki } from './support/pki.js';
import { type Mesh, startMesh } from './support/sidecar.js';

const pki = testPki();
const facts = (client: string): CertificateFacts => certificateFacts(new X509Certificate(readFileSync(pki.cert(client))));
const peer = (client: string) => peerCertificate(facts(client));

const SIDECAR_CONFIG = JSON.stringify({
  identitySource: 'xfcc',
  trustedProxies: [{ uriSan: GATEWAY_SPIFFE }],
  allow: [{ name: 'bank-batch', uriSanPrefix: 'spiffe://demo.local/ns/bank/' }],
  identityHeader: 'x-client-identity',
});

// A sidecar whose connection manager forwards XFCC as it came (`mode`), with a plaintext listener
// beside it that forwards it always — ways a misconfigured mesh hands the filter a header no proxy of
// ours wrote.
function forwarding(mode: string) {
  return (bootstrap: EnvoyConfig): void => {
    const listener = bootstrap.static_resources.listeners[0];
    listener.filter_chains[0].filters[0].typed_config.forward_client_cert_details = mode;
    const plain = structuredClone(listener);
    plain.name = 'plaintext';
    delete plain.filter_chains[0].transport_socket;
    plain.filter_chains[0].filters[0].typed_config.forward_client_cert_details = 'ALWAYS_FORWARD_ONLY';
    bootstrap.static_resources.listeners.push(plain);
  };
}

const reason = (exchange: Exchange) => [exchange.response.status, exchange.access?.details];

for (const version of ENVOY_VERSIONS) {
  describe(`Envoy ${version}: the filter in xfcc mode at a sidecar behind the gateway`, () => {
    let mesh: Mesh;
    let sidecar: TestProxy;
    let gateway: TestProxy;
    before(async () => {
      mesh = await startMesh(version, pki, SIDECAR_CONFIG);
      ({ sidecar, gateway } = mesh);
      assert.ok(sidecar.proxy.started.accepted, sidecar.envoy.tail(20));
    });
    after(async () => {
      await mesh?.stop();
    });

    it("sees the two elements Envoy writes — the gateway's for the client, the sidecar's for the gateway — and allows the client", async () => {
      for (const http of ['1.1', '2'] as const) {
        const exchange = await sidecar.send({ as: 'allowed', path: '/hello', via: gateway, http });
        assert.equal(exchange.access?.xfcc, `${xfccElement(peer('allowed'))},${xfccElement(peer('gateway-proxy'), SIDECAR_DETAILS)}`);
        assert.deepEqual(reason(exchange), [200, 'via_upstream']);
        assert.equal(exchange.upstream?.headers['x-client-identity'], 'bank-batch');
      }
    });
    it('denies a client the list does not name (not_allowed)', async () => {
      assert.deepEqual(reason(await sidecar.send({ as: 'denied', path: '/hello', via: gateway })), [403, 'cert_allowlist_not_allowed']);
    });
    it('finds no client when the gateway had none, only the gateway itself (xfcc_missing)', async () => {
      const exchange = await sidecar.send({ path: '/hello', via: gateway });
      assert.equal(exchange.access?.xfcc, xfccElement(peer('gateway-proxy'), SIDECAR_DETAILS));
      assert.deepEqual(reason(exchange), [403, 'cert_allowlist_xfcc_missing']);
    });
    it('takes a workload calling the sidecar directly for the client, whatever XFCC it sends', async () => {
      const forged = `Hash=${facts('allowed').sha256};URI=spiffe://demo.local/ns/bank/sa/batch`;
      const exchange = await sidecar.send({ as: 'denied', path: '/hello', headers: [['x-forwarded-client-cert', forged]] });
      assert.equal(exchange.access?.xfcc, `${forged},${xfccElement(peer('denied'), SIDECAR_DETAILS)}`);
      assert.deepEqual(reason(exchange), [403, 'cert_allowlist_not_allowed']);
    });
    it('refuses a header Envoy would not write (xfcc_malformed)', async () => {
      const exchange = await sidecar.send({ as: 'denied', path: '/hello', headers: [['x-forwarded-client-cert', 'Hash=00;Subject=unquoted']] });
      assert.deepEqual(reason(exchange), [403, 'cert_allowlist_xfcc_malformed']);
    });

    describe('a sidecar that forwards XFCC without appending (FORWARD_ONLY, and ALWAYS_FORWARD_ONLY on plaintext)', () => {
      let forwarder: TestProxy;
      before(async () => {
        forwarder = await TestProxy.start({ version, template: 'sidecar', configuration: SIDECAR_CONFIG, pki, adjust: forwarding('FORWARD_ONLY') });
      });
      after(async () => {
        await forwarder?.stop();
      });
      it('refuses a header whose last element does not describe the connection (xfcc_mismatch)', async () => {
        const exchange = await forwarder.send({ as: 'denied', path: '/hello', headers: [['x-forwarded-client-cert', xfccElement(peer('allowed'))]] });
        assert.deepEqual(reason(exchange), [403, 'cert_allowlist_xfcc_mismatch']);
      });
      it('refuses XFCC on a connection without a client certificate: only the client can have written it (xfcc_untrusted)', async () => {
        const exchange = await forwarder.send({
          plaintextListener: 'plaintext',
          path: '/hello',
          headers: [['x-forwarded-client-cert', xfccElement(peer('allowed'))]],
        });
        assert.equal(exchange.access?.xfcc, xfccElement(peer('allowed')));
        assert.deepEqual(reason(exchange), [403, 'cert_allowlist_xfcc_untrusted']);
      });
    });
  });
}
