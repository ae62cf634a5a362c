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

// The request's host, lower-cased without its port into a buffer it keeps from request to request,
// or ambiguous.
export class RequestHost {
  bytes: Uint8Array = new Uint8Array(0);
  length: i32 = 0;
  ambiguous: bool = true;

  static readonly AMBIGUOUS: RequestHost = new RequestHost();

  // Reads an :authority value, `length` bytes at `ptr` as Envoy holds them, into this.
  read(ptr: usize, length: i32): RequestHost {
    let end = hostEnd(ptr, length);
    this.ambiguous = end < 0;
    this.length = max(end, 0);
    if (this.bytes.length < this.length) this.bytes = new Uint8Array(max(this.length, this.bytes.length << 1));
    for (let i = 0; i < this.length; i++) unchecked((this.bytes[i] = <u8>lowerAscii(load<u8>(ptr + <usize>i))));
    return this;
  }

  // The host as text (for tests and messages; the filter compares bytes).
  get name(): string {
    return String.UTF8.decodeUnsafe(this.bytes.dataStart, <usize>this.length);
  }
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

// Where the host of an :authority value ends (before its port), or -1 when it is ambiguous.
function hostEnd(ptr: usize, length: i32): i32 {
  if (length == 0) return -1;
  if (load<u8>(ptr) == Char.OpenBracket) {
    let at = 1;
    let colons = 0;
    while (at < length && isIpv6Byte(lowerAscii(load<u8>(ptr + <usize>at)))) {
      if (load<u8>(ptr + <usize>at) == Char.Colon) colons++;
      at++;
    }
    if (at >= length || load<u8>(ptr + <usize>at) != Char.CloseBracket || colons < 2 || !portOrNothing(ptr, at + 1, length)) return -1;
    return at + 1;
  }
  let end = 0;
  while (end < length && isNameByte(lowerAscii(load<u8>(ptr + <usize>end)))) end++;
  if (!wellFormedName(ptr, 0, end) || !portOrNothing(ptr, end, length)) return -1;
  return end;
}

// A new RequestHost for an :authority value: `length` bytes at `ptr`.
export function requestHost(ptr: usize, length: i32): RequestHost {
  return new RequestHost().read(ptr, length);
}

// `length` bytes at `ptr`, lower-cased.
function lowered(ptr: usize, length: i32): ArrayBuffer {
  let out = new ArrayBuffer(length);
  for (let i = 0; i < length; i++) store<u8>(changetype<usize>(out) + <usize>i, <u8>lowerAscii(load<u8>(ptr + <usize>i)));
  return out;
}

// "payments.example.com" (exactly) or "*.bank.example" (any name ending in ".bank.example").
export class HostPattern {
  constructor(
    // Lower case; empty for a wildcard.
    public exact: ArrayBuffer,
    // ".bank.example" for "*.bank.example"; empty for an exact pattern.
    public suffix: ArrayBuffer,
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
      return new HostPattern(host.bytes.buffer.slice(0, host.length), new ArrayBuffer(0));
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
    // A wildcard keeps its dot: "*.bank.example" is the suffix ".bank.example".
    return wildcard ? new HostPattern(new ArrayBuffer(0), lowered(ptr + 1, end - 1)) : new HostPattern(lowered(ptr, end), new ArrayBuffer(0));
  }

  // `host` is not ambiguous.
  matches(host: RequestHost): bool {
    let suffix = this.suffix.byteLength;
    if (suffix == 0) {
      let exact = this.exact.byteLength;
      return host.length == exact && memory.compare(host.bytes.dataStart, changetype<usize>(this.exact), <usize>exact) == 0;
    }
    return host.length > suffix && memory.compare(host.bytes.dataStart + <usize>(host.length - suffix), changetype<usize>(this.suffix), <usize>suffix) == 0;
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
