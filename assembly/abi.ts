// Every call this filter makes to the proxy-wasm host goes through here: the boundary with Envoy in
// one small module. Values the host hands back during a request are copied into a request arena (a
// bump allocator over memory kept from request to request) instead of a fresh garbage-collected
// buffer each, so a request allocates nothing the collector must later find. A value read during a
// request stays valid until the next request begins.
import {
  proxy_define_metric,
  proxy_get_buffer_bytes,
  proxy_get_current_time_nanoseconds,
  proxy_get_header_map_value,
  proxy_get_property,
  proxy_increment_metric,
  proxy_log,
  proxy_record_metric,
  proxy_remove_header_map_value,
  proxy_replace_header_map_value,
  proxy_send_local_response,
  proxy_set_property,
} from "@solo-io/proxy-runtime/assembly/imports";
import { malloc as sdkMalloc } from "@solo-io/proxy-runtime/assembly/malloc";

// proxy-wasm's WasmResult Ok, and the enums this filter uses (ABI 0.2.x).
const OK: u32 = 0;
const REQUEST_HEADERS: i32 = 0;
const PLUGIN_CONFIGURATION: i32 = 7;
const COUNTER: i32 = 0;
const GAUGE: i32 = 1;
// grpc_status for a plain HTTP reply.
const NO_GRPC_STATUS: u32 = 0xffffffff;
const NS_PER_MS: u64 = 1_000_000;

export const enum LogLevel {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5,
}

// Where the host writes a returned value's address and size.
const OUT = memory.data(16);

// ---- The request arena -------------------------------------------------------------------------

const ARENA_BYTES: usize = 64 * 1024;
let arenaStart: usize = 0;
let arenaNext: usize = 0;
let arenaEnd: usize = 0;
// Values too large for the arena: unmanaged blocks freed when the next request begins.
const OVERFLOW_SLOTS: i32 = 16;
const overflow = memory.data(OVERFLOW_SLOTS * 8);
let overflowCount: i32 = 0;
// Set while the host copies a value out for us: malloc then serves the arena.
let intoArena = false;

// Called as each request begins: every value of the previous one is released at once.
export function beginRequest(): void {
  if (arenaStart == 0) {
    arenaStart = heap.alloc(ARENA_BYTES);
    arenaEnd = arenaStart + ARENA_BYTES;
  }
  arenaNext = arenaStart;
  for (let i = 0; i < overflowCount; i++) heap.free(load<usize>(overflow + (<usize>i << 3)));
  overflowCount = 0;
}

function arenaAlloc(size: usize): usize {
  let at = (arenaNext + 7) & ~(<usize>7);
  if (arenaStart != 0 && at + size <= arenaEnd) {
    arenaNext = at + size;
    return at;
  }
  // The overflow list is full only for a request reading more values than any request does; the
  // block is then freed with the rest of the request's values anyway, one request late.
  if (overflowCount == OVERFLOW_SLOTS) beginRequest();
  let block = heap.alloc(size);
  store<usize>(overflow + (<usize>overflowCount << 3), block);
  overflowCount++;
  return block;
}

// The allocator Envoy calls for every value it hands the module: the arena for our own reads, the
// SDK's garbage-collected buffers for the SDK's.
export function malloc(size: i32): usize {
  if (!intoArena) return sdkMalloc(size);
  intoArena = false;
  return arenaAlloc(<usize>size);
}

// ---- Values read from the host -----------------------------------------------------------------

// The last value read: valid until the next request begins.
export let valuePtr: usize = 0;
export let valueLength: i32 = 0;

function took(result: u32): bool {
  intoArena = false;
  if (result != OK) {
    valuePtr = 0;
    valueLength = 0;
    return false;
  }
  valuePtr = load<usize>(OUT);
  valueLength = <i32>load<u32>(OUT + 4);
  return true;
}

// A property by its NUL-separated path (Envoy does not split dots). False when the host has none
// (NotFound: the digest of a connection without a client certificate) or fails.
export function readProperty(path: ArrayBuffer): bool {
  store<u64>(OUT, 0);
  intoArena = true;
  return took(proxy_get_property(changetype<usize>(path), path.byteLength, OUT, OUT + 4));
}

// A request header (repeated headers arrive comma-joined). False when absent.
export function readHeader(name: ArrayBuffer): bool {
  store<u64>(OUT, 0);
  intoArena = true;
  return took(proxy_get_header_map_value(REQUEST_HEADERS, changetype<usize>(name), name.byteLength, OUT, OUT + 4));
}

