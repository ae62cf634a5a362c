import { ConfigResult, parseConfig } from "../config/parse";
import { IdentitySource, Mode } from "../policy/policy";
import { trickle, whole } from "./sources";

// Parsed from the whole text, and again three bytes per read: both must say the same.
function parseText(text: string): ConfigResult {
  let result = parseConfig(whole(text));
  let trickled = parseConfig(trickle(text, 3));
  expect(trickled.error).toBe(result.error, "the same error whatever the reads");
  expect(trickled.policy === null).toBe(result.policy === null);
  return result;
}

const SHA = "8d5816f39f390cb936cabe2151aee79d751830ea07dde2deb2900d8134edf7a7";
const OTHER = "0000000000000000000000000000000000000000000000000000000000000001";
const MATCHERS = "sha256, uriSan, uriSanPrefix, dnsSan, subject, cn, spki, emailSan, ipSan, serial, issuer";
const RULE_FIELDS = "name, sha256, uriSan, uriSanPrefix, dnsSan, subject, cn, spki, emailSan, ipSan, serial, issuer, hosts, paths, notBefore, notAfter, comment";
const EX = '{"allow": [{"name": "acme-batch", "sha256": "<64 hex digits>"}]}';

function errorOf(text: string): string {
  let result = parseText(text);
  expect(result.policy).toBeNull("a rejected configuration yields no policy");
  return result.error;
}

function rule(name: string, sha256: string): string {
  return '{"name": "' + name + '", "sha256": "' + sha256 + '"}';
}

function withAllow(rules: string, extra: string = ""): string {
  return '{"allow": [' + rules + "]" + (extra.length > 0 ? ", " + extra : "") + "}";
}

