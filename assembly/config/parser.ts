// The configuration parser's reading side: the JSON path of the value being read (rendered only for
// a message), the first error, typed values (strings, lists, choices, times, whole numbers,
// fingerprints), and the one walk over an object's fields that every object of the configuration
// goes through. Pure.
import { Char } from "../chars";
import { ByteSource, JsonKind, JsonReader, Keys, MAX_JSON_DEPTH, formatNumber, kindName } from "./json";
import { quote } from "./checks";
import { Instant, parseRfc3339 } from "../rfc3339";
import { DIGEST_WORDS, digestChunk, parseFingerprintAt, parseFingerprintInto, parseFingerprintSpelled } from "../identity/fingerprint";

function isIdentifier(key: string): bool {
  if (key.length == 0) return false;
  for (let i = 0; i < key.length; i++) {
    let c = key.charCodeAt(i);
    let ok = (c >= Char.LowerA && c <= Char.LowerZ) || (c >= Char.UpperA && c <= Char.UpperZ) || (c >= Char.Digit0 && c <= Char.Digit9) || c == Char.Underscore || c == Char.Minus;
    if (!ok) return false;
  }
  return true;
}

function field(path: string, key: string): string {
  if (!isIdentifier(key)) return path + "[" + quote(key) + "]";
  return path.length == 0 ? key : path + "." + key;
}

export function item(path: string, index: i32): string {
  return path + "[" + index.toString() + "]";
}

function article(noun: string): string {
  let c = noun.charCodeAt(0);
  return (c == Char.LowerA || c == Char.LowerO ? "an " : "a ") + noun;
}

function quotedList(choices: string[]): string {
  let quoted = new Array<string>();
  for (let i = 0; i < choices.length; i++) quoted.push(quote(choices[i]));
  return quoted.join(" or ");
}

// An object's fields, read one at a time by the walk (Parser.object): `read` takes the value of
// field `index` of `keys`, the reader on it and the path at it.
export abstract class Fields {
  constructor(readonly keys: Keys) {}
  abstract read(parser: Parser, index: i32): void;
}

// No field at all (an object that has not started), for the path stack.
const NO_KEY = -1;

export class Parser {
  error: string = "";
  reader: JsonReader;
  // The JSON path of the value being read: per level, a key (index NO_KEY) or an item index.
  private pathKeys: StaticArray<string> = new StaticArray<string>(MAX_JSON_DEPTH + 2);
  private pathIndexes: StaticArray<i32> = new StaticArray<i32>(MAX_JSON_DEPTH + 2);
  private depth: i32 = 0;

  constructor(source: ByteSource) {
    this.reader = new JsonReader(source);
  }

  get failed(): bool {
    return this.error.length > 0 || this.reader.failed;
  }

  enterKey(key: string): void {
    unchecked((this.pathKeys[this.depth] = key));
    unchecked((this.pathIndexes[this.depth] = NO_KEY));
    this.depth++;
  }

  enterIndex(index: i32): void {
    unchecked((this.pathIndexes[this.depth] = index));
    this.depth++;
  }

  leave(): void {
    this.depth--;
  }

  // The key one level up (the list a rule is in).
  keyAbove(levels: i32): string {
    return unchecked(this.pathKeys[this.depth - 1 - levels]);
  }

