// The authorization decision: a pure function of the policy, the client's identity and the request.
// Order (README, "The decision"): no identity → deny; a matching deny rule → deny (deny beats
// allow); the first matching allow rule → allow; otherwise deny.
import { ConnectionFacts, Identity, IdentityFailure, IdentityResult, clientIdentity, connectionIdentity, elementIdentity, xfccChain } from "../identity/identity";
import { RequestHost } from "./authority";
import { RequestPath } from "./path";
import { IdentitySource, Policy } from "./policy";
import { RuleList } from "./rule-list";

export const enum Reason {
  Allowed,
  NoClientCertificate,
  NotAllowed,
  DeniedByRule,
  XfccMismatch,
  XfccUntrusted,
  XfccMissing,
  XfccMalformed,
}

// Every deny reason, for defining one counter each.
export const DENY_REASONS: Reason[] = [
  Reason.NoClientCertificate,
  Reason.NotAllowed,
  Reason.DeniedByRule,
  Reason.XfccMismatch,
  Reason.XfccUntrusted,
  Reason.XfccMissing,
  Reason.XfccMalformed,
];

// The reason as it appears in response details (`cert_allowlist_<reason>`), metrics and logs.
export function reasonName(reason: Reason): string {
  switch (reason) {
    case Reason.Allowed: return "allowed";
    case Reason.NoClientCertificate: return "no_client_certificate";
    case Reason.NotAllowed: return "not_allowed";
    case Reason.DeniedByRule: return "denied_by_rule";
    case Reason.XfccMismatch: return "xfcc_mismatch";
    case Reason.XfccUntrusted: return "xfcc_untrusted";
    case Reason.XfccMissing: return "xfcc_missing";
    default: return "xfcc_malformed";
  }
}

function failureReason(failure: IdentityFailure): Reason {
  switch (failure) {
    case IdentityFailure.XfccMismatch: return Reason.XfccMismatch;
    case IdentityFailure.XfccUntrusted: return Reason.XfccUntrusted;
    case IdentityFailure.XfccMissing: return Reason.XfccMissing;
    case IdentityFailure.XfccMalformed: return Reason.XfccMalformed;
    default: return Reason.NoClientCertificate;
  }
}

// What was decided; the filter keeps one and reuses it for every request.
export class Verdict {
  reason: Reason = Reason.NotAllowed;
  // The rule that decided — an allow rule when allowed, a deny rule for denied_by_rule — as its
  // list and index; null and -1 otherwise.
  list: RuleList | null = null;
  index: i32 = -1;

  get allowed(): bool {
    return this.reason == Reason.Allowed;
  }

  // The deciding rule's name; "" when no rule decided.
  get rule(): string {
    let list = this.list;
    return list === null ? "" : list.name(this.index);
  }

  set(reason: Reason, list: RuleList | null, index: i32): Verdict {
    this.reason = reason;
    this.list = list;
    this.index = index;
    return this;
  }
}

// The client's identity under the policy's identity source, into `result` (connection mode reuses
// its identity: nothing is allocated for a plain request).
export function establish(policy: Policy, facts: ConnectionFacts, result: IdentityResult = new IdentityResult()): IdentityResult {
  if (policy.source == IdentitySource.Connection) return connectionIdentity(facts, policy.needsSubject, policy.needsSans, policy.readsCertificate, result);
  let chain = xfccChain(facts);
  if (chain.failure != IdentityFailure.None) return result.fail(chain.failure);
  // The last element is this connection's peer, which Envoy's properties describe better than any
  // text: judge it as connection mode would (a workload calling directly is its own client); any
  // trusted-proxy matcher may need any of its facts.
  let peer = connectionIdentity(facts, true, true, policy.readsCertificate, result);
  if (!isTrustedProxy(policy, peer.identity!)) return peer;
  // Walk back from there past every trusted proxy: the first other element is the client, and only
  // a certificate proves what its text says.
  let header = chain.header;
  for (let i = header.count - 2; i >= 0; i--) {
    if (!isTrustedProxy(policy, elementIdentity(header.element(i), chain.certificates[i], proxy))) return clientIdentity(chain, i, result);
  }
  return result.fail(IdentityFailure.XfccMissing);
}

// The identity of the element being judged as a trusted proxy, reused.
const proxy = new Identity();

// A proxy is trusted only on what is known of it: matchers are judged as an allow rule's are.
function isTrustedProxy(policy: Policy, identity: Identity): bool {
  let proxies = policy.trustedProxies;
  for (let i = 0; i < proxies.length; i++) {
    if (proxies[i].matches(identity, false)) return true;
  }
  return false;
}

// `nowMs` is the filter's clock in milliseconds. The verdict goes into `verdict`.
export function decide(policy: Policy, result: IdentityResult, host: RequestHost, path: RequestPath, nowMs: i64, verdict: Verdict = new Verdict()): Verdict {
  let identity = result.identity;
  if (identity === null) return verdict.set(failureReason(result.failure), null, -1);
  let denied = policy.deny.firstMatch(identity, host, path, nowMs);
  if (denied >= 0) return verdict.set(Reason.DeniedByRule, policy.deny, denied);
  let allowed = policy.allow.firstMatch(identity, host, path, nowMs);
  if (allowed >= 0) return verdict.set(Reason.Allowed, policy.allow, allowed);
  return verdict.set(Reason.NotAllowed, null, -1);
}
