// The connection facts Envoy derives from a TLS connection (ENVOY-FACTS §4): SHA-256 over the DER
// leaf certificate in lowercase hex, the subject in RFC 2253 form exactly as OpenSSL/BoringSSL's
// X509_NAME_print_ex(XN_FLAG_RFC2253) prints it, every URI and DNS SAN in certificate order, and
// the URL-encoded PEM that Envoy puts in XFCC's Cert=.
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import type { PeerCertificate } from '../host/index.js';

export interface ClientCertificate extends PeerCertificate {
  uriSans: string[];
  dnsSans: string[];
  /** PEM, as Envoy URL-encodes it into XFCC's Cert=. */
  pem: string;
}

// Node prints SANs as "DNS:a, URI:b"; values with separators come JSON-quoted.
export function splitSubjectAltName(text: string | undefined): { uri: string[]; dns: string[] } {
  const result = { uri: [] as string[], dns: [] as string[] };
  if (!text) return result;
  const entries = text.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? [];
  for (const raw of entries) {
    const entry = raw.trim();
    const colon = entry.indexOf(':');
    if (colon < 0) continue;
    const kind = entry.slice(0, colon);
    let value = entry.slice(colon + 1);
    if (value.startsWith('"')) value = JSON.parse(value) as string;
    if (kind === 'URI') result.uri.push(value);
    else if (kind === 'DNS') result.dns.push(value);
  }
  return result;
}

const subjects = new Map<string, string>();

/** RFC 2253 subject through openssl itself (the printer Envoy's BoringSSL shares), cached per certificate. */
async function rfc2253Subject(certificate: X509Certificate, sha256: string): Promise<string> {
  const cached = subjects.get(sha256);
  if (cached !== undefined) return cached;
  const output = await new Promise<string>((resolve, reject) => {
    const child = execFile('openssl', ['x509', '-noout', '-subject', '-nameopt', 'RFC2253'], (error, stdout) =>
      error ? reject(error) : resolve(stdout));
    child.stdin!.end(certificate.toString());
  });
  const subject = output.trim().replace(/^subject=\s*/, '');
  subjects.set(sha256, subject);
  return subject;
}

export async function clientCertificate(certificate: X509Certificate): Promise<ClientCertificate> {
  const sha256 = createHash('sha256').update(certificate.raw).digest('hex');
  const sans = splitSubjectAltName(certificate.subjectAltName);
  return {
    sha256,
    subject: await rfc2253Subject(certificate, sha256),
    uriSans: sans.uri,
    dnsSans: sans.dns,
    pem: certificate.toString(),
  };
}
