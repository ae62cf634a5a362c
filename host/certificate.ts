// X.509 facts as Envoy states them (the connection's properties, XFCC) and OpenSSL prints them, for the host's connection facts and the CLI: the SHA-256 of the DER certificate in
// Envoy's lowercase hex, subject and issuer in OpenSSL's RFC 2253 form (X509_NAME_print_ex with
// XN_FLAG_RFC2253: most specific RDN first, `,+"\<>;` escaped, control and non-ASCII bytes as \XX,
// unknown string types as #hex), every SAN, the serial as OpenSSL prints it, validity and the SPKI
// SHA-256 in the base64 form Istio's verifyCertificateSpki takes. A small DER reader of our own
// reads the names; Node's crypto does the rest.
import { createHash, X509Certificate } from 'node:crypto';

export interface CertificateFacts {
  sha256: string;
  subject: string;
  issuer: string;
  cn: string | null;
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

const OID_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN', '2.5.4.4': 'SN', '2.5.4.5': 'serialNumber', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST', '2.5.4.9': 'street',
  '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.12': 'title', '2.5.4.13': 'description', '2.5.4.17': 'postalCode', '2.5.4.42': 'GN',
  '2.5.4.43': 'initials', '2.5.4.44': 'generationQualifier', '2.5.4.46': 'dnQualifier', '2.5.4.65': 'pseudonym', '2.5.4.97': 'organizationIdentifier',
  '0.9.2342.19200300.100.1.25': 'DC', '0.9.2342.19200300.100.1.1': 'UID', '1.2.840.113549.1.9.1': 'emailAddress',
};

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

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

// String types whose contents are text, and how to read them as Unicode.
function stringValue(der: Uint8Array, tlv: Tlv): string | null {
  const bytes = der.subarray(tlv.start, tlv.end);
  switch (tlv.tag) {
    case 0x0c: // UTF8String
      return new TextDecoder().decode(bytes);
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x14: // T61String (OpenSSL reads it as Latin-1)
    case 0x1a: // VisibleString
      return Buffer.from(bytes).toString('latin1');
    case 0x1e: // BMPString
      return String.fromCharCode(...Array.from({ length: bytes.length / 2 }, (_, i) => (bytes[2 * i] << 8) | bytes[2 * i + 1]));
    case 0x1c: // UniversalString
      return String.fromCodePoint(...Array.from({ length: bytes.length / 4 }, (_, i) => new DataView(bytes.buffer, bytes.byteOffset + 4 * i, 4).getUint32(0)));
    default:
      return null;
  }
}

// ASN1_STRFLGS_RFC2253 escaping of one value.
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

function rfc2253(der: Uint8Array, name: Tlv): string {
  const printed = children(der, name).map((rdn) =>
    children(der, rdn)
      .map((attribute) => {
        const [type, value] = children(der, attribute);
        const id = oid(der, type);
        const text = stringValue(der, value);
        const label = OID_NAMES[id] ?? id;
        // Unknown attribute types and non-string values are dumped as #hex of their DER.
        const shown = text === null || !OID_NAMES[id] ? `#${hex(der.subarray(value.headerStart, value.end))}` : escapeValue(text);
        return `${label}=${shown}`;
      })
      .reverse()
      .join('+'),
  );
  // XN_FLAG_DN_REV: OpenSSL walks the name's entries from last to first — the most specific RDN
  // first, and the members of a multi-valued RDN in reverse DER order too — joining members of one
  // RDN with '+'.
  return printed.reverse().join(',');
}

function lastCn(der: Uint8Array, name: Tlv): string | null {
  // The CN that comes first in RFC 2253 order, i.e. the last CN in the DER sequence.
  let found: string | null = null;
  for (const rdn of children(der, name)) {
    for (const attribute of children(der, rdn)) {
      const [type, value] = children(der, attribute);
      if (oid(der, type) === '2.5.4.3') found = stringValue(der, value) ?? found;
    }
  }
  return found;
}

// Node prints SANs as "DNS:a, URI:b"; values with separators come JSON-quoted.
function splitAltNames(text: string | undefined): Record<string, string[]> {
  const result: Record<string, string[]> = { URI: [], DNS: [], email: [], 'IP Address': [] };
  for (const raw of text?.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? []) {
    const entry = raw.trim();
    const colon = entry.indexOf(':');
    if (colon < 0) continue;
    const kind = entry.slice(0, colon);
    let value = entry.slice(colon + 1);
    if (value.startsWith('"')) value = JSON.parse(value) as string;
    result[kind]?.push(value);
  }
  return result;
}

export function certificateFacts(certificate: X509Certificate): CertificateFacts {
  const der = new Uint8Array(certificate.raw);
  const root = readTlv(der, 0);
  const [tbs] = children(der, root);
  const fields = children(der, tbs);
  const offset = fields[0].tag === 0xa0 ? 1 : 0; // [0] version
  const issuer = fields[offset + 2];
  const subject = fields[offset + 4];
  const sans = splitAltNames(certificate.subjectAltName);
  const spki = certificate.publicKey.export({ type: 'spki', format: 'der' });
  return {
    sha256: createHash('sha256').update(certificate.raw).digest('hex'),
    subject: rfc2253(der, subject),
    issuer: rfc2253(der, issuer),
    cn: lastCn(der, subject),
    uriSans: sans.URI,
    dnsSans: sans.DNS,
    emailSans: sans.email,
    ipSans: sans['IP Address'],
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
