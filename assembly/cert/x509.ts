// A bounds-checked DER reader for the parts of an X.509 certificate the rules use: serial, issuer
// and subject (printed as Envoy prints them), validity, the subject public key info (for SPKI pins)
// and every subject alternative name. Pure; null on any malformed input; every conversion is total
// (a value that is no valid string of its type is refused, never converted), so no certificate can
// trap the VM.
//
// The CLI's TypeScript reader (host/certificate.ts) is this file's twin on purpose: the CLI runs where
// no filter runs, and each is held to Envoy's own output by tests — never to each other.
import { sha256 } from "./sha256";
import { base64Encode } from "./pem";
import { Char, isControl } from "../chars";
import { hexUpper, isUtf8 } from "../text";
import { PDA, PILOT, PKCS9, X520 } from "./attribute-names";
import { daysFromCivil } from "../rfc3339";

// The DER tags the reader looks at: universal types, and the context-specific tags of the
// certificate's version and extensions fields and of the GeneralName choices (RFC 5280).
const enum Tag {
  Boolean = 0x01,
  Integer = 0x02,
  OctetString = 0x04,
  Oid = 0x06,
  Utf8String = 0x0c,
  NumericString = 0x12,
  PrintableString = 0x13,
  T61String = 0x14,
  Ia5String = 0x16,
  UtcTime = 0x17,
  GeneralizedTime = 0x18,
  VisibleString = 0x1a,
  UniversalString = 0x1c,
  BmpString = 0x1e,
  Sequence = 0x30,
  Set = 0x31,
  EmailSan = 0x81,
  DnsSan = 0x82,
  UriSan = 0x86,
  IpSan = 0x87,
  Version = 0xa0,
  Extensions = 0xa3,
}

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
  // As Envoy prints them; null when this reader cannot print them exactly as Envoy does.
  issuer: string | null = null;
  subject: string | null = null;
  notBeforeMs: i64 = 0;
  notAfterMs: i64 = 0;
  // SHA-256 of the DER SubjectPublicKeyInfo, base64: Istio's verifyCertificateSpki form.
  spki: string = "";
  uriSans: string[] = [];
  dnsSans: string[] = [];
  emailSans: string[] = [];
  // Raw addresses: 4 bytes for IPv4, 16 for IPv6.
  ipSans: Uint8Array[] = [];
  // The subject and the URI and DNS SANs as UTF-8, as XFCC carries them, to compare with its bytes.
  subjectUtf8: ArrayBuffer | null = null;
  uriSansUtf8: ArrayBuffer[] = [];
  dnsSansUtf8: ArrayBuffer[] = [];
}

function utf8(values: string[]): ArrayBuffer[] {
  return values.map<ArrayBuffer>((value: string) => String.UTF8.encode(value));
}

const SAN_OID: StaticArray<u8> = [0x55, 0x1d, 0x11];

function isSanOid(der: Uint8Array, oid: Tlv): bool {
  if (oid.tag != Tag.Oid || oid.end - oid.start != 3) return false;
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
  if (names === null || names.tag != Tag.Sequence) return false;
  let at = names.start;
  while (at < names.end) {
    let name = tlv(der, at, names.end);
    if (name === null) return false;
    if (name.tag == Tag.UriSan) facts.uriSans.push(text(der, name));
    else if (name.tag == Tag.DnsSan) facts.dnsSans.push(text(der, name));
    else if (name.tag == Tag.EmailSan) facts.emailSans.push(text(der, name));
    else if (name.tag == Tag.IpSan && (name.end - name.start == 4 || name.end - name.start == 16)) facts.ipSans.push(der.slice(name.start, name.end));
    at = name.end;
  }
  return true;
}

