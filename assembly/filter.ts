// The filter: per request it reads what the decision needs (request-facts.ts), decides (the pure
// policy/decide.ts), and applies the verdict — the identity header and continue, or the deny reply —,
// counting and logging. The root context holds a plugin's parsed configuration. No policy logic
// lives here, and no host call but through abi.ts.
import { RootContext } from "@solo-io/proxy-runtime/assembly";
import * as abi from "./abi";
import { ByteSource } from "./config/json";
import { parseConfig } from "./config/parse";
import { IdentityResult } from "./identity/identity";
import { DenyLine, LineWriter, LogBudget, logValue } from "./log-lines";
import { RequestHost } from "./policy/authority";
import { DENY_REASONS, Reason, Verdict, decide, establish, reasonName } from "./policy/decide";
import { RequestPath } from "./policy/path";
import { Mode, Policy } from "./policy/policy";
import { RequestFacts } from "./request-facts";

// FilterHeadersStatus.
const CONTINUE: u32 = 0;
const STOP_ITERATION: u32 = 1;

const REASON_HEADER = "x-cert-allowlist-reason";
// Filter state for Envoy's access log: the rule that decided, and a dry-run denial's reason.
const RULE_STATE = String.UTF8.encode("cert_allowlist_rule");
const DRY_RUN_STATE = String.UTF8.encode("cert_allowlist_dry_run");
const CONTENT_TYPE = "content-type";
const DETAILS_PREFIX = "cert_allowlist_";
const MS_PER_HOUR: i64 = 3_600_000;
const MS_PER_DAY: i64 = 86_400_000;
const MAX_EXPIRY_WARNINGS: i32 = 1024;
// The reply index for a root that has no accepted configuration, after every Reason.
const NOT_CONFIGURED: i32 = <i32>Reason.XfccMalformed + 1;

// Metric ids, defined once per configuration (Envoy binds a re-defined name to the same stat).
class Metrics {
  allowed: u32 = 0;
  denied: u32 = 0;
  dryRunDenied: u32 = 0;
  expiring: u32 = 0;
  logHeld: u32 = 0;
  // Indexed by Reason.
  deniedBy: StaticArray<u32> = new StaticArray<u32>(8);

  static define(rules: i32): Metrics {
    let metrics = new Metrics();
    metrics.allowed = abi.defineCounter("cert_allowlist.allowed");
    metrics.denied = abi.defineCounter("cert_allowlist.denied");
    metrics.dryRunDenied = abi.defineCounter("cert_allowlist.dry_run_denied");
    metrics.expiring = abi.defineCounter("cert_allowlist.expiring");
    metrics.logHeld = abi.defineCounter("cert_allowlist.deny_lines_held");
    for (let i = 0; i < DENY_REASONS.length; i++) {
      let reason = DENY_REASONS[i];
      metrics.deniedBy[<i32>reason] = abi.defineCounter("cert_allowlist.denied." + reasonName(reason));
    }
    abi.record(abi.defineGauge("cert_allowlist.rules"), <u64>rules);
    return metrics;
  }
}

// One deny reason's reply: details `cert_allowlist_<reason>` and the header pairs.
class DenyReply {
  constructor(public details: ArrayBuffer, public headers: ArrayBuffer) {}

  // Indexed by Reason, with NOT_CONFIGURED last.
  static all(policy: Policy | null): DenyReply[] {
    let replies = new Array<DenyReply>();
    for (let reason = 0; reason <= NOT_CONFIGURED; reason++) {
      let name = reason == NOT_CONFIGURED ? "not_configured" : reasonName(<Reason>reason);
      let names = [CONTENT_TYPE];
      let values = [policy === null ? "text/plain" : policy.denyResponse.contentType];
      if (policy !== null && policy.denyResponse.includeReason) {
        names.push(REASON_HEADER);
        values.push(name);
      }
      replies.push(new DenyReply(String.UTF8.encode(DETAILS_PREFIX + name), abi.headerPairs(names, values)));
    }
    return replies;
  }
}

const NOT_CONFIGURED_BODY = String.UTF8.encode("client certificate not authorized\n");

