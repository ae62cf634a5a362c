// Plugin configuration: JSON (UTF-8 bytes) → an immutable Policy, or an error naming the JSON path
// and the problem. Pure: no SDK imports, never throws. It reads the document once, straight into
// the policy (no JSON tree). Unknown keys, wrong types and empty strings are errors everywhere, so a
// typo (say "host" for "hosts") can never silently widen a rule. The configuration's self-tests run
// at the end, through the same decision the requests use.
import { ByteSource, JsonKind, JsonReader, formatNumber, kindName } from "./json";
import { Instant, parseRfc3339 } from "../rfc3339";
import { DIGEST_WORDS, parseFingerprint, parseFingerprintAt, parseFingerprintInto } from "../identity/fingerprint";
import { Identity, IdentityFailure, IdentityResult } from "../identity/identity";
import { HostPattern, RequestHost, requestHost } from "../policy/authority";
import { Ambiguity, RequestPath, ambiguityText, pathPrefix, requestPath } from "../policy/path";
import { DenyResponse, IdentitySource, Mode, Policy } from "../policy/policy";
import { Matcher, Rule } from "../policy/rule";
import { Char, isControl } from "../chars";
import { RuleList } from "../policy/rule-list";
import { decide, reasonName } from "../policy/decide";
import { asciiLower, hexDigit, parseIpAddress } from "../text";
import { base64Decode } from "../cert/pem";

// Istio's verifyCertificateSpki form: standard base64 of 32 bytes, 43 characters and '='.
function isCanonicalSpki(text: string): bool {
  if (text.length != 44 || text.charCodeAt(43) != Char.Equals) return false;
  for (let i = 0; i < 43; i++) {
    let c = text.charCodeAt(i);
    if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == Char.Plus || c == Char.Slash)) return false;
  }
  let key = base64Decode(Uint8Array.wrap(String.UTF8.encode(text)));
  return key !== null && key.length == 32;
}

// Characters that show as nothing (or as a plain space): no-break and zero-width spaces, joiners,
// direction marks, the byte order mark.
function isInvisible(c: i32): bool {
  return c == 0xa0 || c == 0xad || c == 0x180e || (c >= 0x2000 && c <= 0x200f) || (c >= 0x2028 && c <= 0x202f) || (c >= 0x205f && c <= 0x2064) || c == 0x3000 || c == 0xfeff;
}

// A character for a message: printable ASCII as itself, anything else by its code point.
function describeChar(c: i32): string {
  if (c > 0x20 && c < 0x7f) return "'" + String.fromCharCode(c) + "'";
  return "U+" + c.toString(16).toUpperCase().padStart(4, "0");
}

export class ConfigResult {
  policy: Policy | null = null;
  error: string = "";
}

const TOP_LEVEL_FIELDS: string[] = [
  "mode", "identitySource", "trustedProxies", "hosts", "allow", "deny", "identityHeader", "denyResponse", "selfTests", "expiryWarningDays",
  "denyLinesPerSecond",
];
const MATCHER_FIELDS: string[] = ["sha256", "uriSan", "uriSanPrefix", "dnsSan", "subject", "cn", "spki", "emailSan", "ipSan", "serial", "issuer"];
const RULE_FIELDS: string[] = ["name", "sha256", "uriSan", "uriSanPrefix", "dnsSan", "subject", "cn", "spki", "emailSan", "ipSan", "serial", "issuer", "hosts", "paths", "notBefore", "notAfter", "comment"];
const DENY_RESPONSE_FIELDS: string[] = ["status", "body", "contentType", "includeReason"];
const SELF_TEST_FIELDS: string[] = ["name", "request", "expect"];
const SELF_TEST_REQUEST_FIELDS: string[] = ["sha256", "uriSans", "dnsSans", "subject", "host", "path", "at"];
// Headers the identity header must never be (compared with '_' read as '-', as an upstream may):
// those Envoy, the HTTP framing or a proxy behind it relies on, and those carrying credentials.
const RESERVED_HEADERS: string[] = [
  "x-forwarded-client-cert", "host", "content-length", "content-type", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
  "upgrade", "proxy-connection", "x-cert-allowlist-reason", "authorization", "proxy-authorization", "cookie", "set-cookie",
  "forwarded", "x-real-ip", "x-request-id", "via", "traceparent", "tracestate",
];
const RESERVED_HEADER_PREFIXES: string[] = ["x-envoy-", "x-forwarded-", "x-istio-", "x-b3-", "grpc-"];
// Header names with more '-' or '_' than this are refused: every spelling is removed from every request.
const MAX_HEADER_SEPARATORS: i32 = 6;
// A rule's name becomes the identity header's value.
const MAX_NAME_BYTES: i32 = 1024;

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
    else if (c < 0x20 || c == 0x7f || isInvisible(c)) out += "\\u" + c.toString(16).padStart(4, "0");
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

