import { HostPattern, normaliseHost } from "../policy/host";

function pattern(text: string): HostPattern {
  return HostPattern.parse(text, [])!;
}

describe("request hosts", () => {
  it("ignore case, port and a trailing dot", () => {
    expect(normaliseHost("PAYMENTS.Example.com.:8443")).toBe("payments.example.com");
  });
  it("drop user info", () => {
    expect(normaliseHost("user@payments.example.com")).toBe("payments.example.com");
  });
  it("keep an IPv6 literal without its port", () => {
    expect(normaliseHost("[::1]:443")).toBe("[::1]");
  });
});

describe("host patterns", () => {
  it("match a host exactly", () => {
    expect(pattern("payments.example.com").matches("payments.example.com")).toBe(true);
    expect(pattern("payments.example.com").matches("evil-payments.example.com")).toBe(false);
  });
  it("match any subdomain with *.", () => {
    expect(pattern("*.bank.example").matches("a.bank.example")).toBe(true);
    expect(pattern("*.bank.example").matches("a.b.bank.example")).toBe(true);
    expect(pattern("*.bank.example").matches("bank.example")).toBe(false);
    expect(pattern("*.bank.example").matches("evilbank.example")).toBe(false);
  });
  it("are case-insensitive", () => {
    expect(pattern("Payments.Example.COM").matches("payments.example.com")).toBe(true);
  });
  it("refuse a port", () => {
    let problem = new Array<string>();
    expect(HostPattern.parse("payments.example.com:443", problem)).toBeNull();
    expect(problem[0]).toBe("ports are ignored; write the host without \":port\"");
  });
  it("refuse a wildcard anywhere but the front", () => {
    expect(HostPattern.parse("pay*.example.com", [])).toBeNull();
    expect(HostPattern.parse("*", [])).toBeNull();
  });
});
