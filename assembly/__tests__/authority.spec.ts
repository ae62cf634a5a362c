import { HostPattern, RequestHost, hostInScope, requestHost } from "../policy/authority";

function host(authority: string): RequestHost {
  let bytes = String.UTF8.encode(authority);
  return requestHost(changetype<usize>(bytes), bytes.byteLength);
}

function pattern(text: string): HostPattern {
  return HostPattern.parse(text, [])!;
}

function problem(text: string): string {
  let problems = new Array<string>();
  expect(HostPattern.parse(text, problems)).toBeNull();
  return problems[0];
}

describe("the request's host", () => {
  it("is the authority in lower case, without a numeric port", () => {
    expect(host("PAYMENTS.Example.com:8443").name).toBe("payments.example.com");
    expect(host("payments.example.com").ambiguous).toBe(false);
    expect(host("10.1.2.3:443").name).toBe("10.1.2.3");
  });
  it("keeps an IPv6 literal in brackets, without its port", () => {
    expect(host("[::1]:443").name).toBe("[::1]");
    expect(host("[2001:DB8::1]").name).toBe("[2001:db8::1]");
  });
  it("is ambiguous with user info, which a router may read as part of the host or not", () => {
    expect(host("user@payments.example.com").ambiguous).toBe(true);
    expect(host("public.example.com@payments.example.com").ambiguous).toBe(true);
    expect(host("payments.example.com:1@public.example.com").ambiguous).toBe(true);
  });
  it("is ambiguous with more than one colon, or a port that is not a number", () => {
    expect(host("payments.example.com:443:1").ambiguous).toBe(true);
    expect(host("payments.example.com:").ambiguous).toBe(true);
    expect(host("payments.example.com:abc").ambiguous).toBe(true);
    expect(host("payments.example.com:1234567").ambiguous).toBe(true);
  });
  it("is ambiguous with a trailing dot, routed by name only where the mesh strips it", () => {
    expect(host("payments.example.com.").ambiguous).toBe(true);
    expect(host("payments.example.com.:443").ambiguous).toBe(true);
    expect(host("payments..example.com").ambiguous).toBe(true);
  });
  it("is ambiguous with brackets around anything but an IPv6 address", () => {
    expect(host("[payments.example.com]").ambiguous).toBe(true);
    expect(host("[::1]x").ambiguous).toBe(true);
    expect(host("[::1").ambiguous).toBe(true);
  });
  it("is ambiguous with characters no DNS name has, and when empty", () => {
    expect(host("payments.example.com,public.example.com").ambiguous).toBe(true);
    expect(host("pay_ments.example.com").ambiguous).toBe(true);
    expect(host("payments%2eexample.com").ambiguous).toBe(true);
    expect(host("").ambiguous).toBe(true);
  });
});

describe("host patterns", () => {
  it("match a host exactly", () => {
    expect(pattern("payments.example.com").matches(host("payments.example.com"))).toBe(true);
    expect(pattern("payments.example.com").matches(host("evil-payments.example.com"))).toBe(false);
  });
  it("match any subdomain with *.", () => {
    expect(pattern("*.bank.example").matches(host("a.bank.example"))).toBe(true);
    expect(pattern("*.bank.example").matches(host("a.b.bank.example:443"))).toBe(true);
    expect(pattern("*.bank.example").matches(host("bank.example"))).toBe(false);
    expect(pattern("*.bank.example").matches(host("evilbank.example"))).toBe(false);
  });
  it("read upper case and a trailing dot as the one name they mean", () => {
    expect(pattern("Payments.Example.COM.").matches(host("payments.example.com"))).toBe(true);
  });
  it("take an ambiguous host as inside them for a deny rule and outside for an allow rule", () => {
    let patterns = [pattern("payments.example.com")];
    expect(hostInScope(patterns, host("payments.example.com:1@x"), true)).toBe(true);
    expect(hostInScope(patterns, host("payments.example.com:1@x"), false)).toBe(false);
  });
  it("refuse a port", () => {
    expect(problem("payments.example.com:443")).toBe("ports are ignored; write the host without \":port\"");
    expect(problem("[::1]:443")).toBe("expected an IPv6 address in brackets without a port");
  });
  it("refuse what no request host can be", () => {
    expect(problem("pay*.example.com").includes("expected a host name")).toBe(true);
    expect(problem("*").includes("expected a host name")).toBe(true);
    expect(problem("pay ments.example.com").includes("expected a host name")).toBe(true);
    expect(problem("payments.example.com/x").includes("expected a host name")).toBe(true);
    expect(problem("payments..example.com").includes("expected a host name")).toBe(true);
  });
  it("refuse invisible and non-ASCII characters, and an internationalised name not in xn-- form", () => {
    expect(problem("payments\u200B.example.com").includes("xn--")).toBe(true);
    expect(problem("payments\u00A0.example.com").includes("xn--")).toBe(true);
    expect(problem("bücher.example").includes("xn--")).toBe(true);
    expect(problem("payments.example.com\t").includes("expected a host name")).toBe(true);
    expect(pattern("xn--bcher-kva.example").matches(host("xn--bcher-kva.example"))).toBe(true);
  });
});

function readInto(into: RequestHost, authority: string): RequestHost {
  let bytes = String.UTF8.encode(authority);
  return into.read(changetype<usize>(bytes), bytes.byteLength);
}

describe("a host read into a buffer kept from request to request", () => {
  // The filter reads each request's :authority into the same RequestHost: an earlier, longer host's
  // bytes are still in the buffer, and must never count for a later one.
  it("never lends a shorter host the bytes of a longer one before it", () => {
    let reused = new RequestHost();
    expect(pattern("payments.example.com").matches(readInto(reused, "payments.example.com"))).toBe(true);
    expect(pattern("payments.example.com").matches(readInto(reused, "payments.example"))).toBe(false);
    expect(pattern("*.example.com").matches(readInto(reused, "example.com"))).toBe(false);
    expect(reused.name).toBe("example.com");
  });
  it("is ambiguous after a clear host when the next authority is, and in scope of every deny", () => {
    let reused = new RequestHost();
    readInto(reused, "payments.example.com");
    expect(readInto(reused, "payments.example.com:1@x").ambiguous).toBe(true);
    expect(hostInScope([pattern("other.example")], reused, true)).toBe(true);
    expect(hostInScope([pattern("payments.example.com")], reused, false)).toBe(false);
  });
});