function quotedList(choices: string[]): string {
  let quoted = new Array<string>();
  for (let i = 0; i < choices.length; i++) quoted.push(quote(choices[i]));
  return quoted.join(" or ");
}

// A self-test, read with the rest and run once the policy is complete.
// A self-test's client: it lists the certificate's SANs, so they are all there is.
function selfTestIdentity(): Identity {
  let identity = new Identity();
  identity.subject = "";
  identity.sansComplete = true;
  return identity;
}

class SelfTest {
  name: string = "";
  path: string = "";
  expectAllow: bool = false;
  noCertificate: bool = true;
  identity: Identity = selfTestIdentity();
  // No host: an empty authority, which is in scope (and ambiguous).
  host: RequestHost = RequestHost.AMBIGUOUS;
  target: string = "/";
  at: i64 = 0;
  hasAt: bool = false;
}

class Parser {
  error: string = "";
  reader: JsonReader;
  selfTests: SelfTest[] = [];
  // Every rule is read into this one, and copied only when it needs a Rule object of its own.
  private scratch: Rule = new Rule();
  private scratchDigest: StaticArray<u64> = new StaticArray<u64>(DIGEST_WORDS);
  // The rule's name as UTF-8, held here until the list has copied it: the reader's window moves
  // on while the rule's other fields are read.
  private nameBuffer: StaticArray<u8> = new StaticArray<u8>(64);
  // The JSON path of the value being read, rendered only for a message: a key, or -1 and an index.
  private keys: string[] = [];
  private indexes: i32[] = [];

  constructor(source: ByteSource) {
    this.reader = new JsonReader(source);
  }

  // Copies a name into nameBuffer; returns its length.
  private holdName(ptr: usize, length: i32): i32 {
    if (length > this.nameBuffer.length) this.nameBuffer = new StaticArray<u8>(max(length, this.nameBuffer.length << 1));
    memory.copy(changetype<usize>(this.nameBuffer), ptr, <usize>length);
    return length;
  }

  get failed(): bool {
    return this.error.length > 0 || this.reader.failed;
  }

  enterKey(key: string): void {
    this.keys.push(key);
    this.indexes.push(-1);
  }

  enterIndex(index: i32): void {
    this.keys.push("");
    this.indexes.push(index);
  }

  leave(): void {
    this.keys.pop();
    this.indexes.pop();
  }

  path(): string {
    let path = "";
    for (let i = 0; i < this.keys.length; i++) {
      let index = this.indexes[i];
      path = index >= 0 ? item(path, index) : field(path, this.keys[i]);
    }
    return path;
  }

  fail(message: string): bool {
    if (!this.failed) {
      let path = this.path();
      this.error = (path.length == 0 ? "configuration" : path) + ": " + message;
    }
    return false;
  }

  // Fails at `key` below the current path.
  failAt(key: string, message: string): bool {
    this.enterKey(key);
    this.fail(message);
    this.leave();
    return false;
  }

  // The message of the first error, JSON syntax errors included.
  message(): string {
    return this.error.length > 0 ? this.error : "configuration: " + this.reader.error;
  }

  // The next value must be of `kind`; otherwise a type error (or a syntax error if no value starts).
  expect(kind: JsonKind): bool {
    let actual = this.reader.kind();
    if (actual == kind) return true;
    if (actual == JsonKind.Invalid) return this.reader.failUnexpected();
    return this.fail("expected " + article(kindName(kind)) + ", got " + kindName(actual));
  }

  // Reads the next key of the current object: its index in `known`, -1 at the end of the object,
  // -2 on an error (unknown or repeated key, bad syntax). `seen` holds the keys read so far.
  nextKey(first: bool, known: string[], seen: u32): i32 {
    let reader = this.reader;
    if (!reader.nextField(first, known)) return reader.failed ? -2 : -1;
    let index = known.indexOf(reader.key);
    if (index < 0) {
      this.failAt(reader.key, "unknown field; expected one of: " + known.join(", "));
      return -2;
    }
    if (seen & (1 << index)) {
      reader.failAtOffset(reader.keyOffset, "duplicate key \"" + reader.key + "\"");
      return -2;
    }
    this.enterKey(reader.key);
    return index;
  }

  // A non-empty string.
  string(): string | null {
    if (!this.expect(JsonKind.String)) return null;
    let text = this.reader.readString();
    if (text === null) return null;
    if (text.length == 0) {
      this.fail("must not be empty");
      return null;
    }
    return text;
  }

  // One of `choices`, as its index; -1 when invalid.
  choice(choices: string[]): i32 {
    let text = this.string();
    if (text === null) return -1;
    let index = choices.indexOf(text);
    if (index < 0) this.fail("expected " + quotedList(choices) + ", got " + quote(text));
    return index;
  }

