// Who the client is: established from the connection's TLS facts or from XFCC, with the trust rules
// of the README's "The client's identity". Pure: the glue hands in the raw property values.
import { DIGEST_WORDS, decodeDigest, digestToHex } from "./sha256";
import { commonName } from "./subject";
import { XfccElement, parseXfcc } from "./xfcc";
import { pemToDer } from "../cert/pem";
import { CertificateFacts, derSha256, readCertificate } from "../cert/x509";

export class Identity {
  // The certificate's SHA-256, or null when the source did not say (an XFCC element without Hash).
  digest: StaticArray<u64> | null = null;
  subject: string = "";
  uriSans: string[] = [];
  dnsSans: string[] = [];
  private cnDone: bool = false;
  private cnValue: string | null = null;
  // The certificate as URL-encoded PEM, from Envoy's peer_certificate or else an XFCC element's
  // Cert=; read only when a rule needs it, and used only if its SHA-256 is `digest`.
  pem: string | null = null;
  pemElement: XfccElement | null = null;
  private certificateDone: bool = false;
  private certificateValue: CertificateFacts | null = null;

  get certificate(): CertificateFacts | null {
    if (!this.certificateDone) {
      this.certificateDone = true;
      let pem = this.pem;
      let element = this.pemElement;
      if (pem === null && element !== null) pem = element.cert;
      let digest = this.digest;
      if (pem !== null && digest !== null) this.certificateValue = certificateOf(pem, digest);
    }
    return this.certificateValue;
  }

  // The subject's first CN, unescaped; null when there is none.
  get cn(): string | null {
    if (!this.cnDone) {
      this.cnValue = this.subject.length > 0 ? commonName(this.subject) : null;
      this.cnDone = true;
    }
    return this.cnValue;
  }

  get digestHex(): string {
    let digest = this.digest;
    return digest === null ? "" : digestToHex(digest);
  }
}

// Certificates already read, by digest and text: a client sends the same certificate request after
// request, and decoding, hashing and walking it costs many times what deciding does. Direct-mapped
// on the digest; an entry answers only for the very same text with the very same digest, so the
// answer is always what reading that text would give (the facts are shared: nothing changes them).
const CACHE_SLOTS: i32 = 64;
const cachedPems = new StaticArray<string | null>(CACHE_SLOTS);
const cachedDigests = new StaticArray<StaticArray<u64> | null>(CACHE_SLOTS);
const cachedFacts = new StaticArray<CertificateFacts | null>(CACHE_SLOTS);

// The certificate written as `pem` (URL-encoded PEM), if its SHA-256 is `digest`; else null.
function certificateOf(pem: string, digest: StaticArray<u64>): CertificateFacts | null {
  let slot = <i32>(unchecked(digest[0]) & <u64>(CACHE_SLOTS - 1));
  let cachedPem = unchecked(cachedPems[slot]);
  let cachedDigest = unchecked(cachedDigests[slot]);
  if (cachedPem !== null && cachedDigest !== null && cachedPem == pem && sameDigest(cachedDigest, digest)) return unchecked(cachedFacts[slot]);
  let der = pemToDer(pem);
  if (der === null || !sameAsDigest(derSha256(der), digest)) return null;
  let facts = readCertificate(der);
  unchecked((cachedPems[slot] = pem));
  unchecked((cachedDigests[slot] = digest));
  unchecked((cachedFacts[slot] = facts));
  return facts;
}

// Whether 32 hash bytes are the digest's four words.
function sameAsDigest(bytes: StaticArray<u8>, digest: StaticArray<u64>): bool {
  for (let word = 0; word < DIGEST_WORDS; word++) {
    let value: u64 = 0;
    for (let b = 0; b < 8; b++) value = (value << 8) | <u64>bytes[word * 8 + b];
    if (value != unchecked(digest[word])) return false;
  }
  return true;
}

// Why there is no identity to decide on.
export const enum IdentityFailure {
  None,
  NoClientCertificate,
  XfccMismatch,
  XfccUntrusted,
  XfccMissing,
  XfccMalformed,
}

export class IdentityResult {
  identity: Identity | null = null;
  failure: IdentityFailure = IdentityFailure.None;

  static failed(failure: IdentityFailure): IdentityResult {
    let result = new IdentityResult();
    result.failure = failure;
    return result;
  }

  static of(identity: Identity): IdentityResult {
    let result = new IdentityResult();
    result.identity = identity;
    return result;
  }
}

// What Envoy told the filter about the connection (null = NotFound).
export class ConnectionFacts {
  digestHex: ArrayBuffer | null = null;
  subject: string | null = null;
  uriSan: string | null = null;
  dnsSan: string | null = null;
  // The request's x-forwarded-client-cert value as bytes (repeated headers comma-joined), or null.
  xfcc: ArrayBuffer | null = null;
  // Envoy's connection.peer_certificate (URL-encoded PEM; newer Envoy only), or null.
  peerCertificate: string | null = null;
}

function sameDigest(a: StaticArray<u64>, b: StaticArray<u64>): bool {
  for (let i = 0; i < DIGEST_WORDS; i++) {
    if (unchecked(a[i]) != unchecked(b[i])) return false;
  }
  return true;
}

