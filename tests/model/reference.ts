// An independent reference model of the filter's decision, written in TypeScript from the README's
// rules (not from the filter's code), used as the oracle of the property tests. Certificates are
// known to it by their facts (a small pool the tests make), looked up by the text of a Cert=.
import { createHash } from 'node:crypto';
import type { Connection } from '../../host/index.js';

export interface Matcher {
  sha256?: string;
  uriSan?: string;
  uriSanPrefix?: string;
  dnsSan?: string;
  subject?: string;
  cn?: string;
  spki?: string;
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

/** What the model knows of a certificate. */
export interface Certificate {
  pem: string;
  sha256: string;
  /** As Envoy prints it. */
  subject: string;
  uriSans: string[];
  dnsSans: string[];
  spki: string;
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

// What is known of the client. `undefined` marks a fact not known exactly.
interface Identity {
  sha256: string | null;
  subject: string | undefined;
  uriSans: string[];
  dnsSans: string[];
  /** Every SAN is in the lists. */
  complete: boolean;
  certificate: Certificate | undefined;
}

const lower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

export function fingerprint(text: string): string | null {
  const plain = /^[0-9a-fA-F]{64}$/.test(text) ? text : /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){31}$/.test(text) ? text.replaceAll(':', '') : null;
  return plain === null ? null : plain.toLowerCase();
}

// README "Hosts": a DNS name or IPv4 address, or a bracketed IPv6 one, with at most a numeric port;
// lower case. Anything else is ambiguous (null).
export function requestHost(authority: string): string | null {
  const a = lower(authority);
  const v6 = /^(\[[0-9a-f:.]+\])(:\d{1,5})?$/.exec(a);
  if (v6) return (v6[1].match(/:/g) ?? []).length >= 2 ? v6[1] : null;
  const name = /^([a-z0-9.-]+)(:\d{1,5})?$/.exec(a);
  if (!name || name[1].startsWith('.') || name[1].endsWith('.') || name[1].includes('..')) return null;
  return name[1];
}

function hostMatches(pattern: string, host: string): boolean {
  const p = lower(pattern).replace(/\.$/, '');
  return p.startsWith('*.') ? host.length > p.length - 1 && host.endsWith(p.slice(1)) : host === p;
}

// README "Paths": the path before '?', escapes of ordinary characters decoded; ambiguous (null) with
// ';', '\', '#', a space, control or non-ASCII byte, '//', a '.' or '..' segment, a bad escape, an
// escaped / \ . % ; ? # or control character, or escapes that are not UTF-8.
export function requestPath(raw: string): string | null {
  const path = raw.split('?')[0];
  if (!path.startsWith('/')) return null;
  const bytes: number[] = [];
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || ';\\#'.includes(path[i])) return null;
    if (c === 0x25) {
      const hex = path.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
      const d = Number.parseInt(hex, 16);
      if (d < 0x20 || d === 0x7f || '/\\.%;?#'.includes(String.fromCharCode(d))) return null;
      bytes.push(d);
      i += 2;
    } else {
      bytes.push(c);
    }
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    return null;
  }
  const segments = text.split('/').slice(1);
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (s === '.' || s === '..' || (s === '' && i < segments.length - 1)) return null;
  }
  return text;
}

const underPrefix = (path: string, prefix: string) => path === prefix || (path.startsWith(prefix) && (prefix.endsWith('/') || path[prefix.length] === '/'));

const underUriPrefix = (uri: string, prefix: string) =>
  uri === prefix || (uri.startsWith(prefix) && (prefix.endsWith('/') || prefix.endsWith(':') || uri[prefix.length] === '/'));

