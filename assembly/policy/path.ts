// The request's path as the filter scopes by it, and path prefixes.
//
// The filter sees the :path Envoy routes and forwards — normalised before any filter runs, as far as
// the mesh asks (Istio's default, BASE: dot segments resolved, `\` made `/`; `%2F` kept; slashes not
// merged). It does not normalise again: a second reading of its own would differ from the router's
// and the upstream's. A path is read as it stands, with percent-escapes of ordinary characters
// decoded (`/caf%C3%A9` is `/café`). A spelling whose meaning depends on who reads it — an encoded
// slash, backslash, dot, `%`, `;`, `?` or `#`, a `;` parameter, a backslash, `//`, a `.` or `..`
// segment (Envoy would have resolved it if the mesh normalised), control or non-ASCII bytes, escapes
// that are not UTF-8 — is ambiguous: it never passes a path-scoped allow rule and meets every
// path-scoped deny rule, whatever reading a backend would take. The query ends the path. Pure.
import { Char, isControl } from "../chars";
import { hexDigit, isUtf8 } from "../text";

// The request's path, decoded into a buffer it keeps from request to request (a request allocates
// nothing for it once the buffer is large enough), or ambiguous.
export class RequestPath {
  // Without the query, escapes of ordinary characters decoded: bytes[0, length). Empty when ambiguous.
  bytes: Uint8Array = new Uint8Array(0);
  length: i32 = 0;
  ambiguous: bool = true;

  static readonly AMBIGUOUS: RequestPath = new RequestPath();

  // Reads a :path value, `length` bytes at `ptr` as Envoy holds them, into this.
  read(ptr: usize, length: i32): RequestPath {
    let end = length;
    for (let i = 0; i < end; i++) {
      if (load<u8>(ptr + <usize>i) == Char.Question) {
        end = i;
        break;
      }
    }
    if (this.bytes.length < end) this.bytes = new Uint8Array(max(end, this.bytes.length << 1));
    this.ambiguous = readPath(ptr, end, this.bytes, SIZE) != Ambiguity.None;
    this.length = this.ambiguous ? 0 : unchecked(SIZE[0]);
    return this;
  }

  // The decoded path as text (for tests and messages; the filter compares bytes).
  get path(): string {
    return String.UTF8.decodeUnsafe(this.bytes.dataStart, <usize>this.length);
  }
}

// readPath's decoded length: a scratch cell, read right after each call.
const SIZE = new StaticArray<i32>(1);

// Bytes whose escaped form some reader decodes and another does not, to a different meaning.
function meaningful(c: i32): bool {
  return c == Char.Slash || c == Char.Backslash || c == Char.Dot || c == Char.Percent || c == Char.Semicolon || c == Char.Question || c == Char.Hash || isControl(c);
}

// Why a spelling is ambiguous (for a configured prefix's error message).
export const enum Ambiguity {
  None,
  NoLeadingSlash,
  Query,
  EmptySegment,
  DotSegment,
  Parameter,
  Backslash,
  Fragment,
  SpaceOrControl,
  NotAscii,
  BadEscape,
  MeaningfulEscape,
  NotUtf8,
}

export function ambiguityText(ambiguity: Ambiguity): string {
  switch (ambiguity) {
    case Ambiguity.NoLeadingSlash: return "a path starts with \"/\"";
    case Ambiguity.Query: return "a prefix has no query ('?')";
    case Ambiguity.EmptySegment: return "an empty segment ('//') is read one way by the router, another by the upstream";
    case Ambiguity.DotSegment: return "a '.' or '..' segment is read one way by the router, another by the upstream";
    case Ambiguity.Parameter: return "a ';' parameter is read one way by the router, another by the upstream";
    case Ambiguity.Backslash: return "a backslash is read one way by the router, another by the upstream";
    case Ambiguity.Fragment: return "a path has no fragment ('#')";
    case Ambiguity.SpaceOrControl: return "spaces and control characters are percent-encoded in a path";
    case Ambiguity.NotAscii: return "characters outside ASCII are percent-encoded in a path, as UTF-8 (%C3%A9 for \u00e9)";
    case Ambiguity.BadEscape: return "'%' begins an escape of two hex digits";
    case Ambiguity.MeaningfulEscape: return "an escaped '/', '\\', '.', '%', ';', '?' or '#' is decoded by some readers and not by others";
    default: return "escapes of characters outside ASCII spell UTF-8";
  }
}

