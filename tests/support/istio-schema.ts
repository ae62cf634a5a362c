// Istio's own CRD schemas — what the Kubernetes API server checks a WasmPlugin, EnvoyFilter or
// Gateway against — from the istio.io/api Go module of a pinned release, fetched through the Go module
// proxy (checked against the Go checksum database) into build/go. Two checks, as the API server makes
// them: the object must match the structural schema, and no field may lie outside it (the API server
// would prune such a field without a word, so a typo would silently vanish).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { parseAllDocuments } from 'yaml';

/** The istio.io/api release whose CRDs the manifests are checked against (Istio 1.28). */
export const ISTIO_API = 'v1.28.0';
const ROOT = new URL('../..', import.meta.url).pathname;

type Schema = {
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: boolean | Schema;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  [key: string]: unknown;
};

let crds: Map<string, Schema> | null = null;

function download(): string {
  try {
    const out = execFileSync('go', ['mod', 'download', '-json', `istio.io/api@${ISTIO_API}`], {
      encoding: 'utf8',
      env: { ...process.env, GOMODCACHE: join(ROOT, 'build/go'), GOFLAGS: '-modcacherw' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return JSON.parse(out).Dir as string;
  } catch (error) {
    throw new Error(`cannot fetch istio.io/api@${ISTIO_API} through the Go module proxy (go mod download): ${(error as { stderr?: string }).stderr ?? error}`);
  }
}

function schemas(): Map<string, Schema> {
  if (crds) return crds;
  crds = new Map();
  const text = readFileSync(join(download(), 'kubernetes/customresourcedefinitions.gen.yaml'), 'utf8');
  for (const doc of parseAllDocuments(text)) {
    const crd = doc.toJS();
    if (crd?.kind !== 'CustomResourceDefinition') continue;
    for (const version of crd.spec.versions) crds.set(`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`, version.schema.openAPIV3Schema);
  }
  return crds;
}

// Paths of fields the schema does not describe (the API server prunes them).
function pruned(value: unknown, schema: Schema | undefined, path: string, out: string[]): void {
  if (schema === undefined || schema['x-kubernetes-preserve-unknown-fields']) return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      pruned(item, schema.items, `${path}[${i}]`, out);
    });
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [key, child] of Object.entries(value)) {
    const described = schema.properties?.[key] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    if (described === undefined && schema.additionalProperties !== true) out.push(`${path}.${key}`);
    else pruned(child, described, `${path}.${key}`, out);
  }
}

/** What Istio's CRD schema says is wrong with a manifest (an empty list: nothing). */
export function istioSchemaProblems(manifest: { apiVersion?: string; kind?: string; spec?: unknown }): string[] {
  const schema = schemas().get(`${manifest.apiVersion}/${manifest.kind}`);
  if (!schema) return [`no Istio ${ISTIO_API} CRD for ${manifest.apiVersion} ${manifest.kind}`];
  const ajv = new Ajv.default({ strict: false, validateFormats: false, allErrors: true });
  const validate = ajv.compile({
    ...schema,
    properties: { ...schema.properties, metadata: { type: 'object' }, apiVersion: { type: 'string' }, kind: { type: 'string' } },
  });
  const problems = validate(manifest)
    ? []
    : (validate.errors ?? []).map(
        (e) => `${e.instancePath || '/'} ${e.message}${e.params && 'allowedValues' in e.params ? ` (${(e.params.allowedValues as string[]).join(', ')})` : ''}`,
      );
  const extra: string[] = [];
  pruned(manifest.spec, schema.properties?.spec, 'spec', extra);
  return [...problems, ...extra.map((path) => `${path}: not in Istio's schema, the API server would drop it`)];
}