  // A non-empty list of non-empty strings.
  strings(): string[] | null {
    if (!this.expect(JsonKind.Array)) return null;
    let reader = this.reader;
    let result = new Array<string>();
    reader.beginArray();
    for (let first = true; reader.nextItem(first); first = false) {
      this.enterIndex(result.length);
      let text = this.string();
      this.leave();
      if (text === null) return null;
      result.push(text);
    }
    if (this.failed) return null;
    if (result.length == 0) {
      this.fail("must not be empty (leave the field out instead)");
      return null;
    }
    return result;
  }

  instant(): i64 {
    let text = this.string();
    if (text === null) return 0;
    let instant = new Instant();
    if (!parseRfc3339(text, instant)) {
      this.fail("expected an RFC 3339 UTC time such as \"2027-01-31T23:59:59Z\", got " + quote(text));
      return 0;
    }
    return instant.ms;
  }

  fingerprintInto(out: StaticArray<u64>): bool {
    let reader = this.reader;
    if (!this.expect(JsonKind.String)) return false;
    // Read in place when written without escapes: a million fingerprints allocate nothing.
    if (reader.readSpan()) {
      if (reader.spanLength == 0) return this.fail("must not be empty");
      if (parseFingerprintInto(reader.spanStart, reader.spanLength, out)) return true;
      return this.fail("expected 64 hex digits, got " + quote(String.UTF8.decodeUnsafe(reader.spanStart, <usize>reader.spanLength)));
    }
    let digest = this.fingerprint();
    if (digest === null) return false;
    for (let i = 0; i < DIGEST_WORDS; i++) unchecked((out[i] = digest[i]));
    return true;
  }

  fingerprint(): StaticArray<u64> | null {
    let reader = this.reader;
    if (!this.expect(JsonKind.String)) return null;
    // Read in place when written without escapes: a million fingerprints allocate no strings.
    if (reader.readSpan()) {
      if (reader.spanLength == 0) {
        this.fail("must not be empty");
        return null;
      }
      let digest = parseFingerprintAt(reader.spanStart, reader.spanLength);
      if (digest === null) this.fail("expected 64 hex digits, got " + quote(String.UTF8.decodeUnsafe(reader.spanStart, <usize>reader.spanLength)));
      return digest;
    }
    let text = this.string();
    if (text === null) return null;
    let digest = parseFingerprint(text);
    if (digest === null) this.fail("expected 64 hex digits, got " + quote(text));
    return digest;
  }

  // One identity matcher field (index into MATCHER_FIELDS) into `matcher`. A digest is decoded into
  // the parser's scratch words: the caller copies the matcher if it keeps it.
  matcherField(matcher: Matcher, index: i32): void {
    if (index == 0) {
      matcher.digest = this.fingerprintInto(this.scratchDigest) ? this.scratchDigest : null;
      return;
    }
    let text = this.string();
    if (text === null) return;
    // SANs, subject and issuer are compared as written; a CN unescaped; the rest is parsed below.
    if (index == 5) {
      if (!this.checkCn(text)) return;
    } else if (index <= 4 || index == 7 || index == 10) {
      if (!this.checkAscii(text, index == 4 || index == 10)) return;
    }
    if (index == 1) matcher.uriSan = text;
    else if (index == 2) matcher.uriSanPrefix = text;
    else if (index == 3) matcher.dnsSan = asciiLower(text);
    else if (index == 4) matcher.subject = text;
    else if (index == 5) matcher.cn = text;
    else if (index == 6) {
      if (!isCanonicalSpki(text)) this.fail("expected the base64 SHA-256 of a public key (44 characters ending in '=', as Istio's verifyCertificateSpki and `cert-allowlist inspect` print it), got " + quote(text));
      else matcher.spki = text;
    } else if (index == 7) matcher.emailSan = text;
    else if (index == 8) {
      let address = parseIpAddress(text);
      if (address === null) this.fail("expected an IPv4 or IPv6 address, got " + quote(text));
      else matcher.ipSan = address;
    } else if (index == 9) {
      let serial = normaliseSerial(text);
      if (serial === null) this.fail("expected the serial number in hex (colons allowed), got " + quote(text));
      else matcher.serial = serial;
    } else if (index == 10) matcher.issuer = text;
  }

  // A SAN, subject or issuer as a certificate and Envoy spell it: printable ASCII (Envoy escapes
  // everything else in a subject as \XX; SANs are ASCII), no edge spaces — nothing invisible.
  checkAscii(text: string, printedName: bool): bool {
    for (let i = 0; i < text.length; i++) {
      let c = text.charCodeAt(i);
      if (c >= 0x80 || isControl(c)) {
        return this.fail((printedName ? "write it as Envoy prints it, characters outside ASCII as \\XX escapes" : "a SAN is ASCII") +
          "; found " + describeChar(c) + " in " + quote(text));
      }
    }
    if (text.charCodeAt(0) == Char.Space || text.charCodeAt(text.length - 1) == Char.Space) {
      return this.fail("must not begin or end with a space (it is never trimmed to match), got " + quote(text));
    }
    return true;
  }

