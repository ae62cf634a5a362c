// An Envoy-faithful proxy-wasm host for one worker thread: loads a module the way Envoy does
// (import/export checks, start functions, a canary VM per configuration), runs HTTP streams through
// the filter with Envoy's call order and local-reply rules, and applies the fail policy after a trap.
// The contract is docs/host-contract.md; tests/differential.test.ts holds it to real Envoy.
import { readFile } from 'node:fs/promises';
import { ABI_MARKERS, BufferType, EXPORT_SIGNATURES, LOG_LEVELS, WASI, WASI_MODULES, envImports, type AbiVersion, type LogLevel } from './abi.js';
import { formatFuncType, readModuleShape, sameFuncType, type ModuleShape } from './wasm-binary.js';
import { HttpStream, okUpstream, type HostOptions, type RequestOutcome, type RequestSpec, type ResponseView } from './http-stream.js';
import { HostEnvironment, HostLoadError, WasmVm, type LogEntry, type PluginIdentity, type RootState } from './vm.js';

export type { FailurePolicy, HostOptions, RequestOutcome, RequestSpec, ResponseView, Upstream, UpstreamAnswer } from './http-stream.js';

/** Envoy's checks when it loads a module; throws HostLoadError with Envoy's message. */
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
    readonly options: HostOptions,
  ) {
    this.environment = new HostEnvironment({ now: options.now, logLevel: options.logLevel, env: options.env, envoyVersion: options.envoyVersion });
    this.worker = this.startVm('worker');
    this.defaultPlugin = this.plugin(options);
  }

  /** Loads a module from a path or bytes; throws HostLoadError where Envoy would refuse it. */
  static async load(source: string | Uint8Array, options: HostOptions = {}): Promise<EnvoyHost> {
    const bytes = typeof source === 'string' ? await readFile(source) : source;
    const shape = readModuleShape(bytes);
    checkModule(shape);
    const module = await WebAssembly.compile(new Uint8Array(bytes));
    return new EnvoyHost(module, shape, options);
  }

  startVm(name: string): WasmVm {
    return WasmVm.start(this.module, this.shape, this.environment, name);
  }

  /** Another plugin (root context) in the same worker VM, as two WasmPlugins with one module get. */
  plugin(options: Pick<HostOptions, 'pluginName' | 'rootId' | 'vmId' | 'vmConfiguration'> = {}): Plugin {
    const plugin = new Plugin(
      this,
      {
        pluginName: options.pluginName ?? 'cert-allowlist',
        rootId: options.rootId ?? '',
        vmId: options.vmId ?? '',
      },
      Buffer.from(options.vmConfiguration ?? this.options.vmConfiguration ?? ''),
    );
    this.plugins.push(plugin);
    return plugin;
  }

  /** The worker VM; replaced by a fresh one when a configuration change follows a failure. */
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

// FAIL_RELOAD's backoff before a failed VM is replaced (Envoy's reload_config.backoff base, 1 s; Envoy
// jitters it, the host does not).
const RELOAD_BACKOFF_NS = 1_000_000_000n;

export class Plugin {
  /** The worker VM's root context serving requests; null when the worker refused what the canary accepted. */
  private rootContext: number | null = null;
  private rootVm: WasmVm | null = null;
  /** The configuration the worker serves, for a FAIL_RELOAD VM to start again with. */
  private accepted: Buffer | null = null;

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
    if (root === null && this.host.options.canary === false) return false;
    if (root === null) {
      // The canary accepted what this worker refused or trapped on: Envoy gives the worker no plugin
      // handle, and PluginConfig::createContext then leaves the filter out of the chain whatever the
      // failure policy — this worker's requests pass unfiltered.
      vm.log('error', 'Failed to configure thread-local Wasm plugin', 0, 'envoy');
    }
    this.rootContext = root;
    this.rootVm = vm;
    this.accepted = bytes;
    if (previous !== null && !vm.failed) {
      const done = vm.call('proxy_on_done', [previous], previous);
      if (!done.trapped) vm.call('proxy_on_delete', [previous], previous);
      vm.contexts.delete(previous);
    }
    return true;
  }

  // on_context_create(root, 0) → on_vm_start → on_configure. Returns the id, or null if refused.
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

  /** Opens an HTTP stream that a proxy drives phase by phase. */
  open(spec: RequestSpec): HttpStream {
    const env = this.host.environment;
    const options = this.host.options;
    const afterTrap = options.failOpen ? 'continue' : 'fail_stream';
    // No configuration was ever accepted: Istio's ECDS filter has none, and the connection manager
    // answers 500 to every request on the listener.
    if (this.rootVm === null) return new HttpStream(env, null, 0, 'missing_config', afterTrap, spec);
    this.reloadIfDue();
    const vm = this.host.vm;
    // No plugin handle on this worker: the filter is not in the chain at all.
    if (this.rootContext === null && this.rootVm === vm) return new HttpStream(env, null, 0, 'continue', afterTrap, spec);
    // After a trap Envoy stops calling the VM; a configuration change brings a fresh one, and so does
    // FAIL_RELOAD once its backoff has passed.
    const usable = !vm.failed && this.rootVm === vm && this.rootContext !== null;
    const absence = options.failOpen || options.failurePolicy === 'FAIL_OPEN' ? 'continue' : 'fail_stream';
    return new HttpStream(env, usable ? vm : null, this.rootContext ?? 0, absence, afterTrap, spec);
  }

  // FAIL_RELOAD: a VM that failed at run time is replaced by a fresh one, started and configured with
  // the configuration it served, on the first request after the backoff.
  private reloadIfDue(): void {
    const vm = this.host.vm;
    if (this.host.options.failurePolicy !== 'FAIL_RELOAD' || !vm.failed || this.accepted === null) return;
    if (this.host.environment.nowNs - vm.failedAtNs < RELOAD_BACKOFF_NS) return;
    this.host.replaceFailedWorker();
    this.rootVm = this.host.vm;
    this.rootContext = this.startRoot(this.host.vm, this.accepted);
  }

  /** Runs one HTTP stream through the filter, with `spec.upstream` answering forwarded requests. */
  request(spec: RequestSpec): RequestOutcome {
    const logStart = this.host.environment.logs.length;
    const stream = this.open(spec);
    let decision = stream.decodeHeaders();
    if (decision.action === 'continued' && spec.body !== undefined) decision = stream.decodeBody(Buffer.byteLength(spec.body));
    let response: ResponseView;
    if (decision.action === 'continued') {
      const answer = (spec.upstream ?? okUpstream)(decision.upstreamHeaders!);
      const body = answer.body ?? '';
      const headers = stream.encodeHeaders(answer.status, answer.headers ?? [], Buffer.byteLength(body));
      response = { status: answer.status, headers, body, details: 'via_upstream', local: false };
    } else {
      response = decision.response;
    }
    stream.finish();
    return {
      action: decision.action,
      upstreamHeaders: decision.upstreamHeaders,
      response,
      localReply: decision.localReply,
      hostCalls: stream.hostCalls(),
      logs: this.host.environment.logs.slice(logStart),
      filterState: stream.filterState(),
    };
  }
}
