// Renders the Envoy templates of this folder (gateway.yaml, sidecar.yaml, filter.yaml, and the
// benchmark's load-client.yaml). A template is
// valid YAML whose placeholders are quoted strings: "{{PORT}}" alone is replaced by the value itself
// (a number stays a number), "{{PKI_DIR}}/ca.crt" by text. Every placeholder must have a value, so a
// template never reaches Envoy half-filled. The result is a plain object: the tests adjust it (say, a
// path normalisation setting) before writing it, `npm start` and docker compose write it as it is.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';

const envoyDir = new URL('.', import.meta.url).pathname;

export type Template = 'gateway' | 'sidecar' | 'filter' | 'load-client';
export type Values = Record<string, string | number>;
// Envoy's configuration is walked and adjusted freely by its users; Envoy validates it.
// biome-ignore lint/suspicious/noExplicitAny: Envoy's configuration is any shape Envoy validates
export type EnvoyConfig = any;

const WHOLE = /^\{\{([A-Z_]+)\}\}$/;
const PART = /\{\{([A-Z_]+)\}\}/g;

function fill(node: unknown, values: Values, template: string): unknown {
  if (typeof node === 'string') {
    const value = (name: string) => {
      if (!(name in values)) throw new Error(`envoy/${template}.yaml: no value for {{${name}}}`);
      return values[name];
    };
    const whole = WHOLE.exec(node);
    if (whole) return value(whole[1]);
    return node.replace(PART, (_, name: string) => String(value(name)));
  }
  if (Array.isArray(node)) return node.map((item) => fill(item, values, template));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([key, item]) => [key, fill(item, values, template)]));
  }
  return node;
}

export function render(template: Template, values: Values): EnvoyConfig {
  return fill(parse(readFileSync(join(envoyDir, `${template}.yaml`), 'utf8')), values, template);
}

/**
 * Writes a configuration as YAML, atomically: Envoy's file watchers react to a file moved into place,
 * and never see one half-written.
 */
export function writeConfig(file: string, config: EnvoyConfig): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.next`, stringify(config, { lineWidth: 0 }));
  renameSync(`${file}.next`, file);
}
