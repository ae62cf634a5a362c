// An Envoy-faithful proxy-wasm host for one worker thread: loads a module the way Envoy does
// (import/export checks, start functions, a canary VM per configuration), runs HTTP streams through
// the filter with Envoy's call order and local-reply rules, and applies the fail policy after a trap.
// The contract is ../shared/ENVOY-FACTS.md; the section numbers below refer to it.
import { readFile } from 'node:fs/promises';
import {
  ABI_MARKERS,
  BufferType,
  EXPORT_SIGNATURES,
  LOG_LEVELS,
  MapType,
  WASI,
  WASI_MODULES,
  envImports,
  type AbiVersion,
  type LogLevel,
} from './abi.js';
import type { Connection } from './connection.js';
import { HeaderMap, type Header } from './header-map.js';
import { formatFuncType, readModuleShape, sameFuncType, type ModuleShape } from './wasm-binary.js';
import { HostEnvironment, HostLoadError, WasmVm, type LocalReply, type LogEntry, type PluginIdentity, type RootState, type StreamState } from './vm.js';

export type FailurePolicy = 'FAIL_CLOSED' | 'FAIL_OPEN';

export interface HostOptions {
  /** Envoy's plugin name (Istio: `<namespace>.<name>`). */
  pluginName?: string;
  /** Envoy's root_id (Istio: WasmPlugin.pluginName, empty when unset). */
  rootId?: string;
  vmId?: string;
  vmConfiguration?: string;
  /** What happens after the VM traps (§7). Default FAIL_CLOSED, Istio's default. */
  failurePolicy?: FailurePolicy;
  /** Validate each configuration in a throwaway canary VM first, as Envoy does. Default true. */
  canary?: boolean;
  /** The level proxy_get_log_level reports. */
  logLevel?: LogLevel;
  /** VM environment variables (environ_get). */
  env?: Record<string, string>;
  /** The clock, in nanoseconds since the epoch; default: now. */
  now?: bigint;
}

export interface RequestSpec {
  connection: Connection;
  /** Request headers; pseudo-headers given here override the defaults below. */
  headers?: Header[] | Record<string, string>;
  authority?: string;
  path?: string;
  method?: string;
  /** Request body; when present the headers callback gets end_of_stream = 0 and a body callback follows. */
  body?: string;
  /** The upstream's answer to a forwarded request. Default: 200 with an empty body. */
  upstream?: Upstream;
}

export interface UpstreamAnswer {
  status: number;
  headers?: Header[];
  body?: string;
}

export type Upstream = (headers: Header[]) => UpstreamAnswer;

const okUpstream: Upstream = () => ({ status: 200 });

export interface ResponseView {
  status: number;
  headers: Header[];
  body: string;
  /** Response code details (%RESPONSE_CODE_DETAILS%): the filter's, or Envoy's own. */
  details: string;
  /** True when the filter (or Envoy on its behalf) answered instead of the upstream. */
  local: boolean;
}

export interface RequestOutcome {
  /** continued: forwarded upstream; local_reply: answered without the upstream; paused: stopped without an answer. */
  action: 'continued' | 'local_reply' | 'paused' | 'reset';
  /** The request headers as they left for the upstream (after the filter's changes). */
  upstreamHeaders?: Header[];
  response: ResponseView;
  /** The local reply exactly as the filter asked for it, before Envoy completed the headers. */
  localReply?: { status: number; details: string; body: string; headers: Header[]; grpcStatus: number };
  /** Host calls made while this request ran, by "module.name". */
  hostCalls: Record<string, number>;
  logs: LogEntry[];
}

// FilterHeadersStatus values as Envoy maps them (§1.4): 0 Continue, 1 StopIteration, 2 falls back
// to Continue, 3 StopAllIterationAndBuffer, 4+ StopAllIterationAndWatermark.
const headersContinue = (value: number) => value === 0 || value === 2;

