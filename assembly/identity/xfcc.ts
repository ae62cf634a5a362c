// The x-forwarded-client-cert header, read exactly as Envoy writes it, and nothing else: elements
// separated by ',', each `Key=value` pairs separated by ';', the keys Envoy writes (By, Hash, Cert,
// Chain, Subject, URI, DNS), in Envoy's order, By/URI/DNS repeatable, the others once. Cert, Chain
// and Subject are quoted (Cert and Chain URL-encoded, Subject with its RFC 2253 escapes, kept
// verbatim); By, Hash, URI and DNS are written raw — a SAN holding ',' ';' or '"' splits them where
// it stands, so their text is never trusted alone: a certificate whose SHA-256 is the element's Hash
// says what they must be (identity.ts). No value is trimmed or unquoted; anything else is
// malformed, never guessed. Values stay where they are in the header's bytes, and the reader keeps
// its element objects from one header to the next: reading allocates nothing once warm. Pure.
import { Char } from "../chars";
import { HEX_DIGITS } from "./fingerprint";
import { equalBytes, sameBytes } from "../text";

// In the order Envoy writes them.
export const enum Key {
  By,
  Hash,
  Cert,
  Chain,
  Subject,
  Uri,
  Dns,
}


function repeatable(key: Key): bool {
  return key == Key.By || key == Key.Uri || key == Key.Dns;
}

function quoted(key: Key): bool {
  return key == Key.Cert || key == Key.Chain || key == Key.Subject;
}

export class XfccElement {
  // The header's bytes, and where each value lies in them: [start, end) offsets; start -1 when the
  // key is absent.
  private base: usize = 0;
  private hashAt: i32 = -1;
  private hashEnd: i32 = 0;
  private subjectAt: i32 = -1;
  private subjectEnd: i32 = 0;
  private certAt: i32 = -1;
  private certEnd: i32 = 0;
  // URI and DNS values: start and end offsets, in pairs (kept from element to element).
  private uriRanges: i32[] = [];
  private dnsRanges: i32[] = [];

  // Empty, for the element starting in the header at `base`.
  reset(base: usize): void {
    this.base = base;
    this.hashAt = -1;
    this.subjectAt = -1;
    this.certAt = -1;
    this.uriRanges.length = 0;
    this.dnsRanges.length = 0;
  }

  get hasHash(): bool {
    return this.hashAt >= 0;
  }

  // Where Hash's value is when it is 64 bytes long, as a digest's is; 0 otherwise. Whether they are
  // the digits of a digest is for the reader to check (by comparing them with a digest's spelling).
  get hashPtr(): usize {
    return this.hashAt >= 0 && this.hashEnd - this.hashAt == HEX_DIGITS ? this.base + <usize>this.hashAt : 0;
  }

  get hasSubject(): bool {
    return this.subjectAt >= 0;
  }

  // Subject's text between the quotes, escapes as Envoy wrote them; "" without one.
  get subject(): string {
    return this.subjectAt < 0 ? "" : this.text(this.subjectAt, this.subjectEnd);
  }

  // Whether Subject is the UTF-8 `bytes`.
  subjectIs(bytes: ArrayBuffer): bool {
    return this.subjectAt >= 0 && sameBytes(this.base + <usize>this.subjectAt, this.subjectEnd - this.subjectAt, bytes);
  }

  // Whether Subject is the `length` bytes at `ptr`.
  subjectEquals(ptr: usize, length: i32): bool {
    return this.subjectAt >= 0 && this.subjectEnd - this.subjectAt == length && equalBytes(this.base + <usize>this.subjectAt, ptr, length);
  }

  get hasCert(): bool {
    return this.certAt >= 0;
  }

  // Cert= (a kilobyte or two of URL-encoded PEM) stays in the header's bytes.
  get certPtr(): usize {
    return this.base + <usize>this.certAt;
  }

  get certLength(): i32 {
    return this.certEnd - this.certAt;
  }

  get uriCount(): i32 {
    return this.uriRanges.length >> 1;
  }

  get dnsCount(): i32 {
    return this.dnsRanges.length >> 1;
  }

  // Whether URI value `i` (DNS, with `dns`) is the `length` bytes at `ptr`.
  valueEquals(dns: bool, i: i32, ptr: usize, length: i32): bool {
    let ranges = dns ? this.dnsRanges : this.uriRanges;
    let start = unchecked(ranges[i << 1]);
    let end = unchecked(ranges[(i << 1) + 1]);
    return end - start == length && equalBytes(this.base + <usize>start, ptr, length);
  }

  // Whether the URI (DNS, with `dns`) values are exactly `values`, UTF-8, in order.
  valuesAre(dns: bool, values: ArrayBuffer[]): bool {
    let ranges = dns ? this.dnsRanges : this.uriRanges;
    if (ranges.length != values.length << 1) return false;
    for (let i = 0; i < values.length; i++) {
      let start = unchecked(ranges[i << 1]);
      if (!sameBytes(this.base + <usize>start, unchecked(ranges[(i << 1) + 1]) - start, unchecked(values[i]))) return false;
    }
    return true;
  }

  // The URI (DNS, with `dns`) values as text, those Envoy writes empty (a lone URI= for a
  // certificate without URI SANs) left out.
  texts(dns: bool): string[] {
    let ranges = dns ? this.dnsRanges : this.uriRanges;
    let out = new Array<string>();
    for (let i = 0; i < ranges.length; i += 2) {
      let start = unchecked(ranges[i]);
      let end = unchecked(ranges[i + 1]);
      if (end > start) out.push(this.text(start, end));
    }
    return out;
  }

