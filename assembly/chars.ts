// Names for the ASCII bytes the parsers look at, so that a comparison reads as what it means.
export const enum Char {
  Tab = 0x09,
  LineFeed = 0x0a,
  CarriageReturn = 0x0d,
  Space = 0x20,
  Quote = 0x22,
  Hash = 0x23,
  Percent = 0x25,
  Star = 0x2a,
  Plus = 0x2b,
  Comma = 0x2c,
  Minus = 0x2d,
  Dot = 0x2e,
  Slash = 0x2f,
  Digit0 = 0x30,
  Digit1 = 0x31,
  Digit2 = 0x32,
  Digit8 = 0x38,
  Digit9 = 0x39,
  Colon = 0x3a,
  Semicolon = 0x3b,
  Less = 0x3c,
  Equals = 0x3d,
  Greater = 0x3e,
  Question = 0x3f,
  At = 0x40,
  UpperA = 0x41,
  UpperE = 0x45,
  UpperF = 0x46,
  UpperT = 0x54,
  UpperZ = 0x5a,
  OpenBracket = 0x5b,
  Backslash = 0x5c,
  CloseBracket = 0x5d,
  Underscore = 0x5f,
  LowerA = 0x61,
  LowerB = 0x62,
  LowerE = 0x65,
  LowerF = 0x66,
  LowerN = 0x6e,
  LowerO = 0x6f,
  LowerR = 0x72,
  LowerT = 0x74,
  LowerU = 0x75,
  LowerX = 0x78,
  LowerZ = 0x7a,
  OpenBrace = 0x7b,
  CloseBrace = 0x7d,
  Tilde = 0x7e,
  Delete = 0x7f,
}

export function isDigit(c: i32): bool {
  return c >= Char.Digit0 && c <= Char.Digit9;
}

export function isAsciiLetter(c: i32): bool {
  return (c >= Char.LowerA && c <= Char.LowerZ) || (c >= Char.UpperA && c <= Char.UpperZ);
}

// Control characters (C0 and DEL): never part of a name, a value a header carries, or a path.
export function isControl(c: i32): bool {
  return c < Char.Space || c == Char.Delete;
}

// Lower-cases an ASCII letter; every other byte as it is.
export function lowerAscii(c: i32): i32 {
  return c >= Char.UpperA && c <= Char.UpperZ ? c + 0x20 : c;
}
