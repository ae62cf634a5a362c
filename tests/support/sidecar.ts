// A workload's sidecar (envoy/sidecar.yaml, the filter in xfcc mode) behind the ingress gateway
// (envoy/gateway.yaml without the filter), which forwards over mutual TLS presenting its own
// certificate — two real Envoys, as a request crosses an Istio mesh.
import type { Pki } from '../../demo/pki.js';
import type { EnvoyConfig } from '../../envoy/render.js';
import { TestProxy } from './envoy.js';

// The gateway forwards to the sidecar over mutual TLS, presenting its own certificate.
function forwardOverMutualTls(pki: Pki) {
  return (bootstrap: EnvoyConfig): void => {
    bootstrap.static_resources.clusters[0].transport_socket = {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        sni: 'localhost',
        common_tls_context: {
          tls_certificates: [{ certificate_chain: { filename: pki.cert('gateway-proxy') }, private_key: { filename: pki.key('gateway-proxy') } }],
          validation_context: { trusted_ca: { filename: pki.ca } },
        },
      },
    };
  };
}

export interface Mesh {
  gateway: TestProxy;
  sidecar: TestProxy;
  stop(): Promise<void>;
}

/** Starts the sidecar with `configuration`, then the gateway in front of it. */
export async function startMesh(version: string, pki: Pki, configuration: string, adjustGateway?: (bootstrap: EnvoyConfig) => void): Promise<Mesh> {
  const sidecar = await TestProxy.start({ version, template: 'sidecar', configuration, pki });
  let gateway: TestProxy;
  try {
    gateway = await TestProxy.start({
      version,
      configuration: null,
      pki,
      upstreamPort: sidecar.proxy.port,
      adjust: (bootstrap) => {
        forwardOverMutualTls(pki)(bootstrap);
        adjustGateway?.(bootstrap);
      },
    });
  } catch (error) {
    await sidecar.stop();
    throw error;
  }
  return {
    gateway,
    sidecar,
    async stop() {
      await gateway.stop();
      await sidecar.stop();
    },
  };
}
