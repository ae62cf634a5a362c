import { commonNames } from "../identity/subject";

describe("CNs of a subject as Envoy prints it", () => {
  it("are the values of the CN attributes, unescaped", () => {
    expect(commonNames("CN=test.client,O=test,C=US").single).toBe("test.client");
    expect(commonNames("O=test,CN=curl.example.com").single).toBe("curl.example.com");
    expect(commonNames("CN=Acme\\, Inc.,O=x").single).toBe("Acme, Inc.");
    expect(commonNames("CN=J\\C3\\BCrgen").single).toBe("Jürgen");
  });
  it("cannot be faked by an escaped CN= inside another attribute", () => {
    expect(commonNames("O=evil\\,CN=admin,C=US").values.length).toBe(0);
    expect(commonNames("O=evil\\,CN=admin,CN=real").single).toBe("real");
  });
  it("give an allow rule no CN when there are several, and a deny rule all of them", () => {
    let names = commonNames("CN=second,CN=first");
    expect(names.single).toBeNull();
    expect(names.mayBe("first")).toBe(true);
    expect(names.mayBe("second")).toBe(true);
    expect(names.mayBe("third")).toBe(false);
  });
  it("give an allow rule no CN inside a multi-valued RDN", () => {
    let names = commonNames("OU=c+CN=a,C=US");
    expect(names.single).toBeNull();
    expect(names.mayBe("a")).toBe(true);
  });
  it("are unreadable — every deny rule's, no allow rule's — when dumped as #hex or not UTF-8", () => {
    expect(commonNames("CN=#0403010203").single).toBeNull();
    expect(commonNames("CN=#0403010203").mayBe("anything")).toBe(true);
    expect(commonNames("CN=\\FF").mayBe("anything")).toBe(true);
  });
  it("are absent when there is no CN", () => {
    expect(commonNames("O=test,C=US").single).toBeNull();
    expect(commonNames("O=test,C=US").mayBe("test")).toBe(false);
  });
  it("are unreadable for a malformed subject", () => {
    expect(commonNames("garbage").mayBe("x")).toBe(true);
    expect(commonNames("CN=x\\").mayBe("y")).toBe(true);
  });
});
