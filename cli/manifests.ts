// Istio manifests for the filter, checked against Istio's own CRD schemas (@kubernetes-models/istio)
// before they are printed.
import { WasmPlugin } from '@kubernetes-models/istio/extensions.istio.io/v1alpha1/WasmPlugin';
import { EnvoyFilter } from '@kubernetes-models/istio/networking.istio.io/v1alpha3/EnvoyFilter';
import { stringify } from 'yaml';
import { CliError } from './filter.js';

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
  failStrategy: string;
}

export const MODULE_PATH = '/var/local/lib/wasm/cert-allowlist.wasm';

function validated<T extends { validate(): void; toJSON(): unknown }>(model: T): string {
  try {
    model.validate();
  } catch (error) {
    throw new CliError(`the manifest does not match Istio's schema: ${(error as Error).message}`);
  }
  return stringify(model.toJSON(), { lineWidth: 0 });
}

export function wasmPlugin(options: RenderOptions): string {
  if (!options.url) throw new CliError('render wasmplugin needs --image oci://… or --url https://…', 2);
  if (options.url.includes('@sha256:') && options.sha256 && !options.url.endsWith(`@sha256:${options.sha256}`)) {
    throw new CliError('--sha256 differs from the digest in the image reference', 2);
  }
  return validated(
    new WasmPlugin({
      metadata: { name: options.name, namespace: options.namespace },
      spec: {
        selector: { matchLabels: options.selector },
        url: options.url,
        ...(options.sha256 ? { sha256: options.sha256 } : {}),
        phase: options.phase as 'AUTHN',
        failStrategy: options.failStrategy as 'FAIL_CLOSE',
        pluginName: options.pluginName,
        pluginConfig: options.config as object,
      },
    }),
  );
}

export function envoyFilter(options: RenderOptions): string {
  const filename = options.url ?? MODULE_PATH;
  const manifest = validated(
    new EnvoyFilter({
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
                    fail_open: options.failStrategy === 'FAIL_OPEN',
                    vm_config: { runtime: 'envoy.wasm.runtime.v8', code: { local: { filename } } },
                    configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: JSON.stringify(options.config) },
                  },
                },
              },
            },
          },
        ],
      },
    }),
  );
  return [
    `# The module is read from ${filename} inside the gateway's proxy container. Mount it, e.g. from a`,
    '# ConfigMap made with `kubectl create configmap cert-allowlist-wasm --from-file=build/cert-allowlist.wasm`,',
    '# with the gateway pod annotations',
    `#   sidecar.istio.io/userVolume: '[{"name":"wasm","configMap":{"name":"cert-allowlist-wasm"}}]'`,
    `#   sidecar.istio.io/userVolumeMount: '[{"name":"wasm","mountPath":"${filename.slice(0, filename.lastIndexOf('/'))}"}]'`,
    manifest,
  ].join('\n');
}
