// The README's deployment guide, executed as a user outside the checkout would: in an empty
// directory, the package `npm pack` makes is installed with the guide's own `npm install` line, and
// every `npx cert-allowlist` command of the "Deploying to Istio" section runs in order — through the
// installed command, against a real registry — and every YAML block is checked against Istio's CRD
// schemas. If the guide, the package and the tool drift apart, this fails.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'yaml';
import { ensureDemoPki } from '../demo/pki.js';
import { istioSchemaProblems } from './support/istio-schema.js';

const root = new URL('../', import.meta.url).pathname;
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## Deploying to Istio'), readme.indexOf('\n## ', readme.indexOf('## Deploying to Istio') + 5));
const blocks = (lang: string) => [...section.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]);

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
  // The package as npm pack makes it (prepack builds the module and the CLI), beside the guide's files.
  const output = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  // The builds prepack runs print first; npm's JSON report comes last.
  const packed = JSON.parse(output.slice(output.lastIndexOf('\n[') + 1))[0];
  env.TARBALL = packed.filename;
  const pki = ensureDemoPki(join(root, 'build/pki'));
  copyFileSync(pki.cert('allowed'), join(dir, 'client.pem'));
  copyFileSync(pki.cert('multi-san'), join(dir, 'acme-2027.pem'));
  const partner = readFileSync(pki.cert('escaped'), 'utf8');
  writeFileSync(
    join(dir, 'partner-secret.yaml'),
    `apiVersion: v1\nkind: Secret\nmetadata:\n  name: partner-client-certs\n  namespace: partners\ndata:\n  tls.crt: ${Buffer.from(partner).toString('base64')}\n`,
  );
  writeFileSync(join(dir, 'allowlist.json'), '{\n  "allow": []\n}\n');
  const port = await freePort();
  writeFileSync(
    join(dir, 'registry.yml'),
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'storage')}\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  );
  registryProcess = spawn('docker-registry', ['serve', join(dir, 'registry.yml')], { stdio: 'ignore' });
  for (
    let i = 0;
    i < 100 &&
    (await fetch(`http://127.0.0.1:${port}/v2/`).then(
      (r) => r.status,
      () => 0,
    )) !== 200;
    i++
  )
    await sleep(100);
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
      assert.deepEqual(istioSchemaProblems(manifest), [], text);
    }
  });

  it('runs every command, in order, with nothing but the packed CLI', { timeout: 300_000 }, () => {
    const commands = blocks('sh')
      .flatMap((block) => block.split('\n'))
      .filter((line) => line.startsWith('npx cert-allowlist') || line.startsWith('npm '));
    assert.ok(commands.length >= 8, commands.join('\n'));
    assert.ok(commands[0].startsWith('npm install'), `the guide installs the CLI first: ${commands[0]}`);
    for (const command of commands) {
      if (command.startsWith('npm ')) {
        assert.equal(command, `npm install ./${env.TARBALL}`, 'the guide installs the tarball npm pack makes');
        execFileSync('npm', ['init', '-y'], { cwd: dir, stdio: 'ignore' });
        execFileSync('npm', ['install', '--no-audit', '--no-fund', `./${env.TARBALL}`], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
        // Compiled JavaScript: nothing that compiles TypeScript or AssemblyScript at run time.
        for (const heavy of ['tsx', 'typescript', 'assemblyscript', 'esbuild'])
          assert.ok(!existsSync(join(dir, 'node_modules', heavy)), `${heavy} installed with the CLI`);
        const start = process.hrtime.bigint();
        execFileSync(join(dir, 'node_modules/.bin/cert-allowlist'), ['--help'], { cwd: dir, stdio: 'ignore' });
        console.log(`cert-allowlist --help: ${Number(process.hrtime.bigint() - start) / 1e6} ms`);
        continue;
      }
      // The test registry speaks plain HTTP; a real one speaks TLS.
      const line = command.includes('image push') ? `${command} --insecure --json` : command;
      const args = line
        .replace(/^npx cert-allowlist /, '')
        .replace(/\$(\w+)/g, (_, name: string) => env[name] ?? assert.fail(`$${name} is not set yet`))
        .split(' ');
      let output: string;
      try {
        output = execFileSync(join(dir, 'node_modules/.bin/cert-allowlist'), args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (error) {
        assert.fail(`${command}\n${(error as { stderr?: string }).stderr ?? error}`);
      }
      if (command.includes('image push')) env.DIGEST = JSON.parse(output).sha256;
      if (command.includes('render wasmplugin')) {
        const manifest = parse(output);
        assert.deepEqual(istioSchemaProblems(manifest), []);
        assert.equal(manifest.spec.phase, 'AUTHN');
        assert.equal(manifest.spec.sha256, env.DIGEST);
        assert.equal(manifest.spec.url, `oci://${env.REGISTRY}/cert-allowlist@sha256:${env.DIGEST}`);
      }
      if (command.includes('explain')) assert.match(output, /^allow: rule "acme-batch"/);
    }
    const allowlist = JSON.parse(readFileSync(join(dir, 'allowlist.json'), 'utf8'));
    assert.deepEqual(
      allowlist.allow.map((r: { name: string }) => r.name),
      ['acme-batch', 'partner-client-certs/tls.crt', 'acme-batch-2027'],
    );
    assert.equal(allowlist.allow[0].notAfter, '2027-01-31T00:00:00Z', 'rotate ended the old rule');
  });
});
