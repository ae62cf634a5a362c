// Plugin configuration: JSON (UTF-8 bytes) → an immutable Policy, or an error naming the JSON path
// and the problem. Pure: no SDK imports, never throws. It reads the document once, straight into
// the policy (no JSON tree). Unknown keys, wrong types and empty strings are errors everywhere, so a
// typo (say "host" for "hosts") can never silently widen a rule. The configuration's self-tests run
// at the end, through the same decision the requests use. parser.ts reads values and walks objects,
// checks.ts says what values must be, rules.ts reads rules, self-tests.ts the self-tests.
import { ByteSource, JsonKind, JsonReader, Keys } from "./json";
import { Fields, Parser } from "./parser";
import { identityHeaderName, checkHeaderValue, spellings } from "./checks";
import { Rules, TrustedProxies, hostPatterns } from "./rules";
import { SelfTests, runSelfTests } from "./self-tests";
import { DenyResponse, IdentitySource, Mode, Policy } from "../policy/policy";
import { RuleList } from "../policy/rule-list";

export const EXAMPLE = "{\"allow\": [{\"name\": \"acme-batch\", \"sha256\": \"<64 hex digits>\"}]}";

const MAX_BODY_BYTES: i32 = 4096;
const MAX_CONTENT_TYPE_BYTES: i32 = 256;

export class ConfigResult {
  policy: Policy | null = null;
  error: string = "";
}

const enum TopField {
  Mode,
  IdentitySource,
  TrustedProxies,
  Hosts,
  Allow,
  Deny,
  IdentityHeader,
  DenyResponse,
  SelfTests,
  ExpiryWarningDays,
  DenyLinesPerSecond,
}

const enum DenyResponseField {
  Status,
  Body,
  ContentType,
  IncludeReason,
}

class DenyResponseFields extends Fields {
  constructor(private response: DenyResponse) {
    super(new Keys(["status", "body", "contentType", "includeReason"]));
  }

  read(parser: Parser, index: i32): void {
    let response = this.response;
    switch (index) {
      case DenyResponseField.Status: {
        let status = parser.wholeNumber(400, 599, "an integer");
        if (!parser.failed) response.status = <u32>status;
        break;
      }
      case DenyResponseField.Body: {
        let body = parser.string();
        if (body === null) break;
        let bytes = String.UTF8.byteLength(body);
        if (bytes > MAX_BODY_BYTES) parser.fail("longer than " + MAX_BODY_BYTES.toString() + " bytes (" + bytes.toString() + ")");
        else response.body = body;
        break;
      }
      case DenyResponseField.ContentType: {
        let contentType = parser.string();
        if (contentType === null) break;
        let bytes = String.UTF8.encode(contentType);
        if (checkHeaderValue(parser, changetype<usize>(bytes), bytes.byteLength, MAX_CONTENT_TYPE_BYTES, "it is the deny reply's content-type header")) response.contentType = contentType;
        break;
      }
      default:
        if (parser.expect(JsonKind.Bool)) response.includeReason = parser.reader.readBool();
    }
  }
}

class TopLevelFields extends Fields {
  selfTests: SelfTests = new SelfTests();

  constructor(private policy: Policy) {
    super(new Keys([
      "mode", "identitySource", "trustedProxies", "hosts", "allow", "deny", "identityHeader", "denyResponse", "selfTests", "expiryWarningDays",
      "denyLinesPerSecond",
    ]));
  }

  read(parser: Parser, index: i32): void {
    let policy = this.policy;
    switch (index) {
      case TopField.Mode:
        policy.mode = parser.choice(["enforce", "dry-run"]) == 1 ? Mode.DryRun : Mode.Enforce;
        break;
      case TopField.IdentitySource:
        policy.source = parser.choice(["connection", "xfcc"]) == 1 ? IdentitySource.Xfcc : IdentitySource.Connection;
        break;
      case TopField.TrustedProxies: {
        let proxies = new TrustedProxies();
        parser.items(proxies);
        policy.trustedProxies = proxies.proxies;
        break;
      }
      case TopField.Hosts:
        policy.hosts = hostPatterns(parser);
        break;
      case TopField.Allow:
      case TopField.Deny: {
        let list = index == TopField.Allow ? policy.allow : policy.deny;
        if (parser.items(new Rules(list))) list.seal();
        break;
      }
      case TopField.IdentityHeader: {
        let header = parser.string();
        if (header === null) break;
        policy.identityHeader = identityHeaderName(parser, header);
        policy.identityHeaderSpellings = spellings(policy.identityHeader);
        break;
      }
      case TopField.DenyResponse:
        parser.object(new DenyResponseFields(policy.denyResponse));
        break;
      case TopField.SelfTests:
        parser.items(this.selfTests);
        break;
      case TopField.ExpiryWarningDays:
        policy.expiryWarningDays = parser.wholeNumber(1, 3650, "a whole number of days");
        break;
      default:
        policy.denyLinesPerSecond = parser.wholeNumber(0, 1_000_000, "a whole number of lines");
    }
  }
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
  let fields = new TopLevelFields(policy);
  let seen = parser.object(fields);
  if (!parser.failed && parser.reader.end()) {
    if ((seen & (1 << TopField.Allow)) == 0) {
      parser.failAt("allow", "required; expected a list of rules such as " + EXAMPLE);
    } else {
      derive(policy);
      parser.error = runSelfTests(fields.selfTests.tests, policy);
    }
  }
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

const LIST_KEYS = new Keys(["allow", "deny"]);
const NAME_KEY = new Keys(["name"]);
// The shortest rule that parses, {"name":"a","cn":"b"}: no configuration holds more rules than its
// size allows for.
const MIN_RULE_BYTES: i32 = 21;

// How many rules each list has, and how long their names are, by a quick pass that checks nothing
// and builds nothing (the real parse reports every error), so the lists' tables are allocated once,
// at their final size: a large list neither copies tables as it grows nor leaves the old ones behind
// in linear memory.
function measureLists(source: ByteSource, allow: ListSize, deny: ListSize): void {
  let reader = new JsonReader(source);
  if (reader.kind() != JsonKind.Object || !reader.beginObject()) return;
  for (let first = true; reader.nextField(first, LIST_KEYS, false); first = false) {
    let list = reader.keyIndex == 0 ? allow : reader.keyIndex == 1 ? deny : null;
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
        if (reader.keyIndex == 0) list.nameBytes += reader.position - start;
      }
      if (reader.failed) return;
    }
    if (reader.failed) return;
  }
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
