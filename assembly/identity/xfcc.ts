// The x-forwarded-client-cert header, read with Envoy's grammar: elements separated by ',', each a
// ';'-separated list of key=value pairs; keys case-insensitive; values optionally double-quoted
// with \" inside. Envoy never quotes By, Hash, URI or DNS, so an unquoted value runs to the next ';'
// or ',' and may contain '=' or spaces. Quoted values keep their backslash escapes verbatim (see
// below). Anything ambiguous is malformed (null), never guessed. Pure.

import { asciiLower } from "../text";
import { parseFingerprint } from "./sha256";

export class XfccElement {
  hash: string = "";
  subject: string = "";
  by: string[] = [];
  uris: string[] = [];
  dnss: string[] = [];
  hasHash: bool = false;
  hasSubject: bool = false;
  hasCert: bool = false;
  // Cert= (a kilobyte or two of URL-encoded PEM) stays where it is in the header's bytes until a
  // rule needs the certificate.
  private certAt: i32 = 0;
  private certEnd: i32 = 0;
  private certQuoted: bool = false;

  private digestDone: bool = false;
  private digestValue: StaticArray<u64> | null = null;

  constructor(private header: ArrayBuffer) {}

  // Hash as a digest, decoded once; null without a Hash or when it is not one.
  get digest(): StaticArray<u64> | null {
    if (!this.digestDone) {
      this.digestDone = true;
      if (this.hasHash) this.digestValue = parseFingerprint(this.hash);
    }
    return this.digestValue;
  }

  get cert(): string {
    return valueText(this.header, this.certAt, this.certEnd, this.certQuoted);
  }

  // Keeps a key's value; false for a second Hash, Subject or Cert in one element.
  store(key: Key, start: i32, end: i32, quoted: bool): bool {
    if (key == Key.Hash) {
      if (this.hasHash) return false;
      this.hash = valueText(this.header, start, end, quoted);
      this.hasHash = true;
    } else if (key == Key.Subject) {
      if (this.hasSubject) return false;
      this.subject = valueText(this.header, start, end, quoted);
      this.hasSubject = true;
    } else if (key == Key.Cert) {
      if (this.hasCert) return false;
      this.certAt = start;
      this.certEnd = end;
      this.certQuoted = quoted;
      this.hasCert = true;
    } else if (key == Key.Uri || key == Key.Dns) {
      let value = valueText(this.header, start, end, quoted);
      if (value.length > 0) (key == Key.Uri ? this.uris : this.dnss).push(value);
    } else if (key == Key.By) {
      this.by.push(valueText(this.header, start, end, quoted));
    }
    // Chain and keys added by later Envoy versions are ignored.
    return true;
  }
}

// The keys this filter reads; Other for the rest, Invalid for what is not a key at all.
export const enum Key {
  Hash,
  Subject,
  Cert,
  Uri,
  Dns,
  By,
  Other,
  Invalid,
}

const KEYS: string[] = ["hash", "subject", "cert", "uri", "dns", "by"];

// A value as text: a quoted one exactly as it stands between the quotes, an unquoted one without
// trailing whitespace.
function valueText(header: ArrayBuffer, start: i32, end: i32, quoted: bool): string {
  let value = String.UTF8.decodeUnsafe(changetype<usize>(header) + <usize>start, <usize>(end - start));
  return quoted ? value : value.trimEnd();
}

function isSpace(c: u32): bool {
  return c == 0x20 || c == 0x09;
}

function isKeyByte(c: u32): bool {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x5f;
}

// A key's bytes: case-insensitive, surrounding whitespace ignored, [a-z0-9_-] once lower-cased.
// Plain ASCII keys are matched in place; anything else goes through the text rules (trim, ASCII
// lower-casing), so the answer is the same either way.
function keyOf(ptr: usize, length: i32): Key {
  let end = length;
  while (end > 0 && isSpace(load<u8>(ptr + <usize>(end - 1)))) end--;
  let plain = end > 0;
  for (let i = 0; plain && i < end; i++) plain = isKeyByte(load<u8>(ptr + <usize>i));
  if (!plain) return keyOfText(asciiLower(String.UTF8.decodeUnsafe(ptr, <usize>length).trim()));
  for (let k = 0; k < KEYS.length; k++) {
    let known = unchecked(KEYS[k]);
    if (known.length != end) continue;
    let same = true;
    for (let i = 0; same && i < end; i++) same = (<u32>load<u8>(ptr + <usize>i) | 0x20) == <u32>known.charCodeAt(i);
    if (same) return <Key>k;
  }
  return Key.Other;
}

function keyOfText(key: string): Key {
  if (key.length == 0) return Key.Invalid;
  for (let i = 0; i < key.length; i++) {
    let c = <u32>key.charCodeAt(i);
    if (!isKeyByte(c) || (c >= 0x41 && c <= 0x5a)) return Key.Invalid;
  }
  let known = KEYS.indexOf(key);
  return known < 0 ? Key.Other : <Key>known;
}

// Parses a whole header value, as the bytes Envoy holds, into its elements, oldest first. Null
// when malformed. Only ASCII bytes delimit, so no byte sequence can hide a separator.
export function parseXfcc(header: ArrayBuffer): XfccElement[] | null {
  let base = changetype<usize>(header);
  let end = header.byteLength;
  let elements = new Array<XfccElement>();
  let element = new XfccElement(header);
  let pairs = 0;
  let at = 0;
  while (true) {
    while (at < end && isSpace(load<u8>(base + <usize>at))) at++;
    let keyStart = at;
    while (at < end) {
      let c = load<u8>(base + <usize>at);
      if (c == 0x3d || c == 0x3b || c == 0x2c || c == 0x22) break;
      at++;
    }
    if (at >= end || load<u8>(base + <usize>at) != 0x3d) return null;
    let key = keyOf(base + <usize>keyStart, at - keyStart);
    if (key == Key.Invalid) return null;
    at++; // '='
    while (at < end && isSpace(load<u8>(base + <usize>at))) at++;
    let quoted = at < end && load<u8>(base + <usize>at) == 0x22;
    let start = quoted ? at + 1 : at;
    let stop = end;
    if (quoted) {
      at = start;
      // A backslash protects the next byte from ending the value and stays in it: Envoy writes
      // Subject as its RFC 2253 string, whose own escapes (\" \, \\) must survive intact so it
      // equals the connection's subject attribute byte for byte.
      while (at < end) {
        let c = load<u8>(base + <usize>at);
        if (c == 0x22) break;
        if (c == 0x5c) {
          if (at + 1 >= end) return null;
          at++;
        }
        at++;
      }
      if (at >= end) return null; // unterminated quote
      stop = at;
      at++;
      while (at < end && isSpace(load<u8>(base + <usize>at))) at++;
      if (at < end) {
        let next = load<u8>(base + <usize>at);
        if (next != 0x3b && next != 0x2c) return null;
      }
    } else {
      // Envoy never quotes By, Hash, URI or DNS: the value runs to the next ';' or ','.
      while (at < end) {
        let c = load<u8>(base + <usize>at);
        if (c == 0x3b || c == 0x2c) break;
        at++;
      }
      stop = at;
    }
    if (!element.store(key, start, stop, quoted)) return null;
    pairs++;
    if (at >= end) break;
    let separator = load<u8>(base + <usize>at);
    at++;
    if (separator == 0x2c) {
      elements.push(element);
      element = new XfccElement(header);
      pairs = 0;
    }
  }
  if (pairs == 0) return null;
  elements.push(element);
  return elements;
}
