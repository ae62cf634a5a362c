// An index from SHA-256 digests to rule numbers: open addressing over flat arrays, filled once at
// configure time (growing as rules arrive). Each digest is kept as Envoy spells it — 64 lowercase hex
// digits — so a request's digest, exactly as Envoy hands it over, is found with eight loads and
// compares and never decoded (decoding and checking 64 digits costs more than the whole lookup): bytes
// that equal a listed digest's spelling are that digest, and any other bytes match none.
// Constant time whatever the list size, no allocation per request.
import { HEX_DIGITS, digestChunk } from "../identity/fingerprint";

const EMPTY: i32 = -1;
// A digest's spelling: eight chunks of eight digits.
const CHUNKS: i32 = 8;

// Enough slots for `count` digests at a load of at most 1/2 (any table size: Lemire's reduction
// below needs no power of two). A slot is a 4-byte digest number, so a low load costs little memory
// and keeps linear probing's clusters short: about 1.5 slots read per hit, 2.5 per miss.
function slotsFor(count: i32): u32 {
  return <u32>max<i64>(8, <i64>count * 2 + 1);
}

export class DigestSet {
  // The bytes a set sized for `expected` digests allocates.
  static bytesFor(expected: i32): i64 {
    return <i64>max(expected, 1) * (HEX_DIGITS + 4) + <i64>slotsFor(expected) * 4;
  }

  // Digests in the order they were added, as their spelling (eight chunks each), and each one's rule.
  private spelled: StaticArray<u64>;
  private firstRules: StaticArray<i32>;
  private count: i32 = 0;
  // The open-addressing table: digest numbers, EMPTY where none.
  private table: StaticArray<i32>;
  private slots: u32;
  // The spelling being looked up.
  private key: StaticArray<u64> = new StaticArray<u64>(CHUNKS);

  // `expected` sizes the arrays; they grow (the table's load at most 1/2) when more digests arrive.
  constructor(expected: i32 = 0) {
    let capacity = max(expected, 1);
    this.spelled = new StaticArray<u64>(capacity * CHUNKS);
    this.firstRules = new StaticArray<i32>(capacity);
    let slots = slotsFor(expected);
    this.slots = slots;
    this.table = DigestSet.emptyTable(slots);
  }

  private static emptyTable(slots: u32): StaticArray<i32> {
    let table = new StaticArray<i32>(<i32>slots);
    for (let i: u32 = 0; i < slots; i++) unchecked((table[i] = EMPTY));
    return table;
  }

  get size(): i32 {
    return this.count;
  }

  // Spells `digest` into the key.
  private spell(digest: StaticArray<u64>): void {
    let key = this.key;
    for (let k = 0; k < CHUNKS; k++) unchecked((key[k] = digestChunk(digest, k)));
  }

  // Adds a digest for `rule`; a digest already present keeps its first rule. Returns that rule.
  add(digest: StaticArray<u64>, rule: i32): i32 {
    this.spell(digest);
    return this.addKey(rule);
  }

  // The same for a digest already spelled: the 64 bytes at `spelled`.
  addSpelled(spelled: usize, rule: i32): i32 {
    memory.copy(changetype<usize>(this.key), spelled, HEX_DIGITS);
    return this.addKey(rule);
  }

  private addKey(rule: i32): i32 {
    let slot = this.find();
    let existing = unchecked(this.table[slot]);
    if (existing != EMPTY) return unchecked(this.firstRules[existing]);
    if (<u64>(this.count + 1) * 2 > <u64>this.slots) {
      this.grow();
      slot = this.find();
    }
    let number = this.count;
    if (number == this.firstRules.length) this.growArrays();
    memory.copy(changetype<usize>(this.spelled) + (<usize>number << 6), changetype<usize>(this.key), HEX_DIGITS);
    unchecked((this.firstRules[number] = rule));
    unchecked((this.table[slot] = number));
    this.count++;
    return rule;
  }

  // The rule number stored for `digest`, or -1.
  lookup(digest: StaticArray<u64>): i32 {
    this.spell(digest);
    return this.ruleAt(this.find());
  }

