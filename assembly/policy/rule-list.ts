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
const NAME_BYTES_PER_RULE: i32 = 16;

export class RuleList {
  // null: a plain fingerprint rule, matched by the index alone.
  private rules: Array<Rule | null>;
  private names: NameTable;
  private next: i32[];
  private unindexed: i32[] = [];
  private digests: DigestSet;
  // Per digest, the last rule of its chain (build time only).
  private tails: Map<i32, i32> | null = null;

  // The bytes a list sized for `expected` rules allocates (rules, chains, names, index).
  static bytesFor(expected: i32): i64 {
    return <i64>expected * 8 + NameTable.bytesFor(expected, expected * NAME_BYTES_PER_RULE) + DigestSet.bytesFor(expected);
  }

  // Sized for `expected` rules: a list of that size is built without growing (and copying) a
  // table; a larger one, or longer names, still fit, by growing.
  constructor(
    expected: i32 = 0,
    // Deny rules match on what is unknown (rule.ts); allow rules never do.
    readonly deny: bool = false,
  ) {
    this.rules = reserved<Rule | null>(expected);
    this.next = reserved<i32>(expected);
    this.names = new NameTable(expected, expected * NAME_BYTES_PER_RULE);
    this.digests = new DigestSet(expected);
  }

  get length(): i32 {
    return this.rules.length;
  }

  name(index: i32): string {
    return this.names.name(index);
  }

  rule(index: i32): Rule | null {
    return this.rules[index];
  }

  // The index of the rule whose name is the UTF-8 at ptr/length, or -1.
  indexOf(ptr: usize, length: i32): i32 {
    return this.names.indexOf(ptr, length);
  }

  // Appends a rule named by the UTF-8 at ptr/length (not already used). `rule` is null for a rule
  // that is only `digest`; the index copies the digest.
  add(namePtr: usize, nameLength: i32, rule: Rule | null, digest: StaticArray<u64> | null): void {
    let index = this.rules.length;
    this.rules.push(rule);
    this.names.add(namePtr, nameLength);
    this.next.push(-1);
    if (digest === null) {
      this.unindexed.push(index);
      return;
    }
    let first = this.digests.add(digest, index);
    if (first == index) return;
    // A digest named again (say, by a scoped rule): chain it behind the earlier ones.
    let tails = this.tails;
    if (tails === null) {
      tails = new Map<i32, i32>();
      this.tails = tails;
    }
    let tail = tails.has(first) ? tails.get(first) : first;
    this.next[tail] = index;
    tails.set(first, index);
  }

  // Called once the list is complete: drops what only building needed.
  seal(): void {
    this.tails = null;
  }

  // Around the validity window of every rule that would match this request at some time, the
  // moments where the list's answer can change, and the moment before each (into `edges`).
  windowEdges(identity: Identity, host: RequestHost, path: RequestPath, edges: i64[]): void {
    let digest = identity.digest;
    if (digest !== null) {
      for (let at = this.digests.lookup(digest); at >= 0; at = unchecked(this.next[at])) this.edgesOf(at, identity, host, path, edges);
    }
    let unindexed = this.unindexed;
    for (let i = 0; i < unindexed.length; i++) this.edgesOf(unchecked(unindexed[i]), identity, host, path, edges);
  }

  private edgesOf(at: i32, identity: Identity, host: RequestHost, path: RequestPath, edges: i64[]): void {
    let rule = unchecked(this.rules[at]);
    // A window holds its own start: a rule that matches then matches whenever its window is open.
    if (rule === null || !rule.hasWindow || !rule.matches(identity, host, path, rule.notBefore, this.deny)) return;
    if (rule.notBefore != NO_START) {
      edges.push(rule.notBefore - 1);
      edges.push(rule.notBefore);
    }
    if (rule.notAfter != NO_END) {
      edges.push(rule.notAfter);
      edges.push(rule.notAfter + 1);
    }
  }

  // The index of the first rule that matches, or -1.
  firstMatch(identity: Identity, host: RequestHost, path: RequestPath, nowMs: i64): i32 {
    let best = -1;
    let digest = identity.digest;
    if (digest !== null) {
      let at = this.digests.lookup(digest);
      while (at >= 0) {
        let rule = unchecked(this.rules[at]);
        if (rule === null || rule.matches(identity, host, path, nowMs, this.deny)) {
          best = at;
          break;
        }
        at = unchecked(this.next[at]);
      }
    }
    let unindexed = this.unindexed;
    for (let i = 0; i < unindexed.length; i++) {
      let at = unchecked(unindexed[i]);
      if (best >= 0 && at > best) break;
      let rule = unchecked(this.rules[at]);
      if (rule !== null && rule.matches(identity, host, path, nowMs, this.deny)) return at;
    }
    return best;
  }
}
