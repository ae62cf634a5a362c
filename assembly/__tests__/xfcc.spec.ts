import { XfccElement, XfccHeader } from "../identity/xfcc";

// The header's bytes, kept alive while a spec reads its elements.
let bytes = new ArrayBuffer(0);

function elementsOf(reader: XfccHeader): XfccElement[] {
  let elements = new Array<XfccElement>();
  for (let i = 0; i < reader.count; i++) elements.push(reader.element(i));
  return elements;
}

function parseBytes(ptr: usize, length: i32): XfccElement[] | null {
  let reader = new XfccHeader();
  return reader.read(ptr, length) ? elementsOf(reader) : null;
}

function parseXfcc(header: string): XfccElement[] | null {
  bytes = String.UTF8.encode(header);
  return parseBytes(changetype<usize>(bytes), bytes.byteLength);
}

function uris(element: XfccElement): string[] {
  return element.texts(false);
}

function dnss(element: XfccElement): string[] {
  return element.texts(true);
}

function hashOf(element: XfccElement): string {
  return element.hashPtr == 0 ? "" : String.UTF8.decodeUnsafe(element.hashPtr, 64);
}

function certOf(element: XfccElement): string {
  return String.UTF8.decodeUnsafe(element.certPtr, <usize>element.certLength);
}

const HASH = "468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688";
const OTHER = "9ba61d6425303443c0748a02dd8de688468ed33be74eee6556d90c0149c1309e";

describe("XFCC as Envoy writes it", () => {
  it("reads two elements, Envoy's keys in Envoy's order", () => {
    let elements = parseXfcc(
      "By=spiffe://gateway;Hash=" + HASH + ';Cert="-----BEGIN%20CERTIFICATE-----%0AMIIB%0A";Subject="CN=client,O=Acme";URI=spiffe://client;DNS=client.example,' +
      "Hash=" + OTHER + ';Subject="CN=gateway";URI=spiffe://gateway',
    )!;
    expect(elements.length).toBe(2);
    expect(hashOf(elements[0])).toBe(HASH);
    expect(certOf(elements[0])).toBe("-----BEGIN%20CERTIFICATE-----%0AMIIB%0A");
    expect(elements[0].subject).toBe("CN=client,O=Acme");
    expect(uris(elements[0])[0]).toBe("spiffe://client");
    expect(dnss(elements[0])[0]).toBe("client.example");
    expect(uris(elements[1])[0]).toBe("spiffe://gateway");
  });
  it("keeps a quoted subject's RFC 2253 escapes, quotes and semicolons included", () => {
    let elements = parseXfcc("Hash=" + HASH + ';Subject="CN=a\\"b\\,c,O=x\\;y=z"')!;
    expect(elements[0].subject).toBe('CN=a\\"b\\,c,O=x\\;y=z');
  });
  it("collects repeated URI and DNS values, and the lone empty URI= of a certificate without URI SANs", () => {
    let element = parseXfcc("Hash=" + HASH + ";URI=spiffe://a;URI=spiffe://b;DNS=a.example;DNS=b.example")![0];
    expect(uris(element).length).toBe(2);
    expect(dnss(element)[1]).toBe("b.example");
    let lone = parseXfcc("Hash=" + HASH + ';Subject="";URI=')![0];
    expect(lone.uriCount).toBe(1);
    expect(lone.valueEquals(false, 0, 0, 0)).toBe(true);
    expect(uris(lone).length).toBe(0);
  });
  it("takes an unquoted value verbatim: '=', '\"' and spaces included, nothing trimmed or unquoted", () => {
    expect(uris(parseXfcc("Hash=" + HASH + ";URI=spiffe://a/b?c=d")![0])[0]).toBe("spiffe://a/b?c=d");
    expect(uris(parseXfcc("Hash=" + HASH + ';URI="spiffe://a"')![0])[0]).toBe('"spiffe://a"');
    expect(uris(parseXfcc("Hash=" + HASH + ";URI= spiffe://a ")![0])[0]).toBe(" spiffe://a ");
  });
  it("gives a Hash's place only when it is as long as a digest's spelling (the reader compares it with one)", () => {
    expect(hashOf(parseXfcc("Hash=" + HASH)![0])).toBe(HASH);
    expect(parseXfcc("Hash=abc")![0].hashPtr).toBe(0);
  });
  it("refuses keys Envoy does not write, or writes in another case", () => {
    expect(parseXfcc("hash=" + HASH)).toBeNull();
    expect(parseXfcc("Hash=" + HASH + ";Foo=x")).toBeNull();
    expect(parseXfcc(" Hash=" + HASH)).toBeNull();
  });
  it("refuses keys out of Envoy's order, and Hash, Cert or Subject given twice", () => {
    expect(parseXfcc("URI=spiffe://a;Hash=" + HASH)).toBeNull();
    expect(parseXfcc("Hash=" + HASH + ";Hash=" + HASH)).toBeNull();
    expect(parseXfcc('Hash=' + HASH + ';Cert="a";Cert="b"')).toBeNull();
    expect(parseXfcc("Hash=" + HASH + ";DNS=a;URI=b")).toBeNull();
  });
  it("refuses an unquoted Subject or Cert, and a quoted one with anything after the quote", () => {
    expect(parseXfcc("Hash=" + HASH + ";Subject=CN=x")).toBeNull();
    expect(parseXfcc("Hash=" + HASH + ";Cert=abc")).toBeNull();
    expect(parseXfcc('Hash=' + HASH + ';Subject="CN=x"y')).toBeNull();
    expect(parseXfcc('Hash=' + HASH + ';Subject="CN=x')).toBeNull();
    expect(parseXfcc('Hash=' + HASH + ';Subject="CN=x\\')).toBeNull();
  });
  it("refuses empty headers, elements, pairs and values (but URI=)", () => {
    expect(parseXfcc("")).toBeNull();
    expect(parseXfcc("Hash")).toBeNull();
    expect(parseXfcc("Hash=" + HASH + ",,Hash=" + HASH)).toBeNull();
    expect(parseXfcc("Hash=" + HASH + ",")).toBeNull();
    expect(parseXfcc("Hash=" + HASH + ";")).toBeNull();
    expect(parseXfcc("Hash=;URI=x")).toBeNull();
    expect(parseXfcc("Hash=" + HASH + ";DNS=")).toBeNull();
  });
  it("splits where a SAN holding ',' or ';' split the text — the reader then compares with the certificate", () => {
    let elements = parseXfcc("Hash=" + HASH + ";URI=spiffe://attacker,Hash=" + OTHER + ";URI=spiffe://victim")!;
    expect(elements.length).toBe(2);
    expect(uris(elements[0])[0]).toBe("spiffe://attacker");
    expect(hashOf(elements[1])).toBe(OTHER);
  });
  it("never lets a broken UTF-8 sequence swallow a separator", () => {
    let head = String.UTF8.encode("Hash=" + HASH + ";URI=spiffe://a");
    let tail = String.UTF8.encode(";DNS=x.example");
    let bytes = new Uint8Array(head.byteLength + 1 + tail.byteLength);
    bytes.set(Uint8Array.wrap(head), 0);
    bytes[head.byteLength] = 0xe2;
    bytes.set(Uint8Array.wrap(tail), head.byteLength + 1);
    let elements = parseBytes(bytes.dataStart, bytes.length)!;
    expect(elements.length).toBe(1);
    expect(dnss(elements[0])[0]).toBe("x.example");
  });
  it("survives garbage", () => {
    expect(parseXfcc(";;;===,,,\"\"\"")).toBeNull();
    expect(parseXfcc("\u0000\u0001=")).toBeNull();
  });
});
