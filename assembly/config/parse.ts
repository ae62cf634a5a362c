// Plugin configuration: JSON text → an immutable Policy, or an error naming the JSON path and the
// problem. Pure: no SDK imports, never throws. Unknown keys, wrong types and empty strings are
// errors everywhere, so a typo (say "host" for "hosts") can never silently widen a rule. The
// configuration's self-tests run here, through the same decision the requests use.
import { JsonKind, JsonValue, formatNumber, kindName, parseJson } from "./json";
import { Instant, parseRfc3339 } from "./rfc3339";
import { parseFingerprint } from "../identity/sha256";
import { Identity, IdentityFailure, IdentityResult } from "../identity/identity";
import { HostPattern, normaliseHost } from "../policy/host";
import { normalisePath } from "../policy/path";
import { DenyResponse, IdentitySource, Mode, Policy } from "../policy/policy";
import { Matcher, Rule } from "../policy/rule";
import { RuleList } from "../policy/rule-list";
import { decide, reasonName } from "../policy/decide";
import { asciiLower } from "../text";

export class ConfigResult {
  policy: Policy | null = null;
  error: string = "";
}

const TOP_LEVEL_FIELDS: string[] = [
  "mode", "identitySource", "trustedProxies", "hosts", "allow", "deny", "identityHeader", "denyResponse", "selfTests",
];
const MATCHER_FIELDS: string[] = ["sha256", "uriSan", "uriSanPrefix", "dnsSan", "subject", "cn"];
const RULE_FIELDS: string[] = ["name", "sha256", "uriSan", "uriSanPrefix", "dnsSan", "subject", "cn", "hosts", "paths", "notBefore", "notAfter", "comment"];
const DENY_RESPONSE_FIELDS: string[] = ["status", "body", "contentType", "includeReason"];
const SELF_TEST_FIELDS: string[] = ["name", "request", "expect"];
const SELF_TEST_REQUEST_FIELDS: string[] = ["sha256", "uriSans", "dnsSans", "subject", "host", "path", "at"];
// Headers the identity header must never overwrite.
const RESERVED_HEADERS: string[] = ["x-forwarded-client-cert", "host", "content-length", "transfer-encoding", "connection", "te", "upgrade", "x-cert-allowlist-reason"];

const MAX_BODY_BYTES: i32 = 4096;
const MAX_SHOWN_CHARS: i32 = 80;

export const EXAMPLE = "{\"allow\": [{\"name\": \"acme-batch\", \"sha256\": \"<64 hex digits>\"}]}";

// A string as it appears in a message: quoted, control characters escaped, long values cut.
export function quote(text: string): string {
  let shown = text.length > MAX_SHOWN_CHARS ? text.substring(0, MAX_SHOWN_CHARS) : text;
  let out = "\"";
  for (let i = 0; i < shown.length; i++) {
    let c = shown.charCodeAt(i);
    if (c == 0x22 || c == 0x5c) out += "\\" + String.fromCharCode(c);
    else if (c < 0x20 || c == 0x7f) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += String.fromCharCode(c);
  }
  out += "\"";
  if (shown.length < text.length) out += "… (" + text.length.toString() + " characters)";
  return out;
}

function isIdentifier(key: string): bool {
  if (key.length == 0) return false;
  for (let i = 0; i < key.length; i++) {
    let c = key.charCodeAt(i);
    let ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c == 0x5f || c == 0x2d;
    if (!ok) return false;
  }
  return true;
}

function field(path: string, key: string): string {
  if (!isIdentifier(key)) return path + "[" + quote(key) + "]";
  return path.length == 0 ? key : path + "." + key;
}

function item(path: string, index: i32): string {
  return path + "[" + index.toString() + "]";
}

function article(noun: string): string {
  let c = noun.charCodeAt(0);
  return (c == 0x61 || c == 0x6f ? "an " : "a ") + noun;
}

function isBlank(text: string): bool {
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) return false;
  }
  return true;
}

class Parser {
  error: string = "";

  get failed(): bool {
    return this.error.length > 0;
  }

  fail(path: string, message: string): bool {
    if (this.error.length == 0) this.error = (path.length == 0 ? "configuration" : path) + ": " + message;
    return false;
  }

  expect(value: JsonValue, kind: JsonKind, path: string): bool {
    if (value.kind == kind) return true;
    return this.fail(path, "expected " + article(kindName(kind)) + ", got " + kindName(value.kind));
  }

  // An object whose keys are all in `known`.
  object(value: JsonValue, known: string[], path: string): bool {
    if (!this.expect(value, JsonKind.Object, path)) return false;
    for (let i = 0; i < value.keys.length; i++) {
      let key = value.keys[i];
      if (!known.includes(key)) return this.fail(field(path, key), "unknown field; expected one of: " + known.join(", "));
    }
    return true;
  }

