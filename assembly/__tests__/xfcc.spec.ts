import { XfccElement, parseXfcc as parseBytes } from "../identity/xfcc";

function parseXfcc(header: string): XfccElement[] | null {
  return parseBytes(String.UTF8.encode(header));
}

const HASH = "468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688";

describe("XFCC parser", () => {
  it("reads Envoy's documented two-element example", () => {
    let elements = parseXfcc(
      'By=http://frontend.lyft.com;Hash=' + HASH + ';Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com,' +
      'By=http://backend.lyft.com;Hash=9ba61d6425303443c0748a02dd8de688468ed33be74eee6556d90c0149c1309e;URI=http://frontend.lyft.com',
    )!;
    expect(elements.length).toBe(2);
    expect(elements[0].by[0]).toBe("http://frontend.lyft.com");
    expect(elements[0].hash).toBe(HASH);
    expect(elements[0].subject).toBe("/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client");
    expect(elements[0].uris[0]).toBe("http://testclient.lyft.com");
    expect(elements[1].uris[0]).toBe("http://frontend.lyft.com");
  });
  it("reads a quoted subject containing , ; = and an escaped quote, keeping the RFC 2253 escapes", () => {
    let elements = parseXfcc('Hash=' + HASH + ';Subject="CN=a\\"b\\,c,O=x;y=z"')!;
    expect(elements[0].subject).toBe('CN=a\\"b\\,c,O=x;y=z');
  });
  it("collects repeated URI and DNS values", () => {
    let element = parseXfcc("Hash=" + HASH + ";URI=spiffe://a;URI=spiffe://b;DNS=a.example;DNS=b.example")![0];
    expect(element.uris.length).toBe(2);
    expect(element.uris[1]).toBe("spiffe://b");
    expect(element.dnss[1]).toBe("b.example");
  });
  it("treats keys case-insensitively", () => {
    let element = parseXfcc("hash=" + HASH + ";uri=spiffe://a;SUBJECT=\"CN=x\"")![0];
    expect(element.hash).toBe(HASH);
    expect(element.uris[0]).toBe("spiffe://a");
    expect(element.subject).toBe("CN=x");
  });
  it("keeps '=' inside an unquoted value", () => {
    expect(parseXfcc("URI=spiffe://a/b?c=d")![0].uris[0]).toBe("spiffe://a/b?c=d");
  });
  it("ignores an empty URI, as Envoy emits when the certificate has none", () => {
    let element = parseXfcc('Hash=' + HASH + ';Subject="";URI=')![0];
    expect(element.uris.length).toBe(0);
    expect(element.hasSubject).toBe(true);
  });
  it("rejects an empty header", () => {
    expect(parseXfcc("")).toBeNull();
  });
  it("rejects a pair without '='", () => {
    expect(parseXfcc("Hash")).toBeNull();
  });
  it("rejects an empty element", () => {
    expect(parseXfcc("Hash=" + HASH + ",,URI=x")).toBeNull();
  });
  it("rejects a trailing comma", () => {
    expect(parseXfcc("Hash=" + HASH + ",")).toBeNull();
  });
  it("rejects an unterminated quote", () => {
    expect(parseXfcc('Subject="CN=x')).toBeNull();
  });
  it("rejects text after a closing quote", () => {
    expect(parseXfcc('Subject="CN=x"y;Hash=' + HASH)).toBeNull();
  });
  it("rejects two hashes in one element", () => {
    expect(parseXfcc("Hash=" + HASH + ";Hash=" + HASH)).toBeNull();
  });
  it("rejects a lone backslash at the end of a quoted value", () => {
    expect(parseXfcc('Subject="CN=x\\')).toBeNull();
  });
  it("keeps Cert in place until it is read, then gives the quoted text", () => {
    let element = parseXfcc('Hash=' + HASH + ';Cert="-----BEGIN%20CERTIFICATE-----%0AMIIB%0A";URI=spiffe://a')![0];
    expect(element.hasCert).toBe(true);
    expect(element.cert).toBe("-----BEGIN%20CERTIFICATE-----%0AMIIB%0A");
    expect(element.uris[0]).toBe("spiffe://a");
  });
  it("rejects two certificates in one element", () => {
    expect(parseXfcc('Cert="a";Cert="b"')).toBeNull();
  });
  it("trims an unquoted value's trailing spaces, Cert included", () => {
    let element = parseXfcc("Cert=abc  ;URI=spiffe://a \t")![0];
    expect(element.cert).toBe("abc");
    expect(element.uris[0]).toBe("spiffe://a");
  });
  it("trims a key of non-ASCII whitespace as text, and refuses a key with other characters", () => {
    expect(parseXfcc("\u00a0Hash=" + HASH)![0].hash).toBe(HASH);
    expect(parseXfcc("H\u00e4sh=" + HASH)).toBeNull();
    expect(parseXfcc("Chain=x;Hash=" + HASH)![0].hash).toBe(HASH);
  });
  it("never lets a broken UTF-8 sequence swallow a separator", () => {
    let head = String.UTF8.encode("URI=spiffe://a");
    let tail = String.UTF8.encode(";Hash=" + HASH);
    let bytes = new Uint8Array(head.byteLength + 1 + tail.byteLength);
    bytes.set(Uint8Array.wrap(head), 0);
    bytes[head.byteLength] = 0xe2;
    bytes.set(Uint8Array.wrap(tail), head.byteLength + 1);
    let elements = parseBytes(bytes.buffer)!;
    expect(elements.length).toBe(1);
    expect(elements[0].hash).toBe(HASH);
    expect(elements[0].uris.length).toBe(1);
  });
  it("survives garbage", () => {
    expect(parseXfcc(";;;===,,,\"\"\"")).toBeNull();
    expect(parseXfcc("\u0000\u0001=")).toBeNull();
  });
});
