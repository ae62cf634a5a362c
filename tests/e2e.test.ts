// One end-to-end suite, two targets: the embedded gateway here (npm test), real Envoy through
// docker compose (npm run e2e:envoy). Real TLS handshakes with the demo PKI, real curl.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { curl, type CurlOptions, type CurlResult } from './e2e/curl.js';
import { DEFAULT_CONFIG, startTarget, type Target } from './e2e/target.js';
import { main as cli } from '../cli/main.js';

let target: Target;
/** Requests that reached the filter (every completed HTTP exchange), to check the metrics against. */
let filtered = 0;

function as(client: string | undefined, extra: Partial<CurlOptions> = {}): CurlOptions {
  const pki = target.pki;
  return { cacert: pki.ca, ...(client ? { cert: pki.cert(client), key: pki.key(client) } : {}), ...extra };
}

async function get(path: string, options: CurlOptions): Promise<CurlResult> {
  const result = await curl(`${target.url}${path}`, options);
  if (result.status !== 0) filtered++;
  return result;
}

function echoed(result: CurlResult): { path: string; headers: Record<string, string> } {
  assert.equal(result.status, 200, result.body);
  return JSON.parse(result.body);
}

function sha256Of(client: string): string {
  return createHash('sha256').update(new X509Certificate(readFileSync(target.pki.cert(client))).raw).digest('hex');
}