// README "CN": the values of CN attributes of a subject as Envoy prints it, unescaped; whether one
// shares an RDN, whether one cannot be read.
export function commonNames(subject: string): { values: string[]; shared: boolean; unreadable: boolean } {
  const out = { values: [] as string[], shared: false, unreadable: false };
  // Envoy escapes every byte above 0x7f: a subject with one raw is not Envoy's printing.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the class is every ASCII byte, control characters included
  if (/[^\x00-\x7f]/.test(subject)) return { ...out, unreadable: true };
  const attributes: { type: string; raw: string; joined: boolean }[] = [];
  let i = 0;
  let joinedBefore = false;
  while (i < subject.length) {
    const eq = subject.indexOf('=', i);
    if (eq < 0 || /[,+\\]/.test(subject.slice(i, eq))) return { ...out, unreadable: true };
    const type = subject.slice(i, eq);
    let j = eq + 1;
    let raw = '';
    while (j < subject.length && subject[j] !== ',' && subject[j] !== '+') {
      if (subject[j] === '\\') {
        if (j + 1 >= subject.length) return { ...out, unreadable: true };
        raw += subject.slice(j, j + 2);
        j += 2;
      } else {
        raw += subject[j++];
      }
    }
    const joinedAfter = subject[j] === '+';
    attributes.push({ type, raw, joined: joinedBefore || joinedAfter });
    joinedBefore = joinedAfter;
    i = j + 1;
  }
  for (const a of attributes) {
    if (lower(a.type) !== 'cn' && a.type !== '2.5.4.3') continue;
    if (a.joined) out.shared = true;
    if (a.raw.startsWith('#')) {
      out.unreadable = true;
      continue;
    }
    const bytes: number[] = [];
    let bad = false;
    for (let k = 0; k < a.raw.length; k++) {
      if (a.raw[k] === '\\') {
        const hex = a.raw.slice(k + 1, k + 3);
        if (/^[0-9a-fA-F]{2}$/.test(hex)) {
          bytes.push(Number.parseInt(hex, 16));
          k += 2;
        } else {
          bytes.push(a.raw.charCodeAt(++k));
        }
      } else if (a.raw.charCodeAt(k) >= 0x80) {
        bad = true;
      } else {
        bytes.push(a.raw.charCodeAt(k));
      }
    }
    try {
      if (bad) throw new Error();
      out.values.push(new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes)));
    } catch {
      out.unreadable = true;
    }
  }
  return out;
}

interface Element {
  hash?: string;
  subject?: string;
  cert?: string;
  uris: string[];
  dnss: string[];
}

const KEYS = ['By', 'Hash', 'Cert', 'Chain', 'Subject', 'URI', 'DNS'];

// README "XFCC": exactly Envoy's writing — Envoy's keys in Envoy's order, Cert/Chain/Subject quoted,
// the others raw to the next ';' or ','. Null when it is anything else.
export function parseXfcc(header: string): Element[] | null {
  if (header === '') return null;
  const elements: Element[] = [];
  let element: Element = { uris: [], dnss: [] };
  let last = -1;
  let i = 0;
  for (;;) {
    const eq = header.indexOf('=', i);
    if (eq < 0) return null;
    const key = KEYS.indexOf(header.slice(i, eq));
    if (key < 0 || key < last || (key === last && ![0, 5, 6].includes(key))) return null;
    last = key;
    i = eq + 1;
    let value: string;
    if ([2, 3, 4].includes(key)) {
      if (header[i] !== '"') return null;
      let j = i + 1;
      while (j < header.length && header[j] !== '"') j += header[j] === '\\' ? 2 : 1;
      if (j >= header.length) return null;
      value = header.slice(i + 1, j);
      i = j + 1;
      if (i < header.length && header[i] !== ';' && header[i] !== ',') return null;
    } else {
      let j = i;
      while (j < header.length && header[j] !== ';' && header[j] !== ',') j++;
      value = header.slice(i, j);
      if (value === '' && key !== 5) return null;
      i = j;
    }
    if (key === 1) element.hash = value;
    else if (key === 2) element.cert = value;
    else if (key === 4) element.subject = value;
    else if (key === 5) element.uris.push(value);
    else if (key === 6) element.dnss.push(value);
    if (i >= header.length) break;
    const separator = header[i++];
    if (i >= header.length) return null;
    if (separator === ',') {
      elements.push(element);
      element = { uris: [], dnss: [] };
      last = -1;
    }
  }
  elements.push(element);
  return elements;
}

