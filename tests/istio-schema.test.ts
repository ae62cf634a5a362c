// Every manifest `cert-allowlist render` prints, in every variation of its options, is one Istio's
// own CRD schemas accept with every field kept (tests/support/istio-schema.ts: istio.io/api through
// the Go module proxy, so this file is in the full gate, not the quick tier).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { main } from '../cli/main.js';
import { istioSchemaProblems } from './support/istio-schema.js';

let dir: string;
const configFile = () => join(dir, 'render.json');
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cert-allowlist-istio-'));
  writeFileSync(configFile(), JSON.stringify({ allow: [{ name: 'a', cn: 'partner' }] }));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (text) => void (out += text), err: (text) => void (err += text) });
  return { code, out, err };
}

describe("render against Istio's CRD schemas", () => {
  it("prints only what Istio 1.28's CRD schemas accept, every field kept, in every variation", async () => {
    const variations = [
      ['wasmplugin', '--image', `oci://r/x@sha256:${'a'.repeat(64)}`, '--sha256', 'a'.repeat(64)],
      [
        'wasmplugin',
        '--url',
        'https://example.com/f.wasm',
        '--ports',
        '443,8443',
        '--image-pull-secret',
        's',
        '--fail-strategy',
        'FAIL_RELOAD',
        '--phase',
        'AUTHZ',
        '--mode',
        'dry-run',
      ],
      ['wasmplugin', '--image', 'oci://r/x:1', '--ports', 'all', '--fail-strategy', 'FAIL_OPEN'],
      ['envoyfilter'],
      ['envoyfilter', '--url', '/etc/wasm/f.wasm', '--fail-strategy', 'FAIL_RELOAD', '--selector', 'app=gw,istio=ingressgateway'],
    ];
    for (const [kind, ...rest] of variations) {
      const { code, out, err } = await cli('render', kind, '--config', configFile(), ...rest);
      assert.equal(code, 0, err);
      assert.deepEqual(istioSchemaProblems(parse(out)), [], `${kind} ${rest.join(' ')}`);
    }
  });
  it('the schema check finds what the API server would refuse or drop', () => {
    assert.match(
      istioSchemaProblems({ apiVersion: 'extensions.istio.io/v1alpha1', kind: 'WasmPlugin', spec: { url: 'oci://r/x:1', phase: 'EARLY' } }).join('\n'),
      /spec\/phase must be equal to one of the allowed values/,
    );
    assert.match(
      istioSchemaProblems({ apiVersion: 'extensions.istio.io/v1alpha1', kind: 'WasmPlugin', spec: { url: 'oci://r/x:1', failStrateg: 'FAIL_OPEN' } }).join(
        '\n',
      ),
      /spec\.failStrateg: not in Istio's schema/,
    );
  });
});
