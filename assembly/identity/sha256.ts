// SHA-256 certificate fingerprints: how operators write them in configuration, and how Envoy
// reports them for a connection. Pure: no SDK imports, never throws.
import { hexDigit } from "../text";

// A digest as four 64-bit words (big-endian byte order inside each word does not matter: both
// sides are decoded the same way, and words are only compared for equality and hashed).
export const DIGEST_WORDS: i32 = 4;

// Parses a configured fingerprint: 64 hex digits in either case, or 32 colon-separated pairs
// ("8D:58:…", as `openssl x509 -fingerprint -sha256` prints it). Returns null for anything else.
export function parseFingerprint(text: string): StaticArray<u64> | null {
  let out = new StaticArray<u64>(DIGEST_WORDS);
  if (text.length == 64) {
    return decodeHexInto(text, 1, out) ? out : null;
  }
  if (text.length == 95) {
    for (let i = 2; i < 95; i += 3) {
      if (text.charCodeAt(i) != 0x3a) return null;
    }
    return decodeHexInto(text, 3, out) ? out : null;
  }
  return null;
}

// The same over UTF-8 bytes in memory (a configuration string read in place).
export function parseFingerprintAt(ptr: usize, length: i32): StaticArray<u64> | null {
  let out = new StaticArray<u64>(DIGEST_WORDS);
  if (length == 95) {
    for (let i = 2; i < 95; i += 3) {
      if (load<u8>(ptr + <usize>i) != 0x3a) return null;
    }
  } else if (length != 64) {
    return null;
  }
  let step: usize = length == 64 ? 2 : 3;
  for (let word = 0; word < DIGEST_WORDS; word++) {
    let value: u64 = 0;
    for (let b = 0; b < 8; b++) {
      let at = ptr + <usize>(word * 8 + b) * step;
      let hi = hexDigit(load<u8>(at));
      let lo = hexDigit(load<u8>(at + 1));
      if (hi < 0 || lo < 0) return null;
      value = (value << 8) | <u64>((hi << 4) | lo);
    }
    unchecked((out[word] = value));
  }
  return out;
}

// Decodes 32 bytes written as hex pairs `stride` characters apart.
function decodeHexInto(text: string, stride: i32, out: StaticArray<u64>): bool {
  let step = stride == 1 ? 2 : stride;
  for (let word = 0; word < DIGEST_WORDS; word++) {
    let value: u64 = 0;
    for (let b = 0; b < 8; b++) {
      let at = (word * 8 + b) * step;
      let hi = hexDigit(text.charCodeAt(at));
      let lo = hexDigit(text.charCodeAt(at + 1));
      if (hi < 0 || lo < 0) return false;
      value = (value << 8) | <u64>((hi << 4) | lo);
    }
    unchecked((out[word] = value));
  }
  return true;
}

// Decodes the value of Envoy's `connection.sha256_peer_certificate_digest` (64 hex characters,
// lowercase in practice) into `out` without allocating. False when it is not exactly that.
export function decodeDigest(hex: ArrayBuffer, out: StaticArray<u64>): bool {
  if (hex.byteLength != 64) return false;
  let base = changetype<usize>(hex);
  for (let word = 0; word < DIGEST_WORDS; word++) {
    let value: u64 = 0;
    for (let b = 0; b < 8; b++) {
      let at = base + <usize>((word * 8 + b) * 2);
      let hi = hexDigit(load<u8>(at));
      let lo = hexDigit(load<u8>(at + 1));
      if (hi < 0 || lo < 0) return false;
      value = (value << 8) | <u64>((hi << 4) | lo);
    }
    unchecked((out[word] = value));
  }
  return true;
}

// Lowercase hex without separators, the form Envoy prints (used in messages).
export function digestToHex(digest: StaticArray<u64>): string {
  let parts = new Array<string>(DIGEST_WORDS);
  for (let word = 0; word < DIGEST_WORDS; word++) {
    parts[word] = unchecked(digest[word]).toString(16).padStart(16, "0");
  }
  return parts.join("");
}
