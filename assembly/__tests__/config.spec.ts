import { parseConfig } from "../config/parse";
import { decide, Reason } from "../policy/decide";

const SHA = "8d5816f39f390cb936cabe2151aee79d751830ea07dde2deb2900d8134edf7a7";
const OTHER = "0000000000000000000000000000000000000000000000000000000000000001";

function errorOf(text: string): string {
  let result = parseConfig(text);
  expect(result.policy).toBeNull("a rejected configuration yields no policy");
  return result.error;
}

function rule(name: string, sha256: string): string {
  return '{"name": "' + name + '", "sha256": "' + sha256 + '"}';
}

describe("configuration errors name the JSON path and the problem", () => {
  it("rejects an empty configuration", () => {
    expect(errorOf("")).toBe('configuration: empty; expected a JSON object such as {"allow": [{"name": "acme-batch", "sha256": "<64 hex digits>"}]}');
  });
  it("rejects a configuration of only white space", () => {
    expect(errorOf(" \n\t")).toBe('configuration: empty; expected a JSON object such as {"allow": [{"name": "acme-batch", "sha256": "<64 hex digits>"}]}');
  });
  it("rejects invalid JSON with the offset", () => {
    expect(errorOf('{"allow": [}')).toBe("configuration: invalid JSON at offset 11: unexpected character '}'");
  });
  it("rejects a configuration that is not an object", () => {
    expect(errorOf("[]")).toBe("configuration: expected an object, got array");
  });
  it("rejects an unknown top-level field", () => {
    expect(errorOf('{"allow": [], "alow": []}')).toBe("alow: unknown field; expected one of: allow");
  });
  it("rejects a missing allow list", () => {
    expect(errorOf("{}")).toBe('allow: required; expected a list of rules such as {"allow": [{"name": "acme-batch", "sha256": "<64 hex digits>"}]}');
  });
  it("rejects an allow list that is not an array", () => {
    expect(errorOf('{"allow": {"name": "a"}}')).toBe("allow: expected an array, got object");
  });
  it("rejects a rule that is not an object", () => {
    expect(errorOf('{"allow": ["' + SHA + '"]}')).toBe("allow[0]: expected an object, got string");
  });
  it("rejects an unknown field in a rule", () => {
    expect(errorOf('{"allow": [{"name": "a", "sha265": "' + SHA + '"}]}')).toBe("allow[0].sha265: unknown field; expected one of: name, sha256");
  });
  it("quotes an unknown field whose name is not a plain word", () => {
    expect(errorOf('{"allow": [], "a b\\n": 1}')).toBe('["a b\\u000a"]: unknown field; expected one of: allow');
  });
  it("rejects a rule without a name", () => {
    expect(errorOf('{"allow": [{"sha256": "' + SHA + '"}]}')).toBe("allow[0].name: required");
  });
  it("rejects a name that is not a string", () => {
    expect(errorOf('{"allow": [{"name": 7, "sha256": "' + SHA + '"}]}')).toBe("allow[0].name: expected a string, got number");
  });
  it("rejects an empty name", () => {
    expect(errorOf('{"allow": [' + rule("", SHA) + "]}")).toBe("allow[0].name: must not be empty");
  });
  it("rejects a duplicate name and says where it was first used", () => {
    expect(errorOf('{"allow": [' + rule("a", SHA) + ", " + rule("b", OTHER) + ", " + rule("a", OTHER) + "]}"))
      .toBe('allow[2].name: duplicate name "a" (first used by allow[0])');
  });
  it("rejects a rule without a sha256", () => {
    expect(errorOf('{"allow": [{"name": "a"}]}')).toBe("allow[0].sha256: required");
  });
  it("rejects a sha256 that is not a string", () => {
    expect(errorOf('{"allow": [{"name": "a", "sha256": null}]}')).toBe("allow[0].sha256: expected a string, got null");
  });
  it("rejects a sha256 that is not 64 hex digits", () => {
    expect(errorOf('{"allow": [' + rule("a", SHA) + ", " + rule("b", OTHER) + ", " + rule("c", "xyz") + "]}"))
      .toBe('allow[2].sha256: expected 64 hex digits, got "xyz"');
  });
  it("rejects an empty sha256", () => {
    expect(errorOf('{"allow": [' + rule("a", "") + "]}")).toBe("allow[0].sha256: must not be empty");
  });
  it("cuts a very long value in the message", () => {
    let long = "a".repeat(200);
    expect(errorOf('{"allow": [' + rule("a", long) + "]}"))
      .toBe('allow[0].sha256: expected 64 hex digits, got "' + "a".repeat(80) + '"… (200 characters)');
  });
  it("rejects a duplicated JSON key instead of keeping the last", () => {
    expect(errorOf('{"allow": [], "allow": [' + rule("a", SHA) + "]}")).toBe('configuration: invalid JSON at offset 14: duplicate key "allow"');
  });
});

describe("accepted configurations", () => {
  it("accepts an empty allow list, which denies every certificate", () => {
    let policy = parseConfig('{"allow": []}').policy!;
    expect(policy.allow.length).toBe(0);
    expect(decide(policy, String.UTF8.encode(SHA)).reason).toBe(Reason.NotAllowed);
  });
  it("matches a digest written in upper case, lower case or colon form", () => {
    let colons = "";
    for (let i = 0; i < 64; i += 2) colons += (i > 0 ? ":" : "") + SHA.substring(i, i + 2).toUpperCase();
    let forms = [SHA, SHA.toUpperCase(), colons];
    for (let i = 0; i < forms.length; i++) {
      let policy = parseConfig('{"allow": [' + rule("acme", forms[i]) + "]}").policy!;
      let verdict = decide(policy, String.UTF8.encode(SHA));
      expect(verdict.allowed).toBe(true);
      expect(policy.allow[verdict.rule].name).toBe("acme");
    }
  });
});