export function readCertificate(der: Uint8Array): CertificateFacts | null {
  let certificate = tlv(der, 0, der.length);
  if (certificate === null || certificate.tag != Tag.Sequence) return null;
  let tbs = tlv(der, certificate.start, certificate.end);
  if (tbs === null || tbs.tag != Tag.Sequence) return null;
  // version [0]?, serial, signature, issuer, validity, subject, subjectPublicKeyInfo, …, [3] extensions
  let fields = new Array<Tlv>();
  let at = tbs.start;
  while (at < tbs.end) {
    let field = tlv(der, at, tbs.end);
    if (field === null) return null;
    fields.push(field);
    at = field.end;
  }
  let first = fields.length > 0 && fields[0].tag == Tag.Version ? 1 : 0;
  if (fields.length < first + 6) return null;
  let spki = fields[first + 5];
  if (spki.tag != Tag.Sequence) return null;
  let facts = new CertificateFacts();
  let serial = fields[first];
  if (serial.tag != Tag.Integer || serial.end == serial.start) return null;
  let serialStart = serial.start;
  if (der[serialStart] == 0 && serial.end - serialStart > 1) serialStart++;
  let digits = new Array<string>();
  for (let i = serialStart; i < serial.end; i++) digits.push(hexUpper(der[i], 2));
  facts.serial = digits.join("");
  let issuer = rfc2253(der, fields[first + 2]);
  let subject = rfc2253(der, fields[first + 4]);
  if (issuer.invalid || subject.invalid) return null;
  facts.issuer = issuer.text;
  facts.subject = subject.text;
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
    if (fields[i].tag != Tag.Extensions) continue;
    let extensions = tlv(der, fields[i].start, fields[i].end);
    if (extensions === null || extensions.tag != Tag.Sequence) return null;
    let e = extensions.start;
    while (e < extensions.end) {
      let extension = tlv(der, e, extensions.end);
      if (extension === null || extension.tag != Tag.Sequence) return null;
      let oid = tlv(der, extension.start, extension.end);
      if (oid === null) return null;
      if (isSanOid(der, oid)) {
        let next = tlv(der, oid.end, extension.end);
        if (next !== null && next.tag == Tag.Boolean) next = tlv(der, next.end, extension.end);
        if (next === null || next.tag != Tag.OctetString || !readSans(der, next, facts)) return null;
      }
      e = extension.end;
    }
  }
  let printed = facts.subject;
  if (printed !== null) facts.subjectUtf8 = String.UTF8.encode(printed);
  facts.uriSansUtf8 = utf8(facts.uriSans);
  facts.dnsSansUtf8 = utf8(facts.dnsSans);
  return facts;
}

// UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) as milliseconds; MIN_VALUE if neither.
function time(der: Uint8Array, item: Tlv): i64 {
  let length = item.end - item.start;
  let at = item.start;
  let year = 0;
  if (item.tag == Tag.UtcTime && length == 13) {
    year = digitsAt(der, at, 2);
    year += year >= 50 ? 1900 : 2000;
    at += 2;
  } else if (item.tag == Tag.GeneralizedTime && length == 15) {
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
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60 || der[item.end - 1] != Char.UpperZ) {
    return i64.MIN_VALUE;
  }
  return ((daysFromCivil(year, month, day) * 24 + <i64>hour) * 60 + <i64>minute) * 60000 + <i64>second * 1000;
}

function digitsAt(der: Uint8Array, at: i32, count: i32): i32 {
  let value = 0;
  for (let i = 0; i < count; i++) {
    let c = <i32>der[at + i] - Char.Digit0;
    if (c < 0 || c > 9) return -1;
    value = value * 10 + c;
  }
  return value;
}

// How BoringSSL (Envoy's TLS library) prints a Name — X509_NAME_print_ex with XN_FLAG_RFC2253, what
// Envoy's subject and XFCC's Subject are — reproduced byte for byte, or not at all: for a name this
// reader cannot print exactly, the text is null (unknown), never a guess. The attribute types BoringSSL
// names were read off Envoy itself (tests/attacks/crafted-certificate.test.ts holds the table to it);
// a type BoringSSL does not know is printed as its dotted number with the value as #hex of its DER.

// The arcs whose members BoringSSL names as the tables say; the last number is one byte below 128.
const ARC_X520: StaticArray<u8> = [0x55, 0x04];
const ARC_PKCS9: StaticArray<u8> = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09];
const ARC_PILOT: StaticArray<u8> = [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01];
const ARC_PDA: StaticArray<u8> = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x09];
// 1.3.6.1.4.1.311.60.2.1 (EV jurisdiction): BoringSSL names none of them.
const ARC_JURISDICTION: StaticArray<u8> = [0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 0x02, 0x01];

