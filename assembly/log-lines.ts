// The filter's log lines: the one logged per denied (or dry-run denied) request, written straight as
// UTF-8 bytes into a reused buffer — no intermediate strings on the deny path —, the expiry warning,
// and the budget that keeps a flood of denials from flooding the log. Values the client controls are
// quoted, escaped and cut, so no client can forge a log line. Pure.
import { Char } from "./chars";
import { DIGEST_WORDS } from "./identity/fingerprint";

const MAX_VALUE_CHARS: i32 = 256;
// "0123456789abcdef"
const HEX = memory.data<u8>([0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66]);
// Eight bytes at a time: each lane's high bit, and one in each lane.
const HIGH_BITS: u64 = 0x8080808080808080;
const ONES: u64 = 0x0101010101010101;

// Whether any of the eight bytes in `x` needs more than copying into a quoted value: a control
// character, DEL or anything above it, '"' or '\'.
@inline function needsEscaping(x: u64): bool {
  let below = (x - ONES * 0x20) & ~x;
  let above = (x + ONES * (Char.Delete - Char.Tilde)) | x;
  let quote = x ^ (ONES * Char.Quote);
  let backslash = x ^ (ONES * Char.Backslash);
  let zero = ((quote - ONES) & ~quote) | ((backslash - ONES) & ~backslash);
  return ((below | above | zero) & HIGH_BITS) != 0;
}

export class LineWriter {
  private buffer: StaticArray<u8> = new StaticArray<u8>(1024);
  size: i32 = 0;

  get ptr(): usize {
    return changetype<usize>(this.buffer);
  }

  reset(): LineWriter {
    this.size = 0;
    return this;
  }

  @inline private room(extra: i32): void {
    if (this.size + extra > this.buffer.length) this.grow(extra);
  }

  private grow(extra: i32): void {
    let capacity = this.buffer.length;
    while (this.size + extra > capacity) capacity <<= 1;
    let grown = new StaticArray<u8>(capacity);
    memory.copy(changetype<usize>(grown), changetype<usize>(this.buffer), <usize>this.size);
    this.buffer = grown;
  }

  @inline private byte(b: i32): void {
    unchecked((this.buffer[this.size++] = <u8>b));
  }

  // A value in quotes: `"` and `\` escaped, control characters, C1 controls and invalid UTF-8 as
  // \xNN, U+2028/U+2029 as \uNNNN, at most 256 characters, then "…" when cut.
  value(ptr: usize, length: i32): LineWriter {
    // Each input byte becomes at most 4 output bytes; then the quotes and an ellipsis.
    this.room(length * 4 + 8);
    this.byte(Char.Quote);
    let at = this.escapedPart(ptr, length);
    this.byte(Char.Quote);
    if (at < length) this.utf8Ellipsis();
    return this;
  }

  // Bytes the filter vouches for, written as they are.
  raw(ptr: usize, length: i32): LineWriter {
    this.room(length);
    memory.copy(changetype<usize>(this.buffer) + <usize>this.size, ptr, <usize>length);
    this.size += length;
    return this;
  }

  // Bytes written as they are (the line's own words).
  bytes(literal: ArrayBuffer): LineWriter {
    let length = literal.byteLength;
    this.room(length);
    memory.copy(changetype<usize>(this.buffer) + <usize>this.size, changetype<usize>(literal), <usize>length);
    this.size += length;
    return this;
  }

