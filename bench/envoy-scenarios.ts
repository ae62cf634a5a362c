// The real-Envoy benchmark's scenarios (npm run bench:envoy), shared with the test that checks each
// one decides as it should (tests/bench-envoy.test.ts): the gateway of envoy/gateway.yaml answering
// every allowed request itself (a direct response: no upstream in the measurement), with no filter,
// with cert-allowlist, or with what a user would pick instead — Envoy's RBAC filter naming the same
// clients as principals, or a Lua filter looking the connection's SHA-256 up in a table — and the
// client proxy of envoy/load-client.yaml holding mTLS connections to it with one client's certificate.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDemoPki, type Pki } from '../demo/pki.js';
import { NEWEST_ENVOY } from '../envoy/install.js';
import { Envoy } from '../envoy/process.js';
import { EnvoyProxy } from '../envoy/proxy.js';
import { type EnvoyConfig, render } from '../envoy/render.js';
import { certificateFacts, peerCertificate } from '../host/certificate.js';
import { SIDECAR_DETAILS, xfccElement } from '../host/xfcc.js';
import { floorModuleFile } from './floor.js';
import { ROOT, digest, rules } from './scenarios.js';

export const MODULE = join(ROOT, 'build/cert-allowlist.wasm');
export const HOST = 'payments.example.com';

export type Filter =
  | { kind: 'none' }
  | { kind: 'wasm-floor' }
  | { kind: 'cert-allowlist'; configuration: string }
  | { kind: 'rbac'; principals: string[] }
  | { kind: 'lua'; digests: string[] };

export interface EnvoyScenario {
  name: string;
  note: string;
  // The client certificate the client proxy presents (a demo PKI client).
  client: string;
  filter: Filter;
  // XFCC the requests carry; the gateway then forwards it as it came (FORWARD_ONLY).
  xfcc?: string;
  // The status every request must get.
  status: number;
}

export function pki(): Pki {
  return ensureDemoPki(join(ROOT, 'build/pki'));
}

function facts(name: string) {
  return peerCertificate(certificateFacts(new X509Certificate(readFileSync(pki().cert(name)))));
}

// `count` fingerprints: made-up ones, and the client's last (where a list scanned in order finds it last).
function digests(count: number, listed: string): string[] {
  return Array.from({ length: count }, (_, i) => (i === count - 1 ? listed : digest(i)));
}

function allowList(count: number, listed: string, extra: object = {}): string {
  return JSON.stringify({ allow: digests(count, listed).map((sha256, i) => ({ name: `client-${i}`, sha256 })), ...extra });
}

export function envoyScenarios(): EnvoyScenario[] {
  const allowed = facts('allowed');
  const proxy = facts('denied');
  const principal = allowed.uriSans![0];
  const principals = (count: number) => Array.from({ length: count }, (_, i) => (i === count - 1 ? principal : `spiffe://bench.local/ns/x/sa/client-${i}`));
  return [
    { name: 'no filter', note: 'the floor: TLS, HTTP/2 and a direct response', client: 'allowed', filter: { kind: 'none' }, status: 200 },
    {
      name: 'a wasm filter that only reads',
      note: 'bench/floor.wat: reads the digest, :authority and :path, continues — what Envoy charges any wasm filter',
      client: 'allowed',
      filter: { kind: 'wasm-floor' },
      status: 200,
    },
    ...[1, 10_000, 100_000].map((count) => ({
      name: `cert-allowlist, ${rules(count)}, allowed`,
      note: 'connection mode',
      client: 'allowed',
      filter: { kind: 'cert-allowlist', configuration: allowList(count, allowed.sha256) } as Filter,
      status: 200,
    })),
    {
      name: 'cert-allowlist, 10,000 sha256 rules, denied',
      note: 'the 403 and its counters; lines past denyLinesPerSecond held back',
      client: 'denied',
      filter: { kind: 'cert-allowlist', configuration: allowList(10_000, allowed.sha256) },
      status: 403,
    },
    {
      name: 'cert-allowlist, xfcc mode, allowed',
      note: "two elements: the client's with Cert=, the proxy's",
      client: 'denied',
      xfcc: `${xfccElement(allowed)},${xfccElement(proxy, SIDECAR_DETAILS)}`,
      filter: {
        kind: 'cert-allowlist',
        configuration: allowList(10_000, allowed.sha256, { identitySource: 'xfcc', trustedProxies: [{ uriSan: proxy.uriSans![0] }] }),
      },
      status: 200,
    },
    ...[1000, 10_000].map((count) => ({
      name: `RBAC, ${count.toLocaleString('en')} principals, allowed`,
      note: "Envoy's RBAC filter, the client's URI SAN the last principal",
      client: 'allowed',
      filter: { kind: 'rbac', principals: principals(count) } as Filter,
      status: 200,
    })),
    {
      name: 'Lua, 10,000 digests, allowed',
      note: "a Lua filter looking the connection's SHA-256 up in a table",
      client: 'allowed',
      filter: { kind: 'lua', digests: digests(10_000, allowed.sha256) },
      status: 200,
    },
  ];
}

