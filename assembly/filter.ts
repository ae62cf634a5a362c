// SDK glue: reads what the policy needs from the host, calls the pure decision, applies the verdict
// (continue / identity header / local reply), counts and logs. No policy logic lives here.
import {
  Context,
  FilterHeadersStatusValues,
  GrpcStatusValues,
  HeaderPair,
  LogLevelValues,
  RootContext,
  WasmResultValues,
  log,
} from "@solo-io/proxy-runtime/assembly";
import { proxy_get_buffer_bytes, proxy_log, proxy_send_local_response } from "@solo-io/proxy-runtime/assembly/imports";
import { malloc as sdkMalloc } from "@solo-io/proxy-runtime/assembly/malloc";
import {
  BufferTypeValues,
  HeaderMapTypeValues,
  MetricTypeValues,
  define_metric,
  get_current_time_nanoseconds,
  get_header_map_value,
  get_property_bytes,
  increment_metric,
  record_metric,
  remove_header_map_value,
  replace_header_map_value,
  serializeHeaders,
} from "@solo-io/proxy-runtime/assembly/runtime";
import { ByteSource } from "./config/json";
import { parseConfig } from "./config/parse";
import { ConnectionFacts, IdentityResult } from "./identity/identity";
import { DENY_REASONS, Reason, decide, establish, reasonName } from "./policy/decide";
import { LineWriter, logValue, writeDenyLine } from "./policy/deny-log";
import { RequestHost, requestHost } from "./policy/authority";
import { RequestPath, requestPath } from "./policy/path";
import { IdentitySource, Mode, Policy } from "./policy/policy";

// Envoy property paths are NUL-separated tokens; a dotted path is one unknown name (NotFound).
const DIGEST_PATH = String.UTF8.encode("connection\0sha256_peer_certificate_digest");
const SUBJECT_PATH = String.UTF8.encode("connection\0subject_peer_certificate");
const URI_SAN_PATH = String.UTF8.encode("connection\0uri_san_peer_certificate");
const DNS_SAN_PATH = String.UTF8.encode("connection\0dns_san_peer_certificate");
// The whole certificate as URL-encoded PEM: only in newer Envoy; NotFound elsewhere, then XFCC's Cert=.
const PEER_CERTIFICATE_PATH = String.UTF8.encode("connection\0peer_certificate");
// Repeated XFCC headers arrive comma-joined, as one list: a second header cannot hide from us.
const XFCC_PATH = String.UTF8.encode("request\0headers\0x-forwarded-client-cert");
const AUTHORITY = String.UTF8.encode(":authority");
const PATH = String.UTF8.encode(":path");
const REASON_HEADER = String.UTF8.encode("x-cert-allowlist-reason");
const CONTENT_TYPE = String.UTF8.encode("content-type");
const DETAILS_PREFIX = "cert_allowlist_";
const NS_PER_MS: u64 = 1_000_000;
const EMPTY = new ArrayBuffer(0);
const MS_PER_HOUR: i64 = 3_600_000;
const MS_PER_DAY: i64 = 86_400_000;
const MAX_EXPIRY_WARNINGS: i32 = 1024;
// The reply index for a root that has no accepted configuration, after every Reason.
const NOT_CONFIGURED: i32 = <i32>Reason.XfccMalformed + 1;

function text(bytes: ArrayBuffer | null): string | null {
  return bytes === null ? null : String.UTF8.decode(bytes);
}

// Metric ids, defined once per configuration (Envoy binds a re-defined name to the same stat).
class Metrics {
  allowed: u32 = 0;
  denied: u32 = 0;
  dryRunDenied: u32 = 0;
  expiring: u32 = 0;
  // Indexed by Reason.
  deniedBy: StaticArray<u32> = new StaticArray<u32>(8);

  static define(rules: i32): Metrics {
    let metrics = new Metrics();
    metrics.allowed = define_metric(MetricTypeValues.Counter, "cert_allowlist.allowed").metric_id;
    metrics.denied = define_metric(MetricTypeValues.Counter, "cert_allowlist.denied").metric_id;
    metrics.dryRunDenied = define_metric(MetricTypeValues.Counter, "cert_allowlist.dry_run_denied").metric_id;
    metrics.expiring = define_metric(MetricTypeValues.Counter, "cert_allowlist.expiring").metric_id;
    for (let i = 0; i < DENY_REASONS.length; i++) {
      let reason = DENY_REASONS[i];
      metrics.deniedBy[<i32>reason] = define_metric(MetricTypeValues.Counter, "cert_allowlist.denied." + reasonName(reason)).metric_id;
    }
    record_metric(define_metric(MetricTypeValues.Gauge, "cert_allowlist.rules").metric_id, <u64>rules);
    return metrics;
  }
}

