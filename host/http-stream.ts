// One HTTP stream through the filter, phase by phase as Envoy's HTTP connection manager drives it
// (Envoy's wasm filter and context.cc): request headers (and body), then the response — the upstream's or
// the local reply — then access log, done, delete. A proxy calls the phases as the traffic flows;
// `Plugin.request` runs them all at once.
import { MapType, type LogLevel } from './abi.js';
import type { Connection } from './connection.js';
import { HeaderMap, type Header, type RawHeader } from './header-map.js';
import type { HostEnvironment, LocalReply, LogEntry, StreamState, WasmVm } from './vm.js';

/** Envoy's failure_policy for the plugin (Istio's WasmPlugin failStrategy). */
export type FailurePolicy = 'FAIL_CLOSED' | 'FAIL_OPEN' | 'FAIL_RELOAD';

/**
 * What a stream without a usable VM gets: it continues as if the filter were absent; Envoy's
 * fail-closed 503 `wasm_fail_stream`; or, when no configuration was ever accepted over ECDS, the
 * connection manager's 500 for a filter without configuration.
 */
export type Absence = 'continue' | 'fail_stream' | 'missing_config';

export interface HostOptions {
  /** Envoy's plugin name (Istio: `<namespace>.<name>`). */
  pluginName?: string;
  /** Envoy's root_id (Istio: WasmPlugin.pluginName, empty when unset). */
  rootId?: string;
  vmId?: string;
  vmConfiguration?: string;
  /** What happens after the VM traps. Default FAIL_CLOSED, Istio's default. */
  failurePolicy?: FailurePolicy;
  /**
   * The legacy `fail_open` flag (an EnvoyFilter may set it instead of failure_policy): the request
   * whose callback trapped continues, and so do later ones.
   */
  failOpen?: boolean;
  /**
   * Validate each configuration in a throwaway canary VM first, as Envoy does. Default true. Without
   * it the worker refuses a bad configuration itself, and the refused root context stays in the
   * worker VM, as in Envoy when a worker alone refuses: fine for a few refusals, not for thousands.
   */
  canary?: boolean;
  /** The level proxy_get_log_level reports. */
  logLevel?: LogLevel;
  /** VM environment variables (environ_get). */
  env?: Record<string, string>;
  /** The clock, in nanoseconds since the epoch; default: now. */
  now?: bigint;
  /**
   * The Envoy release whose properties to answer (`connection.peer_certificate` from 1.38,
   * `connection.peer_certificate_valid` from 1.39); default: the oldest supported, which has neither.
   */
  envoyVersion?: string;
}

export interface RequestSpec {
  connection: Connection;
  /** Request headers (values as text or raw bytes); pseudo-headers given here override the defaults below. */
  headers?: RawHeader[] | Record<string, string>;
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
  /** The filter state the filter set (proxy_set_property), as Envoy's %FILTER_STATE(wasm.<name>:PLAIN)% prints it. */
  filterState: Record<string, string>;
}

export function requestHeaders(spec: RequestSpec): RawHeader[] {
  const given: RawHeader[] = Array.isArray(spec.headers) ? spec.headers : Object.entries(spec.headers ?? {});
  const pseudo: RawHeader[] = [
    [':authority', spec.authority ?? 'localhost'],
    [':path', spec.path ?? '/'],
    [':method', spec.method ?? (spec.body === undefined ? 'GET' : 'POST')],
    [':scheme', spec.connection.kind === 'plaintext' ? 'http' : 'https'],
  ];
  const overridden = new Set(given.filter(([k]) => k.startsWith(':')).map(([k]) => k.toLowerCase()));
  return [...pseudo.filter(([k]) => !overridden.has(k)), ...given.filter(([k]) => k.startsWith(':')), ...given.filter(([k]) => !k.startsWith(':'))];
}

// FilterHeadersStatus values as Envoy maps them: 0 Continue, 1 StopIteration, 2 falls back
// to Continue, 3 StopAllIterationAndBuffer, 4+ StopAllIterationAndWatermark.
const headersContinue = (value: number) => value === 0 || value === 2;

