// One Wasm VM as Envoy runs it: the compiled module instantiated with Envoy's host functions,
// its contexts, and the rules Envoy applies to every host call (restricted calls during start and
// allocation, bounds-checked memory, out-values through the guest allocator, traps that fail the VM).
import {
  ALLOWED_DURING_ALLOCATION,
  ALLOWED_DURING_START,
  BufferType,
  LOG_LEVELS,
  MAX_MEMORY_BYTES,
  MapType,
  MetricType,
  WASI_MODULES,
  WasmResult,
  type LogLevel,
} from './abi.js';
import { propertyFeatures, u64, type Connection, type PropertyFeatures } from './connection.js';
import type { HeaderMap } from './header-map.js';
import { decodePairs, encodePairs, type BytePair } from './pairs.js';
import { resolveProperty } from './properties.js';
import { wasiFunctions } from './wasi.js';
import type { ModuleShape } from './wasm-binary.js';

export interface LogEntry {
  level: LogLevel;
  message: string;
  /** The plugin's own line (proxy_log, or WASI stdout/stderr: Envoy prints `wasm log <plugin>: …`), or Envoy's about the VM. */
  origin: 'plugin' | 'envoy';
  /** Which VM logged it: the worker that serves requests, or the canary that validates a configuration. */
  vm: string;
  context: number;
}

/** State shared by every VM of one Envoy: logs, stats, clock. */
export class HostEnvironment {
  logs: LogEntry[] = [];
  metrics = new Map<string, { type: number; value: bigint }>();
  nowNs: bigint;
  logLevel: LogLevel;
  envVars: Record<string, string>;
  features: PropertyFeatures;
  hostCalls = new Map<string, number>();

  constructor(options: { now?: bigint; logLevel?: LogLevel; env?: Record<string, string>; envoyVersion?: string } = {}) {
    this.nowNs = options.now ?? BigInt(Date.now()) * 1_000_000n;
    this.logLevel = options.logLevel ?? 'trace';
    this.envVars = options.env ?? {};
    this.features = propertyFeatures(options.envoyVersion);
  }
}

export interface PluginIdentity {
  pluginName: string;
  rootId: string;
  vmId: string;
}

export interface RootState {
  kind: 'root';
  plugin: PluginIdentity;
  /** Readable as buffer type 6 during proxy_on_vm_start, type 7 during proxy_on_configure. */
  buffers: Map<number, Buffer>;
  filterState: Map<string, Buffer>;
}

export interface LocalReply {
  status: number;
  details: string;
  body: Buffer;
  headers: BytePair[];
  grpcStatus: number;
}

export type MapAccess = 'none' | 'read' | 'write';

export interface StreamState {
  kind: 'stream';
  root: number;
  connection: Connection;
  request: HeaderMap;
  response: HeaderMap | null;
  /** Envoy only exposes a map while its callback runs (or in the access-log phase, read-only). */
  access: Record<number, MapAccess>;
  inLog: boolean;
  localReply: LocalReply | null;
  closed: boolean;
  filterState: Map<string, Buffer>;
}

export type ContextState = RootState | StreamState;

/** A host call that traps the VM, as Envoy's runtime does (e.g. "restricted_callback"). */
export class HostTrap extends Error {}

/** A module Envoy would refuse to load or start, with Envoy's message. */
export class HostLoadError extends Error {}

export type CallResult = { trapped: false; value: number } | { trapped: true; value: 0 };

const WHITESPACE = /[ \t\f\v\n\r]/g;

export class WasmVm {
  failed = false;
  failMessage = '';
  /** When it failed, on the host's clock. */
  failedAtNs = 0n;
  readonly contexts = new Map<number, ContextState>();
  private readonly instance: WebAssembly.Instance;
  private readonly exportsByName: Record<string, unknown>;
  private memory!: WebAssembly.Memory;
  private nextContextId = 1;
  /** The context host calls act on; null while the module's start section runs. */
  private current: number | null = null;
  private restriction: Set<string> | null = null;
  private readonly metricIds = new Map<number, string>();
  private readonly nextMetricSerial = [1, 1, 1];

