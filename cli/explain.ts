// `explain`: the filter run on one certificate and request as it would run behind an Istio gateway,
// and for each rule that did not decide, why — each reason found by asking the filter about that rule
// alone, then about the rule without its host, path or time scope, so the reason is the filter's own
// matching, never a re-implementation of it.
import { type EnvoyHost, mtls } from '../host/index.js';
import { xfccElement } from '../host/xfcc.js';
import { type CertificateFacts, peerCertificate } from '../host/certificate.js';
import { CliError, loadFilter } from './filter.js';
import { CERTIFICATE_VALUES } from './rule-for.js';

export interface RuleReason {
  list: 'allow' | 'deny';
  index: number;
  name: string;
  matched: boolean;
  /** Why it did not match; null when it matched. */
  reason: string | null;
}

export interface Explanation {
  decision: 'allow' | 'deny' | 'out_of_scope';
  reason: string;
  rule: string | null;
  logLine: string | null;
  rules: RuleReason[];
  /** Rules past the itemised ones. */
  notItemised: number;
}

type Rule = Record<string, unknown> & { name: string };
type Config = Record<string, unknown> & { allow?: Rule[]; deny?: Rule[]; identityHeader?: string };

const EXPLAIN_HEADER = 'x-cert-allowlist-explain';
const SCOPE = ['hosts', 'paths', 'notBefore', 'notAfter'];
const ITEMISED = 200;
class Judge {
  constructor(
    private readonly filter: EnvoyHost,
    private readonly base: Config,
    private readonly certificate: CertificateFacts,
    private readonly host: string,
    private readonly path: string,
  ) {}

  // The filter's outcome for this certificate and request under `config`.
  run(config: Config) {
    if (!this.filter.configure(JSON.stringify(config))) return null;
    const peer = peerCertificate(this.certificate);
    return this.filter.request({ connection: mtls(peer), authority: this.host, path: this.path, headers: { 'x-forwarded-client-cert': xfccElement(peer) } });
  }

  // Whether `rule` alone matches: an allow rule allows; a deny rule denies a client otherwise allowed.
  matches(list: 'allow' | 'deny', rule: Rule): boolean {
    const config: Config =
      list === 'allow' ? { ...this.base, allow: [rule] } : { ...this.base, deny: [rule], allow: [{ name: 'explain-anyone', sha256: this.certificate.sha256 }] };
    const outcome = this.run(config);
    if (outcome === null) return false;
    return list === 'allow' ? outcome.action === 'continued' : outcome.action !== 'continued' && outcome.response.details === 'cert_allowlist_denied_by_rule';
  }

  why(list: 'allow' | 'deny', rule: Rule): string {
    const identity = Object.fromEntries(Object.entries(rule).filter(([key]) => !SCOPE.includes(key)));
    if (!this.matches(list, identity as Rule)) {
      const fields = Object.keys(identity).filter((key) => key in CERTIFICATE_VALUES);
      return `a different ${fields.join(' and ')} (the certificate has ${fields.map((f) => JSON.stringify(CERTIFICATE_VALUES[f](this.certificate))).join(' and ')})`;
    }
    const only = (key: string) => ({ ...identity, [key]: rule[key] }) as Rule;
    if (rule.hosts && !this.matches(list, only('hosts'))) return `the host ${JSON.stringify(this.host)} is not inside its hosts ${JSON.stringify(rule.hosts)}`;
    if (rule.paths && !this.matches(list, only('paths'))) return `the path ${JSON.stringify(this.path)} is not under its paths ${JSON.stringify(rule.paths)}`;
    return `outside its window (${rule.notBefore ?? 'always'} to ${rule.notAfter ?? 'ever'})`;
  }
}

/** Runs the filter on one certificate and request, as it would run behind an Istio gateway. */
export async function explain(configText: string, certificate: CertificateFacts, host: string, path: string, at: Date): Promise<Explanation> {
  const config = JSON.parse(configText) as Config;
  // The allowing rule is read from the identity header; ask for one if the configuration sets none.
  const header = config.identityHeader?.toLowerCase() ?? EXPLAIN_HEADER;
  const filter = await loadFilter();
  filter.setTime(at);
  const base: Config = { ...config, identityHeader: header, mode: 'enforce' };
  const judge = new Judge(filter, base, certificate, host, path);
  const outcome = judge.run(base);
  if (outcome === null)
    throw new CliError(
      filter
        .logsAtLeast('error')
        .map((e) => e.message)
        .join('; '),
    );
  const logLine = outcome.logs.find((entry) => entry.message.startsWith('cert-allowlist: deny '))?.message ?? null;

  // Each rule on its own, without the self-tests (which speak of the whole configuration).
  const { allow = [], deny = [], selfTests: _, ...rest } = base;
  const alone = new Judge(filter, { ...rest, allow: [] }, certificate, host, path);
  const rules: RuleReason[] = [];
  let notItemised = 0;
  for (const list of ['deny', 'allow'] as const) {
    (list === 'deny' ? deny : allow).forEach((rule, index) => {
      if (index >= ITEMISED) {
        notItemised++;
        return;
      }
      const matched = alone.matches(list, rule);
      rules.push({ list, index, name: rule.name, matched, reason: matched ? null : alone.why(list, rule) });
    });
  }

  if (outcome.action === 'continued') {
    const rule = outcome.upstreamHeaders?.find(([k]) => k === header)?.[1] ?? null;
    return rule === null
      ? { decision: 'out_of_scope', reason: "the host is outside the configuration's hosts", rule: null, logLine, rules: [], notItemised: 0 }
      : { decision: 'allow', reason: 'allowed', rule, logLine, rules, notItemised };
  }
  const reason = outcome.response.details.replace(/^cert_allowlist_/, '');
  const rule = logLine?.match(/ rule="((?:[^"\\]|\\.)*)"/)?.[1] || null;
  return { decision: 'deny', reason, rule, logLine, rules, notItemised };
}
