// Client certificates from Kubernetes Secrets: one Secret, a List, or `kubectl get -o yaml|json`
// output, as YAML or JSON; every certificate in data (base64) or stringData, PEM (bundles included)
// or DER. Each is named after where it lies — `<secret>/<data key>`, `#2`, `#3`… for the further
// certificates of a bundle — so that importing the same Secrets again finds the same names.
import { X509Certificate } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import { CliError } from './filter.js';
import { certificateFacts, readCertificates, type CertificateFacts } from '../host/certificate.js';

export interface SecretCertificate {
  secret: string;
  key: string;
  /** `<secret>/<key>`, with `#n` for the n-th certificate of a bundle (n ≥ 2). */
  name: string;
  certificate: CertificateFacts;
}

interface KubeObject {
  kind?: string;
  metadata?: { name?: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  items?: KubeObject[];
}

function secrets(value: KubeObject): KubeObject[] {
  if (value?.kind === 'List' || Array.isArray(value?.items)) return (value.items ?? []).flatMap(secrets);
  return value?.kind === 'Secret' ? [value] : [];
}

/** Every certificate in the Secrets of `text`; CA certificates only with `includeCa`. */
export function certificatesInSecrets(text: string, includeCa = false): SecretCertificate[] {
  let objects: KubeObject[];
  try {
    objects = parseAllDocuments(text).map((doc) => {
      if (doc.errors.length) throw new Error(doc.errors[0].message);
      return doc.toJS() as KubeObject;
    });
  } catch (error) {
    throw new CliError(`not a Kubernetes Secret in YAML or JSON: ${(error as Error).message}`);
  }
  const found: SecretCertificate[] = [];
  const all = objects.flatMap(secrets);
  if (all.length === 0) throw new CliError('no Secret found (expected kind: Secret, or a List of them)');
  for (const secret of all) {
    const name = secret.metadata?.name ?? 'secret';
    const values: [string, Buffer][] = [
      ...Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')] as [string, Buffer]),
      ...Object.entries(secret.stringData ?? {}).map(([key, value]) => [key, Buffer.from(value, 'utf8')] as [string, Buffer]),
    ];
    for (const [key, bytes] of values) {
      let certificates: X509Certificate[];
      if (bytes.includes('-----BEGIN CERTIFICATE-----')) {
        try {
          certificates = readCertificates(bytes);
        } catch (error) {
          throw new CliError(`${name}/${key}: unreadable certificate (${(error as Error).message})`);
        }
      } else {
        // DER, or something else entirely (a key, a CRL, a password): only a certificate is taken.
        try {
          certificates = [new X509Certificate(bytes)];
        } catch {
          continue;
        }
      }
      certificates.forEach((certificate, i) => {
        if (certificate.ca && !includeCa) return;
        found.push({ secret: name, key, name: `${name}/${key}${i > 0 ? `#${i + 1}` : ''}`, certificate: certificateFacts(certificate) });
      });
    }
  }
  return found;
}
