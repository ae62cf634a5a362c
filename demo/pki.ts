// The demo PKI, made with openssl: a CA, a server certificate for localhost, and client certificates
// that show each behaviour of the filter. A folder is either made whole, when it does not exist yet
// (or is empty), or used exactly as it is: nothing in an existing folder is ever written over, so
// `npm start -- --pki DIR` can serve an operator's own CA and server certificate.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export type SanType = 'URI' | 'DNS' | 'email' | 'IP';

export interface ClientSpec {
  name: string;
  /** As openssl's -subj takes it: `/O=Demo Bank/CN=batch.demo.local`. */
  subject: string;
  sans: [SanType, string][];
  /** The CA that signs it: `ca` (trusted by the gateway) or `unknown-ca`. Default `ca`. */
  issuer?: 'ca' | 'unknown-ca';
  purpose: string;
}

export const DEMO_CLIENTS: ClientSpec[] = [
  { name: 'allowed', subject: '/O=Demo Bank/CN=batch.demo.local', sans: [['URI', 'spiffe://demo.local/ns/bank/sa/batch']], purpose: 'allowed by its URI SAN' },
  {
    name: 'denied',
    subject: '/O=Demo Partner/CN=stranger.demo.local',
    sans: [['URI', 'spiffe://demo.local/ns/other/sa/stranger']],
    purpose: 'trusted CA, not on the list',
  },
  {
    name: 'multi-san',
    subject: '/CN=multi.demo.local',
    sans: [
      ['URI', 'spiffe://demo.local/ns/other/sa/multi'],
      ['URI', 'spiffe://demo.local/ns/bank/sa/multi'],
    ],
    purpose: 'allowed only through its second URI SAN',
  },
  {
    name: 'other-ca',
    subject: '/O=Demo Bank/CN=batch.demo.local',
    sans: [['URI', 'spiffe://demo.local/ns/bank/sa/batch']],
    issuer: 'unknown-ca',
    purpose: 'unknown CA: the handshake fails',
  },
  { name: 'escaped', subject: '/O=Demo Bank/CN=Acme, Inc. batch', sans: [['DNS', 'acme.demo.local']], purpose: 'a comma in the CN (RFC 2253 escaping)' },
];

export interface Pki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  /** Client names with both a certificate and a key in the folder (not the CAs or the server). */
  clients: string[];
  cert(name: string): string;
  key(name: string): string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

// A value in an openssl configuration file, quoted so that `,` `;` `"` `#` and edge spaces survive.
function configValue(value: string): string {
  return `"${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

// A new P-256 key, unencrypted: what every certificate here is made with.
const NEW_EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Issues `<name>.crt` and `<name>.key` in `dir`, signed by `<issuer>.crt`; `extensions` as in an openssl extfile. */
export function issue(dir: string, name: string, subject: string, extensions: string, issuer: string, days = 825): void {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, ['req', '-new', '-utf8', ...NEW_EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${issuer}.crt`,
    '-CAkey',
    `${issuer}.key`,
    '-CAcreateserial',
    '-days',
    String(days),
    '-sha256',
    '-out',
    `${name}.crt`,
    '-extfile',
    `${name}.ext`,
  ]);
}

/** Issues a client certificate with exactly the SANs given (any bytes openssl will sign). */
export function issueClient(dir: string, client: ClientSpec): void {
  const sans = client.sans.map(([type, value], i) => `${type}.${i + 1} = ${configValue(value)}`);
  const extensions = `${sans.length > 0 ? 'subjectAltName = @alt\n' : ''}extendedKeyUsage = clientAuth\n[alt]\n${sans.join('\n')}\n`;
  issue(dir, client.name, client.subject, extensions, client.issuer ?? 'ca');
}

/** Makes a CA, `<name>.crt` and `<name>.key` in `dir`; the subject as openssl's -subj takes it, UTF-8. */
export function authority(dir: string, name: string, subject: string, days = 3650): void {
  openssl(dir, [
    'req',
    '-x509',
    ...NEW_EC_KEY,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    String(days),
    '-utf8',
    '-subj',
    subject,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

function pkiIn(dir: string): Pki {
  const files = new Set(existsSync(dir) ? readdirSync(dir) : []);
  const reserved = new Set(['ca', 'unknown-ca', 'server']);
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clients: [...files]
      .filter((f) => f.endsWith('.crt'))
      .map((f) => f.slice(0, -4))
      .filter((n) => !reserved.has(n) && files.has(`${n}.key`))
      .sort(),
    cert: (name) => join(dir, `${name}.crt`),
    key: (name) => join(dir, `${name}.key`),
  };
}

export class PkiError extends Error {}

/** Makes a complete demo PKI in a new folder `dir` (made elsewhere, then moved into place). */
export function makeDemoPki(dir: string, clients: ClientSpec[] = DEMO_CLIENTS): Pki {
  mkdirSync(dirname(dir), { recursive: true });
  const scratch = mkdtempSync(join(dirname(dir), `.${basename(dir)}-`));
  try {
    authority(scratch, 'ca', '/O=cert-allowlist demo/CN=cert-allowlist demo CA');
    authority(scratch, 'unknown-ca', '/O=Somebody Else/CN=an unrelated CA');
    issue(scratch, 'server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n', 'ca');
    for (const client of clients) issueClient(scratch, client);
    if (existsSync(dir)) rmdirSync(dir);
    renameSync(scratch, dir);
  } catch (error) {
    rmSync(scratch, { recursive: true, force: true });
    // Another process made it in the meantime: theirs is as good as ours.
    if (existsSync(join(dir, 'ca.crt'))) return pkiIn(dir);
    throw error;
  }
  return pkiIn(dir);
}

/**
 * The PKI in `dir`: the demo PKI, made there when the folder does not exist or is empty, or what the
 * folder holds — which must include ca.crt, server.crt and server.key, and is never changed.
 */
export function ensureDemoPki(dir: string): Pki {
  if (!existsSync(dir) || readdirSync(dir).length === 0) return makeDemoPki(dir);
  const pki = pkiIn(dir);
  const missing = [pki.ca, pki.serverCert, pki.serverKey].filter((file) => !existsSync(file)).map((file) => basename(file));
  if (missing.length > 0) {
    throw new PkiError(
      `${dir} has no ${missing.join(', ')}: a PKI of your own needs ca.crt (the CA that signs client certificates), server.crt and server.key; an empty or new folder gets the demo PKI (nothing in ${dir} was changed)`,
    );
  }
  return pki;
}
