// Rules: identity matchers, a host/path scope and a validity window (the name lives in the list). A
// rule matches when every matcher it names matches (SAN matchers: any of the client's SANs), the
// request is in its scope, and the clock is inside its window.
//
// What the filter cannot know — every SAN without the certificate, the certificate itself, a subject
// it cannot print as Envoy does, the one CN of a subject with several, the host or path of an
// ambiguous request — never lets an allow rule match and always lets a deny rule match: nothing a
// deny rule could match is dropped silently, nothing an allow rule could not is guessed. Pure.
import { Char } from "../chars";
import { DIGEST_WORDS } from "../identity/fingerprint";
import { Identity } from "../identity/identity";
import { HostPattern, RequestHost, hostInScope } from "./authority";
import { RequestPath, pathInScope } from "./path";
import { equalsIgnoringAsciiCase } from "../text";

export class Matcher {
  digest: StaticArray<u64> | null = null;
  uriSan: string | null = null;
  uriSanPrefix: string | null = null;
  // Lower case: DNS names compare case-insensitively.
  dnsSan: string | null = null;
  subject: string | null = null;
  cn: string | null = null;
  // Read from the client certificate itself (XFCC Cert= or Envoy's peer_certificate).
  spki: string | null = null;
  emailSan: string | null = null;
  ipSan: Uint8Array | null = null;
  serial: string | null = null;
  issuer: string | null = null;

  get usesCertificate(): bool {
    return this.spki !== null || this.emailSan !== null || this.ipSan !== null || this.serial !== null || this.issuer !== null;
  }

  get usesSans(): bool {
    return this.uriSan !== null || this.uriSanPrefix !== null || this.dnsSan !== null;
  }

  copy(): Matcher {
    let copy = new Matcher();
    let digest = this.digest;
    if (digest !== null) {
      let words = new StaticArray<u64>(DIGEST_WORDS);
      for (let i = 0; i < DIGEST_WORDS; i++) unchecked((words[i] = digest[i]));
      copy.digest = words;
    }
    copy.uriSan = this.uriSan;
    copy.uriSanPrefix = this.uriSanPrefix;
    copy.dnsSan = this.dnsSan;
    copy.subject = this.subject;
    copy.cn = this.cn;
    copy.spki = this.spki;
    copy.emailSan = this.emailSan;
    copy.ipSan = this.ipSan;
    copy.serial = this.serial;
    copy.issuer = this.issuer;
    return copy;
  }

  get usesSubject(): bool {
    return this.subject !== null || this.cn !== null;
  }

  // Whether every matcher this names matches the identity; `deny` says what an unknown fact does.
  // `digestMatched`: the identity's digest is known to be this matcher's (found by it in an index).
  matches(identity: Identity, deny: bool, digestMatched: bool = false): bool {
    let digest = this.digest;
    if (digest !== null && !digestMatched) {
      let actual = identity.digest;
      if (actual === null) {
        if (!deny) return false;
      } else {
        for (let i = 0; i < DIGEST_WORDS; i++) {
          if (unchecked(digest[i]) != unchecked(actual[i])) return false;
        }
      }
    }
    let complete = identity.sansComplete;
    let uriSan = this.uriSan;
    if (uriSan !== null && !identity.uriSans.includes(uriSan) && (complete || !deny)) return false;
    let prefix = this.uriSanPrefix;
    if (prefix !== null && !anyUnderPrefix(identity.uriSans, prefix) && (complete || !deny)) return false;
    let dnsSan = this.dnsSan;
    if (dnsSan !== null && !anyEqualsIgnoringCase(identity.dnsSans, dnsSan) && (complete || !deny)) return false;
    let subject = this.subject;
    if (subject !== null) {
      let actual = identity.subject;
      if (actual === null ? !deny : actual != subject) return false;
    }
    let cn = this.cn;
    if (cn !== null) {
      let cns = identity.cns;
      if (deny ? !cns.mayBe(cn) : cns.single != cn) return false;
    }
    if (this.usesCertificate) {
      let certificate = identity.certificate;
      if (certificate === null) return deny;
      let spki = this.spki;
      if (spki !== null && certificate.spki != spki) return false;
      let email = this.emailSan;
      if (email !== null && !certificate.emailSans.includes(email)) return false;
      let ip = this.ipSan;
      if (ip !== null && !anySameBytes(certificate.ipSans, ip)) return false;
      let serial = this.serial;
      if (serial !== null && certificate.serial != serial) return false;
      let issuer = this.issuer;
      if (issuer !== null) {
        let actual = certificate.issuer;
        if (actual === null ? !deny : actual != issuer) return false;
      }
    }
    return true;
  }
}

