import { ConfigResult, parseConfig } from "../config/parse";
import { BufferSource } from "../config/json";
import { KnownFacts } from "./sources";

function parseText(text: string): ConfigResult {
  return parseConfig(new BufferSource(String.UTF8.encode(text)));
}
import { ConnectionFacts, Identity, IdentityResult, IdentityFailure } from "../identity/identity";
import { parseFingerprint } from "../identity/fingerprint";
import { decide, establish, reasonName } from "../policy/decide";
import { Policy } from "../policy/policy";
import { requestHost } from "../policy/authority";
import { requestPath } from "../policy/path";

const NOW: i64 = 1795000000000;
const ACME = "8d5816f39f390cb936cabe2151aee79d751830ea07dde2deb2900d8134edf7a7";
const LEAKED = "1111111111111111111111111111111111111111111111111111111111111111";
const GATEWAY = "2222222222222222222222222222222222222222222222222222222222222222";
const SIDECAR_PEER = "3333333333333333333333333333333333333333333333333333333333333333";

function policy(extra: string = ""): Policy {
  let result = parseText('{"allow": [' +
    '{"name": "acme-batch", "sha256": "' + ACME + '", "hosts": ["payments.example.com"], "paths": ["/ledger/"]},' +
    '{"name": "partner-ns", "uriSanPrefix": "spiffe://partner.example/ns/bank/"},' +
    '{"name": "legacy", "subject": "O=test,CN=curl.example.com"},' +
    '{"name": "client-dns", "dnsSan": "client.example.com"},' +
    '{"name": "by-cn", "cn": "test.client"},' +
    '{"name": "temporary", "cn": "temp", "notBefore": "2026-01-01T00:00:00Z", "notAfter": "2027-01-31T23:59:59Z"}' +
    '], "deny": [{"name": "leaked-key", "sha256": "' + LEAKED + '"}, {"name": "no-teapot", "cn": "test.client", "paths": ["/status/418"]}]' + extra + "}");
  expect(result.error).toBe("");
  return result.policy!;
}

function id(sha256: string, subject: string = "", uris: string[] = [], dnss: string[] = []): IdentityResult {
  let identity = new Identity();
  identity.digest = parseFingerprint(sha256);
  identity.subject = subject;
  identity.uriSans = uris;
  identity.dnsSans = dnss;
  identity.sansComplete = true;
  return new IdentityResult().hold(identity);
}

function outcomeOf(p: Policy, result: IdentityResult, host: string = "payments.example.com", path: string = "/ledger/x", now: i64 = NOW): string {
  let h = String.UTF8.encode(host);
  let t = String.UTF8.encode(path);
  let verdict = decide(p, result, requestHost(changetype<usize>(h), h.byteLength), requestPath(changetype<usize>(t), t.byteLength), now);
  return verdict.allowed ? "allow:" + verdict.rule : reasonName(verdict.reason) + (verdict.rule.length > 0 ? ":" + verdict.rule : "");
}

function outcome(result: IdentityResult, host: string = "payments.example.com", path: string = "/ledger/x", now: i64 = NOW): string {
  return outcomeOf(policy(), result, host, path, now);
}

