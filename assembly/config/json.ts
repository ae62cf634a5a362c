// A pull reader for JSON over UTF-8 bytes, for plugin configuration. Pure: no SDK imports, no host
// calls, never throws. It builds no tree: the configuration parser reads values as it walks, so a
// configuration with a million rules costs what its rules cost, not a million JSON nodes. The bytes
// come from a ByteSource through a window of about WINDOW bytes, so a 100 MB configuration never
// has to sit in linear memory whole. Errors are values (byte offset + message), and nesting depth
// is bounded so hostile input cannot exhaust the stack.
import { Char } from "../chars";
import { equalBytes, hexDigit, hexUpper } from "../text";

export const enum JsonKind {
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
  // Not the start of any value (or the end of input).
  Invalid,
}

export function kindName(kind: JsonKind): string {
  switch (kind) {
    case JsonKind.Null: return "null";
    case JsonKind.Bool: return "boolean";
    case JsonKind.Number: return "number";
    case JsonKind.String: return "string";
    case JsonKind.Array: return "array";
    case JsonKind.Object: return "object";
    default: return "nothing";
  }
}

export const MAX_JSON_DEPTH: i32 = 64;

// A Keys table's size: a power of two well above the most fields an object has (17).
const KEY_SLOTS: i32 = 64;

// How much the reader asks its source for at a time.
export const WINDOW: i32 = 65536;

// Where the bytes come from: `length` bytes in all, copied out on request.
export abstract class ByteSource {
  abstract get length(): i32;
  // Copies up to `max` bytes starting at `offset` to `into`; returns how many it copied (0 when it
  // could not read).
  abstract read(offset: i32, into: usize, max: i32): i32;
}

// The field names an object may have, encoded once: a key is found by its bytes, with no string made
// for it.
export class Keys {
  private encoded: ArrayBuffer[];
  // Each name's index at the slot its length and first and last bytes pick (then the next free one).
  private slots: StaticArray<i32> = new StaticArray<i32>(KEY_SLOTS);

  constructor(readonly names: string[]) {
    this.encoded = names.map<ArrayBuffer>((name: string) => String.UTF8.encode(name));
    for (let i = 0; i < KEY_SLOTS; i++) unchecked((this.slots[i] = -1));
    for (let i = 0; i < this.encoded.length; i++) {
      let name = unchecked(this.encoded[i]);
      let slot = Keys.slotOf(changetype<usize>(name), name.byteLength);
      while (unchecked(this.slots[slot]) >= 0) slot = (slot + 1) & (KEY_SLOTS - 1);
      unchecked((this.slots[slot] = i));
    }
  }

  @inline private static slotOf(ptr: usize, length: i32): i32 {
    if (length == 0) return 0;
    return (length * 7 + <i32>load<u8>(ptr) * 3 + <i32>load<u8>(ptr + <usize>(length - 1))) & (KEY_SLOTS - 1);
  }

  // The index of the key written as `length` bytes at `ptr`, or -1.
  find(ptr: usize, length: i32): i32 {
    let slot = Keys.slotOf(ptr, length);
    while (true) {
      let index = unchecked(this.slots[slot]);
      if (index < 0) return -1;
      let name = unchecked(this.encoded[index]);
      if (name.byteLength == length && equalBytes(changetype<usize>(name), ptr, length)) return index;
      slot = (slot + 1) & (KEY_SLOTS - 1);
    }
  }
}

// Bytes already in memory.
export class BufferSource extends ByteSource {
  constructor(private bytes: ArrayBuffer) {
    super();
  }

  get length(): i32 {
    return this.bytes.byteLength;
  }

  read(offset: i32, into: usize, max: i32): i32 {
    let count = min(max, this.bytes.byteLength - offset);
    if (count <= 0) return 0;
    memory.copy(into, changetype<usize>(this.bytes) + <usize>offset, <usize>count);
    return count;
  }
}

function describeByte(c: i32): string {
  if (c < 0) return "end of input";
  if (c >= Char.Space && c < Char.Delete) return "character '" + String.fromCharCode(c) + "'";
  return "byte 0x" + hexUpper(c, 2);
}

// Eight bytes at a time, for the long plain runs inside strings (a name, 64 hex digits): whether
// any of them is a '"', a backslash or a control character. Exact ("has zero byte" bit tricks); a hit
// only sends the caller back to byte-by-byte.
const ONES: u64 = 0x0101010101010101;
const HIGHS: u64 = 0x8080808080808080;

