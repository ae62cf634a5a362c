// The compiled release module (build/cert-allowlist.wasm) in the Envoy-faithful host: the
// foundation's allow/deny behaviour, configuration handling, root ids and memory stability.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { EnvoyHost, mtls, plaintext, tls, type HostOptions, type RequestOutcome } from '../host/index.js';

const MODULE = new URL('../build/cert-allowlist.wasm', import.meta.url).pathname;

const ACME = '8d5816f39f390cb936cabe2151aee79d751830ea07dde2deb2900d8134edf7a7';
const ACME_COLONS = ACME.toUpperCase().match(/../g)!.join(':');
const OTHER = '3b1f0e54c0e5b5e2f3d6c1a0b9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29180';
const STRANGER = 'ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100';

const peer = (sha256: string) => mtls({ sha256, subject: 'CN=client', uriSans: [], dnsSans: [] });
const allowList = (...rules: [string, string][]) => JSON.stringify({ allow: rules.map(([name, sha256]) => ({ name, sha256 })) });

async function filter(configuration = allowList(['acme-batch', ACME]), options: HostOptions = {}): Promise<EnvoyHost> {
  const host = await EnvoyHost.load(MODULE, options);
  assert.equal(host.configure(configuration), true, JSON.stringify(host.logsAtLeast('warn')));
  return host;
}

function assertDenied(outcome: RequestOutcome, reason: string): void {
  assert.equal(outcome.action, 'local_reply');
  assert.deepEqual(outcome.localReply, {
    status: 403,
    details: `cert_allowlist_${reason}`,
    body: 'client certificate not authorized\n',
    headers: [['content-type', 'text/plain']],
    grpcStatus: -1,
  });
  assert.equal(outcome.response.status, 403);
}

function assertNoErrors(host: EnvoyHost): void {
  assert.deepEqual(host.logsAtLeast('error'), []);
  assert.equal(host.vmFailed, false);
}

describe('the release module', () => {
  it('exists (npm test builds it first)', () => {
    assert.ok(existsSync(MODULE), `${MODULE} is missing: run npm run build`);
  });
  it('imports nothing Envoy lacks and exports an ABI version', async () => {
    await EnvoyHost.load(MODULE);
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(MODULE)));
    for (const name of ['abort', 'seed', 'trace']) assert.ok(!imports.some((i) => i.name === name), `imports env.${name}`);
  });
});

describe('allow and deny by SHA-256 digest', () => {
  for (const [form, written] of [
    ['lower case', ACME],
    ['upper case', ACME.toUpperCase()],
    ['colon pairs', ACME_COLONS],
  ]) {
    it(`allows a listed certificate configured in ${form}`, async () => {
      const host = await filter(allowList(['acme-batch', written]));
      const outcome = host.request({ connection: peer(ACME) });
      assert.equal(outcome.action, 'continued');
      assert.equal(outcome.localReply, undefined);
      assert.equal(outcome.response.status, 200);
      assertNoErrors(host);
    });
  }
  it('denies a certificate that is not listed with not_allowed', async () => {
    const host = await filter();
    assertDenied(host.request({ connection: peer(STRANGER) }), 'not_allowed');
    assertNoErrors(host);
  });
  it('denies TLS without a client certificate with no_client_certificate', async () => {
    const host = await filter();
    assertDenied(host.request({ connection: tls() }), 'no_client_certificate');
    assertNoErrors(host);
  });
  it('denies plaintext with no_client_certificate', async () => {
    const host = await filter();
    assertDenied(host.request({ connection: plaintext() }), 'no_client_certificate');
    assertNoErrors(host);
  });
  it('denies everything with an empty allow list', async () => {
    const host = await filter('{"allow": []}');
    assertDenied(host.request({ connection: peer(ACME) }), 'not_allowed');
  });
  it('never lets a denied request reach the upstream', async () => {
    const host = await filter();
    let reached = false;
    host.request({
      connection: peer(STRANGER),
      upstream: () => {
        reached = true;
        return { status: 200 };
      },
    });
    assert.equal(reached, false);
  });
  it("reads only the digest for a fingerprint list: one property, one counter and the rule's name for the access log per allowed request", async () => {
    const host = await filter();
    assert.deepEqual(host.request({ connection: peer(ACME) }).hostCalls, {
      'env.proxy_get_property': 1,
      'env.proxy_increment_metric': 1,
      'env.proxy_set_property': 1,
    });
  });
  it('reads host and path only to log a denied request, reads the clock for the log budget, and replies once', async () => {
    const host = await filter();
    assert.deepEqual(host.request({ connection: tls() }).hostCalls, {
      'env.proxy_get_property': 1,
      'env.proxy_increment_metric': 2,
      'env.proxy_get_current_time_nanoseconds': 1,
      'env.proxy_log': 1,
      'env.proxy_get_header_map_value': 2,
      'env.proxy_send_local_response': 1,
    });
  });
});