describe("the decision", () => {
  it("denies without an identity", () => {
    expect(outcome(new IdentityResult().fail(IdentityFailure.NoClientCertificate))).toBe("no_client_certificate");
  });
  it("allows a listed fingerprint inside its host and path scope", () => {
    expect(outcome(id(ACME))).toBe("allow:acme-batch");
  });
  it("denies a listed fingerprint outside its host", () => {
    expect(outcome(id(ACME), "other.example.com")).toBe("not_allowed");
  });
  it("denies a listed fingerprint outside its paths", () => {
    expect(outcome(id(ACME), "payments.example.com", "/admin")).toBe("not_allowed");
  });
  it("allows by URI SAN prefix through any of the SANs", () => {
    expect(outcome(id(GATEWAY, "", ["spiffe://other", "spiffe://partner.example/ns/bank/sa/x"]))).toBe("allow:partner-ns");
  });
  it("allows by the exact subject", () => {
    expect(outcome(id(GATEWAY, "O=test,CN=curl.example.com"))).toBe("allow:legacy");
  });
  it("allows by DNS SAN ignoring case", () => {
    expect(outcome(id(GATEWAY, "", [], ["Client.Example.com"]))).toBe("allow:client-dns");
  });
  it("allows by CN", () => {
    expect(outcome(id(GATEWAY, "CN=test.client,O=x"), "h", "/anything")).toBe("allow:by-cn");
  });
  it("lets a deny rule beat an allow rule", () => {
    expect(outcome(id(GATEWAY, "CN=test.client"), "h", "/status/418")).toBe("denied_by_rule:no-teapot");
  });
  it("denies a leaked key however else it matches", () => {
    expect(outcome(id(LEAKED, "CN=test.client"))).toBe("denied_by_rule:leaked-key");
  });
  it("honours a validity window", () => {
    let inside = id(GATEWAY, "CN=temp");
    expect(outcome(inside, "h", "/", 1801439999000)).toBe("allow:temporary");
    expect(outcome(id(GATEWAY, "CN=temp"), "h", "/", 1801439999001)).toBe("not_allowed");
    expect(outcome(id(GATEWAY, "CN=temp"), "h", "/", 1767225599999)).toBe("not_allowed");
  });
  it("denies everyone else", () => {
    expect(outcome(id(GATEWAY, "CN=stranger"))).toBe("not_allowed");
  });
});

const SCOPED = '{"allow": [{"name": "bank", "uriSanPrefix": "spiffe://bank/", "hosts": ["payments.example.com"], "paths": ["/ledger/"]}, {"name": "everyone", "sha256": "' + GATEWAY + '"}],' +
  ' "deny": [{"name": "no-admin", "sha256": "' + GATEWAY + '", "hosts": ["admin.example.com"], "paths": ["/admin/"]},' +
  ' {"name": "revoked-san", "uriSan": "spiffe://bank/revoked"}, {"name": "no-legacy", "spki": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}, {"name": "no-mallory", "cn": "mallory"}]}';
function scoped(): Policy {
  let result = parseText(SCOPED);
  expect(result.error).toBe("");
  return result.policy!;
}
function withoutCertificate(uris: string[], subject: string = "CN=x"): IdentityResult {
  let result = id(ACME, subject, uris);
  result.identity!.sansComplete = false;
  return result;
}

