// A small JSON reader for plugin configuration. Pure: no SDK imports, no host calls, never throws.
// Errors are values (offset + message), nesting depth is bounded so hostile input cannot exhaust the
// stack, and duplicate object keys are rejected (a repeated "allow" must not silently replace the
// first one).

import { hexDigit, hexUpper } from "../text";

export const enum JsonKind {
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  boolean: bool = false;
  number: f64 = 0;
  text: string = "";
  items: JsonValue[] = [];
  keys: string[] = [];
  values: JsonValue[] = [];

  static make(kind: JsonKind): JsonValue {
    let value = new JsonValue();
    value.kind = kind;
    return value;
  }

  // The value of `key` in an object, or null.
  get(key: string): JsonValue | null {
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] == key) return this.values[i];
    }
    return null;
  }
}

export function kindName(kind: JsonKind): string {
  switch (kind) {
    case JsonKind.Null: return "null";
    case JsonKind.Bool: return "boolean";
    case JsonKind.Number: return "number";
    case JsonKind.String: return "string";
    case JsonKind.Array: return "array";
    default: return "object";
  }
}

export class JsonResult {
  value: JsonValue | null = null;
  error: string = "";
}

export const MAX_JSON_DEPTH: i32 = 64;

// Objects with more keys than this check duplicates through a set instead of a scan.
const LINEAR_KEY_CHECK: i32 = 16;

class Reader {
  pos: i32 = 0;
  error: string = "";

  constructor(public text: string) {}

  fail(message: string): JsonValue | null {
    if (this.error.length == 0) {
      this.error = "invalid JSON at offset " + this.pos.toString() + ": " + message;
    }
    return null;
  }

