// An index from SHA-256 digests to rule numbers: open addressing over flat arrays, filled once at
// configure time (growing as rules arrive). A lookup hashes the digest and compares four words per
// probe: constant time whatever the list size, no allocation per request.
import { DIGEST_WORDS } from "../identity/fingerprint";

const EMPTY: i32 = -1;

// Enough slots for `count` digests at a load of at most 3/4 (any table size: Lemire's reduction
// below needs no power of two).
function slotsFor(count: i32): u32 {
  return <u32>max<i64>(8, (<i64>count * 4 + 2) / 3 + 1);
}

export class DigestSet {
  // The bytes a set sized for `expected` digests allocates.
  static bytesFor(expected: i32): i64 {
    return <i64>slotsFor(expected) * (DIGEST_WORDS * 8 + 4);
  }

  private words: StaticArray<u64>;
  private rules: StaticArray<i32>;
  private slots: u32;
  private count: i32 = 0;

  // `expected` sizes the table; it grows (load at most 3/4) when more digests arrive.
  constructor(expected: i32 = 0) {
    let slots = slotsFor(expected);
    this.slots = slots;
    this.words = new StaticArray<u64>(<i32>slots * DIGEST_WORDS);
    this.rules = new StaticArray<i32>(<i32>slots);
    for (let i: u32 = 0; i < slots; i++) unchecked((this.rules[i] = EMPTY));
  }

  get size(): i32 {
    return this.count;
  }

  // Adds a digest for `rule`; a digest already present keeps its first rule. Returns that rule.
  add(digest: StaticArray<u64>, rule: i32): i32 {
    let slot = this.find(digest);
    let existing = unchecked(this.rules[slot]);
    if (existing != EMPTY) return existing;
    if (<u64>(this.count + 1) * 4 > <u64>this.slots * 3) {
      this.grow();
      slot = this.find(digest);
    }
    this.put(slot, digest, 0, rule);
    this.count++;
    return rule;
  }

  // The rule number stored for `digest`, or -1.
  lookup(digest: StaticArray<u64>): i32 {
    return unchecked(this.rules[this.find(digest)]);
  }

  private put(slot: u32, words: StaticArray<u64>, from: i32, rule: i32): void {
    let base = <i32>slot * DIGEST_WORDS;
    for (let i = 0; i < DIGEST_WORDS; i++) unchecked((this.words[base + i] = words[from + i]));
    unchecked((this.rules[slot] = rule));
  }

  private grow(): void {
    let oldWords = this.words;
    let oldRules = this.rules;
    let slots = this.slots << 1;
    this.slots = slots;
    this.words = new StaticArray<u64>(<i32>slots * DIGEST_WORDS);
    this.rules = new StaticArray<i32>(<i32>slots);
    for (let i: u32 = 0; i < slots; i++) unchecked((this.rules[i] = EMPTY));
    let scratch = new StaticArray<u64>(DIGEST_WORDS);
    for (let old = 0; old < oldRules.length; old++) {
      let rule = unchecked(oldRules[old]);
      if (rule == EMPTY) continue;
      for (let i = 0; i < DIGEST_WORDS; i++) unchecked((scratch[i] = oldWords[old * DIGEST_WORDS + i]));
      this.put(this.find(scratch), oldWords, old * DIGEST_WORDS, rule);
    }
  }

  // How many slots a lookup of `digest` reads: 1 when it sits in (or would go to) its home slot.
  // The measure of the table's complexity claim, for tests.
  probes(digest: StaticArray<u64>): i32 {
    let home = this.home(digest);
    return <i32>((this.find(digest) + this.slots - home) % this.slots) + 1;
  }

  // Where the probe for `digest` starts.
  @inline private home(digest: StaticArray<u64>): u32 {
    let h = unchecked(digest[0]) + unchecked(digest[1]) * 0x9e3779b97f4a7c15 + unchecked(digest[2]) * 0xc2b2ae3d27d4eb4f + unchecked(digest[3]) * 0x165667b19e3779f9;
    // MurmurHash3's finaliser: every input bit reaches the low bits used for the slot, so made-up
    // fingerprints that differ only in their last bytes do not collapse into one probe chain.
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccd;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53;
    h ^= h >> 33;
    // Lemire's multiply-shift maps the hash onto any table size without a division.
    return <u32>((<u64>(<u32>h) * <u64>this.slots) >> 32);
  }

  // The slot holding `digest`, or the empty slot where it would go.
  private find(digest: StaticArray<u64>): u32 {
    let first = unchecked(digest[0]);
    let slot = this.home(digest);
    while (true) {
      if (unchecked(this.rules[slot]) == EMPTY) return slot;
      let base = <i32>slot * DIGEST_WORDS;
      if (
        unchecked(this.words[base]) == first &&
        unchecked(this.words[base + 1]) == unchecked(digest[1]) &&
        unchecked(this.words[base + 2]) == unchecked(digest[2]) &&
        unchecked(this.words[base + 3]) == unchecked(digest[3])
      ) {
        return slot;
      }
      slot = slot + 1 == this.slots ? 0 : slot + 1;
    }
  }
}
