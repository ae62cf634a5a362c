// The CNs of a subject as Envoy prints it (RFC 2253: most specific RDN first, the members of a
// multi-valued RDN joined by '+', special characters backslash-escaped, bytes above 0x7f as \XX). A
// value is unescaped, so an escaped comma inside another attribute can never fake a "CN=".
//
// A CA vets one CN per certificate. A subject may carry several (CN=a,CN=b), or a CN inside a
// multi-valued RDN (CN=a+O=b); which of them is "the" CN is a guess a reader should not make. So an
// allow rule's `cn` matches only a subject with exactly one CN, in an RDN of its own; a deny rule's
// `cn` matches a subject any of whose CNs is the value — and one whose CN cannot be read (a value
// dumped as #hex, escapes that are not UTF-8) or whose subject is unknown. Pure.
import { Char } from "../chars";
import { equalsIgnoringAsciiCase, hexDigit, isUtf8 } from "../text";

export class CommonNames {
  values: string[] = [];
  // A CN shares its RDN with another attribute.
  multiValued: bool = false;
  // A CN's value could not be read, or the subject does not parse.
  unreadable: bool = false;

  // The one CN an allow rule may match, or null.
  get single(): string | null {
    return this.values.length == 1 && !this.multiValued && !this.unreadable ? this.values[0] : null;
  }

  // Whether a deny rule for `cn` matches.
  mayBe(cn: string): bool {
    return this.unreadable || this.values.includes(cn);
  }
}

function hexPair(text: string, at: i32): i32 {
  if (at + 1 >= text.length) return -1;
  let hi = hexDigit(text.charCodeAt(at));
  let lo = hexDigit(text.charCodeAt(at + 1));
  return hi < 0 || lo < 0 ? -1 : (hi << 4) | lo;
}

export function commonNames(subject: string): CommonNames {
  let names = new CommonNames();
  let n = subject.length;
  // Envoy escapes every byte above 0x7f: a subject with a raw one is not Envoy's printing.
  for (let i = 0; i < n; i++) {
    if (subject.charCodeAt(i) >= 0x80) {
      names.unreadable = true;
      return names;
    }
  }
  let at = 0;
  // Whether the attribute read now shares its RDN with the one before or after it.
  let joinedBefore = false;
  while (at < n) {
    let typeStart = at;
    while (at < n && subject.charCodeAt(at) != Char.Equals) {
      let c = subject.charCodeAt(at);
      if (c == Char.Comma || c == Char.Plus || c == Char.Backslash) {
        names.unreadable = true;
        return names;
      }
      at++;
    }
    if (at >= n) {
      names.unreadable = true;
      return names;
    }
    let type = subject.substring(typeStart, at);
    at++; // '='
    let isCn = equalsIgnoringAsciiCase(type, "CN") || type == "2.5.4.3";
    let dumped = at < n && subject.charCodeAt(at) == Char.Hash;
    let bytes = new Array<u8>();
    while (at < n) {
      let c = subject.charCodeAt(at);
      if (c == Char.Comma || c == Char.Plus) break;
      if (c == Char.Backslash) {
        let hex = hexPair(subject, at + 1);
        if (hex >= 0) {
          bytes.push(<u8>hex);
          at += 3;
          continue;
        }
        if (at + 1 >= n) {
          names.unreadable = true;
          return names;
        }
        c = subject.charCodeAt(at + 1);
        at++;
      }
      bytes.push(<u8>c);
      at++;
    }
    let joinedAfter = at < n && subject.charCodeAt(at) == Char.Plus;
    if (isCn) {
      if (joinedBefore || joinedAfter) names.multiValued = true;
      let buffer = new Uint8Array(bytes.length);
      for (let i = 0; i < bytes.length; i++) buffer[i] = bytes[i];
      if (dumped || !isUtf8(buffer.dataStart, buffer.length)) names.unreadable = true;
      else names.values.push(String.UTF8.decodeUnsafe(buffer.dataStart, <usize>buffer.length));
    }
    joinedBefore = joinedAfter;
    if (at < n) at++; // ',' or '+'
  }
  return names;
}
