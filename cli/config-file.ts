// Editing a configuration file: rules added from certificates, the file's indentation kept, and
// nothing written unless the filter itself accepts the result.
import { readFileSync, writeFileSync } from 'node:fs';
import { CliError, validate } from './filter.js';
import type { CertificateFacts } from '../host/certificate.js';

export type MatchBy = 'sha256' | 'uriSan' | 'dnsSan' | 'subject' | 'cn';

export interface RuleOptions {
  by: MatchBy;
  hosts?: string[];
  paths?: string[];
  notAfter?: string;
  deny?: boolean;
}

type Rule = Record<string, unknown> & { name: string };

export function ruleFor(name: string, certificate: CertificateFacts, options: RuleOptions): Rule {
  const rule: Rule = { name };
  const value =
    options.by === 'sha256' ? certificate.sha256
    : options.by === 'uriSan' ? certificate.uriSans[0]
    : options.by === 'dnsSan' ? certificate.dnsSans[0]
    : options.by === 'subject' ? certificate.subject
    : certificate.cn;
  if (!value) throw new CliError(`${name}: the certificate has no ${options.by} to match on`);
  rule[options.by] = value;
  if (options.hosts?.length) rule.hosts = options.hosts;
  if (options.paths?.length) rule.paths = options.paths;
  if (options.notAfter) rule.notAfter = options.notAfter;
  return rule;
}

function indentation(text: string): string {
  return text.match(/\n([ \t]+)"/)?.[1] ?? '  ';
}

/** Adds rules to the file's allow (or deny) list; refuses duplicates; writes only a valid result. */
export async function addRules(file: string, rules: Rule[], deny = false): Promise<void> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = '{"allow": []}\n';
  }
  const config = JSON.parse(text) as Record<string, unknown>;
  const listName = deny ? 'deny' : 'allow';
  const list = ((config[listName] ??= []) as Rule[]);
  for (const rule of rules) {
    if (list.some((existing) => existing.name === rule.name)) throw new CliError(`${listName}: a rule named ${JSON.stringify(rule.name)} exists already`);
    const [key, value] = Object.entries(rule).find(([k]) => k !== 'name')!;
    const same = list.find((existing) => existing[key] === value && !existing.hosts && !existing.paths);
    if (same) throw new CliError(`${listName}: rule ${JSON.stringify(same.name)} already matches ${key} ${JSON.stringify(value)}`);
    list.push(rule);
  }
  const updated = `${JSON.stringify(config, null, indentation(text))}\n`;
  const problem = await validate(updated);
  if (problem !== null) throw new CliError(`the result would be refused by the filter: ${problem}`);
  writeFileSync(file, updated);
}