describe('deny lines under a flood', () => {
  const denyLines = (host: EnvoyHost) => host.logsAtLeast('info').filter((l) => l.message.startsWith('cert-allowlist: deny ')).length;
  it('writes at most denyLinesPerSecond lines a second, counts the rest, and says how many it held back', async () => {
    const host = await filter(JSON.stringify({ allow: [{ name: 'acme', sha256: ACME }], denyLinesPerSecond: 2 }));
    host.setTime(new Date('2027-01-01T00:00:00.000Z'));
    for (let i = 0; i < 5; i++) assertDenied(host.request({ connection: peer(STRANGER) }), 'not_allowed');
    assert.equal(denyLines(host), 2);
    assert.equal(host.metric('cert_allowlist.deny_lines_held'), 3n);
    assert.equal(host.metric('cert_allowlist.denied'), 5n, 'every denial is counted');
    host.setTime(new Date('2027-01-01T00:00:01.000Z'));
    assertDenied(host.request({ connection: peer(STRANGER) }), 'not_allowed');
    const lines = host.logsAtLeast('info').map((l) => l.message);
    assert.deepEqual(
      lines.slice(-2).map((l) => l.slice(0, 40)),
      ['cert-allowlist: 3 deny line(s) held back', 'cert-allowlist: deny reason=not_allowed '],
    );
  });
  it('writes no deny line at 0, and still denies and counts', async () => {
    const host = await filter(JSON.stringify({ allow: [{ name: 'acme', sha256: ACME }], denyLinesPerSecond: 0 }));
    assertDenied(host.request({ connection: peer(STRANGER) }), 'not_allowed');
    assert.equal(denyLines(host), 0);
    assert.equal(host.metric('cert_allowlist.deny_lines_held'), 1n);
  });
});

describe('one request at a time', () => {
  it('decides each request on its own facts, whatever the request before it read', async () => {
    // Values read for one request (a SAN, a subject) must never answer for the next.
    const host = await filter(
      JSON.stringify({
        allow: [
          { name: 'bank', uriSanPrefix: 'spiffe://bank/' },
          { name: 'cn', cn: 'partner' },
        ],
      }),
    );
    const bank = mtls({ sha256: ACME, subject: 'CN=partner', uriSans: ['spiffe://bank/a'], dnsSans: [] });
    const bare = mtls({ sha256: STRANGER, subject: '', uriSans: [], dnsSans: [] });
    for (let i = 0; i < 3; i++) {
      assert.equal(host.request({ connection: bank }).action, 'continued');
      assertDenied(host.request({ connection: bare }), 'not_allowed');
      assertDenied(host.request({ connection: tls() }), 'no_client_certificate');
    }
  });
});

