// The one info-level line logged per denied (or dry-run denied) request, written straight as UTF-8
// bytes into a reused buffer: no intermediate strings on the deny path. Values the client controls
// are quoted, escaped and cut, so no client can forge a log line. Pure.

const MAX_VALUE_CHARS: i32 = 256;
const HEX = "0123456789abcdef";

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

  private room(extra: i32): void {
    if (this.size + extra <= this.buffer.length) return;
    let capacity = this.buffer.length;
    while (this.size + extra > capacity) capacity <<= 1;
    let grown = new StaticArray<u8>(capacity);
    memory.copy(changetype<usize>(grown), changetype<usize>(this.buffer), <usize>this.size);
    this.buffer = grown;
  }

  private byte(b: i32): void {
    unchecked((this.buffer[this.size++] = <u8>b));
  }

  // ASCII text written as it is (the line's own words).
  ascii(text: string): LineWriter {
    let length = text.length;
    this.room(length);
    let to = changetype<usize>(this.buffer) + <usize>this.size;
    let from = changetype<usize>(text);
    for (let i = 0; i < length; i++) store<u8>(to + <usize>i, <u8>load<u16>(from + (<usize>i << 1)));
    this.size += length;
    return this;
  }

  // A value in quotes: `"` and `\` escaped, control characters, C1 controls and invalid UTF-8 as
  // \xNN, U+2028/U+2029 as \uNNNN, at most 256 characters, then "…" when cut.
  value(ptr: usize, length: i32): LineWriter {
    // Each input byte becomes at most 6 output bytes (\u2028 from three bytes: fewer).
    this.room(length * 4 + 8);
    this.byte(0x22);
    let at = 0;
    let chars = 0;
    while (at < length && chars < MAX_VALUE_CHARS) {
      let c = <i32>load<u8>(ptr + <usize>at);
      chars++;
      if (c < 0x80) {
        if (c == 0x22 || c == 0x5c) {
          this.byte(0x5c);
          this.byte(c);
        } else if (c < 0x20 || c == 0x7f) {
          this.hexByte(c);
        } else {
          this.byte(c);
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
        this.hexByte(c);
        at++;
      } else if (code < 0xa0) {
        this.hexByte(code);
        at += width;
      } else if (code == 0x2028 || code == 0x2029) {
        this.ascii(code == 0x2028 ? "\\u2028" : "\\u2029");
        at += width;
      } else {
        for (let i = 0; i < width; i++) this.byte(<i32>load<u8>(ptr + <usize>(at + i)));
        at += width;
      }
    }
    this.byte(0x22);
    if (at < length) this.utf8Ellipsis();
    return this;
  }

  private utf8Ellipsis(): void {
    this.room(3);
    this.byte(0xe2);
    this.byte(0x80);
    this.byte(0xa6);
  }

  valueOf(text: string): LineWriter {
    let bytes = String.UTF8.encode(text);
    return this.value(changetype<usize>(bytes), bytes.byteLength);
  }

  private hexByte(c: i32): void {
    this.byte(0x5c);
    this.byte(0x78);
    this.byte(HEX.charCodeAt((c >> 4) & 0xf));
    this.byte(HEX.charCodeAt(c & 0xf));
  }
}

function bytesOf(buffer: ArrayBuffer, w: LineWriter): LineWriter {
  return w.value(changetype<usize>(buffer), buffer.byteLength);
}

// `cert-allowlist: deny reason=… rule="…" sha256=… uri_san="…" subject="…" host="…" path="…" mode=…`
export function writeDenyLine(w: LineWriter, reason: string, rule: ArrayBuffer, sha256: string, uriSan: ArrayBuffer, subject: ArrayBuffer,
    host: ArrayBuffer, path: ArrayBuffer, mode: string): void {
  w.reset().ascii("cert-allowlist: deny reason=").ascii(reason).ascii(" rule=");
  bytesOf(rule, w).ascii(" sha256=").ascii(sha256.length > 0 ? sha256 : "-").ascii(" uri_san=");
  bytesOf(uriSan, w).ascii(" subject=");
  bytesOf(subject, w).ascii(" host=");
  bytesOf(host, w).ascii(" path=");
  bytesOf(path, w).ascii(" mode=").ascii(mode);
}

// A value as it appears in a log line (for the expiry warning), through the same escaping.
export function logValue(text: string): string {
  let writer = new LineWriter().valueOf(text);
  return String.UTF8.decodeUnsafe(writer.ptr, <usize>writer.size);
}
