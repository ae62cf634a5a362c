// Request paths, normalised before any path rule is matched, so that no spelling of a path slips
// past a rule for it: the query and fragment are removed, percent-encoding is decoded (%2F
// included), ";" parameters are dropped from every segment, repeated slashes are merged and "." and
// ".." segments are resolved. `/status/%2e%2e/status/418`, `//status/418`, `/status%2F418` and
// `/status;x=1/418` all become `/status/418`. Pure.
import { hexDigit } from "../text";

export function normalisePath(raw: ArrayBuffer): string {
  let input = Uint8Array.wrap(raw);
  let length = input.length;
  // Query and fragment end the path (before decoding: an encoded "?" is part of the path).
  for (let i = 0; i < length; i++) {
    let c = input[i];
    if (c == 0x3f || c == 0x23) {
      length = i;
      break;
    }
  }
  if (isNormal(input, length)) return String.UTF8.decodeUnsafe(changetype<usize>(raw), <usize>length);
  let decoded = new Uint8Array(length);
  let size = 0;
  for (let i = 0; i < length; i++) {
    let c = input[i];
    if (c == 0x25 && i + 2 < length) {
      let hi = hexDigit(input[i + 1]);
      let lo = hexDigit(input[i + 2]);
      if (hi >= 0 && lo >= 0) {
        decoded[size++] = <u8>((hi << 4) | lo);
        i += 2;
        continue;
      }
    }
    decoded[size++] = c;
  }
  let text = String.UTF8.decode(decoded.buffer.slice(0, size));
  let parts = text.split("/");
  let segments = new Array<string>();
  for (let i = 0; i < parts.length; i++) {
    let segment = parts[i];
    let semicolon = segment.indexOf(";");
    if (semicolon >= 0) segment = segment.substring(0, semicolon);
    if (segment.length == 0 || segment == ".") continue;
    if (segment == "..") {
      if (segments.length > 0) segments.pop();
      continue;
    }
    segments.push(segment);
  }
  let last = parts.length > 0 ? parts[parts.length - 1] : "";
  let semicolon = last.indexOf(";");
  if (semicolon >= 0) last = last.substring(0, semicolon);
  let trailingSlash = segments.length > 0 && (last.length == 0 || last == "." || last == "..");
  return "/" + segments.join("/") + (trailingSlash ? "/" : "");
}

// Whether the first `length` bytes already are a normal path, as most requests' are: "/" then
// segments without "%" or ";", none empty (but the last) and none "." or "..".
function isNormal(input: Uint8Array, length: i32): bool {
  if (length == 0 || input[0] != 0x2f) return false;
  let segmentStart = 1;
  for (let i = 1; i <= length; i++) {
    let c = i < length ? <i32>input[i] : 0x2f;
    if (c == 0x25 || c == 0x3b) return false;
    if (c != 0x2f) continue;
    let size = i - segmentStart;
    if (size == 0 && i < length) return false;
    if (size == 1 && input[segmentStart] == 0x2e) return false;
    if (size == 2 && input[segmentStart] == 0x2e && input[segmentStart + 1] == 0x2e) return false;
    segmentStart = i + 1;
  }
  return true;
}

// A path prefix matches whole segments: "/ledger" matches "/ledger" and "/ledger/x", never
// "/ledgers"; "/ledger/" matches "/ledger/" and below.
export function pathHasPrefix(path: string, prefix: string): bool {
  if (!path.startsWith(prefix)) return false;
  if (path.length == prefix.length || prefix.endsWith("/")) return true;
  return path.charCodeAt(prefix.length) == 0x2f;
}
