// The demo PKI, made with openssl: a CA, a server certificate for localhost, and client
// certificates that show each behaviour of the filter. Kept in a git-ignored folder and made once.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DemoClient {
  name: string;
  subject: string;
  sans: string[];
  /** Signed by the demo CA, or by an unrelated one the gateway does not trust. */
  issuer: 'ca' | 'other-ca';
  purpose: string;
}

export const DEMO_CLIENTS: DemoClient[] = [
  { name: 'allowed', subject: '/O=Demo Bank/CN=batch.demo.local', sans: ['URI:spiffe://demo.local/ns/bank/sa/batch'], issuer: 'ca', purpose: 'allowed by its URI SAN' },
  { name: 'denied', subject: '/O=Demo Partner/CN=stranger.demo.local', sans: ['URI:spiffe://demo.local/ns/other/sa/stranger'], issuer: 'ca', purpose: 'trusted CA, not on the list' },
  {
    name: 'multi-san',
    subject: '/CN=multi.demo.local',
    sans: ['URI:spiffe://demo.local/ns/other/sa/multi', 'URI:spiffe://demo.local/ns/bank/sa/multi'],
    issuer: 'ca',
    purpose: 'allowed only through its second URI SAN',
  },
  { name: 'other-ca', subject: '/O=Demo Bank/CN=batch.demo.local', sans: ['URI:spiffe://demo.local/ns/bank/sa/batch'], issuer: 'other-ca', purpose: 'unknown CA: the handshake fails' },
  { name: 'escaped', subject: '/O=Demo Bank/CN=Acme, Inc. batch', sans: ['DNS:acme.demo.local'], issuer: 'ca', purpose: 'a comma in the CN (RFC 2253 escaping)' },
];

export interface Pki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  cert(name: string): string;
  key(name: string): string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function issue(dir: string, name: string, subject: string, extensions: string, issuer: string): void {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.crt`, '-CAkey', `${issuer}.key`, '-CAcreateserial', '-days', '825', '-sha256', '-out', `${name}.crt`, '-extfile', `${name}.ext`]);
}

function authority(dir: string, name: string, subject: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '3650', '-subj', subject,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

/** Creates the demo PKI in `dir` unless it is already complete. */
export function ensureDemoPki(dir: string): Pki {
  const pki: Pki = {
    dir,
    ca: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    cert: (name) => join(dir, `${name}.crt`),
    key: (name) => join(dir, `${name}.key`),
  };
  const complete = [pki.ca, pki.serverCert, ...DEMO_CLIENTS.map((c) => pki.cert(c.name))].every((file) => existsSync(file));
  if (complete) return pki;
  mkdirSync(dir, { recursive: true });
  authority(dir, 'ca', '/O=cert-allowlist demo/CN=cert-allowlist demo CA');
  authority(dir, 'unknown-ca', '/O=Somebody Else/CN=an unrelated CA');
  issue(dir, 'server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n', 'ca');
  for (const client of DEMO_CLIENTS) {
    const extensions = `subjectAltName=${client.sans.join(',')}\nextendedKeyUsage=clientAuth\n`;
    issue(dir, client.name, client.subject, extensions, client.issuer === 'ca' ? 'ca' : 'unknown-ca');
  }
  return pki;
}
