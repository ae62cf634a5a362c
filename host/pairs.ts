// The proxy-wasm "pairs" layout (cpp-host's pairs encoding): u32 count, then (u32 key length, u32 value
// length) per pair, then each key and value followed by a NUL byte. Decoding is as strict as
// cpp-host's: any malformation, including trailing bytes, yields an empty list and no error.
import { MAX_PAIRS, MAX_PAIRS_BYTES } from './abi.js';

export type BytePair = [Buffer, Buffer];

export function encodePairs(pairs: readonly BytePair[]): Buffer {
  let size = 4;
  for (const [key, value] of pairs) size += 8 + key.length + 1 + value.length + 1;
  const out = Buffer.alloc(size);
  out.writeUInt32LE(pairs.length, 0);
  let at = 4;
  for (const [key, value] of pairs) {
    out.writeUInt32LE(key.length, at);
    out.writeUInt32LE(value.length, at + 4);
    at += 8;
  }
  for (const [key, value] of pairs) {
    key.copy(out, at);
    at += key.length + 1;
    value.copy(out, at);
    at += value.length + 1;
  }
  return out;
}

export function decodePairs(bytes: Uint8Array): BytePair[] {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < 4 || buffer.length > MAX_PAIRS_BYTES) return [];
  const count = buffer.readUInt32LE(0);
  if (count > MAX_PAIRS) return [];
  let sizesAt = 4;
  let dataAt = 4 + count * 8;
  if (dataAt > buffer.length) return [];
  const pairs: BytePair[] = [];
  for (let i = 0; i < count; i++) {
    const keyLength = buffer.readUInt32LE(sizesAt);
    const valueLength = buffer.readUInt32LE(sizesAt + 4);
    sizesAt += 8;
    if (dataAt + keyLength + 1 + valueLength + 1 > buffer.length) return [];
    const key = Buffer.from(buffer.subarray(dataAt, dataAt + keyLength));
    dataAt += keyLength;
    if (buffer[dataAt++] !== 0) return [];
    const value = Buffer.from(buffer.subarray(dataAt, dataAt + valueLength));
    dataAt += valueLength;
    if (buffer[dataAt++] !== 0) return [];
    pairs.push([key, value]);
  }
  return dataAt === buffer.length ? pairs : [];
}
