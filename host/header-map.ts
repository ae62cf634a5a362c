// An Envoy header map as the wasm ABI sees it: ordered (key, value) byte pairs, keys lower-cased on
// every mutation and lookup, repeated keys kept as separate entries.
import type { BytePair } from './pairs.js';

export type Header = [string, string];
/** A header as a test or proxy hands it in: the value as text (UTF-8) or as raw bytes. */
export type RawHeader = [string, string | Uint8Array];

const lower = (key: Buffer | string): Buffer => Buffer.from(key.toString('latin1').toLowerCase(), 'latin1');

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
  get(key: Buffer | string): Buffer | undefined {
    const wanted = lower(key);
    return this.pairs.find(([k]) => k.equals(wanted))?.[1];
  }

  getString(key: string): string | undefined {
    return this.get(key)?.toString('utf8');
  }

  add(key: Buffer | string, value: Buffer | string): void {
    this.pairs.push([lower(key), Buffer.from(value)]);
  }

  // Sets a single value: the first entry keeps its place, the others go.
  replace(key: Buffer | string, value: Buffer | string): void {
    const wanted = lower(key);
    const first = this.pairs.findIndex(([k]) => k.equals(wanted));
    if (first < 0) {
      this.add(wanted, value);
      return;
    }
    this.pairs[first] = [wanted, Buffer.from(value)];
    this.pairs = this.pairs.filter(([k], i) => i === first || !k.equals(wanted));
  }

  remove(key: Buffer | string): void {
    const wanted = lower(key);
    this.pairs = this.pairs.filter(([k]) => !k.equals(wanted));
  }

  setAll(pairs: BytePair[]): void {
    this.pairs = pairs.map(([k, v]) => [lower(k), v]);
  }

  // What proxy_get_header_map_size reports: bytes of keys and values, not the entry count.
  byteSize(): number {
    return this.pairs.reduce((sum, [k, v]) => sum + k.length + v.length, 0);
  }
}
