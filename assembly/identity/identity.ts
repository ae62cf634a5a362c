// Who the client is: established from the connection's TLS facts or from XFCC, with the trust rules
// of the README's "The client's identity". Pure: the glue hands in the raw property values.
//
// What a rule may compare with comes only from Envoy's own properties or from a certificate whose
// SHA-256 is the digest that vouches for it — never from the text of XFCC's URI= or DNS=, which Envoy
// writes unescaped (a SAN holding ';' or ',' would add SANs, or whole elements). Where a fact cannot
// be known (every SAN, without the certificate; a subject this filter cannot print as Envoy does),
// the identity says so, and the rules decide as the README says: an allow rule never matches on what
// is unknown, a deny rule always does.
import { DIGEST_WORDS, HEX_DIGITS, decodeDigestAt, digestToHex } from "./fingerprint";
import { CommonNames, commonNames } from "./subject";
import { XfccElement, parseXfcc } from "./xfcc";
import { pemToDer } from "../cert/pem";
import { CertificateFacts, derSha256, readCertificate } from "../cert/x509";

const NO_NAMES: string[] = [];

export class Identity {
  // The certificate's SHA-256 as words, or, for the connection's certificate, as the 64 hex digits
  // Envoy wrote (looked up as they are, decoded only when a rule compares words).
  private words: StaticArray<u64> | null = null;
  private hex: usize = 0;
  private decoded: StaticArray<u64> = new StaticArray<u64>(DIGEST_WORDS);

  // The certificate's SHA-256; null when nothing says (an XFCC element without a Hash, digits that
  // are not a digest).
  get digest(): StaticArray<u64> | null {
    let hex = this.hex;
    if (hex != 0) {
      this.hex = 0;
      this.words = decodeDigestAt(hex, HEX_DIGITS, this.decoded) ? this.decoded : null;
    }
    return this.words;
  }

  set digest(words: StaticArray<u64> | null) {
    this.words = words;
    this.hex = 0;
  }

  // The 64 hex digits at `ptr` are the digest.
  digestSpelled(ptr: usize): void {
    this.words = null;
    this.hex = ptr;
  }

  // Where the digest's hex digits are, while it is known only by them; 0 otherwise.
  get digestHexPtr(): usize {
    return this.hex;
  }

  // Whether anything says what the digest is.
  get hasDigest(): bool {
    return this.hex != 0 || this.words !== null;
  }

  // As Envoy prints it; null when not known exactly.
  subject: string | null = null;
  // Never changed in place: an identity may share the lists of the certificate it was read from.
  uriSans: string[] = NO_NAMES;
  dnsSans: string[] = NO_NAMES;
  // Whether uriSans and dnsSans hold every SAN of the certificate (they do when it was read).
  sansComplete: bool = false;
  // The certificate itself, read and checked against the digest; null when not available.
  certificate: CertificateFacts | null = null;
  private cnsValue: CommonNames | null = null;

  // The subject's CNs; unreadable when the subject is unknown.
  get cns(): CommonNames {
    let cns = this.cnsValue;
    if (cns === null) {
      let subject = this.subject;
      if (subject === null) {
        cns = new CommonNames();
        cns.unreadable = true;
      } else {
        cns = commonNames(subject);
      }
      this.cnsValue = cns;
    }
    return cns;
  }

  get digestHex(): string {
    let digest = this.digest;
    return digest === null ? "" : digestToHex(digest);
  }

  // Back to knowing nothing, for reuse by the next request.
  reset(): Identity {
    this.words = null;
    this.hex = 0;
    this.subject = null;
    this.uriSans = NO_NAMES;
    this.dnsSans = NO_NAMES;
    this.sansComplete = false;
    this.certificate = null;
    this.cnsValue = null;
    return this;
  }