// Whether any byte of `word` is below `limit` (at most 0x80).
@inline function hasByteBelow(word: u64, limit: u64): bool {
  return ((word - ONES * limit) & ~word & HIGHS) != 0;
}

// High bits of the lanes of `word` that are `c`: the lowest one exactly the first such byte (lanes
// above a hit may be set too, which no caller reads).
@inline function lanesOf(word: u64, c: u64): u64 {
  let y = word ^ (ONES * c);
  return (y - ONES) & ~y & HIGHS;
}

// The lanes a string scan stops at: '"', backslash and (with `controls`) control characters.
@inline function stops(word: u64, controls: bool): u64 {
  let found = lanesOf(word, Char.Quote) | lanesOf(word, Char.Backslash);
  return controls ? found | ((word - ONES * 0x20) & ~word & HIGHS) : found;
}

@inline function hasQuoteOrBackslash(word: u64): bool {
  return hasByteBelow(word ^ (ONES * 0x22), 1) || hasByteBelow(word ^ (ONES * 0x5c), 1);
}

@inline function hasControl(word: u64): bool {
  return hasByteBelow(word, Char.Space);
}

export class JsonReader {
  // The window: `size` bytes of the source, starting at source offset `origin`. Positions (`pos`,
  // and the `at`s below) count from the window's start. The window only moves between values, and
  // only grows while one is read, so a position taken while reading a value stays valid until it
  // is read.
  private window: StaticArray<u8>;
  private base: usize;
  private size: i32 = 0;
  private origin: i32 = 0;
  pos: i32 = 0;
  private depth: i32 = 0;
  error: string = "";
  // The last key read by nextField — its index in the Keys given, or -1 and its text — and the
  // source offset where it started.
  keyIndex: i32 = -1;
  key: string = "";
  keyOffset: i32 = 0;

  constructor(private source: ByteSource) {
    this.window = new StaticArray<u8>(min(WINDOW, source.length));
    this.base = changetype<usize>(this.window);
  }

  get failed(): bool {
    return this.error.length > 0;
  }

  // `at` is a window position.
  failAt(at: i32, message: string): bool {
    return this.failAtOffset(this.origin + at, message);
  }

  failAtOffset(offset: i32, message: string): bool {
    if (this.error.length == 0) this.error = "invalid JSON at offset " + offset.toString() + ": " + message;
    return false;
  }

  // Whether the byte at window position `at` exists, reading more of the source if needed.
  @inline private has(at: i32): bool {
    return at < this.size || this.reach(at);
  }

  private reach(at: i32): bool {
    while (at >= this.size) {
      if (!this.more()) return false;
    }
    return true;
  }

  // Appends the source's next bytes to the window, growing it when it is full. False at the end.
  private more(): bool {
    let left = this.source.length - (this.origin + this.size);
    if (left <= 0) return false;
    let capacity = this.window.length;
    if (this.size == capacity) {
      capacity = max(WINDOW, capacity << 1);
      let grown = new StaticArray<u8>(capacity);
      memory.copy(changetype<usize>(grown), this.base, <usize>this.size);
      this.window = grown;
      this.base = changetype<usize>(grown);
    }
    let read = this.source.read(this.origin + this.size, this.base + <usize>this.size, min(left, capacity - this.size));
    if (read <= 0) return false;
    this.size += read;
    return true;
  }

  // Between values: drops what was read, so the window holds what is still to come.
  @inline private slide(): void {
    if (this.pos >= WINDOW >> 1) this.slideNow();
  }

  private slideNow(): void {
    let keep = this.size - this.pos;
    memory.copy(this.base, this.base + <usize>this.pos, <usize>keep);
    this.origin += this.pos;
    this.size = keep;
    this.pos = 0;
  }

  @inline private byte(at: i32): i32 {
    return this.has(at) ? <i32>load<u8>(this.base + <usize>at) : -1;
  }

  // The next byte that is not white space (not consumed); -1 at the end.
  @inline private skipSpace(): i32 {
    this.slide();
    if (this.pos < this.size) {
      let c = <i32>load<u8>(this.base + <usize>this.pos);
      if (c > Char.Space) return c;
    }
    return this.skipSpaceSlowly();
  }

  private skipSpaceSlowly(): i32 {
    while (this.has(this.pos)) {
      let c = <i32>load<u8>(this.base + <usize>this.pos);
      if (c != Char.Space && c != Char.Tab && c != Char.LineFeed && c != Char.CarriageReturn) return c;
      this.pos++;
    }
    return -1;
  }

