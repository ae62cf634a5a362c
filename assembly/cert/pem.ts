// From XFCC's Cert= value to DER: URL-decoding, the PEM armour, base64. Pure; null on anything
// malformed, never a trap.
import { Char } from "../chars";
import { hexDigit } from "../text";

// Percent-decodes `length` bytes at `ptr`. A '+' stays a '+': base64 uses it, and whether a proxy
// escaped it or not, it must reach the base64 decoder unchanged.
export function urlDecode(ptr: usize, length: i32): Uint8Array | null {
  let out = new Uint8Array(length);
  let size = 0;
  for (let i = 0; i < length; i++) {
    let c = load<u8>(ptr + <usize>i);
    if (c == Char.Percent) {
      if (i + 2 >= length) return null;
      let hi = hexDigit(load<u8>(ptr + <usize>(i + 1)));
      let lo = hexDigit(load<u8>(ptr + <usize>(i + 2)));
      if (hi < 0 || lo < 0) return null;
      out[size++] = <u8>((hi << 4) | lo);
      i += 2;
    } else {
      out[size++] = c;
    }
  }
  return out.subarray(0, size);
}

function base64Value(c: i32): i32 {
  if (c >= Char.UpperA && c <= Char.UpperZ) return c - Char.UpperA;
  if (c >= Char.LowerA && c <= Char.LowerZ) return c - Char.LowerA + 26;
  if (c >= Char.Digit0 && c <= Char.Digit9) return c - Char.Digit0 + 52;
  if (c == Char.Plus) return 62;
  if (c == Char.Slash) return 63;
  return -1;
}

// Standard base64 (white space ignored, '=' padding optional) into bytes; null when malformed.
export function base64Decode(bytes: Uint8Array): Uint8Array | null {
  let out = new Uint8Array((bytes.length * 3) >> 2);
  let size = 0;
  let bits: u32 = 0;
  let count = 0;
  let padding = 0;
  for (let i = 0; i < bytes.length; i++) {
    let c = <i32>bytes[i];
    if (c == Char.Space || c == Char.LineFeed || c == Char.CarriageReturn || c == Char.Tab) continue;
    if (c == Char.Equals) {
      padding++;
      continue;
    }
    if (padding > 0) return null;
    let value = base64Value(c);
    if (value < 0) return null;
    bits = (bits << 6) | <u32>value;
    count++;
    if (count == 4) {
      out[size++] = <u8>(bits >> 16);
      out[size++] = <u8>(bits >> 8);
      out[size++] = <u8>bits;
      bits = 0;
      count = 0;
    }
  }
  if (count == 1 || padding > 2) return null;
  if (count == 2) out[size++] = <u8>(bits >> 4);
  if (count == 3) {
    out[size++] = <u8>(bits >> 10);
    out[size++] = <u8>(bits >> 2);
  }
  return out.subarray(0, size);
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

export function base64Encode(bytes: StaticArray<u8>): string {
  let parts = new Array<string>();
  for (let i = 0; i < bytes.length; i += 3) {
    let n = (<u32>bytes[i] << 16) | (i + 1 < bytes.length ? <u32>bytes[i + 1] << 8 : 0) | (i + 2 < bytes.length ? <u32>bytes[i + 2] : 0);
    parts.push(ALPHABET.charAt((n >> 18) & 63));
    parts.push(ALPHABET.charAt((n >> 12) & 63));
    parts.push(i + 1 < bytes.length ? ALPHABET.charAt((n >> 6) & 63) : "=");
    parts.push(i + 2 < bytes.length ? ALPHABET.charAt(n & 63) : "=");
  }
  return parts.join("");
}

const BEGIN = String.UTF8.encode("-----BEGIN CERTIFICATE-----");
const END = String.UTF8.encode("-----END CERTIFICATE-----");

// Where `marker` first appears in `bytes` from `from`, or -1.
function find(bytes: Uint8Array, marker: ArrayBuffer, from: i32): i32 {
  let length = marker.byteLength;
  for (let i = from; i + length <= bytes.length; i++) {
    if (memory.compare(bytes.dataStart + <usize>i, changetype<usize>(marker), <usize>length) == 0) return i;
  }
  return -1;
}

// The DER of the first certificate in URL-encoded PEM (XFCC's Cert=, Envoy's peer_certificate),
// `length` bytes at `ptr`.
export function pemToDer(ptr: usize, length: i32): Uint8Array | null {
  let pem = urlDecode(ptr, length);
  if (pem === null) return null;
  let begin = find(pem, BEGIN, 0);
  if (begin < 0) return null;
  let body = begin + BEGIN.byteLength;
  let end = find(pem, END, body);
  if (end < 0) return null;
  return base64Decode(pem.subarray(body, end));
}
