// The one info-level line logged per denied (or dry-run denied) request. Values the client
// controls are quoted, escaped and cut, so no client can forge a log line. Pure.

const MAX_VALUE_CHARS: i32 = 256;

// A value as it appears in the log line: "…" with \" and \\ escaped, control and line-breaking
// characters as \xNN or \uNNNN, at most 256 characters.
export function logValue(text: string): string {
  let length = text.length < MAX_VALUE_CHARS ? text.length : MAX_VALUE_CHARS;
  let parts = new Array<string>();
  parts.push("\"");
  let runStart = 0;
  for (let i = 0; i < length; i++) {
    let c = text.charCodeAt(i);
    let escape: string | null = null;
    if (c == 0x22 || c == 0x5c) {
      escape = "\\" + String.fromCharCode(c);
    } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0)) {
      escape = "\\x" + c.toString(16).padStart(2, "0");
    } else if (c == 0x2028 || c == 0x2029 || (c >= 0xd800 && c <= 0xdfff && !pairedSurrogate(text, i))) {
      escape = "\\u" + c.toString(16).padStart(4, "0");
    }
    if (escape !== null) {
      if (i > runStart) parts.push(text.substring(runStart, i));
      parts.push(escape);
      runStart = i + 1;
    }
  }
  if (length > runStart) parts.push(runStart == 0 && length == text.length ? text : text.substring(runStart, length));
  parts.push(text.length > MAX_VALUE_CHARS ? "\"…" : "\"");
  return parts.join("");
}

function pairedSurrogate(text: string, at: i32): bool {
  let c = text.charCodeAt(at);
  if (c <= 0xdbff) {
    return at + 1 < text.length && text.charCodeAt(at + 1) >= 0xdc00 && text.charCodeAt(at + 1) <= 0xdfff;
  }
  return at > 0 && text.charCodeAt(at - 1) >= 0xd800 && text.charCodeAt(at - 1) <= 0xdbff;
}

export class DenyFacts {
  reason: string = "";
  rule: string = "";
  sha256: string = "";
  uriSan: string = "";
  subject: string = "";
  host: string = "";
  path: string = "";
  mode: string = "";
}

export function denyLine(facts: DenyFacts): string {
  return [
    "cert-allowlist: deny reason=", facts.reason,
    " rule=", logValue(facts.rule),
    " sha256=", facts.sha256.length > 0 ? facts.sha256 : "-",
    " uri_san=", logValue(facts.uriSan),
    " subject=", logValue(facts.subject),
    " host=", logValue(facts.host),
    " path=", logValue(facts.path),
    " mode=", facts.mode,
  ].join("");
}