  // A non-empty string field; null when absent or invalid (check `failed`).
  string(object: JsonValue, key: string, path: string, required: bool = false): string | null {
    let at = field(path, key);
    let value = object.get(key);
    if (value === null) {
      if (required) this.fail(at, "required");
      return null;
    }
    if (!this.expect(value, JsonKind.String, at)) return null;
    if (value.text.length == 0) {
      this.fail(at, "must not be empty");
      return null;
    }
    return value.text;
  }

  // One of `choices`; `fallback` when absent.
  choice(object: JsonValue, key: string, path: string, choices: string[], fallback: i32): i32 {
    let text = this.string(object, key, path);
    if (text === null) return fallback;
    let index = choices.indexOf(text);
    if (index < 0) {
      this.fail(field(path, key), "expected " + quotedList(choices) + ", got " + quote(text));
      return fallback;
    }
    return index;
  }

  // A non-empty list of non-empty strings; null when absent or invalid.
  strings(object: JsonValue, key: string, path: string): string[] | null {
    let at = field(path, key);
    let value = object.get(key);
    if (value === null || !this.expect(value, JsonKind.Array, at)) return null;
    if (value.items.length == 0) {
      this.fail(at, "must not be empty (leave the field out instead)");
      return null;
    }
    let result = new Array<string>();
    for (let i = 0; i < value.items.length; i++) {
      let entry = value.items[i];
      if (!this.expect(entry, JsonKind.String, item(at, i))) return null;
      if (entry.text.length == 0) {
        this.fail(item(at, i), "must not be empty");
        return null;
      }
      result.push(entry.text);
    }
    return result;
  }

  // A list of objects; null when absent or invalid.
  list(object: JsonValue, key: string): JsonValue[] | null {
    let value = object.get(key);
    if (value === null || !this.expect(value, JsonKind.Array, key)) return null;
    return value.items;
  }

  instant(object: JsonValue, key: string, path: string, fallback: i64): i64 {
    let text = this.string(object, key, path);
    if (text === null) return fallback;
    let instant = new Instant();
    if (!parseRfc3339(text, instant)) {
      this.fail(field(path, key), "expected an RFC 3339 UTC time such as \"2027-01-31T23:59:59Z\", got " + quote(text));
      return fallback;
    }
    return instant.ms;
  }

  fingerprint(text: string, path: string): StaticArray<u64> | null {
    let digest = parseFingerprint(text);
    if (digest === null) this.fail(path, "expected 64 hex digits, got " + quote(text));
    return digest;
  }

  // The identity matchers of a rule or trusted proxy; at least one is required.
  matcher(object: JsonValue, path: string): Matcher {
    let matcher = new Matcher();
    let sha256 = this.string(object, "sha256", path);
    if (sha256 !== null) matcher.digest = this.fingerprint(sha256, field(path, "sha256"));
    matcher.uriSan = this.string(object, "uriSan", path);
    matcher.uriSanPrefix = this.string(object, "uriSanPrefix", path);
    let dnsSan = this.string(object, "dnsSan", path);
    if (dnsSan !== null) matcher.dnsSan = asciiLower(dnsSan);
    matcher.subject = this.string(object, "subject", path);
    matcher.cn = this.string(object, "cn", path);
    if (!this.failed && sha256 === null && matcher.uriSan === null && matcher.uriSanPrefix === null && dnsSan === null &&
        matcher.subject === null && matcher.cn === null) {
      this.fail(path, "expected at least one identity matcher (" + MATCHER_FIELDS.join(", ") + ")");
    }
    return matcher;
  }

  hostPatterns(object: JsonValue, key: string, path: string): HostPattern[] | null {
    let texts = this.strings(object, key, path);
    if (texts === null) return null;
    let patterns = new Array<HostPattern>();
    for (let i = 0; i < texts.length; i++) {
      let problem = new Array<string>();
      let pattern = HostPattern.parse(texts[i], problem);
      if (pattern === null) {
        this.fail(item(field(path, key), i), problem[0] + ", got " + quote(texts[i]));
        return null;
      }
      patterns.push(pattern);
    }
    return patterns;
  }

  pathPrefixes(object: JsonValue, key: string, path: string): string[] | null {
    let texts = this.strings(object, key, path);
    if (texts === null) return null;
    let prefixes = new Array<string>();
    for (let i = 0; i < texts.length; i++) {
      let text = texts[i];
      if (!text.startsWith("/") || text.includes("?") || text.includes("#")) {
        this.fail(item(field(path, key), i), "expected a path starting with \"/\" without query or fragment, got " + quote(text));
        return null;
      }
      prefixes.push(normalisePath(String.UTF8.encode(text)));
    }
    return prefixes;
  }