  path(): string {
    let path = "";
    for (let i = 0; i < this.depth; i++) {
      let index = unchecked(this.pathIndexes[i]);
      path = index != NO_KEY ? item(path, index) : field(path, unchecked(this.pathKeys[i]));
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

  // Walks an object: each field at most once, each one of `fields.keys`, each read by `fields`.
  // Returns the mask of the fields seen (bit `index`), or -1 on an error.
  object(fields: Fields): i64 {
    if (!this.expect(JsonKind.Object)) return -1;
    let reader = this.reader;
    let keys = fields.keys;
    let seen: u32 = 0;
    reader.beginObject();
    for (let first = true; reader.nextField(first, keys); first = false) {
      let index = reader.keyIndex;
      if (index < 0) {
        this.failAt(reader.key, "unknown field; expected one of: " + keys.names.join(", "));
        return -1;
      }
      if (seen & (1 << index)) {
        reader.failAtOffset(reader.keyOffset, "duplicate key \"" + reader.key + "\"");
        return -1;
      }
      seen |= 1 << index;
      this.enterKey(reader.key);
      fields.read(this, index);
      this.leave();
      if (this.failed) return -1;
    }
    return this.failed ? -1 : <i64>seen;
  }

  // Walks an array: `each` is called with the reader on each item and the path at it.
  items(each: Items): bool {
    if (!this.expect(JsonKind.Array)) return false;
    let reader = this.reader;
    reader.beginArray();
    for (let first = true; reader.nextItem(first); first = false) {
      this.enterIndex(each.count);
      let ok = each.item(this);
      this.leave();
      if (!ok || this.failed) return false;
    }
    return !this.failed;
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

  // A whole number from `min` to `max` (`what` names it in the message); 0 on an error.
  wholeNumber(min: i32, max: i32, what: string): i32 {
    let reader = this.reader;
    let kind = reader.kind();
    let expected = "expected " + what + " from " + min.toString() + " to " + max.toString() + ", got ";
    if (kind != JsonKind.Number) {
      if (kind == JsonKind.Invalid) reader.failUnexpected();
      else this.fail(expected + kindName(kind));
      return 0;
    }
    let n = reader.readNumber();
    if (!this.failed && (n != Math.floor(n) || n < min || n > max)) this.fail(expected + formatNumber(n));
    return this.failed ? 0 : <i32>n;
  }

  // A fingerprint decoded into `out`; false (with the error) when it is not one.
  fingerprintInto(out: StaticArray<u64>): bool {
    let reader = this.reader;
    if (!this.expect(JsonKind.String)) return false;
    // Read in place when written without escapes: a million fingerprints allocate nothing.
    if (reader.readSpan()) {
      if (reader.spanLength == 0) return this.fail("must not be empty");
      if (parseFingerprintInto(reader.spanStart, reader.spanLength, out)) return true;
      return this.fail("expected 64 hex digits, got " + quote(String.UTF8.decodeUnsafe(reader.spanStart, <usize>reader.spanLength)));
    }
    let text = this.string();
    if (text === null) return false;
    let bytes = String.UTF8.encode(text);
    let digest = parseFingerprintAt(changetype<usize>(bytes), bytes.byteLength);
    if (digest === null) return this.fail("expected 64 hex digits, got " + quote(text));
    for (let i = 0; i < DIGEST_WORDS; i++) unchecked((out[i] = digest[i]));
    return true;
  }

  // A fingerprint decoded into `out` and spelled (as Envoy writes digests) at `spelled`, for a
  // digest index; false (with the error) when it is not one.
  fingerprintSpelled(out: StaticArray<u64>, spelled: usize): bool {
    let reader = this.reader;
    if (!this.expect(JsonKind.String)) return false;
    if (reader.readSpan()) {
      if (reader.spanLength == 0) return this.fail("must not be empty");
      if (parseFingerprintSpelled(reader.spanStart, reader.spanLength, out, spelled)) return true;
      return this.fail("expected 64 hex digits, got " + quote(String.UTF8.decodeUnsafe(reader.spanStart, <usize>reader.spanLength)));
    }
    if (!this.fingerprintInto(out)) return false;
    for (let k = 0; k < 8; k++) store<u64>(spelled + (<usize>k << 3), digestChunk(out, k));
    return true;
  }

  fingerprint(): StaticArray<u64> | null {
    let out = new StaticArray<u64>(DIGEST_WORDS);
    return this.fingerprintInto(out) ? out : null;
  }
}

// The items of an array, read one at a time by Parser.items: `item` reads one with the reader on it
// (returning false to stop), `count` is the next one's index.
export abstract class Items {
  count: i32 = 0;
  abstract item(parser: Parser): bool;
}