describe("configuration errors name the JSON path and the problem", () => {
  it("rejects an empty configuration", () => {
    expect(errorOf("")).toBe("configuration: empty; expected a JSON object such as " + EX);
  });
  it("rejects a configuration of only white space", () => {
    expect(errorOf(" \n\t")).toBe("configuration: empty; expected a JSON object such as " + EX);
  });
  it("rejects invalid JSON with the offset", () => {
    expect(errorOf('{"allow": [}')).toBe("configuration: invalid JSON at offset 11: unexpected character '}'");
  });
  it("rejects a configuration that is not an object", () => {
    expect(errorOf("[]")).toBe("configuration: expected an object, got array");
  });
  it("rejects an unknown top-level field", () => {
    expect(errorOf('{"allow": [], "alow": []}')).toBe(
      "alow: unknown field; expected one of: mode, identitySource, trustedProxies, hosts, allow, deny, identityHeader, denyResponse, selfTests, expiryWarningDays, denyLinesPerSecond");
  });
  it("quotes an unknown field whose name is not a plain word", () => {
    expect(errorOf('{"allow": [], "a b\\n": 1}')).toBe(
      '["a b\\u000a"]: unknown field; expected one of: mode, identitySource, trustedProxies, hosts, allow, deny, identityHeader, denyResponse, selfTests, expiryWarningDays, denyLinesPerSecond');
  });
  it("rejects a missing allow list", () => {
    expect(errorOf("{}")).toBe("allow: required; expected a list of rules such as " + EX);
  });
  it("rejects an allow list that is not an array", () => {
    expect(errorOf('{"allow": {"name": "a"}}')).toBe("allow: expected an array, got object");
  });
  it("rejects a rule that is not an object", () => {
    expect(errorOf('{"allow": ["' + SHA + '"]}')).toBe("allow[0]: expected an object, got string");
  });
  it("rejects an unknown field in a rule", () => {
    expect(errorOf(withAllow('{"name": "a", "sha265": "' + SHA + '"}'))).toBe("allow[0].sha265: unknown field; expected one of: " + RULE_FIELDS);
  });
  it("rejects \"host\" written for \"hosts\", which must never widen a rule", () => {
    expect(errorOf(withAllow('{"name": "a", "sha256": "' + SHA + '", "host": "x.example"}'))).toBe("allow[0].host: unknown field; expected one of: " + RULE_FIELDS);
  });
  it("rejects a rule without a name", () => {
    expect(errorOf(withAllow('{"sha256": "' + SHA + '"}'))).toBe("allow[0].name: required");
  });
  it("rejects a name that is not a string", () => {
    expect(errorOf(withAllow('{"name": 7, "sha256": "' + SHA + '"}'))).toBe("allow[0].name: expected a string, got number");
  });
  it("rejects an empty name", () => {
    expect(errorOf(withAllow(rule("", SHA)))).toBe("allow[0].name: must not be empty");
  });
  it("rejects a duplicate name and says where it was first used", () => {
    expect(errorOf(withAllow(rule("a", SHA) + ", " + rule("b", OTHER) + ", " + rule("a", OTHER))))
      .toBe('allow[2].name: duplicate name "a" (first used by allow[0])');
  });
  it("names a duplicate far into a list many read windows long", () => {
    let rules = new Array<string>();
    for (let i = 0; i < 3000; i++) rules.push(rule("client-" + i.toString(), i.toString(16).padStart(64, "0")));
    rules.push(rule("client-17", SHA));
    let text = withAllow(rules.join(", "), '"deny": [' + rule("d", SHA) + "]");
    expect(text.length).toBeGreaterThan(4 * 65536);
    expect(errorOf(text)).toBe('allow[3000].name: duplicate name "client-17" (first used by allow[17])');
    let result = parseText(text.replace(rule("client-17", SHA), rule("client-3000", SHA)));
    expect(result.error).toBe("");
    expect(result.policy!.allow.length).toBe(3001);
    expect(result.policy!.allow.name(2999)).toBe("client-2999");
    expect(result.policy!.deny.length).toBe(1);
  });
  it("allows the same name once in allow and once in deny", () => {
    expect(parseText(withAllow(rule("a", SHA), '"deny": [' + rule("a", OTHER) + "]")).error).toBe("");
  });
  it("rejects a duplicate name in the deny list", () => {
    expect(errorOf(withAllow("", '"deny": [' + rule("a", SHA) + ", " + rule("a", OTHER) + "]")))
      .toBe('deny[1].name: duplicate name "a" (first used by deny[0])');
  });
  it("rejects a rule without an identity matcher", () => {
    expect(errorOf(withAllow('{"name": "a", "hosts": ["x.example"]}'))).toBe("allow[0]: expected at least one identity matcher (" + MATCHERS + ")");
  });
  it("rejects a sha256 that is not a string", () => {
    expect(errorOf(withAllow('{"name": "a", "sha256": null}'))).toBe("allow[0].sha256: expected a string, got null");
  });
  it("rejects a sha256 that is not 64 hex digits", () => {
    expect(errorOf(withAllow(rule("a", SHA) + ", " + rule("b", OTHER) + ", " + rule("c", "xyz"))))
      .toBe('allow[2].sha256: expected 64 hex digits, got "xyz"');
  });
  it("rejects an empty sha256", () => {
    expect(errorOf(withAllow(rule("a", "")))).toBe("allow[0].sha256: must not be empty");
  });
  it("rejects an empty uriSan", () => {
    expect(errorOf(withAllow('{"name": "a", "uriSan": ""}'))).toBe("allow[0].uriSan: must not be empty");
  });
  it("rejects a cn that is not a string", () => {
    expect(errorOf(withAllow('{"name": "a", "cn": ["x"]}'))).toBe("allow[0].cn: expected a string, got array");
  });
  it("rejects an empty hosts list", () => {
    expect(errorOf(withAllow('{"name": "a", "cn": "x", "hosts": []}'))).toBe("allow[0].hosts: must not be empty (leave the field out instead)");
  });
  it("rejects a host with a port", () => {
    expect(errorOf(withAllow('{"name": "a", "cn": "x", "hosts": ["a.example:443"]}')))
      .toBe('allow[0].hosts[0]: ports are ignored; write the host without ":port", got "a.example:443"');
  });
  it("rejects a misplaced wildcard in the top-level hosts", () => {
    expect(errorOf('{"hosts": ["pay*.example"], "allow": []}')).toBe('hosts[0]: expected a host name (letters, digits, \'-\' and \'.\') or "*." followed by one, got "pay*.example"');
  });
  it("rejects a path that does not start with /", () => {
    expect(errorOf(withAllow('{"name": "a", "cn": "x", "paths": ["ledger"]}')))
      .toBe('allow[0].paths[0]: expected a path prefix as requests spell it (a path starts with "/"), got "ledger"');
  });
  it("rejects a path with a query", () => {
    expect(errorOf(withAllow('{"name": "a", "cn": "x", "paths": ["/a?b"]}')))
      .toBe('allow[0].paths[0]: expected a path prefix as requests spell it (a prefix has no query (\'?\')), got "/a?b"');
  });
  it("rejects a time that is not RFC 3339 UTC", () => {
    expect(errorOf(withAllow('{"name": "a", "cn": "x", "notAfter": "31.01.2027"}')))
      .toBe('allow[0].notAfter: expected an RFC 3339 UTC time such as "2027-01-31T23:59:59Z", got "31.01.2027"');
  });
  it("rejects notBefore after notAfter", () => {
    expect(errorOf(withAllow('{"name": "a", "cn": "x", "notBefore": "2027-02-01T00:00:00Z", "notAfter": "2027-01-01T00:00:00Z"}')))
      .toBe("allow[0].notBefore: is after notAfter");
  });
  it("rejects an empty comment", () => {
    expect(errorOf(withAllow('{"name": "a", "cn": "x", "comment": ""}'))).toBe("allow[0].comment: must not be empty");
  });
  it("rejects an unknown mode", () => {
    expect(errorOf('{"mode": "enforced", "allow": []}')).toBe('mode: expected "enforce" or "dry-run", got "enforced"');
  });
  it("rejects an unknown identity source", () => {
    expect(errorOf('{"identitySource": "header", "allow": []}')).toBe('identitySource: expected "connection" or "xfcc", got "header"');
  });
  it("rejects a trusted proxy with a scope field", () => {
    expect(errorOf('{"trustedProxies": [{"uriSan": "spiffe://x", "hosts": ["a"]}], "allow": []}'))
      .toBe("trustedProxies[0].hosts: unknown field; expected one of: " + MATCHERS);
  });
  it("rejects a trusted proxy without a matcher", () => {
    expect(errorOf('{"trustedProxies": [{}], "allow": []}')).toBe("trustedProxies[0]: expected at least one identity matcher (" + MATCHERS + ")");
  });
  it("rejects a deny status outside 400–599", () => {
    expect(errorOf('{"allow": [], "denyResponse": {"status": 200}}')).toBe("denyResponse.status: expected an integer from 400 to 599, got 200");
  });
  it("rejects a deny status that is not an integer", () => {
    expect(errorOf('{"allow": [], "denyResponse": {"status": 403.5}}')).toBe("denyResponse.status: expected an integer from 400 to 599, got 403.5");
  });
  it("rejects a deny body over 4 KiB", () => {
    expect(errorOf('{"allow": [], "denyResponse": {"body": "' + "x".repeat(4097) + '"}}')).toBe("denyResponse.body: longer than 4096 bytes (4097)");
  });
  it("rejects an unknown field in denyResponse", () => {
    expect(errorOf('{"allow": [], "denyResponse": {"code": 403}}')).toBe("denyResponse.code: unknown field; expected one of: status, body, contentType, includeReason");
  });
  it("rejects includeReason that is not a boolean", () => {
    expect(errorOf('{"allow": [], "denyResponse": {"includeReason": "yes"}}')).toBe("denyResponse.includeReason: expected a boolean, got string");
  });
  it("rejects an identity header that is not a header name", () => {
    expect(errorOf('{"allow": [], "identityHeader": "x client"}')).toBe('identityHeader: expected a header name of letters, digits, \'-\' and \'_\', got "x client"');
  });
  it("rejects XFCC as the identity header", () => {
    expect(errorOf('{"allow": [], "identityHeader": "X-Forwarded-Client-Cert"}'))
      .toBe('identityHeader: "X-Forwarded-Client-Cert" is reserved (Envoy, HTTP framing or credentials rely on it); choose a header of your own such as "x-client-identity"');
  });
  it("rejects a duplicated JSON key instead of keeping the last", () => {
    expect(errorOf('{"allow": [], "allow": [' + rule("a", SHA) + "]}")).toBe('configuration: invalid JSON at offset 14: duplicate key "allow"');
  });
  it("cuts a very long value in the message", () => {
    expect(errorOf(withAllow(rule("a", "a".repeat(200)))))
      .toBe('allow[0].sha256: expected 64 hex digits, got "' + "a".repeat(80) + '"… (200 characters)');
  });
});

