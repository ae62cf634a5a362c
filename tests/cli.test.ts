// The cert-allowlist CLI on real certificates made with openssl: inspect agrees with openssl x509
// field by field; check and explain give the compiled filter's answers; add writes only what the
// filter accepts; render prints manifests Istio's schemas accept.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { main } from '../cli/main.js';
import { authority } from '../demo/pki.js';

let dir: string;

function openssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

// Runs the CLI in this process, capturing what it prints and its exit code.
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (text) => void (out += text), err: (text) => void (err += text) });
  return { code, out, err };
}

interface Made {
  name: string;
  key: string;
  subject: string;
  sans: string;
}

const CERTS: Made[] = [
  {
    name: 'rsa',
    key: 'rsa:2048',
    subject: '/C=US/O=Acme Bank/CN=batch.acme.example',
    sans: 'URI:spiffe://acme.example/ns/bank/sa/batch,DNS:batch.acme.example',
  },
  {
    name: 'ecdsa',
    key: 'ec',
    subject: '/O=Partner/OU=Settlement/CN=partner',
    sans: 'DNS:a.partner.example,DNS:b.partner.example,URI:spiffe://p/1,URI:spiffe://p/2,email:ops@partner.example,IP:10.1.2.3',
  },
  // Every character RFC 2253 escapes, a leading # and trailing space, and a multi-valued RDN.
  { name: 'escaped', key: 'ec', subject: '/O=Quote"Plus\\+Semi;Less<More>+OU=multi/CN=#Acme\\, Inc. 1 ', sans: 'DNS:acme.example' },
  { name: 'utf8', key: 'ec', subject: '/O=Bänk/CN=Jürgen Müller', sans: 'DNS:j.example' },
];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cert-allowlist-cli-'));
  authority(dir, 'ca', '/CN=CLI test CA');
  for (const c of CERTS) {
    const key = c.key === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] : ['-newkey', c.key];
    openssl(['req', '-new', ...key, '-nodes', '-keyout', `${c.name}.key`, '-out', `${c.name}.csr`, '-subj', c.subject, '-utf8']);
    writeFileSync(join(dir, `${c.name}.ext`), `subjectAltName=${c.sans}\n`);
    openssl([
      'x509',
      '-req',
      '-in',
      `${c.name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-days',
      '3650',
      '-sha256',
      '-out',
      `${c.name}.crt`,
      '-extfile',
      `${c.name}.ext`,
      '-set_serial',
      '0x00fedcba9876543210fedcba98765432',
    ]);
  }
  writeFileSync(join(dir, 'bundle.pem'), CERTS.map((c) => readFileSync(join(dir, `${c.name}.crt`), 'utf8')).join(''));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('inspect agrees with openssl x509, field by field', () => {
  for (const c of CERTS) {
    it(`${c.name}`, async () => {
      const file = join(dir, `${c.name}.crt`);
      const { code, out } = await cli('inspect', '--json', file);
      assert.equal(code, 0);
      const [facts] = JSON.parse(out);
      const field = (args: string[]) => openssl(['x509', '-in', file, '-noout', ...args]).trim();
      assert.equal(facts.subject, field(['-subject', '-nameopt', 'RFC2253']).replace(/^subject=/, ''));
      assert.equal(facts.issuer, field(['-issuer', '-nameopt', 'RFC2253']).replace(/^issuer=/, ''));
      assert.equal(facts.sha256, field(['-fingerprint', '-sha256']).replace(/^.*=/, '').replaceAll(':', '').toLowerCase());
      assert.equal(facts.serial, field(['-serial']).replace(/^serial=/, ''));
      assert.equal(Date.parse(facts.notBefore), Date.parse(field(['-startdate']).replace(/^notBefore=/, '')));
      assert.equal(Date.parse(facts.notAfter), Date.parse(field(['-enddate']).replace(/^notAfter=/, '')));
      const sans = field(['-ext', 'subjectAltName'])
        .split('\n')
        .slice(1)
        .join('')
        .split(',')
        .map((s) => s.trim());
      assert.deepEqual(
        facts.uriSans,
        sans.filter((s) => s.startsWith('URI:')).map((s) => s.slice(4)),
      );
      assert.deepEqual(
        facts.dnsSans,
        sans.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)),
      );
      assert.deepEqual(
        facts.emailSans,
        sans.filter((s) => s.startsWith('email:')).map((s) => s.slice(6)),
      );
      assert.deepEqual(
        facts.ipSans,
        sans.filter((s) => s.startsWith('IP Address:')).map((s) => s.slice(11)),
      );
      const spki = execFileSync(
        'sh',
        ['-c', `openssl x509 -in '${file}' -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64`],
        { encoding: 'utf8' },
      ).trim();
      assert.equal(facts.spkiSha256, spki);
    });
  }
  it('reads every certificate of a PEM bundle, and DER', async () => {
    const bundle = JSON.parse((await cli('inspect', '--json', join(dir, 'bundle.pem'))).out);
    assert.equal(bundle.length, CERTS.length);
    openssl(['x509', '-in', 'rsa.crt', '-outform', 'DER', '-out', 'rsa.der']);
    const [der] = JSON.parse((await cli('inspect', '--json', join(dir, 'rsa.der'))).out);
    assert.equal(der.sha256, bundle[0].sha256);
  });
  it('names the CN of an escaped subject unescaped', async () => {
    const [facts] = JSON.parse((await cli('inspect', '--json', join(dir, 'escaped.crt'))).out);
    assert.equal(facts.cn, '#Acme, Inc. 1 ');
  });
  it('fails with 1 on a file that is not a certificate', async () => {
    writeFileSync(join(dir, 'junk.pem'), 'not a certificate');
    const { code, err } = await cli('inspect', join(dir, 'junk.pem'));
    assert.equal(code, 1);
    assert.match(err, /junk\.pem: not a PEM or DER certificate/);
  });
});

describe('check and explain run the filter itself', () => {
  const config = () => join(dir, 'check.json');
  it('accepts a valid configuration and reports its size', async () => {
    writeFileSync(config(), JSON.stringify({ allow: [{ name: 'a', cn: 'partner' }] }));
    const { code, out } = await cli('check', config());
    assert.equal(code, 0);
    assert.match(out, /valid \(39 bytes as pluginConfig\)/);
  });
  it("refuses an invalid configuration with the filter's own message, exit 1", async () => {
    writeFileSync(config(), JSON.stringify({ allow: [{ name: 'a', sha256: 'xyz' }] }));
    const { code, out } = await cli('check', config());
    assert.equal(code, 1);
    assert.match(out, /allow\[0\]\.sha256: expected 64 hex digits, got "xyz"/);
  });
  it('warns about expired rules, rules that can never match, and a size client-side kubectl apply cannot take', async () => {
    const big = Array.from({ length: 15000 }, (_, i) => ({ name: `client-${i}`, sha256: i.toString(16).padStart(64, '0') }));
    writeFileSync(
      config(),
      JSON.stringify({
        hosts: ['payments.example.com'],
        allow: [{ name: 'old', cn: 'x', notAfter: '2020-01-01T00:00:00Z' }, { name: 'elsewhere', cn: 'y', hosts: ['other.example'] }, ...big],
      }),
    );
    const { code, out } = await cli('check', '--json', config());
    assert.equal(code, 0);
    const report = JSON.parse(out);
    assert.equal(report.warnings.length, 3, out);
    assert.match(report.warnings.join('\n'), /old\) expired/);
    assert.match(report.warnings.join('\n'), /elsewhere\) can never match/);
    assert.match(
      report.warnings.join('\n'),
      /client-side kubectl apply stores the whole object in an annotation limited to 262144 bytes and fails; apply it with kubectl apply --server-side/,
    );
    assert.deepEqual(report.errors, []);
    assert.equal((await cli('check', '--strict', config())).code, 1, '--strict fails on warnings');
  });
  it('explains an allow, naming the rule, and a deny, naming the reason', async () => {
    writeFileSync(
      config(),
      JSON.stringify({ allow: [{ name: 'partner', uriSan: 'spiffe://p/2' }], deny: [{ name: 'no-admin', cn: 'partner', paths: ['/admin'] }] }),
    );
    const allowed = await cli('explain', '--config', config(), '--cert', join(dir, 'ecdsa.crt'), '--path', '/x');
    assert.deepEqual([allowed.code, allowed.out.split('\n')[0]], [0, 'allow: rule "partner"'], 'the second URI SAN counts, as behind an Istio gateway');
    const denied = await cli('explain', '--config', config(), '--cert', join(dir, 'ecdsa.crt'), '--path', '/admin/../admin/x');
    assert.deepEqual([denied.code, denied.out.split('\n')[0]], [1, 'deny: denied_by_rule (rule "no-admin")']);
    const stranger = await cli('explain', '--json', '--config', config(), '--cert', join(dir, 'rsa.crt'));
    assert.equal(JSON.parse(stranger.out).reason, 'not_allowed');
  });
  it('says for each rule that did not match why: a different identity, the host, the path, the window', async () => {
    writeFileSync(
      config(),
      JSON.stringify({
        allow: [
          { name: 'other-client', uriSan: 'spiffe://p/9' },
          { name: 'other-host', uriSan: 'spiffe://p/1', hosts: ['other.example'] },
          { name: 'other-path', uriSan: 'spiffe://p/1', paths: ['/settle'] },
          { name: 'over', uriSan: 'spiffe://p/1', notAfter: '2020-01-01T00:00:00Z' },
        ],
        deny: [{ name: 'no-admin', cn: 'partner', paths: ['/admin'] }],
      }),
    );
    const { code, out } = await cli(
      'explain',
      '--json',
      '--config',
      config(),
      '--cert',
      join(dir, 'ecdsa.crt'),
      '--host',
      'payments.example',
      '--path',
      '/report/1',
    );
    assert.equal(code, 1);
    const reasons = Object.fromEntries(JSON.parse(out).rules.map((r: { name: string; reason: string }) => [r.name, r.reason]));
    assert.match(reasons['other-client'], /^a different uriSan \(the certificate has \["spiffe:\/\/p\/1","spiffe:\/\/p\/2"\]\)$/);
    assert.equal(reasons['other-host'], 'the host "payments.example" is not inside its hosts ["other.example"]');
    assert.equal(reasons['other-path'], 'the path "/report/1" is not under its paths ["/settle"]');
    assert.match(reasons.over, /^outside its window/);
    assert.equal(reasons['no-admin'], 'the path "/report/1" is not under its paths ["/admin"]');
  });
  it("never allows a certificate the gateway's handshake refuses: expired or not yet valid; inspect marks it", async () => {
    writeFileSync(config(), JSON.stringify({ allow: [{ name: 'partner', cn: 'partner' }] }));
    const later = await cli('explain', '--config', config(), '--cert', join(dir, 'ecdsa.crt'), '--at', '2040-01-01T00:00:00Z');
    assert.equal(later.code, 1);
    assert.match(later.out, /^deny: the gateway's TLS handshake refuses the certificate: expired at /);
    const earlier = await cli('explain', '--config', config(), '--cert', join(dir, 'ecdsa.crt'), '--at', '2020-01-01T00:00:00Z');
    assert.match(earlier.out, /not valid before/);
    assert.equal(JSON.parse((await cli('inspect', '--json', join(dir, 'ecdsa.crt'))).out)[0].validity, 'valid');
  });
  it('judges the leaf of a bundle, never its CA, and says so', async () => {
    writeFileSync(config(), JSON.stringify({ allow: [{ name: 'partner', cn: 'partner' }] }));
    writeFileSync(join(dir, 'bundle.pem'), readFileSync(join(dir, 'ca.crt'), 'utf8') + readFileSync(join(dir, 'ecdsa.crt'), 'utf8'));
    const { code, out, err } = await cli('explain', '--config', config(), '--cert', join(dir, 'bundle.pem'));
    assert.equal(code, 0);
    assert.match(out, /^allow: rule "partner"/);
    assert.match(err, /skipped the CA certificate CN=CLI test CA/);
    assert.equal((await cli('explain', '--config', config(), '--cert', join(dir, 'ca.crt'))).code, 1, 'a CA alone is refused unless --include-ca');
  });
  it('explains a validity window with --at', async () => {
    writeFileSync(config(), JSON.stringify({ allow: [{ name: 'temp', cn: 'partner', notAfter: '2027-01-31T23:59:59Z' }] }));
    assert.equal((await cli('explain', '--config', config(), '--cert', join(dir, 'ecdsa.crt'), '--at', '2027-01-01T00:00:00Z')).code, 0);
    assert.equal((await cli('explain', '--config', config(), '--cert', join(dir, 'ecdsa.crt'), '--at', '2027-02-01T00:00:00Z')).code, 1);
  });
});

describe('add', () => {
  it('adds a rule per certificate, keeps the indentation, and the filter accepts the result', async () => {
    const file = join(dir, 'add.json');
    writeFileSync(file, '{\n    "allow": []\n}\n');
    assert.equal((await cli('add', join(dir, 'rsa.crt'), '--config', file, '--name', 'batch')).code, 0);
    assert.equal(
      (
        await cli(
          'add',
          join(dir, 'ecdsa.crt'),
          '--config',
          file,
          '--name',
          'partner',
          '--by',
          'uriSan',
          '--san',
          'spiffe://p/1',
          '--paths',
          '/settle/,/report/',
        )
      ).code,
      0,
    );
    assert.equal((await cli('add', join(dir, 'escaped.crt'), '--config', file, '--name', 'acme', '--by', 'cn', '--deny')).code, 0);
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^\{\n {4}"allow": \[/);
    const config = JSON.parse(text);
    const [rsa] = JSON.parse((await cli('inspect', '--json', join(dir, 'rsa.crt'))).out);
    assert.deepEqual(config.allow, [
      { name: 'batch', sha256: rsa.sha256 },
      { name: 'partner', uriSan: 'spiffe://p/1', paths: ['/settle/', '/report/'] },
    ]);
    assert.deepEqual(config.deny, [{ name: 'acme', cn: '#Acme, Inc. 1 ' }]);
    assert.equal((await cli('check', file)).code, 0);
  });
  it('takes the client certificate of a bundle, skipping its CA with a note unless --include-ca', async () => {
    const file = join(dir, 'bundle.json');
    writeFileSync(file, '{"allow": []}\n');
    writeFileSync(join(dir, 'client-bundle.pem'), readFileSync(join(dir, 'rsa.crt'), 'utf8') + readFileSync(join(dir, 'ca.crt'), 'utf8'));
    const { code, err } = await cli('add', join(dir, 'client-bundle.pem'), '--config', file, '--name', 'bundled', '--by', 'cn');
    assert.equal(code, 0, err);
    assert.match(err, /skipped the CA certificate CN=CLI test CA/);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')).allow, [{ name: 'bundled', cn: 'batch.acme.example' }]);
  });
  it('refuses a duplicate name or a certificate already listed, and leaves the file alone', async () => {
    const file = join(dir, 'dup.json');
    writeFileSync(file, '{"allow": []}\n');
    await cli('add', join(dir, 'rsa.crt'), '--config', file, '--name', 'batch');
    const before = readFileSync(file, 'utf8');
    const sameName = await cli('add', join(dir, 'ecdsa.crt'), '--config', file, '--name', 'batch');
    assert.equal(sameName.code, 1);
    assert.match(sameName.err, /a rule named "batch" exists already/);
    const sameCert = await cli('add', join(dir, 'rsa.crt'), '--config', file, '--name', 'again');
    assert.match(sameCert.err, /rule "batch" already matches sha256/);
    assert.equal(readFileSync(file, 'utf8'), before);
  });
  it('writes nothing the filter would refuse', async () => {
    const file = join(dir, 'refuse.json');
    writeFileSync(file, '{"allow": []}\n');
    const result = await cli('add', join(dir, 'rsa.crt'), '--config', file, '--name', 'x', '--hosts', 'a.example:443');
    assert.equal(result.code, 1);
    assert.match(result.err, /ports are ignored/);
    assert.equal(readFileSync(file, 'utf8'), '{"allow": []}\n');
  });
});

describe('import-secret', () => {
  const pem = (name: string) => readFileSync(join(dir, `${name}.crt`), 'utf8');
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  it('adds one rule per client certificate of a Secret, skipping the CA and the key', async () => {
    const file = join(dir, 'secret.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Secret',
        'metadata:',
        '  name: partner-certs',
        'type: kubernetes.io/tls',
        'data:',
        `  tls.crt: ${b64(pem('rsa') + pem('ecdsa'))}`,
        `  ca.crt: ${b64(readFileSync(join(dir, 'ca.crt'), 'utf8'))}`,
        `  tls.key: ${b64('-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n')}`,
        '',
      ].join('\n'),
    );
    const config = join(dir, 'secret-config.json');
    writeFileSync(config, '{"allow": []}\n');
    const { code, out } = await cli('import-secret', file, '--config', config);
    assert.equal(code, 0, out);
    const rules = JSON.parse(readFileSync(config, 'utf8')).allow;
    const facts = JSON.parse((await cli('inspect', '--json', join(dir, 'rsa.crt'), join(dir, 'ecdsa.crt'))).out);
    assert.deepEqual(rules, [
      { name: 'partner-certs/tls.crt', sha256: facts[0].sha256 },
      { name: 'partner-certs/tls.crt#2', sha256: facts[1].sha256 },
    ]);
  });
  it('reads a kubectl List in JSON with stringData, and adds the CA only when asked', async () => {
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'utf8-client' }, stringData: { 'client.pem': pem('utf8') } },
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ignored' }, data: { 'x.pem': pem('rsa') } },
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'ca' }, data: { 'ca.crt': b64(readFileSync(join(dir, 'ca.crt'), 'utf8')) } },
      ],
    };
    const file = join(dir, 'list.json');
    writeFileSync(file, JSON.stringify(list));
    const config = join(dir, 'list-config.json');
    writeFileSync(config, '{"allow": []}\n');
    assert.equal((await cli('import-secret', file, '--config', config, '--by', 'cn')).code, 0);
    assert.deepEqual(JSON.parse(readFileSync(config, 'utf8')).allow, [{ name: 'utf8-client/client.pem', cn: 'Jürgen Müller' }]);
    assert.equal((await cli('import-secret', file, '--config', config, '--by', 'cn', '--include-ca', '--deny')).code, 0);
    assert.deepEqual(
      JSON.parse(readFileSync(config, 'utf8')).deny.map((r: { cn: string }) => r.cn),
      ['Jürgen Müller', 'CLI test CA'],
    );
  });
  it('fails with 1 when there is no Secret or no client certificate', async () => {
    const file = join(dir, 'nothing.yaml');
    writeFileSync(file, 'kind: ConfigMap\nmetadata: {name: x}\n');
    const { code, err } = await cli('import-secret', file, '--config', join(dir, 'x.json'));
    assert.equal(code, 1);
    assert.match(err, /no Secret found/);
  });
});

describe('allow lists over time', () => {
  const pem = (name: string) => readFileSync(join(dir, `${name}.crt`), 'utf8');
  const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');
  const secret = (data: Record<string, string>) =>
    ['apiVersion: v1', 'kind: Secret', 'metadata:', '  name: partners', 'data:', ...Object.entries(data).map(([k, v]) => `  ${k}: ${v}`), ''].join('\n');
  const der = (name: string) => Buffer.from(pem(name).replace(/-----[^-]+-----|\s/g, ''), 'base64');

  it('import-secret is a sync: run again it changes nothing; new certificates are added, rotated ones updated, gone ones reported and pruned on request', async () => {
    const input = join(dir, 'sync.yaml');
    const config = join(dir, 'sync.json');
    writeFileSync(config, '{\n  "allow": [\n    {"name": "manual", "cn": "someone"}\n  ]\n}\n');
    writeFileSync(input, secret({ 'acme.crt': b64(pem('rsa')), 'globex.der': b64(der('ecdsa')) }));
    const first = await cli('import-secret', input, '--config', config, '--hosts', 'payments.example.com', '--json');
    assert.equal(first.code, 0, first.err);
    assert.deepEqual(JSON.parse(first.out).added, ['partners/acme.crt', 'partners/globex.der'], 'a DER value is read too');
    const written = readFileSync(config, 'utf8');
    const again = await cli('import-secret', input, '--config', config, '--hosts', 'payments.example.com', '--json');
    assert.equal(again.code, 0, again.err);
    assert.deepEqual(JSON.parse(again.out), { added: [], changed: [], unchanged: ['partners/acme.crt', 'partners/globex.der'], removed: [], kept: [] });
    assert.equal(readFileSync(config, 'utf8'), written, 'nothing rewritten');

    writeFileSync(input, secret({ 'acme.crt': b64(pem('escaped')), 'initech.crt': b64(pem('utf8')) }));
    const changed = await cli('import-secret', input, '--config', config, '--hosts', 'payments.example.com');
    assert.equal(changed.code, 0, changed.err);
    assert.match(changed.out, /1 added \(partners\/initech\.crt\), 1 changed \(partners\/acme\.crt\), 0 unchanged/);
    assert.match(changed.out, /no longer in the Secrets, kept: partners\/globex\.der \(--prune removes them\)/);
    const pruned = await cli('import-secret', input, '--config', config, '--hosts', 'payments.example.com', '--prune', '--json');
    assert.deepEqual(JSON.parse(pruned.out).removed, ['partners/globex.der']);
    const names = JSON.parse(readFileSync(config, 'utf8')).allow.map((r: { name: string }) => r.name);
    assert.deepEqual(names, ['manual', 'partners/acme.crt', 'partners/initech.crt'], 'rules it does not own are never touched');
  });

  it("keeps the file's layout: one rule per line stays one rule per line, other lines untouched", async () => {
    const config = join(dir, 'layout.json');
    const original = '{\n  "mode": "enforce",\n  "allow": [\n    {"name": "a", "cn": "a"},\n    {"name": "b", "cn": "b", "hosts": ["x.example"]}\n  ]\n}\n';
    writeFileSync(config, original);
    assert.equal((await cli('add', join(dir, 'rsa.crt'), '--config', config, '--name', 'c', '--hosts', 'p.example,q.example')).code, 0);
    const [rsa] = JSON.parse((await cli('inspect', '--json', join(dir, 'rsa.crt'))).out);
    assert.equal(
      readFileSync(config, 'utf8'),
      `{\n  "mode": "enforce",\n  "allow": [\n    {"name": "a", "cn": "a"},\n    {"name": "b", "cn": "b", "hosts": ["x.example"]},\n    {"name": "c", "sha256": "${rsa.sha256}", "hosts": ["p.example", "q.example"]}\n  ]\n}\n`,
    );
    assert.equal((await cli('remove', 'b', '--config', config)).code, 0);
    assert.equal(
      readFileSync(config, 'utf8'),
      `{\n  "mode": "enforce",\n  "allow": [\n    {"name": "a", "cn": "a"},\n    {"name": "c", "sha256": "${rsa.sha256}", "hosts": ["p.example", "q.example"]}\n  ]\n}\n`,
    );
    const missing = await cli('remove', 'nobody', '--config', config);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /no rule named "nobody"/);
  });

  it('rotate ends a rule and adds its successor with the same scope; list shows both', async () => {
    const config = join(dir, 'rotate.json');
    writeFileSync(config, '{"allow": [\n  {"name": "acme", "uriSan": "spiffe://p/1", "hosts": ["payments.example"]}\n]}\n');
    const result = await cli('rotate', 'acme', join(dir, 'ecdsa.crt'), '--config', config, '--not-after', '2030-01-31T00:00:00Z', '--new-name', 'acme-2030');
    assert.equal(result.code, 0, result.err);
    assert.deepEqual(JSON.parse(readFileSync(config, 'utf8')).allow, [
      { name: 'acme', uriSan: 'spiffe://p/1', hosts: ['payments.example'], notAfter: '2030-01-31T00:00:00Z' },
      { name: 'acme-2030', uriSan: 'spiffe://p/1', hosts: ['payments.example'] },
    ]);
    const listed = await cli('list', '--config', config);
    assert.match(listed.out, /^allow "acme": uriSan="spiffe:\/\/p\/1" hosts=payments\.example until 2030-01-31T00:00:00Z\nallow "acme-2030"/);
    assert.equal((await cli('rotate', 'acme', '--config', config, '--not-after', 'next week')).code, 2);
  });

  it('add matches by spki, serial and issuer, a URI SAN prefix, an email or IP SAN, and refuses to guess between several SANs', async () => {
    const config = join(dir, 'by.json');
    writeFileSync(config, '{"allow": []}\n');
    const [facts] = JSON.parse((await cli('inspect', '--json', join(dir, 'ecdsa.crt'))).out);
    const add = (...args: string[]) => cli('add', join(dir, 'ecdsa.crt'), '--config', config, ...args);
    assert.equal((await add('--name', 'spki', '--by', 'spki')).code, 0);
    assert.equal((await add('--name', 'serial', '--by', 'serial')).code, 0);
    assert.equal((await add('--name', 'prefix', '--by', 'uriSanPrefix', '--prefix', 'spiffe://p/')).code, 0);
    assert.equal((await add('--name', 'email', '--by', 'emailSan')).code, 0);
    assert.equal((await add('--name', 'ip', '--by', 'ipSan')).code, 0);
    const several = await add('--name', 'dns', '--by', 'dnsSan');
    assert.equal(several.code, 1);
    assert.match(several.err, /has 2 DNS SANs \("a\.partner\.example", "b\.partner\.example"\): choose one with --san, or --each-san/);
    assert.equal((await add('--name', 'dns', '--by', 'dnsSan', '--each-san')).code, 0);
    assert.match(
      (await add('--name', 'x', '--by', 'uriSanPrefix', '--prefix', 'spiffe://q/')).err,
      /no URI SAN of the certificate starts with "spiffe:\/\/q\/"/,
    );
    assert.deepEqual(JSON.parse(readFileSync(config, 'utf8')).allow, [
      { name: 'spki', spki: facts.spkiSha256 },
      { name: 'serial', serial: facts.serial, issuer: facts.issuer },
      { name: 'prefix', uriSanPrefix: 'spiffe://p/' },
      { name: 'email', emailSan: 'ops@partner.example' },
      { name: 'ip', ipSan: '10.1.2.3' },
      { name: 'dns-1', dnsSan: 'a.partner.example' },
      { name: 'dns-2', dnsSan: 'b.partner.example' },
    ]);
  });
});

describe('check is right and firm', () => {
  const config = () => join(dir, 'firm.json');
  it('warns "can never match" only for rules the filter itself never scopes in: not for a wildcard inside, a trailing dot or another case', async () => {
    writeFileSync(
      config(),
      JSON.stringify({
        hosts: ['*.bank.example', 'Payments.Example.'],
        allow: [
          { name: 'wild-inside', cn: 'a', hosts: ['*.eu.bank.example'] },
          { name: 'exact-inside', cn: 'b', hosts: ['x.bank.example'] },
          { name: 'case-and-dot', cn: 'c', hosts: ['payments.example.'] },
          { name: 'wider', cn: 'd', hosts: ['*.example'] },
          { name: 'outside', cn: 'e', hosts: ['other.example', '*.other.bank'] },
        ],
      }),
    );
    const { code, out } = await cli('check', '--json', config());
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(out).warnings, ["allow[4] (outside) can never match: none of its hosts is inside the configuration's hosts"]);
  });
  it("a configuration over Kubernetes' object limit is an error, exit 1", async () => {
    const rules = Array.from({ length: 17000 }, (_, i) => ({ name: `client-${i}`, sha256: i.toString(16).padStart(64, '0') }));
    writeFileSync(config(), JSON.stringify({ allow: rules }));
    const { code, out } = await cli('check', config());
    assert.equal(code, 1);
    assert.match(
      out,
      /error: a WasmPlugin holding this configuration \(\d+ bytes as pluginConfig\) exceeds Kubernetes' 1572864 byte object limit and cannot be applied: split it by host/,
    );
  });
  it('reports invalid JSON with its line and column', async () => {
    writeFileSync(config(), '{\n  "allow": [\n    {"name": "a",}\n  ]\n}\n');
    const { code, err } = await cli('check', config());
    assert.equal(code, 1);
    assert.match(err, /firm\.json:3:18: not valid JSON/);
  });
});

describe('render', () => {
  const configFile = () => join(dir, 'render.json');
  it('prints a WasmPlugin at phase AUTHN, FAIL_CLOSE, with the digest pin and the configuration', async () => {
    writeFileSync(configFile(), JSON.stringify({ allow: [{ name: 'a', cn: 'partner' }] }));
    const digest = 'a'.repeat(64);
    const { code, out } = await cli(
      'render',
      'wasmplugin',
      '--config',
      configFile(),
      '--image',
      `oci://registry.example/cert-allowlist@sha256:${digest}`,
      '--sha256',
      digest,
    );
    assert.equal(code, 0);
    const manifest = parse(out);
    assert.equal(manifest.kind, 'WasmPlugin');
    assert.equal(manifest.apiVersion, 'extensions.istio.io/v1alpha1');
    assert.deepEqual(manifest.spec.selector, { matchLabels: { istio: 'ingressgateway' } });
    assert.equal(manifest.spec.phase, 'AUTHN');
    assert.equal(manifest.spec.failStrategy, 'FAIL_CLOSE');
    assert.equal(manifest.spec.sha256, digest);
    assert.equal(manifest.spec.pluginName, 'cert-allowlist');
    assert.deepEqual(manifest.spec.pluginConfig, { allow: [{ name: 'a', cn: 'partner' }] });
  });
  it('prints an EnvoyFilter inserting the wasm filter before the router at the gateway, with the module as a local file', async () => {
    const { code, out } = await cli('render', 'envoyfilter', '--config', configFile(), '--namespace', 'gateways', '--selector', 'app=gw');
    assert.equal(code, 0);
    assert.match(out, /^# The module is read from \/var\/local\/lib\/wasm\/cert-allowlist\.wasm/);
    assert.match(out, /# {3}volumeMounts:\n# {5}- name: cert-allowlist-wasm\n# {7}mountPath: \/var\/local\/lib\/wasm/);
    assert.doesNotMatch(out, /userVolume(Mount)?: /);
    const patch = parse(out).spec.configPatches[0];
    assert.equal(patch.match.context, 'GATEWAY');
    assert.equal(patch.match.listener.filterChain.filter.subFilter.name, 'envoy.filters.http.router');
    assert.equal(patch.patch.operation, 'INSERT_BEFORE');
    assert.equal(patch.patch.value.typed_config['@type'], 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm');
    assert.equal(JSON.parse(patch.patch.value.typed_config.config.configuration.value).allow[0].cn, 'partner');
  });
  it('refuses a phase or failure strategy Istio does not know, as a usage error', async () => {
    assert.equal((await cli('render', 'wasmplugin', '--config', configFile(), '--image', 'oci://r/x:1', '--phase', 'BEFORE_EVERYTHING')).code, 2);
    assert.equal((await cli('render', 'wasmplugin', '--config', configFile(), '--image', 'oci://r/x:1', '--fail-strategy', 'FAIL_SOMETIMES')).code, 2);
    assert.equal((await cli('render', 'wasmplugin', '--config', configFile(), '--image', 'oci://r/x:1', '--ports', '443,http')).code, 2);
  });
  it('matches port 443 only by default, so a plain-HTTP redirect on port 80 keeps working; --ports all matches every port', async () => {
    const only443 = parse((await cli('render', 'wasmplugin', '--config', configFile(), '--image', 'oci://r/x:1')).out);
    assert.deepEqual(only443.spec.match, [{ mode: 'SERVER', ports: [{ number: 443 }] }]);
    const all = parse((await cli('render', 'wasmplugin', '--config', configFile(), '--image', 'oci://r/x:1', '--ports', 'all')).out);
    assert.equal(all.spec.match, undefined);
  });
  it('renders imagePullSecret, FAIL_RELOAD and dry-run when asked', async () => {
    const { code, out } = await cli(
      'render',
      'wasmplugin',
      '--config',
      configFile(),
      '--image',
      'oci://r/x:1',
      '--image-pull-secret',
      'registry-creds',
      '--fail-strategy',
      'FAIL_RELOAD',
      '--mode',
      'dry-run',
    );
    assert.equal(code, 0);
    const spec = parse(out).spec;
    assert.equal(spec.imagePullSecret, 'registry-creds');
    assert.equal(spec.failStrategy, 'FAIL_RELOAD');
    assert.equal(spec.pluginConfig.mode, 'dry-run');
  });
  it("quotes every string kubectl's YAML 1.1 would read as a boolean or a number", async () => {
    const names = ['no', 'on', 'yes', 'off', 'y', 'N', '1_000', '0x1F', '1:20', '012', '2027-01-01', '~', 'null', 'true'];
    writeFileSync(join(dir, 'yaml11.json'), JSON.stringify({ allow: names.map((name) => ({ name, cn: name })) }));
    for (const kind of ['wasmplugin', 'envoyfilter']) {
      const { code, out } = await cli('render', kind, '--config', join(dir, 'yaml11.json'), '--image', 'oci://r/x:1');
      assert.equal(code, 0);
      const manifest = parse(out, { version: '1.1' });
      const config =
        kind === 'wasmplugin' ? manifest.spec.pluginConfig : JSON.parse(manifest.spec.configPatches[0].patch.value.typed_config.config.configuration.value);
      assert.deepEqual(
        config.allow.map((r: { name: unknown }) => r.name),
        names,
      );
      assert.deepEqual(manifest.metadata, { name: 'cert-allowlist', namespace: 'istio-system' });
    }
  });
  it('refuses an invalid configuration before rendering', async () => {
    writeFileSync(configFile(), '{"allow": [{"name": "a"}]}');
    const { code, err } = await cli('render', 'wasmplugin', '--config', configFile(), '--image', 'oci://r/x:1');
    assert.equal(code, 1);
    assert.match(err, /expected at least one identity matcher/);
  });
});

describe('usage', () => {
  it('answers --json on every command that reports', async () => {
    const file = join(dir, 'json.json');
    writeFileSync(file, '{"allow": []}\n');
    const added = await cli('add', join(dir, 'rsa.crt'), '--config', file, '--name', 'j', '--json');
    assert.equal(JSON.parse(added.out).added[0].name, 'j');
    assert.deepEqual(JSON.parse((await cli('rotate', 'j', '--config', file, '--not-after', '2030-01-01T00:00:00Z', '--json')).out), {
      ended: 'j',
      notAfter: '2030-01-01T00:00:00Z',
      added: [],
    });
    assert.equal(JSON.parse((await cli('list', '--config', file, '--json')).out)[0].name, 'j');
    assert.deepEqual(JSON.parse((await cli('remove', 'j', '--config', file, '--json')).out), { removed: ['j'] });
    assert.match(JSON.parse((await cli('image', 'build', '--out', join(dir, 'oci'), '--json')).out).digest, /^sha256:[0-9a-f]{64}$/);
  });
  it('exits 2 on an unknown command or a missing option', async () => {
    assert.equal((await cli('frobnicate')).code, 2);
    assert.equal((await cli('explain', '--config', 'x.json')).code, 2);
    assert.equal((await cli('add', 'x.pem', '--config', 'c.json', '--name', 'n', '--by', 'issuer')).code, 2);
  });
  it('prints help with exit 0', async () => {
    const { code, out } = await cli('--help');
    assert.equal(code, 0);
    assert.match(out, /inspect.*\n.*check/s);
  });
});
