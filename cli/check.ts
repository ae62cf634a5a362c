// What `check` says beyond the filter's own verdict: a configuration too large to apply, rules past
// their notAfter, and rules that can never match because none of their hosts is inside the
// configuration's `hosts` — the last asked of the filter itself (its own host matching), never
// re-implemented here.
import { type EnvoyHost, tls } from '../host/index.js';
import { loadFilter } from './filter.js';

/** Kubernetes refuses an object over this (etcd's request limit, ~1.5 MiB). */
export const OBJECT_LIMIT = 1.5 * 1024 * 1024;
/** Client-side `kubectl apply` copies the object into an annotation limited to this. */
export const ANNOTATION_LIMIT = 256 * 1024;
// What a WasmPlugin adds around its pluginConfig: metadata, url, digest, selector.
const WASMPLUGIN_OVERHEAD = 1024;

interface ConfigRule {
  name: string;
  notAfter?: string;
  hosts?: string[];
}

export interface CheckConfig {
  hosts?: string[];
  allow?: ConfigRule[];
  deny?: ConfigRule[];
}

export interface Findings {
  errors: string[];
  warnings: string[];
}

// A host that `pattern` covers: itself, or a name under a wildcard's suffix.
function representative(pattern: string): string {
  const name = pattern.toLowerCase().replace(/\.$/, '');
  return name.startsWith('*.') ? `x${name.slice(1)}` : name;
}

// Whether the filter takes `host` to be inside `hosts`: configured with them as its scope, a request
// without a certificate is decided (403) inside and continues outside.
function inside(filter: EnvoyHost, hosts: string[], host: string): boolean {
  if (!filter.configure(JSON.stringify({ hosts, allow: [] }))) return true;
  const outcome = filter.request({ connection: tls(), authority: host, path: '/' });
  return outcome.action !== 'continued';
}

export async function findings(config: CheckConfig, pluginConfigBytes: number, now: Date): Promise<Findings> {
  const errors: string[] = [];
  const warnings: string[] = [];
  const objectBytes = pluginConfigBytes + WASMPLUGIN_OVERHEAD;
  if (objectBytes > OBJECT_LIMIT) {
    errors.push(
      `a WasmPlugin holding this configuration (${pluginConfigBytes} bytes as pluginConfig) exceeds Kubernetes' ${OBJECT_LIMIT} byte object limit and cannot be applied: split it by host across several WasmPlugins, each with its own "hosts", name and pluginName`,
    );
  } else if (objectBytes > ANNOTATION_LIMIT) {
    warnings.push(
      `the WasmPlugin will be about ${objectBytes} bytes: client-side kubectl apply stores the whole object in an annotation limited to ${ANNOTATION_LIMIT} bytes and fails; apply it with kubectl apply --server-side`,
    );
  }
  const top = config.hosts;
  const filter = top ? await loadFilter() : null;
  for (const listName of ['allow', 'deny'] as const) {
    (config[listName] ?? []).forEach((rule, i) => {
      if (rule.notAfter && Date.parse(rule.notAfter) < now.getTime()) warnings.push(`${listName}[${i}] (${rule.name}) expired at ${rule.notAfter}`);
      if (filter && top && rule.hosts) {
        const candidates = [...top, ...rule.hosts].map(representative);
        if (!candidates.some((host) => inside(filter, top, host) && inside(filter, rule.hosts!, host))) {
          warnings.push(`${listName}[${i}] (${rule.name}) can never match: none of its hosts is inside the configuration's hosts`);
        }
      }
    });
  }
  return { errors, warnings };
}