const BASE = '"allow": [{"name": "acme", "sha256": "' + SHA + '", "paths": ["/ledger/"]}], "deny": [{"name": "no-teapot", "cn": "test.client", "paths": ["/status/418"]}]';

function selfTest(name: string, request: string, expectation: string): string {
  return '{"name": "' + name + '", "request": ' + request + ', "expect": "' + expectation + '"}';
}

describe("self-tests", () => {
  it("accept a configuration whose self-tests pass", () => {
    let tests = selfTest("batch may post", '{"sha256": "' + SHA + '", "path": "/ledger/x"}', "allow") + ", " +
      selfTest("no certificate", '{"path": "/ledger/x"}', "deny") + ", " +
      selfTest("teapot blocked", '{"subject": "CN=test.client", "path": "/status/%2e%2e/status/418"}', "deny");
    expect(parseText("{" + BASE + ', "selfTests": [' + tests + "]}").error).toBe("");
  });
  it("reject a configuration whose self-test fails, naming the test and the outcome", () => {
    let tests = selfTest("batch may read status", '{"sha256": "' + SHA + '", "path": "/status"}', "allow");
    expect(errorOf("{" + BASE + ', "selfTests": [' + tests + "]}"))
      .toBe('selfTests[0]: self-test "batch may read status" expected allow, got deny (not_allowed)');
  });
  it("report the rule that allowed when a deny was expected", () => {
    let tests = selfTest("batch blocked", '{"sha256": "' + SHA + '", "path": "/ledger/a"}', "deny");
    expect(errorOf("{" + BASE + ', "selfTests": [' + tests + "]}"))
      .toBe('selfTests[0]: self-test "batch blocked" expected deny, got allow (rule "acme")');
  });
  it("use the test's own clock", () => {
    let config = '"allow": [{"name": "temp", "cn": "x", "notAfter": "2027-01-31T23:59:59Z"}]';
    let tests = selfTest("expired", '{"subject": "CN=x", "at": "2027-02-01T00:00:00Z"}', "allow");
    expect(errorOf("{" + config + ', "selfTests": [' + tests + "]}")).toBe('selfTests[0]: self-test "expired" expected allow, got deny (not_allowed)');
  });
  it("hold a test without \"at\" at every moment, naming the earliest edge at which it fails", () => {
    let config = '"allow": [{"name": "temp", "cn": "x", "notAfter": "2027-01-31T23:59:59Z"}]';
    let tests = selfTest("x may post", '{"subject": "CN=x"}', "allow");
    expect(errorOf("{" + config + ', "selfTests": [' + tests + "]}"))
      .toBe('selfTests[0]: self-test "x may post" expected allow, got deny (not_allowed) at 2027-01-31T23:59:59.001Z (without "at", a self-test must hold at any time)');
  });
  it("hold a test without \"at\" before a window opens too", () => {
    let config = '"allow": [{"name": "later", "cn": "x", "notBefore": "2027-01-01T00:00:00Z"}], "deny": [{"name": "old", "cn": "x", "notAfter": "2020-01-01T00:00:00Z"}]';
    let tests = selfTest("x may post", '{"subject": "CN=x"}', "allow");
    expect(errorOf("{" + config + ', "selfTests": [' + tests + "]}"))
      .toBe('selfTests[0]: self-test "x may post" expected allow, got deny (denied_by_rule) at 2020-01-01T00:00:00.000Z (without "at", a self-test must hold at any time)');
  });
  it("accept a test without \"at\" that holds whatever the windows", () => {
    let config = '"allow": [{"name": "temp", "cn": "x", "notBefore": "2026-01-01T00:00:00Z", "notAfter": "2027-01-31T23:59:59Z"}, {"name": "always", "cn": "x"}, ' +
      '{"name": "other", "cn": "y", "notAfter": "2020-01-01T00:00:00Z"}]';
    let tests = selfTest("x may post", '{"subject": "CN=x"}', "allow") + ", " + selfTest("z may not", '{"subject": "CN=z"}', "deny");
    expect(parseText("{" + config + ', "selfTests": [' + tests + "]}").error).toBe("");
  });
  it("reject an unknown expectation", () => {
    expect(errorOf("{" + BASE + ', "selfTests": [' + selfTest("x", "{}", "permit") + "]}")).toBe('selfTests[0].expect: expected "allow" or "deny", got "permit"');
  });
  it("reject an unknown request field", () => {
    expect(errorOf("{" + BASE + ', "selfTests": [' + selfTest("x", '{"uri": "spiffe://x"}', "deny") + "]}"))
      .toBe("selfTests[0].request.uri: unknown field; expected one of: sha256, uriSans, dnsSans, subject, host, path, at");
  });
  it("reject duplicate test names", () => {
    let tests = selfTest("x", "{}", "deny") + ", " + selfTest("x", "{}", "deny");
    expect(errorOf("{" + BASE + ', "selfTests": [' + tests + "]}")).toBe('selfTests[1].name: duplicate name "x" (first used by selfTests[0])');
  });
});

