// A bounds-checked DER reader for the parts of an X.509 certificate the rules use: the subject
// public key info (for SPKI pins) and every subject alternative name. Pure; null on any malformed
// input, never a trap.
import { sha256 } from "./sha256";
import { base64Encode } from "./pem";

class Tlv {
  constructor(public tag: i32, public start: i32, public end: i32, public headerStart: i32) {}
}

// The TLV at `at` inside [.., limit), or null when it does not fit.
function tlv(der: Uint8Array, at: i32, limit: i32): Tlv | null {
  if (at + 2 > limit) return null;
  let tag = <i32>der[at];
  let length = <i32>der[at + 1];
  let start = at + 2;
  if (length & 0x80) {
    let count = length & 0x7f;
    if (count == 0 || count > 3 || start + count > limit) return null;
    length = 0;
    for (let i = 0; i < count; i++) length = (length << 8) | <i32>der[start + i];
    start += count;
  }
  if (length < 0 || start + length > limit) return null;
  return new Tlv(tag, start, start + length, at);
}

export class CertificateFacts {
  // SHA-256 of the DER SubjectPublicKeyInfo, base64: Istio's verifyCertificateSpki form.
  spki: string = "";
  uriSans: string[] = [];
  dnsSans: string[] = [];
  emailSans: string[] = [];
  // Raw addresses: 4 bytes for IPv4, 16 for IPv6.
  ipSans: Uint8Array[] = [];
}

const SAN_OID: StaticArray<u8> = [0x55, 0x1d, 0x11];

function isSanOid(der: Uint8Array, oid: Tlv): bool {
  if (oid.tag != 0x06 || oid.end - oid.start != 3) return false;
  for (let i = 0; i < 3; i++) {
    if (der[oid.start + i] != SAN_OID[i]) return false;
  }
  return true;
}

function text(der: Uint8Array, item: Tlv): string {
  return String.UTF8.decodeUnsafe(der.dataStart + <usize>item.start, <usize>(item.end - item.start));
}

function readSans(der: Uint8Array, value: Tlv, facts: CertificateFacts): bool {
  let names = tlv(der, value.start, value.end);
  if (names === null || names.tag != 0x30) return false;
  let at = names.start;
  while (at < names.end) {
    let name = tlv(der, at, names.end);
    if (name === null) return false;
    if (name.tag == 0x86) facts.uriSans.push(text(der, name));
    else if (name.tag == 0x82) facts.dnsSans.push(text(der, name));
    else if (name.tag == 0x81) facts.emailSans.push(text(der, name));
    else if (name.tag == 0x87 && (name.end - name.start == 4 || name.end - name.start == 16)) facts.ipSans.push(der.slice(name.start, name.end));
    at = name.end;
  }
  return true;
}

export function readCertificate(der: Uint8Array): CertificateFacts | null {
  let certificate = tlv(der, 0, der.length);
  if (certificate === null || certificate.tag != 0x30) return null;
  let tbs = tlv(der, certificate.start, certificate.end);
  if (tbs === null || tbs.tag != 0x30) return null;
  // version [0]?, serial, signature, issuer, validity, subject, subjectPublicKeyInfo, …, [3] extensions
  let fields = new Array<Tlv>();
  let at = tbs.start;
  while (at < tbs.end) {
    let field = tlv(der, at, tbs.end);
    if (field === null) return null;
    fields.push(field);
    at = field.end;
  }
  let first = fields.length > 0 && fields[0].tag == 0xa0 ? 1 : 0;
  if (fields.length < first + 6) return null;
  let spki = fields[first + 5];
  if (spki.tag != 0x30) return null;
  let facts = new CertificateFacts();
  facts.spki = base64Encode(sha256(der.dataStart + <usize>spki.headerStart, spki.end - spki.headerStart));
  for (let i = first + 6; i < fields.length; i++) {
    if (fields[i].tag != 0xa3) continue;
    let extensions = tlv(der, fields[i].start, fields[i].end);
    if (extensions === null || extensions.tag != 0x30) return null;
    let e = extensions.start;
    while (e < extensions.end) {
      let extension = tlv(der, e, extensions.end);
      if (extension === null || extension.tag != 0x30) return null;
      let oid = tlv(der, extension.start, extension.end);
      if (oid === null) return null;
      if (isSanOid(der, oid)) {
        let next = tlv(der, oid.end, extension.end);
        if (next !== null && next.tag == 0x01) next = tlv(der, next.end, extension.end);
        if (next === null || next.tag != 0x04 || !readSans(der, next, facts)) return null;
      }
      e = extension.end;
    }
  }
  return facts;
}

// SHA-256 of the whole DER, to compare with the Hash that vouches for it.
export function derSha256(der: Uint8Array): StaticArray<u8> {
  return sha256(der.dataStart, der.length);
}