export function removeHeader(name: ArrayBuffer): void {
  proxy_remove_header_map_value(REQUEST_HEADERS, changetype<usize>(name), name.byteLength);
}

export function replaceHeader(name: ArrayBuffer, valuePtr: usize, valueLength: i32): void {
  proxy_replace_header_map_value(REQUEST_HEADERS, changetype<usize>(name), name.byteLength, valuePtr, valueLength);
}

// Sets a request's filter state `wasm.<name>` (Envoy's access log reads it as
// %FILTER_STATE(wasm.<name>:PLAIN)%). An empty value is not set: Envoy refuses none, but there is
// nothing to say.
export function setFilterState(name: ArrayBuffer, valuePtr: usize, valueLength: i32): void {
  if (valueLength > 0) proxy_set_property(changetype<usize>(name), name.byteLength, valuePtr, valueLength);
}

// Up to `max` bytes of the plugin configuration from `offset`, copied to `into`; -1 when the host
// refuses. The host's copy goes through the arena and is gone at the next request.
export function readConfiguration(offset: i32, into: usize, max: i32): i32 {
  store<u64>(OUT, 0);
  intoArena = true;
  if (!took(proxy_get_buffer_bytes(PLUGIN_CONFIGURATION, <u32>offset, <u32>max, OUT, OUT + 4))) return -1;
  let count = valueLength;
  if (count > max) return -1;
  memory.copy(into, valuePtr, <usize>count);
  // The chunk is not needed once copied: the next chunk reuses the arena.
  beginRequest();
  return count;
}

export function nowMs(): i64 {
  store<u64>(OUT, 0);
  proxy_get_current_time_nanoseconds(OUT);
  return <i64>(load<u64>(OUT) / NS_PER_MS);
}

// ---- Replies, logs, metrics --------------------------------------------------------------------

// The reply Envoy sends once the callback returns. `headers` is in the proxy-wasm pairs layout.
export function sendReply(status: u32, details: ArrayBuffer, body: ArrayBuffer, headers: ArrayBuffer): void {
  proxy_send_local_response(status, changetype<usize>(details), details.byteLength, changetype<usize>(body), body.byteLength,
    changetype<usize>(headers), headers.byteLength, NO_GRPC_STATUS);
}

// Header pairs as proxy-wasm lays them out: a count, each name's and value's length, then each
// name and value followed by a NUL.
export function headerPairs(names: string[], values: string[]): ArrayBuffer {
  let encodedNames = names.map<ArrayBuffer>((name: string) => String.UTF8.encode(name));
  let encodedValues = values.map<ArrayBuffer>((value: string) => String.UTF8.encode(value));
  let size = 4;
  for (let i = 0; i < names.length; i++) size += 8 + encodedNames[i].byteLength + 1 + encodedValues[i].byteLength + 1;
  let out = new ArrayBuffer(size);
  let at = changetype<usize>(out);
  store<u32>(at, names.length);
  at += 4;
  for (let i = 0; i < names.length; i++) {
    store<u32>(at, encodedNames[i].byteLength);
    store<u32>(at + 4, encodedValues[i].byteLength);
    at += 8;
  }
  for (let i = 0; i < names.length; i++) {
    at = copyWithNul(at, encodedNames[i]);
    at = copyWithNul(at, encodedValues[i]);
  }
  return out;
}

function copyWithNul(at: usize, bytes: ArrayBuffer): usize {
  memory.copy(at, changetype<usize>(bytes), <usize>bytes.byteLength);
  store<u8>(at + <usize>bytes.byteLength, 0);
  return at + <usize>bytes.byteLength + 1;
}

export function logBytes(level: LogLevel, ptr: usize, length: i32): void {
  proxy_log(<usize>level, ptr, length);
}

export function logText(level: LogLevel, text: string): void {
  let bytes = String.UTF8.encode(text);
  proxy_log(<usize>level, changetype<usize>(bytes), bytes.byteLength);
}

function defineMetric(type: i32, name: string): u32 {
  let bytes = String.UTF8.encode(name);
  store<u32>(OUT, 0);
  // An undefined metric keeps id 0, which the host refuses on use: counting is lost, nothing else.
  proxy_define_metric(type, changetype<usize>(bytes), bytes.byteLength, OUT);
  return load<u32>(OUT);
}

export function defineCounter(name: string): u32 {
  return defineMetric(COUNTER, name);
}

export function defineGauge(name: string): u32 {
  return defineMetric(GAUGE, name);
}

export function increment(metric: u32): void {
  proxy_increment_metric(metric, 1);
}

export function record(metric: u32, value: u64): void {
  proxy_record_metric(metric, value);
}