function inArc(der: Uint8Array, oid: Tlv, arc: StaticArray<u8>): i32 {
  let length = oid.end - oid.start;
  if (length != arc.length + 1) return -1;
  for (let i = 0; i < arc.length; i++) {
    if (der[oid.start + i] != arc[i]) return -1;
  }
  let last = <i32>der[oid.end - 1];
  return last < 0x80 ? last : -1;
}

const UNKNOWN_TYPE = "";

// The attribute type's name as BoringSSL prints it; UNKNOWN_TYPE for a type BoringSSL does not name
// (printed as its dotted number); null for one this reader cannot tell.
function attributeName(der: Uint8Array, oid: Tlv): string | null {
  let tables = [X520, PKCS9, PILOT, PDA];
  let arcs = [ARC_X520, ARC_PKCS9, ARC_PILOT, ARC_PDA];
  for (let t = 0; t < arcs.length; t++) {
    let last = inArc(der, oid, arcs[t]);
    if (last < 0) continue;
    let table = tables[t];
    return last < table.length ? table[last] : UNKNOWN_TYPE;
  }
  if (inArc(der, oid, ARC_JURISDICTION) >= 1 && inArc(der, oid, ARC_JURISDICTION) <= 3) return UNKNOWN_TYPE;
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

// How BoringSSL reads each string type's bytes as characters.
const enum StringKind {
  Utf8,
  // "MBSTRING_ASC", which is Latin-1: Numeric, Printable, T61, IA5, Visible strings and the times.
  Latin1,
  Bmp,
  Universal,
  // Printed as #hex of the DER.
  Other,
}

function stringKind(tag: i32): StringKind {
  switch (tag) {
    case Tag.Utf8String: return StringKind.Utf8;
    case Tag.NumericString: case Tag.PrintableString: case Tag.T61String: case Tag.Ia5String: case Tag.UtcTime: case Tag.GeneralizedTime: case Tag.VisibleString: return StringKind.Latin1;
    case Tag.BmpString: return StringKind.Bmp;
    case Tag.UniversalString: return StringKind.Universal;
    default: return StringKind.Other;
  }
}

function pushUtf8(out: u8[], c: u32): void {
  if (c < 0x80) {
    out.push(<u8>c);
  } else if (c < 0x800) {
    out.push(<u8>(0xc0 | (c >> 6)));
    out.push(<u8>(0x80 | (c & 0x3f)));
  } else if (c < 0x10000) {
    out.push(<u8>(0xe0 | (c >> 12)));
    out.push(<u8>(0x80 | ((c >> 6) & 0x3f)));
    out.push(<u8>(0x80 | (c & 0x3f)));
  } else {
    out.push(<u8>(0xf0 | (c >> 18)));
    out.push(<u8>(0x80 | ((c >> 12) & 0x3f)));
    out.push(<u8>(0x80 | ((c >> 6) & 0x3f)));
    out.push(<u8>(0x80 | (c & 0x3f)));
  }
}

// The value's characters as UTF-8; null when the bytes are not a string of their type (BoringSSL
// refuses such a certificate in the handshake; only a forged XFCC Cert= can carry one).
function valueUtf8(der: Uint8Array, value: Tlv, kind: StringKind): u8[] | null {
  let out = new Array<u8>();
  let start = value.start;
  let length = value.end - start;
  if (kind == StringKind.Utf8) {
    if (!isUtf8(der.dataStart + <usize>start, length)) return null;
    for (let i = 0; i < length; i++) out.push(der[start + i]);
    return out;
  }
  if (kind == StringKind.Latin1) {
    for (let i = 0; i < length; i++) pushUtf8(out, <u32>der[start + i]);
    return out;
  }
  let width = kind == StringKind.Bmp ? 2 : 4;
  if (length % width != 0) return null;
  for (let i = 0; i < length; i += width) {
    let c: u32 = 0;
    for (let b = 0; b < width; b++) c = (c << 8) | <u32>der[start + i + b];
    if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return null;
    pushUtf8(out, c);
  }
  return out;
}

// ASN1_STRFLGS_RFC2253 over the UTF-8 of the characters: `,+"\<>;` escaped, a leading '#' or space
// and a trailing space escaped, control characters and every byte with its high bit set as \XX.
function escapeValue(bytes: u8[]): string {
  let out = new Array<string>();
  for (let i = 0; i < bytes.length; i++) {
    let c = <i32>bytes[i];
    if (c >= 0x80 || isControl(c)) {
      out.push("\\" + hexUpper(c, 2));
    } else if (c == Char.Comma || c == Char.Plus || c == Char.Quote || c == Char.Backslash || c == Char.Less || c == Char.Greater || c == Char.Semicolon ||
               (i == 0 && (c == Char.Hash || c == Char.Space)) || (i == bytes.length - 1 && c == Char.Space)) {
      out.push("\\" + String.fromCharCode(c));
    } else {
      out.push(String.fromCharCode(c));
    }
  }
  return out.join("");
}

function dump(der: Uint8Array, value: Tlv): string {
  let hex = new Array<string>();
  for (let i = value.headerStart; i < value.end; i++) hex.push(hexUpper(der[i], 2));
  return "#" + hex.join("");
}

// A name as BoringSSL prints it, or why not.
class PrintedName {
  // null when this reader cannot print it exactly.
  text: string | null = null;
  // A value is no valid string of its type, or the DER is malformed: BoringSSL refuses such a
  // certificate outright, so this reader refuses it too.
  invalid: bool = false;
}

// A Name as BoringSSL prints it: entries from last to first (members of a multi-valued RDN too, so
// joined by '+' in reverse).
function rfc2253(der: Uint8Array, name: Tlv): PrintedName {
  let printed = new PrintedName();
  let text = printName(der, name, printed);
  printed.text = printed.invalid ? null : text;
  return printed;
}

// The name's text; null when it cannot be printed exactly, with `printed.invalid` set when it is
// no name BoringSSL reads.
function printName(der: Uint8Array, name: Tlv, printed: PrintedName): string | null {
  if (name.tag != Tag.Sequence) {
    printed.invalid = true;
    return null;
  }
  let unknown = false;
  let rdns = new Array<string>();
  let at = name.start;
  while (at < name.end) {
    let rdn = tlv(der, at, name.end);
    let members = new Array<string>();
    let m = rdn === null ? 0 : rdn.start;
    if (rdn === null || rdn.tag != Tag.Set) {
      printed.invalid = true;
      return null;
    }
    while (m < rdn.end) {
      let attribute = tlv(der, m, rdn.end);
      let oid: Tlv | null = null;
      let value: Tlv | null = null;
      if (attribute !== null && attribute.tag == Tag.Sequence) oid = tlv(der, attribute.start, attribute.end);
      if (attribute !== null && oid !== null && oid.tag == Tag.Oid) value = tlv(der, oid.end, attribute.end);
      if (attribute === null || oid === null || value === null) {
        printed.invalid = true;
        return null;
      }
      let label = attributeName(der, oid);
      let kind = stringKind(value.tag);
      let bytes: u8[] | null = null;
      if (kind != StringKind.Other) {
        bytes = valueUtf8(der, value, kind);
        if (bytes === null) {
          printed.invalid = true;
          return null;
        }
      }
      if (label === null) {
        unknown = true;
      } else if (label == UNKNOWN_TYPE || bytes === null) {
        members.push((label == UNKNOWN_TYPE ? dottedOid(der, oid) : label) + "=" + dump(der, value));
      } else {
        members.push(label + "=" + escapeValue(bytes));
      }
      m = attribute.end;
    }
    members.reverse();
    rdns.push(members.join("+"));
    at = rdn.end;
  }
  if (unknown) return null;
  rdns.reverse();
  return rdns.join(",");
}

// SHA-256 of the whole DER, to compare with the Hash that vouches for it.
export function derSha256(der: Uint8Array): StaticArray<u8> {
  return sha256(der.dataStart, der.length);
}