  // A CN is matched unescaped, as the certificate has it (edge spaces included: a CN may have them,
  // and Envoy prints them escaped) — but nothing invisible.
  checkCn(text: string): bool {
    for (let i = 0; i < text.length; i++) {
      let c = text.charCodeAt(i);
      if (isControl(c) || isInvisible(c)) return this.fail("found " + describeChar(c) + " in " + quote(text) + "; write the CN as the certificate has it, nothing invisible");
    }
    return true;
  }

  // UTF-8 bytes that travel as a header value: printable ASCII, no edge spaces, at most `maximum`.
  checkHeaderValue(ptr: usize, length: i32, maximum: i32, why: string): bool {
    if (length > maximum) return this.fail("longer than " + maximum.toString() + " bytes (" + length.toString() + "): " + why);
    for (let i = 0; i < length; i++) {
      let c = <i32>load<u8>(ptr + <usize>i);
      if (c >= 0x80 || isControl(c)) return this.fail("found " + describeChar(c) + ": " + why + ", so it must be printable ASCII");
    }
    if (load<u8>(ptr) == Char.Space || load<u8>(ptr + <usize>(length - 1)) == Char.Space) {
      return this.fail("must not begin or end with a space: " + why + ", and Envoy trims header values");
    }
    return true;
  }

  requireMatcher(matcher: Matcher): bool {
    if (matcher.serial !== null && matcher.issuer === null) return this.failAt("serial", "needs issuer too: serial numbers are unique only per issuer");
    if (matcher.digest !== null || matcher.uriSan !== null || matcher.uriSanPrefix !== null || matcher.dnsSan !== null ||
        matcher.subject !== null || matcher.cn !== null || matcher.usesCertificate) {
      return true;
    }
    return this.fail("expected at least one identity matcher (" + MATCHER_FIELDS.join(", ") + ")");
  }

  trustedProxy(): Matcher | null {
    if (!this.expect(JsonKind.Object)) return null;
    let matcher = new Matcher();
    let seen: u32 = 0;
    this.reader.beginObject();
    for (let first = true; ; first = false) {
      let index = this.nextKey(first, MATCHER_FIELDS, seen);
      if (index < 0) break;
      seen |= 1 << index;
      this.matcherField(matcher, index);
      this.leave();
      if (this.failed) return null;
    }
    if (this.failed || !this.requireMatcher(matcher)) return null;
    return matcher.copy();
  }

  hostPatterns(): HostPattern[] | null {
    let texts = this.strings();
    if (texts === null) return null;
    let patterns = new Array<HostPattern>();
    for (let i = 0; i < texts.length; i++) {
      let problem = new Array<string>();
      let pattern = HostPattern.parse(texts[i], problem);
      if (pattern === null) {
        this.enterIndex(i);
        this.fail(problem[0] + ", got " + quote(texts[i]));
        this.leave();
        return null;
      }
      patterns.push(pattern);
    }
    return patterns;
  }

  pathPrefixes(): string[] | null {
    let texts = this.strings();
    if (texts === null) return null;
    let prefixes = new Array<string>();
    for (let i = 0; i < texts.length; i++) {
      let text = texts[i];
      let why = new StaticArray<i32>(1);
      let prefix = pathPrefix(text, why);
      if (prefix === null) {
        this.enterIndex(i);
        this.fail("expected a path prefix as requests spell it (" + ambiguityText(<Ambiguity>why[0]) + "), got " + quote(text));
        this.leave();
        return null;
      }
      prefixes.push(prefix);
    }
    return prefixes;
  }

