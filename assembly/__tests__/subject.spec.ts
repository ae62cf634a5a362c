import { commonName } from "../identity/subject";

describe("CN of an RFC 2253 subject", () => {
  it("is the value of the CN attribute", () => {
    expect(commonName("CN=test.client,O=test,C=US")).toBe("test.client");
  });
  it("is found after other attributes", () => {
    expect(commonName("O=test,CN=curl.example.com")).toBe("curl.example.com");
  });
  it("keeps an escaped comma inside the value", () => {
    expect(commonName("CN=Acme\\, Inc.,O=x")).toBe("Acme, Inc.");
  });
  it("cannot be faked by an escaped CN= inside another attribute", () => {
    expect(commonName("O=evil\\,CN=admin,C=US")).toBeNull();
    expect(commonName("O=evil\\,CN=admin,CN=real")).toBe("real");
  });
  it("decodes hex escapes as UTF-8", () => {
    expect(commonName("CN=J\\C3\\BCrgen")).toBe("Jürgen");
  });
  it("is absent when there is no CN", () => {
    expect(commonName("O=test,C=US")).toBeNull();
  });
  it("is absent for a malformed subject", () => {
    expect(commonName("garbage")).toBeNull();
    expect(commonName("CN=x\\")).toBeNull();
  });
});
