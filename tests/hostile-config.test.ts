// Hostile configurations: each is accepted within Envoy's 1 GiB memory cap or refused with a clear
// message — never a trap, never a hang (the parse is one linear pass with bounded nesting).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvoyHost, mtls } from '../host/index.js';

const MODULE = new URL('../build/cert-allowlist.wasm', import.meta.url).pathname;
const GIB = 1024 * 1024 * 1024;
const digest = (i: number) => `${(Math.imul(i, 2654435761) >>> 0).toString(16).padStart(8, '0')}${i.toString(16).padStart(56, '0')}`;

async function configure(text: string): Promise<{ accepted: boolean; errors: string[]; host: EnvoyHost }> {
  const host = await EnvoyHost.load(MODULE, { canary: false });
  const accepted = host.configure(text);
  assert.equal(host.vmFailed, false, 'the VM trapped');
  assert.ok(host.memoryBytes() < GIB);
  return { accepted, errors: host.logsAtLeast('error').map((e) => e.message), host };
}

describe('hostile configurations', () => {
  it('accepts 1 000 000 fingerprint rules in 110 MB of linear memory', { timeout: 300_000 }, async () => {
    const rules = Array.from({ length: 1_000_000 }, (_, i) => `{"name":"c${i}","sha256":"${digest(i)}"}`);
    const { accepted, host } = await configure(`{"allow":[${rules.join(',')}]}`);
    assert.equal(accepted, true);
    assert.equal(host.request({ connection: mtls({ sha256: digest(999_999), subject: '' }) }).action, 'continued');
    // The configuration is read a window at a time and the tables are allocated once at their size
    // (the allocator is deterministic, so this is a count, not a timing). A digest is kept spelled
    // as Envoy writes it (64 bytes: no request decodes one), and the tables are at most half full.
    assert.ok(host.memoryBytes() < 1_000_000 * 110, `${host.memoryBytes()} bytes of linear memory`);
  });
  it('accepts a 10 MB configuration (100 000 scoped rules)', { timeout: 120_000 }, async () => {
    const rules = Array.from({ length: 100_000 }, (_, i) => ({ name: `client-${i}`, sha256: digest(i), paths: ['/ledger/'] }));
    const text = JSON.stringify({ allow: rules });
    assert.ok(text.length > 10_000_000);
    assert.equal((await configure(text)).accepted, true);
  });
  it('refuses nesting 100 000 levels deep', async () => {
    const { accepted, errors } = await configure(`{"allow":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    assert.equal(accepted, false);
    assert.deepEqual(errors, ['cert-allowlist: rejected configuration: allow[0]: expected an object, got array']);
  });
  it('refuses deep nesting where any value is allowed… nowhere: the limit is 64 levels', async () => {
    const { accepted, errors } = await configure(`{"allow":[],"denyResponse":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`);
    assert.equal(accepted, false);
    assert.deepEqual(errors, [
      'cert-allowlist: rejected configuration: denyResponse.a: unknown field; expected one of: status, body, contentType, includeReason',
    ]);
  });
  it('refuses a 1 MB fingerprint with a cut message', async () => {
    const { errors } = await configure(JSON.stringify({ allow: [{ name: 'a', sha256: 'a'.repeat(1_000_000) }] }));
    assert.deepEqual(errors, [
      `cert-allowlist: rejected configuration: allow[0].sha256: expected 64 hex digits, got "${'a'.repeat(80)}"… (1000000 characters)`,
    ]);
  });
  it("refuses a 1 MB rule name (it would be the identity header's value) and accepts a 1 MB comment", async () => {
    const refused = await configure(JSON.stringify({ allow: [{ name: 'n'.repeat(1_000_000), sha256: digest(1) }] }));
    assert.deepEqual(refused.errors, [
      "cert-allowlist: rejected configuration: allow[0].name: longer than 1024 bytes (1000000): a rule's name is sent upstream as the identity header's value",
    ]);
    const name = 'n'.repeat(1024);
    const { accepted, host } = await configure(
      JSON.stringify({ allow: [{ name, sha256: digest(1), comment: 'c'.repeat(1_000_000) }], identityHeader: 'x-client-identity' }),
    );
    assert.equal(accepted, true);
    const outcome = host.request({ connection: mtls({ sha256: digest(1), subject: '' }) });
    assert.equal(outcome.upstreamHeaders?.find(([k]) => k === 'x-client-identity')?.[1].length, 1024);
  });
  it('refuses a number where a string belongs', async () => {
    assert.deepEqual((await configure('{"allow":[{"name":1e308,"sha256":"x"}]}')).errors, [
      'cert-allowlist: rejected configuration: allow[0].name: expected a string, got number',
    ]);
  });
  it('refuses duplicate keys (never "last one wins"), also inside a rule', async () => {
    const { errors } = await configure(`{"allow":[{"name":"a","sha256":"${digest(1)}","sha256":"${digest(2)}"}]}`);
    assert.deepEqual(errors, ['cert-allowlist: rejected configuration: configuration: invalid JSON at offset 98: duplicate key "sha256"']);
  });
  it('refuses a huge array of the wrong thing at its first item', async () => {
    const { errors, host } = await configure(`{"allow":[${Array(1_000_000).fill('0').join(',')}]}`);
    assert.deepEqual(errors, ['cert-allowlist: rejected configuration: allow[0]: expected an object, got number']);
    // Room is reserved for no more rules than 2 MB of JSON can hold.
    assert.ok(host.memoryBytes() < 16 * 1024 * 1024, `${host.memoryBytes()} bytes of linear memory`);
  });
  it('refuses invalid UTF-8 and NUL bytes as it would any bad JSON', async () => {
    const host = await EnvoyHost.load(MODULE, { canary: false });
    assert.equal(host.configure(Buffer.from([0x7b, 0x22, 0x61, 0x00, 0xff, 0xfe, 0x22, 0x7d])), false);
    assert.equal(host.vmFailed, false);
    assert.equal(host.logsAtLeast('error').length, 1);
  });
});
