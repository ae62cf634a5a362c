// An Envoy header map as the wasm ABI sees it: ordered (key, value) byte pairs, keys lower-cased on
// every mutation and lookup, repeated keys kept as separate entries.
import type { BytePair } from './pairs.js';

export type Header = [string, string];
/** A header as a test or proxy hands it in: the value as text (UTF-8) or as raw bytes. */
export type RawHeader = [string, string | Uint8Array];

// Envoy lower-cases header names ASCII-only (absl::AsciiStrToLower); other bytes stay as they are.
function lower(key: Buffer | string): Buffer {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'latin1') : Buffer.from(key);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b >= 0x41 && b <= 0x5a) bytes[i] = b | 0x20;
  }
  return bytes;
}

// Whether a stored (lower-case) name equals `key` once `key` is ASCII lower-cased.
function sameName(stored: Buffer, key: Buffer | string): boolean {
  if (stored.length !== key.length) return false;
  for (let i = 0; i < stored.length; i++) {
    let b = typeof key === 'string' ? key.charCodeAt(i) & 0xff : key[i];
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (stored[i] !== b) return false;
  }
  return true;
}

export class HeaderMap {
  pairs: BytePair[];

  constructor(pairs: BytePair[] = []) {
    this.pairs = pairs;
  }

  static fromStrings(headers: readonly RawHeader[]): HeaderMap {
    return new HeaderMap(headers.map(([k, v]) => [lower(k), typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v)]));
  }

  toStrings(): Header[] {
    return this.pairs.map(([k, v]) => [k.toString('utf8'), v.toString('utf8')]);
  }

  // The first value only: Envoy does not join repeated headers for proxy_get_header_map_value.
  // Compared in place (stored keys are lower case): a lookup allocates nothing.
  get(key: Buffer | string): Buffer | undefined {
    for (const [k, v] of this.pairs) if (sameName(k, key)) return v;
    return undefined;
  }

  // Every value of a repeated header, in order.
  getAll(key: Buffer | string): Buffer[] {
    const values: Buffer[] = [];
    for (const [k, v] of this.pairs) if (sameName(k, key)) values.push(v);
    return values;
  }

  getString(key: string): string | undefined {
    return this.get(key)?.toString('utf8');
  }

  add(key: Buffer | string, value: Buffer | string): void {
    this.pairs.push([lower(key), Buffer.from(value)]);
  }

  // Sets a single value: the first entry keeps its place, the others go.
  replace(key: Buffer | string, value: Buffer | string): void {
    const first = this.pairs.findIndex(([k]) => sameName(k, key));
    if (first < 0) {
      this.add(key, value);
      return;
    }
    this.pairs[first] = [this.pairs[first][0], Buffer.from(value)];
    if (this.pairs.some(([k], i) => i > first && sameName(k, key))) {
      this.pairs = this.pairs.filter(([k], i) => i <= first || !sameName(k, key));
    }
  }

  remove(key: Buffer | string): void {
    if (this.pairs.some(([k]) => sameName(k, key))) this.pairs = this.pairs.filter(([k]) => !sameName(k, key));
  }

  setAll(pairs: BytePair[]): void {
    this.pairs = pairs.map(([k, v]) => [lower(k), v]);
  }

  // What proxy_get_header_map_size reports: bytes of keys and values, not the entry count.
  byteSize(): number {
    return this.pairs.reduce((sum, [k, v]) => sum + k.length + v.length, 0);
  }
}
