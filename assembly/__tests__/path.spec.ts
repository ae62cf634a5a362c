import { normalisePath, pathHasPrefix } from "../policy/path";

function n(path: string): string {
  return normalisePath(String.UTF8.encode(path));
}

describe("path normaliser", () => {
  it("keeps a plain path", () => {
    expect(n("/status/418")).toBe("/status/418");
  });
  it("drops the query and the fragment", () => {
    expect(n("/status/418?x=1#f")).toBe("/status/418");
  });
  it("decodes percent-encoding, %2F included", () => {
    expect(n("/status%2F418")).toBe("/status/418");
    expect(n("/%73tatus/418")).toBe("/status/418");
  });
  it("resolves encoded dot segments", () => {
    expect(n("/status/%2e%2e/status/418")).toBe("/status/418");
    expect(n("/a/./b/../c")).toBe("/a/c");
  });
  it("never climbs above the root", () => {
    expect(n("/../../status/418")).toBe("/status/418");
  });
  it("merges repeated slashes", () => {
    expect(n("//status///418")).toBe("/status/418");
  });
  it("drops ';' parameters from every segment", () => {
    expect(n("/status;x=1/418;jsessionid=2")).toBe("/status/418");
  });
  it("keeps an encoded question mark as part of the path", () => {
    expect(n("/a%3Fb")).toBe("/a?b");
  });
  it("keeps a trailing slash", () => {
    expect(n("/ledger/")).toBe("/ledger/");
  });
  it("keeps invalid percent-encoding literally", () => {
    expect(n("/a%zz/%4")).toBe("/a%zz/%4");
  });
  it("turns an empty path into /", () => {
    expect(n("")).toBe("/");
  });
});

describe("path prefixes", () => {
  it("match whole segments", () => {
    expect(pathHasPrefix("/ledger", "/ledger")).toBe(true);
    expect(pathHasPrefix("/ledger/x", "/ledger")).toBe(true);
    expect(pathHasPrefix("/ledgers", "/ledger")).toBe(false);
  });
  it("with a trailing slash match what is below it", () => {
    expect(pathHasPrefix("/ledger/x", "/ledger/")).toBe(true);
    expect(pathHasPrefix("/ledger", "/ledger/")).toBe(false);
  });
  it("/ matches everything", () => {
    expect(pathHasPrefix("/anything", "/")).toBe(true);
  });
});