const GRPC_FROM_HTTP: Record<number, number> = { 400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14 };

export const okUpstream: Upstream = () => ({ status: 200 });

export interface Decision {
  action: RequestOutcome['action'];
  /** When continued: the request headers as they leave for the upstream. */
  upstreamHeaders?: Header[];
  /** When answered locally: the reply as the client receives it. */
  response: ResponseView;
  localReply?: RequestOutcome['localReply'];
}

const NO_RESPONSE: ResponseView = { status: 0, headers: [], body: '', details: '', local: false };

export class HttpStream {
  private readonly request: HeaderMap;
  private readonly state: StreamState | null = null;
  private readonly id: number = 0;
  private readonly logStart: number;
  private readonly calls = new Map<string, number>();
  /** The VM to call; null once it failed (or when it had failed before the stream began). */
  private vm: WasmVm | null;
  private decided: Decision | null = null;
  private finished = false;

  constructor(
    private readonly env: HostEnvironment,
    vm: WasmVm | null,
    root: number,
    private readonly absence: Absence,
    /** The request whose callback trapped: continues (legacy fail_open) or gets the 503. */
    private readonly afterTrap: 'continue' | 'fail_stream',
    spec: RequestSpec,
  ) {
    this.logStart = env.logs.length;
    this.request = HeaderMap.fromStrings(requestHeaders(spec));
    this.vm = vm;
    if (vm) {
      this.id = vm.newContextId();
      this.state = {
        kind: 'stream',
        root,
        connection: spec.connection,
        request: this.request,
        response: null,
        access: {},
        inLog: false,
        localReply: null,
        closed: false,
        filterState: new Map(),
      };
      vm.contexts.set(this.id, this.state);
    }
  }

  /** Request headers: context create (lazily, as Envoy does) and proxy_on_request_headers. */
  decodeHeaders(hasBody = false): Decision {
    if (!this.vm) return this.withoutVm();
    if (this.call('proxy_on_context_create', [this.id, this.state!.root]) === null) return this.trapped();
    this.state!.access[MapType.RequestHeaders] = 'write';
    const result = this.call('proxy_on_request_headers', [this.id, this.request.pairs.length, hasBody ? 0 : 1]);
    this.state!.access[MapType.RequestHeaders] = 'none';
    if (result === null) return this.trapped();
    return this.afterRequestCallback(headersContinue(result));
  }

  /** The request body, once, complete. */
  decodeBody(size: number): Decision {
    if (!this.vm || this.decided?.action !== 'continued') return this.decided ?? this.withoutVm();
    const result = this.call('proxy_on_request_body', [this.id, size, 1]);
    if (result === null) return this.trapped();
    return this.afterRequestCallback(result === 0);
  }

  /** The upstream's response headers pass the filter; returns them as the client receives them. */
  encodeHeaders(status: number, headers: Header[], bodyLength: number): Header[] {
    const response = HeaderMap.fromStrings([[':status', String(status)], ...headers]);
    if (!this.vm) return response.toStrings();
    if (!this.encode(response, bodyLength)) return this.decided!.response.headers;
    return response.toStrings();
  }

