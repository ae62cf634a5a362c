// The attacker with no certificate at all, against real Envoy (every pinned release) behind an
// Istio-like gateway: two Gateway hosts — payments.example.com protected by the filter's top-level
// `hosts`, public.example.com not — and a catch-all. Whatever :authority they send, a request Envoy
// routes to the protected host must be decided by the filter (here: denied), never let through as
// "another host". Each spelling is first sent to the same gateway without the filter, which shows
// which spellings Envoy routes to the protected host at all.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ENVOY_VERSIONS } from '../../envoy/install.js';
import { PROTECTED, PUBLIC, authoritySpellings, describe as describeExchange, istioRoutes, sendAll } from '../support/attack.js';
import { TestProxy, type TestRequest } from '../support/envoy.js';
import { testPki } from '../support/pki.js';

const pki = testPki();
const sha256 = (client: string) => new X509Certificate(readFileSync(pki.cert(client))).fingerprint256.replaceAll(':', '').toLowerCase();

for (const version of ENVOY_VERSIONS) {
  describe(`Envoy ${version}: an attacker without a certificate`, () => {
    let unfiltered: TestProxy;
    let gateway: TestProxy;
    const requests: TestRequest[] = authoritySpellings(PROTECTED, PUBLIC).flatMap((authority) =>
      (['1.1', '2'] as const).map((http) => ({ authority, http, path: '/ledger/x' })),
    );
    before(async () => {
      unfiltered = await TestProxy.start({ version, configuration: null, pki, adjust: istioRoutes() });
      const config = { hosts: [PROTECTED], allow: [{ name: 'partner', sha256: sha256('denied') }], identityHeader: 'x-client-identity' };
      gateway = await TestProxy.start({ version, configuration: JSON.stringify(config), pki, adjust: istioRoutes() });
    });
    after(async () => {
      await unfiltered?.stop();
      await gateway?.stop();
    });

    it('never reaches the protected host, whatever :authority Envoy routes there', async () => {
      const control = await sendAll(unfiltered, requests);
      const routedToProtected = requests.filter((_, i) => control[i].upstream?.headers['x-routed-vhost'] === 'payments');
      // The spellings Envoy routes to the protected host include more than the plain ones.
      assert.ok(
        routedToProtected.some((r) => r.authority!.includes('@')),
        'no spelling with user info reached the protected host',
      );
      assert.ok(
        routedToProtected.some((r) => (r.authority!.match(/:/g) ?? []).length > 1),
        'no spelling with more than one colon reached it',
      );

      const exchanges = await sendAll(gateway, routedToProtected);
      const through = routedToProtected.map((r, i) => [r, exchanges[i]] as const).filter(([, x]) => x.upstream !== undefined || x.response.status < 400);
      assert.deepEqual(
        through.map(([r, x]) => describeExchange(r, x)),
        [],
      );
      assert.ok(
        exchanges.every((x) => x.access?.details === 'cert_allowlist_no_client_certificate'),
        'every one was decided by the filter',
      );
    });
    it('still reaches an unprotected host unchecked', async () => {
      const exchange = await gateway.send({ authority: PUBLIC, path: '/x' });
      assert.equal(exchange.upstream?.headers['x-routed-vhost'], 'public');
    });
  });
}