  // Escapes up to MAX_VALUE_CHARS characters; returns how many bytes it took. The caller has made
  // room for four bytes per input byte (a byte's \xNN; \u2028 is six for three).
  private escapedPart(ptr: usize, length: i32): i32 {
    let start = changetype<usize>(this.buffer);
    let out = start + <usize>this.size;
    let at = 0;
    let chars = 0;
    while (at < length && chars < MAX_VALUE_CHARS) {
      // Plain printable ASCII, eight bytes at a time, while eight more fit both limits.
      let fastEnd = min(length, at + MAX_VALUE_CHARS - chars) - 8;
      let fastStart = at;
      while (at <= fastEnd) {
        let x = load<u64>(ptr + <usize>at);
        if (needsEscaping(x)) break;
        store<u64>(out, x);
        out += 8;
        at += 8;
      }
      chars += at - fastStart;
      // The last few plain bytes: one 8-byte check that overlaps bytes this run just copied as they
      // were (so their output is where their input is), then copied alike.
      let rest = length - at;
      if (rest > 0 && rest < 8 && at - fastStart >= 8 - rest && chars + rest <= MAX_VALUE_CHARS) {
        let x = load<u64>(ptr + <usize>(length - 8));
        if (!needsEscaping(x)) {
          store<u64>(out - <usize>(8 - rest), x);
          out += <usize>rest;
          at = length;
          break;
        }
      }
      if (at >= length || chars >= MAX_VALUE_CHARS) break;
      let c = <i32>load<u8>(ptr + <usize>at);
      chars++;
      if (c < 0x80) {
        if (c == Char.Quote || c == Char.Backslash) {
          store<u8>(out, Char.Backslash);
          store<u8>(out, <u8>c, 1);
          out += 2;
        } else if (c < Char.Space || c == Char.Delete) {
          out = hexEscape(out, c);
        } else {
          store<u8>(out++, <u8>c);
        }
        at++;
        continue;
      }
      let width = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
      let code = width == 4 ? c & 0x07 : width == 3 ? c & 0x0f : c & 0x1f;
      let valid = width > 0 && at + width <= length;
      for (let i = 1; valid && i < width; i++) {
        let next = <i32>load<u8>(ptr + <usize>(at + i));
        if ((next & 0xc0) != 0x80) valid = false;
        code = (code << 6) | (next & 0x3f);
      }
      if (valid && ((width == 3 && (code < 0x800 || (code >= 0xd800 && code <= 0xdfff))) || (width == 4 && (code < 0x10000 || code > 0x10ffff)))) valid = false;
      if (!valid) {
        out = hexEscape(out, c);
        at++;
      } else if (code < 0xa0) {
        out = hexEscape(out, code);
        at += width;
      } else if (code == 0x2028 || code == 0x2029) {
        // \u2028 or \u2029
        store<u8>(out, Char.Backslash);
        store<u8>(out, Char.LowerU, 1);
        store<u8>(out, Char.Digit2, 2);
        store<u8>(out, Char.Digit0, 3);
        store<u8>(out, Char.Digit2, 4);
        store<u8>(out, code == 0x2028 ? Char.Digit8 : Char.Digit9, 5);
        out += 6;
        at += width;
      } else {
        memory.copy(out, ptr + <usize>at, <usize>width);
        out += <usize>width;
        at += width;
      }
    }
    this.size = <i32>(out - start);
    return at;
  }

  // The caller has made room.
  private utf8Ellipsis(): void {
    this.byte(0xe2);
    this.byte(0x80);
    this.byte(0xa6);
  }

  // A string value, quoted and escaped as above.
  text(text: string): LineWriter {
    let bytes = String.UTF8.encode(text);
    return this.value(changetype<usize>(bytes), bytes.byteLength);
  }

  // A digest as 64 lowercase hex digits (its words hold its bytes in order).
  digest(words: StaticArray<u64>): LineWriter {
    this.room(DIGEST_WORDS * 16);
    let bytes = changetype<usize>(words);
    for (let i = 0; i < DIGEST_WORDS * 8; i++) {
      let byte = <i32>load<u8>(bytes + <usize>i);
      this.byte(load<u8>(HEX + <usize>(byte >> 4)));
      this.byte(load<u8>(HEX + <usize>(byte & 0xf)));
    }
    return this;
  }
}

// `\xNN` for byte c at `out`; returns where the next byte goes.
@inline function hexEscape(out: usize, c: i32): usize {
  store<u8>(out, Char.Backslash);
  store<u8>(out, Char.LowerX, 1);
  store<u8>(out, load<u8>(HEX + <usize>((c >> 4) & 0xf)), 2);
  store<u8>(out, load<u8>(HEX + <usize>(c & 0xf)), 3);
  return out + 4;
}

