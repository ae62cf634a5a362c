// Static checks of the real-Envoy harness (no Docker needed): the compose file and Envoy's
// configuration parse, the filter sits before the router with the right type URLs and root id, the
// mounted paths are the ones the configuration reads, and the embedded plugin configuration is
// exactly filter-config/'s.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { renderListeners } from '../scripts/envoy-config.js';

const root = new URL('../', import.meta.url).pathname;
const envoyDir = join(root, 'envoy');
const WASM_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm';
const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

// Parsed YAML is walked freely; a wrong path fails the assertion that reads it.
type Yaml = any;

const compose: Yaml = parse(readFileSync(join(envoyDir, 'docker-compose.yml'), 'utf8'));
const bootstrap: Yaml = parse(readFileSync(join(envoyDir, 'envoy.yaml'), 'utf8'));
const defaultConfig = readFileSync(join(root, 'filter-config/cert-allowlist.json'), 'utf8');
const listeners: Yaml = parse(renderListeners(defaultConfig));
const listener = listeners.resources[0];
const chain = listener.filter_chains[0];
const hcm = chain.filters[0].typed_config;
const wasm = hcm.http_filters.find((f: Yaml) => f.typed_config['@type'] === WASM_TYPE);

/** Container path → host path, from the envoy service's volume list. */
const mounts = new Map<string, string>(
  compose.services.envoy.volumes.map((volume: string) => {
    const [source, target] = volume.split(':');
    return [target, resolve(envoyDir, source)];
  }),
);

function hostPath(containerPath: string): string | undefined {
  for (const [target, source] of mounts) {
    if (containerPath === target) return source;
    if (containerPath.startsWith(`${target}/`)) return join(source, containerPath.slice(target.length + 1));
  }
  return undefined;
}

describe('the Envoy harness', () => {
  it('pins the Envoy image by tag in one overridable variable', () => {
    assert.match(compose.services.envoy.image, /^\$\{ENVOY_IMAGE:-envoyproxy\/envoy:v\d+\.\d+\.\d+\}$/);
  });
  it('mounts the bootstrap the Envoy command reads', () => {
    const command: string[] = compose.services.envoy.command;
    assert.equal(hostPath(command[command.indexOf('-c') + 1]), join(envoyDir, 'envoy.yaml'));
  });
  it('mounts the listener file where the bootstrap watches for it, and renders it there', () => {
    const source = bootstrap.dynamic_resources.lds_config.path_config_source;
    assert.equal(dirname(source.path), source.watched_directory.path);
    assert.equal(hostPath(source.path), join(root, 'build/envoy/listeners/lds.yaml'));
  });
  it('runs the built module from the mounted file', () => {
    assert.equal(hostPath(wasm.typed_config.config.vm_config.code.local.filename), join(root, 'build/cert-allowlist.wasm'));
    assert.equal(wasm.typed_config.config.vm_config.runtime, 'envoy.wasm.runtime.v8');
  });
  it('reads the demo PKI from the mounted folder', () => {
    const tlsContext = chain.transport_socket.typed_config;
    const files = [
      tlsContext.common_tls_context.tls_certificates[0].certificate_chain.filename,
      tlsContext.common_tls_context.tls_certificates[0].private_key.filename,
      tlsContext.common_tls_context.validation_context.trusted_ca.filename,
    ];
    for (const file of files) assert.equal(dirname(hostPath(file)!), join(root, 'build/pki'), file);
  });
  it('requests a client certificate without requiring it, like OPTIONAL_MUTUAL', () => {
    const tlsContext = chain.transport_socket.typed_config;
    assert.equal(tlsContext.require_client_certificate, false);
    assert.ok(tlsContext.common_tls_context.validation_context.trusted_ca);
  });
  it('sets XFCC like an Istio gateway', () => {
    assert.equal(hcm.forward_client_cert_details, 'SANITIZE_SET');
    assert.deepEqual(hcm.set_current_client_cert_details, { subject: true, cert: true, uri: true, dns: true });
  });
  it('puts the wasm filter before the router, which comes last', () => {
    const types = hcm.http_filters.map((f: Yaml) => f.typed_config['@type']);
    assert.deepEqual(types, [WASM_TYPE, ROUTER_TYPE]);
  });
  it('uses the root id the filter registers', () => {
    assert.equal(wasm.typed_config.config.root_id, 'cert-allowlist');
  });
  it('embeds exactly the configuration in filter-config/', () => {
    const configuration = wasm.typed_config.config.configuration;
    assert.equal(configuration['@type'], 'type.googleapis.com/google.protobuf.StringValue');
    assert.equal(configuration.value, defaultConfig);
  });
  it('routes to the upstream service of the compose file', () => {
    const cluster = bootstrap.static_resources.clusters[0];
    const address = cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
    assert.ok(compose.services[address.address], `no service named ${address.address}`);
    assert.equal(hcm.route_config.virtual_hosts[0].routes[0].route.cluster, cluster.name);
    assert.match(compose.services.upstream.command.at(-1), new RegExp(`\\.listen\\(${address.port_value}, '0\\.0\\.0\\.0'\\)$`));
  });
});
