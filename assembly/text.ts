// Small text helpers shared by the pure modules. ASCII-only on purpose: hosts, header names, DNS
// names and XFCC keys are ASCII, and Unicode case tables would double the module's size.

export function hexDigit(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

const HEX_UPPER = "0123456789ABCDEF";

// `value` as `width` uppercase hex digits.
export function hexUpper(value: i32, width: i32): string {
  let out = "";
  for (let shift = (width - 1) * 4; shift >= 0; shift -= 4) out += HEX_UPPER.charAt((value >> shift) & 0xf);
  return out;
}

// Lower-cases A–Z only; every other character is kept.
export function asciiLower(text: string): string {
  let i = 0;
  let n = text.length;
  while (i < n) {
    let c = text.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) break;
    i++;
  }
  if (i == n) return text;
  let out = new Array<string>(0);
  out.push(text.substring(0, i));
  for (; i < n; i++) {
    let c = text.charCodeAt(i);
    out.push(String.fromCharCode(c >= 0x41 && c <= 0x5a ? c + 0x20 : c));
  }
  return out.join("");
}

// Whether two strings are equal ignoring ASCII case.
export function equalsIgnoringAsciiCase(a: string, b: string): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x >= 0x41 && x <= 0x5a) x += 0x20;
    if (y >= 0x41 && y <= 0x5a) y += 0x20;
    if (x != y) return false;
  }
  return true;
}