const GRPC_FROM_HTTP: Record<number, number> = { 400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14 };

/** Envoy's checks when it loads a module (§1.1–§1.3); throws HostLoadError with Envoy's message. */
export function checkModule(shape: ModuleShape): AbiVersion {
  const exported = new Map(shape.exports.map((e) => [e.name, e]));
  const marker = ABI_MARKERS.find(([name]) => exported.get(name)?.kind === 'function');
  if (!marker) throw new HostLoadError('Missing or unknown Proxy-Wasm ABI version');
  const abi = marker[1];
  const env = envImports(abi);
  for (const entry of shape.imports) {
    if (entry.kind === 'memory' || entry.kind === 'table') continue;
    const key = `${entry.module}.${entry.name}`;
    const want = entry.module === 'env' ? env[entry.name] : WASI_MODULES.includes(entry.module) ? WASI[entry.name] : undefined;
    if (entry.kind === 'global' || !want) throw new HostLoadError(`Failed to load Wasm module due to a missing import: ${key}`);
    if (!sameFuncType(want, entry.type!)) {
      throw new HostLoadError(
        `Failed to load Wasm module due to an import type mismatch for ${key}, want: ${formatFuncType(entry.type!)}, but host exports: ${formatFuncType(want)}`,
      );
    }
  }
  for (const [name, want] of Object.entries(EXPORT_SIGNATURES)) {
    const entry = exported.get(name);
    if (entry?.kind === 'function' && !sameFuncType(want, entry.type!)) throw new HostLoadError(`Bad function signature for: ${name}`);
  }
  if (exported.get('malloc')?.kind !== 'function' && exported.get('proxy_on_memory_allocate')?.kind !== 'function') {
    throw new HostLoadError('Wasm module is missing malloc function.');
  }
  return abi;
}

export class EnvoyHost {
  readonly environment: HostEnvironment;
  private worker: WasmVm;
  private readonly plugins: Plugin[] = [];
  readonly defaultPlugin: Plugin;

  private constructor(
    private readonly module: WebAssembly.Module,
    private readonly shape: ModuleShape,
    private readonly abi: AbiVersion,
    readonly options: HostOptions,
  ) {
    this.environment = new HostEnvironment({ now: options.now, logLevel: options.logLevel, env: options.env });
    this.worker = this.startVm('worker');
    this.defaultPlugin = this.plugin(options);
  }

  /** Loads a module from a path or bytes; throws HostLoadError where Envoy would refuse it. */
  static async load(source: string | Uint8Array, options: HostOptions = {}): Promise<EnvoyHost> {
    const bytes = typeof source === 'string' ? await readFile(source) : source;
    const shape = readModuleShape(bytes);
    const abi = checkModule(shape);
    const module = await WebAssembly.compile(new Uint8Array(bytes));
    return new EnvoyHost(module, shape, abi, options);
  }

  startVm(name: string): WasmVm {
    return WasmVm.start(this.module, this.shape, this.abi, this.environment, name);
  }

  /** Another plugin (root context) in the same worker VM, as two WasmPlugins with one module get. */
  plugin(options: Pick<HostOptions, 'pluginName' | 'rootId' | 'vmId' | 'vmConfiguration'> = {}): Plugin {
    const plugin = new Plugin(this, {
      pluginName: options.pluginName ?? 'cert-allowlist',
      rootId: options.rootId ?? '',
      vmId: options.vmId ?? '',
    }, Buffer.from(options.vmConfiguration ?? this.options.vmConfiguration ?? ''));
    this.plugins.push(plugin);
    return plugin;
  }

  /** The worker VM; replaced by a fresh one when a configuration change follows a failure (§7). */
  get vm(): WasmVm {
    return this.worker;
  }

  replaceFailedWorker(): void {
    if (this.worker.failed) this.worker = this.startVm('worker');
  }

  configure(configuration: string | Uint8Array): boolean {
    return this.defaultPlugin.configure(configuration);
  }