  /** Stream end in current Envoy: access log, then done, then delete. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const vm = this.vm;
    if (!vm) return;
    const state = this.state!;
    state.inLog = true;
    state.access = { [MapType.RequestHeaders]: 'read' };
    if (state.response) state.access[MapType.ResponseHeaders] = 'read';
    if (this.call('proxy_on_log', [this.id]) !== null) {
      state.access = {};
      if (this.call('proxy_on_done', [this.id]) !== null) this.call('proxy_on_delete', [this.id]);
    }
    vm.contexts.delete(this.id);
  }

  logs(): LogEntry[] {
    return this.env.logs.slice(this.logStart);
  }

  logsAt(level: LogLevel): LogEntry[] {
    return this.logs().filter((entry) => entry.level === level);
  }

  filterState(): Record<string, string> {
    return Object.fromEntries([...(this.state?.filterState ?? new Map<string, Buffer>())].map(([name, value]) => [`wasm.${name}`, value.toString('utf8')]));
  }

  hostCalls(): Record<string, number> {
    return Object.fromEntries(this.calls);
  }

  // Calls the VM for this stream, counting its host calls; null when it trapped.
  private call(name: string, args: number[]): number | null {
    const vm = this.vm!;
    this.env.hostCalls = this.calls;
    const result = vm.call(name, args, this.id);
    return result.trapped ? null : result.value;
  }

  private afterRequestCallback(continued: boolean): Decision {
    const state = this.state!;
    if (state.closed) {
      return (this.decided = { action: 'reset', response: { ...NO_RESPONSE, details: 'wasm_close_stream', local: true } });
    }
    const reply = state.localReply;
    if (reply) {
      // Sent after the callback returned; it then passes this filter's encode path like any response.
      const { view, headers: response } = localReplyResponse(reply, this.request);
      this.decided = {
        action: 'local_reply',
        response: view,
        localReply: {
          status: reply.status,
          details: reply.details,
          body: reply.body.toString('utf8'),
          headers: reply.headers.map(([k, v]) => [k.toString('utf8'), v.toString('utf8')] as Header),
          grpcStatus: reply.grpcStatus | 0,
        },
      };
      // The request never left, so its headers stay readable while the reply passes the filter.
      state.access[MapType.RequestHeaders] = 'read';
      if (this.encode(response, Buffer.byteLength(view.body))) view.headers = response.toStrings();
      state.access[MapType.RequestHeaders] = 'none';
      return this.decided;
    }
    if (!continued) return (this.decided = { action: 'paused', response: NO_RESPONSE });
    return (this.decided = { action: 'continued', upstreamHeaders: this.request.toStrings(), response: NO_RESPONSE });
  }

  // Response headers (and a body callback when there is a body). False when the VM trapped.
  private encode(response: HeaderMap, bodyLength: number): boolean {
    const state = this.state!;
    state.response = response;
    state.access[MapType.ResponseHeaders] = 'write';
    const result = this.call('proxy_on_response_headers', [this.id, response.pairs.length, bodyLength === 0 ? 1 : 0]);
    state.access[MapType.ResponseHeaders] = 'none';
    if (result === null || (bodyLength > 0 && this.call('proxy_on_response_body', [this.id, bodyLength, 1]) === null)) {
      this.trapped();
      return false;
    }
    return true;
  }

  // The VM failed during this stream. Envoy stops calling it for this stream and answers 503
  // wasm_fail_stream — under failure_policy FAIL_OPEN too (Envoy reads the legacy fail_open flag
  // here); only the legacy flag lets the request continue.
  private trapped(): Decision {
    this.vm?.contexts.delete(this.id);
    this.vm = null;
    this.finished = true;
    return this.without(this.afterTrap);
  }

  private withoutVm(): Decision {
    return this.without(this.absence);
  }

  private without(absence: Absence): Decision {
    if (absence === 'continue') {
      return (this.decided = { action: 'continued', upstreamHeaders: this.request.toStrings(), response: NO_RESPONSE });
    }
    const [status, details] = absence === 'fail_stream' ? [503, 'wasm_fail_stream'] : [500, ''];
    return (this.decided = {
      action: 'local_reply',
      response: { status, headers: [[':status', String(status)]], body: '', details, local: true },
    });
  }
}

// How Envoy completes a filter's local reply: `:status` first, the filter's headers appended,
// content-length and a default content-type for a body, neither without one; gRPC requests get a
// trailers-only reply; HEAD requests no body.
function localReplyResponse(reply: LocalReply, request: HeaderMap): { view: ResponseView; headers: HeaderMap } {
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
  // The view's headers are filled in once the reply has passed the filter's encode path.
  return { view: { status, headers: [], body, details: reply.details, local: true }, headers };
}