  // A rule, appended to `list` (the current path is the rule's).
  rule(list: RuleList): bool {
    if (!this.expect(JsonKind.Object)) return false;
    let reader = this.reader;
    let rule = this.scratch;
    rule.reset();
    // The name as UTF-8 bytes: in place when written without escapes, else re-encoded.
    let nameLength = -1;
    let scoped = false;
    let seen: u32 = 0;
    reader.beginObject();
    for (let first = true; ; first = false) {
      let index = this.nextKey(first, RULE_FIELDS, seen);
      if (index < 0) break;
      seen |= 1 << index;
      if (index == 0) {
        if (this.expect(JsonKind.String)) {
          if (reader.readSpan()) {
            nameLength = this.holdName(reader.spanStart, reader.spanLength);
          } else {
            let text = reader.readString();
            if (text !== null) {
              let bytes = String.UTF8.encode(text);
              nameLength = this.holdName(changetype<usize>(bytes), bytes.byteLength);
            }
          }
          if (nameLength == 0) this.fail("must not be empty");
          else this.checkHeaderValue(changetype<usize>(this.nameBuffer), nameLength, MAX_NAME_BYTES, "a rule's name is sent upstream as the identity header's value");
        }
      } else if (index <= 11) {
        this.matcherField(rule.matcher, index - 1);
        if (index > 1) scoped = true;
      } else if (index == 12) {
        rule.hosts = this.hostPatterns();
        scoped = true;
      } else if (index == 13) {
        rule.paths = this.pathPrefixes();
        scoped = true;
      } else if (index == 14) {
        rule.notBefore = this.instant();
        scoped = true;
      } else if (index == 15) {
        rule.notAfter = this.instant();
        scoped = true;
      } else {
        this.string(); // comment: checked, then ignored
      }
      this.leave();
      if (this.failed) return false;
    }
    if (this.failed) return false;
    if (nameLength < 0) return this.failAt("name", "required");
    if (!this.requireMatcher(rule.matcher)) return false;
    if (rule.notBefore > rule.notAfter) return this.failAt("notBefore", "is after notAfter");
    let namePtr = changetype<usize>(this.nameBuffer);
    let earlier = list.indexOf(namePtr, nameLength);
    if (earlier >= 0) {
      let listName = this.keys[this.keys.length - 2];
      let name = String.UTF8.decodeUnsafe(namePtr, <usize>nameLength);
      return this.failAt("name", "duplicate name " + quote(name) + " (first used by " + item(listName, earlier) + ")");
    }
    // A rule that is only a fingerprint is matched by the index alone and needs no Rule object.
    let kept = scoped ? rule.copy() : null;
    list.add(namePtr, nameLength, kept, kept === null ? rule.matcher.digest : kept.matcher.digest);
    return true;
  }

  rules(list: RuleList): void {
    if (!this.expect(JsonKind.Array)) return;
    let reader = this.reader;
    reader.beginArray();
    for (let first = true; reader.nextItem(first); first = false) {
      this.enterIndex(list.length);
      let added = this.rule(list);
      this.leave();
      if (!added) return;
    }
    list.seal();
  }

  denyResponse(response: DenyResponse): void {
    if (!this.expect(JsonKind.Object)) return;
    let reader = this.reader;
    let seen: u32 = 0;
    reader.beginObject();
    for (let first = true; ; first = false) {
      let index = this.nextKey(first, DENY_RESPONSE_FIELDS, seen);
      if (index < 0) break;
      seen |= 1 << index;
      if (index == 0) {
        let kind = reader.kind();
        if (kind == JsonKind.Invalid) {
          reader.failUnexpected();
        } else if (kind != JsonKind.Number) {
          this.fail("expected an integer from 400 to 599, got " + kindName(kind));
        } else {
          let n = reader.readNumber();
          if (!this.failed && (n != Math.floor(n) || n < 400 || n > 599)) this.fail("expected an integer from 400 to 599, got " + formatNumber(n));
          else response.status = <u32>n;
        }
      } else if (index == 1) {
        let body = this.string();
        if (body !== null) {
          let bytes = String.UTF8.byteLength(body);
          if (bytes > MAX_BODY_BYTES) this.fail("longer than 4096 bytes (" + bytes.toString() + ")");
          else response.body = body;
        }
      } else if (index == 2) {
        let contentType = this.string();
        if (contentType !== null) {
          let bytes = String.UTF8.encode(contentType);
          if (this.checkHeaderValue(changetype<usize>(bytes), bytes.byteLength, 256, "it is the deny reply's content-type header")) response.contentType = contentType;
        }
      } else if (this.expect(JsonKind.Bool)) {
        response.includeReason = reader.readBool();
      }
      this.leave();
      if (this.failed) return;
    }
  }

  expiryWarningDays(): i32 {
    let kind = this.reader.kind();
    if (kind != JsonKind.Number) {
      if (kind == JsonKind.Invalid) this.reader.failUnexpected();
      else this.fail("expected a whole number of days from 1 to 3650, got " + kindName(kind));
      return 0;
    }
    let days = this.reader.readNumber();
    if (!this.failed && (days != Math.floor(days) || days < 1 || days > 3650)) this.fail("expected a whole number of days from 1 to 3650, got " + formatNumber(days));
    return this.failed ? 0 : <i32>days;
  }

  denyLinesPerSecond(): i32 {
    let kind = this.reader.kind();
    if (kind != JsonKind.Number) {
      if (kind == JsonKind.Invalid) this.reader.failUnexpected();
      else this.fail("expected a whole number of lines from 0 to 1000000, got " + kindName(kind));
      return 0;
    }
    let lines = this.reader.readNumber();
    if (!this.failed && (lines != Math.floor(lines) || lines < 0 || lines > 1000000)) this.fail("expected a whole number of lines from 0 to 1000000, got " + formatNumber(lines));
    return this.failed ? 0 : <i32>lines;
  }