  // The kind of the next value, without consuming it.
  kind(): JsonKind {
    let c = this.skipSpace();
    if (c == Char.OpenBrace) return JsonKind.Object;
    if (c == Char.OpenBracket) return JsonKind.Array;
    if (c == Char.Quote) return JsonKind.String;
    if (c == Char.Minus || (c >= Char.Digit0 && c <= Char.Digit9)) return JsonKind.Number;
    if (c == Char.LowerT || c == Char.LowerF) return JsonKind.Bool;
    if (c == Char.LowerN) return JsonKind.Null;
    return JsonKind.Invalid;
  }

  // Records why no value can start here.
  failUnexpected(): bool {
    let c = this.skipSpace();
    return this.failAt(this.pos, c < 0 ? "unexpected end of input" : "unexpected " + describeByte(c));
  }

  private enter(open: i32): bool {
    if (this.skipSpace() != open) return this.failUnexpected();
    if (this.depth >= MAX_JSON_DEPTH) return this.failAt(this.pos, "nesting deeper than " + MAX_JSON_DEPTH.toString() + " levels");
    this.depth++;
    this.pos++;
    return true;
  }

  beginObject(): bool {
    return this.enter(Char.OpenBrace);
  }

  beginArray(): bool {
    return this.enter(Char.OpenBracket);
  }

  // Moves to the next field of the object being read: true with the key set and the reader on the
  // value; false at the closing brace (consumed) or on an error (see `failed`). A key spelled exactly
  // like one of `keys` is found by its bytes (`keyIndex`; `key` is its name, no string made); with
  // `decodeKey` false any other key is "" and passed without being checked.
  nextField(first: bool, keys: Keys | null = null, decodeKey: bool = true): bool {
    let c = this.skipSpace();
    if (c == Char.CloseBrace) {
      this.pos++;
      this.depth--;
      return false;
    }
    if (!first) {
      if (c != Char.Comma) return this.failAt(this.pos, "expected ',' or '}' in an object");
      this.pos++;
      c = this.skipSpace();
    }
    if (c != Char.Quote) return this.failAt(this.pos, "expected a quoted key");
    this.keyOffset = this.origin + this.pos;
    let known = this.knownKey(keys);
    this.keyIndex = known;
    if (known >= 0) {
      this.key = keys!.names[known];
    } else if (!decodeKey) {
      // Passed unchecked: only a quick count reads keys it does not know.
      this.pos++;
      if (!this.passString()) return this.failAt(this.pos, "unterminated string");
      this.key = "";
    } else {
      let key = this.readString();
      if (key === null) return false;
      this.key = key;
    }
    if (this.skipSpace() != Char.Colon) return this.failAt(this.pos, "expected ':' after a key");
    this.pos++;
    return true;
  }

  // Moves to the next item of the array being read: true with the reader on the item; false at the
  // closing bracket (consumed) or on an error.
  nextItem(first: bool): bool {
    let c = this.skipSpace();
    if (c == Char.CloseBracket) {
      this.pos++;
      this.depth--;
      return false;
    }
    if (!first) {
      if (c != Char.Comma) return this.failAt(this.pos, "expected ',' or ']' in an array");
      this.pos++;
    }
    if (this.kind() == JsonKind.Invalid) return this.failUnexpected();
    return true;
  }

  // If the string at the reader is one of `keys` written without escapes, consumes it and returns
  // its index; otherwise leaves the reader where it was and returns -1.
  private knownKey(keys: Keys | null): i32 {
    if (keys === null) return -1;
    let start = this.pos + 1;
    let end = start;
    while (true) {
      if (!this.has(end)) return -1;
      if (end + 8 <= this.size) {
        let found = stops(load<u64>(this.base + <usize>end), false);
        if (found == 0) {
          end += 8;
          continue;
        }
        end += <i32>(ctz(found) >> 3);
      }
      let c = <i32>load<u8>(this.base + <usize>end);
      if (c == Char.Quote) break;
      if (c == Char.Backslash) return -1;
      end++;
    }
    let index = keys.find(this.base + <usize>start, end - start);
    if (index >= 0) this.pos = end + 1;
    return index;
  }

  // How far into the document the reader is.
  get position(): i32 {
    return this.origin + this.pos;
  }

  // For a string without escapes, where its bytes lie (see readSpan).
  spanStart: usize = 0;
  spanLength: i32 = 0;

