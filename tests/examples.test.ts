// filter-config/: the published JSON Schema and the filter's own parser (the compiled module in the
// host, and in real Envoy as an update pushed to it) agree on every example. Invalid examples carry
// the exact error the filter must log; the few rules JSON Schema cannot express say so in
// `beyondSchema`, and the schema must then accept them.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import Ajv2020 from 'ajv/dist/2020.js';
import { ENVOY_VERSIONS } from '../envoy/install.js';
import { EnvoyHost } from '../host/index.js';
import { TestProxy } from './support/envoy.js';
import { testPki } from './support/pki.js';

const MODULE = new URL('../build/cert-allowlist.wasm', import.meta.url).pathname;
const CONFIG = new URL('../filter-config/', import.meta.url).pathname;

const schema = JSON.parse(readFileSync(`${CONFIG}schema.json`, 'utf8'));
const validate = new Ajv2020.default({ strict: true, strictRequired: false }).compile(schema);

interface InvalidExample {
  name: string;
  configuration: string;
  error: string;
  beyondSchema?: string;
}

const invalid: InvalidExample[] = JSON.parse(readFileSync(`${CONFIG}examples/invalid.json`, 'utf8'));
const valid = [
  'cert-allowlist.json',
  ...readdirSync(`${CONFIG}examples`)
    .filter((f) => f.startsWith('valid-'))
    .map((f) => `examples/${f}`),
];

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

describe('valid examples', () => {
  for (const file of valid) {
    it(`${file} passes the schema and the filter`, async () => {
      const text = readFileSync(`${CONFIG}${file}`, 'utf8');
      assert.equal(validate(JSON.parse(text)), true, JSON.stringify(validate.errors));
      const host = await EnvoyHost.load(MODULE);
      assert.equal(host.configure(text), true, JSON.stringify(host.logsAtLeast('warn')));
      assert.deepEqual(host.logsAtLeast('warn'), []);
    });
  }
});

describe('invalid examples', () => {
  for (const example of invalid) {
    it(`${example.name}: the filter refuses it with the documented error`, async () => {
      const host = await EnvoyHost.load(MODULE);
      assert.equal(host.configure(example.configuration), false);
      assert.deepEqual(
        host.logsAtLeast('warn').map((entry) => entry.message),
        [`cert-allowlist: rejected configuration: ${example.error}`],
      );
      assert.equal(host.vmFailed, false);
    });
    it(`${example.name}: the schema ${example.beyondSchema ? `cannot tell (${example.beyondSchema})` : 'refuses it too'}`, () => {
      const json = parsed(example.configuration);
      if (example.beyondSchema) {
        assert.ok(json === undefined || validate(json), 'the schema now catches this: drop beyondSchema');
      } else {
        assert.notEqual(json, undefined, 'not JSON: mark it beyondSchema');
        assert.equal(validate(json), false);
      }
    });
  }
});

for (const version of ENVOY_VERSIONS) {
  describe(`Envoy ${version} takes every valid example and refuses every invalid one with the documented error`, () => {
    let gateway: TestProxy;
    before(async () => {
      gateway = await TestProxy.start({ version, configuration: readFileSync(`${CONFIG}cert-allowlist.json`, 'utf8'), pki: testPki() });
    });
    after(async () => {
      await gateway?.stop();
    });
    it('takes the valid examples', async () => {
      for (const file of valid) {
        const result = await gateway.push(readFileSync(`${CONFIG}${file}`, 'utf8'));
        assert.ok(result.accepted, `${file}: ${result.errors.map((line) => line.message).join('\n')}`);
      }
    });
    it('refuses the invalid examples, each with its line', async () => {
      for (const example of invalid) {
        const result = await gateway.push(example.configuration);
        assert.equal(result.accepted, false, example.name);
        const lines = result.errors
          .filter((line) => line.logger === 'wasm' && line.message.startsWith('wasm log'))
          .map((line) => line.message.replace(/^wasm log[^:]*: /, ''));
        assert.deepEqual(lines, [`cert-allowlist: rejected configuration: ${example.error}`], example.name);
      }
    });
  });
}