  rule(object: JsonValue, path: string): Rule | null {
    if (!this.object(object, RULE_FIELDS, path)) return null;
    let name = this.string(object, "name", path, true);
    if (name === null) return null;
    let rule = new Rule(name);
    rule.matcher = this.matcher(object, path);
    rule.hosts = this.hostPatterns(object, "hosts", path);
    rule.paths = this.pathPrefixes(object, "paths", path);
    rule.notBefore = this.instant(object, "notBefore", path, rule.notBefore);
    rule.notAfter = this.instant(object, "notAfter", path, rule.notAfter);
    this.string(object, "comment", path);
    if (!this.failed && rule.notBefore > rule.notAfter) this.fail(field(path, "notBefore"), "is after notAfter");
    return this.failed ? null : rule;
  }

  rules(root: JsonValue, key: string): RuleList | null {
    let items = this.list(root, key);
    if (items === null) return null;
    let rules = new Array<Rule>();
    let firstUse = new Map<string, i32>();
    for (let i = 0; i < items.length; i++) {
      let rule = this.rule(items[i], item(key, i));
      if (rule === null) return null;
      if (firstUse.has(rule.name)) {
        this.fail(item(key, i) + ".name", "duplicate name " + quote(rule.name) + " (first used by " + item(key, firstUse.get(rule.name)) + ")");
        return null;
      }
      firstUse.set(rule.name, i);
      rules.push(rule);
    }
    return new RuleList(rules);
  }

  denyResponse(root: JsonValue): DenyResponse {
    let response = new DenyResponse();
    let value = root.get("denyResponse");
    if (value === null || !this.object(value, DENY_RESPONSE_FIELDS, "denyResponse")) return response;
    let status = value.get("status");
    if (status !== null) {
      let n = status.number;
      if (status.kind != JsonKind.Number || n != Math.floor(n) || n < 400 || n > 599) {
        this.fail("denyResponse.status", "expected an integer from 400 to 599, got " + (status.kind == JsonKind.Number ? formatNumber(n) : kindName(status.kind)));
      } else {
        response.status = <u32>n;
      }
    }
    let body = this.string(value, "body", "denyResponse");
    if (body !== null) {
      let bytes = String.UTF8.byteLength(body);
      if (bytes > MAX_BODY_BYTES) this.fail("denyResponse.body", "longer than 4096 bytes (" + bytes.toString() + ")");
      else response.body = body;
    }
    let contentType = this.string(value, "contentType", "denyResponse");
    if (contentType !== null) response.contentType = contentType;
    let includeReason = value.get("includeReason");
    if (includeReason !== null && this.expect(includeReason, JsonKind.Bool, "denyResponse.includeReason")) {
      response.includeReason = includeReason.boolean;
    }
    return response;
  }

  identityHeader(root: JsonValue): string {
    let header = this.string(root, "identityHeader", "");
    if (header === null) return "";
    let lower = asciiLower(header);
    for (let i = 0; i < lower.length; i++) {
      let c = lower.charCodeAt(i);
      if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x5f)) {
        this.fail("identityHeader", "expected a header name of letters, digits, '-' and '_', got " + quote(header));
        return "";
      }
    }
    if (RESERVED_HEADERS.includes(lower)) {
      this.fail("identityHeader", quote(header) + " is reserved; choose a header of your own such as \"x-client-identity\"");
      return "";
    }
    return lower;
  }
}

function quotedList(choices: string[]): string {
  let quoted = new Array<string>();
  for (let i = 0; i < choices.length; i++) quoted.push(quote(choices[i]));
  return quoted.join(" or ");
}

export function parseConfig(text: string, nowMs: i64): ConfigResult {
  let result = new ConfigResult();
  if (isBlank(text)) {
    result.error = "configuration: empty; expected a JSON object such as " + EXAMPLE;
    return result;
  }
  let json = parseJson(text);
  let root = json.value;
  if (root === null) {
    result.error = "configuration: " + json.error;
    return result;
  }
  let parser = new Parser();
  let policy = build(parser, root);
  if (policy !== null && !parser.failed) runSelfTests(parser, root, policy, nowMs);
  result.error = parser.error;
  result.policy = parser.failed ? null : policy;
  return result;
}