  // Consumes a string and, when it has no escapes, sets spanStart/spanLength to its bytes and
  // returns true without allocating; otherwise returns false and leaves the reader on the string.
  readSpan(): bool {
    if (this.skipSpace() != Char.Quote) return false;
    let start = this.pos + 1;
    let end = start;
    while (true) {
      if (!this.has(end)) return false;
      let limit = this.size;
      let base = this.base;
      while (end + 8 <= limit) {
        let found = stops(load<u64>(base + <usize>end), true);
        if (found == 0) {
          end += 8;
          continue;
        }
        end += <i32>(ctz(found) >> 3);
        break;
      }
      while (end < limit) {
        let c = load<u8>(base + <usize>end);
        if (c == Char.Quote) break;
        if (c == Char.Backslash || c < <u8>Char.Space) return false;
        end++;
      }
      if (end < limit) break;
    }
    this.spanStart = this.base + <usize>start;
    this.spanLength = end - start;
    this.pos = end + 1;
    return true;
  }

  readString(): string | null {
    if (this.skipSpace() != Char.Quote) {
      this.failUnexpected();
      return null;
    }
    this.pos++;
    let start = this.pos;
    // Fast path: no escapes.
    while (this.has(this.pos)) {
      let c = <i32>load<u8>(this.base + <usize>this.pos);
      if (c == Char.Quote) {
        let text = String.UTF8.decodeUnsafe(this.base + <usize>start, <usize>(this.pos - start));
        this.pos++;
        return text;
      }
      if (c == Char.Backslash || c < Char.Space) break;
      this.pos++;
    }
    let parts = new Array<string>();
    parts.push(String.UTF8.decodeUnsafe(this.base + <usize>start, <usize>(this.pos - start)));
    while (this.has(this.pos)) {
      let c = this.byte(this.pos);
      if (c == Char.Quote) {
        this.pos++;
        return parts.join("");
      }
      if (c < Char.Space) {
        this.failAt(this.pos, "control character U+" + hexUpper(c, 4) + " in a string");
        return null;
      }
      if (c != Char.Backslash) {
        let runStart = this.pos;
        while (this.has(this.pos)) {
          let d = <i32>load<u8>(this.base + <usize>this.pos);
          if (d == Char.Quote || d == Char.Backslash || d < Char.Space) break;
          this.pos++;
        }
        parts.push(String.UTF8.decodeUnsafe(this.base + <usize>runStart, <usize>(this.pos - runStart)));
        continue;
      }
      let escape = this.byte(this.pos + 1);
      if (escape == Char.Quote) parts.push("\"");
      else if (escape == Char.Backslash) parts.push("\\");
      else if (escape == Char.Slash) parts.push("/");
      else if (escape == Char.LowerB) parts.push("\b");
      else if (escape == Char.LowerF) parts.push("\f");
      else if (escape == Char.LowerN) parts.push("\n");
      else if (escape == Char.LowerR) parts.push("\r");
      else if (escape == Char.LowerT) parts.push("\t");
      else if (escape == Char.LowerU) {
        let unit = this.hex4(this.pos + 2);
        if (unit < 0) {
          this.failAt(this.pos, "invalid \\u escape");
          return null;
        }
        parts.push(String.fromCharCode(unit));
        this.pos += 4;
      } else {
        this.failAt(this.pos, "invalid escape in a string");
        return null;
      }
      this.pos += 2;
    }
    this.failAt(this.pos, "unterminated string");
    return null;
  }

  private hex4(at: i32): i32 {
    if (!this.has(at + 3)) return -1;
    let unit = 0;
    for (let i = 0; i < 4; i++) {
      let digit = hexDigit(this.byte(at + i));
      if (digit < 0) return -1;
      unit = (unit << 4) | digit;
    }
    return unit;
  }

  private digits(): bool {
    let start = this.pos;
    while (this.has(this.pos)) {
      let c = <i32>load<u8>(this.base + <usize>this.pos);
      if (c < Char.Digit0 || c > Char.Digit9) break;
      this.pos++;
    }
    return this.pos > start;
  }

  // A number by JSON's grammar; NaN (with `error` set) otherwise.
  readNumber(): f64 {
    let negative = this.skipSpace() == Char.Minus;
    if (negative) this.pos++;
    let start = this.pos;
    let c = this.byte(this.pos);
    if (c == Char.Digit0) {
      this.pos++;
    } else if (c >= Char.Digit1 && c <= Char.Digit9) {
      this.digits();
    } else {
      this.failAt(this.pos, "expected a digit");
      return NaN;
    }
    if (this.byte(this.pos) == Char.Dot) {
      this.pos++;
      if (!this.digits()) {
        this.failAt(this.pos, "expected a digit after '.'");
        return NaN;
      }
    }
    c = this.byte(this.pos);
    if (c == Char.LowerE || c == Char.UpperE) {
      this.pos++;
      c = this.byte(this.pos);
      if (c == Char.Plus || c == Char.Minus) this.pos++;
      if (!this.digits()) {
        this.failAt(this.pos, "expected a digit in the exponent");
        return NaN;
      }
    }
    let value = this.numberValue(start, this.pos);
    return negative ? -value : value;
  }

