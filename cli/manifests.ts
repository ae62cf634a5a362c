// Istio manifests for the filter. Written as kubectl reads them — YAML 1.1, where an unquoted `no`,
// `on`, `y` or `1_000` is a boolean or a number, so every such string is quoted — and with only
// fields Istio's CRDs describe (tests/support/istio-schema.ts checks every variation against
// Istio's own schema; the API server would silently drop any other field).
import { stringify } from 'yaml';
import { CliError } from './filter.js';

export const FAIL_STRATEGIES = ['FAIL_CLOSE', 'FAIL_OPEN', 'FAIL_RELOAD'] as const;
export type FailStrategy = (typeof FAIL_STRATEGIES)[number];
export const PHASES = ['AUTHN', 'AUTHZ', 'STATS', 'UNSPECIFIED_PHASE'] as const;

export interface RenderOptions {
  config: unknown;
  name: string;
  namespace: string;
  selector: Record<string, string>;
  pluginName: string;
  /** WasmPlugin: oci://… or https://…; EnvoyFilter: the path of the module inside the proxy. */
  url?: string;
  sha256?: string;
  phase: string;
  failStrategy: FailStrategy;
  /** WasmPlugin: the gateway ports whose traffic the filter sees; empty: every port. */
  ports: number[];
  imagePullSecret?: string;
}

export const MODULE_PATH = '/var/local/lib/wasm/cert-allowlist.wasm';

/** YAML that reads back the same under YAML 1.1 (kubectl) and 1.2. */
export function yaml1_1(value: unknown): string {
  return stringify(value, { version: '1.1', lineWidth: 0 });
}

export function wasmPlugin(options: RenderOptions): string {
  if (!options.url) throw new CliError('render wasmplugin needs --image oci://… or --url https://…', 2);
  if (options.url.includes('@sha256:') && options.sha256 && !options.url.endsWith(`@sha256:${options.sha256}`)) {
    throw new CliError('--sha256 differs from the digest in the image reference', 2);
  }
  return yaml1_1({
    apiVersion: 'extensions.istio.io/v1alpha1',
    kind: 'WasmPlugin',
    metadata: { name: options.name, namespace: options.namespace },
    spec: {
      selector: { matchLabels: options.selector },
      url: options.url,
      ...(options.sha256 ? { sha256: options.sha256 } : {}),
      ...(options.imagePullSecret ? { imagePullSecret: options.imagePullSecret } : {}),
      phase: options.phase,
      failStrategy: options.failStrategy,
      // Only the listed ports: port 80's redirect to HTTPS, say, keeps working for clients that
      // have no certificate to show there.
      ...(options.ports.length > 0 ? { match: [{ mode: 'SERVER', ports: options.ports.map((number) => ({ number })) }] } : {}),
      pluginName: options.pluginName,
      pluginConfig: options.config,
    },
  });
}

// Istio's failStrategy as Envoy's wasm failure_policy (what istiod itself emits for a WasmPlugin).
const FAILURE_POLICY: Record<FailStrategy, string> = { FAIL_CLOSE: 'FAIL_CLOSED', FAIL_OPEN: 'FAIL_OPEN', FAIL_RELOAD: 'FAIL_RELOAD' };

export function envoyFilter(options: RenderOptions): string {
  const filename = options.url ?? MODULE_PATH;
  const directory = filename.slice(0, filename.lastIndexOf('/'));
  const manifest = yaml1_1({
    apiVersion: 'networking.istio.io/v1alpha3',
    kind: 'EnvoyFilter',
    metadata: { name: options.name, namespace: options.namespace },
    spec: {
      workloadSelector: { labels: options.selector },
      configPatches: [
        {
          applyTo: 'HTTP_FILTER',
          match: {
            context: 'GATEWAY',
            listener: { filterChain: { filter: { name: 'envoy.filters.network.http_connection_manager', subFilter: { name: 'envoy.filters.http.router' } } } },
          },
          patch: {
            operation: 'INSERT_BEFORE',
            value: {
              name: options.pluginName,
              typed_config: {
                '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
                config: {
                  name: options.pluginName,
                  root_id: options.pluginName,
                  failure_policy: FAILURE_POLICY[options.failStrategy],
                  vm_config: { runtime: 'envoy.wasm.runtime.v8', code: { local: { filename } } },
                  configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: JSON.stringify(options.config) },
                },
              },
            },
          },
        },
      ],
    },
  });
  return [
    `# The module is read from ${filename} inside the gateway's proxy container. Gateways ignore the`,
    "# sidecar.istio.io/userVolume annotations; mount it with the gateway chart's values instead, e.g. from",
    '# a ConfigMap made with `kubectl create configmap cert-allowlist-wasm --from-file=cert-allowlist.wasm`:',
    '#   volumes:',
    '#     - name: cert-allowlist-wasm',
    '#       configMap: { name: cert-allowlist-wasm }',
    '#   volumeMounts:',
    '#     - name: cert-allowlist-wasm',
    `#       mountPath: ${directory}`,
    '#       readOnly: true',
    manifest,
  ].join('\n');
}