function build(parser: Parser, root: JsonValue): Policy | null {
  if (!parser.object(root, TOP_LEVEL_FIELDS, "")) return null;
  let policy = new Policy();
  policy.mode = <Mode>parser.choice(root, "mode", "", ["enforce", "dry-run"], <i32>Mode.Enforce);
  policy.source = <IdentitySource>parser.choice(root, "identitySource", "", ["connection", "xfcc"], <i32>IdentitySource.Connection);
  let proxies = parser.list(root, "trustedProxies");
  if (proxies !== null) {
    for (let i = 0; i < proxies.length; i++) {
      let path = item("trustedProxies", i);
      if (!parser.object(proxies[i], MATCHER_FIELDS, path)) return null;
      policy.trustedProxies.push(parser.matcher(proxies[i], path));
    }
  }
  policy.hosts = parser.hostPatterns(root, "hosts", "");
  if (root.get("allow") === null) {
    parser.fail("allow", "required; expected a list of rules such as " + EXAMPLE);
    return null;
  }
  let allow = parser.rules(root, "allow");
  if (allow === null) return null;
  policy.allow = allow;
  if (root.get("deny") !== null) {
    let deny = parser.rules(root, "deny");
    if (deny === null) return null;
    policy.deny = deny;
  }
  policy.identityHeader = parser.identityHeader(root);
  policy.denyResponse = parser.denyResponse(root);
  if (parser.failed) return null;
  derive(policy);
  return policy;
}

// Works out once what the request path must read, so a request reads nothing the rules ignore.
function derive(policy: Policy): void {
  policy.needsHost = policy.hosts !== null;
  let lists = [policy.allow.rules, policy.deny.rules];
  for (let l = 0; l < lists.length; l++) {
    let rules = lists[l];
    for (let i = 0; i < rules.length; i++) {
      let rule = rules[i];
      if (rule.hosts !== null) policy.needsHost = true;
      if (rule.paths !== null) policy.needsPath = true;
      if (rule.hasWindow) policy.needsClock = true;
      if (rule.matcher.usesSubject) policy.needsSubject = true;
      if (rule.matcher.usesSans) policy.needsSans = true;
    }
  }
}

// Each self-test describes a request and the expected decision; any failure rejects the whole
// configuration with the test's name and the actual outcome.
function runSelfTests(parser: Parser, root: JsonValue, policy: Policy, nowMs: i64): void {
  let tests = parser.list(root, "selfTests");
  if (tests === null) return;
  let names = new Map<string, i32>();
  for (let i = 0; i < tests.length; i++) {
    let path = item("selfTests", i);
    let test = tests[i];
    if (!parser.object(test, SELF_TEST_FIELDS, path)) return;
    let name = parser.string(test, "name", path, true);
    if (name === null) return;
    if (names.has(name)) {
      parser.fail(path + ".name", "duplicate name " + quote(name) + " (first used by " + item("selfTests", names.get(name)) + ")");
      return;
    }
    names.set(name, i);
    let expectAllow = parser.choice(test, "expect", path, ["allow", "deny"], -1);
    if (parser.failed) return;
    if (expectAllow < 0) {
      parser.fail(path + ".expect", "required");
      return;
    }
    let request = test.get("request");
    if (request === null) {
      parser.fail(path + ".request", "required");
      return;
    }
    let requestPath = path + ".request";
    if (!parser.object(request, SELF_TEST_REQUEST_FIELDS, requestPath)) return;
    let identity = new Identity();
    let sha256 = parser.string(request, "sha256", requestPath);
    if (sha256 !== null) identity.digest = parser.fingerprint(sha256, requestPath + ".sha256");
    let subject = parser.string(request, "subject", requestPath);
    if (subject !== null) identity.subject = subject;
    let uriSans = parser.strings(request, "uriSans", requestPath);
    if (uriSans !== null) identity.uriSans = uriSans;
    let dnsSans = parser.strings(request, "dnsSans", requestPath);
    if (dnsSans !== null) identity.dnsSans = dnsSans;
    let host = parser.string(request, "host", requestPath);
    let target = parser.string(request, "path", requestPath);
    if (target !== null && !target.startsWith("/")) parser.fail(requestPath + ".path", "expected a path starting with \"/\", got " + quote(target));
    let at = parser.instant(request, "at", requestPath, nowMs);
    if (parser.failed) return;
    let hostName = host === null ? "" : normaliseHost(host);
    let allowed = true;
    let outcome = "allow";
    if (policy.inScope(hostName)) {
      // No sha256 and no subject: a request without a client certificate.
      let result = sha256 === null && subject === null
        ? IdentityResult.failed(IdentityFailure.NoClientCertificate)
        : IdentityResult.of(identity);
      let verdict = decide(policy, result, hostName, normalisePath(String.UTF8.encode(target === null ? "/" : target)), at);
      allowed = verdict.allowed;
      outcome = allowed ? "allow (rule " + quote(verdict.rule) + ")" : "deny (" + reasonName(verdict.reason) + ")";
    }
    if (allowed != (expectAllow == 0)) {
      parser.fail(path, "self-test " + quote(name) + " expected " + (expectAllow == 0 ? "allow" : "deny") + ", got " + outcome);
      return;
    }
  }
}
