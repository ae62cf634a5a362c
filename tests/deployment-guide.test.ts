// The README's deployment guide, executed: every `npx cert-allowlist` command of the "Deploying to
// Istio" section runs in order against a real registry, and every YAML block is checked against
// Istio's schemas. If the guide and the tool drift apart, this fails.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'yaml';
import { Gateway } from '@kubernetes-models/istio/networking.istio.io/v1alpha3/Gateway';
import { WasmPlugin } from '@kubernetes-models/istio/extensions.istio.io/v1alpha1/WasmPlugin';
import { ensureDemoPki } from '../demo/pki.js';

const root = new URL('../', import.meta.url).pathname;
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## Deploying to Istio'), readme.indexOf('\n## ', readme.indexOf('## Deploying to Istio') + 5));
const blocks = (lang: string) => [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);

let dir: string;
let registryProcess: ChildProcess;
const env: Record<string, string> = {};

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cert-allowlist-guide-'));
  const pki = ensureDemoPki(join(root, 'build/pki'));
  copyFileSync(pki.cert('allowed'), join(dir, 'client.pem'));
  copyFileSync(pki.cert('multi-san'), join(dir, 'acme-2027.pem'));
  const partner = readFileSync(pki.cert('escaped'), 'utf8');
  writeFileSync(join(dir, 'partner-secret.yaml'), `apiVersion: v1\nkind: Secret\nmetadata:\n  name: partner-client-certs\n  namespace: partners\ndata:\n  tls.crt: ${Buffer.from(partner).toString('base64')}\n`);
  writeFileSync(join(dir, 'allowlist.json'), '{\n  "allow": []\n}\n');
  const port = await freePort();
  writeFileSync(join(dir, 'registry.yml'), `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'storage')}\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  registryProcess = spawn('docker-registry', ['serve', join(dir, 'registry.yml')], { stdio: 'ignore' });
  for (let i = 0; i < 100 && (await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.status, () => 0)) !== 200; i++) await sleep(100);
  env.REGISTRY = `127.0.0.1:${port}`;
});
after(() => {
  registryProcess?.kill();
  rmSync(dir, { recursive: true, force: true });
});

describe('the deployment guide', () => {
  it('shows manifests Istio accepts', () => {
    const yaml = blocks('yaml');
    assert.ok(yaml.length > 0);
    for (const text of yaml) {
      const manifest = parse(text);
      const model = manifest.kind === 'Gateway' ? new Gateway(manifest) : new WasmPlugin(manifest);
      model.validate();
    }
  });

  it('runs every cert-allowlist command, in order', { timeout: 120_000 }, () => {
    const commands = blocks('sh').flatMap((block) => block.split('\n')).filter((line) => line.startsWith('npx cert-allowlist') || line.startsWith('npm run build'));
    assert.ok(commands.length >= 8, commands.join('\n'));
    for (const command of commands) {
      if (command.startsWith('npm run build')) continue; // npm test builds first
      // The test registry speaks plain HTTP; a real one speaks TLS.
      const line = command.includes('image push') ? `${command} --insecure --json` : command;
      const args = line.replace(/^npx cert-allowlist /, '').replace(/\$(\w+)/g, (_, name: string) => env[name] ?? assert.fail(`$${name} is not set yet`)).split(' ');
      let output: string;
      try {
        output = execFileSync('node', [join(root, 'bin/cert-allowlist.mjs'), ...args], { cwd: dir, encoding: 'utf8' });
      } catch (error) {
        assert.fail(`${command}\n${(error as { stderr?: string }).stderr ?? error}`);
      }
      if (command.includes('image push')) env.DIGEST = JSON.parse(output).sha256;
      if (command.includes('render wasmplugin')) {
        const manifest = parse(output);
        assert.equal(manifest.spec.phase, 'AUTHN');
        assert.equal(manifest.spec.failStrategy, 'FAIL_CLOSE');
        assert.equal(manifest.spec.sha256, env.DIGEST);
        assert.equal(manifest.spec.url, `oci://${env.REGISTRY}/cert-allowlist@sha256:${env.DIGEST}`);
      }
      if (command.includes('explain')) assert.match(output, /^allow: rule "acme-batch"/);
    }
    const allowlist = JSON.parse(readFileSync(join(dir, 'allowlist.json'), 'utf8'));
    assert.deepEqual(allowlist.allow.map((r: { name: string }) => r.name), ['acme-batch', 'partner-client-certs', 'acme-batch-2027']);
  });
});