const hashOf = (pem: string) => {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
  return createHash('sha256').update(der).digest('hex');
};

// A Cert= value's certificate, when it is one of `pool` and its SHA-256 is `sha256`.
function proven(certificates: Map<string, Certificate>, cert: string | undefined, sha256: string | undefined): Certificate | undefined {
  if (cert === undefined || sha256 === undefined) return undefined;
  let pem: string;
  try {
    pem = decodeURIComponent(cert);
  } catch {
    return undefined;
  }
  const known = certificates.get(pem);
  return known && hashOf(pem) === sha256 ? known : undefined;
}

// README "Rules": every matcher must match; what is not known never lets an allow rule match and
// always lets a deny rule match.
function matches(m: Matcher, id: Identity, deny: boolean): boolean {
  const unknown = () => deny;
  if (m.sha256 !== undefined && (id.sha256 === null ? !unknown() : fingerprint(m.sha256) !== id.sha256)) return false;
  const san = (has: boolean) => has || (!id.complete && deny);
  if (m.uriSan !== undefined && !san(id.uriSans.includes(m.uriSan))) return false;
  if (m.uriSanPrefix !== undefined && !san(id.uriSans.some((u) => underUriPrefix(u, m.uriSanPrefix!)))) return false;
  if (m.dnsSan !== undefined && !san(id.dnsSans.some((d) => lower(d) === lower(m.dnsSan!)))) return false;
  if (m.subject !== undefined && (id.subject === undefined ? !unknown() : id.subject !== m.subject)) return false;
  if (m.cn !== undefined) {
    const cns = id.subject === undefined ? { values: [], shared: false, unreadable: true } : commonNames(id.subject);
    const ok = deny ? cns.unreadable || cns.values.includes(m.cn) : !cns.unreadable && !cns.shared && cns.values.length === 1 && cns.values[0] === m.cn;
    if (!ok) return false;
  }
  if (m.spki !== undefined && (id.certificate === undefined ? !unknown() : id.certificate.spki !== m.spki)) return false;
  return true;
}

const readsCertificate = (policy: Policy) =>
  [...policy.allow, ...(policy.deny ?? [])].some(
    (r) => r.uriSan !== undefined || r.uriSanPrefix !== undefined || r.dnsSan !== undefined || r.spki !== undefined,
  );

function ruleMatches(rule: Rule, id: Identity, host: string | null, path: string | null, nowMs: number, deny: boolean): boolean {
  if (rule.notBefore !== undefined && nowMs < Date.parse(rule.notBefore)) return false;
  if (rule.notAfter !== undefined && nowMs > Date.parse(rule.notAfter)) return false;
  if (rule.hosts && (host === null ? !deny : !rule.hosts.some((p) => hostMatches(p, host)))) return false;
  if (rule.paths && (path === null ? !deny : !rule.paths.some((p) => underPrefix(path, requestPath(p)!)))) return false;
  return matches(rule, id, deny);
}

// The connection's peer: Envoy's properties, and its certificate from an element whose Cert= is
// this connection's (README "The client's identity").
function peerIdentity(policy: Policy, request: Request, elements: Element[] | null, certificates: Map<string, Certificate>): Identity | null {
  const connection = request.connection;
  if (connection.kind !== 'mtls' || !connection.peer.sha256) return null;
  const peer = connection.peer;
  const digest = peer.sha256.toLowerCase();
  let certificate: Certificate | undefined;
  if (readsCertificate(policy)) {
    for (const e of [...(elements ?? [])].reverse()) {
      if (e.hash === digest && e.cert !== undefined) {
        certificate = proven(certificates, e.cert, digest);
        break;
      }
    }
  }
  return certificate
    ? { sha256: digest, subject: peer.subject, uriSans: certificate.uriSans, dnsSans: certificate.dnsSans, complete: true, certificate }
    : {
        sha256: digest,
        subject: peer.subject,
        uriSans: peer.uriSans?.slice(0, 1) ?? [],
        dnsSans: peer.dnsSans?.slice(0, 1) ?? [],
        complete: false,
        certificate: undefined,
      };
}