  skipSpace(): void {
    let text = this.text;
    while (this.pos < text.length) {
      let c = text.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }

  peek(): i32 {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  value(depth: i32): JsonValue | null {
    if (depth >= MAX_JSON_DEPTH) return this.fail("nesting deeper than " + MAX_JSON_DEPTH.toString() + " levels");
    this.skipSpace();
    let c = this.peek();
    if (c == 0x7b) return this.object(depth);
    if (c == 0x5b) return this.array(depth);
    if (c == 0x22) {
      let text = this.string();
      if (text === null) return null;
      let value = JsonValue.make(JsonKind.String);
      value.text = text;
      return value;
    }
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (this.literal("true")) {
      let value = JsonValue.make(JsonKind.Bool);
      value.boolean = true;
      return value;
    }
    if (this.literal("false")) return JsonValue.make(JsonKind.Bool);
    if (this.literal("null")) return JsonValue.make(JsonKind.Null);
    if (c < 0) return this.fail("unexpected end of input");
    return this.fail("unexpected character " + describeChar(c));
  }

  literal(word: string): bool {
    if (this.text.length - this.pos < word.length) return false;
    for (let i = 0; i < word.length; i++) {
      if (this.text.charCodeAt(this.pos + i) != word.charCodeAt(i)) return false;
    }
    this.pos += word.length;
    return true;
  }

  object(depth: i32): JsonValue | null {
    let result = JsonValue.make(JsonKind.Object);
    let seen: Set<string> | null = null;
    this.pos++; // {
    this.skipSpace();
    if (this.peek() == 0x7d) {
      this.pos++;
      return result;
    }
    while (true) {
      this.skipSpace();
      if (this.peek() != 0x22) return this.fail("expected a quoted key");
      let keyStart = this.pos;
      let key = this.string();
      if (key === null) return null;
      if (this.hasKey(result, key, seen)) {
        this.pos = keyStart;
        return this.fail("duplicate key \"" + key + "\"");
      }
      if (result.keys.length == LINEAR_KEY_CHECK) {
        seen = new Set<string>();
        for (let i = 0; i < result.keys.length; i++) seen.add(result.keys[i]);
      }
      if (seen !== null) seen.add(key);
      this.skipSpace();
      if (this.peek() != 0x3a) return this.fail("expected ':' after a key");
      this.pos++;
      let item = this.value(depth + 1);
      if (item === null) return null;
      result.keys.push(key);
      result.values.push(item);
      this.skipSpace();
      let c = this.peek();
      this.pos++;
      if (c == 0x2c) continue;
      if (c == 0x7d) return result;
      this.pos--;
      return this.fail("expected ',' or '}' in an object");
    }
  }

  hasKey(object: JsonValue, key: string, seen: Set<string> | null): bool {
    if (seen !== null) return seen.has(key);
    for (let i = 0; i < object.keys.length; i++) {
      if (object.keys[i] == key) return true;
    }
    return false;
  }

  array(depth: i32): JsonValue | null {
    let result = JsonValue.make(JsonKind.Array);
    this.pos++; // [
    this.skipSpace();
    if (this.peek() == 0x5d) {
      this.pos++;
      return result;
    }
    while (true) {
      let item = this.value(depth + 1);
      if (item === null) return null;
      result.items.push(item);
      this.skipSpace();
      let c = this.peek();
      this.pos++;
      if (c == 0x2c) continue;
      if (c == 0x5d) return result;
      this.pos--;
      return this.fail("expected ',' or ']' in an array");
    }
  }

  number(): JsonValue | null {
    let text = this.text;
    let start = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    let c = this.peek();
    if (c == 0x30) {
      this.pos++;
    } else if (c >= 0x31 && c <= 0x39) {
      this.digits();
    } else {
      return this.fail("expected a digit");
    }
    if (this.peek() == 0x2e) {
      this.pos++;
      if (!this.digits()) return this.fail("expected a digit after '.'");
    }
    c = this.peek();
    if (c == 0x65 || c == 0x45) {
      this.pos++;
      c = this.peek();
      if (c == 0x2b || c == 0x2d) this.pos++;
      if (!this.digits()) return this.fail("expected a digit in the exponent");
    }
    let value = JsonValue.make(JsonKind.Number);
    value.number = numberValue(text, start, this.pos);
    return value;
  }

  digits(): bool {
    let start = this.pos;
    while (this.pos < this.text.length) {
      let c = this.text.charCodeAt(this.pos);
      if (c < 0x30 || c > 0x39) break;
      this.pos++;
    }
    return this.pos > start;
  }

  // Reads a quoted string; the reader stands on the opening quote.
  string(): string | null {
    let text = this.text;
    this.pos++;
    let start = this.pos;
    // Fast path: no escapes.
    while (this.pos < text.length) {
      let c = text.charCodeAt(this.pos);
      if (c == 0x22) {
        let result = text.substring(start, this.pos);
        this.pos++;
        return result;
      }
      if (c == 0x5c || c < 0x20) break;
      this.pos++;
    }
    let parts: string[] = [text.substring(start, this.pos)];
    while (this.pos < text.length) {
      let c = text.charCodeAt(this.pos);
      if (c == 0x22) {
        this.pos++;
        return parts.join("");
      }
      if (c < 0x20) {
        this.fail("control character " + describeChar(c) + " in a string");
        return null;
      }
      if (c != 0x5c) {
        let runStart = this.pos;
        while (this.pos < text.length) {
          let d = text.charCodeAt(this.pos);
          if (d == 0x22 || d == 0x5c || d < 0x20) break;
          this.pos++;
        }
        parts.push(text.substring(runStart, this.pos));
        continue;
      }
      this.pos++;
      let e = this.peek();
      this.pos++;
      if (e == 0x22) parts.push("\"");
      else if (e == 0x5c) parts.push("\\");
      else if (e == 0x2f) parts.push("/");
      else if (e == 0x62) parts.push("\b");
      else if (e == 0x66) parts.push("\f");
      else if (e == 0x6e) parts.push("\n");
      else if (e == 0x72) parts.push("\r");
      else if (e == 0x74) parts.push("\t");
      else if (e == 0x75) {
        let unit = this.hex4();
        if (unit < 0) {
          this.fail("invalid \\u escape");
          return null;
        }
        parts.push(String.fromCharCode(unit));
      } else {
        this.pos -= 2;
        this.fail("invalid escape in a string");
        return null;
      }
    }
    this.fail("unterminated string");
    return null;
  }

  hex4(): i32 {
    if (this.text.length - this.pos < 4) return -1;
    let unit = 0;
    for (let i = 0; i < 4; i++) {
      let digit = hexDigit(this.text.charCodeAt(this.pos + i));
      if (digit < 0) return -1;
      unit = (unit << 4) | digit;
    }
    this.pos += 4;
    return unit;
  }
}

function describeChar(c: i32): string {
  if (c >= 0x20 && c < 0x7f) return "'" + String.fromCharCode(c) + "'";
  return "U+" + hexUpper(c, 4);
}

// The value of a number already checked against JSON's grammar. Exact for integers up to 2^53 and
// for the short decimals a configuration holds; no general-purpose float parser is linked in.
function numberValue(text: string, start: i32, end: i32): f64 {
  let at = start;
  let negative = text.charCodeAt(at) == 0x2d;
  if (negative) at++;
  let mantissa: f64 = 0;
  let scale: i32 = 0;
  let fraction = false;
  while (at < end) {
    let c = text.charCodeAt(at);
    if (c == 0x2e) {
      fraction = true;
    } else if (c == 0x65 || c == 0x45) {
      break;
    } else {
      mantissa = mantissa * 10 + <f64>(c - 0x30);
      if (fraction) scale--;
    }
    at++;
  }
  if (at < end) {
    at++;
    let minus = text.charCodeAt(at) == 0x2d;
    if (minus || text.charCodeAt(at) == 0x2b) at++;
    let exponent = 0;
    while (at < end && exponent < 10000) exponent = exponent * 10 + (text.charCodeAt(at++) - 0x30);
    scale += minus ? -exponent : exponent;
  }
  while (scale > 0 && mantissa < Infinity) {
    mantissa *= 10;
    scale--;
  }
  while (scale < 0 && mantissa != 0) {
    mantissa /= 10;
    scale++;
  }
  return negative ? -mantissa : mantissa;
}

// A number as messages show it: integers without a fraction, others to six decimals at most.
export function formatNumber(value: f64): string {
  if (!isFinite(value)) return "a number out of range";
  let negative = value < 0;
  let magnitude = Math.abs(value);
  if (magnitude >= 1e15) return "a number out of range";
  let whole = <i64>Math.floor(magnitude);
  let micros = <i64>Math.round((magnitude - <f64>whole) * 1e6);
  if (micros == 1000000) {
    whole++;
    micros = 0;
  }
  let text = whole.toString();
  if (micros > 0) {
    let digits = micros.toString().padStart(6, "0");
    let cut = digits.length;
    while (cut > 0 && digits.charCodeAt(cut - 1) == 0x30) cut--;
    text += "." + digits.substring(0, cut);
  }
  return negative ? "-" + text : text;
}

export function parseJson(text: string): JsonResult {
  let reader = new Reader(text);
  let result = new JsonResult();
  let value = reader.value(0);
  if (value !== null) {
    reader.skipSpace();
    if (reader.pos < text.length) {
      reader.fail("unexpected " + describeChar(text.charCodeAt(reader.pos)) + " after the JSON value");
      value = null;
    }
  }
  result.value = value;
  result.error = reader.error;
  return result;
}
