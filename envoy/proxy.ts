// One of this folder's proxies running in real Envoy — the ingress gateway (gateway.yaml) or a sidecar
// behind it (sidecar.yaml) — with the filter delivered as a WasmPlugin delivers it (filter.yaml, over
// ECDS from a watched file). A configuration push is an update Envoy validates: `push` says whether
// Envoy took it and, when it did not, what Envoy printed about it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Envoy, type EnvoyLogLine, type EnvoyOptions } from './process.js';
import { type EnvoyConfig, render, writeConfig } from './render.js';

/** The name of the filter's extension configuration (the templates' http filter, filter.yaml's resource). */
export const FILTER_NAME = 'cert-allowlist';
const ECDS_STATS = `extension_config_discovery.http_filter.${FILTER_NAME}`;

export type FailurePolicy = 'FAIL_CLOSED' | 'FAIL_OPEN' | 'FAIL_RELOAD';

export interface PluginOptions {
  module: string;
  /** Envoy's plugin name (Istio: `<namespace>.<name>`). Default `cert-allowlist`. */
  pluginName?: string;
  /** Envoy's root id (Istio: WasmPlugin.pluginName). Default `cert-allowlist`. */
  rootId?: string;
  /** Istio's failStrategy as Envoy gets it. Default FAIL_CLOSED, Istio's default. */
  failurePolicy?: FailurePolicy;
}

/** The filter's extension configuration (filter.yaml) for one plugin configuration (JSON text). */
export function filterConfig(plugin: PluginOptions, configuration: string): EnvoyConfig {
  return render('filter', {
    PLUGIN_NAME: plugin.pluginName ?? 'cert-allowlist',
    ROOT_ID: plugin.rootId ?? 'cert-allowlist',
    MODULE: plugin.module,
    PLUGIN_CONFIGURATION: configuration,
    FAILURE_POLICY: plugin.failurePolicy ?? 'FAIL_CLOSED',
  });
}

export interface ProxyOptions extends Omit<EnvoyOptions, 'bootstrap' | 'dir'> {
  /** Which proxy: the ingress gateway (default) or a sidecar behind it. */
  template?: 'gateway' | 'sidecar';
  /** The filter, with the plugin configuration Envoy starts with (JSON text); none: a proxy without it. */
  plugin?: PluginOptions & { configuration: string };
  pki: string;
  upstreamPort: number;
  /** The gateway's host: its virtual host gets the domains `host` and `host:*`, as from istiod. */
  host?: string;
  /** 0 (the default) lets the kernel pick. */
  port?: number;
  adminPort?: number;
  /** Changes to the rendered bootstrap (the tests' variations: normalisation, listeners, hosts). */
  adjust?: (bootstrap: EnvoyConfig) => void;
  /** Changes to every rendered filter configuration (say, the legacy fail_open flag). */
  adjustFilter?: (filter: EnvoyConfig) => void;
}

// Takes the filter out of every HTTP connection manager of a bootstrap.
function withoutFilter(bootstrap: EnvoyConfig): void {
  for (const listener of bootstrap.static_resources.listeners) {
    for (const chain of listener.filter_chains) {
      for (const filter of chain.filters) {
        const hcm = filter.typed_config;
        if (hcm.http_filters) hcm.http_filters = hcm.http_filters.filter((f: EnvoyConfig) => f.name !== FILTER_NAME);
      }
    }
  }
}

export interface PushResult {
  accepted: boolean;
  /** What Envoy printed at error level or above while it took or refused the update. */
  errors: EnvoyLogLine[];
}

export class EnvoyProxy {
  // The last update written, and Envoy's answer: Envoy answers the same update written again with
  // "success" and keeps what it serves, so a refused update written again is refused again here.
  private last: { update: string; result: PushResult };

