// SHA-256 certificate fingerprints: how operators write them in configuration, and how Envoy
// reports them for a connection. Pure: no SDK imports, never throws.
import { Char } from "../chars";
import { hexDigit } from "../text";

// A digest as four 64-bit words holding its 32 bytes in order, little-endian (wasm's own order: a
// digest's memory is its bytes), compared a word at a time.
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
  if (step == 2) return decodeHex64(ptr, out, false);
  let table = changetype<usize>(HEX_VALUES);
  for (let word = 0; word < DIGEST_WORDS; word++) {
    let value: u64 = 0;
    let seen: u32 = 0;
    for (let b = 0; b < 8; b++) {
      let at = ptr + <usize>(word * 8 + b) * step;
      let hi = <u32>load<u8>(table + <usize>load<u8>(at));
      let lo = <u32>load<u8>(table + <usize>load<u8>(at + 1));
      seen |= hi | lo;
      value |= <u64>((hi << 4) | lo) << (<u64>b << 3);
    }
    if (seen & NOT_HEX) return false;
    unchecked((out[word] = value));
  }
  return true;
}

// Eight bytes at a time (each digest is decoded once per request): every lane's high bit, and one
// in every lane.
const HIGH: u64 = 0x8080808080808080;
const ONES: u64 = 0x0101010101010101;

// For each lane below 0x80: its high bit set when the lane is at least `m`.
@inline function atLeast(lanes: u64, m: u64): u64 {
  return ((lanes | HIGH) - ONES * m) & HIGH;
}

// Eight hex digits (either case) at `ptr` as four bytes, the first digit's byte lowest; -1 when
// any is not a hex digit. A digit's value is its low nibble, a letter's (bit 6 set) its low nibble
// plus 9; the lane is a hex digit exactly when that value is below 16 and spells the lane back.
// With `lowercase`, only as Envoy writes digests.
@inline function hexWord(ptr: usize, lowercase: bool): i64 {
  let x = load<u64>(ptr);
  if (x & HIGH) return -1;
  let letters = (x >> 6) & ONES;
  let nibbles = (x & (ONES * 0x0f)) + letters * 9;
  if (atLeast(nibbles, 16)) return -1;
  let spelled = nibbles + ONES * 0x30 + (atLeast(nibbles, 10) >> 7) * 0x27;
  if (spelled != (lowercase ? x : x | (letters << 5))) return -1;
  // Pairs of lanes into bytes (first digit high), then the four bytes side by side.
  let pairs = ((nibbles & 0x000f000f000f000f) << 4) | ((nibbles >> 8) & 0x000f000f000f000f);
  pairs = (pairs | (pairs >> 8)) & 0x0000ffff0000ffff;
  return <i64>((pairs | (pairs >> 16)) & 0xffffffff);
}

// A digest as Envoy writes it: 64 lowercase hex digits, compared as they are (decoding and checking
// them costs more than a lookup): `hexChunk` spells four of a digest's bytes as the eight digits
// Envoy writes for them, one per lane.
export const HEX_DIGITS: i32 = 64;

@inline export function hexChunk(fourBytes: u64): u64 {
  let x = (fourBytes | (fourBytes << 16)) & 0x0000ffff0000ffff;
  x = (x | (x << 8)) & 0x00ff00ff00ff00ff;
  let nibbles = ((x >> 4) & 0x000f000f000f000f) | ((x & 0x000f000f000f000f) << 8);
  return nibbles + ONES * 0x30 + (atLeast(nibbles, 10) >> 7) * 0x27;
}


// The k-th (0..7) chunk of a digest's lowercase spelling.
@inline export function digestChunk(words: StaticArray<u64>, k: i32): u64 {
  let word = unchecked(words[k >> 1]);
  return hexChunk(k & 1 ? word >> 32 : word & 0xffffffff);
}

