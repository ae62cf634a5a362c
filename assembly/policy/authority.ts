// The request's host, read from :authority the way Envoy's router matches it, and host patterns.
//
// Envoy normalises nothing here before filters run (unless the mesh strips ports or trailing dots,
// and then the filter sees the stripped value too); it accepts user info, several colons and
// brackets; and its router lower-cases the authority and matches it against each virtual host's
// domains — for a Gateway host, `host` and `host:*`, so `payments.example.com:1@x` and
// `payments.example.com:443:1` reach payments.example.com. A reading that guesses can be steered to
// another host. So the filter names a host only where every router reads the same one: a DNS name or
// IPv4 address, or a bracketed IPv6 address, optionally with a numeric port. Anything else —
// user info, more colons, a port that is not a number, a trailing dot, characters a DNS name never
// has, an empty authority — is ambiguous: in scope of every host pattern for a deny rule and for
// the configuration's `hosts`, in scope of none for an allow rule. Pure.
import { Char, isDigit, lowerAscii } from "../chars";

export class RequestHost {
  constructor(
    // Lower case, without the port; "" when ambiguous.
    public name: string,
    public ambiguous: bool,
  ) {}

  static readonly AMBIGUOUS: RequestHost = new RequestHost("", true);
}

function isNameByte(c: i32): bool {
  return isDigit(c) || (c >= Char.LowerA && c <= Char.LowerZ) || c == Char.Minus || c == Char.Dot;
}

function isIpv6Byte(c: i32): bool {
  return isDigit(c) || (c >= Char.LowerA && c <= Char.LowerF) || c == Char.Colon || c == Char.Dot;
}

// Whether bytes [at, end) are ":" and 1 to 5 digits (a port), or nothing.
function portOrNothing(ptr: usize, at: i32, end: i32): bool {
  if (at == end) return true;
  if (load<u8>(ptr + <usize>at) != Char.Colon || end - at < 2 || end - at > 6) return false;
  for (let i = at + 1; i < end; i++) {
    if (!isDigit(load<u8>(ptr + <usize>i))) return false;
  }
  return true;
}

// A DNS name's labels: none empty (so no leading, trailing or doubled dot).
function wellFormedName(ptr: usize, start: i32, end: i32): bool {
  if (start == end || load<u8>(ptr + <usize>start) == Char.Dot || load<u8>(ptr + <usize>(end - 1)) == Char.Dot) return false;
  for (let i = start + 1; i < end; i++) {
    if (load<u8>(ptr + <usize>i) == Char.Dot && load<u8>(ptr + <usize>(i - 1)) == Char.Dot) return false;
  }
  return true;
}

function lowered(ptr: usize, start: i32, end: i32): string {
  let units = new StaticArray<u16>(end - start);
  for (let i = start; i < end; i++) unchecked((units[i - start] = <u16>lowerAscii(load<u8>(ptr + <usize>i))));
  return String.UTF16.decodeUnsafe(changetype<usize>(units), <usize>(end - start) << 1);
}

// The host of an :authority value: `length` bytes at `ptr`, as Envoy holds them.
export function requestHost(ptr: usize, length: i32): RequestHost {
  if (length == 0) return RequestHost.AMBIGUOUS;
  if (load<u8>(ptr) == Char.OpenBracket) {
    let at = 1;
    let colons = 0;
    while (at < length && isIpv6Byte(lowerAscii(load<u8>(ptr + <usize>at)))) {
      if (load<u8>(ptr + <usize>at) == Char.Colon) colons++;
      at++;
    }
    if (at >= length || load<u8>(ptr + <usize>at) != Char.CloseBracket || colons < 2 || !portOrNothing(ptr, at + 1, length)) return RequestHost.AMBIGUOUS;
    return new RequestHost(lowered(ptr, 0, at + 1), false);
  }
  let end = 0;
  while (end < length && isNameByte(lowerAscii(load<u8>(ptr + <usize>end)))) end++;
  if (!wellFormedName(ptr, 0, end) || !portOrNothing(ptr, end, length)) return RequestHost.AMBIGUOUS;
  return new RequestHost(lowered(ptr, 0, end), false);
}

// "payments.example.com" (exactly) or "*.bank.example" (any name ending in ".bank.example").
export class HostPattern {
  constructor(
    public exact: string,
    // ".bank.example" for "*.bank.example"; "" for an exact pattern.
    public suffix: string,
  ) {}

  // The pattern, or null with the reason in `problem`. Upper case and a trailing dot have one
  // meaning and are normalised; what no request host can ever be is refused.
  static parse(text: string, problem: string[]): HostPattern | null {
    let bytes = String.UTF8.encode(text);
    let ptr = changetype<usize>(bytes);
    let end = bytes.byteLength;
    for (let i = 0; i < end; i++) {
      let c = <i32>load<u8>(ptr + <usize>i);
      if (c >= 0x80) {
        problem.push("a host is matched as it travels, in ASCII: write an internationalised name in its xn-- form, and nothing invisible");
        return null;
      }
    }
    if (end > 1 && load<u8>(ptr + <usize>(end - 1)) == Char.Dot && load<u8>(ptr + <usize>(end - 2)) != Char.Dot) end--;
    let wildcard = end > 2 && load<u8>(ptr) == Char.Star && load<u8>(ptr + 1) == Char.Dot;
    let start = wildcard ? 2 : 0;
    if (load<u8>(ptr) == Char.OpenBracket) {
      let host = requestHost(changetype<usize>(bytes), end);
      if (host.ambiguous || load<u8>(ptr + <usize>(end - 1)) != Char.CloseBracket) {
        problem.push("expected an IPv6 address in brackets without a port");
        return null;
      }
      return new HostPattern(host.name, "");
    }
    for (let i = start; i < end; i++) {
      let c = lowerAscii(load<u8>(ptr + <usize>i));
      if (c == Char.Colon) {
        problem.push("ports are ignored; write the host without \":port\"");
        return null;
      }
      if (!isNameByte(c)) {
        problem.push("expected a host name (letters, digits, '-' and '.') or \"*.\" followed by one");
        return null;
      }
    }
    if (!wellFormedName(ptr, start, end)) {
      problem.push("expected a host name (letters, digits, '-' and '.') or \"*.\" followed by one");
      return null;
    }
    let name = lowered(ptr, start, end);
    return wildcard ? new HostPattern("", "." + name) : new HostPattern(name, "");
  }

  // `host` is not ambiguous.
  matches(host: RequestHost): bool {
    let name = host.name;
    if (this.suffix.length == 0) return name == this.exact;
    return name.length > this.suffix.length && name.endsWith(this.suffix);
  }
}

// Whether the request is inside these patterns: an ambiguous host is inside all of them for a deny
// rule (and for the configuration's scope), inside none for an allow rule.
export function hostInScope(patterns: HostPattern[], host: RequestHost, ambiguousInside: bool): bool {
  if (host.ambiguous) return ambiguousInside;
  for (let i = 0; i < patterns.length; i++) {
    if (patterns[i].matches(host)) return true;
  }
  return false;
}
