// A minimal proxy-wasm host for timing: only the calls the filter and the floor module import, each
// as cheap as JavaScript allows, so that what is measured is the module and not the host (the
// Envoy-faithful host in host/ costs several microseconds per request; this one a fraction of one).
// It mimics Envoy's call order and answers (NotFound for an absent property or header), not its
// checks: tests/bench.test.ts requires it to reach the Envoy-faithful host's outcome in every
// scenario the benchmark runs.

const OK = 0;
const NOT_FOUND = 1;
const BAD_ARGUMENT = 2;
const PLUGIN_CONFIGURATION = 7;
const VM_CONFIGURATION = 6;
const CONTINUE = 0;
// A request header read as a property (request.headers.<name>).
const REQUEST_HEADER = 'request\0headers\0';

export interface LeanRequest {
  // Property values by their NUL-separated path; absent properties answer NotFound.
  properties: Map<string, Uint8Array>;
  // Request headers, lower-case names, values encoded.
  headers: [string, Uint8Array][];
}

export interface LeanOutcome {
  // 200 when the request continued, else the local reply's status.
  status: number;
  // The request headers as the filter left them.
  headers: Map<string, Uint8Array>;
  logs: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function headerText(outcome: LeanOutcome, name: string): string | undefined {
  const value = outcome.headers.get(name);
  return value === undefined ? undefined : decoder.decode(value);
}

export function leanRequest(properties: Record<string, string>, headers: [string, string][]): LeanRequest {
  return {
    properties: new Map(Object.entries(properties).map(([k, v]) => [k, encoder.encode(v)])),
    headers: headers.map(([k, v]) => [k, encoder.encode(v)]),
  };
}

export class LeanHost {
  private bytes: Uint8Array;
  private view: DataView;
  private readonly exports: Record<string, (...args: number[]) => number> & { memory: WebAssembly.Memory };
  private configuration: Uint8Array = new Uint8Array(0);
  private request: LeanRequest | null = null;
  private headers = new Map<string, Uint8Array>();
  // The request's filter state, as Envoy keeps what proxy_set_property sets.
  private filterState = new Map<string, Uint8Array>();
  private replyStatus = 0;
  private logs = 0;
  private nextMetric = 1;
  readonly metrics = new Map<number, bigint>();
  readonly metricNames = new Map<number, string>();
  // Names the module passes by pointer: decoded once per (pointer, length) while the bytes agree.
  private readonly names = new Map<number, { bytes: Uint8Array; text: string }>();
  private nextContext = 2;
  readonly rootContext = 1;
  nowNs = 1_800_000_000_000_000_000n;

  private constructor(instance: WebAssembly.Instance) {
    this.exports = instance.exports as never;
    this.bytes = new Uint8Array(this.exports.memory.buffer);
    this.view = new DataView(this.exports.memory.buffer);
  }

  static async load(binary: Uint8Array): Promise<LeanHost> {
    let host: LeanHost | null = null;
    const self = () => host!;
    const env = {
      proxy_log: (_level: number, _ptr: number, _size: number) => {
        self().logs++;
        return OK;
      },
      proxy_get_buffer_bytes: (type: number, start: number, length: number, ptrPtr: number, sizePtr: number) =>
        self().buffer(type, start, length, ptrPtr, sizePtr),
      proxy_get_property: (pathPtr: number, pathSize: number, ptrPtr: number, sizePtr: number) => self().property(pathPtr, pathSize, ptrPtr, sizePtr),
      proxy_send_local_response: (status: number) => {
        self().replyStatus = status;
        return OK;
      },
      proxy_define_metric: (_type: number, namePtr: number, nameSize: number, idPtr: number) => self().defineMetric(namePtr, nameSize, idPtr),
      proxy_record_metric: (id: number, value: bigint) => {
        self().metrics.set(id, value);
        return OK;
      },
      proxy_increment_metric: (id: number, delta: bigint) => {
        const metrics = self().metrics;
        metrics.set(id, (metrics.get(id) ?? 0n) + delta);
        return OK;
      },
      proxy_get_header_map_value: (_type: number, keyPtr: number, keySize: number, ptrPtr: number, sizePtr: number) =>
        self().header(keyPtr, keySize, ptrPtr, sizePtr),
      proxy_remove_header_map_value: (_type: number, keyPtr: number, keySize: number) => {
        self().headers.delete(self().name(keyPtr, keySize));
        return OK;
      },
      proxy_replace_header_map_value: (_type: number, keyPtr: number, keySize: number, valuePtr: number, valueSize: number) => {
        const h = self();
        h.headers.set(h.name(keyPtr, keySize), h.memory().slice(valuePtr, valuePtr + valueSize));
        return OK;
      },
      proxy_set_property: (pathPtr: number, pathSize: number, valuePtr: number, valueSize: number) => {
        const h = self();
        h.filterState.set(h.name(pathPtr, pathSize), h.memory().slice(valuePtr, valuePtr + valueSize));
        return OK;
      },
      proxy_get_current_time_nanoseconds: (ptr: number) => {
        self().refresh().view.setBigUint64(ptr, self().nowNs, true);
        return OK;
      },
    };
    const wasi = {
      proc_exit: (code: number) => {
        throw new Error(`proc_exit(${code})`);
      },
    };
    const instance = await WebAssembly.instantiate(new WebAssembly.Module(binary as Uint8Array<ArrayBuffer>), { env, wasi_snapshot_preview1: wasi });
    host = new LeanHost(instance);
    (host.exports._initialize as (() => void) | undefined)?.();
    return host;
  }

