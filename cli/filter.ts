// The filter as the CLI uses it: the compiled module in the Envoy-faithful host, so `check` and
// `explain` give exactly the filter's answers (the CLI never re-implements the rules).
import { existsSync, readFileSync } from 'node:fs';
import { EnvoyHost } from '../host/index.js';

export const MODULE = new URL('../build/cert-allowlist.wasm', import.meta.url).pathname;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
  }
}

/** Throws when `text` is not JSON, naming the file, line and column. */
export function jsonProblem(file: string, text: string): void {
  try {
    JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const at = Number(/at position (\d+)/.exec(message)?.[1] ?? text.length);
    const before = text.slice(0, at).split('\n');
    throw new CliError(
      `${file}:${before.length}:${before[before.length - 1].length + 1}: not valid JSON (${message.replace(/ in JSON at position \d+.*$/, '').replace(/^JSON\.parse: /, '')})`,
    );
  }
}

const MISSING = `${MODULE} is missing: in a checkout, npm run build makes it (the installed package carries it)`;

/** The filter's release module, as image build and push ship it. */
export function moduleBytes(): Buffer {
  if (!existsSync(MODULE)) throw new CliError(MISSING);
  return readFileSync(MODULE);
}

export async function loadFilter(): Promise<EnvoyHost> {
  if (!existsSync(MODULE)) throw new CliError(MISSING);
  return EnvoyHost.load(MODULE, { canary: false });
}

/** Configures the filter; returns null when accepted, else the filter's own error line. */
export async function validate(text: string): Promise<string | null> {
  const host = await loadFilter();
  if (host.configure(text)) return null;
  return host
    .logsAtLeast('error')
    .map((entry) => entry.message.replace(/^cert-allowlist: rejected configuration: /, ''))
    .join('; ');
}