  request(spec: RequestSpec): RequestOutcome {
    return this.defaultPlugin.request(spec);
  }

  get vmFailed(): boolean {
    return this.worker.failed;
  }

  get logs(): LogEntry[] {
    return this.environment.logs;
  }

  /** Log lines at `level` or above. */
  logsAtLeast(level: LogLevel): LogEntry[] {
    const min = LOG_LEVELS.indexOf(level);
    return this.environment.logs.filter((entry) => LOG_LEVELS.indexOf(entry.level) >= min);
  }

  clearLogs(): void {
    this.environment.logs = [];
  }

  /** A custom metric's value by the name the filter defined. */
  metric(name: string): bigint | undefined {
    return this.environment.metrics.get(name)?.value;
  }

  memoryBytes(): number {
    return this.worker.memoryBytes();
  }

  setTime(time: Date | bigint): void {
    this.environment.nowNs = typeof time === 'bigint' ? time : BigInt(time.getTime()) * 1_000_000n;
  }
}

export class Plugin {
  /** The worker VM's root context serving requests, or null before a configuration was accepted. */
  private rootContext: number | null = null;
  private rootVm: WasmVm | null = null;

  constructor(
    private readonly host: EnvoyHost,
    readonly identity: PluginIdentity,
    private readonly vmConfiguration: Buffer,
  ) {}

  /**
   * Applies a configuration as an xDS update: validated in a canary VM first; if refused there,
   * the running configuration stays untouched (Envoy NACKs the update). If accepted, a new root
   * context takes over in the worker VM and the previous one is retired.
   */
  configure(configuration: string | Uint8Array): boolean {
    const bytes = Buffer.from(configuration);
    if (this.host.options.canary !== false) {
      let canary: WasmVm;
      try {
        canary = this.host.startVm('canary');
      } catch (error) {
        if (error instanceof HostLoadError) return false;
        throw error;
      }
      if (this.startRoot(canary, bytes) === null) return false;
    }
    this.host.replaceFailedWorker();
    const vm = this.host.vm;
    const previous = this.rootVm === vm ? this.rootContext : null;
    const root = this.startRoot(vm, bytes);
    if (root === null) return this.host.options.canary === false ? false : true;
    this.rootContext = root;
    this.rootVm = vm;
    if (previous !== null) {
      const done = vm.call('proxy_on_done', [previous], previous);
      if (!done.trapped) vm.call('proxy_on_delete', [previous], previous);
      vm.contexts.delete(previous);
    }
    return true;
  }

  // on_context_create(root, 0) → on_vm_start → on_configure (§1.4). Returns the id, or null if refused.
  private startRoot(vm: WasmVm, configuration: Buffer): number | null {
    const id = vm.newContextId();
    const state: RootState = { kind: 'root', plugin: this.identity, buffers: new Map(), filterState: new Map() };
    vm.contexts.set(id, state);
    const refuse = () => {
      vm.contexts.delete(id);
      return null;
    };
    if (vm.call('proxy_on_context_create', [id, 0], id).trapped) return refuse();
    state.buffers.set(BufferType.VmConfiguration, this.vmConfiguration);
    const started = vm.call('proxy_on_vm_start', [id, this.vmConfiguration.length], id);
    state.buffers.clear();
    if (started.trapped || started.value === 0) return refuse();
    state.buffers.set(BufferType.PluginConfiguration, configuration);
    const configured = vm.call('proxy_on_configure', [id, configuration.length], id);
    state.buffers.clear();
    if (configured.trapped || configured.value === 0) return refuse();
    return id;
  }