export class CertAllowlistRoot extends RootContext {
  // The policy of the last configuration this root accepted; null until one is accepted.
  policy: Policy | null = null;
  metrics: Metrics = new Metrics();
  identityHeader: ArrayBuffer = new ArrayBuffer(0);
  // Every spelling of it an upstream could take (with '_' for '-'), removed from every request.
  identityHeaderSpellings: ArrayBuffer[] = [];
  denyBody: ArrayBuffer = new ArrayBuffer(0);
  // Per reason, the reply's details and header pairs, encoded once per configuration.
  replies: DenyReply[] = [];
  // The deny line is written here, reused by every denied request.
  line: LineWriter = new LineWriter();
  // When each expiring certificate (by digest) was last warned about; bounded, cleared when full.
  expiryWarned: Map<string, i64> = new Map();

  // Counts an allowed request whose certificate expires within the warning window, and warns
  // once per certificate per hour.
  warnIfExpiring(policy: Policy, result: IdentityResult, rule: string, nowMs: i64): void {
    let identity = result.identity;
    if (identity === null) return;
    let certificate = identity.certificate;
    if (certificate === null || certificate.notAfterMs - nowMs > <i64>policy.expiryWarningDays * MS_PER_DAY) return;
    increment_metric(this.metrics.expiring, 1);
    let key = identity.digestHex;
    if (this.expiryWarned.has(key) && nowMs - this.expiryWarned.get(key) < MS_PER_HOUR) return;
    if (this.expiryWarned.size >= MAX_EXPIRY_WARNINGS) this.expiryWarned.clear();
    this.expiryWarned.set(key, nowMs);
    let daysLeft = (certificate.notAfterMs - nowMs) / MS_PER_DAY;
    log(LogLevelValues.warn, "cert-allowlist: certificate expiring rule=" + logValue(rule) + " sha256=" + key + " subject=" + logValue(certificate.subject !== null ? <string>certificate.subject : "") +
      " not_after=" + new Date(certificate.notAfterMs).toISOString() + " days_left=" + daysLeft.toString());
  }

  createContext(context_id: u32): Context {
    return new CertAllowlistRequest(context_id, this);
  }

  // Envoy refuses a configuration for which this returns false and keeps the previous one.
  onConfigure(configuration_size: u32): bool {
    // No clock here: every VM that loads this configuration must give the canary's answer.
    let source = new PluginConfiguration(<i32>configuration_size);
    let result = parseConfig(source);
    if (source.unreadable) {
      log(LogLevelValues.error, "cert-allowlist: configuration: cannot read the plugin configuration");
      return false;
    }
    let policy = result.policy;
    if (policy === null) {
      log(LogLevelValues.error, "cert-allowlist: rejected configuration: " + result.error);
      return false;
    }
    this.policy = policy;
    this.metrics = Metrics.define(policy.ruleCount);
    this.identityHeader = String.UTF8.encode(policy.identityHeader);
    this.identityHeaderSpellings = policy.identityHeaderSpellings.map<ArrayBuffer>((name: string) => String.UTF8.encode(name));
    this.denyBody = String.UTF8.encode(policy.denyResponse.body);
    this.replies = DenyReply.all(policy);
    log(LogLevelValues.info, "cert-allowlist: configured " + policy.allow.length.toString() + " allow and " +
      policy.deny.length.toString() + " deny rule(s), mode " + (policy.mode == Mode.DryRun ? "dry-run" : "enforce"));
    return true;
  }
}