  // The rule number stored for the digest spelled by the 64 bytes at `ptr` as Envoy spells digests
  // (lowercase hex), or -1. Anything that is not a digest's spelling matches none.
  lookupHex(ptr: usize): i32 {
    let c0 = load<u64>(ptr);
    let c1 = load<u64>(ptr, 8);
    let c2 = load<u64>(ptr, 16);
    let c3 = load<u64>(ptr, 24);
    let c4 = load<u64>(ptr, 32);
    let c5 = load<u64>(ptr, 40);
    let c6 = load<u64>(ptr, 48);
    let c7 = load<u64>(ptr, 56);
    let slot = this.slotOf(c0, c1, c2, c3, c4, c5, c6, c7);
    let spelled = changetype<usize>(this.spelled);
    while (true) {
      let number = unchecked(this.table[slot]);
      if (number == EMPTY) return EMPTY;
      let at = spelled + (<usize>number << 6);
      if (load<u64>(at) == c0 && load<u64>(at, 8) == c1 && load<u64>(at, 16) == c2 && load<u64>(at, 24) == c3 &&
          load<u64>(at, 32) == c4 && load<u64>(at, 40) == c5 && load<u64>(at, 48) == c6 && load<u64>(at, 56) == c7) {
        return unchecked(this.firstRules[number]);
      }
      slot = slot + 1 == this.slots ? 0 : slot + 1;
    }
  }

  @inline private ruleAt(slot: u32): i32 {
    let number = unchecked(this.table[slot]);
    return number == EMPTY ? EMPTY : unchecked(this.firstRules[number]);
  }

  private growArrays(): void {
    let capacity = this.firstRules.length << 1;
    let spelled = new StaticArray<u64>(capacity * CHUNKS);
    memory.copy(changetype<usize>(spelled), changetype<usize>(this.spelled), <usize>this.count << 6);
    this.spelled = spelled;
    let firstRules = new StaticArray<i32>(capacity);
    memory.copy(changetype<usize>(firstRules), changetype<usize>(this.firstRules), <usize>this.count << 2);
    this.firstRules = firstRules;
  }

  private grow(): void {
    let slots = this.slots << 1;
    this.slots = slots;
    this.table = DigestSet.emptyTable(slots);
    let key = changetype<usize>(this.key);
    let pending = new StaticArray<u64>(CHUNKS);
    // The key holds the digest being added: keep it.
    memory.copy(changetype<usize>(pending), key, HEX_DIGITS);
    for (let number = 0; number < this.count; number++) {
      memory.copy(key, changetype<usize>(this.spelled) + (<usize>number << 6), HEX_DIGITS);
      unchecked((this.table[this.find()] = number));
    }
    memory.copy(key, changetype<usize>(pending), HEX_DIGITS);
  }

  // How many slots a lookup of `digest` reads: 1 when it sits in (or would go to) its home slot.
  // The measure of the table's complexity claim, for tests.
  probes(digest: StaticArray<u64>): i32 {
    this.spell(digest);
    let home = this.home();
    return <i32>((this.find() + this.slots - home) % this.slots) + 1;
  }

  // Where the probe for the key starts.
  private home(): u32 {
    let key = changetype<usize>(this.key);
    return this.slotOf(load<u64>(key), load<u64>(key, 8), load<u64>(key, 16), load<u64>(key, 24), load<u64>(key, 32), load<u64>(key, 40),
      load<u64>(key, 48), load<u64>(key, 56));
  }

  // Where the probe for the spelling c0..c7 starts.
  @inline private slotOf(c0: u64, c1: u64, c2: u64, c3: u64, c4: u64, c5: u64, c6: u64, c7: u64): u32 {
    let h = c0 + c1 * 0x9e3779b97f4a7c15 + c2 * 0xc2b2ae3d27d4eb4f + c3 * 0x165667b19e3779f9 + c4 * 0xd6e8feb86659fd93 +
      c5 * 0xff51afd7ed558ccd + c6 * 0xc4ceb9fe1a85ec53 + c7 * 0x27d4eb2f165667c5;
    // MurmurHash3's finaliser: every input bit reaches the low bits used for the slot, so made-up
    // fingerprints that differ only in their last digits do not collapse into one probe chain.
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccd;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53;
    h ^= h >> 33;
    // Lemire's multiply-shift maps the hash onto any table size without a division.
    return <u32>((<u64>(<u32>h) * <u64>this.slots) >> 32);
  }

  // The slot holding the key, or the empty slot where it would go.
  private find(): u32 {
    let key = changetype<usize>(this.key);
    let first = load<u64>(key);
    let slot = this.home();
    let spelled = changetype<usize>(this.spelled);
    while (true) {
      let number = unchecked(this.table[slot]);
      if (number == EMPTY) return slot;
      let at = spelled + (<usize>number << 6);
      if (load<u64>(at) == first && load<u64>(at, 8) == load<u64>(key, 8) && load<u64>(at, 16) == load<u64>(key, 16) &&
          load<u64>(at, 24) == load<u64>(key, 24) && load<u64>(at, 32) == load<u64>(key, 32) && load<u64>(at, 40) == load<u64>(key, 40) &&
          load<u64>(at, 48) == load<u64>(key, 48) && load<u64>(at, 56) == load<u64>(key, 56)) {
        return slot;
      }
      slot = slot + 1 == this.slots ? 0 : slot + 1;
    }
  }
}
