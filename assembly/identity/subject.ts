// The CN of an RFC 2253 subject as Envoy prints it ("CN=client,O=Acme\, Inc.,C=US": most specific
// RDN first, special characters backslash-escaped). The value is unescaped, so an escaped comma
// inside another attribute can never fake a "CN=". Pure.

import { equalsIgnoringAsciiCase } from "../text";

// Returns the first CN attribute's value, or null when there is none or the subject is malformed.
export function commonName(subject: string): string | null {
  let at = 0;
  let n = subject.length;
  while (at < n) {
    // Attribute type up to '='.
    let typeStart = at;
    while (at < n && subject.charCodeAt(at) != 0x3d) {
      let c = subject.charCodeAt(at);
      if (c == 0x2c || c == 0x2b || c == 0x5c) return null;
      at++;
    }
    if (at >= n) return null;
    let type = subject.substring(typeStart, at).trim();
    at++; // '='
    // Value up to an unescaped ',' or '+'.
    let value = "";
    let runStart = at;
    let quoted = false;
    while (at < n) {
      let c = subject.charCodeAt(at);
      if (c == 0x22) {
        quoted = !quoted;
        value += subject.substring(runStart, at);
        at++;
        runStart = at;
        continue;
      }
      if (!quoted && (c == 0x2c || c == 0x2b)) break;
      if (c == 0x5c) {
        value += subject.substring(runStart, at);
        if (at + 1 >= n) return null;
        let hex = hexPair(subject, at + 1);
        if (hex >= 0) {
          // \XX: one UTF-8 byte; collect consecutive pairs and decode them together.
          let bytes = new Array<u8>();
          while (at < n && subject.charCodeAt(at) == 0x5c && hexPair(subject, at + 1) >= 0) {
            bytes.push(<u8>hexPair(subject, at + 1));
            at += 3;
          }
          let buffer = new Uint8Array(bytes.length);
          for (let i = 0; i < bytes.length; i++) buffer[i] = bytes[i];
          value += String.UTF8.decode(buffer.buffer);
        } else {
          value += subject.charAt(at + 1);
          at += 2;
        }
        runStart = at;
        continue;
      }
      at++;
    }
    if (quoted) return null;
    value += subject.substring(runStart, at);
    if (equalsIgnoringAsciiCase(type, "CN") || type == "2.5.4.3") return value;
    if (at < n) at++; // ',' or '+'
  }
  return null;
}

function hexPair(text: string, at: i32): i32 {
  if (at + 1 >= text.length) return -1;
  let hi = hexValue(text.charCodeAt(at));
  let lo = hexValue(text.charCodeAt(at + 1));
  return hi < 0 || lo < 0 ? -1 : (hi << 4) | lo;
}

function hexValue(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}
