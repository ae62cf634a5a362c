// Who the client is: established from the connection's TLS facts or from XFCC, with the trust rules
// of the README's "The client's identity". Pure: the glue hands in the raw property values.
//
// What a rule may compare with comes only from Envoy's own properties or from a certificate whose
// SHA-256 is the digest that vouches for it — never from the text of XFCC's URI= or DNS=, which Envoy
// writes unescaped (a SAN holding ';' or ',' would add SANs, or whole elements). Where a fact cannot
// be known (every SAN, without the certificate; a subject this filter cannot print as Envoy does),
// the identity says so, and the rules decide as the README says: an allow rule never matches on what
// is unknown, a deny rule always does.
import { DIGEST_WORDS, HEX_DIGITS, decodeDigestAt, digestToHex, hexChunk } from "./fingerprint";
import { CommonNames, commonNames } from "./subject";
import { XfccElement, XfccHeader } from "./xfcc";
import { pemToDer } from "../cert/pem";
import * as collector from "../collector";
import { Bytes, equalBytes, sameBytes } from "../text";
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
// on the digest; an entry answers only for the very same bytes with the very same digest, so the
// answer is always what reading them would give (the facts are shared: nothing changes them).
const CACHE_SLOTS: i32 = 64;
const cachedPems = new StaticArray<ArrayBuffer | null>(CACHE_SLOTS);
const cachedHashes = new StaticArray<ArrayBuffer | null>(CACHE_SLOTS);
const cachedFacts = new StaticArray<CertificateFacts | null>(CACHE_SLOTS);

// The certificate written as the `length` bytes at `pem` (PEM, URL-encoded or not), if its SHA-256
// is spelled by the 64 bytes at `hash` as Envoy spells digests (lowercase hex); else null.
export function certificateOf(pem: usize, length: i32, hash: usize): CertificateFacts | null {
  let slot = <i32>((load<u64>(hash) * 0x9e3779b97f4a7c15) >> 58);
  let cachedPem = unchecked(cachedPems[slot]);
  let cachedHash = unchecked(cachedHashes[slot]);
  if (cachedPem !== null && cachedHash !== null && sameBytes(hash, HEX_DIGITS, cachedHash) && sameBytes(pem, length, cachedPem)) return unchecked(cachedFacts[slot]);
  // Reading a certificate makes its DER, its facts and their strings.
  collector.allocated(length);
  let der = pemToDer(pem, length);
  if (der === null || !spellsDigest(derSha256(der), hash)) return null;
  let facts = readCertificate(der);
  if (facts === null) return null;
  unchecked((cachedPems[slot] = copyOf(pem, length)));
  unchecked((cachedHashes[slot] = copyOf(hash, HEX_DIGITS)));
  unchecked((cachedFacts[slot] = facts));
  return facts;
}

function copyOf(ptr: usize, length: i32): ArrayBuffer {
  let copy = new ArrayBuffer(length);
  memory.copy(changetype<usize>(copy), ptr, <usize>length);
  return copy;
}

