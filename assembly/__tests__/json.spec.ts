import { ByteSource, JsonKind, JsonReader, MAX_JSON_DEPTH, WINDOW, formatNumber } from "../config/json";
import { trickle, whole } from "./sources";

// Walks one value of any kind through the reader's own calls; false once it failed.
function walk(r: JsonReader): bool {
  let kind = r.kind();
  if (kind == JsonKind.Object) {
    if (!r.beginObject()) return false;
    for (let first = true; r.nextField(first); first = false) {
      if (!walk(r)) return false;
    }
  } else if (kind == JsonKind.Array) {
    if (!r.beginArray()) return false;
    for (let first = true; r.nextItem(first); first = false) {
      if (!walk(r)) return false;
    }
  } else if (kind == JsonKind.String) {
    r.readString();
  } else if (kind == JsonKind.Number) {
    r.readNumber();
  } else if (kind == JsonKind.Bool) {
    r.readBool();
  } else if (kind == JsonKind.Null) {
    r.readNull();
  } else {
    r.failUnexpected();
  }
  return !r.failed;
}

function firstError(source: ByteSource): string {
  let reader = new JsonReader(source);
  if (walk(reader)) reader.end();
  return reader.error;
}

// Reads a whole document, from the whole text and one byte per read; returns "" or the first error.
function errorOf(text: string): string {
  let error = firstError(whole(text));
  expect(firstError(trickle(text, 1))).toBe(error, "the same error whatever the reads");
  return error;
}

function reader(text: string): JsonReader {
  return new JsonReader(whole(text));
}

describe("JSON reader", () => {
  it("walks objects, arrays, strings, numbers, booleans and null", () => {
    let r = reader('{"a": [1, -2.5e1, true, false, null], "b": "x"}');
    expect(r.beginObject()).toBe(true);
    expect(r.nextField(true)).toBe(true);
    expect(r.key).toBe("a");
    expect(r.kind()).toBe(JsonKind.Array);
    r.beginArray();
    expect(r.nextItem(true)).toBe(true);
    expect(r.readNumber()).toBe(1.0);
    expect(r.nextItem(false)).toBe(true);
    expect(r.readNumber()).toBe(-25.0);
    expect(r.nextItem(false)).toBe(true);
    expect(r.readBool()).toBe(true);
    expect(r.nextItem(false)).toBe(true);
    expect(r.readBool()).toBe(false);
    expect(r.nextItem(false)).toBe(true);
    expect(r.readNull()).toBe(true);
    expect(r.nextItem(false)).toBe(false);
    expect(r.nextField(false)).toBe(true);
    expect(r.key).toBe("b");
    expect(r.readString()).toBe("x");
    expect(r.nextField(false)).toBe(false);
    expect(r.end()).toBe(true);
    expect(r.error).toBe("");
  });
  it("decodes escapes and UTF-8 in strings", () => {
    expect(reader('"q\\"b\\\\s\\/n\\nu\\u00e9 é"').readString()).toBe("q\"b\\s/n\nu\u00e9 é");
  });
  it("reads an empty object and an empty array", () => {
    expect(errorOf('{"a": {}, "b": []}')).toBe("");
  });
  it("rejects a trailing comma in an array", () => {
    expect(errorOf("[1,]")).toBe("invalid JSON at offset 3: unexpected character ']'");
  });
  it("rejects a trailing comma in an object", () => {
    expect(errorOf('{"a": 1,}')).toBe("invalid JSON at offset 8: expected a quoted key");
  });
  it("rejects an unterminated string", () => {
    expect(errorOf('{"a": "b')).toBe("invalid JSON at offset 8: unterminated string");
  });
  it("rejects a raw control character in a string", () => {
    expect(errorOf('"a\nb"')).toBe("invalid JSON at offset 2: control character U+000A in a string");
  });
  it("rejects an invalid escape", () => {
    expect(errorOf('"\\x"')).toBe("invalid JSON at offset 1: invalid escape in a string");
  });
  it("rejects an invalid \\u escape", () => {
    expect(errorOf('"\\u12g4"')).toBe("invalid JSON at offset 1: invalid \\u escape");
  });
  it("rejects text after the value", () => {
    expect(errorOf("{} {}")).toBe("invalid JSON at offset 3: unexpected character '{' after the JSON value");
  });
  it("rejects an unquoted key", () => {
    expect(errorOf("{allow: []}")).toBe("invalid JSON at offset 1: expected a quoted key");
  });
  it("rejects a missing colon", () => {
    expect(errorOf('{"a" 1}')).toBe("invalid JSON at offset 5: expected ':' after a key");
  });
  it("rejects a number with a leading dot", () => {
    expect(errorOf(".5")).toBe("invalid JSON at offset 0: unexpected character '.'");
  });
  it("rejects a number without digits after the point", () => {
    expect(errorOf("1.")).toBe("invalid JSON at offset 2: expected a digit after '.'");
  });
  it("rejects empty input", () => {
    expect(errorOf("")).toBe("invalid JSON at offset 0: unexpected end of input");
  });
  it("names a byte that is not ASCII", () => {
    expect(errorOf("\u00e9")).toBe("invalid JSON at offset 0: unexpected byte 0xC3");
  });
  it("rejects nesting deeper than the limit instead of exhausting the stack", () => {
    let deep = "[".repeat(MAX_JSON_DEPTH + 1) + "]".repeat(MAX_JSON_DEPTH + 1);
    expect(errorOf(deep)).toBe("invalid JSON at offset 64: nesting deeper than 64 levels");
  });
  it("accepts nesting at the limit", () => {
    expect(errorOf("[".repeat(MAX_JSON_DEPTH) + "]".repeat(MAX_JSON_DEPTH))).toBe("");
  });
  it("survives 100 000 levels of nesting", () => {
    expect(errorOf("[".repeat(100000))).toBe("invalid JSON at offset 64: nesting deeper than 64 levels");
  });
  it("reads integers and decimals exactly enough for a configuration", () => {
    expect(reader("403").readNumber()).toBe(403.0);
    expect(reader("403.5").readNumber()).toBe(403.5);
    expect(reader("4.03e2").readNumber()).toBe(403.0);
    expect(reader("-0").readNumber()).toBe(-0.0);
  });
  it("formats numbers for messages", () => {
    expect(formatNumber(302)).toBe("302");
    expect(formatNumber(403.5)).toBe("403.5");
    expect(formatNumber(-1)).toBe("-1");
    expect(formatNumber(1e300)).toBe("a number out of range");
  });
});