describe('configuration', () => {
  it('refuses a configuration Envoy stops handing over part way, without a trap', async () => {
    // Driven at the VM level: the plugin configuration buffer answers the first window and then is
    // gone (NotFound), which Envoy never does on its own — the reader must still fail cleanly.
    const host = await EnvoyHost.load(MODULE, { canary: false });
    const vm = host.vm;
    const rules = Array.from({ length: 3000 }, (_, i) => ({ name: `client-${i}`, sha256: ACME.replace(/.{6}$/, i.toString(16).padStart(6, '0')) }));
    const config = Buffer.from(JSON.stringify({ allow: rules }));
    assert.ok(config.length > 2 * 65536);
    let reads = 0;
    const buffers = new Map<number, Buffer>();
    buffers.get = (type: number) => (type === 7 && reads++ === 0 ? config : undefined);
    const id = vm.newContextId();
    vm.contexts.set(id, { kind: 'root', plugin: { pluginName: 'p', rootId: '', vmId: '' }, buffers, filterState: new Map() });
    assert.equal(vm.call('proxy_on_context_create', [id, 0], id).trapped, false);
    assert.equal(vm.call('proxy_on_vm_start', [id, 0], id).value, 1);
    const configured = vm.call('proxy_on_configure', [id, config.length], id);
    assert.deepEqual(configured, { trapped: false, value: 0 });
    assert.ok(reads >= 2);
    assert.deepEqual(
      host.logsAtLeast('error').map((e) => e.message),
      ['cert-allowlist: configuration: cannot read the plugin configuration'],
    );
  });
  it("accepts the default configuration in filter-config/ (the demo gateway's)", async () => {
    const host = await filter(readFileSync(new URL('../filter-config/cert-allowlist.json', import.meta.url), 'utf8'));
    const batch = mtls({ sha256: ACME, subject: 'CN=batch.demo.local,O=Demo Bank', uriSans: ['spiffe://demo.local/ns/bank/sa/batch'] });
    assert.equal(host.request({ connection: batch }).action, 'continued');
    assertDenied(host.request({ connection: batch, path: '/status/418' }), 'denied_by_rule');
    assertDenied(host.request({ connection: peer(ACME) }), 'not_allowed');
  });
  it('applies a second configuration to new requests', async () => {
    const host = await filter();
    assert.equal(host.configure(allowList(['other', OTHER])), true);
    assertDenied(host.request({ connection: peer(ACME) }), 'not_allowed');
    assert.equal(host.request({ connection: peer(OTHER) }).action, 'continued');
  });
  it('keeps the previous configuration serving when an update is refused', async () => {
    const host = await filter();
    assert.equal(host.configure(allowList(['broken', 'xyz'])), false);
    assert.equal(host.request({ connection: peer(ACME) }).action, 'continued');
    assertDenied(host.request({ connection: peer(STRANGER) }), 'not_allowed');
    assert.equal(host.vmFailed, false);
  });
  it("keeps each plugin's list apart when two plugins share one VM", async () => {
    const host = await filter();
    const second = host.plugin({ pluginName: 'other-plugin', rootId: 'other' });
    assert.equal(second.configure(allowList(['other', OTHER])), true);
    assert.equal(host.request({ connection: peer(ACME) }).action, 'continued');
    assertDenied(host.request({ connection: peer(OTHER) }), 'not_allowed');
    assert.equal(second.request({ connection: peer(OTHER) }).action, 'continued');
    assertDenied(second.request({ connection: peer(ACME) }), 'not_allowed');
  });
});

describe('root ids', () => {
  for (const rootId of ['', 'cert-allowlist', 'istio-pluginname']) {
    it(`works under root id ${JSON.stringify(rootId)}`, async () => {
      const host = await filter(undefined, { rootId });
      assert.equal(host.request({ connection: peer(ACME) }).action, 'continued');
      assertDenied(host.request({ connection: peer(STRANGER) }), 'not_allowed');
      assertNoErrors(host);
    });
  }
});

describe('many requests', () => {
  it('serves 100 000 requests without a trap, and memory stops growing after warm-up', async () => {
    const host = await filter(allowList(['acme-batch', ACME], ['other', OTHER]));
    const connections = [peer(ACME), peer(STRANGER), tls(), plaintext(), peer(OTHER)];
    const run = (count: number) => {
      for (let i = 0; i < count; i++) {
        const outcome = host.request({ connection: connections[i % connections.length], path: `/item/${i}` });
        if (outcome.response.status !== (i % 5 === 0 || i % 5 === 4 ? 200 : 403)) assert.fail(`request ${i}: ${outcome.response.status}`);
      }
    };
    run(20_000);
    const plateau = host.memoryBytes();
    run(80_000);
    assert.equal(host.memoryBytes(), plateau, 'linear memory grew after warm-up');
    assertNoErrors(host);
  });
});
