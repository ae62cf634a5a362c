// Byte sources for the reader's specs: the whole text at once, or a few bytes per read, so every
// token of a document straddles a window refill somewhere.
import { BufferSource, ByteSource } from "../config/json";

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