  identityHeader(): string {
    let header = this.string();
    if (header === null) return "";
    let lower = asciiLower(header);
    for (let i = 0; i < lower.length; i++) {
      let c = lower.charCodeAt(i);
      if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x5f)) {
        this.fail("expected a header name of letters, digits, '-' and '_', got " + quote(header));
        return "";
      }
    }
    let dashed = lower.replaceAll("_", "-");
    let reserved = RESERVED_HEADERS.includes(dashed);
    for (let i = 0; i < RESERVED_HEADER_PREFIXES.length; i++) reserved = reserved || dashed.startsWith(RESERVED_HEADER_PREFIXES[i]);
    if (reserved) {
      this.fail(quote(header) + " is reserved (Envoy, HTTP framing or credentials rely on it); choose a header of your own such as \"x-client-identity\"");
      return "";
    }
    let separators = 0;
    for (let i = 0; i < dashed.length; i++) if (dashed.charCodeAt(i) == Char.Minus) separators++;
    if (separators > MAX_HEADER_SEPARATORS) {
      this.fail("at most " + MAX_HEADER_SEPARATORS.toString() + " '-' or '_' (every spelling with either is removed from each request), got " + quote(header));
      return "";
    }
    return dashed;
  }

  selfTest(): void {
    if (!this.expect(JsonKind.Object)) return;
    let test = new SelfTest();
    test.path = this.path();
    let seen: u32 = 0;
    let expectation = -1;
    this.reader.beginObject();
    for (let first = true; ; first = false) {
      let index = this.nextKey(first, SELF_TEST_FIELDS, seen);
      if (index < 0) break;
      seen |= 1 << index;
      if (index == 0) {
        let name = this.string();
        if (name !== null) test.name = name;
      } else if (index == 1) {
        this.selfTestRequest(test);
      } else {
        expectation = this.choice(["allow", "deny"]);
      }
      this.leave();
      if (this.failed) return;
    }
    if (this.failed) return;
    if ((seen & 1) == 0) {
      this.failAt("name", "required");
      return;
    }
    for (let i = 0; i < this.selfTests.length; i++) {
      if (this.selfTests[i].name == test.name) {
        this.failAt("name", "duplicate name " + quote(test.name) + " (first used by " + this.selfTests[i].path + ")");
        return;
      }
    }
    if ((seen & 2) == 0) {
      this.failAt("request", "required");
      return;
    }
    if (expectation < 0) {
      this.failAt("expect", "required");
      return;
    }
    test.expectAllow = expectation == 0;
    this.selfTests.push(test);
  }

  selfTestRequest(test: SelfTest): void {
    if (!this.expect(JsonKind.Object)) return;
    let seen: u32 = 0;
    this.reader.beginObject();
    for (let first = true; ; first = false) {
      let index = this.nextKey(first, SELF_TEST_REQUEST_FIELDS, seen);
      if (index < 0) break;
      seen |= 1 << index;
      if (index == 0) {
        test.identity.digest = this.fingerprint();
        test.noCertificate = false;
      } else if (index == 1 || index == 2) {
        let sans = this.strings();
        if (sans !== null) {
          if (index == 1) test.identity.uriSans = sans;
          else test.identity.dnsSans = sans;
        }
      } else if (index == 3) {
        let subject = this.string();
        if (subject !== null) test.identity.subject = subject;
        test.noCertificate = false;
      } else if (index == 4) {
        let host = this.string();
        if (host !== null) {
          let bytes = String.UTF8.encode(host);
          test.host = requestHost(changetype<usize>(bytes), bytes.byteLength);
        }
      } else if (index == 5) {
        let target = this.string();
        if (target !== null) {
          if (!target.startsWith("/")) this.fail("expected a path starting with \"/\", got " + quote(target));
          test.target = target;
        }
      } else {
        test.at = this.instant();
        test.hasAt = true;
      }
      this.leave();
      if (this.failed) return;
    }
  }

  selfTestList(): void {
    if (!this.expect(JsonKind.Array)) return;
    let reader = this.reader;
    reader.beginArray();
    for (let first = true; reader.nextItem(first); first = false) {
      this.enterIndex(this.selfTests.length);
      this.selfTest();
      this.leave();
      if (this.failed) return;
    }
  }
}

// Every spelling of a header name with each '-' either '-' or '_'.
function spellings(name: string): string[] {
  let out = [name];
  for (let i = 0; i < name.length; i++) {
    if (name.charCodeAt(i) != Char.Minus) continue;
    let count = out.length;
    for (let k = 0; k < count; k++) out.push(out[k].substring(0, i) + "_" + out[k].substring(i + 1));
  }
  return out;
}

