// The filter as the CLI uses it: the compiled module in the Envoy-faithful host, so `check` and
// `explain` give exactly the filter's answers (the CLI never re-implements the rules).
import { existsSync } from 'node:fs';
import { EnvoyHost, mtls } from '../host/index.js';
import { xfccElement } from '../host/xfcc.js';
import { type CertificateFacts, peerCertificate } from '../host/certificate.js';

export const MODULE = new URL('../build/cert-allowlist.wasm', import.meta.url).pathname;

export class CliError extends Error {
  constructor(message: string, readonly exitCode: number = 1) {
    super(message);
  }
}

/** Throws when `text` is not JSON, naming the file, line and column. */
export function jsonProblem(file: string, text: string): void {
  try {
    JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const at = Number(/at position (\d+)/.exec(message)?.[1] ?? text.length);
    const before = text.slice(0, at).split('\n');
    throw new CliError(`${file}:${before.length}:${before[before.length - 1].length + 1}: not valid JSON (${message.replace(/ in JSON at position \d+.*$/, '').replace(/^JSON\.parse: /, '')})`);
  }
}

export async function loadFilter(): Promise<EnvoyHost> {
  if (!existsSync(MODULE)) throw new CliError(`${MODULE} is missing: run npm run build`, 1);
  return EnvoyHost.load(MODULE, { canary: false });
}

/** Configures the filter; returns null when accepted, else the filter's own error line. */
export async function validate(text: string): Promise<string | null> {
  const host = await loadFilter();
  if (host.configure(text)) return null;
  return host.logsAtLeast('error').map((entry) => entry.message.replace(/^cert-allowlist: rejected configuration: /, '')).join('; ');
}

export interface Explanation {
  decision: 'allow' | 'deny' | 'out_of_scope';
  reason: string;
  rule: string | null;
  logLine: string | null;
}

const EXPLAIN_HEADER = 'x-cert-allowlist-explain';

/** Runs the filter on one certificate and request, as it would run behind an Istio gateway. */
export async function explain(configText: string, certificate: CertificateFacts, host: string, path: string, at: Date): Promise<Explanation> {
  const config = JSON.parse(configText) as { identityHeader?: string; mode?: string };
  // The allowing rule is read from the identity header; ask for one if the configuration sets none.
  const header = config.identityHeader?.toLowerCase() ?? EXPLAIN_HEADER;
  const filter = await loadFilter();
  if (!filter.configure(JSON.stringify({ ...config, identityHeader: header, mode: 'enforce' }))) {
    throw new CliError(filter.logsAtLeast('error').map((e) => e.message).join('; '));
  }
  filter.setTime(at);
  const outcome = filter.request({
    connection: mtls(peerCertificate(certificate)),
    authority: host,
    path,
    headers: { 'x-forwarded-client-cert': xfccElement(peerCertificate(certificate)) },
  });
  const logLine = outcome.logs.find((entry) => entry.message.startsWith('cert-allowlist: deny '))?.message ?? null;
  if (outcome.action === 'continued') {
    const rule = outcome.upstreamHeaders?.find(([k]) => k === header)?.[1] ?? null;
    return rule === null
      ? { decision: 'out_of_scope', reason: 'the host is outside the configuration\'s hosts', rule: null, logLine }
      : { decision: 'allow', reason: 'allowed', rule, logLine };
  }
  const reason = outcome.response.details.replace(/^cert_allowlist_/, '');
  const rule = logLine?.match(/ rule="((?:[^"\\]|\\.)*)"/)?.[1] || null;
  return { decision: 'deny', reason, rule, logLine };
}
