// The filter's OCI image against a real registry: Debian's docker-registry, started here on a free
// loopback port without authentication, with htpasswd authentication, and with TLS. Push, pull back
// through the registry API (and skopeo), compare byte for byte, check the media types Istio needs.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { main } from '../cli/main.js';
import { MODULE } from '../cli/filter.js';
import { MEDIA, readLayout } from '../cli/oci.js';
import { parseReference, pull } from '../cli/registry.js';
import { ensureDemoPki } from '../demo/pki.js';

const root = new URL('../', import.meta.url).pathname;
let dir: string;
const registries: ChildProcess[] = [];

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (text) => void (out += text), err: (text) => void (err += text) });
  return { code, out, err };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function startRegistry(name: string, options: { htpasswd?: boolean; tls?: boolean } = {}): Promise<string> {
  const port = await freePort();
  const home = join(dir, name);
  execFileSync('mkdir', ['-p', join(home, 'storage')]);
  const pki = ensureDemoPki(join(root, 'build/pki'));
  let config = `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(home, 'storage')}\nhttp:\n  addr: 127.0.0.1:${port}\n`;
  if (options.tls) config += `  tls:\n    certificate: ${pki.serverCert}\n    key: ${pki.serverKey}\n`;
  if (options.htpasswd) {
    writeFileSync(join(home, 'htpasswd'), execFileSync('htpasswd', ['-Bbn', 'pusher', 's3cret'], { encoding: 'utf8' }));
    config += `auth:\n  htpasswd:\n    realm: test\n    path: ${join(home, 'htpasswd')}\n`;
  }
  writeFileSync(join(home, 'config.yml'), config);
  const child = spawn('docker-registry', ['serve', join(home, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  registries.push(child);
  const scheme = options.tls ? 'https' : 'http';
  for (let i = 0; i < 100; i++) {
    const status = await fetch(`${scheme}://127.0.0.1:${port}/v2/`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200 || status === 401) return `${options.tls ? 'localhost' : '127.0.0.1'}:${port}`;
    if (options.tls && i > 5) {
      // fetch does not trust the demo CA; the TCP port answering is enough.
      const answering = await new Promise<boolean>((resolve) => {
        const socket = createServer();
        socket.once('error', () => resolve(true)).listen(port, '127.0.0.1', () => socket.close(() => resolve(false)));
      });
      if (answering) return `localhost:${port}`;
    }
    await sleep(100);
  }
  throw new Error(`docker-registry did not start on ${port}`);
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cert-allowlist-oci-'));
});
after(() => {
  for (const child of registries) child.kill();
  rmSync(dir, { recursive: true, force: true });
});

const sha = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

describe('image build', () => {
  it('writes an OCI layout with exactly two layers, the Wasm config and the module, reproducibly', async () => {
    const first = await cli('image', 'build', '--out', join(dir, 'a'));
    const second = await cli('image', 'build', '--out', join(dir, 'b'));
    assert.equal(first.code, 0);
    assert.equal(first.out.split('manifest ')[1], second.out.split('manifest ')[1], 'two builds, one digest');
    const image = readLayout(join(dir, 'a'));
    const manifest = JSON.parse(image.manifest.bytes.toString('utf8'));
    assert.equal(manifest.mediaType, MEDIA.manifest);
    assert.deepEqual(
      manifest.layers.map((l: { mediaType: string }) => l.mediaType),
      [MEDIA.wasmConfig, MEDIA.wasmLayer],
    );
    const wasm = image.blobs.find((b) => b.mediaType === MEDIA.wasmLayer)!;
    assert.ok(wasm.bytes.equals(readFileSync(MODULE)));
    assert.equal(wasm.bytes.subarray(0, 4).toString('latin1'), '\0asm');
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'a/oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
  });
  it('writes the compat form: one tar+gzip layer holding plugin.wasm', async () => {
    assert.equal((await cli('image', 'build', '--format', 'compat', '--out', join(dir, 'c'))).code, 0);
    const image = readLayout(join(dir, 'c'));
    const manifest = JSON.parse(image.manifest.bytes.toString('utf8'));
    assert.deepEqual(
      manifest.layers.map((l: { mediaType: string }) => l.mediaType),
      [MEDIA.tarGzipLayer],
    );
    const tar = gunzipSync(image.blobs.find((b) => b.mediaType === MEDIA.tarGzipLayer)!.bytes);
    assert.equal(tar.subarray(0, 11).toString('latin1'), 'plugin.wasm');
    const size = parseInt(tar.subarray(124, 135).toString('latin1'), 8);
    assert.ok(tar.subarray(512, 512 + size).equals(readFileSync(MODULE)));
    const listing = execFileSync('tar', ['-tvzf', '-'], { input: image.blobs.find((b) => b.mediaType === MEDIA.tarGzipLayer)!.bytes, encoding: 'utf8' });
    assert.match(listing, /plugin\.wasm/);
  });
});

describe('image push', () => {
  it('pushes to a registry and prints the digest reference; pulling back gives the same bytes', async () => {
    const registry = await startRegistry('open');
    const { code, out } = await cli('image', 'push', `${registry}/filters/cert-allowlist:1.0`, '--insecure', '--json');
    assert.equal(code, 0);
    const pushed = JSON.parse(out);
    assert.equal(pushed.url, `oci://${registry}/filters/cert-allowlist@${pushed.digest}`);
    const pulled = await pull(parseReference(`${registry}/filters/cert-allowlist:1.0`), { insecure: true });
    assert.equal(sha(pulled.manifest), pushed.digest);
    const manifest = JSON.parse(pulled.manifest.toString('utf8'));
    assert.deepEqual(
      manifest.layers.map((l: { mediaType: string }) => l.mediaType),
      [MEDIA.wasmConfig, MEDIA.wasmLayer],
    );
    assert.ok((await pulled.blob(manifest.layers[1].digest)).equals(readFileSync(MODULE)));
    const raw = execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry}/filters/cert-allowlist:1.0`]);
    assert.equal(sha(raw), pushed.digest, 'skopeo reads the same manifest');
  });
  it('pushes with htpasswd authentication, from --username and --password-stdin, and refuses without', async () => {
    const registry = await startRegistry('locked', { htpasswd: true });
    const refused = await cli('image', 'push', `${registry}/cert-allowlist:1`, '--insecure');
    assert.equal(refused.code, 1);
    assert.match(refused.err, /wants credentials/);
    const output = execFileSync(
      'node',
      ['--import', 'tsx', join(root, 'cli/bin.ts'), 'image', 'push', `${registry}/cert-allowlist:1`, '--insecure', '--username', 'pusher', '--password-stdin'],
      { input: 's3cret\n', encoding: 'utf8', cwd: root },
    );
    assert.match(output, /manifest digest: sha256:[0-9a-f]{64}/);
  });
  it("uses the credentials of Docker's config file", async () => {
    const registry = await startRegistry('docker-config', { htpasswd: true });
    const config = join(dir, 'docker');
    execFileSync('mkdir', ['-p', config]);
    writeFileSync(join(config, 'config.json'), JSON.stringify({ auths: { [registry]: { auth: Buffer.from('pusher:s3cret').toString('base64') } } }));
    process.env.DOCKER_CONFIG = config;
    try {
      assert.equal((await cli('image', 'push', `${registry}/cert-allowlist:2`, '--insecure')).code, 0);
    } finally {
      delete process.env.DOCKER_CONFIG;
    }
  });
  it("uses Docker's credential helpers (credHelpers, credsStore), and names a helper that cannot run", async () => {
    const registry = await startRegistry('helper', { htpasswd: true });
    const config = join(dir, 'docker-helper');
    const bin = join(dir, 'helper-bin');
    execFileSync('mkdir', ['-p', config, bin]);
    // A helper speaking Docker's protocol: the registry on stdin, {"Username","Secret"} out.
    writeFileSync(
      join(bin, 'docker-credential-test'),
      `#!/bin/sh\nread registry\n[ "$1" = get ] && [ "$registry" = "${registry}" ] && echo '{"ServerURL":"${registry}","Username":"pusher","Secret":"s3cret"}'\n`,
      { mode: 0o755 },
    );
    const saved = { DOCKER_CONFIG: process.env.DOCKER_CONFIG, PATH: process.env.PATH };
    process.env.DOCKER_CONFIG = config;
    process.env.PATH = `${bin}:${process.env.PATH}`;
    try {
      for (const settings of [{ credHelpers: { [registry]: 'test' } }, { credsStore: 'test' }]) {
        writeFileSync(join(config, 'config.json'), JSON.stringify(settings));
        const { code, err } = await cli('image', 'push', `${registry}/cert-allowlist:helper`, '--insecure');
        assert.equal(code, 0, `${JSON.stringify(settings)}: ${err}`);
      }
      writeFileSync(join(config, 'config.json'), JSON.stringify({ credsStore: 'desktop' }));
      const missing = await cli('image', 'push', `${registry}/cert-allowlist:helper`, '--insecure');
      assert.equal(missing.code, 1);
      assert.match(
        missing.err,
        /names the credential helper docker-credential-desktop for 127\.0\.0\.1:\d+, which cannot run \(ENOENT\): install it, or pass --username and --password-stdin/,
      );
    } finally {
      process.env.DOCKER_CONFIG = saved.DOCKER_CONFIG;
      if (saved.DOCKER_CONFIG === undefined) delete process.env.DOCKER_CONFIG;
      process.env.PATH = saved.PATH;
    }
  });
  it('says --insecure when a plain-HTTP registry is addressed over TLS', async () => {
    const registry = await startRegistry('plain');
    const { code, err } = await cli('image', 'push', `${registry}/cert-allowlist:1`);
    assert.equal(code, 1);
    assert.match(err, /the registry seems to speak plain HTTP: --insecure pushes over HTTP/);
  });
  it('refuses a malformed reference as a usage error, naming what is wrong', async () => {
    for (const [reference, why] of [
      ['cert-allowlist:1', /no registry/],
      ['registry.example/Filters/cert-allowlist:1', /is not a repository/],
      ['registry.example/cert-allowlist:bad tag', /is not a tag/],
      ['registry.example/cert-allowlist:', /is not a tag/],
      [`registry.example/cert-allowlist@sha256:${'a'.repeat(64)}`, /a push names a tag, not a digest/],
      ['bad_host/cert-allowlist:1', /is not a registry host/],
    ] as const) {
      const { code, err } = await cli('image', 'push', reference);
      assert.equal(code, 2, reference);
      assert.match(err, why, reference);
    }
  });
  it('pushes over TLS to a registry whose CA is given', async () => {
    const registry = await startRegistry('tls', { tls: true });
    const ca = ensureDemoPki(join(root, 'build/pki')).ca;
    const { code, out, err } = await cli('image', 'push', `${registry}/cert-allowlist:3`, '--ca-file', ca);
    assert.equal(code, 0, err);
    assert.match(out, /WasmPlugin: url: oci:\/\/localhost:\d+\/cert-allowlist@sha256:/);
  });
});