export class CertAllowlistRequest extends Context {
  onRequestHeaders(_headers: u32, _end_of_stream: bool): FilterHeadersStatusValues {
    let root = changetype<CertAllowlistRoot>(this.root_context);
    let policy = root.policy;
    // Envoy never runs streams on a root whose configure failed; deny rather than trust that.
    if (policy === null) {
      if (root.replies.length == 0) root.replies = DenyReply.all(null);
      return this.reply(root, NOT_CONFIGURED, 403);
    }
    // Only this filter may say who the client is: a client-sent identity header never survives, in
    // any spelling an upstream could read as it.
    let spellings = root.identityHeaderSpellings;
    for (let i = 0; i < spellings.length; i++) remove_header_map_value(HeaderMapTypeValues.RequestHeaders, unchecked(spellings[i]));
    let host = policy.needsHost ? requestHost(get_header_map_value(HeaderMapTypeValues.RequestHeaders, AUTHORITY)) : RequestHost.AMBIGUOUS;
    if (!policy.inScope(host)) return FilterHeadersStatusValues.Continue;

    let facts = new ConnectionFacts();
    facts.digestHex = get_property_bytes(DIGEST_PATH);
    if (policy.source == IdentitySource.Xfcc) {
      facts.xfcc = get_property_bytes(XFCC_PATH);
      // To check the last element against the connection it claims to describe, and to know the
      // connection's peer (the last hop, or the client itself when it called directly).
      if (facts.xfcc !== null && facts.digestHex !== null) {
        facts.subject = text(get_property_bytes(SUBJECT_PATH));
        facts.uriSan = text(get_property_bytes(URI_SAN_PATH));
        facts.dnsSan = text(get_property_bytes(DNS_SAN_PATH));
        if (policy.readsCertificate) facts.peerCertificate = text(get_property_bytes(PEER_CERTIFICATE_PATH));
      }
    } else {
      if (policy.needsSubject) facts.subject = text(get_property_bytes(SUBJECT_PATH));
      if (policy.needsSans) {
        facts.uriSan = text(get_property_bytes(URI_SAN_PATH));
        facts.dnsSan = text(get_property_bytes(DNS_SAN_PATH));
      }
      // Every SAN, or the certificate itself: Envoy's peer_certificate where it exists, else XFCC's.
      if (policy.readsCertificate && facts.digestHex !== null) {
        facts.peerCertificate = text(get_property_bytes(PEER_CERTIFICATE_PATH));
        if (facts.peerCertificate === null) facts.xfcc = get_property_bytes(XFCC_PATH);
      }
    }
    let identity = establish(policy, facts);
    let rawPath = policy.needsPath ? get_header_map_value(HeaderMapTypeValues.RequestHeaders, PATH) : EMPTY;
    let path = policy.needsPath ? requestPath(rawPath) : RequestPath.AMBIGUOUS;
    let nowMs = policy.needsClock ? <i64>(get_current_time_nanoseconds() / NS_PER_MS) : 0;
    let verdict = decide(policy, identity, host, path, nowMs);

    if (verdict.allowed) {
      increment_metric(root.metrics.allowed, 1);
      if (policy.expiryWarningDays > 0) root.warnIfExpiring(policy, identity, verdict.rule, nowMs);
      if (root.identityHeader.byteLength > 0) {
        replace_header_map_value(HeaderMapTypeValues.RequestHeaders, root.identityHeader, String.UTF8.encode(verdict.rule));
      }
      return FilterHeadersStatusValues.Continue;
    }

    let dryRun = policy.mode == Mode.DryRun;
    increment_metric(dryRun ? root.metrics.dryRunDenied : root.metrics.denied, 1);
    increment_metric(root.metrics.deniedBy[<i32>verdict.reason], 1);
    this.logDenial(root, policy, identity, facts, verdict.reason, verdict.rule, rawPath);
    if (dryRun) return FilterHeadersStatusValues.Continue;
    return this.reply(root, <i32>verdict.reason, policy.denyResponse.status);
  }