  private constructor(
    module: WebAssembly.Module,
    shape: ModuleShape,
    private readonly env: HostEnvironment,
    readonly name: string,
  ) {
    const imports = this.buildImports(shape);
    try {
      this.instance = new WebAssembly.Instance(module, imports);
    } catch (error) {
      throw new HostLoadError(`Wasm VM failed to instantiate: ${(error as Error).message}`);
    }
    this.exportsByName = this.instance.exports as Record<string, unknown>;
    const exportedMemory = Object.values(this.exportsByName).find((e) => e instanceof WebAssembly.Memory);
    if (exportedMemory) this.memory = exportedMemory as WebAssembly.Memory;
    if (!this.memory) throw new HostLoadError('Wasm module has no memory');
  }

  /** Instantiates and runs the module's start functions the way cpp-host's startVm does. */
  static start(module: WebAssembly.Module, shape: ModuleShape, env: HostEnvironment, name: string): WasmVm {
    const vm = new WasmVm(module, shape, env, name);
    const has = (exportName: string) => typeof vm.exportsByName[exportName] === 'function';
    const steps: [string, number[]][] = [];
    if (has('_initialize')) {
      steps.push(['_initialize', []]);
      if (has('main')) steps.push(['main', [0, 0]]);
      else if (has('__main_void')) steps.push(['__main_void', []]);
    } else if (has('_start')) {
      steps.push(['_start', []]);
    }
    for (const [exportName, args] of steps) {
      const result = vm.call(exportName, args, 0, ALLOWED_DURING_START);
      if (result.trapped) throw new HostLoadError(`Wasm VM failed to start: ${vm.failMessage}`);
    }
    return vm;
  }

  has(exportName: string): boolean {
    return typeof this.exportsByName[exportName] === 'function';
  }

  newContextId(): number {
    return this.nextContextId++;
  }

  memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /**
   * Calls an export with `context` as the current context. A trap (WebAssembly.RuntimeError, a
   * trapping host call, a stack overflow) marks the VM failed, logs Envoy's error line and returns
   * trapped; the VM is not called again by Envoy after that.
   */
  call(exportName: string, args: number[], context: number, restriction: Set<string> | null = null): CallResult {
    const fn = this.exportsByName[exportName] as ((...a: number[]) => number | undefined) | undefined;
    if (this.failed || !fn) return { trapped: false, value: 0 };
    const savedCurrent = this.current;
    const savedRestriction = this.restriction;
    this.current = context;
    this.restriction = restriction;
    try {
      const value = fn(...args);
      if (this.memory.buffer.byteLength > MAX_MEMORY_BYTES) {
        throw new HostTrap('linear memory grew past the 1 GiB limit');
      }
      return { trapped: false, value: typeof value === 'number' ? value >>> 0 : 0 };
    } catch (error) {
      if (!(error instanceof WebAssembly.RuntimeError || error instanceof HostTrap || error instanceof RangeError)) throw error;
      this.fail(exportName, error as Error);
      return { trapped: true, value: 0 };
    } finally {
      this.current = savedCurrent;
      this.restriction = savedRestriction;
    }
  }

  private fail(exportName: string, error: Error): void {
    const frames = (error.stack ?? '')
      .split('\n')
      .filter((line) => line.includes('wasm://'))
      .slice(0, 20)
      .map((line, i) => `  ${i}: ${line.trim().replace(/^at /, '')}`);
    const kind = error instanceof WebAssembly.RuntimeError ? 'RuntimeError' : error.name;
    this.failed = true;
    this.failedAtNs = this.env.nowNs;
    this.failMessage = `Function: ${exportName} failed: Uncaught ${kind}: ${error.message}`;
    const backtrace = frames.length ? `\nProxy-Wasm plugin in-VM backtrace:\n${frames.join('\n')}` : '';
    this.log('error', this.failMessage + backtrace, 0, 'envoy');
  }

  log(level: LogLevel, message: string, context: number, origin: LogEntry['origin'] = 'plugin'): void {
    this.env.logs.push({ level, message, origin, vm: this.name, context });
  }

  // ---- memory --------------------------------------------------------------------------------

  // A Buffer over linear memory, remade only when growth replaced the ArrayBuffer (a guest call
  // may grow memory, which detaches every old view).
  private view: Buffer = Buffer.alloc(0);