function identity(policy: Policy, request: Request, certificates: Map<string, Certificate>): Identity | string {
  const connection = request.connection;
  const header = request.xfcc.join(',');
  if (policy.identitySource !== 'xfcc') {
    const elements = header ? parseXfcc(header) : null;
    return peerIdentity(policy, request, elements, certificates) ?? 'no_client_certificate';
  }
  if (header === '') return 'xfcc_missing';
  if (connection.kind !== 'mtls' || !connection.peer.sha256) return 'xfcc_untrusted';
  const peer = connection.peer;
  const elements = parseXfcc(header);
  if (elements === null) return 'xfcc_malformed';
  // The last element is our own Envoy's: it must say what the connection says.
  const last = elements[elements.length - 1];
  if (last.hash !== peer.sha256.toLowerCase()) return 'xfcc_mismatch';
  if (last.uris.length > 0 && last.uris[0] !== (peer.uriSans?.[0] ?? '')) return 'xfcc_mismatch';
  if (last.dnss.length > 0 && last.dnss[0] !== peer.dnsSans?.[0]) return 'xfcc_mismatch';
  if (last.subject !== undefined && last.subject !== peer.subject) return 'xfcc_mismatch';
  // Every element with a certificate says what its certificate says.
  const certificateOf: (Certificate | undefined)[] = [];
  for (const e of elements) {
    if (e.cert === undefined) {
      certificateOf.push(undefined);
      continue;
    }
    const c = proven(certificates, e.cert, e.hash);
    if (!c) return 'xfcc_malformed';
    if (e.subject !== undefined && e.subject !== c.subject) return 'xfcc_malformed';
    if (e.uris.length > 0 && JSON.stringify(e.uris) !== JSON.stringify(c.uriSans.length ? c.uriSans : [''])) return 'xfcc_malformed';
    if (e.dnss.length > 0 && JSON.stringify(e.dnss) !== JSON.stringify(c.dnsSans)) return 'xfcc_malformed';
    certificateOf.push(c);
  }
  const trusted = (id: Identity) => (policy.trustedProxies ?? []).some((m) => matches(m, id, false));
  const peerId = peerIdentity(policy, request, elements, certificates)!;
  if (!trusted(peerId)) return peerId;
  for (let i = elements.length - 2; i >= 0; i--) {
    const e = elements[i];
    const c = certificateOf[i];
    const text: Identity = c
      ? { sha256: e.hash!, subject: c.subject, uriSans: c.uriSans, dnsSans: c.dnsSans, complete: true, certificate: c }
      : {
          sha256: e.hash !== undefined && /^[0-9a-f]{64}$/.test(e.hash) ? e.hash : null,
          subject: e.subject,
          uriSans: e.uris.filter((u) => u !== ''),
          dnsSans: e.dnss,
          complete: false,
          certificate: undefined,
        };
    if (trusted(text)) continue;
    return c ? text : 'xfcc_malformed';
  }
  return 'xfcc_missing';
}

export function decide(policy: Policy, request: Request, certificates: Map<string, Certificate> = new Map()): Outcome {
  const host = requestHost(request.authority);
  if (policy.hosts && host !== null && !policy.hosts.some((p) => hostMatches(p, host))) return { kind: 'out_of_scope' };
  const id = identity(policy, request, certificates);
  if (typeof id === 'string') return { kind: 'deny', reason: id };
  const path = requestPath(request.path);
  const denied = (policy.deny ?? []).find((r) => ruleMatches(r, id, host, path, request.nowMs, true));
  if (denied) return { kind: 'deny', reason: 'denied_by_rule', rule: denied.name };
  const allowed = policy.allow.find((r) => ruleMatches(r, id, host, path, request.nowMs, false));
  return allowed ? { kind: 'allow', rule: allowed.name } : { kind: 'deny', reason: 'not_allowed' };
}