describe("accepted configurations", () => {
  it("default to enforce, connection identity, every host, no identity header and a 403", () => {
    let policy = parseText('{"allow": []}').policy!;
    expect(policy.mode).toBe(Mode.Enforce);
    expect(policy.source).toBe(IdentitySource.Connection);
    expect(policy.hosts).toBeNull();
    expect(policy.identityHeader).toBe("");
    expect(policy.denyResponse.status).toBe(403);
    expect(policy.denyResponse.body).toBe("client certificate not authorized\n");
    expect(policy.denyResponse.contentType).toBe("text/plain");
    expect(policy.denyResponse.includeReason).toBe(false);
  });
  it("read every top-level field", () => {
    let policy = parseText('{"mode": "dry-run", "identitySource": "xfcc", "trustedProxies": [{"uriSan": "spiffe://gw"}], "hosts": ["a.example"], ' +
      '"allow": [], "deny": [], "identityHeader": "X-Client-Identity", "denyResponse": {"status": 401, "body": "no", "contentType": "text/html", "includeReason": true}}').policy!;
    expect(policy.mode).toBe(Mode.DryRun);
    expect(policy.source).toBe(IdentitySource.Xfcc);
    expect(policy.trustedProxies.length).toBe(1);
    expect(policy.hosts!.length).toBe(1);
    expect(policy.identityHeader).toBe("x-client-identity");
    expect(policy.denyResponse.status).toBe(401);
    expect(policy.denyResponse.includeReason).toBe(true);
  });
  it("read only what the rules need", () => {
    let policy = parseText(withAllow(rule("a", SHA))).policy!;
    expect(policy.needsHost || policy.needsPath || policy.needsClock || policy.needsSubject || policy.needsSans).toBe(false);
    let scoped = parseText(withAllow('{"name": "a", "cn": "x", "uriSan": "u", "hosts": ["h"], "paths": ["/p"], "notAfter": "2030-01-01T00:00:00Z"}')).policy!;
    expect(scoped.needsHost && scoped.needsPath && scoped.needsClock && scoped.needsSubject && scoped.needsSans).toBe(true);
  });
});

