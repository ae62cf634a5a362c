// X.509 facts as Envoy states them (the connection's properties, XFCC) and OpenSSL prints them, for the host's connection facts and the CLI: the SHA-256 of the DER certificate in
// Envoy's lowercase hex, subject and issuer in OpenSSL's RFC 2253 form (X509_NAME_print_ex with
// XN_FLAG_RFC2253: most specific RDN first, `,+"\<>;` escaped, control and non-ASCII bytes as \XX,
// unknown string types as #hex), every SAN, the serial as OpenSSL prints it, validity and the SPKI
// SHA-256 in the base64 form Istio's verifyCertificateSpki takes. A small DER reader of our own
// reads the names; Node's crypto does the rest. It is the twin of the filter's own reader
// (assembly/cert/x509.ts) on purpose: the CLI runs where no filter runs, and each is held to
// Envoy's and OpenSSL's output by tests, never to each other.
import { createHash, X509Certificate } from 'node:crypto';
import { PDA, PILOT, PKCS9, X520 } from '../assembly/cert/attribute-names.js';
import type { PeerCertificate } from './connection.js';

export interface CertificateFacts {
  sha256: string;
  /** As Envoy prints it; null when this reader does not know how BoringSSL names one of its attribute types. */
  subject: string | null;
  issuer: string | null;
  /** The CN an allow rule's `cn` matches: only a lone CN in an RDN of its own; else null. */
  cn: string | null;
  /** Every CN, the most specific first. */
  cns: string[];
  uriSans: string[];
  dnsSans: string[];
  emailSans: string[];
  ipSans: string[];
  serial: string;
  notBefore: string;
  notAfter: string;
  spkiSha256: string;
  isCa: boolean;
  pem: string;
}

interface Tlv {
  tag: number;
  start: number; // of the value
  end: number;
  headerStart: number;
}

class DerError extends Error {}

function readTlv(der: Uint8Array, at: number): Tlv {
  if (at + 2 > der.length) throw new DerError('truncated DER');
  const tag = der[at];
  let length = der[at + 1];
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4 || start + bytes > der.length) throw new DerError('bad DER length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i];
    start += bytes;
  }
  if (start + length > der.length) throw new DerError('DER value runs past its container');
  return { tag, start, end: start + length, headerStart: at };
}

function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const result: Tlv[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const child = readTlv(der, at);
    result.push(child);
    at = child.end;
  }
  return result;
}

// The names BoringSSL gives attribute types, by arc (the filter's reader uses the same table).
const ARCS: [string, string[]][] = [
  ['2.5.4', X520],
  ['1.2.840.113549.1.9', PKCS9],
  ['0.9.2342.19200300.100.1', PILOT],
  ['1.3.6.1.5.5.7.9', PDA],
];
// Types BoringSSL prints by number outside those arcs (EV jurisdiction).
const UNNAMED = new Set(['1.3.6.1.4.1.311.60.2.1.1', '1.3.6.1.4.1.311.60.2.1.2', '1.3.6.1.4.1.311.60.2.1.3']);

function oid(der: Uint8Array, tlv: Tlv): string {
  const parts: number[] = [];
  let value = 0;
  for (let i = tlv.start; i < tlv.end; i++) {
    value = value * 128 + (der[i] & 0x7f);
    if ((der[i] & 0x80) === 0) {
      if (parts.length === 0) parts.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}

// BoringSSL's name for an attribute type: '' when it prints the number; null when not known here.
function attributeName(id: string): string | null {
  for (const [arc, names] of ARCS) {
    if (!id.startsWith(`${arc}.`)) continue;
    const last = id.slice(arc.length + 1);
    if (!/^\d+$/.test(last) || Number(last) >= 128) return null;
    return names[Number(last)] ?? '';
  }
  return UNNAMED.has(id) ? '' : null;
}

const hexUpper = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex').toUpperCase();

class InvalidName extends Error {}

// A string value's characters as BoringSSL reads its type; null for types it dumps as #hex.
function stringValue(der: Uint8Array, tlv: Tlv): string | null {
  const bytes = der.subarray(tlv.start, tlv.end);
  const codePoints = (width: number) => {
    if (bytes.length % width !== 0) throw new InvalidName(`a string of ${bytes.length} bytes in ${width}-byte characters`);
    const out: number[] = [];
    for (let i = 0; i < bytes.length; i += width) {
      let c = 0;
      for (let b = 0; b < width; b++) c = c * 256 + bytes[i + b];
      if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) throw new InvalidName(`no character U+${c.toString(16)}`);
      out.push(c);
    }
    return String.fromCodePoint(...out);
  };
  switch (tlv.tag) {
    case 0x0c: // UTF8String
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        throw new InvalidName('a UTF8String that is not UTF-8');
      }
    case 0x12: // NumericString
    case 0x13: // PrintableString
    case 0x14: // T61String
    case 0x16: // IA5String
    case 0x17: // UTCTime
    case 0x18: // GeneralizedTime
    case 0x1a: // VisibleString: all read as Latin-1 ("MBSTRING_ASC")
      return Buffer.from(bytes).toString('latin1');
    case 0x1e: // BMPString
      return codePoints(2);
    case 0x1c: // UniversalString
      return codePoints(4);
    default:
      return null;
  }
}

