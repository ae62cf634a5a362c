// npm run envoy:docker: renders the gateway and the filter from envoy/'s templates for
// envoy/docker-compose.yml (Envoy's image, or istio/proxyv2), with the paths and addresses the
// containers see, into build/docker/. `npm run envoy:docker -- --config FILE` picks the configuration.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { filterConfig } from '../envoy/proxy.js';
import { type EnvoyConfig, render, writeConfig } from '../envoy/render.js';

const root = new URL('..', import.meta.url).pathname;
export const DOCKER_DIR = join(root, 'build/docker');

/** Where things are inside the Envoy container (envoy/docker-compose.yml mounts them there). */
export const CONTAINER = {
  bootstrap: '/etc/envoy/envoy.yaml',
  filterDir: '/etc/envoy/filter',
  module: '/etc/envoy/cert-allowlist.wasm',
  pki: '/etc/pki',
  upstream: { address: 'upstream', port: 8080 },
};

export function dockerBootstrap(): EnvoyConfig {
  return render('gateway', {
    ADMIN_ADDRESS: '0.0.0.0',
    ADMIN_PORT: 9901,
    LISTEN_ADDRESS: '0.0.0.0',
    LISTEN_PORT: 8443,
    PKI_DIR: CONTAINER.pki,
    HOST: 'localhost',
    FILTER_DIR: CONTAINER.filterDir,
    UPSTREAM_ADDRESS: CONTAINER.upstream.address,
    UPSTREAM_PORT: CONTAINER.upstream.port,
  });
}

export function dockerFilter(configuration: string): EnvoyConfig {
  return filterConfig({ module: CONTAINER.module }, configuration);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { config: { type: 'string', default: join(root, 'filter-config/cert-allowlist.json') } } });
  writeConfig(join(DOCKER_DIR, 'envoy.yaml'), dockerBootstrap());
  writeConfig(join(DOCKER_DIR, 'filter/filter.yaml'), dockerFilter(readFileSync(values.config!, 'utf8')));
  console.log(`wrote ${DOCKER_DIR}/envoy.yaml and filter/filter.yaml; edit the configuration and run this again to push it (Envoy watches filter/)`);
}
