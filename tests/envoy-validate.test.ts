// `envoy --mode validate`, every pinned version, on every Envoy configuration the project produces —
// the gateway and sidecar of envoy/ with the filter of filter.yaml, the docker compose rendering, the
// wasm filter inside the EnvoyFilter and the WasmPlugin `cert-allowlist render` prints — and on broken
// ones, which Envoy must refuse with the reason named. Validation runs the filter's configure, so a
// plugin configuration the filter refuses fails here with the filter's own line.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { main as cli } from '../cli/main.js';
import { ENVOY_VERSIONS } from '../envoy/install.js';
import { filterConfig } from '../envoy/proxy.js';
import { type EnvoyConfig, render } from '../envoy/render.js';
import { validate, withInlineFilter } from '../envoy/validate.js';
import { CONTAINER, dockerBootstrap, dockerFilter } from '../scripts/render-docker.js';
import { MODULE } from './support/envoy.js';
import { testPki } from './support/pki.js';

const root = new URL('../', import.meta.url).pathname;
const pki = testPki();
const DEFAULT_CONFIG = readFileSync(join(root, 'filter-config/cert-allowlist.json'), 'utf8');
const XFCC_CONFIG = readFileSync(join(root, 'filter-config/examples/valid-sidecar-xfcc-spiffe.json'), 'utf8');

function bootstrap(template: 'gateway' | 'sidecar'): EnvoyConfig {
  return render(template, {
    ADMIN_ADDRESS: '127.0.0.1',
    ADMIN_PORT: 0,
    LISTEN_ADDRESS: '127.0.0.1',
    LISTEN_PORT: 0,
    PKI_DIR: pki.dir,
    HOST: 'payments.example.com',
    FILTER_DIR: '/nonexistent',
    UPSTREAM_ADDRESS: '127.0.0.1',
    UPSTREAM_PORT: 8080,
  });
}

/** The HTTP filter entry of filter.yaml's resource, as an HCM lists it inline. */
function inlineEntry(filter: EnvoyConfig): EnvoyConfig {
  const resource = filter.resources[0];
  return { name: resource.name, typed_config: resource.typed_config };
}

const withFilter = (template: 'gateway' | 'sidecar', configuration: string, module = MODULE) =>
  withInlineFilter(bootstrap(template), inlineEntry(filterConfig({ module }, configuration)));

async function cliOutput(args: string[]): Promise<string> {
  let out = '';
  const code = await cli(args, { out: (text) => void (out += text), err: (text) => void (out += text) });
  assert.equal(code, 0, out);
  return out;
}

function hcm(config: EnvoyConfig): EnvoyConfig {
  return config.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
}

// Container paths of the docker rendering, mapped to the files compose mounts there.
function fromContainer(config: EnvoyConfig): EnvoyConfig {
  const mounts: [string, string][] = [
    [CONTAINER.pki, pki.dir],
    [CONTAINER.module, MODULE],
  ];
  return JSON.parse(JSON.stringify(config), (_, value) => {
    if (typeof value !== 'string') return value;
    for (const [inside, outside] of mounts) if (value === inside || value.startsWith(`${inside}/`)) return outside + value.slice(inside.length);
    return value === CONTAINER.upstream.address ? '127.0.0.1' : value;
  });
}

for (const version of ENVOY_VERSIONS) {
  describe(`Envoy ${version} validates what the project produces`, () => {
    it('the gateway with the default configuration', () => {
      const result = validate(version, withFilter('gateway', DEFAULT_CONFIG));
      assert.ok(result.valid, result.output);
    });
    it('the sidecar with an xfcc-mode configuration', () => {
      const result = validate(version, withFilter('sidecar', XFCC_CONFIG));
      assert.ok(result.valid, result.output);
    });
    it('the docker compose rendering, with the mounted files where compose puts them', () => {
      const compose = parse(readFileSync(join(root, 'envoy/docker-compose.yml'), 'utf8'));
      const mounts: string[] = compose.services.envoy.volumes.map((volume: string) => volume.split(':')[1]);
      for (const path of [CONTAINER.bootstrap, CONTAINER.filterDir, CONTAINER.module, CONTAINER.pki])
        assert.ok(mounts.includes(path), `compose mounts nothing at ${path}`);
      assert.equal(compose.services.envoy.command[compose.services.envoy.command.indexOf('-c') + 1], CONTAINER.bootstrap);
      assert.ok(compose.services[CONTAINER.upstream.address].command.at(-1).includes(`.listen(${CONTAINER.upstream.port}, '0.0.0.0')`));
      const docker = withInlineFilter(dockerBootstrap(), inlineEntry(dockerFilter(DEFAULT_CONFIG)));
      const result = validate(version, fromContainer(docker));
      assert.ok(result.valid, result.output);
    });
    it('the wasm filter inside the EnvoyFilter `cert-allowlist render envoyfilter` prints', async () => {
      const config = join(root, 'filter-config/examples/valid-full.json');
      const documents = parseAllDocuments(await cliOutput(['render', 'envoyfilter', '--config', config, '--url', MODULE]));
      const patch = documents[0].toJSON().spec.configPatches[0].patch.value;
      const result = validate(version, withInlineFilter(bootstrap('gateway'), patch));
      assert.ok(result.valid, result.output);
    });
    it('the plugin configuration of the WasmPlugin `cert-allowlist render wasmplugin` prints, as istiod hands it to Envoy', async () => {
      const config = join(root, 'filter-config/examples/valid-gateway-fingerprints.json');
      const manifest = parse(await cliOutput(['render', 'wasmplugin', '--config', config, '--image', 'oci://registry.example/cert-allowlist:1']));
      const entry = inlineEntry(
        filterConfig(
          { module: MODULE, pluginName: `${manifest.metadata.namespace}.${manifest.metadata.name}`, rootId: manifest.spec.pluginName },
          JSON.stringify(manifest.spec.pluginConfig),
        ),
      );
      const result = validate(version, withInlineFilter(bootstrap('gateway'), entry));
      assert.ok(result.valid, result.output);
    });

    const broken: [string, () => EnvoyConfig, RegExp][] = [
      [
        'a plugin configuration the filter refuses',
        () => withFilter('gateway', '{"allow":[{"name":"x","sha256":"bad"}]}'),
        /rejected configuration: allow\[0\]\.sha256: expected 64 hex digits, got "bad"/,
      ],
      [
        'a module that is not WebAssembly',
        () => withFilter('gateway', DEFAULT_CONFIG, join(root, 'package.json')),
        /Failed to load Wasm code[\s\S]*Unable to create Wasm plugin cert-allowlist/,
      ],
      [
        'the filter after the router',
        () => {
          const config = withFilter('gateway', DEFAULT_CONFIG);
          hcm(config).http_filters.reverse();
          return config;
        },
        /terminal filter named envoy\.filters\.http\.router .* must be the last filter/,
      ],
      [
        'an unknown field in the connection manager',
        () => {
          const config = withFilter('gateway', DEFAULT_CONFIG);
          hcm(config).forward_client_cert = 'SANITIZE_SET';
          return config;
        },
        /forward_client_cert/,
      ],
      [
        'an XFCC mode Envoy does not have',
        () => {
          const config = withFilter('gateway', DEFAULT_CONFIG);
          hcm(config).forward_client_cert_details = 'SANITISE_SET';
          return config;
        },
        /SANITISE_SET/,
      ],
    ];
    for (const [name, config, reason] of broken) {
      it(`refuses ${name}`, () => {
        const result = validate(version, config());
        assert.equal(result.valid, false, result.output);
        assert.match(result.output, reason);
      });
    }
  });
}
