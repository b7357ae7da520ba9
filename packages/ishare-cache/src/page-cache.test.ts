import { describe, expect, it } from "vitest";
import { PageCache } from "./index.js";

const page = (v: number, n = 4096) => new Uint8Array(n).fill(v);

describe("PageCache", () => {
  it("never holds more than its budget and evicts the least recently used page", () => {
    const c = new PageCache({ budgetBytes: 3 * 4096 });
    const a = c.owner("a");
    c.put(a, 0, page(0));
    c.put(a, 1, page(1));
    c.put(a, 2, page(2));
    expect(c.get(a, 0)?.[0]).toBe(0); // 0 is now most recent; 1 is the oldest
    c.put(a, 3, page(3));
    expect(c.stats().bytes).toBeLessThanOrEqual(3 * 4096);
    expect(c.has(a, 1)).toBe(false);
    expect(c.has(a, 0) && c.has(a, 2) && c.has(a, 3)).toBe(true);
    expect(c.stats().evictions).toBe(1);
  });

  it("counts hits and misses and keeps owners apart", () => {
    const c = new PageCache({ budgetBytes: 1 << 20 });
    const a = c.owner("a");
    const b = c.owner("b");
    c.put(a, 0, page(7));
    expect(c.get(b, 0)).toBeUndefined();
    expect(c.get(a, 0)?.[0]).toBe(7);
    expect(c.stats()).toMatchObject({ hits: 1, misses: 1, pages: 1, fills: 1 });
  });

  it("drops an owner's pages and frees their bytes", () => {
    const c = new PageCache({ budgetBytes: 1 << 20 });
    const a = c.owner("a");
    for (let i = 0; i < 10; i++) c.put(a, i, page(i, 100));
    c.drop(a);
    expect(c.stats()).toMatchObject({ pages: 0, bytes: 0 });
    expect(c.get(c.owner("a"), 3)).toBeUndefined();
  });

  it("replacing a page adjusts the byte count", () => {
    const c = new PageCache({ budgetBytes: 1 << 20 });
    const a = c.owner("a");
    c.put(a, 0, page(1, 100));
    c.put(a, 0, page(2, 300));
    expect(c.stats()).toMatchObject({ pages: 1, bytes: 300 });
  });

  it("rejects a negative budget", () => {
    expect(() => new PageCache({ budgetBytes: -1 })).toThrow(RangeError);
  });
});
