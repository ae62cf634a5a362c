import { LineWriter } from "../policy/deny-log";

function written(bytes: u8[]): string {
  let buffer = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) buffer[i] = bytes[i];
  let w = new LineWriter().value(buffer.dataStart, buffer.length);
  return String.UTF8.decodeUnsafe(w.ptr, <usize>w.size);
}

function ofText(text: string): string {
  let w = new LineWriter().valueOf(text);
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