describe("JSON reader window", () => {
  // Far more than one window of items, read 7 bytes at a time: every refill and slide is crossed.
  it("reads a document many windows long, whatever the size of each read", () => {
    let items = new Array<string>();
    for (let i = 0; i < 20000; i++) items.push('{"n": "item-' + i.toString() + '", "v": ' + i.toString() + "}");
    let text = "[" + items.join(", ") + "]";
    expect(text.length).toBeGreaterThan(WINDOW * 4);
    let r = new JsonReader(trickle(text, 7));
    r.beginArray();
    let count = 0;
    let sum: f64 = 0;
    for (let first = true; r.nextItem(first); first = false) {
      r.beginObject();
      r.nextField(true);
      expect(r.readString()).toBe("item-" + count.toString());
      r.nextField(false);
      sum += r.readNumber();
      expect(r.nextField(false)).toBe(false);
      count++;
    }
    expect(r.end()).toBe(true);
    expect(r.error).toBe("");
    expect(count).toBe(20000);
    expect(sum).toBe(<f64>(19999 * 20000 / 2));
  });
  it("reads a string longer than the window, with and without escapes", () => {
    let long = "x".repeat(WINDOW * 2 + 5);
    let r = new JsonReader(trickle('["' + long + '", "' + long + '\\n"]', 1000));
    r.beginArray();
    r.nextItem(true);
    expect(r.readString()).toBe(long);
    r.nextItem(false);
    expect(r.readString()).toBe(long + "\n");
    expect(r.nextItem(false)).toBe(false);
  });
  it("hands out a string's bytes in place even across a refill", () => {
    let r = new JsonReader(trickle('{"key": "' + "y".repeat(WINDOW) + '"}', 5));
    r.beginObject();
    r.nextField(true);
    expect(r.readSpan()).toBe(true);
    expect(r.spanLength).toBe(WINDOW);
    expect(String.UTF8.decodeUnsafe(r.spanStart, <usize>r.spanLength)).toBe("y".repeat(WINDOW));
  });
  it("counts error offsets from the start of the document, not the window", () => {
    let text = "[" + "1, ".repeat(WINDOW) + "x]";
    expect(errorOf(text)).toBe("invalid JSON at offset " + (1 + 3 * WINDOW).toString() + ": unexpected character 'x'");
  });
  it("finds a quote, backslash or control character at any offset of a long string", () => {
    for (let at = 0; at < 24; at++) {
      let before = "x".repeat(at);
      let after = "y".repeat(23 - at);
      let plain = new JsonReader(whole('"' + before + '\u00e9' + after + '"'));
      expect(plain.readSpan()).toBe(true, "UTF-8 is plain text");
      expect(plain.spanLength).toBe(25);
      let quoted = new JsonReader(whole('"' + before + '"' + after + '"'));
      expect(quoted.readSpan()).toBe(true);
      expect(quoted.spanLength).toBe(at, "the span ends at the first quote");
      let escaped = new JsonReader(whole('"' + before + '\\"' + after + '"'));
      expect(escaped.readSpan()).toBe(false, "an escape is not read in place");
      expect(escaped.readString()).toBe(before + '"' + after);
      for (let c = 0; c < 0x20; c++) {
        let control = new JsonReader(whole('"' + before + String.fromCharCode(c) + after + '"'));
        expect(control.readSpan()).toBe(false, "a control character is not read in place");
      }
      let skipped = new JsonReader(whole('["' + before + '\\"' + after + '", 1]'));
      skipped.beginArray();
      skipped.nextItem(true);
      expect(skipped.skipUnchecked()).toBe(true);
      expect(skipped.nextItem(false)).toBe(true);
      expect(skipped.readNumber()).toBe(1.0);
    }
  });
  it("skips values unchecked, following strings and nesting only", () => {
    let r = reader('[{"a": "]}\\"", "b": [1, {"c": 2}]}, "s", 12, true]');
    r.beginArray();
    let count = 0;
    for (let first = true; r.nextItem(first); first = false) {
      expect(r.skipUnchecked()).toBe(true);
      count++;
    }
    expect(count).toBe(4);
    expect(r.end()).toBe(true);
  });
});