// Whether the 64 bytes at `hash` spell the 32 bytes of `sha256` as Envoy does: lowercase hex.
function spellsDigest(sha256: StaticArray<u8>, hash: usize): bool {
  for (let chunk = 0; chunk < 8; chunk++) {
    if (hexChunk(<u64>load<u32>(changetype<usize>(sha256) + (<usize>chunk << 2))) != load<u64>(hash + (<usize>chunk << 3))) return false;
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
  // The identities a request fills in, kept from request to request: the connection's, and a
  // client named by XFCC.
  private own: Identity = new Identity();
  private named: Identity = new Identity();

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

  // The identity for a client named by XFCC, emptied.
  client(): Identity {
    return this.named.reset();
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
  abstract subject(): Bytes | null;
  // The first URI and DNS SAN (Envoy's properties give only the first).
  abstract uriSan(): Bytes | null;
  abstract dnsSan(): Bytes | null;
  // The x-forwarded-client-cert value (repeated headers comma-joined).
  abstract xfcc(): Bytes | null;
  // Envoy's connection.peer_certificate (URL-encoded PEM; Envoy >= 1.38).
  abstract peerCertificate(): Bytes | null;
}

// The connection's own certificate: Envoy's peer_certificate, or else an XFCC Cert= whose SHA-256 is
// the connection's digest — the gateway's own element (SANITIZE_SET); what the element's other text
// says does not matter, the certificate's bytes are proven.
function connectionCertificate(facts: ConnectionFacts, digestHex: usize): CertificateFacts | null {
  let peer = facts.peerCertificate();
  if (peer !== null) return certificateOf(peer.ptr, peer.length, digestHex);
  let xfcc = facts.xfcc();
  if (xfcc === null || !connectionHeader.read(xfcc.ptr, xfcc.length)) return null;
  for (let i = connectionHeader.count - 1; i >= 0; i--) {
    let element = connectionHeader.element(i);
    let hash = element.hashPtr;
    if (element.hasCert && hash != 0 && equalBytes(hash, digestHex, HEX_DIGITS)) return certificateOf(element.certPtr, element.certLength, digestHex);
  }
  return null;
}

function textOf(bytes: Bytes | null): string | null {
  return bytes === null ? null : bytes.text();
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
  let read = certificate ? connectionCertificate(facts, hex) : null;
  if (!subject && (read !== null || !sans)) {
    if (read !== null) identity.takeCertificate(read);
    return result.hold(identity);
  }
  // A connection makes request after request with one certificate: its names are made into text
  // once, and the text kept for as long as the next request's bytes are the same.
  if (subject) {
    let text = recentSubject.of(facts.subject());
    identity.subject = text === null ? "" : text;
  }
  if (read !== null) {
    identity.takeCertificate(read);
  } else if (sans) {
    identity.uriSans = recentUriSan.list(facts.uriSan());
    identity.dnsSans = recentDnsSan.list(facts.dnsSan());
  }
  return result.hold(identity);
}

// The text of the last value seen, while the next one has the same bytes.
class RecentText {
  private bytes: ArrayBuffer = new ArrayBuffer(0);
  private text: string | null = null;
  private single: string[] = NO_NAMES;

  of(value: Bytes | null): string | null {
    if (value === null) return null;
    if (this.text === null || !value.equals(changetype<usize>(this.bytes), this.bytes.byteLength)) {
      let copy = new ArrayBuffer(value.length);
      memory.copy(changetype<usize>(copy), value.ptr, <usize>value.length);
      this.bytes = copy;
      let text = value.text();
      this.text = text;
      this.single = text.length > 0 ? [text] : NO_NAMES;
    }
    return this.text;
  }

  // The value as a list of one, or none when absent or empty.
  list(value: Bytes | null): string[] {
    return this.of(value) === null ? NO_NAMES : this.single;
  }
}

const recentSubject = new RecentText();
const recentUriSan = new RecentText();
const recentDnsSan = new RecentText();

// An element's identity as its text states it, for judging whether it is a trusted proxy: Hash,
// Subject and SANs as written (an element proven by its certificate states the certificate's). Into
// `identity`, which is returned.
export function elementIdentity(element: XfccElement, certificate: CertificateFacts | null, identity: Identity): Identity {
  identity.reset();
  let hash = element.hashPtr;
  if (hash != 0) identity.digestSpelled(hash);
  if (certificate !== null) {
    identity.takeCertificate(certificate);
    identity.subject = certificate.subject;
    return identity;
  }
  identity.subject = element.hasSubject ? element.subject : null;
  identity.uriSans = element.texts(false);
  identity.dnsSans = element.texts(true);
  return identity;
}

// Whether an element carrying Cert= says what its certificate says: the Hash is the certificate's
// SHA-256, and the Subject, URI and DNS text Envoy wrote from it are the certificate's own. A SAN that
// split the element (or the header) where Envoy wrote it leaves its element disagreeing with the
// certificate. Returns the certificate, or null.
function provenCertificate(element: XfccElement): CertificateFacts | null {
  let hash = element.hashPtr;
  if (hash == 0) return null;
  let certificate = certificateOf(element.certPtr, element.certLength, hash);
  if (certificate === null) return null;
  let subject = certificate.subjectUtf8;
  if (element.hasSubject && (subject === null || !element.subjectIs(subject))) return null;
  // Envoy writes a lone empty URI= for a certificate without URI SANs.
  if (element.uriCount > 0 && !(certificate.uriSans.length == 0 ? element.uriCount == 1 && element.valueEquals(false, 0, 0, 0) : element.valuesAre(false, certificate.uriSansUtf8))) return null;
  if (element.dnsCount > 0 && !element.valuesAre(true, certificate.dnsSansUtf8)) return null;
  return certificate;
}

// Whether the last element says what the connection says: the Hash (required), and the first URI,
// the first DNS name and the Subject wherever the element states them. Our own Envoy wrote them from
// this connection's certificate (APPEND_FORWARD or SANITIZE_SET), so any disagreement means the
// element came from elsewhere — and trusting it as a proxy would let its author pick its identity.
function describesConnection(element: XfccElement, facts: ConnectionFacts, digestHex: usize): bool {
  let hash = element.hashPtr;
  if (hash == 0 || !equalBytes(hash, digestHex, HEX_DIGITS)) return false;
  if (element.uriCount > 0) {
    let uri = facts.uriSan();
    if (!(uri === null ? element.valueEquals(false, 0, 0, 0) : element.valueEquals(false, 0, uri.ptr, uri.length))) return false;
  }
  if (element.dnsCount > 0) {
    let dns = facts.dnsSan();
    if (dns === null || !element.valueEquals(true, 0, dns.ptr, dns.length)) return false;
  }
  if (element.hasSubject) {
    let subject = facts.subject();
    if (!(subject === null ? element.subjectEquals(0, 0) : element.subjectEquals(subject.ptr, subject.length))) return false;
  }
  return true;
}

// The header of the connection whose certificate is read (connection mode, or a workload calling a
// sidecar), and the chain xfcc mode walks: two readers, as both may be read for one request.
const connectionHeader = new XfccHeader();

export class XfccChain {
  header: XfccHeader = new XfccHeader();
  // Per element, its proven certificate; null for an element without Cert=.
  certificates: Array<CertificateFacts | null> = [];
  failure: IdentityFailure = IdentityFailure.None;

  fail(failure: IdentityFailure): XfccChain {
    this.failure = failure;
    return this;
  }
}

// Reused from request to request.
const chain = new XfccChain();

// `xfcc` mode: a proxy in front of us terminated the client's TLS and said who the client was.
// Returns the header's elements once it is proven to come from our own Envoy and every element that
// carries a certificate agrees with it; the policy then walks back past its trusted proxies to the
// client. The chain is the module's own, valid until the next call.
export function xfccChain(facts: ConnectionFacts): XfccChain {
  chain.failure = IdentityFailure.None;
  chain.certificates.length = 0;
  let xfcc = facts.xfcc();
  let digestHex = facts.digestHex();
  if (xfcc === null || xfcc.length == 0) return chain.fail(IdentityFailure.XfccMissing);
  // Without mTLS no proxy of ours added the header: the client did.
  if (digestHex == 0) return chain.fail(IdentityFailure.XfccUntrusted);
  let header = chain.header;
  if (!header.read(xfcc.ptr, xfcc.length)) return chain.fail(IdentityFailure.XfccMalformed);
  // The last element must be the one our own Envoy appended for this connection.
  if (!describesConnection(header.last, facts, digestHex)) return chain.fail(IdentityFailure.XfccMismatch);
  for (let i = 0; i < header.count; i++) {
    let element = header.element(i);
    let certificate: CertificateFacts | null = null;
    if (element.hasCert) {
      certificate = provenCertificate(element);
      if (certificate === null) return chain.fail(IdentityFailure.XfccMalformed);
    }
    chain.certificates.push(certificate);
  }
  return chain;
}

// The client named by element `index` of a proven chain: its certificate is required, and says
// everything.
export function clientIdentity(chain: XfccChain, index: i32, result: IdentityResult): IdentityResult {
  let certificate = chain.certificates[index];
  if (certificate === null) return result.fail(IdentityFailure.XfccMalformed);
  let identity = result.client();
  // Its Hash, spelled as Envoy wrote it (proven by its certificate): looked up as it is.
  identity.digestSpelled(chain.header.element(index).hashPtr);
  identity.subject = certificate.subject;
  identity.takeCertificate(certificate);
  return result.hold(identity);
}
