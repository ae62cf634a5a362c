// The proxy-wasm ABI as Envoy implements it (Envoy's source/extensions/common/wasm/context.cc and proxy-wasm-cpp-host's exports.cc): status codes, enum
// values, the import set Envoy registers with its signatures, and the export signatures it checks.
import type { FuncType, ValType } from './wasm-binary.js';

export const WasmResult = {
  Ok: 0,
  NotFound: 1,
  BadArgument: 2,
  SerializationFailure: 3,
  ParseFailure: 4,
  BadExpression: 5,
  InvalidMemoryAccess: 6,
  Empty: 7,
  CasMismatch: 8,
  ResultMismatch: 9,
  InternalFailure: 10,
  BrokenConnection: 11,
  Unimplemented: 12,
} as const;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'critical'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const MapType = {
  RequestHeaders: 0,
  RequestTrailers: 1,
  ResponseHeaders: 2,
  ResponseTrailers: 3,
  GrpcReceiveInitialMetadata: 4,
  GrpcReceiveTrailingMetadata: 5,
  HttpCallResponseHeaders: 6,
  HttpCallResponseTrailers: 7,
} as const;

export const BufferType = {
  HttpRequestBody: 0,
  HttpResponseBody: 1,
  NetworkDownstreamData: 2,
  NetworkUpstreamData: 3,
  HttpCallResponseBody: 4,
  GrpcReceiveBuffer: 5,
  VmConfiguration: 6,
  PluginConfiguration: 7,
  CallData: 8,
} as const;

export const MetricType = { Counter: 0, Gauge: 1, Histogram: 2 } as const;

export type AbiVersion = '0.1.0' | '0.2.0' | '0.2.1';

// Export names Envoy scans for, first match wins (cpp-host getAbiVersion).
export const ABI_MARKERS: [string, AbiVersion][] = [
  ['proxy_abi_version_0_1_0', '0.1.0'],
  ['proxy_abi_version_0_2_0', '0.2.0'],
  ['proxy_abi_version_0_2_1', '0.2.1'],
];

function sig(params: string, result: string): FuncType {
  const code: Record<string, ValType> = { i: 'i32', I: 'i64' };
  return { params: [...params].map((c) => code[c]), results: [...result].map((c) => code[c]) };
}

// Imports registered in module "env" for every ABI version.
const ENV_COMMON: Record<string, FuncType> = {
  proxy_log: sig('iii', 'i'),
  proxy_get_status: sig('iii', 'i'),
  proxy_set_property: sig('iiii', 'i'),
  proxy_get_property: sig('iiii', 'i'),
  proxy_send_local_response: sig('iiiiiiii', 'i'),
  proxy_get_shared_data: sig('iiiii', 'i'),
  proxy_set_shared_data: sig('iiiii', 'i'),
  proxy_register_shared_queue: sig('iii', 'i'),
  proxy_resolve_shared_queue: sig('iiiii', 'i'),
  proxy_dequeue_shared_queue: sig('iii', 'i'),
  proxy_enqueue_shared_queue: sig('iii', 'i'),
  proxy_get_header_map_value: sig('iiiii', 'i'),
  proxy_add_header_map_value: sig('iiiii', 'i'),
  proxy_replace_header_map_value: sig('iiiii', 'i'),
  proxy_remove_header_map_value: sig('iii', 'i'),
  proxy_get_header_map_pairs: sig('iii', 'i'),
  proxy_set_header_map_pairs: sig('iii', 'i'),
  proxy_get_header_map_size: sig('ii', 'i'),
  proxy_get_buffer_status: sig('iii', 'i'),
  proxy_get_buffer_bytes: sig('iiiii', 'i'),
  proxy_set_buffer_bytes: sig('iiiii', 'i'),
  proxy_http_call: sig('iiiiiiiiii', 'i'),
  proxy_grpc_call: sig('iiiiiiiiiiii', 'i'),
  proxy_grpc_stream: sig('iiiiiiiii', 'i'),
  proxy_grpc_close: sig('i', 'i'),
  proxy_grpc_cancel: sig('i', 'i'),
  proxy_grpc_send: sig('iiii', 'i'),
  proxy_set_tick_period_milliseconds: sig('i', 'i'),
  proxy_get_current_time_nanoseconds: sig('i', 'i'),
  proxy_define_metric: sig('iiii', 'i'),
  proxy_increment_metric: sig('iI', 'i'),
  proxy_record_metric: sig('iI', 'i'),
  proxy_get_metric: sig('ii', 'i'),
  proxy_set_effective_context: sig('i', 'i'),
  proxy_done: sig('', 'i'),
  proxy_call_foreign_function: sig('iiiiii', 'i'),
  pthread_equal: sig('ii', 'i'),
  emscripten_notify_memory_growth: sig('i', ''),
  envoy_resolve_dns: sig('iii', 'i'),
};

