// The attacker who holds a certificate from the gateway's CA — listed for one host or path, or denied
// on one — against real Envoy (every pinned release) behind an Istio-like gateway. They try every
// :authority and :path spelling that Envoy routes or forwards somewhere else than the rule meant, under
// each of Istio's path normalisations, and an identity header in the spellings an upstream folds
// into the real one.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ENVOY_VERSIONS } from '../../envoy/install.js';
import { NORMALISATIONS, PROTECTED, PUBLIC, authoritySpellings, describe as describeExchange, istioRoutes, pathSpellings, sendAll } from '../support/attack.js';
import { type Exchange, TestProxy, type TestRequest } from '../support/envoy.js';
import { testPki } from '../support/pki.js';

const pki = testPki();
const sha256 = (client: string) => new X509Certificate(readFileSync(pki.cert(client))).fingerprint256.replaceAll(':', '').toLowerCase();

// The readings a backend may take of the path it received: as is; percent-decoded once or twice;
// with '\' as '/'; ';' parameters dropped per segment or cut at the first; slashes merged; dot
// segments resolved.
function readings(received: string): Set<string> {
  const path = received.split('?')[0];
  const decode = (p: string) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p.replace(/%([0-9a-fA-F]{2})/g, (_, h) => String.fromCharCode(Number.parseInt(h, 16)));
    }
  };
  const out = new Set<string>();
  for (const base of [path, decode(path), decode(decode(path))]) {
    for (const backslash of [false, true]) {
      for (const parameters of ['keep', 'segment', 'cut'] as const) {
        for (const merge of [false, true]) {
          let p = backslash ? base.replaceAll('\\', '/') : base;
          if (parameters === 'segment')
            p = p
              .split('/')
              .map((s) => s.split(';')[0])
              .join('/');
          if (parameters === 'cut') p = p.split(';')[0];
          if (merge) p = p.replace(/\/+/g, '/');
          out.add(p);
          const resolved: string[] = [];
          for (const segment of p.split('/')) {
            if (segment === '..') resolved.pop();
            else if (segment !== '.') resolved.push(segment);
          }
          out.add(resolved.join('/') || '/');
        }
      }
    }
  }
  return out;
}

const under = (path: string, prefix: string) => path === prefix.replace(/\/$/, '') || path.startsWith(prefix);

const through = (x: Exchange) => x.upstream !== undefined;