  // Every SAN and the rest from the certificate read for this identity.
  takeCertificate(certificate: CertificateFacts): void {
    this.certificate = certificate;
    this.uriSans = certificate.uriSans;
    this.dnsSans = certificate.dnsSans;
    this.sansComplete = true;
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

// The certificate written as `pem` (PEM, URL-encoded or not), if its SHA-256 is `digest`; else null.
export function certificateOf(pem: string, digest: StaticArray<u64>): CertificateFacts | null {
  let slot = <i32>(unchecked(digest[0]) & <u64>(CACHE_SLOTS - 1));
  let cachedPem = unchecked(cachedPems[slot]);
  let cachedDigest = unchecked(cachedDigests[slot]);
  if (cachedPem !== null && cachedDigest !== null && cachedPem == pem && sameDigest(cachedDigest, digest)) return unchecked(cachedFacts[slot]);
  let der = pemToDer(pem);
  if (der === null || !sameAsDigest(derSha256(der), digest)) return null;
  let facts = readCertificate(der);
  if (facts === null) return null;
  unchecked((cachedPems[slot] = pem));
  // The caller's digest may be reused for the next request's.
  let kept = new StaticArray<u64>(DIGEST_WORDS);
  for (let i = 0; i < DIGEST_WORDS; i++) unchecked((kept[i] = digest[i]));
  unchecked((cachedDigests[slot] = kept));
  unchecked((cachedFacts[slot] = facts));
  return facts;
}

// Whether 32 hash bytes are the digest (whose words hold its bytes in order).
function sameAsDigest(bytes: StaticArray<u8>, digest: StaticArray<u64>): bool {
  for (let word = 0; word < DIGEST_WORDS; word++) {
    if (load<u64>(changetype<usize>(bytes) + (<usize>word << 3)) != unchecked(digest[word])) return false;
  }
  return true;
}

function sameDigest(a: StaticArray<u64>, b: StaticArray<u64>): bool {
  for (let i = 0; i < DIGEST_WORDS; i++) {
    if (unchecked(a[i]) != unchecked(b[i])) return false;
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
  // The identity a connection-mode request fills in, kept from request to request.
  private own: Identity = new Identity();

  // This result, now saying why there is no identity.
  fail(failure: IdentityFailure): IdentityResult {
    this.identity = null;
    this.failure = failure;
    return this;
  }

  // This result, now holding `identity`.
  hold(identity: Identity): IdentityResult {
    this.identity = identity;
    this.failure = IdentityFailure.None;
    return this;
  }

  // Whether the identity is the connection's own peer (connection mode, or a workload that called
  // a sidecar directly), as Envoy's properties describe it.
  get fromConnection(): bool {
    return this.identity === this.own;
  }

  // This result's own identity, emptied.
  fresh(): Identity {
    return this.own.reset();
  }
}

// What Envoy says about the connection and the request, each value read from the host at most once
// per request and only when asked for: the glue reads properties and headers, the specs give fixed
// values. null: the host has none (NotFound).
export abstract class ConnectionFacts {
  // Where the connection's certificate digest is, as the 64 hex digits Envoy writes; 0 without a
  // client certificate (or for a value of another length).
  abstract digestHex(): usize;
  // The same digest decoded; null without one, or for anything but 64 hex digits.
  abstract digest(): StaticArray<u64> | null;
  abstract subject(): string | null;
  // The first URI and DNS SAN (Envoy's properties give only the first).
  abstract uriSan(): string | null;
  abstract dnsSan(): string | null;
  // The x-forwarded-client-cert value (repeated headers comma-joined).
  abstract xfcc(): ArrayBuffer | null;
  // Envoy's connection.peer_certificate (PEM; Envoy >= 1.38).
  abstract peerCertificate(): string | null;
}

// The connection's own certificate: Envoy's peer_certificate, or else an XFCC Cert= whose SHA-256 is
// the connection's digest — the gateway's own element (SANITIZE_SET); what the element's other text
// says does not matter, the certificate's bytes are proven.
function connectionCertificate(facts: ConnectionFacts, digest: StaticArray<u64>): CertificateFacts | null {
  let peer = facts.peerCertificate();
  if (peer !== null) return certificateOf(peer, digest);
  let xfcc = facts.xfcc();
  if (xfcc === null || xfcc.byteLength == 0) return null;
  let elements = parseXfcc(xfcc);
  if (elements === null) return null;
  for (let i = elements.length - 1; i >= 0; i--) {
    let element = elements[i];
    let hash = element.digest;
    if (element.hasCert && hash !== null && sameDigest(hash, digest)) return certificateOf(element.cert, digest);
  }
  return null;
}

// `connection` mode: the gateway terminated the client's TLS. Envoy's properties give the digest,
// the subject and the first URI and DNS SAN; the certificate, read when the rules need it, gives the
// rest. Only what the rules compare is read (`subject`, `sans`, `certificate`); the identity is the
// result's own, reused from request to request.
export function connectionIdentity(facts: ConnectionFacts, subject: bool, sans: bool, certificate: bool, result: IdentityResult): IdentityResult {
  let hex = facts.digestHex();
  if (hex == 0) return result.fail(IdentityFailure.NoClientCertificate);
  let identity = result.fresh();
  identity.digestSpelled(hex);
  if (subject) {
    let text = facts.subject();
    identity.subject = text === null ? "" : text;
  }
  let digest = certificate ? identity.digest : null;
  let read = digest !== null ? connectionCertificate(facts, digest) : null;
  if (read !== null) {
    identity.takeCertificate(read);
  } else if (sans) {
    let uri = facts.uriSan();
    if (uri !== null && uri.length > 0) identity.uriSans = [uri];
    let dns = facts.dnsSan();
    if (dns !== null && dns.length > 0) identity.dnsSans = [dns];
  }
  return result.hold(identity);
}

// An element's identity as its text states it, for judging whether it is a trusted proxy: Hash,
// Subject and SANs as written (an element proven by its certificate states the certificate's).
export function elementIdentity(element: XfccElement, certificate: CertificateFacts | null): Identity {
  let identity = new Identity();
  identity.digest = element.digest;
  if (certificate !== null) {
    identity.takeCertificate(certificate);
    identity.subject = certificate.subject;
    return identity;
  }
  identity.subject = element.hasSubject ? element.subject : null;
  // Envoy writes a lone empty URI= for a certificate without URI SANs.
  let uris = new Array<string>();
  for (let i = 0; i < element.uris.length; i++) if (element.uris[i].length > 0) uris.push(element.uris[i]);
  identity.uriSans = uris;
  identity.dnsSans = element.dnss;
  return identity;
}

function sameList(written: string[], actual: string[]): bool {
  if (written.length != actual.length) return false;
  for (let i = 0; i < written.length; i++) if (written[i] != actual[i]) return false;
  return true;
}

// Whether an element carrying Cert= says what its certificate says: the Hash is the certificate's
// SHA-256, and the Subject, URI and DNS text Envoy wrote from it are the certificate's own. A SAN that
// split the element (or the header) where Envoy wrote it leaves its element disagreeing with the
// certificate. Returns the certificate, or null.
function provenCertificate(element: XfccElement): CertificateFacts | null {
  let digest = element.digest;
  if (digest === null) return null;
  let certificate = certificateOf(element.cert, digest);
  if (certificate === null) return null;
  let subject = certificate.subject;
  if (element.hasSubject && (subject === null || element.subject != subject)) return null;
  let uris = element.uris;
  if (uris.length > 0 && !(certificate.uriSans.length == 0 ? uris.length == 1 && uris[0].length == 0 : sameList(uris, certificate.uriSans))) return null;
  if (element.dnss.length > 0 && !sameList(element.dnss, certificate.dnsSans)) return null;
  return certificate;
}

// Whether the last element says what the connection says: the Hash (required), and the first URI,
// the first DNS name and the Subject wherever the element states them. Our own Envoy wrote them from
// this connection's certificate (APPEND_FORWARD or SANITIZE_SET), so any disagreement means the
// element came from elsewhere — and trusting it as a proxy would let its author pick its identity.
function describesConnection(element: XfccElement, facts: ConnectionFacts, digest: StaticArray<u64>): bool {
  let hash = element.digest;
  if (hash === null || !sameDigest(hash, digest)) return false;
  if (element.uris.length > 0) {
    let uri = facts.uriSan();
    if (element.uris[0] != (uri === null ? "" : uri)) return false;
  }
  if (element.dnss.length > 0) {
    let dns = facts.dnsSan();
    if (dns === null || element.dnss[0] != dns) return false;
  }
  let subject = element.hasSubject ? facts.subject() : null;
  if (element.hasSubject && element.subject != (subject === null ? "" : subject)) return false;
  return true;
}

export class XfccChain {
  elements: XfccElement[] = [];
  // Per element, its proven certificate; null for an element without Cert=.
  certificates: Array<CertificateFacts | null> = [];
  failure: IdentityFailure = IdentityFailure.None;
}

// `xfcc` mode: a proxy in front of us terminated the client's TLS and said who the client was.
// Returns the header's elements once it is proven to come from our own Envoy and every element that
// carries a certificate agrees with it; the policy then walks back past its trusted proxies to the
// client.
export function xfccChain(facts: ConnectionFacts): XfccChain {
  let chain = new XfccChain();
  let xfcc = facts.xfcc();
  let digest = facts.digest();
  if (xfcc === null || xfcc.byteLength == 0) {
    chain.failure = IdentityFailure.XfccMissing;
    return chain;
  }
  if (digest === null) {
    // Without mTLS no proxy of ours added the header: the client did.
    chain.failure = IdentityFailure.XfccUntrusted;
    return chain;
  }
  let elements = parseXfcc(xfcc);
  if (elements === null) {
    chain.failure = IdentityFailure.XfccMalformed;
    return chain;
  }
  if (!describesConnection(elements[elements.length - 1], facts, digest)) {
    // The last element must be the one our own Envoy appended for this connection.
    chain.failure = IdentityFailure.XfccMismatch;
    return chain;
  }
  for (let i = 0; i < elements.length; i++) {
    let element = elements[i];
    let certificate: CertificateFacts | null = null;
    if (element.hasCert) {
      certificate = provenCertificate(element);
      if (certificate === null) {
        chain.failure = IdentityFailure.XfccMalformed;
        return chain;
      }
    }
    chain.certificates.push(certificate);
  }
  chain.elements = elements;
  return chain;
}

// The client named by element `index` of a proven chain: its certificate is required, and says
// everything.
export function clientIdentity(chain: XfccChain, index: i32, result: IdentityResult): IdentityResult {
  let certificate = chain.certificates[index];
  if (certificate === null) return result.fail(IdentityFailure.XfccMalformed);
  let element = chain.elements[index];
  let identity = new Identity();
  identity.digest = element.digest;
  identity.subject = certificate.subject;
  identity.takeCertificate(certificate);
  return result.hold(identity);
}
