// The authorization decision: a pure function of the policy, the client's identity and the request.
// Order (README, "The decision"): no identity → deny; a matching deny rule → deny (deny beats
// allow); the first matching allow rule → allow; otherwise deny.
import { ConnectionFacts, Identity, IdentityFailure, IdentityResult, clientIdentity, connectionIdentity, elementIdentity, xfccChain } from "../identity/identity";
import { RequestHost } from "./authority";
import { RequestPath } from "./path";
import { IdentitySource, Policy } from "./policy";

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

export class Verdict {
  constructor(
    public reason: Reason,
    // The rule that decided: an allow rule when allowed, a deny rule for denied_by_rule; else "".
    public rule: string,
  ) {}

  get allowed(): bool {
    return this.reason == Reason.Allowed;
  }
}

// The client's identity under the policy's identity source.
export function establish(policy: Policy, facts: ConnectionFacts): IdentityResult {
  if (policy.source == IdentitySource.Connection) return connectionIdentity(facts, policy.readsCertificate);
  let chain = xfccChain(facts);
  if (chain.failure != IdentityFailure.None) return IdentityResult.failed(chain.failure);
  // The last element is this connection's peer, which Envoy's properties describe better than any
  // text: judge it as connection mode would (a workload calling directly is its own client).
  let peer = connectionIdentity(facts, policy.readsCertificate);
  if (!isTrustedProxy(policy, peer.identity!)) return peer;
  // Walk back from there past every trusted proxy: the first other element is the client, and only
  // a certificate proves what its text says.
  let elements = chain.elements;
  for (let i = elements.length - 2; i >= 0; i--) {
    if (!isTrustedProxy(policy, elementIdentity(elements[i], chain.certificates[i]))) return clientIdentity(chain, i);
  }
  return IdentityResult.failed(IdentityFailure.XfccMissing);
}

// A proxy is trusted only on what is known of it: matchers are judged as an allow rule's are.
function isTrustedProxy(policy: Policy, identity: Identity): bool {
  let proxies = policy.trustedProxies;
  for (let i = 0; i < proxies.length; i++) {
    if (proxies[i].matches(identity, false)) return true;
  }
  return false;
}

// `nowMs` is the filter's clock in milliseconds.
export function decide(policy: Policy, result: IdentityResult, host: RequestHost, path: RequestPath, nowMs: i64): Verdict {
  let identity = result.identity;
  if (identity === null) return new Verdict(failureReason(result.failure), "");
  let denied = policy.deny.firstMatch(identity, host, path, nowMs);
  if (denied >= 0) return new Verdict(Reason.DeniedByRule, policy.deny.name(denied));
  let allowed = policy.allow.firstMatch(identity, host, path, nowMs);
  if (allowed >= 0) return new Verdict(Reason.Allowed, policy.allow.name(allowed));
  return new Verdict(Reason.NotAllowed, "");
}