// ASN1_STRFLGS_RFC2253 escaping of one value, over its UTF-8.
function escapeValue(text: string): string {
  const utf8 = Buffer.from(text, 'utf8');
  let out = '';
  for (let i = 0; i < utf8.length; i++) {
    const c = utf8[i];
    const first = i === 0;
    const last = i === utf8.length - 1;
    if (c >= 0x80 || c < 0x20 || c === 0x7f) out += `\\${c.toString(16).toUpperCase().padStart(2, '0')}`;
    else if (',+"\\<>;'.includes(String.fromCharCode(c))) out += `\\${String.fromCharCode(c)}`;
    else if ((first && (c === 0x23 || c === 0x20)) || (last && c === 0x20)) out += `\\${String.fromCharCode(c)}`;
    else out += String.fromCharCode(c);
  }
  return out;
}

// A Name as BoringSSL prints it (X509_NAME_print_ex, XN_FLAG_RFC2253): entries from last to first —
// the most specific RDN first, the members of a multi-valued RDN in reverse DER order too, joined by
// '+' —; null when this reader does not know how BoringSSL names one of its attribute types.
function rfc2253(der: Uint8Array, name: Tlv): string | null {
  let unknown = false;
  const printed = children(der, name).map((rdn) =>
    children(der, rdn)
      .map((attribute) => {
        const [type, value] = children(der, attribute);
        const id = oid(der, type);
        const label = attributeName(id);
        const text = stringValue(der, value);
        if (label === null) unknown = true;
        // Types BoringSSL does not name, and values that are no string, are dumped as #hex of their DER.
        const shown = text === null || !label ? `#${hexUpper(der.subarray(value.headerStart, value.end))}` : escapeValue(text);
        return `${label || id}=${shown}`;
      })
      .reverse()
      .join('+'),
  );
  return unknown ? null : printed.reverse().join(',');
}

// The subject's CNs; the one an allow rule's `cn` matches only when it is the only one, in an RDN
// of its own (identity/subject.ts in the filter says why).
function commonNames(der: Uint8Array, name: Tlv): { all: string[]; single: string | null } {
  const all: string[] = [];
  let shared = false;
  for (const rdn of children(der, name)) {
    const members = children(der, rdn);
    for (const attribute of members) {
      const [type, value] = children(der, attribute);
      if (oid(der, type) !== '2.5.4.3') continue;
      const text = stringValue(der, value);
      if (text !== null) all.push(text);
      if (members.length > 1 || text === null) shared = true;
    }
  }
  // RFC 2253 order: the most specific first.
  all.reverse();
  return { all, single: all.length === 1 && !shared ? all[0] : null };
}

function ipText(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  // As OpenSSL prints an IPv6 SAN: eight groups, upper case, no compression.
  return Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] << 8) | bytes[2 * i + 1]).toString(16).toUpperCase()).join(':');
}

// Every SAN, read from the extension's DER (Node's text form of them is lossy for odd values).
function subjectAltNames(der: Uint8Array, tbsFields: Tlv[], first: number): { uri: string[]; dns: string[]; email: string[]; ip: string[] } {
  const sans = { uri: [] as string[], dns: [] as string[], email: [] as string[], ip: [] as string[] };
  for (const field of tbsFields.slice(first + 6)) {
    if (field.tag !== 0xa3) continue;
    for (const extension of children(der, children(der, field)[0])) {
      const parts = children(der, extension);
      if (oid(der, parts[0]) !== '2.5.29.17') continue;
      const octets = parts[parts.length - 1];
      for (const entry of children(der, children(der, octets)[0])) {
        const value = der.subarray(entry.start, entry.end);
        const text = Buffer.from(value).toString('latin1');
        if (entry.tag === 0x86) sans.uri.push(text);
        else if (entry.tag === 0x82) sans.dns.push(text);
        else if (entry.tag === 0x81) sans.email.push(text);
        else if (entry.tag === 0x87 && (value.length === 4 || value.length === 16)) sans.ip.push(ipText(value));
      }
    }
  }
  return sans;
}

export function certificateFacts(certificate: X509Certificate): CertificateFacts {
  const der = new Uint8Array(certificate.raw);
  const root = readTlv(der, 0);
  const [tbs] = children(der, root);
  const fields = children(der, tbs);
  const first = fields[0].tag === 0xa0 ? 1 : 0; // [0] version
  const issuer = fields[first + 2];
  const subject = fields[first + 4];
  const sans = subjectAltNames(der, fields, first);
  const cns = commonNames(der, subject);
  const spki = certificate.publicKey.export({ type: 'spki', format: 'der' });
  return {
    sha256: createHash('sha256').update(certificate.raw).digest('hex'),
    subject: rfc2253(der, subject),
    issuer: rfc2253(der, issuer),
    cn: cns.single,
    cns: cns.all,
    uriSans: sans.uri,
    dnsSans: sans.dns,
    emailSans: sans.email,
    ipSans: sans.ip,
    serial: certificate.serialNumber.toUpperCase(),
    notBefore: new Date(certificate.validFrom).toISOString(),
    notAfter: new Date(certificate.validTo).toISOString(),
    spkiSha256: createHash('sha256').update(spki).digest('base64'),
    isCa: certificate.ca,
    pem: certificate.toString(),
  };
}

/** Every certificate in PEM text (one or many) or in DER bytes. */
export function readCertificates(bytes: Buffer): X509Certificate[] {
  const text = bytes.toString('latin1');
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (blocks) return blocks.map((block) => new X509Certificate(block));
  return [new X509Certificate(bytes)];
}

export class UnprintableName extends Error {}

/** What Envoy states about a client presenting this certificate (the host's connection facts). */
export function peerCertificate(facts: CertificateFacts): PeerCertificate {
  if (facts.subject === null) {
    throw new UnprintableName("the certificate's subject has an attribute type this tool cannot print as Envoy does");
  }
  return { sha256: facts.sha256, subject: facts.subject, uriSans: facts.uriSans, dnsSans: facts.dnsSans, pem: facts.pem };
}
