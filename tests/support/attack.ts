// What the attack tests share: a gateway whose routes are laid out as istiod lays out a Gateway with
// two hosts and a catch-all — so a test can see which virtual host and which route Envoy chose for a
// request —, and the spellings an attacker tries for the :authority and the :path.
import type { EnvoyConfig } from '../../envoy/render.js';
import type { Exchange, TestProxy, TestRequest } from './envoy.js';

export const PROTECTED = 'payments.example.com';
export const PUBLIC = 'public.example.com';

/** Path normalisation as istiod configures it for each meshConfig.pathNormalization value. */
export const NORMALISATIONS: Record<string, { normalize_path: boolean; merge_slashes: boolean; path_with_escaped_slashes_action: string }> = {
  NONE: { normalize_path: false, merge_slashes: false, path_with_escaped_slashes_action: 'KEEP_UNCHANGED' },
  BASE: { normalize_path: true, merge_slashes: false, path_with_escaped_slashes_action: 'KEEP_UNCHANGED' },
  MERGE_SLASHES: { normalize_path: true, merge_slashes: true, path_with_escaped_slashes_action: 'KEEP_UNCHANGED' },
  DECODE_AND_MERGE_SLASHES: { normalize_path: true, merge_slashes: true, path_with_escaped_slashes_action: 'UNESCAPE_AND_FORWARD' },
};

const routed = (vhost: string, route: string) => ({
  request_headers_to_add: [
    { header: { key: 'x-routed-vhost', value: vhost }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
    { header: { key: 'x-routed-route', value: route }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
  ],
});

/**
 * The gateway's routes as istiod makes them for Gateway hosts `payments.example.com` and
 * `public.example.com` and a `*` server: each host gets the domains `host` and `host:*`; routes by
 * path prefix. The upstream learns the virtual host and route Envoy chose (x-routed-vhost, -route).
 */
export function istioRoutes(normalisation = 'BASE') {
  return (bootstrap: EnvoyConfig): void => {
    const hcm = bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    Object.assign(hcm, NORMALISATIONS[normalisation]);
    const routes = (vhost: string) =>
      ['/ledger/', '/admin/', '/'].map((prefix) => ({
        match: { prefix },
        route: { cluster: 'upstream' },
        ...routed(vhost, prefix),
      }));
    hcm.route_config.virtual_hosts = [
      { name: PROTECTED, domains: [PROTECTED, `${PROTECTED}:*`], routes: routes('payments') },
      { name: PUBLIC, domains: [PUBLIC, `${PUBLIC}:*`], routes: routes('public') },
      { name: 'catch-all', domains: ['*'], routes: routes('other') },
    ];
  };
}

/** Authorities an attacker tries, around `host`: case, ports, user info, more colons, brackets, dots. */
export function authoritySpellings(host: string, other: string): string[] {
  const bases = [host, host.toUpperCase()];
  const before = ['', 'user@', `${other}@`, `${other}:443@`, '['];
  const after = ['', '.', ':443', ':0', ':', ':443:1', `:1@${other}`, `@${other}`, ':abc', '.:443', ']:443', ',x', ';x'];
  const spellings = new Set<string>();
  for (const base of bases) for (const b of before) for (const a of after) spellings.add(`${b}${base}${a}`);
  spellings.add(`[${host}]`);
  spellings.add(`${other}:1@${host}`);
  spellings.add(`${other},${host}`);
  return [...spellings];
}

/** Paths an attacker tries to reach `target` while staying under `decoy` by some reading. */
export function pathSpellings(decoy: string, target: string): string[] {
  const d = decoy.replace(/^\/|\/$/g, '');
  const t = target.replace(/^\/|\/$/g, '');
  const ups = ['..', '%2e%2e', '%2E%2E', '.%2e', '..;', '..;x', '%2e%2e;', '..%00', '..%2f', '.', '%2e'];
  const slashes = ['/', '//', '%2f', '%2F', '\\', '%5c', '%5C', '/./', '/%2e/', ';/', ';x=1/', '%252f'];
  const paths = new Set<string>([
    `/${t}/x`,
    `/${d}/x`,
    `//${t}/x`,
    `/${t}%2fx`,
    `/${t};x=1/x`,
    `/${t}%00/x`,
    `/%${t}/x`,
    `/${t.toUpperCase()}/x`,
    `/./${t}/x`,
    `/%2e/${t}/x`,
  ]);
  for (const up of ups) for (const slash of slashes) paths.add(`/${d}${slash}${up}${slash}${t}/x`);
  for (const slash of slashes) {
    paths.add(`/${d}${slash}${t}/x`);
    paths.add(`/${t}${slash}x`);
    paths.add(`${slash}${t}/x`);
  }
  paths.add(`/${d}/../${t}/x?q`);
  paths.add(`/${d}/x#/../../${t}/x`);
  paths.add(`/${d}/%C0%AE%C0%AE/${t}/x`);
  paths.add(`/${d}/%ff/../${t}/x`);
  return [...paths];
}

/** Sends every request, a few at a time; returns the exchanges in order. */
export async function sendAll(proxy: TestProxy, requests: TestRequest[], concurrency = 12): Promise<Exchange[]> {
  const results: Exchange[] = new Array(requests.length);
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const i = next++;
      results[i] = await proxy.send(requests[i]);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

/** How a request went, for a failure message. */
export function describe(request: TestRequest, exchange: Exchange): string {
  const upstream = exchange.upstream;
  return (
    `${request.http === '2' ? 'HTTP/2' : 'HTTP/1.1'} ${JSON.stringify(request.authority ?? 'localhost')} ${JSON.stringify(request.path)} → ${exchange.response.status} ${exchange.access?.details ?? ''}` +
    (upstream ? ` (vhost ${upstream.headers['x-routed-vhost']}, route ${upstream.headers['x-routed-route']}, path ${JSON.stringify(upstream.path)})` : '')
  );
}
