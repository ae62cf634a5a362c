// Rule names, stored compactly: UTF-8 bytes in one arena, an offset each, and an open-addressing
// index over them to find duplicates. A million names cost about a dozen bytes each, not a string
// object and a map entry each. Pure.

import { equalBytes } from "../text";

const EMPTY: i32 = -1;

export class NameTable {
  private bytes: StaticArray<u8>;
  private used: i32 = 0;
  private starts: i32[];
  private slots: StaticArray<i32>;

  // Sized for `expected` names of `bytes` bytes in all; grows past that.
  constructor(expected: i32 = 0, bytes: i32 = 0) {
    this.slots = NameTable.emptySlots(NameTable.slotsFor(expected));
    this.bytes = new StaticArray<u8>(max(bytes, 256));
    this.starts = reserved<i32>(expected);
  }

  // The bytes a table sized for `expected` names of `bytes` bytes allocates.
  static bytesFor(expected: i32, bytes: i64): i64 {
    return max<i64>(bytes, 256) + <i64>expected * 4 + <i64>NameTable.slotsFor(expected) * 4;
  }

  // Enough slots for `expected` names at a load of at most 1/2: linear probing then reads about 2.5
  // slots to add a name (8.5 at 3/4).
  private static slotsFor(expected: i32): i32 {
    return max(16, expected * 2 + 1);
  }

  private static emptySlots(size: i32): StaticArray<i32> {
    let slots = new StaticArray<i32>(size);
    for (let i = 0; i < size; i++) unchecked((slots[i] = EMPTY));
    return slots;
  }

  get length(): i32 {
    return this.starts.length;
  }

  private start(index: i32): i32 {
    return unchecked(this.starts[index]);
  }

  private end(index: i32): i32 {
    return index + 1 < this.starts.length ? unchecked(this.starts[index + 1]) : this.used;
  }

  // Where the name's UTF-8 bytes are (until the table grows) and how many.
  namePtr(index: i32): usize {
    return changetype<usize>(this.bytes) + <usize>this.start(index);
  }

  nameLength(index: i32): i32 {
    return this.end(index) - this.start(index);
  }

  name(index: i32): string {
    let start = this.start(index);
    return String.UTF8.decodeUnsafe(changetype<usize>(this.bytes) + <usize>start, <usize>(this.end(index) - start));
  }

  // Eight bytes at a time, then the rest (never reading past the name).
  private static hash(ptr: usize, length: i32): u64 {
    let h: u64 = <u64>length;
    let at = 0;
    for (; at + 8 <= length; at += 8) h = (h ^ load<u64>(ptr + <usize>at)) * 0x9e3779b97f4a7c15;
    for (; at < length; at++) h = (h ^ <u64>load<u8>(ptr + <usize>at)) * 0xc2b2ae3d27d4eb4f;
    return h ^ (h >> 29);
  }

  private same(index: i32, ptr: usize, length: i32): bool {
    let start = this.start(index);
    return this.end(index) - start == length && equalBytes(changetype<usize>(this.bytes) + <usize>start, ptr, length);
  }

  // The slot holding the name at ptr/length, or the empty slot where it would go.
  private find(ptr: usize, length: i32): i32 {
    let size = this.slots.length;
    // Lemire's multiply-shift: the high half of the hash onto any table size.
    let slot = <i32>(((NameTable.hash(ptr, length) >> 32) * <u64>size) >> 32);
    while (true) {
      let index = unchecked(this.slots[slot]);
      if (index == EMPTY || this.same(index, ptr, length)) return slot;
      slot = slot + 1 == size ? 0 : slot + 1;
    }
  }

  // The index of the name written at ptr/length (UTF-8), or -1.
  indexOf(ptr: usize, length: i32): i32 {
    return unchecked(this.slots[this.find(ptr, length)]);
  }

  // Appends a name (not already present); its index is the previous length.
  add(ptr: usize, length: i32): void {
    if (this.used + length > this.bytes.length) {
      let capacity = this.bytes.length;
      while (this.used + length > capacity) capacity <<= 1;
      let grown = new StaticArray<u8>(capacity);
      memory.copy(changetype<usize>(grown), changetype<usize>(this.bytes), <usize>this.used);
      this.bytes = grown;
    }
    memory.copy(changetype<usize>(this.bytes) + <usize>this.used, ptr, <usize>length);
    let index = this.starts.length;
    this.starts.push(this.used);
    this.used += length;
    if (<i64>(index + 1) * 2 > <i64>this.slots.length) {
      this.slots = NameTable.emptySlots(this.slots.length << 1);
      for (let i = 0; i <= index; i++) {
        let start = this.start(i);
        unchecked((this.slots[this.find(changetype<usize>(this.bytes) + <usize>start, this.end(i) - start)] = i));
      }
    } else {
      unchecked((this.slots[this.find(changetype<usize>(this.bytes) + <usize>(this.used - length), length)] = index));
    }
  }
}

// An empty array with room for `capacity` items.
export function reserved<T>(capacity: i32): Array<T> {
  let array = new Array<T>(capacity);
  array.length = 0;
  return array;
}
