import { LineWriter, LogBudget } from "../log-lines";

function written(bytes: u8[]): string {
  let buffer = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) buffer[i] = bytes[i];
  let w = new LineWriter().value(buffer.dataStart, buffer.length);
  return String.UTF8.decodeUnsafe(w.ptr, <usize>w.size);
}

function ofText(text: string): string {
  let w = new LineWriter().text(text);
  return String.UTF8.decodeUnsafe(w.ptr, <usize>w.size);
}

describe("log values", () => {
  it("quote and escape quotes and backslashes", () => {
    expect(ofText('a"b\\c')).toBe('"a\\"b\\\\c"');
  });
  it("write control characters and DEL as \\xNN", () => {
    expect(ofText("a\nb\r\x7f")).toBe('"a\\x0ab\\x0d\\x7f"');
  });
  it("keep ordinary UTF-8 and escape C1 controls and line separators", () => {
    expect(ofText("Jürgen\u0085\u2028")).toBe('"Jürgen\\x85\\u2028"');
  });
  it("write invalid UTF-8 bytes as \\xNN", () => {
    expect(written([0x61, 0xff, 0xc3, 0x28, 0xed, 0xa0, 0x80])).toBe('"a\\xff\\xc3(\\xed\\xa0\\x80"');
  });
  it("cut after 256 characters", () => {
    expect(ofText("é".repeat(300))).toBe('"' + "é".repeat(256) + '"…');
  });
});

describe("long log values", () => {
  it("escape what needs escaping wherever it falls among plain bytes", () => {
    expect(ofText('abcdefghijklm"nopq\nrstuvwxyz0123456789\\')).toBe('"abcdefghijklm\\"nopq\\x0arstuvwxyz0123456789\\\\"');
    expect(ofText("0123456789abcdef\x7f")).toBe('"0123456789abcdef\\x7f"');
  });
  it("cut plain ASCII after 256 characters too", () => {
    expect(ofText("a".repeat(300))).toBe('"' + "a".repeat(256) + '"…');
  });
});

describe("the deny line budget", () => {
  it("lets perSecond lines through in a second and holds back the rest", () => {
    let budget = new LogBudget(2);
    expect(budget.take(1000)).toBe(true);
    expect(budget.take(1500)).toBe(true);
    expect(budget.take(1999)).toBe(false);
    expect(budget.take(1999)).toBe(false);
    expect(budget.takeHeld()).toBe(2);
    expect(budget.takeHeld()).toBe(0);
  });
  it("starts a new window a second later, and when the clock goes back", () => {
    let budget = new LogBudget(1);
    expect(budget.take(1000)).toBe(true);
    expect(budget.take(1999)).toBe(false);
    expect(budget.take(2000)).toBe(true);
    expect(budget.take(500)).toBe(true);
  });
  it("holds back every line at 0", () => {
    let budget = new LogBudget(0);
    expect(budget.take(0)).toBe(false);
  });
});

// The escaping of printable ASCII with '"', '\\' and a control byte, one character at a time.
function reference(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c == 0x22 || c == 0x5c) out += "\\" + String.fromCharCode(c);
    else if (c < 0x20) out += "\\x" + (c < 0x10 ? "0" : "") + c.toString(16);
    else out += String.fromCharCode(c);
  }
  return out + '"';
}

describe("values of every length", () => {
  it("escape a special byte at every position, eight bytes at a time or not", () => {
    const specials = ['"', "\\", "\n"];
    for (let length = 1; length <= 27; length++) {
      expect(ofText("x".repeat(length))).toBe(reference("x".repeat(length)));
      for (let at = 0; at < length; at++) {
        for (let k = 0; k < specials.length; k++) {
          let text = "x".repeat(at) + specials[k] + "y".repeat(length - at - 1);
          expect(ofText(text)).toBe(reference(text));
        }
      }
    }
  });
});
