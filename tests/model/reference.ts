// An independent reference model of the filter's decision, written in TypeScript from the README's
// rules (not from the filter's code), used as the oracle of the property tests.
import type { Connection } from '../../host/index.js';

export interface Matcher {
  sha256?: string;
  uriSan?: string;
  uriSanPrefix?: string;
  dnsSan?: string;
  subject?: string;
  cn?: string;
}

export interface Rule extends Matcher {
  name: string;
  hosts?: string[];
  paths?: string[];
  notBefore?: string;
  notAfter?: string;
}

export interface Policy {
  mode?: 'enforce' | 'dry-run';
  identitySource?: 'connection' | 'xfcc';
  trustedProxies?: Matcher[];
  hosts?: string[];
  allow: Rule[];
  deny?: Rule[];
  identityHeader?: string;
}

export interface Request {
  connection: Connection;
  authority: string;
  /** :path as raw bytes (latin1 string). */
  path: string;
  /** Every x-forwarded-client-cert value, in order. */
  xfcc: string[];
  nowMs: number;
}

export type Outcome = { kind: 'out_of_scope' } | { kind: 'allow'; rule: string } | { kind: 'deny'; reason: string; rule?: string };

interface Identity {
  sha256: string | null;
  subject: string;
  uriSans: string[];
  dnsSans: string[];
}

const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

export function fingerprint(text: string): string | null {
  const plain = /^[0-9a-fA-F]{64}$/.test(text) ? text : /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){31}$/.test(text) ? text.replaceAll(':', '') : null;
  return plain === null ? null : plain.toLowerCase();
}

// README "Paths": query and fragment off, percent-decoding, ';' parameters off, slashes merged,
// dot segments resolved; a trailing slash stays.
export function normalisePath(raw: string): string {
  const bytes = Buffer.from(raw, 'latin1');
  let end = bytes.findIndex((b) => b === 0x3f || b === 0x23);
  if (end < 0) end = bytes.length;
  const decoded: number[] = [];
  for (let i = 0; i < end; i++) {
    const hex = i + 2 < end ? String.fromCharCode(bytes[i + 1], bytes[i + 2]) : '';
    if (bytes[i] === 0x25 && /^[0-9a-fA-F]{2}$/.test(hex)) {
      decoded.push(parseInt(hex, 16));
      i += 2;
    } else {
      decoded.push(bytes[i]);
    }
  }
  const parts = new TextDecoder().decode(Uint8Array.from(decoded)).split('/').map((p) => p.split(';')[0]);
  const out: string[] = [];
  for (const part of parts) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  const last = parts[parts.length - 1];
  return `/${out.join('/')}${out.length > 0 && ['', '.', '..'].includes(last) ? '/' : ''}`;
}

const underPrefix = (path: string, prefix: string) =>
  path === prefix || (path.startsWith(prefix) && (prefix.endsWith('/') || path[prefix.length] === '/'));

// README: host lower-cased, user info, port and trailing dot ignored.
export function normaliseHost(authority: string): string {
  let host = asciiLower(authority);
  host = host.slice(host.lastIndexOf('@') + 1);
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close > 0) host = host.slice(0, close + 1);
  } else if (host.split(':').length === 2) {
    host = host.slice(0, host.indexOf(':'));
  }
  return host.replace(/\.+$/, '');
}

function hostMatches(pattern: string, host: string): boolean {
  const p = asciiLower(pattern).replace(/\.+$/, '');
  return p.startsWith('*.') ? host.length > p.length - 1 && host.endsWith(p.slice(1)) : host === p;
}

// The first CN attribute of an RFC 2253 subject, unescaped.
export function commonName(subject: string): string | null {
  let i = 0;
  while (i < subject.length) {
    const eq = subject.indexOf('=', i);
    if (eq < 0) return null;
    const type = subject.slice(i, eq);
    if (/[,+\\]/.test(type)) return null;
    i = eq + 1;
    const bytes: number[] = [];
    let quoted = false;
    for (; i < subject.length; i++) {
      const c = subject[i];
      if (c === '"') {
        quoted = !quoted;
        continue;
      }
      if (!quoted && (c === ',' || c === '+')) break;
      if (c === '\\') {
        if (i + 1 >= subject.length) return null;
        const hex = subject.slice(i + 1, i + 3);
        if (/^[0-9a-fA-F]{2}$/.test(hex)) {
          bytes.push(parseInt(hex, 16));
          i += 2;
        } else {
          bytes.push(...Buffer.from(subject[i + 1], 'utf8'));
          i += 1;
        }
        continue;
      }
      bytes.push(...Buffer.from(c, 'utf8'));
    }
    if (quoted) return null;
    if (asciiLower(type.trim()) === 'cn' || type.trim() === '2.5.4.3') return new TextDecoder().decode(Uint8Array.from(bytes));
    i++;
  }
  return null;
}

interface Element {
  hash?: string;
  subject?: string;
  cert?: string;
  uris: string[];
  dnss: string[];
}