  private bytes(): Buffer {
    const buffer = this.memory.buffer;
    if (this.view.buffer !== buffer) this.view = Buffer.from(buffer);
    return this.view;
  }

  private inBounds(ptr: number, size: number): boolean {
    return ptr + size <= this.bytes().length;
  }

  /** Guest bytes in place, for a lookup that does not keep them; null when out of bounds. */
  private peek(ptr: number, size: number): Buffer | null {
    ptr >>>= 0;
    size >>>= 0;
    if (!this.inBounds(ptr, size)) return null;
    return this.view.subarray(ptr, ptr + size);
  }

  /** A copy of guest bytes (the guest may reuse them once the call returns); null when out of bounds. */
  private read(ptr: number, size: number): Buffer | null {
    const bytes = this.peek(ptr, size);
    return bytes && Buffer.from(bytes);
  }

  /** Guest bytes decoded as UTF-8 without an intermediate copy; null when out of bounds. */
  private readText(ptr: number, size: number): string | null {
    const bytes = this.peek(ptr, size);
    return bytes ? bytes.toString('utf8') : null;
  }

  private write(ptr: number, data: Uint8Array): boolean {
    ptr >>>= 0;
    if (!this.inBounds(ptr, data.length)) return false;
    this.view.set(data, ptr);
    return true;
  }

  private writeU32(ptr: number, value: number): boolean {
    ptr >>>= 0;
    if (!this.inBounds(ptr, 4)) return false;
    this.view.writeUInt32LE(value >>> 0, ptr);
    return true;
  }

  private writeU64(ptr: number, value: bigint): boolean {
    return this.write(ptr, u64(BigInt.asUintN(64, value)));
  }

  /** Asks the guest for `size` bytes (malloc preferred over proxy_on_memory_allocate). */
  private allocate(size: number): number {
    const fn = (this.has('malloc') ? this.exportsByName.malloc : this.exportsByName.proxy_on_memory_allocate) as (n: number) => number;
    const savedCurrent = this.current;
    const savedRestriction = this.restriction;
    this.current = 0;
    this.restriction = ALLOWED_DURING_ALLOCATION;
    try {
      return fn(size) >>> 0;
    } finally {
      this.current = savedCurrent;
      this.restriction = savedRestriction;
    }
  }

  /** Writes an out-value: (0, 0) for an empty value without calling the allocator. */
  private copyOut(value: Buffer, ptrPtr: number, sizePtr: number): number {
    if (value.length === 0) {
      return this.writeU32(ptrPtr, 0) && this.writeU32(sizePtr, 0) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    }
    const ptr = this.allocate(value.length);
    if (ptr === 0 || !this.write(ptr, value)) return WasmResult.InvalidMemoryAccess;
    return this.writeU32(ptrPtr, ptr) && this.writeU32(sizePtr, value.length) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  }

  // ---- contexts -------------------------------------------------------------------------------

  private state(): ContextState | undefined {
    return this.current === null ? undefined : this.contexts.get(this.current);
  }

  private stream(): StreamState | undefined {
    const state = this.state();
    return state?.kind === 'stream' ? state : undefined;
  }

  private rootOf(state: ContextState | undefined): RootState | undefined {
    if (!state) return undefined;
    if (state.kind === 'root') return state;
    const root = this.contexts.get(state.root);
    return root?.kind === 'root' ? root : undefined;
  }

  private map(type: number, want: 'read' | 'write'): HeaderMap | null {
    const stream = this.stream();
    if (!stream) return null;
    const access = stream.access[type] ?? 'none';
    if (access === 'none' || (want === 'write' && access !== 'write')) return null;
    if (type === MapType.RequestHeaders) return stream.request;
    if (type === MapType.ResponseHeaders) return stream.response;
    return null;
  }

  // ---- host functions -------------------------------------------------------------------------

