// Reading rules and trusted proxies: a rule's name, its identity matchers, its host and path scope
// and its validity window, into a rule list. Every rule is read into one scratch rule, and copied only
// when it needs a Rule object of its own: a plain fingerprint rule allocates nothing. Pure.
import { JsonKind, Keys } from "./json";
import { Fields, Items, Parser, item } from "./parser";
import { checkAscii, checkCn, checkHeaderValue, isCanonicalSpki, normaliseSerial, quote } from "./checks";
import { DIGEST_WORDS } from "../identity/fingerprint";
import { HostPattern } from "../policy/authority";
import { Ambiguity, ambiguityText, pathPrefix } from "../policy/path";
import { Matcher, Rule } from "../policy/rule";
import { RuleList } from "../policy/rule-list";
import { asciiLower, parseIpAddress } from "../text";

// An identity matcher's fields, in this order in a rule too (after its name).
export const enum MatcherField {
  Sha256,
  UriSan,
  UriSanPrefix,
  DnsSan,
  Subject,
  Cn,
  Spki,
  EmailSan,
  IpSan,
  Serial,
  Issuer,
}

const MATCHER_NAMES: string[] = ["sha256", "uriSan", "uriSanPrefix", "dnsSan", "subject", "cn", "spki", "emailSan", "ipSan", "serial", "issuer"];

// A rule's fields: its name, the matcher's fields (RuleField.Matcher + MatcherField), its scope and
// window, and a comment.
export const enum RuleField {
  Name = 0,
  Matcher = 1,
  Hosts = 12,
  Paths = 13,
  NotBefore = 14,
  NotAfter = 15,
  Comment = 16,
}

const RULE_KEYS = new Keys(["name"].concat(MATCHER_NAMES).concat(["hosts", "paths", "notBefore", "notAfter", "comment"]));

// A rule's name becomes the identity header's value.
const MAX_NAME_BYTES: i32 = 1024;

// One identity matcher field into `matcher`. A digest is decoded into `digest` (scratch words: the
// caller copies the matcher if it keeps it).
function matcherField(parser: Parser, matcher: Matcher, field: MatcherField, digest: StaticArray<u64>): void {
  if (field == MatcherField.Sha256) {
    matcher.digest = parser.fingerprintInto(digest) ? digest : null;
    return;
  }
  let text = parser.string();
  if (text === null) return;
  // SANs, subject and issuer are compared as written; a CN unescaped; the rest is parsed.
  switch (field) {
    case MatcherField.UriSan:
      if (checkAscii(parser, text, false)) matcher.uriSan = text;
      break;
    case MatcherField.UriSanPrefix:
      if (checkAscii(parser, text, false)) matcher.uriSanPrefix = text;
      break;
    case MatcherField.DnsSan:
      if (checkAscii(parser, text, false)) matcher.dnsSan = asciiLower(text);
      break;
    case MatcherField.Subject:
      if (checkAscii(parser, text, true)) matcher.subject = text;
      break;
    case MatcherField.Cn:
      if (checkCn(parser, text)) matcher.cn = text;
      break;
    case MatcherField.Spki:
      if (!isCanonicalSpki(text)) parser.fail("expected the base64 SHA-256 of a public key (44 characters ending in '=', as Istio's verifyCertificateSpki and `cert-allowlist inspect` print it), got " + quote(text));
      else matcher.spki = text;
      break;
    case MatcherField.EmailSan:
      if (checkAscii(parser, text, false)) matcher.emailSan = text;
      break;
    case MatcherField.IpSan: {
      let address = parseIpAddress(text);
      if (address === null) parser.fail("expected an IPv4 or IPv6 address, got " + quote(text));
      else matcher.ipSan = address;
      break;
    }
    case MatcherField.Serial: {
      let serial = normaliseSerial(text);
      if (serial === null) parser.fail("expected the serial number in hex (colons allowed), got " + quote(text));
      else matcher.serial = serial;
      break;
    }
    case MatcherField.Issuer:
      if (checkAscii(parser, text, true)) matcher.issuer = text;
      break;
  }
}

function requireMatcher(parser: Parser, matcher: Matcher): bool {
  if (matcher.serial !== null && matcher.issuer === null) return parser.failAt("serial", "needs issuer too: serial numbers are unique only per issuer");
  if (matcher.digest !== null || matcher.uriSan !== null || matcher.uriSanPrefix !== null || matcher.dnsSan !== null ||
      matcher.subject !== null || matcher.cn !== null || matcher.usesCertificate) {
    return true;
  }
  return parser.fail("expected at least one identity matcher (" + MATCHER_NAMES.join(", ") + ")");
}

export function hostPatterns(parser: Parser): HostPattern[] | null {
  let texts = parser.strings();
  if (texts === null) return null;
  let patterns = new Array<HostPattern>();
  for (let i = 0; i < texts.length; i++) {
    let problem = new Array<string>();
    let pattern = HostPattern.parse(texts[i], problem);
    if (pattern === null) {
      parser.enterIndex(i);
      parser.fail(problem[0] + ", got " + quote(texts[i]));
      parser.leave();
      return null;
    }
    patterns.push(pattern);
  }
  return patterns;
}

function pathPrefixes(parser: Parser): ArrayBuffer[] | null {
  let texts = parser.strings();
  if (texts === null) return null;
  let prefixes = new Array<ArrayBuffer>();
  for (let i = 0; i < texts.length; i++) {
    let text = texts[i];
    let why = new StaticArray<i32>(1);
    let prefix = pathPrefix(text, why);
    if (prefix === null) {
      parser.enterIndex(i);
      parser.fail("expected a path prefix as requests spell it (" + ambiguityText(<Ambiguity>why[0]) + "), got " + quote(text));
      parser.leave();
      return null;
    }
    prefixes.push(prefix);
  }
  return prefixes;
}

