// What the host knows about the downstream connection, and how Envoy turns it into property
// values (Envoy's context.cc findValue and the CEL connection attributes): which paths answer Ok, Ok-but-empty, NotFound or SerializationFailure,
// and the byte encodings (1-byte bool, 8-byte little-endian integers, lowercase hex digest).

export interface PeerCertificate {
  /** SHA-256 over the DER leaf certificate, 64 lowercase hex characters (Envoy's Hex::encode). */
  sha256: string;
  /** RFC 2253 subject as Envoy prints it, most specific RDN first; "" when the subject is empty. */
  subject: string;
  /** Every URI SAN; Envoy's property exposes only the first. */
  uriSans?: string[];
  /** Every DNS SAN; Envoy's property exposes only the first. */
  dnsSans?: string[];
  /** The certificate as PEM: what `connection.peer_certificate` answers from Envoy 1.38 on. */
  pem?: string;
}

/** The proxy's own certificate on a TLS listener: Envoy answers its subject and first SANs. */
export interface LocalCertificate {
  subject: string;
  uriSans?: string[];
  dnsSans?: string[];
}

/** What the modelled Envoy release answers beyond what every supported one does. */
export interface PropertyFeatures {
  /** `connection.peer_certificate` (Envoy >= 1.38): the leaf as PEM. */
  peerCertificate: boolean;
  /** `connection.peer_certificate_valid` (Envoy >= 1.39): a bool, false without a client certificate. */
  peerCertificateValid: boolean;
}

interface Endpoints {
  /** `ip:port` of the client; Envoy's source.address includes the port. */
  source?: string;
  /** `ip:port` the connection arrived at. */
  destination?: string;
  /** Downstream connection id. */
  id?: number;
}

export type Connection =
  | ({ kind: 'plaintext' } & Endpoints)
  | ({ kind: 'tls' } & TlsFacts & Endpoints)
  | ({ kind: 'mtls'; peer: PeerCertificate } & TlsFacts & Endpoints);

interface TlsFacts {
  tlsVersion?: string;
  sni?: string;
  /** The listener's certificate; default one with an empty subject and no SAN. */
  local?: LocalCertificate;
}

export const plaintext = (endpoints: Endpoints = {}): Connection => ({ kind: 'plaintext', ...endpoints });
export const tls = (options: TlsFacts & Endpoints = {}): Connection => ({ kind: 'tls', ...options });
export const mtls = (peer: PeerCertificate, options: TlsFacts & Endpoints = {}): Connection => ({
  kind: 'mtls',
  peer,
  ...options,
});

function atLeast(version: string, minimum: string): boolean {
  const a = version.split('.').map(Number);
  const b = minimum.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

/** The properties an Envoy release answers; without a version, the oldest supported release's. */
export function propertyFeatures(envoyVersion?: string): PropertyFeatures {
  return {
    peerCertificate: envoyVersion !== undefined && atLeast(envoyVersion, '1.38.0'),
    peerCertificateValid: envoyVersion !== undefined && atLeast(envoyVersion, '1.39.0'),
  };
}

export const Status = { Ok: 0, NotFound: 1, SerializationFailure: 3 } as const;

export type PropertyAnswer = { status: number; value?: Buffer };

const ok = (value: Buffer | string): PropertyAnswer => ({
  status: Status.Ok,
  value: typeof value === 'string' ? Buffer.from(value, 'utf8') : value,
});
const notFound: PropertyAnswer = { status: Status.NotFound };
const notSerializable: PropertyAnswer = { status: Status.SerializationFailure };

function u64(value: number | bigint): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(BigInt(value));
  return out;
}

function bool(value: boolean): Buffer {
  return Buffer.from([value ? 1 : 0]);
}

function port(address: string): number {
  const at = address.lastIndexOf(':');
  return at < 0 ? 0 : Number(address.slice(at + 1)) || 0;
}

export function connectionProperty(connection: Connection, key: string, features: PropertyFeatures): PropertyAnswer {
  const secure = connection.kind !== 'plaintext';
  const peer = connection.kind === 'mtls' ? connection.peer : undefined;
  const local = connection.kind === 'plaintext' ? undefined : (connection.local ?? { subject: '' });
  switch (key) {
    case 'mtls':
      return ok(bool(peer !== undefined));
    case 'tls_version':
      return secure ? ok((connection as { tlsVersion?: string }).tlsVersion ?? 'TLSv1.3') : notFound;
    case 'requested_server_name':
      return ok(secure ? ((connection as { sni?: string }).sni ?? '') : '');
    case 'sha256_peer_certificate_digest':
      // Envoy treats an empty digest as absent.
      return peer && peer.sha256.length > 0 ? ok(peer.sha256) : notFound;
    case 'subject_peer_certificate':
      // TLS without a client certificate answers Ok with an empty value; plaintext has no TLS facts.
      return secure ? ok(peer?.subject ?? '') : notFound;
    case 'uri_san_peer_certificate':
      return peer?.uriSans?.length ? ok(peer.uriSans[0]) : notFound;
    case 'dns_san_peer_certificate':
      return peer?.dnsSans?.length ? ok(peer.dnsSans[0]) : notFound;
    case 'peer_certificate':
      // Envoy >= 1.38, as plain PEM (XFCC's Cert= is the URL-encoded one); older releases: NotFound.
      return features.peerCertificate && peer?.pem ? ok(peer.pem) : notFound;
    case 'peer_certificate_valid':
      // Envoy >= 1.39: answered on every connection, plaintext included.
      return features.peerCertificateValid ? ok(bool(peer !== undefined)) : notFound;
    case 'subject_local_certificate':
      return local ? ok(local.subject) : notFound;
    case 'uri_san_local_certificate':
      return local?.uriSans?.length ? ok(local.uriSans[0]) : notFound;
    case 'dns_san_local_certificate':
      return local?.dnsSans?.length ? ok(local.dnsSans[0]) : notFound;
    case 'id':
      return ok(u64(connection.id ?? 1));
    default:
      // termination_details, transport_failure_reason (absent when empty) and unknown keys.
      return notFound;
  }
}

export function endpointProperty(connection: Connection, side: 'source' | 'destination', key: string): PropertyAnswer {
  const address = (side === 'source' ? connection.source : connection.destination) ?? (side === 'source' ? '127.0.0.1:40000' : '127.0.0.1:8443');
  if (key === 'address') return ok(address);
  if (key === 'port') return ok(u64(port(address)));
  return notFound;
}

export { ok, notFound, notSerializable, u64 };
