// Which root context (plugin) each live stream belongs to. Envoy numbers contexts upward from one
// counter per VM, so a stream's id picks its slot directly; a stream still alive when a later one
// needs its slot — one outliving thousands after it — waits in a map instead. No allocation for a
// stream in the common case. Pure.

const SLOTS: i32 = 4096;
const FREE: u32 = 0;

export class StreamTable {
  private ids: StaticArray<u32> = new StaticArray<u32>(SLOTS);
  private roots: StaticArray<u32> = new StaticArray<u32>(SLOTS);
  private displaced: Map<u32, u32> = new Map();

  add(stream: u32, root: u32): void {
    let slot = <i32>(stream & <u32>(SLOTS - 1));
    let occupant = unchecked(this.ids[slot]);
    if (occupant != FREE && occupant != stream) {
      this.displaced.set(occupant, unchecked(this.roots[slot]));
    }
    unchecked((this.ids[slot] = stream));
    unchecked((this.roots[slot] = root));
  }

  // The stream's root context id; 0 for a stream this table does not know.
  root(stream: u32): u32 {
    let slot = <i32>(stream & <u32>(SLOTS - 1));
    if (unchecked(this.ids[slot]) == stream && stream != FREE) return unchecked(this.roots[slot]);
    return this.displaced.size > 0 && this.displaced.has(stream) ? this.displaced.get(stream) : 0;
  }

  // Forgets a stream; whether it was one.
  remove(stream: u32): bool {
    let slot = <i32>(stream & <u32>(SLOTS - 1));
    if (unchecked(this.ids[slot]) == stream && stream != FREE) {
      unchecked((this.ids[slot] = FREE));
      return true;
    }
    if (this.displaced.size > 0 && this.displaced.has(stream)) {
      this.displaced.delete(stream);
      return true;
    }
    return false;
  }
}
