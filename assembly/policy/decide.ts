// The authorization decision: a pure function of the policy and the request's identity facts.
import { DIGEST_WORDS, decodeDigest } from "../identity/sha256";
import { Policy } from "./policy";

export const enum Reason {
  Allowed,
  NoClientCertificate,
  NotAllowed,
}

// The reason as it appears in response details (`cert_allowlist_<reason>`) and logs.
export function reasonName(reason: Reason): string {
  switch (reason) {
    case Reason.Allowed: return "allowed";
    case Reason.NoClientCertificate: return "no_client_certificate";
    default: return "not_allowed";
  }
}

export class Verdict {
  constructor(public reason: Reason, public rule: i32) {}

  get allowed(): bool {
    return this.reason == Reason.Allowed;
  }
}

// Reused for every decision so a request costs no digest allocation.
const scratch = new StaticArray<u64>(DIGEST_WORDS);

// `digestHex` is the value of `connection.sha256_peer_certificate_digest`, or null when Envoy has
// none (plaintext, or TLS without a client certificate); Envoy treats an empty digest as absent.
export function decide(policy: Policy, digestHex: ArrayBuffer | null): Verdict {
  if (digestHex === null || digestHex.byteLength == 0) {
    return new Verdict(Reason.NoClientCertificate, -1);
  }
  if (!decodeDigest(digestHex, scratch)) {
    return new Verdict(Reason.NotAllowed, -1);
  }
  let rule = policy.digests.lookup(scratch);
  return new Verdict(rule < 0 ? Reason.NotAllowed : Reason.Allowed, rule);
}