// 64 hex digits into four words.
@inline function decodeHex64(ptr: usize, out: StaticArray<u64>, lowercase: bool): bool {
  for (let word = 0; word < DIGEST_WORDS; word++) {
    let low = hexWord(ptr + <usize>(word << 4), lowercase);
    let high = hexWord(ptr + <usize>(word << 4) + 8, lowercase);
    if ((low | high) < 0) return false;
    unchecked((out[word] = <u64>low | (<u64>high << 32)));
  }
  return true;
}

// A configured fingerprint in UTF-8 bytes: 64 hex digits in either case, or 32 colon-separated
// pairs ("8D:58:…", as `openssl x509 -fingerprint -sha256` prints it), decoded into `out`. False for
// anything else.
export function parseFingerprintInto(ptr: usize, length: i32, out: StaticArray<u64>): bool {
  if (length == 95) {
    for (let i = 2; i < 95; i += 3) {
      if (load<u8>(ptr + <usize>i) != Char.Colon) return false;
    }
  } else if (length != 64) {
    return false;
  }
  return decodeHexPairs(ptr, length == 64 ? 2 : 3, out);
}

// The same, and the fingerprint's spelling as Envoy writes digests (64 lowercase hex digits, eight
// chunks) into `spelled`: what a digest index keeps. A fingerprint written as Envoy writes it, in
// either case, is checked, lowered and decoded in one pass.
export function parseFingerprintSpelled(ptr: usize, length: i32, out: StaticArray<u64>, spelled: usize): bool {
  if (length != 64) {
    if (!parseFingerprintInto(ptr, length, out)) return false;
    for (let k = 0; k < 8; k++) store<u64>(spelled + (<usize>k << 3), digestChunk(out, k));
    return true;
  }
  for (let word = 0; word < DIGEST_WORDS; word++) {
    let at = ptr + (<usize>word << 4);
    let low = hexWord(at, false);
    let high = hexWord(at + 8, false);
    if ((low | high) < 0) return false;
    unchecked((out[word] = <u64>low | (<u64>high << 32)));
    store<u64>(spelled + (<usize>word << 4), lowerHex(load<u64>(at)));
    store<u64>(spelled + (<usize>word << 4) + 8, lowerHex(load<u64>(at + 8)));
  }
  return true;
}

// Eight hex digits in lower case (letters have bit 6 set: bit 5 is their case).
@inline function lowerHex(x: u64): u64 {
  return x | (((x >> 6) & ONES) << 5);
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

// Decodes a digest as Envoy writes it — `connection.sha256_peer_certificate_digest`, an XFCC Hash:
// 64 lowercase hex digits —, `length` bytes at `ptr`, into `out` without allocating. False when it
// is not exactly that.
export function decodeDigestAt(ptr: usize, length: i32, out: StaticArray<u64>): bool {
  return length == 64 && decodeHex64(ptr, out, true);
}

export function decodeDigest(hex: ArrayBuffer, out: StaticArray<u64>): bool {
  return decodeDigestAt(changetype<usize>(hex), hex.byteLength, out);
}

// Lowercase hex without separators, the form Envoy prints (deny lines, warnings).
export function digestToHex(digest: StaticArray<u64>): string {
  let out = new StaticArray<u16>(DIGEST_WORDS * 16);
  let bytes = changetype<usize>(digest);
  for (let i = 0; i < DIGEST_WORDS * 8; i++) {
    let byte = <u16>load<u8>(bytes + <usize>i);
    unchecked((out[i << 1] = hexChar(byte >> 4)));
    unchecked((out[(i << 1) + 1] = hexChar(byte & 0xf)));
  }
  return String.UTF16.decodeUnsafe(changetype<usize>(out), <usize>(DIGEST_WORDS * 32));
}

@inline function hexChar(nibble: u16): u16 {
  return nibble < 10 ? <u16>Char.Digit0 + nibble : <u16>(Char.LowerA - 10) + nibble;
}