function anySameBytes(values: Uint8Array[], wanted: Uint8Array): bool {
  for (let i = 0; i < values.length; i++) {
    let value = values[i];
    if (value.length == wanted.length && memory.compare(value.dataStart, wanted.dataStart, <usize>value.length) == 0) return true;
  }
  return false;
}

// A URI prefix matches on a boundary: "spiffe://td/ns/istio-system" matches itself and what is below
// it ("…/istio-system/sa/x"), never "…/istio-system-tenant"; a prefix ending in '/' or ':' matches
// whatever follows it.
export function underUriPrefix(value: string, prefix: string): bool {
  if (!value.startsWith(prefix)) return false;
  if (value.length == prefix.length) return true;
  let last = prefix.charCodeAt(prefix.length - 1);
  return last == Char.Slash || last == Char.Colon || value.charCodeAt(prefix.length) == Char.Slash;
}

function anyUnderPrefix(values: string[], prefix: string): bool {
  for (let i = 0; i < values.length; i++) {
    if (underUriPrefix(values[i], prefix)) return true;
  }
  return false;
}

function anyEqualsIgnoringCase(values: string[], lower: string): bool {
  for (let i = 0; i < values.length; i++) {
    let value = values[i];
    if (equalsIgnoringAsciiCase(value, lower)) return true;
  }
  return false;
}

export const NO_START: i64 = i64.MIN_VALUE;
export const NO_END: i64 = i64.MAX_VALUE;

export class Rule {
  matcher: Matcher = new Matcher();
  hosts: HostPattern[] | null = null;
  paths: ArrayBuffer[] | null = null;
  notBefore: i64 = NO_START;
  notAfter: i64 = NO_END;

  // Back to a rule with no matcher, scope or window (the parser reuses one rule while reading).
  reset(): void {
    let m = this.matcher;
    m.digest = null;
    m.uriSan = null;
    m.uriSanPrefix = null;
    m.dnsSan = null;
    m.subject = null;
    m.cn = null;
    m.spki = null;
    m.emailSan = null;
    m.ipSan = null;
    m.serial = null;
    m.issuer = null;
    this.hosts = null;
    this.paths = null;
    this.notBefore = NO_START;
    this.notAfter = NO_END;
  }

  // An independent copy (the parser reads every rule into one scratch rule).
  copy(): Rule {
    let copy = new Rule();
    copy.matcher = this.matcher.copy();
    copy.hosts = this.hosts;
    copy.paths = this.paths;
    copy.notBefore = this.notBefore;
    copy.notAfter = this.notAfter;
    return copy;
  }

  get hasWindow(): bool {
    return this.notBefore != NO_START || this.notAfter != NO_END;
  }

  // `nowMs` is milliseconds since the epoch; `deny` says what an unknown fact does; `viaIndex`: the
  // rule was found through the digest index, so its sha256 is the identity's.
  matches(identity: Identity, host: RequestHost, path: RequestPath, nowMs: i64, deny: bool, viaIndex: bool): bool {
    if (nowMs < this.notBefore || nowMs > this.notAfter) return false;
    let hosts = this.hosts;
    if (hosts !== null && !hostInScope(hosts, host, deny)) return false;
    let paths = this.paths;
    if (paths !== null && !pathInScope(paths, path, deny)) return false;
    return this.matcher.matches(identity, deny, viaIndex);
  }
}
