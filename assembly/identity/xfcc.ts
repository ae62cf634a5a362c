// The x-forwarded-client-cert header, read exactly as Envoy writes it, and nothing else: elements
// separated by ',', each `Key=value` pairs separated by ';', the keys Envoy writes (By, Hash, Cert,
// Chain, Subject, URI, DNS), in Envoy's order, By/URI/DNS repeatable, the others once. Cert, Chain
// and Subject are quoted (Cert and Chain URL-encoded, Subject with its RFC 2253 escapes, kept
// verbatim); By, Hash, URI and DNS are written raw — a SAN holding ',' ';' or '"' splits them where
// it stands, so their text is never trusted alone: a certificate whose SHA-256 is the element's Hash
// says what they must be (identity.ts). No value is trimmed or unquoted; anything else is
// malformed (null), never guessed. Pure.
import { Char } from "../chars";
import { DIGEST_WORDS, decodeDigest } from "./fingerprint";

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

const KEY_NAMES: string[] = ["By", "Hash", "Cert", "Chain", "Subject", "URI", "DNS"];

function repeatable(key: Key): bool {
  return key == Key.By || key == Key.Uri || key == Key.Dns;
}

function quoted(key: Key): bool {
  return key == Key.Cert || key == Key.Chain || key == Key.Subject;
}

export class XfccElement {
  // Hash's text; "" without one.
  hash: string = "";
  hasHash: bool = false;
  // Subject's text between the quotes, escapes as Envoy wrote them; "" without one.
  subject: string = "";
  hasSubject: bool = false;
  uris: string[] = [];
  dnss: string[] = [];
  hasCert: bool = false;
  // Cert= (a kilobyte or two of URL-encoded PEM) stays in the header's bytes until it is needed.
  private certAt: i32 = 0;
  private certEnd: i32 = 0;
  private digestDone: bool = false;
  private digestValue: StaticArray<u64> | null = null;

  constructor(private header: ArrayBuffer) {}

  // Hash as a digest when it is one as Envoy writes it (64 lowercase hex digits); else null.
  get digest(): StaticArray<u64> | null {
    if (!this.digestDone) {
      this.digestDone = true;
      if (this.hasHash && isLowerHex(this.hash)) {
        let digest = new StaticArray<u64>(DIGEST_WORDS);
        if (decodeDigest(String.UTF8.encode(this.hash), digest)) this.digestValue = digest;
      }
    }
    return this.digestValue;
  }

  get cert(): string {
    return text(this.header, this.certAt, this.certEnd);
  }

  // Keeps one pair's value [start, end).
  store(key: Key, start: i32, end: i32): void {
    if (key == Key.Hash) {
      this.hash = text(this.header, start, end);
      this.hasHash = true;
    } else if (key == Key.Subject) {
      this.subject = text(this.header, start, end);
      this.hasSubject = true;
    } else if (key == Key.Cert) {
      this.certAt = start;
      this.certEnd = end;
      this.hasCert = true;
    } else if (key == Key.Uri) {
      this.uris.push(text(this.header, start, end));
    } else if (key == Key.Dns) {
      this.dnss.push(text(this.header, start, end));
    }
    // By and Chain are not read.
  }
}

function isLowerHex(text: string): bool {
  if (text.length != 64) return false;
  for (let i = 0; i < 64; i++) {
    let c = text.charCodeAt(i);
    if (!((c >= Char.Digit0 && c <= Char.Digit9) || (c >= Char.LowerA && c <= Char.LowerF))) return false;
  }
  return true;
}

function text(header: ArrayBuffer, start: i32, end: i32): string {
  return String.UTF8.decodeUnsafe(changetype<usize>(header) + <usize>start, <usize>(end - start));
}

// The key written at [start, end), or -1.
function keyAt(base: usize, start: i32, end: i32): i32 {
  for (let k = 0; k < KEY_NAMES.length; k++) {
    let name = unchecked(KEY_NAMES[k]);
    if (name.length != end - start) continue;
    let same = true;
    for (let i = 0; same && i < name.length; i++) same = <i32>load<u8>(base + <usize>(start + i)) == name.charCodeAt(i);
    if (same) return k;
  }
  return -1;
}

// Parses a whole header value (repeated headers comma-joined, as Envoy hands them) into its
// elements, oldest first; null when it is not what Envoy writes.
export function parseXfcc(header: ArrayBuffer): XfccElement[] | null {
  let base = changetype<usize>(header);
  let end = header.byteLength;
  let elements = new Array<XfccElement>();
  let element = new XfccElement(header);
  let last = -1;
  let at = 0;
  if (end == 0) return null;
  while (true) {
    let keyStart = at;
    while (at < end && load<u8>(base + <usize>at) != Char.Equals) at++;
    if (at >= end) return null;
    let key = keyAt(base, keyStart, at);
    // Unknown keys, keys out of Envoy's order and keys given twice are not Envoy's.
    if (key < 0 || key < last || (key == last && !repeatable(<Key>key))) return null;
    last = key;
    at++; // '='
    let start = at;
    let stop = at;
    if (quoted(<Key>key)) {
      if (at >= end || load<u8>(base + <usize>at) != Char.Quote) return null;
      at++;
      start = at;
      while (at < end && load<u8>(base + <usize>at) != Char.Quote) {
        // A backslash keeps the byte after it inside the value (Subject's RFC 2253 escapes).
        if (load<u8>(base + <usize>at) == Char.Backslash) at++;
        at++;
      }
      if (at >= end) return null;
      stop = at;
      at++;
      if (at < end) {
        let next = load<u8>(base + <usize>at);
        if (next != Char.Semicolon && next != Char.Comma) return null;
      }
    } else {
      while (at < end) {
        let c = load<u8>(base + <usize>at);
        if (c == Char.Semicolon || c == Char.Comma) break;
        at++;
      }
      stop = at;
      // Envoy writes an empty value only as the one URI= of a certificate without URI SANs.
      if (stop == start && key != Key.Uri) return null;
    }
    element.store(<Key>key, start, stop);
    if (at >= end) break;
    let separator = load<u8>(base + <usize>at);
    at++;
    if (at >= end) return null;
    if (separator == Char.Comma) {
      elements.push(element);
      element = new XfccElement(header);
      last = -1;
    }
  }
  elements.push(element);
  return elements;
}
