// Reads the parts of a WebAssembly binary that Envoy checks before running a module: the import
// section (names, kinds, function signatures) and the export section. Node's JS API accepts any JS
// function for any import, so the host must read signatures itself to refuse what Envoy refuses.

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';

export interface FuncType {
  params: ValType[];
  results: ValType[];
}

export type ExternKind = 'function' | 'table' | 'memory' | 'global';

export interface ImportEntry {
  module: string;
  name: string;
  kind: ExternKind;
  type?: FuncType;
}

export interface ExportEntry {
  name: string;
  kind: ExternKind;
  type?: FuncType;
}

export interface ModuleShape {
  imports: ImportEntry[];
  exports: ExportEntry[];
}

const VAL_TYPES: Record<number, ValType> = {
  127: 'i32',
  126: 'i64',
  125: 'f32',
  124: 'f64',
  123: 'v128',
  112: 'funcref',
  111: 'externref',
};

const KINDS: ExternKind[] = ['function', 'table', 'memory', 'global'];

export class WasmFormatError extends Error {}

/** A reader of WebAssembly's binary encoding over bytes [start, end): the host's import check, the
 * benchmark's instrumenter and its name-section reader all read modules through it. */
export class WasmCursor {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.pos = start;
  }

  byte(): number {
    if (this.pos >= this.end) throw new WasmFormatError(`unexpected end at byte ${this.pos}`);
    return this.bytes[this.pos++];
  }

  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new WasmFormatError('LEB128 value too long');
    }
  }

  /** A signed LEB128 of any width, skipped. */
  skipLeb(): void {
    while (this.byte() & 0x80);
  }

  name(): string {
    const length = this.u32();
    if (this.pos + length > this.end) throw new WasmFormatError('name runs past its section');
    const text = new TextDecoder().decode(this.bytes.subarray(this.pos, this.pos + length));
    this.pos += length;
    return text;
  }

  valType(): ValType {
    const code = this.byte();
    const type = VAL_TYPES[code];
    if (!type) throw new WasmFormatError(`unknown value type 0x${code.toString(16)}`);
    return type;
  }

  limits(): void {
    const flags = this.byte();
    this.u32();
    if (flags & 1) this.u32();
  }
}

export function formatFuncType(type: FuncType): string {
  return `(${type.params.join(', ')}) -> (${type.results.join(', ')})`;
}

export function sameFuncType(a: FuncType, b: FuncType): boolean {
  return formatFuncType(a) === formatFuncType(b);
}

export function readModuleShape(bytes: Uint8Array): ModuleShape {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new WasmFormatError('not a WebAssembly module (bad magic)');
  }
  const types: FuncType[] = [];
  const imports: ImportEntry[] = [];
  const functionTypes: number[] = [];
  const rawExports: { name: string; kind: ExternKind; index: number }[] = [];
  let pos = 8;
  while (pos < bytes.length) {
    const header = new WasmCursor(bytes, pos);
    const id = header.byte();
    const size = header.u32();
    const start = header.pos;
    const end = start + size;
    if (end > bytes.length) throw new WasmFormatError(`section ${id} runs past the end of the module`);
    const c = new WasmCursor(bytes, start, end);
    if (id === 1) {
      for (let n = c.u32(); n > 0; n--) {
        const form = c.byte();
        if (form !== 0x60) throw new WasmFormatError(`unsupported type form 0x${form.toString(16)}`);
        const params: ValType[] = [];
        for (let p = c.u32(); p > 0; p--) params.push(c.valType());
        const results: ValType[] = [];
        for (let r = c.u32(); r > 0; r--) results.push(c.valType());
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = c.u32(); n > 0; n--) {
        const module = c.name();
        const name = c.name();
        const kindCode = c.byte();
        const kind = KINDS[kindCode];
        if (!kind) throw new WasmFormatError(`unknown import kind ${kindCode}`);
        if (kind === 'function') {
          const typeIndex = c.u32();
          const type = types[typeIndex];
          if (!type) throw new WasmFormatError(`import ${module}.${name} names an unknown type`);
          imports.push({ module, name, kind, type });
          functionTypes.push(typeIndex);
        } else {
          if (kind === 'table') {
            c.byte();
            c.limits();
          } else if (kind === 'memory') {
            c.limits();
          } else {
            c.valType();
            c.byte();
          }
          imports.push({ module, name, kind });
        }
      }
    } else if (id === 3) {
      for (let n = c.u32(); n > 0; n--) functionTypes.push(c.u32());
    } else if (id === 7) {
      for (let n = c.u32(); n > 0; n--) {
        const name = c.name();
        const kind = KINDS[c.byte()] ?? 'function';
        rawExports.push({ name, kind, index: c.u32() });
      }
    }
    pos = end;
  }
  const exports = rawExports.map(({ name, kind, index }) => (kind === 'function' ? { name, kind, type: types[functionTypes[index]] } : { name, kind }));
  return { imports, exports };
}
