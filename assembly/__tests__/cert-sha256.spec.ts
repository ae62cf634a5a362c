import { sha256 } from "../cert/sha256";

function hex(bytes: StaticArray<u8>): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += (<u32>bytes[i]).toString(16).padStart(2, "0");
  return out;
}

function digestOf(text: string): string {
  let bytes = String.UTF8.encode(text);
  return hex(sha256(changetype<usize>(bytes), bytes.byteLength));
}

describe("SHA-256", () => {
  it("hashes the empty string", () => {
    expect(digestOf("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });
  it("hashes abc", () => {
    expect(digestOf("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
  it("hashes the two-block NIST message", () => {
    expect(digestOf("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  });
  it("hashes 55, 56 and 64 bytes across the padding boundary", () => {
    expect(digestOf("a".repeat(55))).toBe("9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    expect(digestOf("a".repeat(56))).toBe("b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    expect(digestOf("a".repeat(64))).toBe("ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
  });
  it("hashes a million a's", () => {
    expect(digestOf("a".repeat(1000000))).toBe("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  });
});
