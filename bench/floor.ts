// The floor module (bench/floor.wat) assembled: a proxy-wasm module with no SDK and no logic, which
// makes a request's host calls and nothing else — what any wasm filter costs before it decides.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import wabtInit from 'wabt';
import { ROOT } from './scenarios.js';

export async function floorModule(): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const module = wabt.parseWat('floor.wat', readFileSync(join(ROOT, 'bench/floor.wat'), 'utf8'));
  const binary = new Uint8Array(module.toBinary({}).buffer);
  module.destroy();
  return binary;
}

/** The floor module written to build/bench/floor.wasm (for Envoy, which loads files); its path. */
export async function floorModuleFile(): Promise<string> {
  const file = join(ROOT, 'build/bench/floor.wasm');
  mkdirSync(join(ROOT, 'build/bench'), { recursive: true });
  writeFileSync(file, await floorModule());
  return file;
}
