import { RequestPath, pathHasPrefix as hasPrefix, pathInScope, pathPrefix as prefixOf, requestPath } from "../policy/path";

// A prefix's decoded form as text, or null.
function pathPrefix(text: string): string | null {
  let prefix = prefixOf(text, new StaticArray<i32>(1));
  return prefix === null ? null : String.UTF8.decode(prefix);
}

function prefixes(texts: string[]): ArrayBuffer[] {
  return texts.map<ArrayBuffer>((text: string) => prefixOf(text, new StaticArray<i32>(1))!);
}

function pathHasPrefix(raw: string, prefix: string): bool {
  return hasPrefix(path(raw), prefixes([prefix])[0]);
}

function path(raw: string): RequestPath {
  let bytes = String.UTF8.encode(raw);
  return requestPath(changetype<usize>(bytes), bytes.byteLength);
}

function ambiguous(raw: string): bool {
  return path(raw).ambiguous;
}

describe("the request's path", () => {
  it("is taken as Envoy hands it, without the query", () => {
    expect(path("/status/418").path).toBe("/status/418");
    expect(path("/status/418?x=1&y=/../admin").path).toBe("/status/418");
    expect(path("/ledger/").path).toBe("/ledger/");
    expect(path("/").path).toBe("/");
  });
  it("has escapes of ordinary characters decoded", () => {
    expect(path("/%73tatus/418").path).toBe("/status/418");
    expect(path("/caf%C3%A9/x").path).toBe("/café/x");
    expect(path("/a%20b").path).toBe("/a b");
  });
  it("is ambiguous with an encoded slash, backslash, dot, percent, ';', '?' or '#'", () => {
    expect(ambiguous("/status%2F418")).toBe(true);
    expect(ambiguous("/status%2f418")).toBe(true);
    expect(ambiguous("/status%5C418")).toBe(true);
    expect(ambiguous("/status/%2e%2e/admin")).toBe(true);
    expect(ambiguous("/status/%252F418")).toBe(true);
    expect(ambiguous("/admin%3Bx")).toBe(true);
    expect(ambiguous("/admin%3Fx")).toBe(true);
    expect(ambiguous("/admin%23x")).toBe(true);
  });
  it("is ambiguous with ';' parameters and a backslash", () => {
    expect(ambiguous("/ledger/..;/admin")).toBe(true);
    expect(ambiguous("/status;x=1/418")).toBe(true);
    expect(ambiguous("/ledger\\..\\admin")).toBe(true);
  });
  it("is ambiguous with dot segments and repeated slashes, which Envoy resolves only when the mesh normalises", () => {
    expect(ambiguous("/a/./b")).toBe(true);
    expect(ambiguous("/a/../b")).toBe(true);
    expect(ambiguous("/a/..")).toBe(true);
    expect(ambiguous("//status/418")).toBe(true);
    expect(ambiguous("/ledger//../admin")).toBe(true);
  });
  it("is ambiguous with control, space or non-ASCII bytes, escapes that are not UTF-8, a fragment or no leading slash", () => {
    expect(ambiguous("/a b")).toBe(true);
    expect(ambiguous("/a%00b")).toBe(true);
    expect(ambiguous("/a%0Ab")).toBe(true);
    expect(ambiguous("/caf\u00E9")).toBe(true);
    expect(ambiguous("/%C0%AF")).toBe(true);
    expect(ambiguous("/%ff")).toBe(true);
    expect(ambiguous("/%ED%A0%80")).toBe(true);
    expect(ambiguous("/a#f")).toBe(true);
    expect(ambiguous("/a%zz")).toBe(true);
    expect(ambiguous("/a%4")).toBe(true);
    expect(ambiguous("a/b")).toBe(true);
    expect(ambiguous("")).toBe(true);
    expect(ambiguous("*")).toBe(true);
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
  it("take an ambiguous path as inside them for a deny rule and outside for an allow rule", () => {
    expect(pathInScope(prefixes(["/admin/"]), path("/public/%2e%2e/admin/x"), true)).toBe(true);
    expect(pathInScope(prefixes(["/ledger/"]), path("/ledger/..;/admin/x"), false)).toBe(false);
  });
  it("are written as requests spell them, non-ASCII percent-encoded", () => {
    expect(pathPrefix("/caf%C3%A9/")).toBe("/café/");
    expect(pathPrefix("/ledger/")).toBe("/ledger/");
  });
  it("are refused when no unambiguous request could be under them", () => {
    expect(pathPrefix("ledger/")).toBeNull();
    expect(pathPrefix("/ledger/?x")).toBeNull();
    expect(pathPrefix("/a/../b")).toBeNull();
    expect(pathPrefix("/a;x")).toBeNull();
    expect(pathPrefix("/a%2Fb")).toBeNull();
    expect(pathPrefix("/caf\u00E9")).toBeNull();
    expect(pathPrefix("/a\u200Bb")).toBeNull();
    expect(pathPrefix("/a b")).toBeNull();
  });
});

function readInto(into: RequestPath, raw: string): RequestPath {
  let bytes = String.UTF8.encode(raw);
  return into.read(changetype<usize>(bytes), bytes.byteLength);
}

describe("a path read into a buffer kept from request to request", () => {
  // The filter reads each request's path into the same RequestPath: an earlier, longer path's bytes
  // are still in the buffer, and must never count for a later, shorter one.
  it("never lends a shorter path the bytes of a longer one before it", () => {
    let reused = new RequestPath();
    readInto(reused, "/ledger/statements/2027");
    expect(pathHasPrefix("/ledger/statements/2027", "/ledger/")).toBe(true);
    expect(pathInScope(prefixes(["/ledger/"]), readInto(reused, "/led"), false)).toBe(false);
    expect(reused.path).toBe("/led");
    expect(pathInScope(prefixes(["/ledger"]), readInto(reused, "/"), false)).toBe(false);
  });
  it("is ambiguous again after an unambiguous one, and the reverse", () => {
    let reused = new RequestPath();
    expect(readInto(reused, "/ledger/x").ambiguous).toBe(false);
    expect(readInto(reused, "/ledger/%2e%2e/admin").ambiguous).toBe(true);
    expect(pathInScope(prefixes(["/ledger/"]), reused, false)).toBe(false);
    expect(readInto(reused, "/ledger/y").path).toBe("/ledger/y");
  });
});