// A configuration change reaches new requests shortly after it is written.
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await sleep(100);
  }
  assert.fail(`timed out waiting until ${what}`);
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${target.adminUrl}/stats/prometheus`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  assert.ok(line, `${name} is not exported:\n${text}`);
  return Number(line.split(' ').at(-1));
}

describe('end to end', () => {
  before(async () => {
    target = await startTarget();
  });
  after(async () => {
    await target?.close();
  });

  it('lets the allowed client through to the upstream, which sees the identity header and XFCC with its hash', async () => {
    const echo = echoed(await get('/hello', as('allowed')));
    assert.equal(echo.headers['x-client-identity'], 'bank-batch');
    assert.match(echo.headers['x-forwarded-client-cert'], new RegExp(`^Hash=${sha256Of('allowed')};Cert="`));
    assert.match(echo.headers['x-forwarded-client-cert'], /;URI=spiffe:\/\/demo\.local\/ns\/bank\/sa\/batch$/);
  });
  it('speaks HTTP/1.1 as well as HTTP/2', async () => {
    const h2 = await get('/hello', as('allowed'));
    const h1 = await get('/hello', as('allowed', { http1: true }));
    assert.deepEqual([h2.status, h2.httpVersion, h1.status, h1.httpVersion], [200, '2', 200, '1.1']);
  });
  it('answers 403 with the configured body to a trusted client that is not listed', async () => {
    const result = await get('/hello', as('denied'));
    assert.equal(result.status, 403);
    assert.equal(result.body, 'client certificate not authorized\n');
    assert.equal(result.headers['content-type'], 'text/plain');
  });
  it('answers 403 to a client without a certificate', async () => {
    const result = await get('/hello', as(undefined));
    assert.equal(result.status, 403);
    assert.equal(result.body, 'client certificate not authorized\n');
  });
  it('fails the handshake of a certificate from an unknown CA', async () => {
    const result = await curl(`${target.url}/hello`, as('other-ca'));
    assert.equal(result.status, 0, 'an HTTP response arrived');
    assert.notEqual(result.exitCode, 0);
  });
  it('ignores XFCC and identity headers sent by the client', async () => {
    const forged = {
      'x-forwarded-client-cert': `Hash=${sha256Of('allowed')};URI=spiffe://demo.local/ns/bank/sa/batch`,
      'x-client-identity': 'bank-batch',
    };
    assert.equal((await get('/hello', as('denied', { headers: forged }))).status, 403);
    const echo = echoed(await get('/hello', as('allowed', { headers: { 'x-client-identity': 'admin', 'x-forwarded-client-cert': 'By=evil;URI=spiffe://evil' } })));
    assert.equal(echo.headers['x-client-identity'], 'bank-batch');
    assert.doesNotMatch(echo.headers['x-forwarded-client-cert'], /evil/);
  });
  it('allows the multi-SAN certificate through its second URI SAN', async () => {
    assert.equal(echoed(await get('/hello', as('multi-san'))).headers['x-client-identity'], 'bank-batch');
  });
  it('allows a client known by a CN that needs RFC 2253 escaping', async () => {
    const echo = echoed(await get('/hello', as('escaped')));
    assert.equal(echo.headers['x-client-identity'], 'acme');
    assert.match(echo.headers['x-forwarded-client-cert'], /;Subject="CN=Acme\\, Inc\. batch,O=Demo Bank";/);
  });
  it('blocks the batch client on the one denied path only, however the path is spelled', async () => {
    assert.equal((await get('/status/418', as('allowed'))).status, 403);
    assert.equal((await get('/status/%2e%2e/status/418', as('allowed'))).status, 403);
    assert.equal((await get('/status/200', as('allowed'))).status, 200);
  });
  it('applies a live configuration change, and refuses a broken one while traffic keeps flowing', async () => {
    const config = JSON.parse(DEFAULT_CONFIG);
    config.allow.push({ name: 'partner', uriSan: 'spiffe://demo.local/ns/other/sa/stranger' });
    await target.applyConfig(JSON.stringify(config, null, 2));
    await until(async () => (await get('/hello', as('denied'))).status === 200, 'the new rule allows the partner');
    assert.equal(echoed(await get('/hello', as('denied'))).headers['x-client-identity'], 'partner');

    await target.applyConfig(JSON.stringify({ ...config, allow: [{ name: 'broken', sha256: 'xyz' }] }));
    await sleep(500);
    for (let i = 0; i < 5; i++) assert.equal((await get('/hello', as('denied'))).status, 200, 'the previous configuration keeps serving');
    if (target.name === 'embedded gateway') {
      assert.ok(target.messages.some((m) => m.includes('refused') && m.includes('allow[0].sha256: expected 64 hex digits, got "xyz"')), target.messages.join('\n'));
    }
    await target.applyConfig(DEFAULT_CONFIG);
    await until(async () => (await get('/hello', as('denied'))).status === 403, 'the default configuration is back');
  });
  it('pins a client by its public key (SPKI) read from the certificate the gateway forwards', async () => {
    const spki = JSON.parse(await (async () => {
      let out = '';
      await cli(['inspect', '--json', target.pki.cert('denied')], { out: (t) => void (out += t), err: () => {} });
      return out;
    })())[0].spkiSha256;
    const config = JSON.parse(DEFAULT_CONFIG);
    config.allow.push({ name: 'pinned-partner', spki });
    await target.applyConfig(JSON.stringify(config));
    await until(async () => (await get('/hello', as('denied'))).status === 200, 'the SPKI pin allows the partner');
    assert.equal(echoed(await get('/hello', as('denied'))).headers['x-client-identity'], 'pinned-partner');
    await target.applyConfig(DEFAULT_CONFIG);
    await until(async () => (await get('/hello', as('denied'))).status === 403, 'the default configuration is back');
  });
  it('agrees with `cert-allowlist explain` on every demo client and path', async () => {
    const config = `${target.pki.dir}/../e2e-explain.json`;
    writeFileSync(config, DEFAULT_CONFIG);
    for (const client of ['allowed', 'denied', 'multi-san', 'escaped']) {
      for (const path of ['/hello', '/status/418']) {
        const served = await get(path, as(client));
        let out = '';
        const code = await cli(['explain', '--json', '--config', config, '--cert', target.pki.cert(client), '--host', 'localhost', '--path', path], { out: (t) => void (out += t), err: () => {} });
        const explained = JSON.parse(out);
        assert.equal(explained.decision === 'allow' ? 200 : 403, served.status, `${client} ${path}: explain says ${out}`);
        assert.equal(code, explained.decision === 'deny' ? 1 : 0);
      }
    }
  });
  it('counts every request that reached the filter', async () => {
    const allowed = await metric('cert_allowlist_allowed');
    const denied = await metric('cert_allowlist_denied');
    assert.equal(allowed + denied, filtered);
    assert.ok(allowed > 0 && denied > 0);
  });
});
