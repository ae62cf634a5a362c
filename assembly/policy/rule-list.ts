// An ordered rule list with a digest index. Rules that name a sha256 are found through the index (a
// chain per digest, in list order), the others by a scan; `firstMatch` returns the first matching
// rule in list order either way. A rule that is nothing but a fingerprint stores no Rule object at
// all — the index alone matches it — which keeps a million-fingerprint list small. Pure.
import { Identity } from "../identity/identity";
import { DigestSet } from "./digest-set";
import { NameTable, reserved } from "./names";
import { NO_END, NO_START, Rule } from "./rule";
import { RequestHost } from "./authority";
import { RequestPath } from "./path";

// What a rule's name takes in the names table, on average, before the table grows.

export class RuleList {
  // Each rule's Rule object, null for a plain fingerprint rule (matched by the index alone); no array
  // at all while every rule is plain, as in a long fingerprint list.
  private rules: Array<Rule | null> | null = null;
  private count: i32 = 0;
  private expected: i32;
  private names: NameTable;
  // The next rule with the same digest, for the few rules that have one (most digests are named once).
  private next: Map<i32, i32> | null = null;
  private unindexed: i32[] = [];
  private digests: DigestSet;
  // Per digest, the last rule of its chain (build time only).
  private tails: Map<i32, i32> | null = null;

  // The bytes a list sized for `expected` plain rules with `nameBytes` of names allocates.
  static bytesFor(expected: i32, nameBytes: i64): i64 {
    return NameTable.bytesFor(expected, nameBytes) + DigestSet.bytesFor(expected);
  }

  // Sized for `expected` rules and `nameBytes` of names: a list of that size is built without growing
  // (and copying) a table; a larger one, or longer names, still fit, by growing.
  constructor(
    expected: i32 = 0,
    // Deny rules match on what is unknown (rule.ts); allow rules never do.
    readonly deny: bool = false,
    nameBytes: i64 = 0,
  ) {
    this.expected = expected;
    this.names = new NameTable(expected, <i32>min<i64>(nameBytes, i32.MAX_VALUE));
    this.digests = new DigestSet(expected);
  }

  get length(): i32 {
    return this.count;
  }

  name(index: i32): string {
    return this.names.name(index);
  }

  // The name's UTF-8 bytes, for a header value or a log line without making a string.
  namePtr(index: i32): usize {
    return this.names.namePtr(index);
  }

  nameLength(index: i32): i32 {
    return this.names.nameLength(index);
  }

  rule(index: i32): Rule | null {
    let rules = this.rules;
    return rules === null ? null : unchecked(rules[index]);
  }

  // The index of the rule whose name is the UTF-8 at ptr/length, or -1.
  indexOf(ptr: usize, length: i32): i32 {
    return this.names.indexOf(ptr, length);
  }

  // Appends a rule named by the UTF-8 at ptr/length (not already used). `rule` is null for a rule
  // that is only `digest`; the index copies the digest (from its spelling at `spelled`, when given).
  add(namePtr: usize, nameLength: i32, rule: Rule | null, digest: StaticArray<u64> | null, spelled: usize = 0): void {
    let index = this.count++;
    let rules = this.rules;
    if (rule !== null && rules === null) {
      rules = reserved<Rule | null>(max(this.expected, index + 1));
      for (let i = 0; i < index; i++) rules.push(null);
      this.rules = rules;
    }
    if (rules !== null) rules.push(rule);
    this.names.add(namePtr, nameLength);
    if (digest === null) {
      this.unindexed.push(index);
      return;
    }
    let first = spelled != 0 ? this.digests.addSpelled(spelled, index) : this.digests.add(digest, index);
    if (first == index) return;
    // A digest named again (say, by a scoped rule): chain it behind the earlier ones.
    let tails = this.tails;
    let next = this.next;
    if (tails === null || next === null) {
      tails = new Map<i32, i32>();
      this.tails = tails;
      next = new Map<i32, i32>();
      this.next = next;
    }
    let tail = tails.has(first) ? tails.get(first) : first;
    next.set(tail, index);
    tails.set(first, index);
  }

  // Called once the list is complete: drops what only building needed.
  seal(): void {
    this.tails = null;
  }

  // Around the validity window of every rule that would match this request at some time, the
  // moments where the list's answer can change, and the moment before each (into `edges`).
  windowEdges(identity: Identity, host: RequestHost, path: RequestPath, edges: i64[]): void {
    for (let at = this.indexed(identity); at >= 0; at = this.after(at)) this.edgesOf(at, identity, host, path, edges, true);
    let unindexed = this.unindexed;
    for (let i = 0; i < unindexed.length; i++) this.edgesOf(unchecked(unindexed[i]), identity, host, path, edges, false);
  }

  private edgesOf(at: i32, identity: Identity, host: RequestHost, path: RequestPath, edges: i64[], viaIndex: bool): void {
    let rule = this.rule(at);
    // A window holds its own start: a rule that matches then matches whenever its window is open.
    if (rule === null || !rule.hasWindow || !rule.matches(identity, host, path, rule.notBefore, this.deny, viaIndex)) return;
    if (rule.notBefore != NO_START) {
      edges.push(rule.notBefore - 1);
      edges.push(rule.notBefore);
    }
    if (rule.notAfter != NO_END) {
      edges.push(rule.notAfter);
      edges.push(rule.notAfter + 1);
    }
  }

  // The rule after `at` with the same digest, or -1.
  @inline private after(at: i32): i32 {
    let next = this.next;
    return next === null || !next.has(at) ? -1 : next.get(at);
  }

  // The first rule of the chain for the identity's digest, or -1.
  private indexed(identity: Identity): i32 {
    if (this.digests.size == 0) return -1;
    let hex = identity.digestHexPtr;
    if (hex != 0) return this.digests.lookupHex(hex);
    let digest = identity.digest;
    return digest === null ? -1 : this.digests.lookup(digest);
  }

  // The index of the first rule that matches, or -1.
  firstMatch(identity: Identity, host: RequestHost, path: RequestPath, nowMs: i64): i32 {
    let best = -1;
    // A rule found through the index has the identity's digest: its own sha256 needs no comparing.
    for (let at = this.indexed(identity); at >= 0; at = this.after(at)) {
      let rule = this.rule(at);
      if (rule === null || rule.matches(identity, host, path, nowMs, this.deny, true)) {
        best = at;
        break;
      }
    }
    let unindexed = this.unindexed;
    for (let i = 0; i < unindexed.length; i++) {
      let at = unchecked(unindexed[i]);
      if (best >= 0 && at > best) break;
      let rule = this.rule(at);
      if (rule !== null && rule.matches(identity, host, path, nowMs, this.deny, false)) return at;
    }
    return best;
  }
}