// A trusted proxy: matcher fields only.
class ProxyFields extends Fields {
  matcher: Matcher = new Matcher();
  private digest: StaticArray<u64> = new StaticArray<u64>(DIGEST_WORDS);

  constructor() {
    super(new Keys(MATCHER_NAMES));
  }

  read(parser: Parser, index: i32): void {
    matcherField(parser, this.matcher, <MatcherField>index, this.digest);
  }
}

export class TrustedProxies extends Items {
  proxies: Matcher[] = [];
  private fields: ProxyFields = new ProxyFields();

  item(parser: Parser): bool {
    let fields = this.fields;
    fields.matcher = new Matcher();
    if (parser.object(fields) < 0 || !requireMatcher(parser, fields.matcher)) return false;
    this.proxies.push(fields.matcher.copy());
    this.count++;
    return true;
  }
}

// A rule's fields, read into the scratch rule; its name's UTF-8 held until the list has copied it
// (the reader's window moves on while the rule's other fields are read).
class RuleFields extends Fields {
  rule: Rule = new Rule();
  digest: StaticArray<u64> = new StaticArray<u64>(DIGEST_WORDS);
  // The digest spelled as Envoy writes it, for the list's index.
  spelled: StaticArray<u64> = new StaticArray<u64>(8);
  nameLength: i32 = -1;
  // Whether anything but a fingerprint and a name was read: the rule then needs its own object.
  scoped: bool = false;
  private nameBuffer: StaticArray<u8> = new StaticArray<u8>(64);

  constructor() {
    super(RULE_KEYS);
  }

  get namePtr(): usize {
    return changetype<usize>(this.nameBuffer);
  }

  reset(): void {
    this.rule.reset();
    this.nameLength = -1;
    this.scoped = false;
  }

  private holdName(ptr: usize, length: i32): i32 {
    if (length > this.nameBuffer.length) this.nameBuffer = new StaticArray<u8>(max(length, this.nameBuffer.length << 1));
    memory.copy(changetype<usize>(this.nameBuffer), ptr, <usize>length);
    return length;
  }

  read(parser: Parser, index: i32): void {
    let rule = this.rule;
    if (index == RuleField.Name) {
      this.readName(parser);
    } else if (index == RuleField.Matcher + MatcherField.Sha256) {
      rule.matcher.digest = parser.fingerprintSpelled(this.digest, changetype<usize>(this.spelled)) ? this.digest : null;
    } else if (index < RuleField.Hosts) {
      matcherField(parser, rule.matcher, <MatcherField>(index - RuleField.Matcher), this.digest);
      this.scoped = true;
    } else if (index == RuleField.Hosts) {
      rule.hosts = hostPatterns(parser);
      this.scoped = true;
    } else if (index == RuleField.Paths) {
      rule.paths = pathPrefixes(parser);
      this.scoped = true;
    } else if (index == RuleField.NotBefore) {
      rule.notBefore = parser.instant();
      this.scoped = true;
    } else if (index == RuleField.NotAfter) {
      rule.notAfter = parser.instant();
      this.scoped = true;
    } else {
      parser.string(); // comment: checked, then ignored
    }
  }

  // The name as UTF-8 bytes: in place when written without escapes, else re-encoded.
  private readName(parser: Parser): void {
    let reader = parser.reader;
    if (!parser.expect(JsonKind.String)) return;
    if (reader.readSpan()) {
      this.nameLength = this.holdName(reader.spanStart, reader.spanLength);
    } else {
      let text = reader.readString();
      if (text === null) return;
      let bytes = String.UTF8.encode(text);
      this.nameLength = this.holdName(changetype<usize>(bytes), bytes.byteLength);
    }
    if (this.nameLength == 0) parser.fail("must not be empty");
    else checkHeaderValue(parser, this.namePtr, this.nameLength, MAX_NAME_BYTES, "a rule's name is sent upstream as the identity header's value");
  }
}

// The rules of one list, appended to it as they are read.
export class Rules extends Items {
  private fields: RuleFields = new RuleFields();

  constructor(private list: RuleList) {
    super();
  }

  item(parser: Parser): bool {
    let fields = this.fields;
    fields.reset();
    if (parser.object(fields) < 0) return false;
    let rule = fields.rule;
    if (fields.nameLength < 0) return parser.failAt("name", "required");
    if (!requireMatcher(parser, rule.matcher)) return false;
    if (rule.notBefore > rule.notAfter) return parser.failAt("notBefore", "is after notAfter");
    let list = this.list;
    let namePtr = fields.namePtr;
    let earlier = list.indexOf(namePtr, fields.nameLength);
    if (earlier >= 0) {
      let name = String.UTF8.decodeUnsafe(namePtr, <usize>fields.nameLength);
      return parser.failAt("name", "duplicate name " + quote(name) + " (first used by " + item(parser.keyAbove(1), earlier) + ")");
    }
    // A rule that is only a fingerprint is matched by the index alone and needs no Rule object.
    let kept = fields.scoped ? rule.copy() : null;
    let digest = kept === null ? rule.matcher.digest : kept.matcher.digest;
    list.add(namePtr, fields.nameLength, kept, digest, digest !== null ? changetype<usize>(fields.spelled) : 0);
    this.count++;
    return true;
  }
}
