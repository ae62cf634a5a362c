// What Envoy says about the current request and its connection, read from the host at most once per
// request and only when the decision or the deny line asks: the one place that knows the property
// paths and header names. Values stay in the request arena (abi.ts) as bytes; a string is made only
// for a value a rule compares as text.
import * as abi from "./abi";
import * as collector from "./collector";
import { ConnectionFacts } from "./identity/identity";
import { DIGEST_WORDS, HEX_DIGITS, decodeDigestAt } from "./identity/fingerprint";
import { Bytes } from "./text";

// Envoy property paths are NUL-separated tokens; a dotted path is one unknown name (NotFound).
const DIGEST_PATH = String.UTF8.encode("connection\0sha256_peer_certificate_digest");
const SUBJECT_PATH = String.UTF8.encode("connection\0subject_peer_certificate");
const URI_SAN_PATH = String.UTF8.encode("connection\0uri_san_peer_certificate");
const DNS_SAN_PATH = String.UTF8.encode("connection\0dns_san_peer_certificate");
// The whole certificate as URL-encoded PEM: Envoy >= 1.38; NotFound before, then XFCC's Cert=.
const PEER_CERTIFICATE_PATH = String.UTF8.encode("connection\0peer_certificate");
// Through the request.headers property: repeated XFCC headers arrive comma-joined, as one list, so
// a second header cannot hide from the filter (a header-map read gives the first only).
const XFCC_PATH = String.UTF8.encode("request\0headers\0x-forwarded-client-cert");
const AUTHORITY = String.UTF8.encode(":authority");
const PATH = String.UTF8.encode(":path");

// One value of the host's: the request it was read for, and whether the host had one.
class HostValue extends Bytes {
  readFor: u64 = 0;
  found: bool = false;

  take(found: bool, epoch: u64): void {
    this.readFor = epoch;
    this.found = found;
    this.set(abi.valuePtr, abi.valueLength);
  }

  // Made into text: counted as garbage for the collector.
  text(): string {
    collector.allocated(this.length);
    return super.text();
  }
}

export class RequestFacts extends ConnectionFacts {
  // Counts requests (never wrapping): a value read for an earlier one is stale, so a request starts
  // in O(1).
  private epoch: u64 = 1;
  private digestValue: HostValue = new HostValue();
  private digestWords: StaticArray<u64> = new StaticArray<u64>(DIGEST_WORDS);
  private digestValid: bool = false;
  private digestDecoded: bool = false;
  private subjectValue: HostValue = new HostValue();
  private uriSanValue: HostValue = new HostValue();
  private dnsSanValue: HostValue = new HostValue();
  private peerCertificateValue: HostValue = new HostValue();
  private xfccValue: HostValue = new HostValue();
  private authorityValue: HostValue = new HostValue();
  private pathValue: HostValue = new HostValue();

  // Forgets the previous request's values (their bytes went with the arena).
  begin(): void {
    abi.beginRequest();
    this.epoch++;
    this.digestDecoded = false;
  }

  private property(value: HostValue, path: ArrayBuffer): HostValue {
    if (value.readFor != this.epoch) value.take(abi.readProperty(path), this.epoch);
    return value;
  }

  private header(value: HostValue, name: ArrayBuffer): HostValue {
    if (value.readFor != this.epoch) value.take(abi.readHeader(name), this.epoch);
    return value;
  }

  private found(value: HostValue): Bytes | null {
    return value.found ? value : null;
  }

  digestHex(): usize {
    let hex = this.property(this.digestValue, DIGEST_PATH);
    return hex.found && hex.length == HEX_DIGITS ? hex.ptr : 0;
  }

  digest(): StaticArray<u64> | null {
    if (!this.digestDecoded) {
      this.digestDecoded = true;
      let hex = this.property(this.digestValue, DIGEST_PATH);
      this.digestValid = hex.found && decodeDigestAt(hex.ptr, hex.length, this.digestWords);
    }
    return this.digestValid ? this.digestWords : null;
  }

  subject(): Bytes | null {
    return this.found(this.property(this.subjectValue, SUBJECT_PATH));
  }

  uriSan(): Bytes | null {
    return this.found(this.property(this.uriSanValue, URI_SAN_PATH));
  }

  dnsSan(): Bytes | null {
    return this.found(this.property(this.dnsSanValue, DNS_SAN_PATH));
  }

  peerCertificate(): Bytes | null {
    return this.found(this.property(this.peerCertificateValue, PEER_CERTIFICATE_PATH));
  }

  xfcc(): Bytes | null {
    let fresh = this.xfccValue.readFor != this.epoch;
    let value = this.property(this.xfccValue, XFCC_PATH);
    // Reading the chain makes its identities: strings and objects in proportion to the header.
    if (fresh && value.found) collector.allocated(value.length);
    return this.found(value);
  }

  // The :authority and :path as the host has them (absent: no bytes).
  authority(): Bytes {
    return this.header(this.authorityValue, AUTHORITY);
  }

  path(): Bytes {
    return this.header(this.pathValue, PATH);
  }

  // The digest's text as Envoy gave it (absent: no bytes).
  digestText(): Bytes {
    return this.property(this.digestValue, DIGEST_PATH);
  }
}