function matcherError(field: string, value: string): string {
  return errorOf(withAllow('{"name": "a", "' + field + '": ' + value + "}"));
}

function matcherAccepted(field: string, value: string): bool {
  return parseText(withAllow('{"name": "a", "' + field + '": ' + value + "}")).policy !== null;
}

describe("a configuration that reads right but could never match as written is refused", () => {
  it("refuses an SPKI pin without its padding or with a line break", () => {
    expect(matcherError("spki", '"' + "A".repeat(43) + '"')).toBe("allow[0].spki: expected the base64 SHA-256 of a public key (44 characters ending in '=', as Istio's verifyCertificateSpki and `cert-allowlist inspect` print it), got \"" + "A".repeat(43) + "\"");
    expect(matcherError("spki", '"' + "A".repeat(22) + "\\n" + "A".repeat(21) + '="').startsWith("allow[0].spki: expected the base64 SHA-256")).toBe(true);
    expect(matcherAccepted("spki", '"' + "A".repeat(43) + '="')).toBe(true);
  });
  it("refuses SANs with characters outside ASCII, invisible ones, control characters or edge spaces", () => {
    expect(matcherError("uriSan", '"spiffe://bank\\u200B/a"')).toBe('allow[0].uriSan: a SAN is ASCII; found U+200B in "spiffe://bank\\u200b/a"');
    expect(matcherError("dnsSan", '"b\\u00FCcher.example"')).toBe('allow[0].dnsSan: a SAN is ASCII; found U+00FC in "bücher.example"');
    expect(matcherError("uriSanPrefix", '"spiffe://bank/\\t"')).toBe('allow[0].uriSanPrefix: a SAN is ASCII; found U+0009 in "spiffe://bank/\\u0009"');
    expect(matcherError("uriSan", '" spiffe://bank/a"')).toBe('allow[0].uriSan: must not begin or end with a space (it is never trimmed to match), got " spiffe://bank/a"');
  });
  it("refuses a subject or issuer not written as Envoy prints it", () => {
    expect(matcherError("subject", '"CN=J\\u00FCrgen"')).toBe('allow[0].subject: write it as Envoy prints it, characters outside ASCII as \\XX escapes; found U+00FC in "CN=Jürgen"');
    expect(matcherAccepted("subject", '"CN=J\\\\C3\\\\BCrgen"')).toBe(true);
  });
  it("refuses a CN with invisible characters, and takes any other text, edge spaces included", () => {
    expect(matcherError("cn", '"batch\\u00A0job"')).toBe('allow[0].cn: found U+00A0 in "batch\\u00a0job"; write the CN as the certificate has it, nothing invisible');
    expect(matcherAccepted("cn", '"J\\u00FCrgen"')).toBe(true);
    expect(matcherAccepted("cn", '"#Acme, Inc. 1 "')).toBe(true);
  });
});

