// Counts the instructions a module executes, per request and per function, through the lean host.
import { WasmCursor } from '../host/wasm-binary.js';
import { instrument } from './instrument.js';
import { LeanHost, type LeanOutcome, type LeanRequest } from './lean-host.js';

// The function names of a module's name section (a build with --debug has one), by function index.
export function functionNames(binary: Uint8Array): Map<number, string> {
  const names = new Map<number, string>();
  const module = new WebAssembly.Module(binary as Uint8Array<ArrayBuffer>);
  const section = WebAssembly.Module.customSections(module, 'name')[0];
  if (!section) return names;
  const r = new WasmCursor(new Uint8Array(section));
  while (r.pos < r.end) {
    const id = r.byte();
    const end = r.u32() + r.pos;
    // Subsection 1: function names.
    if (id === 1) {
      for (let n = r.u32(); n > 0; n--) {
        const index = r.u32();
        names.set(index, r.name());
      }
    }
    r.pos = end;
  }
  return names;
}

export interface Counts {
  mean: number;
  max: number;
  /** How many requests took more than twice the mean (a collection, say). */
  overTwiceMean: number;
}

export class CountingHost {
  private readonly counters: WebAssembly.Global[];

  private constructor(
    readonly host: LeanHost,
    private readonly firstDefined: number,
    readonly names: Map<number, string>,
  ) {
    const exports = host.wasm as Record<string, WebAssembly.Global>;
    this.counters = [];
    for (let i = 0; exports[`__count_${firstDefined + i}`]; i++) this.counters.push(exports[`__count_${firstDefined + i}`]);
  }

  static async load(binary: Uint8Array): Promise<CountingHost> {
    const counted = instrument(binary);
    return new CountingHost(await LeanHost.load(counted.binary), counted.firstDefined, functionNames(binary));
  }

  // Instructions executed so far, in all.
  total(): number {
    let sum = 0n;
    for (const counter of this.counters) sum += counter.value as bigint;
    return Number(sum);
  }

  private perFunction(): bigint[] {
    return this.counters.map((c) => c.value as bigint);
  }

  // Configures; returns whether the module took it and the instructions it took.
  configure(configuration: Uint8Array): { accepted: boolean; instructions: number } {
    const before = this.total();
    const accepted = this.host.configure(configuration);
    return { accepted, instructions: this.total() - before };
  }

  // `count` requests after `warmUp` more: the mean and the largest single request.
  requests(request: LeanRequest, count: number, warmUp: number, check: (outcome: LeanOutcome) => void): Counts {
    for (let i = 0; i < warmUp; i++) check(this.host.send(request));
    const spent: number[] = [];
    for (let i = 0; i < count; i++) {
      const before = this.total();
      check(this.host.send(request));
      spent.push(this.total() - before);
    }
    const mean = spent.reduce((a, b) => a + b, 0) / count;
    return { mean, max: Math.max(...spent), overTwiceMean: spent.filter((n) => n > 2 * mean).length };
  }

  // Per function, the instructions `work` executes divided by `per`, largest first.
  private spentBy(work: () => void, per: number): { name: string; instructions: number }[] {
    const before = this.perFunction();
    work();
    const after = this.perFunction();
    return after
      .map((value, i) => ({
        name: this.names.get(this.firstDefined + i) ?? `function ${this.firstDefined + i}`,
        instructions: Number(value - before[i]) / per,
      }))
      .filter((row) => row.instructions > 0)
      .sort((a, b) => b.instructions - a.instructions);
  }

  // Per function, the mean instructions per request over `count` requests, largest first.
  breakdown(request: LeanRequest, count: number): { name: string; instructions: number }[] {
    return this.spentBy(() => {
      for (let i = 0; i < count; i++) this.host.send(request);
    }, count);
  }

  // Per function, the instructions configuring `rules` rules took, per rule, largest first.
  configureBreakdown(configuration: Uint8Array, rules: number): { name: string; instructions: number }[] {
    return this.spentBy(() => {
      if (!this.host.configure(configuration)) throw new Error('configuration refused');
    }, rules);
  }
}
