import { afterEach, describe, expect, it, vi } from "vitest";
import { PageCache, RECYCLE_KEEP_MS, RECYCLE_MAX_BYTES, recycledSlabBytes, releaseRecycledSlabs } from "./index.js";

const page = (v: number) => new Uint8Array(4096).fill(v);
const SLAB = 128 * 1024;

afterEach(() => {
  releaseRecycledSlabs();
  vi.useRealTimers();
});

describe("emptied slabs are recycled across caches, within a bound and for a while", () => {
  it("a cache dropped whole hands its slabs to the next cache, which reads back exactly what it stored", () => {
    releaseRecycledSlabs();
    const one = new PageCache({ budgetBytes: 64 << 20 });
    const a = one.owner("a");
    for (let i = 0; i < 100; i++) one.put(a, i, page(i));
    const buffers = new Set(Array.from({ length: 100 }, (_, i) => one.get(a, i)!.buffer));
    one.drop(a);
    expect(recycledSlabBytes()).toBe(buffers.size * SLAB);
    const two = new PageCache({ budgetBytes: 64 << 20 });
    const b = two.owner("b");
    for (let i = 0; i < 100; i++) two.put(b, i, page(255 - i));
    for (let i = 0; i < 100; i++) {
      const p = two.get(b, i)!;
      expect(buffers.has(p.buffer)).toBe(true);
      expect(p).toEqual(page(255 - i));
    }
    expect(recycledSlabBytes()).toBe(0);
  });

  it("keeps at most RECYCLE_MAX_BYTES, and nothing once released", () => {
    releaseRecycledSlabs();
    const c = new PageCache({ budgetBytes: 1 << 30 });
    const a = c.owner("a");
    const pages = (RECYCLE_MAX_BYTES + 4 * SLAB) / 4096;
    for (let i = 0; i < pages; i++) c.put(a, i, page(i & 255));
    c.drop(a);
    expect(recycledSlabBytes()).toBe(RECYCLE_MAX_BYTES);
    releaseRecycledSlabs();
    expect(recycledSlabBytes()).toBe(0);
  });

  it("lets slabs go once unused for RECYCLE_KEEP_MS, not while they are being reused", () => {
    vi.useFakeTimers();
    releaseRecycledSlabs();
    const c = new PageCache({ budgetBytes: 64 << 20 });
    const a = c.owner("a");
    for (let i = 0; i < 64; i++) c.put(a, i, page(i));
    c.drop(a);
    const held = recycledSlabBytes();
    expect(held).toBe(2 * SLAB);
    vi.advanceTimersByTime(RECYCLE_KEEP_MS / 2);
    // Used again half way: the clock starts over.
    c.put(a, 0, page(1));
    c.drop(a);
    vi.advanceTimersByTime(RECYCLE_KEEP_MS / 2 + 1);
    expect(recycledSlabBytes()).toBe(held);
    vi.advanceTimersByTime(RECYCLE_KEEP_MS);
    expect(recycledSlabBytes()).toBe(0);
  });
});
