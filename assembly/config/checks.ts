// What a configuration's values must be beyond their JSON type — so that what reads right is what
// matches (nothing invisible, nothing a request could never carry), and nothing unsafe reaches a
// header — and how messages show them. Pure.
import { Char, isControl } from "../chars";
import { base64Decode } from "../cert/pem";
import { asciiLower, hexDigit } from "../text";
import { Parser } from "./parser";

const MAX_SHOWN_CHARS: i32 = 80;

// Characters that show as nothing (or as a plain space): no-break and zero-width spaces, joiners,
// direction marks, the byte order mark.
function isInvisible(c: i32): bool {
  return c == 0xa0 || c == 0xad || c == 0x180e || (c >= 0x2000 && c <= 0x200f) || (c >= 0x2028 && c <= 0x202f) || (c >= 0x205f && c <= 0x2064) || c == 0x3000 || c == 0xfeff;
}

// A character for a message: printable ASCII as itself, anything else by its code point.
function describeChar(c: i32): string {
  if (c > Char.Space && c < Char.Delete) return "'" + String.fromCharCode(c) + "'";
  return "U+" + c.toString(16).toUpperCase().padStart(4, "0");
}

// A string as it appears in a message: quoted, control and invisible characters escaped, long values
// cut.
export function quote(text: string): string {
  let shown = text.length > MAX_SHOWN_CHARS ? text.substring(0, MAX_SHOWN_CHARS) : text;
  let out = "\"";
  for (let i = 0; i < shown.length; i++) {
    let c = shown.charCodeAt(i);
    if (c == Char.Quote || c == Char.Backslash) out += "\\" + String.fromCharCode(c);
    else if (c < Char.Space || c == Char.Delete || isInvisible(c)) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += String.fromCharCode(c);
  }
  out += "\"";
  if (shown.length < text.length) out += "… (" + text.length.toString() + " characters)";
  return out;
}

// Istio's verifyCertificateSpki form: standard base64 of 32 bytes, 43 characters and '='.
export function isCanonicalSpki(text: string): bool {
  if (text.length != 44 || text.charCodeAt(43) != Char.Equals) return false;
  for (let i = 0; i < 43; i++) {
    let c = text.charCodeAt(i);
    if (!((c >= Char.UpperA && c <= Char.UpperZ) || (c >= Char.LowerA && c <= Char.LowerZ) || (c >= Char.Digit0 && c <= Char.Digit9) || c == Char.Plus || c == Char.Slash)) return false;
  }
  let key = base64Decode(Uint8Array.wrap(String.UTF8.encode(text)));
  return key !== null && key.length == 32;
}

// A serial number as `openssl x509 -serial` prints it: uppercase hex, no colons, no leading 00 byte.
export function normaliseSerial(text: string): string | null {
  let digits = new Array<string>();
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c == Char.Colon) continue;
    if (hexDigit(c) < 0) return null;
    digits.push(String.fromCharCode(c >= Char.LowerA ? c - 0x20 : c));
  }
  let hex = digits.join("");
  if (hex.length == 0) return null;
  if (hex.length & 1) hex = "0" + hex;
  while (hex.length > 2 && hex.startsWith("00")) hex = hex.substring(2);
  return hex;
}

// A SAN, subject or issuer as a certificate and Envoy spell it: printable ASCII (Envoy escapes
// everything else in a subject as \XX; SANs are ASCII), no edge spaces — nothing invisible.
export function checkAscii(parser: Parser, text: string, printedName: bool): bool {
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0x80 || isControl(c)) {
      return parser.fail((printedName ? "write it as Envoy prints it, characters outside ASCII as \\XX escapes" : "a SAN is ASCII") +
        "; found " + describeChar(c) + " in " + quote(text));
    }
  }
  if (text.charCodeAt(0) == Char.Space || text.charCodeAt(text.length - 1) == Char.Space) {
    return parser.fail("must not begin or end with a space (it is never trimmed to match), got " + quote(text));
  }
  return true;
}

// A CN is matched unescaped, as the certificate has it (edge spaces included: a CN may have them,
// and Envoy prints them escaped) — but nothing invisible.
export function checkCn(parser: Parser, text: string): bool {
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (isControl(c) || isInvisible(c)) return parser.fail("found " + describeChar(c) + " in " + quote(text) + "; write the CN as the certificate has it, nothing invisible");
  }
  return true;
}

