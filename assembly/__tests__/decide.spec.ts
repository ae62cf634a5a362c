import { parseConfig } from "../config/parse";
import { decide, Reason, reasonName } from "../policy/decide";
import { Policy } from "../policy/policy";

const LISTED = "8d5816f39f390cb936cabe2151aee79d751830ea07dde2deb2900d8134edf7a7";
const SECOND = "1111111111111111111111111111111111111111111111111111111111111111";
const UNLISTED = "8d5816f39f390cb936cabe2151aee79d751830ea07dde2deb2900d8134edf7a8";

function policy(): Policy {
  return parseConfig('{"allow": [{"name": "acme", "sha256": "' + LISTED + '"}, {"name": "second", "sha256": "' + SECOND + '"}]}').policy!;
}

describe("the decision", () => {
  it("allows a listed digest and names its rule", () => {
    let verdict = decide(policy(), String.UTF8.encode(SECOND));
    expect(verdict.reason).toBe(Reason.Allowed);
    expect(verdict.rule).toBe(1);
  });
  it("denies an unlisted digest as not_allowed", () => {
    let verdict = decide(policy(), String.UTF8.encode(UNLISTED));
    expect(reasonName(verdict.reason)).toBe("not_allowed");
    expect(verdict.rule).toBe(-1);
  });
  it("denies a request without a digest as no_client_certificate", () => {
    expect(reasonName(decide(policy(), null).reason)).toBe("no_client_certificate");
  });
  it("treats an empty digest as no client certificate, as Envoy does", () => {
    expect(reasonName(decide(policy(), new ArrayBuffer(0)).reason)).toBe("no_client_certificate");
  });
  it("denies a malformed digest as not_allowed", () => {
    expect(reasonName(decide(policy(), String.UTF8.encode("not hex")).reason)).toBe("not_allowed");
  });
  it("finds every digest of a large list", () => {
    let rules = new Array<string>();
    for (let i = 0; i < 5000; i++) {
      rules.push('{"name": "r' + i.toString() + '", "sha256": "' + i.toString(16).padStart(64, "0") + '"}');
    }
    let large = parseConfig('{"allow": [' + rules.join(",") + "]}").policy!;
    for (let i = 0; i < 5000; i += 7) {
      expect(decide(large, String.UTF8.encode(i.toString(16).padStart(64, "0"))).rule).toBe(i);
    }
    expect(decide(large, String.UTF8.encode(UNLISTED)).allowed).toBe(false);
  });
});