describe("what the filter cannot know", () => {
  it("lets a deny rule on a SAN match when not every SAN is known, and an allow rule match only a known one", () => {
    expect(outcomeOf(scoped(), withoutCertificate(["spiffe://bank/a"]))).toBe("denied_by_rule:revoked-san");
    let complete = id(ACME, "CN=x", ["spiffe://bank/a"]);
    expect(outcomeOf(scoped(), complete, "payments.example.com", "/ledger/x")).toBe("denied_by_rule:no-legacy");
  });
  it("lets a deny rule on the certificate match when the certificate is not available", () => {
    let complete = id(GATEWAY, "CN=x", []);
    expect(outcomeOf(scoped(), complete, "payments.example.com", "/x")).toBe("denied_by_rule:no-legacy");
  });
  it("puts an ambiguous host inside a deny rule's hosts and outside an allow rule's", () => {
    let p = parseText('{"allow": [{"name": "pay", "sha256": "' + ACME + '", "hosts": ["payments.example.com"]}],' +
      ' "deny": [{"name": "no-admin", "sha256": "' + GATEWAY + '", "hosts": ["admin.example.com"]}]}').policy!;
    expect(outcomeOf(p, id(ACME), "payments.example.com:1@x")).toBe("not_allowed");
    expect(outcomeOf(p, id(ACME), "payments.example.com:443")).toBe("allow:pay");
    let q = parseText('{"allow": [{"name": "all", "sha256": "' + GATEWAY + '"}], "deny": [{"name": "no-admin", "sha256": "' + GATEWAY + '", "hosts": ["admin.example.com"]}]}').policy!;
    expect(outcomeOf(q, id(GATEWAY), "admin.example.com.")).toBe("denied_by_rule:no-admin");
    expect(outcomeOf(q, id(GATEWAY), "other.example.com")).toBe("allow:all");
  });
  it("puts an ambiguous path inside a deny rule's paths and outside an allow rule's", () => {
    let p = parseText('{"allow": [{"name": "ledger", "sha256": "' + ACME + '", "paths": ["/ledger/"]}, {"name": "all", "sha256": "' + GATEWAY + '"}],' +
      ' "deny": [{"name": "no-admin", "sha256": "' + GATEWAY + '", "paths": ["/admin/"]}]}').policy!;
    expect(outcomeOf(p, id(ACME), "h", "/ledger/..;/admin/x")).toBe("not_allowed");
    expect(outcomeOf(p, id(ACME), "h", "/ledger/x")).toBe("allow:ledger");
    expect(outcomeOf(p, id(GATEWAY), "h", "/public/%2e%2e/admin/x")).toBe("denied_by_rule:no-admin");
    expect(outcomeOf(p, id(GATEWAY), "h", "/public/x")).toBe("allow:all");
  });
  it("never allows by the CN of a subject with several, and denies by any of them", () => {
    let p = parseText('{"allow": [{"name": "by-cn", "cn": "batch"}], "deny": [{"name": "no-mallory", "cn": "mallory"}]}').policy!;
    expect(outcomeOf(p, id(GATEWAY, "CN=batch,O=x"))).toBe("allow:by-cn");
    expect(outcomeOf(p, id(GATEWAY, "CN=batch,CN=other"))).toBe("not_allowed");
    expect(outcomeOf(p, id(GATEWAY, "CN=batch+O=x"))).toBe("not_allowed");
    expect(outcomeOf(p, id(GATEWAY, "CN=batch,CN=mallory"))).toBe("denied_by_rule:no-mallory");
  });
  it("matches a URI prefix only on a boundary", () => {
    let p = parseText('{"allow": [{"name": "ns", "uriSanPrefix": "spiffe://td/ns/istio-system"}]}').policy!;
    expect(outcomeOf(p, id(GATEWAY, "", ["spiffe://td/ns/istio-system/sa/gw"]))).toBe("allow:ns");
    expect(outcomeOf(p, id(GATEWAY, "", ["spiffe://td/ns/istio-system"]))).toBe("allow:ns");
    expect(outcomeOf(p, id(GATEWAY, "", ["spiffe://td/ns/istio-system-tenant/sa/x"]))).toBe("not_allowed");
  });
});

function connectionFacts(digest: string | null, xfcc: string | null = null): ConnectionFacts {
  let f = new KnownFacts();
  f.digestText = digest === null ? null : String.UTF8.encode(digest);
  f.uri = "spiffe://first";
  f.header = xfcc;
  return f;
}

const XFCC = ', "identitySource": "xfcc", "trustedProxies": [{"uriSan": "spiffe://cluster.local/ns/istio-system/sa/gateway"}]';
const CLIENT = "Hash=" + ACME + ';Subject="CN=client";URI=spiffe://partner.example/ns/bank/sa/x';
const GATEWAY_ELEMENT = "Hash=" + SIDECAR_PEER + ";URI=spiffe://cluster.local/ns/istio-system/sa/gateway";

// The sidecar's connection from the gateway: its certificate is what the last element describes.
function xfccFacts(digest: string | null, xfcc: string | null): ConnectionFacts {
  let f = new KnownFacts();
  f.digestText = digest === null ? null : String.UTF8.encode(digest);
  f.uri = "spiffe://cluster.local/ns/istio-system/sa/gateway";
  f.header = xfcc;
  return f;
}