// Eight bytes at a time: each lane's high bit, and one in each lane.
const HIGH: u64 = 0x8080808080808080;
const ONES: u64 = 0x0101010101010101;

// Whether all eight bytes of `x` are printable ASCII (0x20 to 0x7e).
@inline function printable(x: u64): bool {
  return (((x | HIGH) - ONES * 0x20) & ~(x + ONES) & ~x & HIGH) == HIGH;
}

// UTF-8 bytes that travel as a header value: printable ASCII, no edge spaces, at most `maximum`.
export function checkHeaderValue(parser: Parser, ptr: usize, length: i32, maximum: i32, why: string): bool {
  if (length > maximum) return parser.fail("longer than " + maximum.toString() + " bytes (" + length.toString() + "): " + why);
  let i = 0;
  while (i + 8 <= length && printable(load<u64>(ptr + <usize>i))) i += 8;
  for (; i < length; i++) {
    let c = <i32>load<u8>(ptr + <usize>i);
    if (c >= 0x80 || isControl(c)) return parser.fail("found " + describeChar(c) + ": " + why + ", so it must be printable ASCII");
  }
  if (load<u8>(ptr) == Char.Space || load<u8>(ptr + <usize>(length - 1)) == Char.Space) {
    return parser.fail("must not begin or end with a space: " + why + ", and Envoy trims header values");
  }
  return true;
}

// Headers the identity header must never be (compared with '_' read as '-', as an upstream may):
// those Envoy, the HTTP framing or a proxy behind it relies on, and those carrying credentials.
const RESERVED_HEADERS: string[] = [
  "x-forwarded-client-cert", "host", "content-length", "content-type", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
  "upgrade", "proxy-connection", "x-cert-allowlist-reason", "authorization", "proxy-authorization", "cookie", "set-cookie",
  "forwarded", "x-real-ip", "x-request-id", "via", "traceparent", "tracestate",
];
const RESERVED_HEADER_PREFIXES: string[] = ["x-envoy-", "x-forwarded-", "x-istio-", "x-b3-", "grpc-"];
// Header names with more '-' or '_' than this are refused: every spelling is removed from each request.
const MAX_HEADER_SEPARATORS: i32 = 6;

// The identity header's name, lower case with '-' for '_'; "" (with the error) when it is refused.
export function identityHeaderName(parser: Parser, header: string): string {
  let lower = asciiLower(header);
  for (let i = 0; i < lower.length; i++) {
    let c = lower.charCodeAt(i);
    if (!((c >= Char.LowerA && c <= Char.LowerZ) || (c >= Char.Digit0 && c <= Char.Digit9) || c == Char.Minus || c == Char.Underscore)) {
      parser.fail("expected a header name of letters, digits, '-' and '_', got " + quote(header));
      return "";
    }
  }
  let dashed = lower.replaceAll("_", "-");
  let reserved = RESERVED_HEADERS.includes(dashed);
  for (let i = 0; i < RESERVED_HEADER_PREFIXES.length; i++) reserved = reserved || dashed.startsWith(RESERVED_HEADER_PREFIXES[i]);
  if (reserved) {
    parser.fail(quote(header) + " is reserved (Envoy, HTTP framing or credentials rely on it); choose a header of your own such as \"x-client-identity\"");
    return "";
  }
  let separators = 0;
  for (let i = 0; i < dashed.length; i++) if (dashed.charCodeAt(i) == Char.Minus) separators++;
  if (separators > MAX_HEADER_SEPARATORS) {
    parser.fail("at most " + MAX_HEADER_SEPARATORS.toString() + " '-' or '_' (every spelling with either is removed from each request), got " + quote(header));
    return "";
  }
  return dashed;
}

// Every spelling of a header name with each '-' either '-' or '_'.
export function spellings(name: string): string[] {
  let out = [name];
  for (let i = 0; i < name.length; i++) {
    if (name.charCodeAt(i) != Char.Minus) continue;
    let count = out.length;
    for (let k = 0; k < count; k++) out.push(out[k].substring(0, i) + "_" + out[k].substring(i + 1));
  }
  return out;
}
