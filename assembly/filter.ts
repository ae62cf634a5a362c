// SDK glue: reads what the decision needs from the host, calls the pure decision, applies the
// verdict. No policy logic lives here.
import {
  Context,
  FilterHeadersStatusValues,
  GrpcStatusValues,
  HeaderPair,
  LogLevelValues,
  RootContext,
  log,
  send_local_response,
} from "@solo-io/proxy-runtime/assembly";
import { get_property_bytes } from "@solo-io/proxy-runtime/assembly/runtime";
import { parseConfig } from "./config/parse";
import { Policy } from "./policy/policy";
import { decide, reasonName } from "./policy/decide";

// Envoy property paths are NUL-separated tokens; a dotted path is one unknown name (NotFound).
const DIGEST_PATH = String.UTF8.encode("connection\0sha256_peer_certificate_digest");
const DENY_BODY = String.UTF8.encode("client certificate not authorized\n");
const DENY_STATUS: u32 = 403;
const DETAILS_PREFIX = "cert_allowlist_";

function denyHeaders(): HeaderPair[] {
  return [new HeaderPair(String.UTF8.encode("content-type"), String.UTF8.encode("text/plain"))];
}

export class CertAllowlistRoot extends RootContext {
  // The policy of the last configuration this root accepted; null until one is accepted.
  policy: Policy | null = null;

  createContext(context_id: u32): Context {
    return new CertAllowlistRequest(context_id, this);
  }

  // Envoy refuses a configuration for which this returns false and keeps the previous one.
  onConfigure(configuration_size: u32): bool {
    if (!super.onConfigure(configuration_size)) {
      log(LogLevelValues.error, "cert-allowlist: configuration: cannot read the plugin configuration");
      return false;
    }
    let result = parseConfig(this.getConfiguration());
    let policy = result.policy;
    if (policy === null) {
      log(LogLevelValues.error, "cert-allowlist: rejected configuration: " + result.error);
      return false;
    }
    this.policy = policy;
    log(LogLevelValues.info, "cert-allowlist: configured " + policy.allow.length.toString() + " allow rule(s)");
    return true;
  }
}

export class CertAllowlistRequest extends Context {
  onRequestHeaders(_headers: u32, _end_of_stream: bool): FilterHeadersStatusValues {
    let policy = changetype<CertAllowlistRoot>(this.root_context).policy;
    // Envoy never runs streams on a root whose configure failed; deny rather than trust that.
    if (policy === null) return this.deny("not_configured");
    let verdict = decide(policy, get_property_bytes(DIGEST_PATH));
    if (verdict.allowed) return FilterHeadersStatusValues.Continue;
    return this.deny(reasonName(verdict.reason));
  }

  // The reply is sent by Envoy after this callback returns; the stop status keeps the request
  // from reaching the upstream in the meantime.
  private deny(reason: string): FilterHeadersStatusValues {
    send_local_response(DENY_STATUS, DETAILS_PREFIX + reason, DENY_BODY, denyHeaders(), GrpcStatusValues.InvalidCode);
    return FilterHeadersStatusValues.StopIteration;
  }
}