  /** Runs one HTTP stream through the filter (§1.4, §5, §6, §7). */
  request(spec: RequestSpec): RequestOutcome {
    const env = this.host.environment;
    const logStart = env.logs.length;
    env.hostCalls = new Map();
    const vm = this.host.vm;
    const finish = (outcome: Omit<RequestOutcome, 'hostCalls' | 'logs'>): RequestOutcome => ({
      ...outcome,
      hostCalls: Object.fromEntries(env.hostCalls),
      logs: env.logs.slice(logStart),
    });
    const request = HeaderMap.fromStrings(requestHeaders(spec));
    const failPolicy = this.host.options.failurePolicy ?? 'FAIL_CLOSED';
    if (this.rootContext === null || this.rootVm !== vm) {
      // No accepted configuration on this worker: Envoy would not have installed the filter.
      if (this.rootVm === null) throw new Error('no configuration has been accepted for this plugin');
    }
    if (vm.failed || this.rootVm !== vm) {
      // §7: after a trap, FAIL_CLOSED answers 503 without calling the VM; FAIL_OPEN skips the filter.
      return finish(failPolicy === 'FAIL_OPEN' ? forward(spec, request) : failStream());
    }
    const root = this.rootContext!;
    const id = vm.newContextId();
    const stream: StreamState = {
      kind: 'stream',
      root,
      connection: spec.connection,
      request,
      response: null,
      access: {},
      inLog: false,
      localReply: null,
      closed: false,
      filterState: new Map(),
    };
    vm.contexts.set(id, stream);
    const trapped = (): RequestOutcome => {
      vm.contexts.delete(id);
      return finish(failPolicy === 'FAIL_OPEN' ? forward(spec, request) : failStream());
    };

    if (vm.call('proxy_on_context_create', [id, root], id).trapped) return trapped();
    const hasBody = spec.body !== undefined;
    stream.access[MapType.RequestHeaders] = 'write';
    const headers = vm.call('proxy_on_request_headers', [id, request.pairs.length, hasBody ? 0 : 1], id);
    stream.access[MapType.RequestHeaders] = 'none';
    if (headers.trapped) return trapped();

    let action: RequestOutcome['action'];
    let response: ResponseView;
    let upstreamHeaders: Header[] | undefined;
    const filterReply = stream.localReply as LocalReply | null;
    if (stream.closed) {
      action = 'reset';
      response = { status: 0, headers: [], body: '', details: 'wasm_close_stream', local: true };
    } else if (filterReply) {
      action = 'local_reply';
      response = localReplyResponse(filterReply, request);
    } else if (!headersContinue(headers.value)) {
      action = 'paused';
      response = { status: 0, headers: [], body: '', details: '', local: false };
    } else {
      if (hasBody) {
        const body = vm.call('proxy_on_request_body', [id, Buffer.byteLength(spec.body!), 1], id);
        if (body.trapped) return trapped();
      }
      action = 'continued';
      upstreamHeaders = request.toStrings();
      const answer = (spec.upstream ?? okUpstream)(upstreamHeaders);
      response = {
        status: answer.status,
        headers: [[':status', String(answer.status)], ...(answer.headers ?? [])],
        body: answer.body ?? '',
        details: 'via_upstream',
        local: false,
      };
    }

    // The response, the filter's own local reply included, passes through the encode path.
    if (action === 'continued' || action === 'local_reply') {
      stream.response = HeaderMap.fromStrings(response.headers);
      stream.access[MapType.ResponseHeaders] = 'write';
      const eos = response.body.length === 0 ? 1 : 0;
      const result = vm.call('proxy_on_response_headers', [id, stream.response.pairs.length, eos], id);
      stream.access[MapType.ResponseHeaders] = 'none';
      if (result.trapped) return trapped();
      if (!eos && vm.call('proxy_on_response_body', [id, Buffer.byteLength(response.body), 1], id).trapped) return trapped();
      response.headers = stream.response.toStrings();
    }

    // Stream end in current Envoy: access log first, then done, then delete (§1.4).
    stream.inLog = true;
    stream.access[MapType.RequestHeaders] = 'read';
    if (stream.response) stream.access[MapType.ResponseHeaders] = 'read';
    if (vm.call('proxy_on_log', [id], id).trapped) return trapped();
    stream.access = {};
    if (vm.call('proxy_on_done', [id], id).trapped) return trapped();
    if (vm.call('proxy_on_delete', [id], id).trapped) return trapped();
    vm.contexts.delete(id);

    return finish({
      action,
      upstreamHeaders,
      response,
      localReply: filterReply
        ? {
            status: filterReply.status,
            details: filterReply.details,
            body: filterReply.body.toString('utf8'),
            headers: filterReply.headers.map(([k, v]) => [k.toString('utf8'), v.toString('utf8')] as Header),
            grpcStatus: filterReply.grpcStatus | 0,
          }
        : undefined,
    });
  }
}