function connectionDigest(facts: ConnectionFacts): StaticArray<u64> | null {
  let hex = facts.digestHex;
  if (hex === null || hex.byteLength == 0) return null;
  let digest = new StaticArray<u64>(DIGEST_WORDS);
  return decodeDigest(hex, digest) ? digest : null;
}

// The last XFCC element, when its Hash names this very connection's certificate: only then did our
// own Envoy write it (Istio's gateway sets XFCC with SANITIZE_SET), so only then are its SANs true.
function ownElement(elements: XfccElement[] | null, digest: StaticArray<u64>): XfccElement | null {
  if (elements === null || elements.length == 0) return null;
  let last = elements[elements.length - 1];
  let hash = last.digest;
  return hash !== null && sameDigest(hash, digest) ? last : null;
}

// `connection` mode: the gateway terminated the client's TLS. The connection's attributes carry
// only the first URI/DNS SAN; XFCC completes the lists only when it describes this connection.
export function connectionIdentity(facts: ConnectionFacts, sansFromCertificate: bool = false): IdentityResult {
  let digest = connectionDigest(facts);
  if (digest === null) return IdentityResult.failed(IdentityFailure.NoClientCertificate);
  let identity = new Identity();
  identity.digest = digest;
  let subject = facts.subject;
  identity.subject = subject === null ? "" : subject;
  let uri = facts.uriSan;
  if (uri !== null && uri.length > 0) identity.uriSans.push(uri);
  let dns = facts.dnsSan;
  if (dns !== null && dns.length > 0) identity.dnsSans.push(dns);
  identity.pem = facts.peerCertificate;
  // Envoy's own peer_certificate (newer Envoy) has every SAN: the most direct source when present.
  if (sansFromCertificate && identity.pem !== null) {
    let certificate = identity.certificate;
    if (certificate !== null) {
      identity.uriSans = certificate.uriSans;
      identity.dnsSans = certificate.dnsSans;
      return IdentityResult.of(identity);
    }
  }
  let xfcc = facts.xfcc;
  if (xfcc !== null && xfcc.byteLength > 0) {
    let own = ownElement(parseXfcc(xfcc), digest);
    if (own !== null) {
      for (let i = 0; i < own.uris.length; i++) identity.uriSans.push(own.uris[i]);
      for (let i = 0; i < own.dnss.length; i++) identity.dnsSans.push(own.dnss[i]);
      if (identity.pem === null && own.hasCert) identity.pemElement = own;
    }
  }
  return IdentityResult.of(identity);
}

export function elementIdentity(element: XfccElement): Identity {
  let identity = new Identity();
  identity.digest = element.digest;
  identity.subject = element.subject;
  identity.uriSans = element.uris;
  identity.dnsSans = element.dnss;
  if (element.hasCert) identity.pemElement = element;
  return identity;
}

// Whether the last element says what the connection says: the Hash (required), and the first URI,
// the first DNS name and the Subject wherever the element states them. Our own Envoy wrote them from
// this connection's certificate (APPEND_FORWARD or SANITIZE_SET), so any disagreement means the
// element came from elsewhere — and trusting it as a proxy would let its author pick its identity.
function describesConnection(element: XfccElement | null, facts: ConnectionFacts): bool {
  if (element === null) return false;
  let uri = facts.uriSan;
  if ((element.uris.length > 0 || (uri !== null && uri.length > 0)) && (element.uris.length == 0 || uri === null || element.uris[0] != uri)) return false;
  let dns = facts.dnsSan;
  if ((element.dnss.length > 0 || (dns !== null && dns.length > 0)) && (element.dnss.length == 0 || dns === null || element.dnss[0] != dns)) return false;
  let subject = facts.subject;
  if (element.hasSubject && element.subject != (subject === null ? "" : subject)) return false;
  return true;
}

export class XfccChain {
  elements: XfccElement[] = [];
  failure: IdentityFailure = IdentityFailure.None;
}

// `xfcc` mode: a proxy in front of us terminated the client's TLS and said who the client was.
// Returns the header's elements once it is proven to come from our own Envoy; the policy then walks
// back past its trusted proxies to the client.
export function xfccChain(facts: ConnectionFacts): XfccChain {
  let chain = new XfccChain();
  let xfcc = facts.xfcc;
  let digest = connectionDigest(facts);
  if (xfcc === null || xfcc.byteLength == 0) {
    chain.failure = IdentityFailure.XfccMissing;
  } else if (digest === null) {
    // Without mTLS no proxy of ours added the header: the client did.
    chain.failure = IdentityFailure.XfccUntrusted;
  } else {
    let elements = parseXfcc(xfcc);
    if (elements === null) {
      chain.failure = IdentityFailure.XfccMalformed;
    } else if (!describesConnection(ownElement(elements, digest), facts)) {
      // The last element must be the one our own Envoy appended for this connection.
      chain.failure = IdentityFailure.XfccMismatch;
    } else {
      chain.elements = elements;
    }
  }
  return chain;
}