// A serial number as `openssl x509 -serial` prints it: uppercase hex, no colons, no leading 00 byte.
function normaliseSerial(text: string): string | null {
  let digits = new Array<string>();
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c == 0x3a) continue;
    if (hexDigit(c) < 0) return null;
    digits.push(String.fromCharCode(c >= 0x61 ? c - 0x20 : c));
  }
  let hex = digits.join("");
  if (hex.length == 0) return null;
  if (hex.length & 1) hex = "0" + hex;
  while (hex.length > 2 && hex.startsWith("00")) hex = hex.substring(2);
  return hex;
}

export function parseConfig(source: ByteSource): ConfigResult {
  let result = new ConfigResult();
  let parser = new Parser(source);
  if (parser.reader.atEnd()) {
    result.error = "configuration: empty; expected a JSON object such as " + EXAMPLE;
    return result;
  }
  let policy = new Policy();
  let allow = new ListSize();
  let deny = new ListSize();
  measureLists(source, allow, deny);
  reserve(RuleList.bytesFor(allow.rules, allow.nameBytes) + RuleList.bytesFor(deny.rules, deny.nameBytes));
  policy.allow = new RuleList(allow.rules, false, allow.nameBytes);
  policy.deny = new RuleList(deny.rules, true, deny.nameBytes);
  build(parser, policy);
  if (!parser.failed) runSelfTests(parser, policy);
  if (parser.failed) {
    result.error = parser.message();
  } else {
    result.policy = policy;
  }
  return result;
}

// Linear memory grows by at least its own size whenever the allocator runs out, so tables
// allocated one after another can leave it twice as large as they need. Allocating their total once
// (then freeing it for them to use) grows it by what they need and no more.
const RESERVE_SLACK: i64 = 256 << 10;
// Well under the allocator's largest block; beyond it the tables are allocated as they come.
const MAX_RESERVE: i64 = 512 << 20;

function reserve(bytes: i64): void {
  let total = bytes + RESERVE_SLACK;
  if (total > MAX_RESERVE) return;
  heap.free(heap.alloc(<usize>total));
}

class ListSize {
  rules: i32 = 0;
  // The bytes of the rules' names as written (at least their UTF-8 bytes).
  nameBytes: i64 = 0;
}

const NAME_KEY: string[] = ["name"];

const LISTS: string[] = ["allow", "deny"];
// The shortest rule that parses, {"name":"a","cn":"b"}: no configuration holds more rules than its
// size allows for.
const MIN_RULE_BYTES: i32 = 21;

// How many rules each list has, by a quick pass that checks nothing and builds nothing (the real
// parse reports every error), so the lists' tables are allocated once, at their final size: a large
// list neither copies tables as it grows nor leaves the old ones behind in linear memory.
function measureLists(source: ByteSource, allow: ListSize, deny: ListSize): void {
  let reader = new JsonReader(source);
  if (reader.kind() != JsonKind.Object || !reader.beginObject()) return;
  for (let first = true; reader.nextField(first, LISTS, false); first = false) {
    let list = reader.key == "allow" ? allow : reader.key == "deny" ? deny : null;
    if (list === null || reader.kind() != JsonKind.Array) {
      if (!reader.skipUnchecked()) return;
      continue;
    }
    reader.beginArray();
    for (let firstItem = true; reader.nextItem(firstItem); firstItem = false) {
      // An array of junk refused at its first item must not reserve room for millions of rules.
      if (list.rules < source.length / MIN_RULE_BYTES) list.rules++;
      if (reader.kind() != JsonKind.Object) {
        if (!reader.skipUnchecked()) return;
        continue;
      }
      reader.beginObject();
      for (let firstField = true; reader.nextField(firstField, NAME_KEY, false); firstField = false) {
        let start = reader.position;
        if (!reader.skipUnchecked()) return;
        if (reader.key == "name") list.nameBytes += reader.position - start;
      }
      if (reader.failed) return;
    }
    if (reader.failed) return;
  }
}