  private text(start: i32, end: i32): string {
    return String.UTF8.decodeUnsafe(this.base + <usize>start, <usize>(end - start));
  }

  // Keeps one pair's value [start, end).
  store(key: Key, start: i32, end: i32): void {
    if (key == Key.Hash) {
      this.hashAt = start;
      this.hashEnd = end;
    } else if (key == Key.Subject) {
      this.subjectAt = start;
      this.subjectEnd = end;
    } else if (key == Key.Cert) {
      this.certAt = start;
      this.certEnd = end;
    } else if (key == Key.Uri) {
      this.uriRanges.push(start);
      this.uriRanges.push(end);
    } else if (key == Key.Dns) {
      this.dnsRanges.push(start);
      this.dnsRanges.push(end);
    }
    // By and Chain are not read.
  }
}

// The key written at [start, end), or -1: by its length, then its bytes read as one number.
function keyAt(base: usize, start: i32, end: i32): i32 {
  let at = base + <usize>start;
  switch (end - start) {
    case 2: return load<u16>(at) == 0x7942 ? Key.By : -1; // "By"
    case 3: {
      let three = <u32>load<u16>(at) | (<u32>load<u8>(at, 2) << 16);
      return three == 0x495255 ? Key.Uri : three == 0x534e44 ? Key.Dns : -1; // "URI", "DNS"
    }
    case 4: {
      let four = load<u32>(at);
      return four == 0x68736148 ? Key.Hash : four == 0x74726543 ? Key.Cert : -1; // "Hash", "Cert"
    }
    case 5: return load<u32>(at) == 0x69616843 && load<u8>(at, 4) == 0x6e ? Key.Chain : -1; // "Chain"
    case 7: return load<u32>(at) == 0x6a627553 && load<u16>(at, 4) == 0x6365 && load<u8>(at, 6) == 0x74 ? Key.Subject : -1; // "Subject"
  }
  return -1;
}

// Eight bytes at a time: each lane's high bit, and one in each lane.
const HIGH: u64 = 0x8080808080808080;
const ONES: u64 = 0x0101010101010101;

// Each lane of `x` that is `c` with its high bit set (and perhaps lanes after one that is).
@inline function lanesOf(x: u64, c: u64): u64 {
  let y = x ^ (ONES * c);
  return (y - ONES) & ~y & HIGH;
}

// From `at`, the first byte that is `a` or `b` (or `end`).
@inline function scan(base: usize, at: i32, end: i32, a: u64, b: u64): i32 {
  while (at + 16 <= end) {
    let x = load<u64>(base + <usize>at);
    let y = load<u64>(base + <usize>at, 8);
    if ((lanesOf(x, a) | lanesOf(x, b) | lanesOf(y, a) | lanesOf(y, b)) != 0) break;
    at += 16;
  }
  while (at + 8 <= end) {
    let x = load<u64>(base + <usize>at);
    if ((lanesOf(x, a) | lanesOf(x, b)) != 0) break;
    at += 8;
  }
  while (at < end) {
    let c = <u64>load<u8>(base + <usize>at);
    if (c == a || c == b) break;
    at++;
  }
  return at;
}

// A header value's elements, read from its bytes; the element objects are kept for the next header.
export class XfccHeader {
  private elements: XfccElement[] = [];
  count: i32 = 0;

  // Element `i`, oldest first.
  element(i: i32): XfccElement {
    return unchecked(this.elements[i]);
  }

  get last(): XfccElement {
    return unchecked(this.elements[this.count - 1]);
  }

  private next(base: usize): XfccElement {
    if (this.count == this.elements.length) this.elements.push(new XfccElement());
    let element = unchecked(this.elements[this.count++]);
    element.reset(base);
    return element;
  }

  // Reads a whole header value (repeated headers comma-joined, as Envoy hands them), `end` bytes at
  // `base`; false when it is not what Envoy writes. The elements keep pointing into those bytes.
  read(base: usize, end: i32): bool {
    this.count = 0;
    if (end == 0) return false;
    let element = this.next(base);
    let last = -1;
    let at = 0;
    while (true) {
      let keyStart = at;
      at = scan(base, at, end, Char.Equals, Char.Equals);
      if (at >= end) return false;
      let key = keyAt(base, keyStart, at);
      // Unknown keys, keys out of Envoy's order and keys given twice are not Envoy's.
      if (key < 0 || key < last || (key == last && !repeatable(<Key>key))) return false;
      last = key;
      at++; // '='
      let start = at;
      let stop = at;
      if (quoted(<Key>key)) {
        if (at >= end || load<u8>(base + <usize>at) != Char.Quote) return false;
        at++;
        start = at;
        while (true) {
          at = scan(base, at, end, Char.Quote, Char.Backslash);
          if (at >= end || load<u8>(base + <usize>at) == Char.Quote) break;
          // A backslash keeps the byte after it inside the value (Subject's RFC 2253 escapes).
          at += 2;
        }
        if (at >= end) return false;
        stop = at;
        at++;
        if (at < end) {
          let after = load<u8>(base + <usize>at);
          if (after != Char.Semicolon && after != Char.Comma) return false;
        }
      } else {
        at = scan(base, at, end, Char.Semicolon, Char.Comma);
        stop = at;
        // Envoy writes an empty value only as the one URI= of a certificate without URI SANs.
        if (stop == start && key != Key.Uri) return false;
      }
      element.store(<Key>key, start, stop);
      if (at >= end) break;
      let separator = load<u8>(base + <usize>at);
      at++;
      if (at >= end) return false;
      if (separator == Char.Comma) {
        element = this.next(base);
        last = -1;
      }
    }
    return true;
  }
}