  // The magnitude of a number already checked against JSON's grammar. Exact for integers up to
  // 2^53 and the short decimals a configuration holds; no general float parser is linked in.
  private numberValue(start: i32, end: i32): f64 {
    let at = start;
    let mantissa: f64 = 0;
    let scale: i32 = 0;
    let fraction = false;
    while (at < end) {
      let c = this.byte(at);
      if (c == Char.Dot) {
        fraction = true;
      } else if (c == Char.LowerE || c == Char.UpperE) {
        break;
      } else {
        mantissa = mantissa * 10 + <f64>(c - Char.Digit0);
        if (fraction) scale--;
      }
      at++;
    }
    if (at < end) {
      at++;
      let minus = this.byte(at) == Char.Minus;
      if (minus || this.byte(at) == Char.Plus) at++;
      let exponent = 0;
      while (at < end && exponent < 10000) exponent = exponent * 10 + (this.byte(at++) - Char.Digit0);
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
    return mantissa;
  }

  private literal(word: string): bool {
    this.skipSpace();
    if (!this.has(this.pos + word.length - 1)) return false;
    for (let i = 0; i < word.length; i++) {
      if (this.byte(this.pos + i) != word.charCodeAt(i)) return false;
    }
    this.pos += word.length;
    return true;
  }

  // true or false; false with `error` set otherwise.
  readBool(): bool {
    if (this.literal("true")) return true;
    if (!this.literal("false")) this.failUnexpected();
    return false;
  }

  readNull(): bool {
    return this.literal("null") || this.failUnexpected();
  }

  // Whether only white space is left.
  atEnd(): bool {
    return this.skipSpace() < 0;
  }

  // Passes one value without checking it, only following strings and nesting: a quick count of
  // what a document holds before it is read for real. False at the end of input.
  skipUnchecked(): bool {
    let c = this.skipSpace();
    if (c < 0) return false;
    let depth = 0;
    while (this.has(this.pos)) {
      c = <i32>load<u8>(this.base + <usize>this.pos);
      this.pos++;
      if (c == Char.Quote) {
        if (!this.passString()) return false;
        if (depth == 0) return true;
      } else if (c == Char.OpenBrace || c == Char.OpenBracket) {
        depth++;
      } else if (c == Char.CloseBrace || c == Char.CloseBracket) {
        if (depth == 0) {
          this.pos--;
          return true;
        }
        if (--depth == 0) return true;
      } else if (depth == 0 && (c == Char.Comma || c <= Char.Space)) {
        this.pos--;
        return true;
      }
    }
    return depth == 0;
  }

  // From just inside a string to just past its closing quote, stepping over escapes unchecked.
  // The inner loop runs over the window as it stands; only its end reads more.
  private passString(): bool {
    let at = this.pos;
    while (true) {
      let end = this.size;
      let base = this.base;
      while (at < end) {
        if (at + 8 <= end) {
          let found = stops(load<u64>(base + <usize>at), false);
          if (found == 0) {
            at += 8;
            continue;
          }
          at += <i32>(ctz(found) >> 3);
        }
        let c = load<u8>(base + <usize>at);
        at++;
        if (c == Char.Quote) {
          this.pos = at;
          return true;
        }
        if (c == Char.Backslash) at++;
      }
      if (!this.reach(at)) return false;
    }
  }

  // After the top-level value: nothing but white space may follow.
  end(): bool {
    let c = this.skipSpace();
    if (c < 0) return true;
    return this.failAt(this.pos, "unexpected " + describeByte(c) + " after the JSON value");
  }
}

// A number as messages show it: integers without a fraction, others to six decimals at most.
export function formatNumber(value: f64): string {
  if (!isFinite(value) || Math.abs(value) >= 1e15) return "a number out of range";
  let negative = value < 0;
  let magnitude = Math.abs(value);
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
    while (cut > 0 && digits.charCodeAt(cut - 1) == Char.Digit0) cut--;
    text += "." + digits.substring(0, cut);
  }
  return negative ? "-" + text : text;
}