  get wasm(): WebAssembly.Exports {
    return this.exports;
  }

  // Creates the root context and configures it; whether the module took the configuration.
  configure(configuration: Uint8Array): boolean {
    this.configuration = configuration;
    if (!this.started) {
      this.exports.proxy_on_context_create(this.rootContext, 0);
      this.exports.proxy_on_vm_start(this.rootContext, 0);
      this.started = true;
    }
    return this.exports.proxy_on_configure(this.rootContext, configuration.length) !== 0;
  }

  private started = false;

  // One request through a fresh stream context, as Envoy calls it.
  send(request: LeanRequest): LeanOutcome {
    this.request = request;
    this.headers = new Map(request.headers);
    this.filterState = new Map();
    this.replyStatus = 0;
    this.logs = 0;
    const context = this.nextContext++;
    this.exports.proxy_on_context_create(context, this.rootContext);
    const status = this.exports.proxy_on_request_headers(context, this.headers.size, 1);
    this.exports.proxy_on_done?.(context);
    this.exports.proxy_on_delete?.(context);
    const outcome = { status: this.replyStatus !== 0 ? this.replyStatus : status === CONTINUE ? 200 : 500, headers: this.headers, logs: this.logs };
    this.request = null;
    return outcome;
  }

  memoryBytes(): number {
    return this.exports.memory.buffer.byteLength;
  }

  private refresh(): this {
    if (this.bytes.buffer !== this.exports.memory.buffer) {
      this.bytes = new Uint8Array(this.exports.memory.buffer);
      this.view = new DataView(this.exports.memory.buffer);
    }
    return this;
  }

  private memory(): Uint8Array {
    return this.refresh().bytes;
  }

  private name(ptr: number, size: number): string {
    const key = ptr * 65536 + size;
    const cached = this.names.get(key);
    const memory = this.memory();
    if (cached) {
      let same = true;
      for (let i = 0; i < size; i++) {
        if (memory[ptr + i] !== cached.bytes[i]) {
          same = false;
          break;
        }
      }
      if (same) return cached.text;
    }
    const bytes = memory.slice(ptr, ptr + size);
    const text = decoder.decode(bytes);
    this.names.set(key, { bytes, text });
    return text;
  }

  // Copies a value into memory the module allocates, as Envoy does, and writes its address and size.
  private give(value: Uint8Array, ptrPtr: number, sizePtr: number): number {
    const ptr = this.exports.malloc(value.length);
    const memory = this.memory();
    memory.set(value, ptr);
    this.view.setUint32(ptrPtr, ptr, true);
    this.view.setUint32(sizePtr, value.length, true);
    return OK;
  }

  private property(pathPtr: number, pathSize: number, ptrPtr: number, sizePtr: number): number {
    const path = this.name(pathPtr, pathSize);
    if (path === 'plugin_root_id') return this.give(new Uint8Array(0), ptrPtr, sizePtr);
    if (path.startsWith(REQUEST_HEADER)) {
      const header = this.headers.get(path.slice(REQUEST_HEADER.length));
      return header === undefined ? NOT_FOUND : this.give(header, ptrPtr, sizePtr);
    }
    const value = this.request?.properties.get(path);
    return value === undefined ? NOT_FOUND : this.give(value, ptrPtr, sizePtr);
  }

  private header(keyPtr: number, keySize: number, ptrPtr: number, sizePtr: number): number {
    const value = this.headers.get(this.name(keyPtr, keySize));
    return value === undefined ? NOT_FOUND : this.give(value, ptrPtr, sizePtr);
  }

  private buffer(type: number, start: number, length: number, ptrPtr: number, sizePtr: number): number {
    if (type === VM_CONFIGURATION) return this.give(new Uint8Array(0), ptrPtr, sizePtr);
    if (type !== PLUGIN_CONFIGURATION) return NOT_FOUND;
    if (start > this.configuration.length) return BAD_ARGUMENT;
    return this.give(this.configuration.subarray(start, Math.min(this.configuration.length, start + length)), ptrPtr, sizePtr);
  }

  private defineMetric(namePtr: number, nameSize: number, idPtr: number): number {
    const name = decoder.decode(this.memory().subarray(namePtr, namePtr + nameSize));
    let id = [...this.metricNames].find(([, n]) => n === name)?.[0];
    if (id === undefined) {
      id = this.nextMetric++;
      this.metricNames.set(id, name);
    }
    this.view.setUint32(idPtr, id, true);
    return OK;
  }
}
