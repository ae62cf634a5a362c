import { JsonKind, MAX_JSON_DEPTH, parseJson } from "../config/json";

function errorOf(text: string): string {
  return parseJson(text).error;
}

describe("JSON reader", () => {
  it("reads objects, arrays, strings, numbers, booleans and null", () => {
    let result = parseJson('{"a": [1, -2.5e1, true, false, null], "b": "x"}');
    expect(result.error).toBe("");
    let root = result.value!;
    expect(root.kind).toBe(JsonKind.Object);
    let a = root.get("a")!;
    expect(a.items.length).toBe(5);
    expect(a.items[1].number).toBe(-25.0);
    expect(a.items[2].boolean).toBe(true);
    expect(a.items[4].kind).toBe(JsonKind.Null);
    expect(root.get("b")!.text).toBe("x");
  });
  it("decodes escapes in strings", () => {
    let value = parseJson('"q\\"b\\\\s\\/n\\nu\\u00e9"').value!;
    expect(value.text).toBe("q\"b\\s/n\nu\u00e9");
  });
  it("keeps object keys in order", () => {
    let root = parseJson('{"z": 1, "a": 2}').value!;
    expect(root.keys[0]).toBe("z");
    expect(root.keys[1]).toBe("a");
  });
  it("rejects a duplicate key", () => {
    expect(errorOf('{"allow": [], "allow": []}')).toBe('invalid JSON at offset 14: duplicate key "allow"');
  });
  it("rejects a duplicate key among many", () => {
    let text = "{";
    for (let i = 0; i < 40; i++) text += '"k' + i.toString() + '": 0, ';
    text += '"k7": 1}';
    expect(errorOf(text)).toBe('invalid JSON at offset 391: duplicate key "k7"');
  });
  it("rejects a trailing comma", () => {
    expect(errorOf("[1,]")).toBe("invalid JSON at offset 3: unexpected character ']'");
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
  it("rejects text after the value", () => {
    expect(errorOf("{} {}")).toBe("invalid JSON at offset 3: unexpected '{' after the JSON value");
  });
  it("rejects an unquoted key", () => {
    expect(errorOf("{allow: []}")).toBe("invalid JSON at offset 1: expected a quoted key");
  });
  it("rejects a number with a leading dot", () => {
    expect(errorOf(".5")).toBe("invalid JSON at offset 0: unexpected character '.'");
  });
  it("rejects empty input", () => {
    expect(errorOf("")).toBe("invalid JSON at offset 0: unexpected end of input");
  });
  it("rejects nesting deeper than the limit instead of exhausting the stack", () => {
    let deep = "[".repeat(MAX_JSON_DEPTH + 1) + "]".repeat(MAX_JSON_DEPTH + 1);
    expect(errorOf(deep)).toBe("invalid JSON at offset 64: nesting deeper than 64 levels");
  });
  it("accepts nesting at the limit", () => {
    let deep = "[".repeat(MAX_JSON_DEPTH) + "]".repeat(MAX_JSON_DEPTH);
    expect(errorOf(deep)).toBe("");
  });
  it("survives 100 000 levels of nesting", () => {
    expect(errorOf("[".repeat(100000))).toBe("invalid JSON at offset 64: nesting deeper than 64 levels");
  });
});