  // The deny line; reads from the host only what the decision did not already need.
  private logDenial(root: CertAllowlistRoot, policy: Policy, result: IdentityResult, facts: ConnectionFacts, reason: Reason, rule: string, rawPath: ArrayBuffer): void {
    let identity = result.identity;
    let sha256 = "";
    let uriSan = EMPTY;
    let subject = EMPTY;
    if (identity !== null) {
      sha256 = identity.digestHex;
      let fromConnection = policy.source == IdentitySource.Connection;
      let uri = fromConnection && !policy.needsSans ? get_property_bytes(URI_SAN_PATH) : null;
      uriSan = uri !== null ? uri : identity.uriSans.length > 0 ? String.UTF8.encode(identity.uriSans[0]) : EMPTY;
      let subjectBytes = fromConnection && !policy.needsSubject ? get_property_bytes(SUBJECT_PATH) : null;
      let known = identity.subject;
      subject = subjectBytes !== null ? subjectBytes : known === null ? EMPTY : String.UTF8.encode(known);
    } else {
      let digest = text(facts.digestHex);
      if (digest !== null) sha256 = digest;
    }
    let host = get_header_map_value(HeaderMapTypeValues.RequestHeaders, AUTHORITY);
    if (!policy.needsPath) rawPath = get_header_map_value(HeaderMapTypeValues.RequestHeaders, PATH);
    let line = root.line;
    writeDenyLine(line, reasonName(reason), String.UTF8.encode(rule), sha256, uriSan, subject, host, rawPath, policy.mode == Mode.DryRun ? "dry-run" : "enforce");
    proxy_log(LogLevelValues.info, line.ptr, line.size);
  }

  // The reply is sent by Envoy after this callback returns; the stop status keeps the request
  // from reaching the upstream in the meantime.
  private reply(root: CertAllowlistRoot, reason: i32, status: u32): FilterHeadersStatusValues {
    let reply = root.replies[reason];
    let body = root.denyBody;
    proxy_send_local_response(status, changetype<usize>(reply.details), reply.details.byteLength, changetype<usize>(body), body.byteLength,
      changetype<usize>(reply.headers), reply.headers.byteLength, <u32>GrpcStatusValues.InvalidCode);
    return FilterHeadersStatusValues.StopIteration;
  }
}

// The plugin configuration, read from Envoy a window at a time as the parser walks it: a large
// allow list is never copied into linear memory whole.
class PluginConfiguration extends ByteSource {
  unreadable: bool = false;
  // Where Envoy writes the chunk's address and size.
  private out: StaticArray<u32> = new StaticArray<u32>(2);

  constructor(private size: i32) {
    super();
  }

  get length(): i32 {
    return this.size;
  }

  read(offset: i32, into: usize, max: i32): i32 {
    let out = changetype<usize>(this.out);
    // Envoy leaves these alone when it answers with an error: never free the last chunk twice.
    unchecked((this.out[0] = 0));
    unchecked((this.out[1] = 0));
    chunkAllocation = true;
    let result = proxy_get_buffer_bytes(BufferTypeValues.PluginConfiguration, <u32>offset, <u32>max, out, out + 4);
    chunkAllocation = false;
    let ptr = <usize>unchecked(this.out[0]);
    let count = <i32>unchecked(this.out[1]);
    if (result == WasmResultValues.Ok && count > 0 && count <= max) {
      memory.copy(into, ptr, <usize>count);
    } else {
      this.unreadable = true;
      count = 0;
    }
    if (ptr != 0) heap.free(ptr);
    return count;
  }
}

// Set while Envoy copies a configuration chunk out: the one allocation it makes then is unmanaged
// and freed as soon as the chunk is copied, so reading a 100 MB configuration leaves no garbage
// behind for the collector to catch up with (linear memory would grow instead).
let chunkAllocation = false;

// The allocator Envoy calls for every value it hands the filter.
export function malloc(size: i32): usize {
  if (!chunkAllocation) return sdkMalloc(size);
  chunkAllocation = false;
  return heap.alloc(<usize>size);
}

// One deny reason's reply: details `cert_allowlist_<reason>` and the header pairs.
class DenyReply {
  constructor(public details: ArrayBuffer, public headers: ArrayBuffer) {}

  // Indexed by Reason, with NOT_CONFIGURED last.
  static all(policy: Policy | null): DenyReply[] {
    let replies = new Array<DenyReply>();
    for (let reason = 0; reason <= NOT_CONFIGURED; reason++) {
      let name = reason == NOT_CONFIGURED ? "not_configured" : reasonName(<Reason>reason);
      let headers: HeaderPair[] = [new HeaderPair(CONTENT_TYPE, String.UTF8.encode(policy === null ? "text/plain" : policy.denyResponse.contentType))];
      if (policy !== null && policy.denyResponse.includeReason) headers.push(new HeaderPair(REASON_HEADER, String.UTF8.encode(name)));
      replies.push(new DenyReply(String.UTF8.encode(DETAILS_PREFIX + name), serializeHeaders(headers)));
    }
    return replies;
  }
}