// Reads [0, end) of `ptr` into `out` (its decoded bytes, `size` of them); returns why it is
// ambiguous, or None.
function readPath(ptr: usize, end: i32, out: Uint8Array, size: StaticArray<i32>): Ambiguity {
  if (end == 0 || load<u8>(ptr) != Char.Slash) return Ambiguity.NoLeadingSlash;
  let used = 0;
  let segmentStart = 0;
  for (let i = 0; i <= end; i++) {
    let c = i < end ? <i32>load<u8>(ptr + <usize>i) : <i32>Char.Slash;
    if (c == Char.Slash) {
      // A segment just ended at out[segmentStart, used): never empty (but a trailing one), "." or "..".
      let segment = used - segmentStart;
      if (i > 0 && segment == 0 && i < end) return Ambiguity.EmptySegment;
      if (segment == 1 && out[segmentStart] == Char.Dot) return Ambiguity.DotSegment;
      if (segment == 2 && out[segmentStart] == Char.Dot && out[segmentStart + 1] == Char.Dot) return Ambiguity.DotSegment;
      if (i == end) break;
      out[used++] = <u8>c;
      segmentStart = used;
      continue;
    }
    if (c == Char.Semicolon) return Ambiguity.Parameter;
    if (c == Char.Backslash) return Ambiguity.Backslash;
    if (c == Char.Hash) return Ambiguity.Fragment;
    if (c == Char.Question) return Ambiguity.Query;
    if (c == Char.Space || isControl(c)) return Ambiguity.SpaceOrControl;
    if (c >= 0x80) return Ambiguity.NotAscii;
    if (c == Char.Percent) {
      if (i + 2 >= end) return Ambiguity.BadEscape;
      let hi = hexDigit(load<u8>(ptr + <usize>(i + 1)));
      let lo = hexDigit(load<u8>(ptr + <usize>(i + 2)));
      if (hi < 0 || lo < 0) return Ambiguity.BadEscape;
      c = (hi << 4) | lo;
      if (meaningful(c)) return Ambiguity.MeaningfulEscape;
      i += 2;
    }
    out[used++] = <u8>c;
  }
  // Escaped bytes above 0x7f must spell UTF-8.
  if (!isUtf8(out.dataStart, used)) return Ambiguity.NotUtf8;
  unchecked((size[0] = used));
  return Ambiguity.None;
}

// A new RequestPath for a :path value: `length` bytes at `ptr`.
export function requestPath(ptr: usize, length: i32): RequestPath {
  return new RequestPath().read(ptr, length);
}

// A configured prefix: written as a request spells it, and unambiguous by the same rules. Its decoded
// bytes, or null with the ambiguity in `why[0]`.
export function pathPrefix(text: string, why: StaticArray<i32>): ArrayBuffer | null {
  let bytes = String.UTF8.encode(text);
  let out = new Uint8Array(bytes.byteLength);
  let ambiguity = readPath(changetype<usize>(bytes), bytes.byteLength, out, SIZE);
  unchecked((why[0] = <i32>ambiguity));
  return ambiguity == Ambiguity.None ? out.buffer.slice(0, unchecked(SIZE[0])) : null;
}

// A prefix matches whole segments: "/ledger" matches "/ledger" and "/ledger/x", never "/ledgers";
// "/ledger/" matches what is below it. `path` is not ambiguous.
export function pathHasPrefix(path: RequestPath, prefix: ArrayBuffer): bool {
  let n = prefix.byteLength;
  if (path.length < n || memory.compare(path.bytes.dataStart, changetype<usize>(prefix), <usize>n) != 0) return false;
  if (path.length == n || (n > 0 && load<u8>(changetype<usize>(prefix) + <usize>(n - 1)) == Char.Slash)) return true;
  return unchecked(path.bytes[n]) == Char.Slash;
}

// Whether the request is inside one of the prefixes: an ambiguous path is inside all of them for a
// deny rule, inside none for an allow rule.
export function pathInScope(prefixes: ArrayBuffer[], path: RequestPath, ambiguousInside: bool): bool {
  if (path.ambiguous) return ambiguousInside;
  for (let i = 0; i < prefixes.length; i++) {
    if (pathHasPrefix(path, unchecked(prefixes[i]))) return true;
  }
  return false;
}