  // Implementations for the module's imports; which imports are allowed was checked at load.
  private buildImports(shape: ModuleShape): WebAssembly.Imports {
    const implementations = this.hostFunctions();
    const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
    for (const entry of shape.imports) {
      const key = `${entry.module}.${entry.name}`;
      const target = (imports[entry.module] ??= {});
      if (entry.kind === 'memory') {
        this.memory = new WebAssembly.Memory({ initial: 1, maximum: 16384 });
        target[entry.name] = this.memory;
        continue;
      }
      if (entry.kind === 'table') {
        target[entry.name] = new WebAssembly.Table({ initial: 0, element: 'anyfunc' });
        continue;
      }
      const wasiName = WASI_MODULES.includes(entry.module) ? entry.name : undefined;
      const implementation = wasiName ? implementations[`wasi.${wasiName}`] : implementations[key];
      if (!implementation) throw new HostLoadError(`no host implementation for ${key}`);
      target[entry.name] = (...args: unknown[]) => {
        if (this.current === null) throw new HostTrap(`host call ${key} with no current context (module start function)`);
        if (this.restriction && !this.restriction.has(key)) throw new HostTrap(`restricted_callback: ${key}`);
        this.env.hostCalls.set(key, (this.env.hostCalls.get(key) ?? 0) + 1);
        return implementation(...args);
      };
    }
    return imports;
  }

