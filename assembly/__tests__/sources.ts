// What the specs feed the pure modules: byte sources for the reader — the whole text at once, or a
// few bytes per read, so every token of a document straddles a window refill somewhere — and
// connection facts.
import { BufferSource, ByteSource } from "../config/json";
import { ConnectionFacts } from "../identity/identity";
import { decodeDigest } from "../identity/fingerprint";
import { Bytes } from "../text";

export class TrickleSource extends ByteSource {
  private inner: BufferSource;

  constructor(private bytes: ArrayBuffer, private step: i32) {
    super();
    this.inner = new BufferSource(bytes);
  }

  get length(): i32 {
    return this.bytes.byteLength;
  }

  read(offset: i32, into: usize, max: i32): i32 {
    return this.inner.read(offset, into, min(max, this.step));
  }
}

export function whole(text: string): ByteSource {
  return new BufferSource(String.UTF8.encode(text));
}

export function trickle(text: string, step: i32): ByteSource {
  return new TrickleSource(String.UTF8.encode(text), step);
}

// Connection facts with fixed values, as a spec states them (null: the host has none).
export class KnownFacts extends ConnectionFacts {
  digestText: ArrayBuffer | null = null;
  subjectText: string | null = null;
  uri: string | null = null;
  dns: string | null = null;
  header: string | null = null;
  pem: string | null = null;
  // The encoded values handed out, kept alive while a spec uses them.
  private kept: ArrayBuffer[] = [];

  private bytesOf(text: string | null): Bytes | null {
    if (text === null) return null;
    let encoded = String.UTF8.encode(text);
    this.kept.push(encoded);
    return new Bytes().set(changetype<usize>(encoded), encoded.byteLength);
  }

  digestHex(): usize {
    let text = this.digestText;
    return text !== null && text.byteLength == 64 ? changetype<usize>(text) : 0;
  }

  digest(): StaticArray<u64> | null {
    let text = this.digestText;
    if (text === null) return null;
    let words = new StaticArray<u64>(4);
    return decodeDigest(text, words) ? words : null;
  }

  subject(): Bytes | null {
    return this.bytesOf(this.subjectText);
  }

  uriSan(): Bytes | null {
    return this.bytesOf(this.uri);
  }

  dnsSan(): Bytes | null {
    return this.bytesOf(this.dns);
  }

  xfcc(): Bytes | null {
    return this.bytesOf(this.header);
  }

  peerCertificate(): Bytes | null {
    return this.bytesOf(this.pem);
  }
}
