// An ordered rule list with a digest index: rules naming a sha256 are found through the index (a
// chain per digest, in list order), the others by a scan. `firstMatch` returns the first matching
// rule in list order either way. Pure.
import { Identity } from "../identity/identity";
import { DigestSet } from "./digest-set";
import { Rule } from "./rule";

export class RuleList {
  private next: StaticArray<i32>;
  private unindexed: i32[] = [];
  private digests: DigestSet;

  constructor(public rules: Rule[]) {
    let count = rules.length;
    this.digests = new DigestSet(count);
    this.next = new StaticArray<i32>(count);
    let tail = new StaticArray<i32>(count);
    for (let i = 0; i < count; i++) {
      unchecked((this.next[i] = -1));
      let digest = rules[i].matcher.digest;
      if (digest === null) {
        this.unindexed.push(i);
        continue;
      }
      let first = this.digests.add(digest, i);
      if (first == i) {
        unchecked((tail[i] = i));
      } else {
        unchecked((this.next[unchecked(tail[first])] = i));
        unchecked((tail[first] = i));
      }
    }
  }

  get length(): i32 {
    return this.rules.length;
  }

  // The index of the first rule that matches, or -1.
  firstMatch(identity: Identity, host: string, path: string, nowMs: i64): i32 {
    let best = -1;
    let digest = identity.digest;
    if (digest !== null) {
      let at = this.digests.lookup(digest);
      while (at >= 0) {
        if (unchecked(this.rules[at]).matches(identity, host, path, nowMs)) {
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
      if (unchecked(this.rules[at]).matches(identity, host, path, nowMs)) return at;
    }
    return best;
  }
}
