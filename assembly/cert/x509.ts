// A bounds-checked DER reader for the parts of an X.509 certificate the rules use: serial, issuer
// and subject (printed as OpenSSL's RFC 2253 form), validity, the subject public key info (for SPKI
// pins) and every subject alternative name. Pure; null on any malformed input, never a trap.
import { sha256 } from "./sha256";
import { base64Encode } from "./pem";
import { hexLower, hexUpper } from "../text";
import { daysFromCivil } from "../config/rfc3339";

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
  // Uppercase hex as `openssl x509 -serial` prints it (no leading 00 byte).
  serial: string = "";
  issuer: string = "";
  subject: string = "";
  notBeforeMs: i64 = 0;
  notAfterMs: i64 = 0;
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
  let serial = fields[first];
  if (serial.tag != 0x02 || serial.end == serial.start) return null;
  let serialStart = serial.start;
  if (der[serialStart] == 0 && serial.end - serialStart > 1) serialStart++;
  let digits = new Array<string>();
  for (let i = serialStart; i < serial.end; i++) digits.push(hexUpper(der[i], 2));
  facts.serial = digits.join("");
  let issuer = rfc2253(der, fields[first + 2]);
  let subject = rfc2253(der, fields[first + 4]);
  if (issuer === null || subject === null) return null;
  facts.issuer = issuer;
  facts.subject = subject;
  let validity = fields[first + 3];
  let notBefore = tlv(der, validity.start, validity.end);
  if (notBefore === null) return null;
  let notAfter = tlv(der, notBefore.end, validity.end);
  if (notAfter === null) return null;
  facts.notBeforeMs = time(der, notBefore);
  facts.notAfterMs = time(der, notAfter);
  if (facts.notBeforeMs == i64.MIN_VALUE || facts.notAfterMs == i64.MIN_VALUE) return null;
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

// UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) as milliseconds; MIN_VALUE if neither.
function time(der: Uint8Array, item: Tlv): i64 {
  let length = item.end - item.start;
  let at = item.start;
  let year = 0;
  if (item.tag == 0x17 && length == 13) {
    year = digitsAt(der, at, 2);
    year += year >= 50 ? 1900 : 2000;
    at += 2;
  } else if (item.tag == 0x18 && length == 15) {
    year = digitsAt(der, at, 4);
    at += 4;
  } else {
    return i64.MIN_VALUE;
  }
  let month = digitsAt(der, at, 2);
  let day = digitsAt(der, at + 2, 2);
  let hour = digitsAt(der, at + 4, 2);
  let minute = digitsAt(der, at + 6, 2);
  let second = digitsAt(der, at + 8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60 || der[item.end - 1] != 0x5a) {
    return i64.MIN_VALUE;
  }
  return ((daysFromCivil(year, month, day) * 24 + <i64>hour) * 60 + <i64>minute) * 60000 + <i64>second * 1000;
}

function digitsAt(der: Uint8Array, at: i32, count: i32): i32 {
  let value = 0;
  for (let i = 0; i < count; i++) {
    let c = <i32>der[at + i] - 0x30;
    if (c < 0 || c > 9) return -1;
    value = value * 10 + c;
  }
  return value;
}

// Short names OpenSSL prints for attribute types; others are printed as dotted numbers.
function attributeName(der: Uint8Array, oid: Tlv): string | null {
  let length = oid.end - oid.start;
  let at = oid.start;
  if (length == 3 && der[at] == 0x55 && der[at + 1] == 0x04) {
    switch (<i32>der[at + 2]) {
      case 3: return "CN";
      case 4: return "SN";
      case 5: return "serialNumber";
      case 6: return "C";
      case 7: return "L";
      case 8: return "ST";
      case 9: return "street";
      case 10: return "O";
      case 11: return "OU";
      case 12: return "title";
      case 13: return "description";
      case 17: return "postalCode";
      case 42: return "GN";
      case 43: return "initials";
      case 44: return "generationQualifier";
      case 46: return "dnQualifier";
      case 65: return "pseudonym";
      case 97: return "organizationIdentifier";
      default: return null;
    }
  }
  // 1.2.840.113549.1.9.1 emailAddress; 0.9.2342.19200300.100.1.25 DC; …100.1.1 UID
  if (length == 9 && der[at] == 0x2a && der[at + 1] == 0x86 && der[at + 2] == 0x48 && der[at + 3] == 0x86 && der[at + 4] == 0xf7 &&
      der[at + 5] == 0x0d && der[at + 6] == 0x01 && der[at + 7] == 0x09 && der[at + 8] == 0x01) {
    return "emailAddress";
  }
  if (length == 10 && der[at] == 0x09 && der[at + 1] == 0x92 && der[at + 2] == 0x26 && der[at + 3] == 0x89 && der[at + 4] == 0x93 &&
      der[at + 5] == 0xf2 && der[at + 6] == 0x2c && der[at + 7] == 0x64 && der[at + 8] == 0x01) {
    if (der[at + 9] == 0x19) return "DC";
    if (der[at + 9] == 0x01) return "UID";
  }
  return null;
}