function build(parser: Parser, policy: Policy): Policy {
  let reader = parser.reader;
  if (!parser.expect(JsonKind.Object)) return policy;
  let seen: u32 = 0;
  reader.beginObject();
  for (let first = true; ; first = false) {
    let index = parser.nextKey(first, TOP_LEVEL_FIELDS, seen);
    if (index < 0) break;
    seen |= 1 << index;
    if (index == 0) {
      policy.mode = parser.choice(["enforce", "dry-run"]) == 1 ? Mode.DryRun : Mode.Enforce;
    } else if (index == 1) {
      policy.source = parser.choice(["connection", "xfcc"]) == 1 ? IdentitySource.Xfcc : IdentitySource.Connection;
    } else if (index == 2) {
      if (parser.expect(JsonKind.Array)) {
        reader.beginArray();
        for (let firstProxy = true; reader.nextItem(firstProxy); firstProxy = false) {
          parser.enterIndex(policy.trustedProxies.length);
          let matcher = parser.trustedProxy();
          parser.leave();
          if (matcher === null) break;
          policy.trustedProxies.push(matcher);
        }
      }
    } else if (index == 3) {
      policy.hosts = parser.hostPatterns();
    } else if (index == 4) {
      parser.rules(policy.allow);
    } else if (index == 5) {
      parser.rules(policy.deny);
    } else if (index == 6) {
      policy.identityHeader = parser.identityHeader();
      policy.identityHeaderSpellings = spellings(policy.identityHeader);
    } else if (index == 7) {
      parser.denyResponse(policy.denyResponse);
    } else if (index == 8) {
      parser.selfTestList();
    } else if (index == 9) {
      policy.expiryWarningDays = parser.expiryWarningDays();
    } else {
      policy.denyLinesPerSecond = parser.denyLinesPerSecond();
    }
    parser.leave();
    if (parser.failed) return policy;
  }
  if (parser.failed || !reader.end()) return policy;
  if ((seen & (1 << 4)) == 0) {
    parser.failAt("allow", "required; expected a list of rules such as " + EXAMPLE);
    return policy;
  }
  derive(policy);
  return policy;
}

// Works out once what the request path must read, so a request reads nothing the rules ignore.
function derive(policy: Policy): void {
  policy.needsHost = policy.hosts !== null;
  // Expiry warnings read the certificate's notAfter, at the request's time.
  if (policy.expiryWarningDays > 0) {
    policy.needsCertificate = true;
    policy.needsClock = true;
  }
  let lists = [policy.allow, policy.deny];
  for (let l = 0; l < lists.length; l++) {
    let list = lists[l];
    for (let i = 0; i < list.length; i++) {
      let rule = list.rule(i);
      if (rule === null) continue;
      if (rule.hosts !== null) policy.needsHost = true;
      if (rule.paths !== null) policy.needsPath = true;
      if (rule.hasWindow) policy.needsClock = true;
      if (rule.matcher.usesSubject) policy.needsSubject = true;
      if (rule.matcher.usesSans) policy.needsSans = true;
      if (rule.matcher.usesCertificate) policy.needsCertificate = true;
    }
  }
}

// Each self-test describes a request and the expected decision; any failure rejects the whole
// configuration with the test's name and the actual outcome. A test with `at` is decided at that
// moment. One without must hold at every moment: it is decided around each window edge of the rules
// it could match (between edges nothing changes), never at the clock's time — so every VM that loads
// a configuration, now or after a restart next year, gives the canary's answer (a worker that refused
// what its canary accepted would run without the filter).
function runSelfTests(parser: Parser, policy: Policy): void {
  for (let i = 0; i < parser.selfTests.length; i++) {
    let test = parser.selfTests[i];
    let failed = false;
    let outcome = "allow";
    let when = "";
    if (!policy.inScope(test.host)) {
      // Out of scope, a request continues untouched: an allow.
      failed = !test.expectAllow;
    } else {
      // No sha256 and no subject: a request without a client certificate.
      let result = test.noCertificate ? new IdentityResult().fail(IdentityFailure.NoClientCertificate) : new IdentityResult().hold(test.identity);
      let target = String.UTF8.encode(test.target);
      let path = requestPath(changetype<usize>(target), target.byteLength);
      let moments = test.hasAt ? [test.at] : windowEdges(policy, result, test.host, path);
      // Without edges the answer is the same at any moment.
      if (moments.length == 0) moments.push(0);
      let earliest: i64 = 0;
      for (let m = 0; m < moments.length; m++) {
        let moment = moments[m];
        let verdict = decide(policy, result, test.host, path, moment);
        if (verdict.allowed == test.expectAllow || (failed && moment >= earliest)) continue;
        failed = true;
        earliest = moment;
        outcome = verdict.allowed ? "allow (rule " + quote(verdict.rule) + ")" : "deny (" + reasonName(verdict.reason) + ")";
        if (!test.hasAt && moments.length > 1) when = " at " + new Date(moment).toISOString() + " (without \"at\", a self-test must hold at any time)";
      }
    }
    if (failed) {
      parser.error = test.path + ": self-test " + quote(test.name) + " expected " + (test.expectAllow ? "allow" : "deny") + ", got " + outcome + when;
      return;
    }
  }
}

function windowEdges(policy: Policy, result: IdentityResult, host: RequestHost, path: RequestPath): i64[] {
  let edges = new Array<i64>();
  let identity = result.identity;
  if (identity !== null) {
    policy.deny.windowEdges(identity, host, path, edges);
    policy.allow.windowEdges(identity, host, path, edges);
  }
  return edges;
}
