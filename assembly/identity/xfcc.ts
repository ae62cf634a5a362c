// The x-forwarded-client-cert header, read with Envoy's grammar: elements separated by ',', each a
// ';'-separated list of key=value pairs; keys case-insensitive; values optionally double-quoted
// with \" inside. Envoy never quotes By, Hash, URI or DNS, so an unquoted value runs to the next ';'
// or ',' and may contain '=' or spaces. Quoted values keep their backslash escapes verbatim (see
// below). Anything ambiguous is malformed (null), never guessed. Pure.

import { asciiLower } from "../text";

export class XfccElement {
  hash: string = "";
  subject: string = "";
  cert: string = "";
  by: string[] = [];
  uris: string[] = [];
  dnss: string[] = [];
  hasHash: bool = false;
  hasSubject: bool = false;
  hasCert: bool = false;
}

class Reader {
  at: i32 = 0;
  private base: usize;

  constructor(public text: string) {
    this.base = changetype<usize>(text);
  }

  // The UTF-16 unit at `i` (callers keep i < text.length): a header can be long, and this is the
  // loop it is scanned in.
  unit(i: i32): i32 {
    return <i32>load<u16>(this.base + (<usize>i << 1));
  }

  skipSpace(): void {
    while (this.at < this.text.length) {
      let c = this.text.charCodeAt(this.at);
      if (c != 0x20 && c != 0x09) break;
      this.at++;
    }
  }

  // A value: quoted (with \ escapes), or everything up to ';' or ','. Null when malformed.
  value(): string | null {
    let text = this.text;
    if (this.at < text.length && text.charCodeAt(this.at) == 0x22) {
      this.at++;
      let start = this.at;
      let end = text.length;
      while (this.at < end) {
        let c = this.unit(this.at);
        if (c == 0x22) {
          let value = text.substring(start, this.at);
          this.at++;
          this.skipSpace();
          if (this.at < text.length) {
            let next = text.charCodeAt(this.at);
            if (next != 0x3b && next != 0x2c) return null;
          }
          return value;
        }
        // A backslash protects the next character from ending the value and stays in it: Envoy
        // writes Subject as its RFC 2253 string, whose own escapes (\" \, \\) must survive intact
        // so it equals the connection's subject attribute byte for byte.
        if (c == 0x5c) {
          if (this.at + 1 >= text.length) return null;
          this.at += 2;
          continue;
        }
        this.at++;
      }
      return null; // unterminated quote
    }
    let start = this.at;
    let end = text.length;
    while (this.at < end) {
      let c = this.unit(this.at);
      if (c == 0x3b || c == 0x2c) break;
      this.at++;
    }
    return text.substring(start, this.at).trimEnd();
  }
}

// Parses a whole header value into its elements, oldest first. Null when malformed.
export function parseXfcc(header: string): XfccElement[] | null {
  let reader = new Reader(header);
  let elements = new Array<XfccElement>();
  let element = new XfccElement();
  let pairs = 0;
  while (true) {
    reader.skipSpace();
    let keyStart = reader.at;
    while (reader.at < header.length) {
      let c = reader.unit(reader.at);
      if (c == 0x3d || c == 0x3b || c == 0x2c || c == 0x22) break;
      reader.at++;
    }
    if (reader.at >= header.length || header.charCodeAt(reader.at) != 0x3d) return null;
    let key = asciiLower(header.substring(keyStart, reader.at).trim());
    if (!isKey(key)) return null;
    reader.at++; // '='
    reader.skipSpace();
    let value = reader.value();
    if (value === null) return null;
    if (!store(element, key, value)) return null;
    pairs++;
    if (reader.at >= header.length) break;
    let separator = header.charCodeAt(reader.at);
    reader.at++;
    if (separator == 0x2c) {
      elements.push(element);
      element = new XfccElement();
      pairs = 0;
    }
  }
  if (pairs == 0) return null;
  elements.push(element);
  return elements;
}

function isKey(key: string): bool {
  if (key.length == 0) return false;
  for (let i = 0; i < key.length; i++) {
    let c = key.charCodeAt(i);
    if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x5f)) return false;
  }
  return true;
}

function store(element: XfccElement, key: string, value: string): bool {
  if (key == "hash") {
    if (element.hasHash) return false;
    element.hash = value;
    element.hasHash = true;
  } else if (key == "subject") {
    if (element.hasSubject) return false;
    element.subject = value;
    element.hasSubject = true;
  } else if (key == "cert") {
    if (element.hasCert) return false;
    element.cert = value;
    element.hasCert = true;
  } else if (key == "uri") {
    if (value.length > 0) element.uris.push(value);
  } else if (key == "dns") {
    if (value.length > 0) element.dnss.push(value);
  } else if (key == "by") {
    element.by.push(value);
  }
  // Chain and keys added by later Envoy versions are ignored.
  return true;
}