  // Every function Envoy registers, keyed "env.<name>" or "wasi.<name>" (both WASI module names
  // share one implementation). Results follow Envoy's context.cc and cpp-host's exports.cc.
  // biome-ignore lint/suspicious/noExplicitAny: the ABI's functions take numbers and bigints as WebAssembly passes them
  private hostFunctions(): Record<string, (...args: any[]) => number | void> {
    const R = WasmResult;
    const text = (ptr: number, size: number) => this.read(ptr, size);
    return {
      'env.proxy_log': (level: number, ptr: number, size: number) => {
        if (level >>> 0 > 5) return R.BadArgument;
        const message = this.readText(ptr, size);
        if (message === null) return R.InvalidMemoryAccess;
        this.log(LOG_LEVELS[level], message, this.current ?? 0);
        return R.Ok;
      },
      'env.proxy_get_log_level': (ptr: number) => (this.writeU32(ptr, LOG_LEVELS.indexOf(this.env.logLevel)) ? R.Ok : R.InvalidMemoryAccess),
      'env.proxy_get_status': (codePtr: number, msgPtrPtr: number, msgSizePtr: number) =>
        this.writeU32(codePtr, 0) && this.writeU32(msgPtrPtr, 0) && this.writeU32(msgSizePtr, 0) ? R.Ok : R.InvalidMemoryAccess,
      'env.proxy_get_property': (pathPtr: number, pathSize: number, valuePtrPtr: number, valueSizePtr: number) => {
        const path = this.readText(pathPtr, pathSize);
        if (path === null) return R.InvalidMemoryAccess;
        const answer = resolveProperty(path, this.state(), this.rootOf(this.state()), this.env.features);
        if (answer.status !== R.Ok) return answer.status;
        return this.copyOut(answer.value ?? Buffer.alloc(0), valuePtrPtr, valueSizePtr);
      },
      'env.proxy_set_property': (pathPtr: number, pathSize: number, valuePtr: number, valueSize: number) => {
        const path = text(pathPtr, pathSize);
        const value = text(valuePtr, valueSize);
        if (!path || !value) return R.InvalidMemoryAccess;
        const state = this.state();
        if (!state) return R.NotFound;
        state.filterState.set(path.toString('utf8'), value);
        return R.Ok;
      },
      'env.proxy_send_local_response': (
        status: number,
        detailsPtr: number,
        detailsSize: number,
        bodyPtr: number,
        bodySize: number,
        headersPtr: number,
        headersSize: number,
        grpcStatus: number,
      ) => {
        const details = this.readText(detailsPtr, detailsSize);
        const body = text(bodyPtr, bodySize);
        const headers = this.peek(headersPtr, headersSize);
        if (details === null || !body || !headers) return R.InvalidMemoryAccess;
        const stream = this.stream();
        // Deferred: Envoy sends it after the current callback returns. From a root context: no-op.
        if (stream && !stream.localReply) {
          stream.localReply = {
            status: status >>> 0,
            details: details.replace(WHITESPACE, '_'),
            body,
            headers: decodePairs(headers),
            grpcStatus: grpcStatus >>> 0,
          };
        }
        return R.Ok;
      },
      'env.proxy_get_header_map_value': (type: number, keyPtr: number, keySize: number, valuePtrPtr: number, valueSizePtr: number) => {
        if (type >>> 0 > 7) return R.BadArgument;
        const map = this.map(type, 'read');
        if (!map) return this.stream()?.inLog ? R.NotFound : R.BadArgument;
        const key = this.peek(keyPtr, keySize);
        if (!key) return R.InvalidMemoryAccess;
        const value = map.get(key);
        if (!value) return R.NotFound;
        return this.copyOut(value, valuePtrPtr, valueSizePtr);
      },
      'env.proxy_add_header_map_value': (type: number, keyPtr: number, keySize: number, valuePtr: number, valueSize: number) =>
        this.mutateMap(type, keyPtr, keySize, (map, key) => {
          const value = text(valuePtr, valueSize);
          if (!value) return R.InvalidMemoryAccess;
          map.add(key, value);
          return R.Ok;
        }),
      'env.proxy_replace_header_map_value': (type: number, keyPtr: number, keySize: number, valuePtr: number, valueSize: number) =>
        this.mutateMap(type, keyPtr, keySize, (map, key) => {
          const value = text(valuePtr, valueSize);
          if (!value) return R.InvalidMemoryAccess;
          map.replace(key, value);
          return R.Ok;
        }),
      'env.proxy_remove_header_map_value': (type: number, keyPtr: number, keySize: number) =>
        this.mutateMap(type, keyPtr, keySize, (map, key) => {
          map.remove(key);
          return R.Ok;
        }),
      'env.proxy_get_header_map_pairs': (type: number, ptrPtr: number, sizePtr: number) => {
        if (type >>> 0 > 7) return R.BadArgument;
        const map = this.map(type, 'read');
        const pairs = map?.pairs ?? [];
        return this.copyOut(pairs.length ? encodePairs(pairs) : Buffer.alloc(0), ptrPtr, sizePtr);
      },
      'env.proxy_set_header_map_pairs': (type: number, ptr: number, size: number) => {
        if (type >>> 0 > 7) return R.BadArgument;
        const map = this.map(type, 'write');
        if (!map) return R.BadArgument;
        const bytes = text(ptr, size);
        if (!bytes) return R.InvalidMemoryAccess;
        map.setAll(decodePairs(bytes));
        return R.Ok;
      },
      'env.proxy_get_header_map_size': (type: number, sizePtr: number) => {
        if (type >>> 0 > 7) return R.BadArgument;
        const map = this.map(type, 'read');
        if (!map) return R.BadArgument;
        return this.writeU32(sizePtr, map.byteSize()) ? R.Ok : R.InvalidMemoryAccess;
      },
      'env.proxy_get_buffer_status': (type: number, lengthPtr: number, flagsPtr: number) => {
        if (type >>> 0 > 8) return R.BadArgument;
        const buffer = this.buffer(type);
        if (!buffer) return R.NotFound;
        return this.writeU32(lengthPtr, buffer.length) && this.writeU32(flagsPtr, 0) ? R.Ok : R.InvalidMemoryAccess;
      },
      'env.proxy_get_buffer_bytes': (type: number, start: number, length: number, ptrPtr: number, sizePtr: number) => {
        if (type >>> 0 > 8) return R.BadArgument;
        const buffer = this.buffer(type);
        if (!buffer) return R.NotFound;
        const from = start >>> 0;
        if (from >= buffer.length) return this.copyOut(Buffer.alloc(0), ptrPtr, sizePtr);
        return this.copyOut(buffer.subarray(from, Math.min(buffer.length, from + (length >>> 0))), ptrPtr, sizePtr);
      },
      // Bodies are not modelled: there is no buffer to change.
      'env.proxy_set_buffer_bytes': (type: number) => (type >>> 0 > 8 ? R.BadArgument : R.NotFound),
      // The host has no upstream clusters, so Envoy's answer for an unknown cluster applies.
      'env.proxy_http_call': () => R.BadArgument,
      'env.proxy_grpc_call': () => R.BadArgument,
      'env.proxy_grpc_stream': () => R.BadArgument,
      'env.proxy_grpc_close': () => R.NotFound,
      'env.proxy_grpc_cancel': () => R.NotFound,
      'env.proxy_grpc_send': () => R.NotFound,
      'env.proxy_set_tick_period_milliseconds': () => R.Ok,
      'env.proxy_get_current_time_nanoseconds': (ptr: number) => (this.writeU64(ptr, this.env.nowNs) ? R.Ok : R.InvalidMemoryAccess),
      'env.proxy_define_metric': (type: number, namePtr: number, nameSize: number, idPtr: number) => {
        if (type >>> 0 > 2) return R.BadArgument;
        const name = text(namePtr, nameSize);
        if (!name) return R.InvalidMemoryAccess;
        // Ids as cpp-host makes them: the low two bits are the type, per-type serials above.
        const id = (this.nextMetricSerial[type]++ << 2) | type;
        const stat = name.toString('utf8');
        this.metricIds.set(id, stat);
        if (!this.env.metrics.has(stat)) this.env.metrics.set(stat, { type, value: 0n });
        return this.writeU32(idPtr, id) ? R.Ok : R.InvalidMemoryAccess;
      },
      'env.proxy_increment_metric': (id: number, offset: bigint) => {
        const metric = this.metric(id);
        if (!metric) return R.NotFound;
        if (metric.type === MetricType.Counter && offset <= 0n) return R.BadArgument;
        if (metric.type === MetricType.Histogram) return R.BadArgument;
        metric.value += offset;
        return R.Ok;
      },
      'env.proxy_record_metric': (id: number, value: bigint) => {
        const metric = this.metric(id);
        if (!metric) return R.NotFound;
        const unsigned = BigInt.asUintN(64, value);
        if (metric.type === MetricType.Counter) metric.value += unsigned;
        else metric.value = unsigned;
        return R.Ok;
      },
      'env.proxy_get_metric': (id: number, ptr: number) => {
        const metric = this.metric(id);
        if (!metric) return R.NotFound;
        return this.writeU64(ptr, metric.value) ? R.Ok : R.InvalidMemoryAccess;
      },
      'env.proxy_set_effective_context': (id: number) => {
        if (!this.contexts.has(id >>> 0)) return R.BadArgument;
        this.current = id >>> 0;
        return R.Ok;
      },
      'env.proxy_done': () => R.NotFound,
      'env.proxy_call_foreign_function': () => R.NotFound,
      'env.proxy_continue_stream': (type: number) => (type >>> 0 > 3 ? R.BadArgument : R.Ok),
      'env.proxy_close_stream': (type: number) => {
        if (type >>> 0 > 3) return R.BadArgument;
        const stream = this.stream();
        if (stream) stream.closed = true;
        return R.Ok;
      },
      'env.proxy_continue_request': () => R.Ok,
      'env.proxy_continue_response': () => R.Ok,
      'env.proxy_clear_route_cache': () => R.Ok,
      'env.proxy_get_configuration': (ptrPtr: number, sizePtr: number) => {
        const buffer = this.buffer(BufferType.PluginConfiguration);
        return buffer ? this.copyOut(buffer, ptrPtr, sizePtr) : R.NotFound;
      },
      'env.pthread_equal': (a: number, b: number) => (a === b ? 1 : 0),
      'env.emscripten_notify_memory_growth': () => undefined,
      'env.envoy_resolve_dns': () => R.BadArgument,
      ...wasiFunctions({
        read: (ptr, size) => this.read(ptr, size),
        write: (ptr, data) => this.write(ptr, data),
        writeU32: (ptr, value) => this.writeU32(ptr, value),
        writeU64: (ptr, value) => this.writeU64(ptr, value),
        log: (level, message, origin) => this.log(level, message, this.current ?? 0, origin),
        env: this.env,
      }),
    };
  }

  private mutateMap(type: number, keyPtr: number, keySize: number, apply: (map: HeaderMap, key: Buffer) => number): number {
    if (type >>> 0 > 7) return WasmResult.BadArgument;
    const map = this.map(type, 'write');
    if (!map) return WasmResult.BadArgument;
    const key = this.read(keyPtr, keySize);
    if (!key) return WasmResult.InvalidMemoryAccess;
    return apply(map, key);
  }

  private buffer(type: number): Buffer | undefined {
    const state = this.state();
    return state?.kind === 'root' ? state.buffers.get(type) : undefined;
  }

  private metric(id: number): { type: number; value: bigint } | undefined {
    const name = this.metricIds.get(id >>> 0);
    return name === undefined ? undefined : this.env.metrics.get(name);
  }
}