function reasonNames(): ArrayBuffer[] {
  let names = new Array<ArrayBuffer>();
  for (let reason = 0; reason < NOT_CONFIGURED; reason++) names.push(String.UTF8.encode(reasonName(<Reason>reason)));
  return names;
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
  budget: LogBudget = new LogBudget(0);
  // When each expiring certificate (by digest) was last warned about; bounded, cleared when full.
  expiryWarned: Map<string, i64> = new Map();
  // Reused by every request of this root.
  facts: RequestFacts = new RequestFacts();
  result: IdentityResult = new IdentityResult();
  verdict: Verdict = new Verdict();
  host: RequestHost = new RequestHost();
  path: RequestPath = new RequestPath();
  line: LineWriter = new LineWriter();
  denyLine: DenyLine = new DenyLine();
  // Each Reason's name, encoded for the deny line.
  reasonNames: ArrayBuffer[] = reasonNames();

  // Envoy deletes a root when it drops the plugin's old configuration, at a moment of its own —
  // often while a later request runs. The SDK's default only logs a debug line then, which would
  // land among that request's lines; there is nothing to do or say.
  onDelete(): void {}

  // Envoy refuses a configuration for which this returns false and keeps the previous one.
  onConfigure(configuration_size: u32): bool {
    // No clock here: every VM that loads this configuration must give the canary's answer.
    let source = new PluginConfiguration(<i32>configuration_size);
    let result = parseConfig(source);
    if (source.unreadable) {
      abi.logText(abi.LogLevel.Error, "cert-allowlist: configuration: cannot read the plugin configuration");
      return false;
    }
    let policy = result.policy;
    if (policy === null) {
      abi.logText(abi.LogLevel.Error, "cert-allowlist: rejected configuration: " + result.error);
      return false;
    }
    this.policy = policy;
    this.metrics = Metrics.define(policy.ruleCount);
    this.identityHeader = String.UTF8.encode(policy.identityHeader);
    this.identityHeaderSpellings = policy.identityHeaderSpellings.map<ArrayBuffer>((name: string) => String.UTF8.encode(name));
    this.denyBody = String.UTF8.encode(policy.denyResponse.body);
    this.replies = DenyReply.all(policy);
    this.budget = new LogBudget(policy.denyLinesPerSecond);
    abi.logText(abi.LogLevel.Info, "cert-allowlist: configured " + policy.allow.length.toString() + " allow and " +
      policy.deny.length.toString() + " deny rule(s), mode " + (policy.mode == Mode.DryRun ? "dry-run" : "enforce"));
    return true;
  }

  // Counts an allowed request whose certificate expires within the warning window, and warns
  // once per certificate per hour.
  warnIfExpiring(policy: Policy, nowMs: i64): void {
    let identity = this.result.identity;
    if (identity === null) return;
    let certificate = identity.certificate;
    if (certificate === null || certificate.notAfterMs - nowMs > <i64>policy.expiryWarningDays * MS_PER_DAY) return;
    abi.increment(this.metrics.expiring);
    let key = identity.digestHex;
    if (this.expiryWarned.has(key) && nowMs - this.expiryWarned.get(key) < MS_PER_HOUR) return;
    if (this.expiryWarned.size >= MAX_EXPIRY_WARNINGS) this.expiryWarned.clear();
    this.expiryWarned.set(key, nowMs);
    let daysLeft = (certificate.notAfterMs - nowMs) / MS_PER_DAY;
    abi.logText(abi.LogLevel.Warn, "cert-allowlist: certificate expiring rule=" + logValue(this.verdict.rule) + " sha256=" + key + " subject=" +
      logValue(certificate.subject !== null ? <string>certificate.subject : "") + " not_after=" + new Date(certificate.notAfterMs).toISOString() +
      " days_left=" + daysLeft.toString());
  }

  // The deny line, from the same facts the decision read (each read at most once per request).
  logDenial(policy: Policy, dryRun: bool): void {
    let facts = this.facts;
    let identity = this.result.identity;
    let verdict = this.verdict;
    let line = this.denyLine;
    line.reason = unchecked(this.reasonNames[<i32>verdict.reason]);
    let list = verdict.list;
    if (list === null) line.rule.set(0, 0);
    else line.rule.set(list.namePtr(verdict.index), list.nameLength(verdict.index));
    line.digest = null;
    line.sha256.set(0, 0);
    line.uriSan.set(0, 0);
    line.subject.set(0, 0);
    if (identity === null || this.result.fromConnection) {
      // The connection's own certificate, as Envoy's properties state it.
      let hex = facts.digestText();
      line.sha256.set(hex.ptr, hex.length);
      if (identity !== null) {
        let uri = facts.uriSan();
        if (uri !== null) line.uriSan.set(uri.ptr, uri.length);
        let subject = facts.subject();
        if (subject !== null) line.subject.set(subject.ptr, subject.length);
      }
    } else {
      // A client named by XFCC: what its proven certificate says.
      line.digest = identity.digest;
      line.uriSan.text(identity.uriSans.length > 0 ? identity.uriSans[0] : null);
      line.subject.text(identity.subject);
    }
    let authority = facts.authority();
    line.host.set(authority.ptr, authority.length);
    let path = facts.path();
    line.path.set(path.ptr, path.length);
    line.dryRun = dryRun;
    let w = line.write(this.line);
    abi.logBytes(abi.LogLevel.Info, w.ptr, w.size);
  }
}

