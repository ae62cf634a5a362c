import { base64Decode, base64Encode, pemToDer, urlDecode } from "../cert/pem";
import { readCertificate } from "../cert/x509";
import { parseIpAddress } from "../text";

function text(bytes: Uint8Array | null): string {
  return bytes === null ? "<null>" : String.UTF8.decode(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

function urlDecoded(s: string): Uint8Array | null {
  let bytes = String.UTF8.encode(s);
  return urlDecode(changetype<usize>(bytes), bytes.byteLength);
}

function der(s: string): Uint8Array | null {
  let bytes = String.UTF8.encode(s);
  return pemToDer(changetype<usize>(bytes), bytes.byteLength);
}

function b64(s: string): Uint8Array | null {
  return base64Decode(Uint8Array.wrap(String.UTF8.encode(s)));
}

describe("URL decoding", () => {
  it("decodes percent escapes and keeps a plus sign (base64 uses it)", () => {
    expect(text(urlDecoded("a%2Bb%0Ac+d"))).toBe("a+b\nc+d");
  });
  it("refuses a cut escape", () => {
    expect(urlDecoded("abc%4")).toBeNull();
    expect(urlDecoded("abc%zz")).toBeNull();
  });
});

describe("base64", () => {
  it("decodes with and without padding, ignoring line breaks", () => {
    expect(text(b64("aGVsbG8="))).toBe("hello");
    expect(text(b64("aGVs\nbG8"))).toBe("hello");
  });
  it("refuses characters outside the alphabet and data after padding", () => {
    expect(b64("aGV$bG8=")).toBeNull();
    expect(b64("aG=Vs")).toBeNull();
    expect(b64("a")).toBeNull();
  });
  it("encodes with padding", () => {
    let bytes = new StaticArray<u8>(5);
    let source = String.UTF8.encode("hello");
    for (let i = 0; i < 5; i++) bytes[i] = load<u8>(changetype<usize>(source) + <usize>i);
    expect(base64Encode(bytes)).toBe("aGVsbG8=");
  });
});

describe("PEM and DER", () => {
  it("finds no certificate in text without the armour", () => {
    expect(der("hello")).toBeNull();
  });
  it("reads nothing from a DER that is not a certificate, and never traps", () => {
    let garbage = new Uint8Array(40);
    for (let i = 0; i < 40; i++) garbage[i] = <u8>(i * 37 + 0x30);
    expect(readCertificate(garbage)).toBeNull();
    let lying = new Uint8Array(4);
    lying[0] = 0x30;
    lying[1] = 0x84;
    lying[2] = 0xff;
    lying[3] = 0xff;
    expect(readCertificate(lying)).toBeNull();
    expect(readCertificate(new Uint8Array(0))).toBeNull();
  });
});

describe("IP addresses", () => {
  it("parse IPv4", () => {
    let ip = parseIpAddress("192.168.1.7")!;
    expect(ip.length).toBe(4);
    expect(ip[3]).toBe(7);
  });
  it("parse IPv6 with and without compression to the same bytes", () => {
    let short = parseIpAddress("2001:db8::1")!;
    let long = parseIpAddress("2001:0DB8:0:0:0:0:0:1")!;
    expect(short.length).toBe(16);
    for (let i = 0; i < 16; i++) expect(short[i]).toBe(long[i]);
  });
  it("refuse what is not an address", () => {
    expect(parseIpAddress("10.0.0.256")).toBeNull();
    expect(parseIpAddress("10.0.0")).toBeNull();
    expect(parseIpAddress("1::2::3")).toBeNull();
    expect(parseIpAddress("12345::1")).toBeNull();
  });
});