for (const version of ENVOY_VERSIONS) {
  describe(`Envoy ${version}: an attacker with a certificate from the gateway's CA`, () => {
    describe('host scope', () => {
      let gateway: TestProxy;
      before(async () => {
        gateway = await TestProxy.start({ version, configuration: '{"allow": []}', pki, adjust: istioRoutes() });
      });
      after(async () => {
        await gateway?.stop();
      });
      const spellings: TestRequest[] = authoritySpellings(PROTECTED, PUBLIC).flatMap((authority) =>
        (['1.1', '2'] as const).map((http) => ({ authority, http, path: '/ledger/x' })),
      );

      it('never lets a client allowed on one host reach another', async () => {
        const config = { allow: [{ name: 'public-only', sha256: sha256('denied'), hosts: [PUBLIC] }] };
        assert.ok((await gateway.push(JSON.stringify(config))).accepted);
        const requests = spellings.map((r) => ({ ...r, as: 'denied' }));
        const exchanges = await sendAll(gateway, requests);
        const escaped = requests.map((r, i) => [r, exchanges[i]] as const).filter(([, x]) => through(x) && x.upstream!.headers['x-routed-vhost'] !== 'public');
        assert.deepEqual(
          escaped.map(([r, x]) => describeExchange(r, x)),
          [],
        );
        assert.ok((await gateway.send({ as: 'denied', authority: PUBLIC, path: '/x' })).upstream, 'the client reaches its own host');
      });
      it('never lets a client denied on a host past the deny rule, whatever the spelling', async () => {
        const config = {
          allow: [{ name: 'bank', uriSanPrefix: 'spiffe://demo.local/ns/bank/' }],
          deny: [{ name: 'not-payments', sha256: sha256('allowed'), hosts: [PROTECTED] }],
        };
        assert.ok((await gateway.push(JSON.stringify(config))).accepted);
        const requests = spellings.map((r) => ({ ...r, as: 'allowed' }));
        const exchanges = await sendAll(gateway, requests);
        const escaped = requests
          .map((r, i) => [r, exchanges[i]] as const)
          .filter(([, x]) => through(x) && x.upstream!.headers['x-routed-vhost'] === 'payments');
        assert.deepEqual(
          escaped.map(([r, x]) => describeExchange(r, x)),
          [],
        );
      });
    });

    for (const normalisation of Object.keys(NORMALISATIONS)) {
      describe(`path scope under ${normalisation} normalisation`, () => {
        let gateway: TestProxy;
        before(async () => {
          gateway = await TestProxy.start({ version, configuration: '{"allow": []}', pki, adjust: istioRoutes(normalisation) });
        });
        after(async () => {
          await gateway?.stop();
        });

        it('never lets a client allowed under /ledger/ reach anything a backend reads outside it', async () => {
          const config = { allow: [{ name: 'ledger-only', sha256: sha256('denied'), paths: ['/ledger/'] }] };
          assert.ok((await gateway.push(JSON.stringify(config))).accepted);
          const requests: TestRequest[] = pathSpellings('/ledger/', '/admin/').map((path) => ({ as: 'denied', path, authority: PROTECTED }));
          const exchanges = await sendAll(gateway, requests);
          const escaped = requests
            .map((r, i) => [r, exchanges[i]] as const)
            .filter(
              ([, x]) =>
                through(x) && (x.upstream!.headers['x-routed-route'] !== '/ledger/' || [...readings(x.upstream!.path)].some((p) => !under(p, '/ledger/'))),
            );
          assert.deepEqual(
            escaped.map(([r, x]) => describeExchange(r, x)),
            [],
          );
          assert.ok((await gateway.send({ as: 'denied', path: '/ledger/x', authority: PROTECTED })).upstream, 'the plain path is allowed');
        });
        it('never lets a client denied under /admin/ reach anything a backend reads inside it', async () => {
          const config = {
            allow: [{ name: 'everything', sha256: sha256('denied') }],
            deny: [{ name: 'no-admin', sha256: sha256('denied'), paths: ['/admin/'] }],
          };
          assert.ok((await gateway.push(JSON.stringify(config))).accepted);
          const requests: TestRequest[] = pathSpellings('/public/', '/admin/').map((path) => ({ as: 'denied', path, authority: PROTECTED }));
          const exchanges = await sendAll(gateway, requests);
          const escaped = requests
            .map((r, i) => [r, exchanges[i]] as const)
            .filter(
              ([, x]) =>
                through(x) && (x.upstream!.headers['x-routed-route'] === '/admin/' || [...readings(x.upstream!.path)].some((p) => under(p, '/admin/'))),
            );
          assert.deepEqual(
            escaped.map(([r, x]) => describeExchange(r, x)),
            [],
          );
          assert.ok((await gateway.send({ as: 'denied', path: '/public/x', authority: PROTECTED })).upstream, 'a plain path elsewhere is allowed');
        });
      });
    }

    describe('the identity header', () => {
      let gateway: TestProxy;
      before(async () => {
        const config = { allow: [{ name: 'bank', uriSanPrefix: 'spiffe://demo.local/ns/bank/' }], identityHeader: 'x-client-identity' };
        gateway = await TestProxy.start({ version, configuration: JSON.stringify(config), pki });
      });
      after(async () => {
        await gateway?.stop();
      });
      it('reaches the upstream only as the filter set it, in no spelling a client sent', async () => {
        const forged: [string, string][] = [
          ['x-client-identity', 'admin'],
          ['x_client_identity', 'admin'],
          ['X_Client_Identity', 'admin'],
          ['x-client_identity', 'admin'],
          ['x_client-identity', 'admin'],
        ];
        for (const http of ['1.1', '2'] as const) {
          const exchange = await gateway.send({ as: 'allowed', path: '/', http, headers: forged });
          const identities = exchange.upstream!.rawHeaders.filter(([name]) => /^x[-_]client[-_]identity$/i.test(name));
          assert.deepEqual(identities, [['x-client-identity', 'bank']], `HTTP/${http}`);
        }
      });
    });
  });
}
