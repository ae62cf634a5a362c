// The rule that names a certificate, by the field an operator chooses: what survives renewal
// (spki with the same key, uriSan, dnsSan, cn) or what pins exactly one certificate (sha256,
// serial and issuer). A certificate with several SANs of the chosen kind never gets a guessed one.
import type { CertificateFacts } from '../host/certificate.js';
import type { Rule } from './config-file.js';
import { CliError } from './filter.js';

export const MATCH_BY = ['sha256', 'spki', 'serial', 'subject', 'cn', 'uriSan', 'uriSanPrefix', 'dnsSan', 'emailSan', 'ipSan'] as const;
export type MatchBy = (typeof MATCH_BY)[number];

export interface RuleOptions {
  by: MatchBy;
  /** Which SAN, when the certificate has several of the chosen kind. */
  san?: string;
  /** With several SANs: a rule for each (named NAME-1, NAME-2, …). */
  eachSan?: boolean;
  /** uriSanPrefix: the prefix, which one of the certificate's URI SANs must start with. */
  prefix?: string;
  hosts?: string[];
  paths?: string[];
  notAfter?: string;
}

/** What a certificate has for each field a rule can match on (every SAN of a kind, for SANs). */
export const CERTIFICATE_VALUES: Record<string, (c: CertificateFacts) => string | string[] | null> = {
  sha256: (c) => c.sha256,
  spki: (c) => c.spkiSha256,
  subject: (c) => c.subject,
  cn: (c) => c.cn,
  serial: (c) => c.serial,
  issuer: (c) => c.issuer,
  uriSan: (c) => c.uriSans,
  uriSanPrefix: (c) => c.uriSans,
  dnsSan: (c) => c.dnsSans,
  emailSan: (c) => c.emailSans,
  ipSan: (c) => c.ipSans,
};
const KIND = { uriSan: 'URI', dnsSan: 'DNS', emailSan: 'email', ipSan: 'IP' } as const;

function scoped(rule: Rule, options: RuleOptions): Rule {
  if (options.hosts?.length) rule.hosts = options.hosts;
  if (options.paths?.length) rule.paths = options.paths;
  if (options.notAfter) rule.notAfter = options.notAfter;
  return rule;
}

/** The rule(s) for `certificate` named `name`. */
export function rulesFor(name: string, certificate: CertificateFacts, options: RuleOptions): Rule[] {
  const by = options.by;
  if (by === 'serial') {
    if (!certificate.issuer) throw new CliError(`${name}: the certificate's issuer cannot be printed as Envoy prints it, so serial cannot be pinned`);
    return [scoped({ name, serial: certificate.serial, issuer: certificate.issuer }, options)];
  }
  if (by === 'uriSanPrefix') {
    if (!options.prefix) throw new CliError('--by uriSanPrefix needs --prefix (the start of the URI SANs it allows)', 2);
    if (!certificate.uriSans.some((uri) => uri.startsWith(options.prefix!))) {
      throw new CliError(
        `${name}: no URI SAN of the certificate starts with ${JSON.stringify(options.prefix)} (it has ${JSON.stringify(certificate.uriSans)})`,
      );
    }
    return [scoped({ name, uriSanPrefix: options.prefix }, options)];
  }
  if (by === 'uriSan' || by === 'dnsSan' || by === 'emailSan' || by === 'ipSan') {
    const values = CERTIFICATE_VALUES[by](certificate) as string[];
    if (values.length === 0) throw new CliError(`${name}: the certificate has no ${KIND[by]} SAN`);
    if (options.san !== undefined) {
      if (!values.includes(options.san))
        throw new CliError(`${name}: the certificate has no ${KIND[by]} SAN ${JSON.stringify(options.san)} (it has ${JSON.stringify(values)})`);
      return [scoped({ name, [by]: options.san }, options)];
    }
    if (values.length === 1) return [scoped({ name, [by]: values[0] }, options)];
    if (options.eachSan) return values.map((value, i) => scoped({ name: `${name}-${i + 1}`, [by]: value }, options));
    throw new CliError(
      `${name}: the certificate has ${values.length} ${KIND[by]} SANs (${values.map((v) => JSON.stringify(v)).join(', ')}): choose one with --san, or --each-san for a rule per SAN`,
    );
  }
  const value = CERTIFICATE_VALUES[by](certificate) as string | null;
  if (!value)
    throw new CliError(`${name}: the certificate has no ${by} to match on${by === 'cn' ? ' (a rule by cn needs a subject with exactly one CN)' : ''}`);
  return [scoped({ name, [by]: value }, options)];
}
