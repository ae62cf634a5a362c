// Small text helpers shared by the pure modules. ASCII-only on purpose: hosts, header names, DNS
// names and XFCC keys are ASCII, and Unicode case tables would double the module's size.

import { Char } from "./chars";
export function hexDigit(c: i32): i32 {
  let digit = c - Char.Digit0;
  if (<u32>digit <= 9) return digit;
  let letter = (c | 0x20) - Char.LowerA;
  return <u32>letter <= 5 ? letter + 10 : -1;
}

const HEX_UPPER = "0123456789ABCDEF";
const HEX_LOWER = "0123456789abcdef";

function hex(value: i32, width: i32, digits: string): string {
  let out = "";
  for (let shift = (width - 1) * 4; shift >= 0; shift -= 4) out += digits.charAt((value >> shift) & 0xf);
  return out;
}

// `value` as `width` uppercase hex digits.
export function hexUpper(value: i32, width: i32): string {
  return hex(value, width, HEX_UPPER);
}

// `value` as `width` lowercase hex digits.
export function hexLower(value: i32, width: i32): string {
  return hex(value, width, HEX_LOWER);
}

// Lower-cases A–Z only; every other character is kept.
export function asciiLower(text: string): string {
  let i = 0;
  let n = text.length;
  while (i < n) {
    let c = text.charCodeAt(i);
    if (c >= Char.UpperA && c <= Char.UpperZ) break;
    i++;
  }
  if (i == n) return text;
  let out = new Array<string>(0);
  out.push(text.substring(0, i));
  for (; i < n; i++) {
    let c = text.charCodeAt(i);
    out.push(String.fromCharCode(c >= Char.UpperA && c <= Char.UpperZ ? c + 0x20 : c));
  }
  return out.join("");
}

// Whether two strings are equal ignoring ASCII case.
export function equalsIgnoringAsciiCase(a: string, b: string): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x >= Char.UpperA && x <= Char.UpperZ) x += 0x20;
    if (y >= Char.UpperA && y <= Char.UpperZ) y += 0x20;
    if (x != y) return false;
  }
  return true;
}

// An IPv4 (dotted) or IPv6 (with :: compression) address as its 4 or 16 bytes; null otherwise.
export function parseIpAddress(text: string): Uint8Array | null {
  if (text.includes(":")) return parseIpv6(text);
  let parts = text.split(".");
  if (parts.length != 4) return null;
  let out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    let part = parts[i];
    if (part.length == 0 || part.length > 3) return null;
    let value = 0;
    for (let j = 0; j < part.length; j++) {
      let c = part.charCodeAt(j);
      if (c < Char.Digit0 || c > Char.Digit9) return null;
      value = value * 10 + (c - Char.Digit0);
    }
    if (value > 255) return null;
    out[i] = <u8>value;
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | null {
  let halves = text.split("::");
  if (halves.length > 2) return null;
  let head = halves[0].length > 0 ? halves[0].split(":") : new Array<string>();
  let tail = halves.length == 2 && halves[1].length > 0 ? halves[1].split(":") : new Array<string>();
  let groups = head.length + tail.length;
  if (halves.length == 1 ? groups != 8 : groups > 7) return null;
  let out = new Uint8Array(16);
  let all = head.concat(new Array<string>(8 - groups).fill("0")).concat(tail);
  for (let i = 0; i < 8; i++) {
    let group = all[i];
    if (group.length == 0 || group.length > 4) return null;
    let value = 0;
    for (let j = 0; j < group.length; j++) {
      let digit = hexDigit(group.charCodeAt(j));
      if (digit < 0) return null;
      value = (value << 4) | digit;
    }
    out[i * 2] = <u8>(value >> 8);
    out[i * 2 + 1] = <u8>value;
  }
  return out;
}

// Whether the bytes are UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates, nothing past
// U+10FFFF. (AssemblyScript's decoder would turn anything else into some other text, not refuse it.)
export function isUtf8(ptr: usize, length: i32): bool {
  let i = 0;
  while (i < length) {
    let c = <u32>load<u8>(ptr + <usize>i);
    if (c < 0x80) {
      i++;
      continue;
    }
    let extra = 0;
    let min: u32 = 0;
    if ((c & 0xe0) == 0xc0) {
      extra = 1;
      min = 0x80;
      c &= 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      min = 0x800;
      c &= 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      min = 0x10000;
      c &= 0x07;
    } else {
      return false;
    }
    if (i + extra >= length) return false;
    for (let k = 1; k <= extra; k++) {
      let next = <u32>load<u8>(ptr + <usize>(i + k));
      if ((next & 0xc0) != 0x80) return false;
      c = (c << 6) | (next & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

// A run of bytes somewhere in memory — a value the host handed over, a range of a header — and its
// text, made once when asked for.
export class Bytes {
  ptr: usize = 0;
  length: i32 = 0;
  private decoded: string | null = null;

  set(ptr: usize, length: i32): Bytes {
    this.ptr = ptr;
    this.length = length;
    this.decoded = null;
    return this;
  }

  text(): string {
    let decoded = this.decoded;
    if (decoded === null) {
      decoded = String.UTF8.decodeUnsafe(this.ptr, <usize>this.length);
      this.decoded = decoded;
    }
    return decoded;
  }

  equals(ptr: usize, length: i32): bool {
    return length == this.length && equalBytes(ptr, this.ptr, length);
  }
}

// Whether `length` bytes at `a` and at `b` are the same: eight at a time, aligned or not (the
// standard compare goes byte by byte unless both are aligned alike, and a certificate in a header
// rarely is).
export function equalBytes(a: usize, b: usize, length: i32): bool {
  let at = 0;
  for (; at + 32 <= length; at += 32) {
    let pa = a + <usize>at;
    let pb = b + <usize>at;
    if ((load<u64>(pa) ^ load<u64>(pb)) | (load<u64>(pa, 8) ^ load<u64>(pb, 8)) | (load<u64>(pa, 16) ^ load<u64>(pb, 16)) | (load<u64>(pa, 24) ^ load<u64>(pb, 24))) return false;
  }
  for (; at + 8 <= length; at += 8) {
    if (load<u64>(a + <usize>at) != load<u64>(b + <usize>at)) return false;
  }
  for (; at < length; at++) {
    if (load<u8>(a + <usize>at) != load<u8>(b + <usize>at)) return false;
  }
  return true;
}

// Whether `length` bytes at `ptr` are the UTF-8 of `bytes`.
@inline export function sameBytes(ptr: usize, length: i32, bytes: ArrayBuffer): bool {
  return length == bytes.byteLength && equalBytes(ptr, changetype<usize>(bytes), length);
}
