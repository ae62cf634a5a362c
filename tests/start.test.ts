// `npm start`, as the README tells a new user to run it: the printed curl commands, pasted, get what
// the README promises from real Envoy — the listed client 200 with its identity, the others 403 with
// the readable body, a certificate from an unknown CA no response at all — and the printed metrics
// command shows the counts.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const root = new URL('../', import.meta.url).pathname;

function shell(command: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', command], { cwd: root, encoding: 'utf8' }, (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout }));
  });
}

describe('npm start', () => {
  let start: ChildProcess;
  let output = '';
  const dir = mkdtempSync(join(tmpdir(), 'cert-allowlist-start-'));
  const commands = new Map<string, string>();

  before(async () => {
    start = spawn('npm', ['start', '--', '--port', '0', '--admin-port', '0', '--pki', join(dir, 'pki')], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    start.stdout!.on('data', (chunk) => void (output += chunk));
    start.stderr!.on('data', (chunk) => void (output += chunk));
    const deadline = Date.now() + 120_000;
    while (!output.includes('metrics:') && Date.now() < deadline && start.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(output.includes('metrics:'), `npm start did not get ready:\n${output}`);
    // "<name> — <purpose>:" or "no client certificate — 403:", then the command on the next line.
    const lines = output.split('\n');
    for (let i = 0; i + 1 < lines.length; i++) {
      const label = /^(\S[^:]*?)(?: — .*)?:$/.exec(lines[i]);
      if (label && lines[i + 1].startsWith('  curl ')) commands.set(label[1], lines[i + 1].trim());
    }
  });
  after(() => {
    if (start.pid) process.kill(-start.pid, 'SIGINT');
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints a curl command for every demo client, for no certificate and for the metrics', () => {
    assert.deepEqual([...commands.keys()].sort(), ['allowed', 'denied', 'escaped', 'metrics', 'multi-san', 'no client certificate', 'other-ca'], output);
  });
  it('lets the listed clients through with their identity', async () => {
    for (const [client, identity] of [
      ['allowed', 'bank-batch'],
      ['multi-san', 'bank-batch'],
      ['escaped', 'acme'],
    ]) {
      const result = await shell(commands.get(client)!);
      assert.equal(result.code, 0, client);
      assert.equal(JSON.parse(result.stdout).headers['x-client-identity'], identity, client);
    }
  });
  it('answers 403 with the readable body to a client that is not listed and to no certificate', async () => {
    for (const client of ['denied', 'no client certificate']) {
      const result = await shell(`${commands.get(client)} -w '%{http_code}'`);
      assert.equal(result.stdout, 'client certificate not authorized\n403', client);
    }
  });
  it('gives a certificate from an unknown CA no HTTP response at all', async () => {
    const result = await shell(commands.get('other-ca')!);
    assert.notEqual(result.code, 0);
    assert.equal(result.stdout, '');
  });
  it('counts them, as the metrics command shows', async () => {
    const result = await shell(commands.get('metrics')!);
    assert.match(result.stdout, /^cert_allowlist_allowed\{\} [1-9]\d*$/m);
    assert.match(result.stdout, /^cert_allowlist_denied_no_client_certificate\{\} [1-9]\d*$/m);
    assert.match(output, /403 cert_allowlist_not_allowed localhost:\d+\/hello/, 'the access log line is printed');
  });
});