const ENV_BY_ABI: Record<AbiVersion, Record<string, FuncType>> = {
  '0.1.0': {
    proxy_get_configuration: sig('ii', 'i'),
    proxy_continue_request: sig('', 'i'),
    proxy_continue_response: sig('', 'i'),
    proxy_clear_route_cache: sig('', 'i'),
  },
  '0.2.0': {
    proxy_continue_stream: sig('i', 'i'),
    proxy_close_stream: sig('i', 'i'),
  },
  '0.2.1': {
    proxy_continue_stream: sig('i', 'i'),
    proxy_close_stream: sig('i', 'i'),
    proxy_get_log_level: sig('i', 'i'),
  },
};

// WASI functions registered under both wasi_unstable and wasi_snapshot_preview1. This is the
// long-standing set plus the December 2024 additions; the 2026 additions are left out on purpose,
// so a module that loads here also loads in the Envoy releases Istio ships today.
export const WASI: Record<string, FuncType> = {
  fd_write: sig('iiii', 'i'),
  fd_read: sig('iiii', 'i'),
  fd_seek: sig('iIii', 'i'),
  fd_close: sig('i', 'i'),
  fd_fdstat_get: sig('ii', 'i'),
  fd_fdstat_set_flags: sig('ii', 'i'),
  environ_get: sig('ii', 'i'),
  environ_sizes_get: sig('ii', 'i'),
  args_get: sig('ii', 'i'),
  args_sizes_get: sig('ii', 'i'),
  clock_time_get: sig('iIi', 'i'),
  random_get: sig('ii', 'i'),
  proc_exit: sig('i', ''),
  path_open: sig('iiiiiIIii', 'i'),
  fd_prestat_get: sig('ii', 'i'),
  fd_prestat_dir_name: sig('iii', 'i'),
  sched_yield: sig('', 'i'),
  poll_oneoff: sig('iiii', 'i'),
};

export const WASI_MODULES = ['wasi_unstable', 'wasi_snapshot_preview1'];

export function envImports(abi: AbiVersion): Record<string, FuncType> {
  return { ...ENV_COMMON, ...ENV_BY_ABI[abi] };
}

// Host calls allowed while the module's start functions run (cpp-host startVm); any other traps
// with "restricted_callback".
export const ALLOWED_DURING_START = new Set([
  'env.proxy_log',
  'env.emscripten_notify_memory_growth',
  ...[
    'fd_write',
    'args_get',
    'args_sizes_get',
    'environ_get',
    'environ_sizes_get',
    'clock_time_get',
    'random_get',
    'poll_oneoff',
    'fd_fdstat_get',
    'fd_fdstat_set_flags',
  ].flatMap((name) => WASI_MODULES.map((module) => `${module}.${name}`)),
]);

// Host calls allowed while the host runs the guest allocator for an out-value.
export const ALLOWED_DURING_ALLOCATION = new Set([
  'env.proxy_log',
  ...['fd_write', 'clock_time_get', 'poll_oneoff'].flatMap((name) => WASI_MODULES.map((module) => `${module}.${name}`)),
]);

// Exports Envoy looks up, with the signature it requires when present (cpp-host getFunctions).
export const EXPORT_SIGNATURES: Record<string, FuncType> = {
  _initialize: sig('', ''),
  _start: sig('', ''),
  main: sig('ii', 'i'),
  __main_void: sig('', 'i'),
  malloc: sig('i', 'i'),
  proxy_on_memory_allocate: sig('i', 'i'),
  proxy_validate_configuration: sig('ii', 'i'),
  proxy_on_vm_start: sig('ii', 'i'),
  proxy_on_configure: sig('ii', 'i'),
  proxy_on_tick: sig('i', ''),
  proxy_on_context_create: sig('ii', ''),
  proxy_on_request_headers: sig('iii', 'i'),
  proxy_on_request_body: sig('iii', 'i'),
  proxy_on_request_trailers: sig('ii', 'i'),
  proxy_on_request_metadata: sig('ii', 'i'),
  proxy_on_response_headers: sig('iii', 'i'),
  proxy_on_response_body: sig('iii', 'i'),
  proxy_on_response_trailers: sig('ii', 'i'),
  proxy_on_response_metadata: sig('ii', 'i'),
  proxy_on_http_call_response: sig('iiiii', ''),
  proxy_on_grpc_receive_initial_metadata: sig('iii', ''),
  proxy_on_grpc_receive_trailing_metadata: sig('iii', ''),
  proxy_on_grpc_receive: sig('iii', ''),
  proxy_on_grpc_close: sig('iii', ''),
  proxy_on_queue_ready: sig('ii', ''),
  proxy_on_foreign_function: sig('iii', ''),
  proxy_on_new_connection: sig('i', 'i'),
  proxy_on_downstream_data: sig('iii', 'i'),
  proxy_on_upstream_data: sig('iii', 'i'),
  proxy_on_downstream_connection_close: sig('ii', ''),
  proxy_on_upstream_connection_close: sig('ii', ''),
  proxy_on_done: sig('i', 'i'),
  proxy_on_log: sig('i', ''),
  proxy_on_delete: sig('i', ''),
};

// Envoy's V8 limit on linear memory: 16384 pages of 64 KiB.
export const MAX_MEMORY_BYTES = 16384 * 65536;
// Pairs decoding limits (cpp-host limits.h).
export const MAX_PAIRS = 1024;
export const MAX_PAIRS_BYTES = 1024 * 1024;