function rbac(principals: string[]): EnvoyConfig {
  return {
    name: 'envoy.filters.http.rbac',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
      rules: {
        action: 'ALLOW',
        policies: { clients: { permissions: [{ any: true }], principals: principals.map((name) => ({ authenticated: { principal_name: { exact: name } } })) } },
      },
    },
  };
}

function lua(digests: string[]): EnvoyConfig {
  const table = digests.map((sha256) => `["${sha256}"]=true`).join(',');
  const code = `local allowed = {${table}}
function envoy_on_request(handle)
  local ssl = handle:streamInfo():downstreamSslConnection()
  if ssl == nil or not allowed[ssl:sha256PeerCertificateDigest()] then
    handle:respond({[":status"] = "403"}, "client certificate not authorized\\n")
  end
end`;
  return {
    name: 'envoy.filters.http.lua',
    typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua', default_source_code: { inline_string: code } },
  };
}

// The gateway for a scenario: every allowed request answered by Envoy itself, no access log.
function adjustGateway(scenario: EnvoyScenario): (bootstrap: EnvoyConfig) => void {
  return (bootstrap) => {
    const hcm = bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    delete hcm.access_log;
    hcm.route_config.virtual_hosts[0].routes = [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'ok\n' } } }];
    if (scenario.xfcc) hcm.forward_client_cert_details = 'FORWARD_ONLY';
    const filter = scenario.filter;
    if (filter.kind === 'rbac' || filter.kind === 'lua') hcm.http_filters.unshift(filter.kind === 'rbac' ? rbac(filter.principals) : lua(filter.digests));
  };
}

export class Pair {
  private constructor(
    readonly gateway: EnvoyProxy,
    readonly client: Envoy,
    readonly port: number,
  ) {}

  // The gateway of `scenario` and a client proxy in front of it, in the newest pinned Envoy.
  static async start(scenario: EnvoyScenario, logLevel = 'warning'): Promise<Pair> {
    const filter = scenario.filter;
    const gateway = await EnvoyProxy.start({
      version: NEWEST_ENVOY,
      pki: pki().dir,
      upstreamPort: 9,
      host: HOST,
      logLevel,
      plugin:
        filter.kind === 'cert-allowlist'
          ? { module: MODULE, configuration: filter.configuration }
          : filter.kind === 'wasm-floor'
            ? { module: await floorModuleFile(), configuration: '{}' }
            : undefined,
      adjust: adjustGateway(scenario),
    });
    if (!gateway.started.accepted) throw new Error(`${scenario.name}: the gateway refused its configuration: ${gateway.envoy.tail(20)}`);
    const bootstrap = render('load-client', { LISTEN_PORT: 0, GATEWAY_PORT: gateway.port, PKI_DIR: pki().dir, CLIENT: scenario.client, HOST });
    const client = await Envoy.start({ version: NEWEST_ENVOY, bootstrap, logLevel });
    return new Pair(gateway, client, await client.port('load-client'));
  }

  // Envoy's CPU time so far, user and system, in seconds (from /proc).
  gatewayCpuSeconds(): number {
    const fields = readFileSync(`/proc/${this.gateway.envoy.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime: fields 14 and 15 of the whole line, in clock ticks.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  }

  async stop(): Promise<void> {
    await this.client.stop();
    await this.gateway.stop();
  }
}

// /proc counts CPU time in these (USER_HZ).
export const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
