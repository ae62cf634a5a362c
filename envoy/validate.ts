// `envoy --mode validate`: Envoy parses a configuration, applies its validation rules and builds the
// server's objects without listening — the wasm filter included: the VM starts and the plugin's
// configure runs, so a configuration the filter refuses fails validation with the filter's own line.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envoyBinary } from './install.js';
import { FILTER_NAME } from './proxy.js';
import { type EnvoyConfig, writeConfig } from './render.js';

export interface Validation {
  valid: boolean;
  /** What Envoy printed (errors and the verdict). */
  output: string;
}

export function validate(version: string, config: EnvoyConfig): Validation {
  const dir = mkdtempSync(join(tmpdir(), 'cert-allowlist-validate-'));
  try {
    const file = join(dir, 'envoy.yaml');
    writeConfig(file, config);
    const run = spawnSync(envoyBinary(version), ['--mode', 'validate', '-c', file, '--log-level', 'error', '--disable-hot-restart'], { encoding: 'utf8' });
    return { valid: run.status === 0, output: `${run.stdout}${run.stderr}`.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The bootstrap with the filter inline instead of over ECDS (which validation does not fetch):
 * `filter` is an HTTP filter entry (`name`, `typed_config`), as an EnvoyFilter patch or filter.yaml
 * carries it.
 */
export function withInlineFilter(bootstrap: EnvoyConfig, filter: EnvoyConfig): EnvoyConfig {
  const copy = structuredClone(bootstrap);
  for (const listener of copy.static_resources.listeners) {
    for (const chain of listener.filter_chains) {
      for (const network of chain.filters) {
        const hcm = network.typed_config;
        if (!hcm.http_filters) continue;
        hcm.http_filters = hcm.http_filters.map((entry: EnvoyConfig) => (entry.name === FILTER_NAME ? filter : entry));
      }
    }
  }
  return copy;
}