function dottedOid(der: Uint8Array, oid: Tlv): string {
  let parts = new Array<string>();
  let value: u64 = 0;
  for (let i = oid.start; i < oid.end; i++) {
    value = (value << 7) | <u64>(der[i] & 0x7f);
    if ((der[i] & 0x80) == 0) {
      if (parts.length == 0) {
        let first: u64 = value < 80 ? value / 40 : 2;
        parts.push(first.toString());
        parts.push((value - first * 40).toString());
      } else {
        parts.push(value.toString());
      }
      value = 0;
    }
  }
  return parts.join(".");
}

// The value's text as UTF-8 bytes, for the string types OpenSSL prints; null for other types.
function valueBytes(der: Uint8Array, value: Tlv): Uint8Array | null {
  let tag = value.tag;
  let bytes = der.subarray(value.start, value.end);
  if (tag == 0x0c || tag == 0x13 || tag == 0x16 || tag == 0x1a) return bytes; // UTF8, Printable, IA5, Visible
  let units = new Array<i32>();
  if (tag == 0x14) {
    for (let i = 0; i < bytes.length; i++) units.push(<i32>bytes[i]); // T61: Latin-1, as OpenSSL reads it
  } else if (tag == 0x1e && (bytes.length & 1) == 0) {
    for (let i = 0; i < bytes.length; i += 2) units.push((<i32>bytes[i] << 8) | <i32>bytes[i + 1]); // BMP
  } else if (tag == 0x1c && (bytes.length & 3) == 0) {
    for (let i = 0; i < bytes.length; i += 4) units.push((<i32>bytes[i] << 24) | (<i32>bytes[i + 1] << 16) | (<i32>bytes[i + 2] << 8) | <i32>bytes[i + 3]);
  } else {
    return null;
  }
  let text = "";
  for (let i = 0; i < units.length; i++) text += String.fromCodePoint(units[i]);
  return Uint8Array.wrap(String.UTF8.encode(text));
}

// ASN1_STRFLGS_RFC2253: `,+"\<>;` escaped, a leading '#' or space and a trailing space escaped,
// control characters and every byte with its high bit set as \XX.
function escapeValue(bytes: Uint8Array): string {
  let out = new Array<string>();
  for (let i = 0; i < bytes.length; i++) {
    let c = <i32>bytes[i];
    if (c >= 0x80 || c < 0x20 || c == 0x7f) {
      out.push("\\" + hexUpper(c, 2));
    } else if (c == 0x2c || c == 0x2b || c == 0x22 || c == 0x5c || c == 0x3c || c == 0x3e || c == 0x3b ||
               (i == 0 && (c == 0x23 || c == 0x20)) || (i == bytes.length - 1 && c == 0x20)) {
      out.push("\\" + String.fromCharCode(c));
    } else {
      out.push(String.fromCharCode(c));
    }
  }
  return out.join("");
}

// A Name as X509_NAME_print_ex(XN_FLAG_RFC2253) prints it: entries from last to first, members of
// one RDN joined by '+'; unknown types and non-string values as #hex of their DER.
function rfc2253(der: Uint8Array, name: Tlv): string | null {
  if (name.tag != 0x30) return null;
  let rdns = new Array<string>();
  let at = name.start;
  while (at < name.end) {
    let rdn = tlv(der, at, name.end);
    if (rdn === null || rdn.tag != 0x31) return null;
    let members = new Array<string>();
    let m = rdn.start;
    while (m < rdn.end) {
      let attribute = tlv(der, m, rdn.end);
      if (attribute === null || attribute.tag != 0x30) return null;
      let oid = tlv(der, attribute.start, attribute.end);
      if (oid === null || oid.tag != 0x06) return null;
      let value = tlv(der, oid.end, attribute.end);
      if (value === null) return null;
      let label = attributeName(der, oid);
      let bytes: Uint8Array | null = label === null ? null : valueBytes(der, value);
      if (label === null || bytes === null) {
        let hex = new Array<string>();
        for (let i = value.headerStart; i < value.end; i++) hex.push(hexLower(der[i], 2));
        members.push((label === null ? dottedOid(der, oid) : label) + "=#" + hex.join(""));
      } else {
        members.push(label + "=" + escapeValue(bytes));
      }
      m = attribute.end;
    }
    members.reverse();
    rdns.push(members.join("+"));
    at = rdn.end;
  }
  rdns.reverse();
  return rdns.join(",");
}

// SHA-256 of the whole DER, to compare with the Hash that vouches for it.
export function derSha256(der: Uint8Array): StaticArray<u8> {
  return sha256(der.dataStart, der.length);
}
