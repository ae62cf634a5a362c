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

// A path prefix matches whole segments: "/ledger" matches "/ledger" and "/ledger/x", never
// "/ledgers"; "/ledger/" matches "/ledger/" and below.
export function pathHasPrefix(path: string, prefix: string): bool {
  if (!path.startsWith(prefix)) return false;
  if (path.length == prefix.length || prefix.endsWith("/")) return true;
  return path.charCodeAt(prefix.length) == 0x2f;
}