// The reply for a stream that has no root of ours to decide it.
export function refuseStream(): u32 {
  abi.sendReply(500, String.UTF8.encode("cert_allowlist_no_plugin"), NOT_CONFIGURED_BODY, abi.headerPairs([CONTENT_TYPE], ["text/plain"]));
  return STOP_ITERATION;
}

// The reply is sent by Envoy after the callback returns; the stop status keeps the request from
// reaching the upstream in the meantime.
function reply(root: CertAllowlistRoot, reason: i32, status: u32, body: ArrayBuffer): u32 {
  let reply = root.replies[reason];
  abi.sendReply(status, reply.details, body, reply.headers);
  return STOP_ITERATION;
}

// A stream's request headers: read → decide → apply.
export function onStreamHeaders(root: CertAllowlistRoot): u32 {
  let policy = root.policy;
  // Envoy never runs streams on a root whose configure failed; deny rather than trust that.
  if (policy === null) {
    if (root.replies.length == 0) root.replies = DenyReply.all(null);
    return reply(root, NOT_CONFIGURED, 403, NOT_CONFIGURED_BODY);
  }
  let facts = root.facts;
  facts.begin();
  // Only this filter may say who the client is: a client-sent identity header never survives, in
  // any spelling an upstream could read as it.
  let spellings = root.identityHeaderSpellings;
  for (let i = 0; i < spellings.length; i++) abi.removeHeader(unchecked(spellings[i]));

  let host = RequestHost.AMBIGUOUS;
  if (policy.needsHost) {
    let authority = facts.authority();
    host = root.host.read(authority.ptr, authority.length);
  }
  if (!policy.inScope(host)) return CONTINUE;
  let path = RequestPath.AMBIGUOUS;
  if (policy.needsPath) {
    let raw = facts.path();
    path = root.path.read(raw.ptr, raw.length);
  }
  let nowMs: i64 = policy.needsClock ? abi.nowMs() : 0;
  let result = establish(policy, facts, root.result);
  let verdict = decide(policy, result, host, path, nowMs, root.verdict);

  // The deciding rule's name: the identity header's value, and the access log's.
  let list = verdict.list;
  let namePtr: usize = 0;
  let nameLength = 0;
  if (list !== null) {
    namePtr = list.namePtr(verdict.index);
    nameLength = list.nameLength(verdict.index);
    abi.setFilterState(RULE_STATE, namePtr, nameLength);
  }
  if (verdict.allowed) {
    abi.increment(root.metrics.allowed);
    if (policy.expiryWarningDays > 0) root.warnIfExpiring(policy, nowMs);
    if (root.identityHeader.byteLength > 0) abi.replaceHeader(root.identityHeader, namePtr, nameLength);
    return CONTINUE;
  }

  let dryRun = policy.mode == Mode.DryRun;
  let metrics = root.metrics;
  abi.increment(dryRun ? metrics.dryRunDenied : metrics.denied);
  abi.increment(unchecked(metrics.deniedBy[<i32>verdict.reason]));
  let budget = root.budget;
  if (budget.perSecond > 0 && budget.take(policy.needsClock ? nowMs : abi.nowMs())) {
    let held = budget.takeHeld();
    if (held > 0) {
      abi.logText(abi.LogLevel.Info, "cert-allowlist: " + held.toString() + " deny line(s) held back (denyLinesPerSecond " + budget.perSecond.toString() + ")");
    }
    root.logDenial(policy, dryRun);
  } else {
    abi.increment(metrics.logHeld);
  }
  if (dryRun) {
    let name = unchecked(root.reasonNames[<i32>verdict.reason]);
    abi.setFilterState(DRY_RUN_STATE, changetype<usize>(name), name.byteLength);
    return CONTINUE;
  }
  return reply(root, <i32>verdict.reason, policy.denyResponse.status, root.denyBody);
}

// The plugin configuration, read from Envoy a window at a time as the parser walks it: a large
// allow list is never copied into linear memory whole.
class PluginConfiguration extends ByteSource {
  unreadable: bool = false;

  constructor(private size: i32) {
    super();
  }

  get length(): i32 {
    return this.size;
  }

  read(offset: i32, into: usize, max: i32): i32 {
    let count = abi.readConfiguration(offset, into, max);
    if (count <= 0) {
      this.unreadable = true;
      return 0;
    }
    return count;
  }
}
