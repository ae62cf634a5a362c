// When garbage is collected. The module runs AssemblyScript's minimal runtime: no shadow stack and
// no write barriers on every store (the incremental collector's price on every request), and no
// collection but when the module asks for one — between callbacks, when no object is referenced
// from the stack alone. A plain request allocates nothing, nor does reading its host and path (into
// buffers kept from request to request); the requests that do (XFCC, certificates, subjects and SANs
// compared as text) report roughly how much, and a collection runs
// once that estimate reaches half the heap — so marking the live heap costs, per byte of garbage, a
// constant — or at once when the heap had to grow regardless. Pure (no host calls).

// Garbage estimated per byte a request turned into strings and objects: parsers keep a few
// representations of what they read.
const BYTES_PER_BYTE_READ: usize = 8;
// Below this heap size, collecting sooner would only cost time.
const MIN_BUDGET: usize = 4 << 20;

let estimate: usize = 0;
let budget: usize = MIN_BUDGET;
let pagesAtLastCollection: i32 = 0;

// A request (or anything else) made strings and objects from `bytes` bytes of input.
export function allocated(bytes: i32): void {
  estimate += <usize>bytes * BYTES_PER_BYTE_READ;
}

// Called between callbacks only: collects when the estimate says half the heap is garbage, or when
// the heap grew since the last collection.
export function collectIfDue(): void {
  if (estimate < budget && memory.size() == pagesAtLastCollection) return;
  collect();
}

// Called between callbacks only, after work that leaves much garbage (a configuration).
export function collect(): void {
  __collect();
  estimate = 0;
  pagesAtLastCollection = memory.size();
  budget = max(MIN_BUDGET, (<usize>pagesAtLastCollection << 16) >> 1);
}
