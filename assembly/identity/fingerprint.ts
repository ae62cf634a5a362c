// SHA-256 certificate fingerprints: how operators write them in configuration, and how Envoy
// reports them for a connection. Pure: no SDK imports, never throws.
import { hexDigit } from "../text";

// A digest as four 64-bit words (big-endian byte order inside each word does not matter: both
// sides are decoded the same way, and words are only compared for equality and hashed).
export const DIGEST_WORDS: i32 = 4;

// Every byte's value as a hex digit, or NOT_HEX: a million fingerprints are decoded at configure
// time, two table loads per byte and one check per word.
const NOT_HEX: u32 = 0x10;
const HEX_VALUES: StaticArray<u8> = hexValues();

function hexValues(): StaticArray<u8> {
  let table = new StaticArray<u8>(256);
  for (let c = 0; c < 256; c++) {
    let digit = hexDigit(c);
    unchecked((table[c] = <u8>(digit < 0 ? NOT_HEX : digit)));
  }
  return table;
}

// Decodes 32 bytes written as hex pairs `step` bytes apart, starting at `ptr`, into `out`.
function decodeHexPairs(ptr: usize, step: usize, out: StaticArray<u64>): bool {
  let table = changetype<usize>(HEX_VALUES);
  for (let word = 0; word < DIGEST_WORDS; word++) {
    let value: u64 = 0;
    let seen: u32 = 0;
    for (let b = 0; b < 8; b++) {
      let at = ptr + <usize>(word * 8 + b) * step;
      let hi = <u32>load<u8>(table + <usize>load<u8>(at));
      let lo = <u32>load<u8>(table + <usize>load<u8>(at + 1));
      seen |= hi | lo;
      value = (value << 8) | <u64>((hi << 4) | lo);
    }
    if (seen & NOT_HEX) return false;
    unchecked((out[word] = value));
  }
  return true;
}

// A configured fingerprint in UTF-8 bytes: 64 hex digits in either case, or 32 colon-separated
// pairs ("8D:58:…", as `openssl x509 -fingerprint -sha256` prints it), decoded into `out`. False for
// anything else.
export function parseFingerprintInto(ptr: usize, length: i32, out: StaticArray<u64>): bool {
  if (length == 95) {
    for (let i = 2; i < 95; i += 3) {
      if (load<u8>(ptr + <usize>i) != 0x3a) return false;
    }
  } else if (length != 64) {
    return false;
  }
  return decodeHexPairs(ptr, length == 64 ? 2 : 3, out);
}

export function parseFingerprintAt(ptr: usize, length: i32): StaticArray<u64> | null {
  let out = new StaticArray<u64>(DIGEST_WORDS);
  return parseFingerprintInto(ptr, length, out) ? out : null;
}

// The same for a string (an XFCC Hash, a self-test's sha256).
export function parseFingerprint(text: string): StaticArray<u64> | null {
  let bytes = String.UTF8.encode(text);
  return parseFingerprintAt(changetype<usize>(bytes), bytes.byteLength);
}

// Decodes the value of Envoy's `connection.sha256_peer_certificate_digest` (64 hex characters,
// lowercase in practice) into `out` without allocating. False when it is not exactly that.
export function decodeDigest(hex: ArrayBuffer, out: StaticArray<u64>): bool {
  return hex.byteLength == 64 && decodeHexPairs(changetype<usize>(hex), 2, out);
}

// Lowercase hex without separators, the form Envoy prints (deny lines, warnings). Each word's most
// significant nibble first: the words hold the digest's bytes big-endian.
export function digestToHex(digest: StaticArray<u64>): string {
  let out = new StaticArray<u16>(DIGEST_WORDS * 16);
  for (let word = 0; word < DIGEST_WORDS; word++) {
    let value = unchecked(digest[word]);
    for (let i = 15; i >= 0; i--) {
      let nibble = <u16>(value & 0xf);
      unchecked((out[word * 16 + i] = nibble < 10 ? 0x30 + nibble : 0x57 + nibble));
      value >>= 4;
    }
  }
  return String.UTF16.decodeUnsafe(changetype<usize>(out), <usize>(DIGEST_WORDS * 32));
}