describe("a configuration unsafe in a header is refused", () => {
  it("refuses a rule name with a line break, NUL, characters outside ASCII or edge spaces (it becomes the identity header's value)", () => {
    expect(errorOf(withAllow(rule("a\\r\\nx-admin: yes", SHA)))).toBe("allow[0].name: found U+000D: a rule's name is sent upstream as the identity header's value, so it must be printable ASCII");
    expect(errorOf(withAllow(rule("a\\u0000", SHA)))).toBe("allow[0].name: found U+0000: a rule's name is sent upstream as the identity header's value, so it must be printable ASCII");
    expect(errorOf(withAllow(rule("caf\\u00E9", SHA)))).toBe("allow[0].name: found U+00C3: a rule's name is sent upstream as the identity header's value, so it must be printable ASCII");
    expect(errorOf(withAllow(rule(" a", SHA)))).toBe("allow[0].name: must not begin or end with a space: a rule's name is sent upstream as the identity header's value, and Envoy trims header values");
    expect(errorOf(withAllow(rule("a".repeat(1025), SHA)))).toBe("allow[0].name: longer than 1024 bytes (1025): a rule's name is sent upstream as the identity header's value");
  });
  it("refuses a content type with a line break", () => {
    expect(errorOf('{"allow": [], "denyResponse": {"contentType": "text/plain\\r\\nx-a: b"}}'))
      .toBe("denyResponse.contentType: found U+000D: it is the deny reply's content-type header, so it must be printable ASCII");
  });
  it("refuses identity headers that carry credentials or that Envoy or a proxy relies on, in either spelling", () => {
    for (let i = 0; i < 6; i++) {
      let header = ["authorization", "Proxy-Authorization", "cookie", "x-forwarded-for", "x-envoy-original-path", "x_forwarded_for"][i];
      expect(errorOf('{"allow": [], "identityHeader": "' + header + '"}'))
        .toBe('identityHeader: "' + header + '" is reserved (Envoy, HTTP framing or credentials rely on it); choose a header of your own such as "x-client-identity"');
    }
  });
  it("strips every spelling of the identity header an upstream could read as it", () => {
    let policy = parseText('{"allow": [], "identityHeader": "X_Client-Identity"}').policy!;
    expect(policy.identityHeader).toBe("x-client-identity");
    expect(policy.identityHeaderSpellings.join(" ")).toBe("x-client-identity x_client-identity x-client_identity x_client_identity");
  });
});