// A run of bytes: where the value of a log field is.
export class Span {
  ptr: usize = 0;
  length: i32 = 0;

  set(ptr: usize, length: i32): Span {
    this.ptr = ptr;
    this.length = length;
    return this;
  }

  // The bytes of a string (encoded here: for values that are strings already).
  text(text: string | null): Span {
    if (text === null) return this.set(0, 0);
    let bytes = String.UTF8.encode(text);
    // The span must not outlive `bytes`: it is kept alive by the field that holds it.
    this.kept = bytes;
    return this.set(changetype<usize>(bytes), bytes.byteLength);
  }

  private kept: ArrayBuffer | null = null;
}

const DENY_REASON = String.UTF8.encode("cert-allowlist: deny reason=");
const RULE = String.UTF8.encode(" rule=");
const SHA256 = String.UTF8.encode(" sha256=");
const NO_SHA256 = String.UTF8.encode("-");
const URI_SAN = String.UTF8.encode(" uri_san=");
const SUBJECT = String.UTF8.encode(" subject=");
const HOST = String.UTF8.encode(" host=");
const PATH = String.UTF8.encode(" path=");
const MODE_ENFORCE = String.UTF8.encode(" mode=enforce");
const MODE_DRY_RUN = String.UTF8.encode(" mode=dry-run");

// The fields of one deny line; the filter fills one and reuses it.
export class DenyLine {
  // The reason's name, encoded.
  reason: ArrayBuffer = new ArrayBuffer(0);
  rule: Span = new Span();
  // The certificate's digest as Envoy wrote it, or, when it is known only as words, those.
  sha256: Span = new Span();
  digest: StaticArray<u64> | null = null;
  uriSan: Span = new Span();
  subject: Span = new Span();
  host: Span = new Span();
  path: Span = new Span();
  dryRun: bool = false;

  // `cert-allowlist: deny reason=… rule="…" sha256=… uri_san="…" subject="…" host="…" path="…" mode=…`
  write(w: LineWriter): LineWriter {
    w.reset().bytes(DENY_REASON).bytes(this.reason).bytes(RULE).value(this.rule.ptr, this.rule.length).bytes(SHA256);
    let digest = this.digest;
    // Envoy's own digest (64 hex digits it wrote itself: no client chooses them), as it is.
    if (this.sha256.length > 0) w.raw(this.sha256.ptr, this.sha256.length);
    else if (digest !== null) w.digest(digest);
    else w.bytes(NO_SHA256);
    w.bytes(URI_SAN).value(this.uriSan.ptr, this.uriSan.length);
    w.bytes(SUBJECT).value(this.subject.ptr, this.subject.length);
    w.bytes(HOST).value(this.host.ptr, this.host.length);
    w.bytes(PATH).value(this.path.ptr, this.path.length);
    return w.bytes(this.dryRun ? MODE_DRY_RUN : MODE_ENFORCE);
  }
}

// At most `perSecond` lines in any one-second window (per VM, so per worker); the rest are counted.
// A denial flood then costs what a denial without a line costs, and the log shows how many lines it
// held back at the next line it writes.
export class LogBudget {
  private windowStart: i64 = i64.MIN_VALUE;
  private used: i32 = 0;
  private held: i64 = 0;

  constructor(readonly perSecond: i32) {}

  // Whether a line may be written at `nowMs`; one that may not is counted as held back.
  take(nowMs: i64): bool {
    if (nowMs < this.windowStart || nowMs >= this.windowStart + 1000) {
      this.windowStart = nowMs;
      this.used = 0;
    }
    if (this.used < this.perSecond) {
      this.used++;
      return true;
    }
    this.held++;
    return false;
  }

  // The lines held back since the last call.
  takeHeld(): i64 {
    let held = this.held;
    this.held = 0;
    return held;
  }
}

// A value as it appears in a log line (for the expiry warning), through the same escaping.
export function logValue(text: string): string {
  let writer = new LineWriter().text(text);
  return String.UTF8.decodeUnsafe(writer.ptr, <usize>writer.size);
}
