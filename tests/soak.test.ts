// Soak and memory: a million mixed requests through one VM, and a thousand configuration updates in
// a row, on the compiled module. Memory must reach a plateau; counters must add up.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvoyHost, mtls, plaintext, tls, type Connection } from '../host/index.js';

const MODULE = new URL('../build/cert-allowlist.wasm', import.meta.url).pathname;
const REQUESTS = Number(process.env.SOAK_REQUESTS ?? 1_000_000);
const digest = (i: number) => i.toString(16).padStart(64, 'c');

const POLICY = {
  hosts: ['payments.example.com', '*.bank.example'],
  allow: [
    ...Array.from({ length: 200 }, (_, i) => ({ name: `client-${i}`, sha256: digest(i) })),
    { name: 'partner', uriSanPrefix: 'spiffe://partner.example/' },
    { name: 'scoped', cn: 'scoped', paths: ['/ledger/'] },
  ],
  deny: [{ name: 'no-teapot', cn: 'scoped', paths: ['/status/418'] }],
  identityHeader: 'x-client-identity',
};

describe('soak', () => {
  it(`serves ${REQUESTS.toLocaleString('en')} mixed requests: no trap, memory plateaus, counters add up`, { timeout: 600_000 }, async () => {
    const host = await EnvoyHost.load(MODULE);
    assert.equal(host.configure(JSON.stringify(POLICY)), true);
    const connections: Connection[] = [
      mtls({ sha256: digest(7), subject: '' }),
      mtls({ sha256: 'f'.repeat(64), subject: 'CN=stranger' }),
      mtls({ sha256: 'e'.repeat(64), subject: 'CN=scoped,O=x', uriSans: [], dnsSans: [] }),
      mtls({ sha256: 'd'.repeat(64), subject: '', uriSans: ['spiffe://partner.example/x'] }),
      tls(),
      plaintext(),
    ];
    const paths = ['/ledger/x', '/status/418', '/%2e%2e/ledger/y?q=1', '/other'];
    const authorities = ['payments.example.com', 'x.bank.example:443', 'www.example.com'];
    let inScope = 0;
    let plateau = 0;
    const warmUp = Math.min(100_000, REQUESTS / 10);
    for (let i = 0; i < REQUESTS; i++) {
      const authority = authorities[i % 3];
      const outcome = host.request({
        connection: connections[i % connections.length],
        authority,
        path: paths[(i >> 1) % paths.length],
        headers: i % 7 === 0 ? { 'x-forwarded-client-cert': `Hash=${'0'.repeat(64)};URI=spiffe://partner.example/x`, 'x-client-identity': 'forged' } : {},
      });
      if (outcome.action !== 'continued' && outcome.response.status !== 403) assert.fail(`request ${i}: ${outcome.action} ${outcome.response.status}`);
      if (authority !== 'www.example.com') inScope++;
      if (i === warmUp) plateau = host.memoryBytes();
    }
    assert.equal(host.vmFailed, false);
    assert.equal(host.memoryBytes(), plateau, `linear memory grew after warm-up: ${plateau} → ${host.memoryBytes()}`);
    const count = (name: string) => host.metric(`cert_allowlist.${name}`) ?? 0n;
    assert.equal(count('allowed') + count('denied') + count('dry_run_denied'), BigInt(inScope));
    assert.deepEqual(host.logsAtLeast('error'), []);
    console.log(`# soak: ${REQUESTS} requests, linear memory ${plateau} bytes after warm-up and at the end`);
  });

  it('takes 1 000 configuration updates in a row, valid and invalid, with bounded memory and no disturbance', { timeout: 600_000 }, async () => {
    const host = await EnvoyHost.load(MODULE);
    assert.equal(host.configure(JSON.stringify(POLICY)), true);
    const listed = mtls({ sha256: digest(7), subject: '' });
    let plateau = 0;
    for (let i = 0; i < 1000; i++) {
      const valid = i % 2 === 0;
      const config = valid
        ? { ...POLICY, allow: [...POLICY.allow, { name: `extra-${i}`, sha256: digest(1000 + i) }] }
        : { ...POLICY, allow: [{ name: 'broken', sha256: `not-a-digest-${i}` }] };
      assert.equal(host.configure(JSON.stringify(config)), valid);
      // A refused update never disturbs the running policy.
      assert.equal(host.request({ connection: listed, authority: 'payments.example.com', path: '/ledger/' }).action, 'continued');
      if (i === 100) plateau = host.memoryBytes();
    }
    assert.equal(host.memoryBytes(), plateau, `linear memory grew across updates: ${plateau} → ${host.memoryBytes()}`);
    assert.equal(host.vmFailed, false);
  });
});
