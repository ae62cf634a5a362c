// Certificates with any bytes a CA could be made to sign: subjects of every ASN.1 string type, with
// contents a reader must not trust (invalid UTF-8, surrogates, code points past U+10FFFF, several CNs)
// and SANs of any content — DER written by hand and signed with the test CA's key, so Envoy's handshake
// accepts them like any other client certificate.
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Pki } from '../../demo/pki.js';

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const seq = (...content: Buffer[]) => tlv(0x30, ...content);
const set = (...content: Buffer[]) => tlv(0x31, ...content);

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes: number[] = [];
  for (const part of [parts[0] * 40 + parts[1], ...parts.slice(2)]) {
    const chunk: number[] = [part & 0x7f];
    for (let v = part >> 7; v > 0; v >>= 7) chunk.unshift(0x80 | (v & 0x7f));
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** ASN.1 string tags X.509 names use. */
export const StringTag = { UTF8: 0x0c, Printable: 0x13, T61: 0x14, IA5: 0x16, Visible: 0x1a, Universal: 0x1c, BMP: 0x1e } as const;

export const Attribute = { CN: '2.5.4.3', O: '2.5.4.10', OU: '2.5.4.11', C: '2.5.4.6' } as const;

/** One attribute of a name: its type (dotted OID), string tag and raw value bytes. */
export interface NameAttribute {
  type: string;
  tag: number;
  value: Buffer;
}

/** A name as its RDNs, most general first (DER order); an RDN with several attributes is multi-valued. */
export type Name = NameAttribute[][];

export function name(rdns: Name): Buffer {
  return seq(...rdns.map((rdn) => set(...rdn.map((a) => seq(oid(a.type), tlv(a.tag, a.value))))));
}

export const text = (type: string, value: string, tag: number = StringTag.UTF8): NameAttribute => ({ type, tag, value: Buffer.from(value, 'utf8') });

/** SAN entries by their GeneralName tag: 0x81 email, 0x82 DNS, 0x86 URI, 0x87 IP. */
export type San = [number, Buffer];

export const uri = (value: string): San => [0x86, Buffer.from(value, 'latin1')];
export const dns = (value: string): San => [0x82, Buffer.from(value, 'latin1')];

function utcTime(date: Date): Buffer {
  const pad = (n: number) => String(n).padStart(2, '0');
  const text = `${pad(date.getUTCFullYear() % 100)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(text, 'latin1'));
}

// A TLV's value and where it ends: [headerStart, valueStart, end].
function read(der: Buffer, at: number): [number, number, number] {
  let size = der[at + 1];
  let start = at + 2;
  if (size & 0x80) {
    const count = size & 0x7f;
    size = 0;
    for (let i = 0; i < count; i++) size = size * 256 + der[start + i];
    start += count;
  }
  return [at, start, start + size];
}

// The subject of a certificate, as its DER bytes (the issuer name of what it signs).
function subjectDer(certificate: X509Certificate): Buffer {
  const der = certificate.raw;
  const [, tbsStart, tbsEnd] = read(der, read(der, 0)[1]);
  const fields: [number, number, number][] = [];
  for (let at = tbsStart; at < tbsEnd; at = fields[fields.length - 1][2]) fields.push(read(der, at));
  const [headerStart, , end] = fields[(der[fields[0][0]] === 0xa0 ? 1 : 0) + 4];
  return Buffer.from(der.subarray(headerStart, end));
}

export interface CraftedCertificate {
  name: string;
  subject: Name;
  sans?: San[];
  /** Default: one day ago to a year ahead. */
  notBefore?: Date;
  notAfter?: Date;
  /** A CA (basicConstraints CA:TRUE; keyCertSign, and digitalSignature so it can connect as a client itself), signed by itself. */
  authority?: boolean;
  /** The CA that signs it, by name in the PKI's folder; default `ca`. */
  issuer?: string;
}

/** Writes `<name>.crt` and `<name>.key` into the PKI's folder, signed by its CA (or itself, for an authority). */
export function craft(pki: Pki, spec: CraftedCertificate): void {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const issuer = spec.issuer ?? 'ca';
  const issuerName = spec.authority ? name(spec.subject) : subjectDer(new X509Certificate(readFileSync(pki.cert(issuer))));
  const signingKey = spec.authority ? privateKey : createPrivateKey(readFileSync(pki.key(issuer)));
  const algorithm = seq(oid('1.2.840.10045.4.3.2'));
  const extensions: Buffer[] = spec.authority
    ? [
        seq(oid('2.5.29.19'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, seq(tlv(0x01, Buffer.from([0xff]))))),
        seq(oid('2.5.29.15'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, tlv(0x03, Buffer.from([0x02, 0x84])))),
      ]
    : [seq(oid('2.5.29.37'), tlv(0x04, seq(oid('1.3.6.1.5.5.7.3.2'))))];
  if (spec.sans && spec.sans.length > 0) {
    extensions.push(seq(oid('2.5.29.17'), tlv(0x04, seq(...spec.sans.map(([tag, value]) => tlv(tag, value))))));
  }
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, serial),
    algorithm,
    issuerName,
    seq(utcTime(spec.notBefore ?? new Date(Date.now() - 86_400_000)), utcTime(spec.notAfter ?? new Date(Date.now() + 365 * 86_400_000))),
    name(spec.subject),
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, signingKey);
  const der = seq(tbs, algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  writeFileSync(pki.cert(spec.name), pem(der));
  writeFileSync(pki.key(spec.name), privateKey.export({ type: 'pkcs8', format: 'pem' }));
}

export function pem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${(der.toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END CERTIFICATE-----\n`;
}