// README "The client's identity", xfcc grammar. Null when malformed.
export function parseXfcc(header: string): Element[] | null {
  const elements: Element[] = [];
  let element: Element = { uris: [], dnss: [] };
  let i = 0;
  const spaces = () => {
    while (header[i] === ' ' || header[i] === '\t') i++;
  };
  for (;;) {
    spaces();
    const keyStart = i;
    while (i < header.length && !'=;,"'.includes(header[i])) i++;
    if (header[i] !== '=') return null;
    const key = asciiLower(header.slice(keyStart, i).trim());
    if (!/^[a-z0-9_-]+$/.test(key)) return null;
    i++;
    spaces();
    let value: string;
    if (header[i] === '"') {
      const start = ++i;
      while (i < header.length && header[i] !== '"') i += header[i] === '\\' ? 2 : 1;
      if (i >= header.length) return null;
      value = header.slice(start, i);
      i++;
      spaces();
      if (i < header.length && header[i] !== ';' && header[i] !== ',') return null;
    } else {
      const start = i;
      while (i < header.length && header[i] !== ';' && header[i] !== ',') i++;
      value = header.slice(start, i).trimEnd();
    }
    if (key === 'hash' || key === 'subject' || key === 'cert') {
      if (element[key] !== undefined) return null;
      element[key] = value;
    } else if (key === 'uri' && value) {
      element.uris.push(value);
    } else if (key === 'dns' && value) {
      element.dnss.push(value);
    }
    if (i >= header.length) break;
    if (header[i++] === ',') {
      elements.push(element);
      element = { uris: [], dnss: [] };
    }
  }
  elements.push(element);
  return elements;
}

function matches(m: Matcher, id: Identity): boolean {
  if (m.sha256 !== undefined && fingerprint(m.sha256) !== id.sha256) return false;
  if (m.uriSan !== undefined && !id.uriSans.includes(m.uriSan)) return false;
  if (m.uriSanPrefix !== undefined && !id.uriSans.some((u) => u.startsWith(m.uriSanPrefix!))) return false;
  if (m.dnsSan !== undefined && !id.dnsSans.some((d) => asciiLower(d) === asciiLower(m.dnsSan!))) return false;
  if (m.subject !== undefined && id.subject !== m.subject) return false;
  if (m.cn !== undefined && (id.subject === '' || commonName(id.subject) !== m.cn)) return false;
  return true;
}

function ruleMatches(rule: Rule, id: Identity, host: string, path: string, nowMs: number): boolean {
  if (rule.notBefore !== undefined && nowMs < Date.parse(rule.notBefore)) return false;
  if (rule.notAfter !== undefined && nowMs > Date.parse(rule.notAfter)) return false;
  if (rule.hosts && !rule.hosts.some((p) => hostMatches(p, host))) return false;
  if (rule.paths && !rule.paths.some((p) => underPrefix(path, normalisePath(p)))) return false;
  return matches(rule, id);
}

function identity(policy: Policy, request: Request): Identity | string {
  const connection = request.connection;
  const peer = connection.kind === 'mtls' ? connection.peer : undefined;
  const digest = peer && peer.sha256 ? peer.sha256.toLowerCase() : null;
  const header = request.xfcc.join(',');
  if (policy.identitySource === 'xfcc') {
    if (header === '') return 'xfcc_missing';
    if (digest === null) return 'xfcc_untrusted';
    const elements = parseXfcc(header);
    if (elements === null) return 'xfcc_malformed';
    // The last element is our own Envoy's: it must say what the connection says.
    const last = elements[elements.length - 1];
    if (last.hash === undefined || fingerprint(last.hash) !== digest) return 'xfcc_mismatch';
    const connUri = peer!.uriSans?.[0];
    const connDns = peer!.dnsSans?.[0];
    if ((last.uris.length > 0 || connUri) && last.uris[0] !== connUri) return 'xfcc_mismatch';
    if ((last.dnss.length > 0 || connDns) && last.dnss[0] !== connDns) return 'xfcc_mismatch';
    if (last.subject !== undefined && last.subject !== peer!.subject) return 'xfcc_mismatch';
    for (let i = elements.length - 1; i >= 0; i--) {
      const e = elements[i];
      const id: Identity = { sha256: e.hash === undefined ? null : fingerprint(e.hash), subject: e.subject ?? '', uriSans: e.uris, dnsSans: e.dnss };
      if (!(policy.trustedProxies ?? []).some((m) => matches(m, id))) return id;
    }
    return 'xfcc_missing';
  }
  if (digest === null) return 'no_client_certificate';
  const id: Identity = { sha256: digest, subject: peer!.subject, uriSans: peer!.uriSans?.slice(0, 1) ?? [], dnsSans: peer!.dnsSans?.slice(0, 1) ?? [] };
  const elements = header ? parseXfcc(header) : null;
  const last = elements?.[elements.length - 1];
  if (last?.hash !== undefined && fingerprint(last.hash) === digest) {
    id.uriSans.push(...last.uris);
    id.dnsSans.push(...last.dnss);
  }
  return id;
}

export function decide(policy: Policy, request: Request): Outcome {
  const host = normaliseHost(request.authority);
  if (policy.hosts && host !== '' && !policy.hosts.some((p) => hostMatches(p, host))) return { kind: 'out_of_scope' };
  const id = identity(policy, request);
  if (typeof id === 'string') return { kind: 'deny', reason: id };
  const path = normalisePath(request.path);
  const denied = (policy.deny ?? []).find((r) => ruleMatches(r, id, host, path, request.nowMs));
  if (denied) return { kind: 'deny', reason: 'denied_by_rule', rule: denied.name };
  const allowed = policy.allow.find((r) => ruleMatches(r, id, host, path, request.nowMs));
  return allowed ? { kind: 'allow', rule: allowed.name } : { kind: 'deny', reason: 'not_allowed' };
}
