/**
 * Slabs emptied by any SlabStore of the process, kept a short while for the next slab
 * of the same size (in any store) instead of being left to the garbage collector.
 *
 * Why: a new slab's memory comes fresh from the system, and each of its 4 KiB pages takes
 * a page fault when first written: measured on the VM the benchmarks run on, 12-20 µs a
 * page, ~0.2 s for the 70 MB of app-a, against ~0.3 µs a page for memory used before. A
 * cache emptied and filled again (an image unmounted and the next one read, pages handed
 * to the kernel as they are served) would otherwise fault every page in again. As
 * allocators do with freed memory, what is kept is bounded (RECYCLE_MAX_BYTES) and let go
 * once unused for RECYCLE_KEEP_MS, or at once through releaseRecycledSlabs.
 */

/**
 * Most bytes of emptied slabs kept at once: room for what an unmount empties with the
 * vfs's defaults, its 64 MiB data cache and its decoded fragments together (measured:
 * app-a-zstd read whole leaves 70 MB of data slabs and 16 MB of fragment slabs). With
 * 64 MiB the rest was dropped, and each next mount faulted ~20 MB in again. What is kept
 * was in use a moment before, so keeping it does not raise the process's peak, except
 * for RECYCLE_KEEP_MS against other memory allocated meanwhile.
 */
export const RECYCLE_MAX_BYTES = 128 << 20;
/** Emptied slabs still unused after this long are let go. */
export const RECYCLE_KEEP_MS = 2000;

// The timer functions every JavaScript runtime has, typed here: this package compiles
// without Node or DOM type libraries.
type Timer = { unref?: () => void };
const timers = globalThis as unknown as { setTimeout(run: () => void, ms: number): Timer; clearTimeout(t: Timer): void };

const kept = new Map<number, ArrayBuffer[]>();
let keptBytes = 0;
let lastUse = 0;
let timer: Timer | undefined;

/** Keeps an emptied slab for reuse, unless the bound is reached (it is then left to the GC). */
export function recycleSlab(buffer: ArrayBuffer): void {
  if (keptBytes + buffer.byteLength > RECYCLE_MAX_BYTES) return;
  let list = kept.get(buffer.byteLength);
  if (!list) kept.set(buffer.byteLength, (list = []));
  list.push(buffer);
  keptBytes += buffer.byteLength;
  lastUse = Date.now();
  timer ??= schedule(RECYCLE_KEEP_MS);
}

/** A kept slab of `bytes` bytes (stale contents), the last one kept first; undefined if none. */
export function reuseSlab(bytes: number): ArrayBuffer | undefined {
  const buffer = kept.get(bytes)?.pop();
  if (buffer) {
    keptBytes -= bytes;
    lastUse = Date.now();
  }
  return buffer;
}

/** Lets every kept slab go now (an idle daemon, before it collects garbage). */
export function releaseRecycledSlabs(): void {
  kept.clear();
  keptBytes = 0;
  if (timer) timers.clearTimeout(timer);
  timer = undefined;
}

/** Bytes of emptied slabs kept for reuse now. */
export function recycledSlabBytes(): number {
  return keptBytes;
}

function schedule(ms: number): Timer {
  const t = timers.setTimeout(() => {
    timer = undefined;
    const idle = Date.now() - lastUse;
    if (idle >= RECYCLE_KEEP_MS) releaseRecycledSlabs();
    else if (keptBytes > 0) timer = schedule(RECYCLE_KEEP_MS - idle);
  }, ms);
  // A pending release is no reason for the process to stay alive.
  t.unref?.();
  return t;
}