  private constructor(
    readonly envoy: Envoy,
    private readonly options: ProxyOptions,
    private readonly filterDir: string,
    readonly port: number,
    readonly started: PushResult,
  ) {
    this.last = { update: JSON.stringify([options.plugin?.configuration, {}]), result: started };
  }

  /**
   * Starts Envoy. It starts even when the filter refuses its first configuration (then every request
   * on the listener gets a 500, as in Istio): `started.accepted` says which.
   */
  static async start(options: ProxyOptions): Promise<EnvoyProxy> {
    const dir = mkdtempSync(join(tmpdir(), 'cert-allowlist-envoy-'));
    const filterDir = join(dir, 'filter');
    const plugin = options.plugin;
    if (plugin) {
      const filter = filterConfig(plugin, plugin.configuration);
      options.adjustFilter?.(filter);
      writeConfig(join(filterDir, 'filter.yaml'), filter);
    }
    const template = options.template ?? 'gateway';
    const bootstrap = render(template, {
      ADMIN_ADDRESS: '127.0.0.1',
      ADMIN_PORT: options.adminPort ?? 0,
      LISTEN_ADDRESS: '127.0.0.1',
      LISTEN_PORT: options.port ?? 0,
      PKI_DIR: options.pki,
      HOST: options.host ?? 'localhost',
      FILTER_DIR: filterDir,
      UPSTREAM_ADDRESS: '127.0.0.1',
      UPSTREAM_PORT: options.upstreamPort,
    });
    if (!plugin) withoutFilter(bootstrap);
    options.adjust?.(bootstrap);
    let envoy: Envoy;
    try {
      envoy = await Envoy.start({ ...options, bootstrap, dir });
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    const started = plugin ? await EnvoyProxy.outcome(envoy, { success: 0, rejected: 0 }, 0) : { accepted: true, errors: [] };
    return new EnvoyProxy(envoy, options, filterDir, await envoy.port(template), started);
  }

  private static async counts(envoy: Envoy): Promise<{ success: number; rejected: number }> {
    const stats = await envoy.stats(`^${ECDS_STATS}\\.update_(success|rejected)$`);
    return { success: stats.get(`${ECDS_STATS}.update_success`) ?? 0, rejected: stats.get(`${ECDS_STATS}.update_rejected`) ?? 0 };
  }

  // Waits until Envoy has taken or refused one more update than `before` counts (ECDS counts both).
  private static async outcome(envoy: Envoy, before: { success: number; rejected: number }, fromLine: number): Promise<PushResult> {
    for (let i = 0; i < 400; i++) {
      const now = await EnvoyProxy.counts(envoy);
      if (now.success + now.rejected > before.success + before.rejected) {
        const errors = envoy.logSince(fromLine).filter((line) => line.level === 'error' || line.level === 'critical');
        return { accepted: now.success > before.success, errors };
      }
      await sleep(25);
    }
    throw new Error(`Envoy neither took nor refused a filter update within 10 s:\n${envoy.tail(20)}`);
  }

  get url(): string {
    return `https://localhost:${this.port}`;
  }

  /** Pushes a plugin configuration as an update; resolves once Envoy has taken or refused it. */
  async push(configuration: string, plugin: Partial<PluginOptions> = {}): Promise<PushResult> {
    const update = JSON.stringify([configuration, plugin]);
    if (update === this.last.update) return this.last.result;
    const current = this.options.plugin;
    if (!current) throw new Error('this proxy runs without the filter');
    const fromLine = this.envoy.lines.length;
    const before = await EnvoyProxy.counts(this.envoy);
    const filter = filterConfig({ ...current, ...plugin }, configuration);
    this.options.adjustFilter?.(filter);
    writeConfig(join(this.filterDir, 'filter.yaml'), filter);
    const result = await EnvoyProxy.outcome(this.envoy, before, fromLine);
    this.last = { update, result };
    return result;
  }

  async stop(): Promise<void> {
    await this.envoy.stop();
    rmSync(join(this.filterDir, '..'), { recursive: true, force: true });
  }
}
