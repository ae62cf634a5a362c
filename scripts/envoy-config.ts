// Renders envoy/lds.template.yaml with the plugin configuration embedded, into
// build/envoy/listeners/lds.yaml. `npm run envoy:render [-- --config FILE]`.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
export const LISTENERS_FILE = join(root, 'build/envoy/listeners/lds.yaml');

/** The listener file for `configuration` (JSON text): a JSON string is a valid YAML scalar. */
export function renderListeners(configuration: string): string {
  const template = readFileSync(join(root, 'envoy/lds.template.yaml'), 'utf8');
  return template.replace('{{PLUGIN_CONFIGURATION}}', JSON.stringify(configuration));
}

export function writeListeners(configuration: string, file = LISTENERS_FILE): void {
  mkdirSync(dirname(file), { recursive: true });
  // Envoy's filesystem subscription reacts to a file moved into place.
  writeFileSync(`${file}.next`, renderListeners(configuration));
  renameSync(`${file}.next`, file);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { config: { type: 'string', default: join(root, 'filter-config/cert-allowlist.json') } } });
  writeListeners(readFileSync(values.config!, 'utf8'));
  console.log(`wrote ${LISTENERS_FILE}`);
}