describe("identity from the connection", () => {
  it("has no identity without a digest", () => {
    expect(establish(policy(), connectionFacts(null)).failure).toBe(IdentityFailure.NoClientCertificate);
  });
  it("never takes SANs from XFCC's text, even the gateway's own element: without the certificate, not every SAN is known", () => {
    let identity = establish(policy(), connectionFacts(GATEWAY, "Hash=" + GATEWAY + ";URI=spiffe://first;URI=spiffe://partner.example/ns/bank/x")).identity!;
    expect(identity.uriSans.length).toBe(1);
    expect(identity.uriSans[0]).toBe("spiffe://first");
    expect(identity.sansComplete).toBe(false);
  });
  it("ignores a Cert= that is not this connection's certificate", () => {
    let identity = establish(policy(), connectionFacts(GATEWAY, "Hash=" + GATEWAY + ';Cert="-----BEGIN%20CERTIFICATE-----%0AMIIB%0A-----END%20CERTIFICATE-----%0A"')).identity!;
    expect(identity.certificate).toBeNull();
    expect(identity.sansComplete).toBe(false);
  });
});

describe("identity from XFCC", () => {
  it("refuses a client whose element carries no certificate to prove its text", () => {
    expect(establish(policy(XFCC), xfccFacts(SIDECAR_PEER, CLIENT + "," + GATEWAY_ELEMENT)).failure).toBe(IdentityFailure.XfccMalformed);
  });
  it("refuses an element whose Cert= is not the certificate its Hash names", () => {
    let forged = "Hash=" + ACME + ';Cert="-----BEGIN%20CERTIFICATE-----%0AMIIB%0A-----END%20CERTIFICATE-----%0A";URI=spiffe://partner.example/ns/bank/sa/x';
    expect(establish(policy(XFCC), xfccFacts(SIDECAR_PEER, forged + "," + GATEWAY_ELEMENT)).failure).toBe(IdentityFailure.XfccMalformed);
  });
  it("denies XFCC on a connection without mTLS as untrusted", () => {
    expect(establish(policy(XFCC), xfccFacts(null, CLIENT)).failure).toBe(IdentityFailure.XfccUntrusted);
  });
  it("denies XFCC whose last Hash is not this connection's as a mismatch", () => {
    expect(establish(policy(XFCC), xfccFacts(SIDECAR_PEER, GATEWAY_ELEMENT + "," + CLIENT)).failure).toBe(IdentityFailure.XfccMismatch);
  });
  it("denies a missing header", () => {
    expect(establish(policy(XFCC), xfccFacts(SIDECAR_PEER, null)).failure).toBe(IdentityFailure.XfccMissing);
  });
  it("denies a chain of only trusted proxies as missing", () => {
    expect(establish(policy(XFCC), xfccFacts(SIDECAR_PEER, GATEWAY_ELEMENT)).failure).toBe(IdentityFailure.XfccMissing);
  });
  it("denies a last element whose URI is not the connection's as a mismatch", () => {
    let forged = "Hash=" + SIDECAR_PEER + ";URI=spiffe://cluster.local/ns/other/sa/attacker";
    expect(establish(policy(XFCC), xfccFacts(SIDECAR_PEER, CLIENT + "," + forged)).failure).toBe(IdentityFailure.XfccMismatch);
  });
  it("denies a last element whose subject is not the connection's as a mismatch", () => {
    let forged = "Hash=" + SIDECAR_PEER + ';Subject="CN=someone";URI=spiffe://cluster.local/ns/istio-system/sa/gateway';
    expect(establish(policy(XFCC), xfccFacts(SIDECAR_PEER, CLIENT + "," + forged)).failure).toBe(IdentityFailure.XfccMismatch);
  });
  it("denies an unparsable header as malformed", () => {
    expect(establish(policy(XFCC), xfccFacts(SIDECAR_PEER, "Hash")).failure).toBe(IdentityFailure.XfccMalformed);
  });
});
