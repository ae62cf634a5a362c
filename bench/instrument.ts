// Counts the WebAssembly instructions a module executes, exactly: every function body is cut into
// straight-line segments (a segment ends at a branch, a block boundary or a return), and each segment
// starts by adding its number of instructions to its function's own i64 counter, a global exported as
// `__count_<function index>`. The count is the module's, whatever machine or host runs it; the
// inserted code is not counted. Covers the features AssemblyScript emits by default (MVP,
// sign-extension, non-trapping float-to-int, bulk memory, mutable globals); anything else is refused.

import { WasmCursor } from '../host/wasm-binary.js';

export class InstrumentError extends Error {}

function u32Leb(value: number): number[] {
  const out: number[] = [];
  do {
    let b = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) b |= 0x80;
    out.push(b);
  } while (value !== 0);
  return out;
}

function s64Leb(value: number): number[] {
  // Counts are small and positive: a signed LEB128 only needs room for the sign bit.
  const out: number[] = [];
  for (;;) {
    const b = value & 0x7f;
    value = Math.floor(value / 128);
    if (value === 0 && (b & 0x40) === 0) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

// A growing byte buffer (spreading large arrays into push would overflow the stack).
class Builder {
  private buffer = new Uint8Array(1 << 16);
  length = 0;

  push(...values: number[]): void {
    for (const v of values) this.byte(v);
  }

  byte(value: number): void {
    if (this.length === this.buffer.length) {
      const grown = new Uint8Array(this.buffer.length * 2);
      grown.set(this.buffer);
      this.buffer = grown;
    }
    this.buffer[this.length++] = value;
  }

  bytes(values: Uint8Array): void {
    while (this.length + values.length > this.buffer.length) {
      const grown = new Uint8Array(this.buffer.length * 2);
      grown.set(this.buffer);
      this.buffer = grown;
    }
    this.buffer.set(values, this.length);
    this.length += values.length;
  }

  // Appends another builder's bytes behind their length, as sections and function bodies are written.
  sized(content: Builder): void {
    this.push(...u32Leb(content.length));
    this.bytes(content.result());
  }

  result(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

// Skips one instruction's immediates; returns whether the instruction ends a straight-line segment.
function skipImmediates(op: number, r: WasmCursor): boolean {
  switch (op) {
    case 0x00: // unreachable
    case 0x0f: // return
    case 0x05: // else
    case 0x0b: // end
      return true;
    case 0x02: // block
    case 0x03: // loop
    case 0x04: {
      // if; the block type is 0x40, a value type, or a type index (a positive s33)
      const first = r.bytes[r.pos];
      if (first === 0x40 || (first >= 0x6f && first <= 0x7f)) r.pos++;
      else r.skipLeb();
      return true;
    }
    case 0x0c: // br
    case 0x0d: // br_if
      r.u32();
      return true;
    case 0x0e: {
      // br_table
      for (let n = r.u32(); n >= 0; n--) r.u32();
      return true;
    }
    case 0x10: // call
      r.u32();
      return false;
    case 0x11: // call_indirect
      r.u32();
      r.u32();
      return false;
    case 0x1c: {
      // select with types
      for (let n = r.u32(); n > 0; n--) r.byte();
      return false;
    }
    case 0x3f: // memory.size
    case 0x40: // memory.grow
      r.byte();
      return false;
    case 0x41: // i32.const
    case 0x42: // i64.const
      r.skipLeb();
      return false;
    case 0x43: // f32.const
      r.pos += 4;
      return false;
    case 0x44: // f64.const
      r.pos += 8;
      return false;
    case 0xfc: {
      const sub = r.u32();
      if (sub <= 7) return false; // saturating truncations
      if (sub === 8) {
        r.u32();
        r.byte();
      } else if (sub === 9) r.u32();
      else if (sub === 10) {
        r.byte();
        r.byte();
      } else if (sub === 11) r.byte();
      else throw new InstrumentError(`unsupported instruction 0xfc ${sub}`);
      return false;
    }
  }
  if (op >= 0x20 && op <= 0x24) {
    r.u32(); // local.get/set/tee, global.get/set
    return false;
  }
  if (op >= 0x28 && op <= 0x3e) {
    r.u32(); // memarg: alignment, offset
    r.u32();
    return false;
  }
  if (op === 0x01 || op === 0x1a || op === 0x1b || (op >= 0x45 && op <= 0xc4)) return false;
  throw new InstrumentError(`unsupported instruction 0x${op.toString(16)} at byte ${r.pos - 1}`);
}

export interface InstrumentedModule {
  binary: Uint8Array;
  // The index of the first function defined by the module (imports come first).
  firstDefined: number;
  // How many functions the module defines; counter i counts function firstDefined + i.
  defined: number;
}

export function instrument(binary: Uint8Array): InstrumentedModule {
  if (binary[0] !== 0 || binary[1] !== 0x61 || binary[2] !== 0x73 || binary[3] !== 0x6d) throw new InstrumentError('not a WebAssembly module');
  const sections: { id: number; start: number; end: number }[] = [];
  let pos = 8;
  while (pos < binary.length) {
    const r = new WasmCursor(binary, pos);
    const id = r.byte();
    const size = r.u32();
    sections.push({ id, start: r.pos, end: r.pos + size });
    pos = r.pos + size;
  }
  let importedFunctions = 0;
  let importedGlobals = 0;
  let definedGlobals = 0;
  let defined = 0;
  for (const s of sections) {
    const r = new WasmCursor(binary, s.start, s.end);
    if (s.id === 2) {
      for (let n = r.u32(); n > 0; n--) {
        r.name();
        r.name();
        const kind = r.byte();
        if (kind === 0) {
          importedFunctions++;
          r.u32();
        } else if (kind === 1) {
          r.byte();
          if (r.byte() & 1) r.u32();
          r.u32();
        } else if (kind === 2) {
          if (r.byte() & 1) r.u32();
          r.u32();
        } else {
          importedGlobals++;
          r.byte();
          r.byte();
        }
      }
    } else if (s.id === 3) defined = r.u32();
    else if (s.id === 6) definedGlobals = r.u32();
  }
  const firstCounter = importedGlobals + definedGlobals;
  const counterInit = [0x7e, 0x01, 0x42, 0x00, 0x0b];

  const out = new Builder();
  out.push(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);
  const writeSection = (id: number, content: Builder) => {
    out.byte(id);
    out.sized(content);
  };
  let wroteGlobals = false;
  const globals = (existing: WasmCursor | null): void => {
    const body = new Builder();
    body.push(...u32Leb(definedGlobals + defined));
    if (existing) {
      existing.u32();
      body.bytes(existing.bytes.subarray(existing.pos, existing.end));
    }
    for (let i = 0; i < defined; i++) body.push(...counterInit);
    writeSection(6, body);
    wroteGlobals = true;
  };
  for (const s of sections) {
    const r = new WasmCursor(binary, s.start, s.end);
    // The global section comes before exports: add one if the module has none.
    if (!wroteGlobals && s.id > 6) globals(null);
    if (s.id === 6) {
      globals(r);
    } else if (s.id === 7) {
      const count = r.u32();
      const body = new Builder();
      body.push(...u32Leb(count + defined));
      body.bytes(binary.subarray(r.pos, s.end));
      for (let i = 0; i < defined; i++) {
        const name = new TextEncoder().encode(`__count_${importedFunctions + i}`);
        body.push(...u32Leb(name.length));
        body.bytes(name);
        body.push(0x03, ...u32Leb(firstCounter + i));
      }
      writeSection(7, body);
    } else if (s.id === 10) {
      const count = r.u32();
      const body = new Builder();
      body.push(...u32Leb(count));
      for (let f = 0; f < count; f++) {
        const size = r.u32();
        body.sized(countedBody(new WasmCursor(binary, r.pos, r.pos + size), firstCounter + f));
        r.pos += size;
      }
      writeSection(10, body);
    } else {
      const body = new Builder();
      body.bytes(binary.subarray(s.start, s.end));
      writeSection(s.id, body);
    }
  }
  return { binary: out.result().slice(), firstDefined: importedFunctions, defined };
}

// One function body with a counter update at the start of every segment.
function countedBody(r: WasmCursor, counter: number): Builder {
  const out = new Builder();
  const localsStart = r.pos;
  for (let n = r.u32(); n > 0; n--) {
    r.u32();
    r.byte();
  }
  out.bytes(r.bytes.subarray(localsStart, r.pos));
  let segmentStart = r.pos;
  let instructions = 0;
  while (r.pos < r.end) {
    const op = r.byte();
    instructions++;
    const ends = skipImmediates(op, r);
    if (ends || r.pos === r.end) {
      out.push(0x23, ...u32Leb(counter), 0x42, ...s64Leb(instructions), 0x7c, 0x24, ...u32Leb(counter));
      out.bytes(r.bytes.subarray(segmentStart, r.pos));
      segmentStart = r.pos;
      instructions = 0;
    }
  }
  return out;
}
