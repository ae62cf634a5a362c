import { decodeDigest, digestToHex, parseFingerprint } from "../identity/fingerprint";

const LOWER = "8d5816f39f390cb936cabe2151aee79d751830ea07dde2deb2900d8134edf7a7";
const UPPER = "8D5816F39F390CB936CABE2151AEE79D751830EA07DDE2DEB2900D8134EDF7A7";
const COLONS = "8D:58:16:F3:9F:39:0C:B9:36:CA:BE:21:51:AE:E7:9D:75:18:30:EA:07:DD:E2:DE:B2:90:0D:81:34:ED:F7:A7";

function normalised(text: string): string {
  let digest = parseFingerprint(text);
  return digest === null ? "<rejected>" : digestToHex(digest);
}

describe("configured fingerprints", () => {
  it("accepts 64 lowercase hex digits", () => {
    expect(normalised(LOWER)).toBe(LOWER);
  });
  it("accepts 64 uppercase hex digits as the same digest", () => {
    expect(normalised(UPPER)).toBe(LOWER);
  });
  it("accepts colon-separated pairs as openssl prints them", () => {
    expect(normalised(COLONS)).toBe(LOWER);
  });
  it("accepts colon-separated lowercase pairs", () => {
    expect(normalised(COLONS.toLowerCase())).toBe(LOWER);
  });
  it("rejects 63 digits", () => {
    expect(normalised(LOWER.substring(1))).toBe("<rejected>");
  });
  it("rejects 65 digits", () => {
    expect(normalised(LOWER + "0")).toBe("<rejected>");
  });
  it("rejects a non-hex digit", () => {
    expect(normalised("g" + LOWER.substring(1))).toBe("<rejected>");
  });
  it("rejects separators other than colons", () => {
    expect(normalised(COLONS.replaceAll(":", "-"))).toBe("<rejected>");
  });
  it("rejects a colon inside a pair", () => {
    expect(normalised("8:D" + COLONS.substring(3))).toBe("<rejected>");
  });
  it("rejects the empty string", () => {
    expect(normalised("")).toBe("<rejected>");
  });
});

describe("Envoy's digest property", () => {
  it("decodes 64 lowercase hex bytes", () => {
    let out = new StaticArray<u64>(4);
    expect(decodeDigest(String.UTF8.encode(LOWER), out)).toBe(true);
    expect(digestToHex(out)).toBe(LOWER);
  });
  it("refuses a value of the wrong length", () => {
    let out = new StaticArray<u64>(4);
    expect(decodeDigest(String.UTF8.encode(LOWER.substring(2)), out)).toBe(false);
  });
  it("refuses non-hex bytes, and upper case (Envoy writes digests in lower case)", () => {
    let out = new StaticArray<u64>(4);
    expect(decodeDigest(String.UTF8.encode("zz" + LOWER.substring(2)), out)).toBe(false);
    expect(decodeDigest(String.UTF8.encode(LOWER.toUpperCase()), out)).toBe(false);
    // Each byte that is not a digit or a-f, in the place of each digit.
    for (let c = 0; c < 256; c++) {
      let digit = (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66);
      for (let at = 0; at < 64; at += 9) {
        let bytes = Uint8Array.wrap(String.UTF8.encode(LOWER));
        bytes[at] = <u8>c;
        expect(decodeDigest(bytes.buffer, out)).toBe(digit);
      }
    }
  });
});
