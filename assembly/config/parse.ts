// Plugin configuration: JSON text → an immutable Policy, or an error naming the JSON path and the
// problem. Pure: no SDK imports, never throws. Unknown keys are errors, so a typo can never
// silently widen access.
import { JsonKind, JsonValue, kindName, parseJson } from "./json";
import { parseFingerprint } from "../identity/sha256";
import { DigestSet } from "../policy/digest-set";
import { AllowRule, Policy } from "../policy/policy";

export class ConfigResult {
  policy: Policy | null = null;
  error: string = "";
}

const TOP_LEVEL_FIELDS: string[] = ["allow"];
const RULE_FIELDS: string[] = ["name", "sha256"];
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
  let name = isIdentifier(key) ? key : "[" + quote(key) + "]";
  if (path.length == 0) return name;
  return isIdentifier(key) ? path + "." + name : path + name;
}

class Parser {
  error: string = "";

  fail(path: string, message: string): bool {
    if (this.error.length == 0) this.error = (path.length == 0 ? "configuration" : path) + ": " + message;
    return false;
  }

  expect(value: JsonValue, kind: JsonKind, path: string): bool {
    if (value.kind == kind) return true;
    return this.fail(path, "expected " + article(kindName(kind)) + ", got " + kindName(value.kind));
  }

  // Every key of `object` must be one of `known`.
  onlyKnown(object: JsonValue, known: string[], path: string): bool {
    for (let i = 0; i < object.keys.length; i++) {
      let key = object.keys[i];
      if (!known.includes(key)) {
        return this.fail(field(path, key), "unknown field; expected one of: " + known.join(", "));
      }
    }
    return true;
  }

  // A required, non-empty string field.
  requiredString(object: JsonValue, key: string, path: string): string | null {
    let at = field(path, key);
    let value = object.get(key);
    if (value === null) {
      this.fail(at, "required");
      return null;
    }
    if (!this.expect(value, JsonKind.String, at)) return null;
    if (value.text.length == 0) {
      this.fail(at, "must not be empty");
      return null;
    }
    return value.text;
  }
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

export function parseConfig(text: string): ConfigResult {
  let result = new ConfigResult();
  let parser = new Parser();
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
  if (!parser.expect(root, JsonKind.Object, "") || !parser.onlyKnown(root, TOP_LEVEL_FIELDS, "")) {
    result.error = parser.error;
    return result;
  }
  let allow = root.get("allow");
  if (allow === null) {
    parser.fail("allow", "required; expected a list of rules such as " + EXAMPLE);
  } else if (parser.expect(allow, JsonKind.Array, "allow")) {
    result.policy = parseAllowList(parser, allow);
  }
  if (parser.error.length > 0) result.policy = null;
  result.error = parser.error;
  return result;
}

function parseAllowList(parser: Parser, list: JsonValue): Policy | null {
  let rules = new Array<AllowRule>(0);
  let digests = new DigestSet(list.items.length);
  let firstUse = new Map<string, i32>();
  for (let i = 0; i < list.items.length; i++) {
    let path = "allow[" + i.toString() + "]";
    let item = list.items[i];
    if (!parser.expect(item, JsonKind.Object, path) || !parser.onlyKnown(item, RULE_FIELDS, path)) return null;
    let name = parser.requiredString(item, "name", path);
    if (name === null) return null;
    if (firstUse.has(name)) {
      parser.fail(path + ".name", "duplicate name " + quote(name) + " (first used by allow[" + firstUse.get(name).toString() + "])");
      return null;
    }
    firstUse.set(name, i);
    let sha256 = parser.requiredString(item, "sha256", path);
    if (sha256 === null) return null;
    let digest = parseFingerprint(sha256);
    if (digest === null) {
      parser.fail(path + ".sha256", "expected 64 hex digits, got " + quote(sha256));
      return null;
    }
    digests.add(digest, i);
    rules.push(new AllowRule(name));
  }
  return new Policy(rules, digests);
}
