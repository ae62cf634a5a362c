// The digest index's complexity, counted rather than timed: slots read per lookup stay flat from a
// thousand to a million digests, for hits and for misses, with fingerprints as made-up as a test
// list's (differing only in their last bytes) and as spread as real ones.
import { DigestSet } from "../policy/digest-set";
import { DIGEST_WORDS, parseFingerprint } from "../identity/fingerprint";

// Digest number i: "sequential" differs only in the last word, "spread" in every word.
function digestOf(i: i32, sequential: bool, out: StaticArray<u64>): StaticArray<u64> {
  let x = <u64>i;
  for (let w = 0; w < DIGEST_WORDS; w++) {
    if (sequential) {
      out[w] = w == DIGEST_WORDS - 1 ? x : 0x8d5816f39f390cb9;
    } else {
      x = (x + 0x9e3779b97f4a7c15) * 0xbf58476d1ce4e5b9;
      out[w] = x ^ (x >> 31);
    }
  }
  return out;
}

class Probes {
  hits: f64 = 0;
  misses: f64 = 0;
}

// Builds a set of `count` digests grown from empty (every resize on the way), then reads every
// one of them back and as many that are absent; a wrong answer gives zero probes (a failure).
function probe(count: i32, sequential: bool): Probes {
  let set = new DigestSet();
  let digest = new StaticArray<u64>(DIGEST_WORDS);
  for (let i = 0; i < count; i++) set.add(digestOf(i, sequential, digest), i);
  let result = new Probes();
  let hits: i64 = 0;
  let misses: i64 = 0;
  for (let i = 0; i < count; i++) {
    digestOf(i, sequential, digest);
    if (set.lookup(digest) != i) return new Probes();
    hits += set.probes(digest);
    digestOf(count + i, sequential, digest);
    if (set.lookup(digest) != -1) return new Probes();
    misses += set.probes(digest);
  }
  result.hits = <f64>hits / count;
  result.misses = <f64>misses / count;
  return result;
}

const SIZES: i32[] = [1_000, 100_000, 1_000_000];

// About 1.5 slots per hit and 2.5 per miss is the theory for linear probing at the table's highest
// load (1/2); a scan would read half the list.
function expectFewProbes(sequential: bool): void {
  for (let i = 0; i < SIZES.length; i++) {
    let p = probe(SIZES[i], sequential);
    expect(p.hits).toBeGreaterThanOrEqual(1.0);
    expect(p.hits).toBeLessThanOrEqual(2.0);
    expect(p.misses).toBeGreaterThanOrEqual(1.0);
    expect(p.misses).toBeLessThanOrEqual(4.0);
  }
}

describe("the digest index does not scan the list", () => {
  it("reads few slots per lookup at any size, for sequential fingerprints", () => {
    expectFewProbes(true);
  });
  it("reads few slots per lookup at any size, for spread fingerprints", () => {
    expectFewProbes(false);
  });
});

// A digest spelled as Envoy writes it, in a buffer of exactly its 64 digits.
function spelled(text: string): usize {
  return changetype<usize>(String.UTF8.encode(text));
}

const LOWER = "8d5816f39f390cb936cabe2151aee79d751830ea07dde2deb2900d8134edf7a7";

function listed(): DigestSet {
  let set = new DigestSet();
  set.add(parseFingerprint(LOWER)!, 7);
  return set;
}

describe("a request's digest, looked up as Envoy spells it", () => {
  it("finds it spelled as Envoy writes it, in lowercase, and in no other spelling", () => {
    let set = listed();
    expect(set.lookupHex(spelled(LOWER))).toBe(7);
    expect(set.lookupHex(spelled(LOWER.toUpperCase()))).toBe(-1);
  });
  it("finds no other digest, and nothing that is not hex digits", () => {
    let set = listed();
    expect(set.lookupHex(spelled("9" + LOWER.substring(1)))).toBe(-1);
    expect(set.lookupHex(spelled("\x18" + LOWER.substring(1)))).toBe(-1);
    expect(set.lookupHex(spelled(LOWER.substring(0, 63) + "g"))).toBe(-1);
  });
});