function requestHeaders(spec: RequestSpec): Header[] {
  const given: Header[] = Array.isArray(spec.headers) ? spec.headers : Object.entries(spec.headers ?? {});
  const pseudo: Header[] = [
    [':authority', spec.authority ?? 'localhost'],
    [':path', spec.path ?? '/'],
    [':method', spec.method ?? (spec.body === undefined ? 'GET' : 'POST')],
    [':scheme', spec.connection.kind === 'plaintext' ? 'http' : 'https'],
  ];
  const overridden = new Set(given.filter(([k]) => k.startsWith(':')).map(([k]) => k.toLowerCase()));
  return [
    ...pseudo.filter(([k]) => !overridden.has(k)),
    ...given.filter(([k]) => k.startsWith(':')),
    ...given.filter(([k]) => !k.startsWith(':')),
  ];
}

function forward(spec: RequestSpec, request: HeaderMap): Omit<RequestOutcome, 'hostCalls' | 'logs'> {
  const upstreamHeaders = request.toStrings();
  const answer = (spec.upstream ?? okUpstream)(upstreamHeaders);
  return {
    action: 'continued',
    upstreamHeaders,
    response: {
      status: answer.status,
      headers: [[':status', String(answer.status)], ...(answer.headers ?? [])],
      body: answer.body ?? '',
      details: 'via_upstream',
      local: false,
    },
  };
}

// Envoy's own reply for a stream whose VM failed (§6): 503, empty body, gRPC UNAVAILABLE.
function failStream(): Omit<RequestOutcome, 'hostCalls' | 'logs'> {
  return {
    action: 'local_reply',
    response: { status: 503, headers: [[':status', '503']], body: '', details: 'wasm_fail_stream', local: true },
  };
}

// How Envoy completes a filter's local reply (§6): `:status` first, the filter's headers appended,
// content-length and a default content-type for a body, neither without one; gRPC requests get a
// trailers-only reply; HEAD requests no body.
function localReplyResponse(reply: LocalReply, request: HeaderMap): ResponseView {
  const headers = new HeaderMap([[Buffer.from(':status'), Buffer.from(String(reply.status))]]);
  for (const [k, v] of reply.headers) headers.add(k, v);
  let body = reply.body.toString('utf8');
  let status = reply.status;
  if ((request.getString('content-type') ?? '').startsWith('application/grpc')) {
    const grpc = reply.grpcStatus <= 16 ? reply.grpcStatus : (GRPC_FROM_HTTP[reply.status] ?? 2);
    status = 200;
    headers.replace(':status', '200');
    headers.replace('content-type', 'application/grpc');
    headers.replace('grpc-status', String(grpc));
    if (body) headers.replace('grpc-message', body);
    headers.remove('content-length');
    body = '';
  } else if (body.length > 0) {
    headers.replace('content-length', String(reply.body.length));
    if (!headers.get('content-type')) headers.add('content-type', 'text/plain');
  } else {
    headers.remove('content-length');
    headers.remove('content-type');
  }
  if (request.getString(':method') === 'HEAD') body = '';
  return { status, headers: headers.toStrings(), body, details: reply.details, local: true };
}
