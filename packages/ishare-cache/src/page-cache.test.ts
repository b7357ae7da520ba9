import { describe, expect, it } from "vitest";
import { PAGE_BOOKKEEPING_BYTES, PageCache, recycledSlabBytes, releaseRecycledSlabs } from "./index.js";

const page = (v: number, n = 4096) => new Uint8Array(n).fill(v);

describe("PageCache", () => {
  it("never holds more than its budget and evicts the least recently used page", () => {
    const c = new PageCache({ budgetBytes: 3 * (4096 + PAGE_BOOKKEEPING_BYTES) });
    const a = c.owner("a");
    c.put(a, 0, page(0));
    c.put(a, 1, page(1));
    c.put(a, 2, page(2));
    expect(c.get(a, 0)?.[0]).toBe(0); // 0 is now most recent; 1 is the oldest
    c.put(a, 3, page(3));
    expect(c.stats().bytes).toBeLessThanOrEqual(3 * 4096);
    expect(c.stats().pages).toBe(3);
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

  it("keeps an owner only while it holds pages, whichever object of its key is used", () => {
    const c = new PageCache({ budgetBytes: 2 * (4096 + PAGE_BOOKKEEPING_BYTES) });
    const first = c.owner("a");
    expect(c.get(first, 0)).toBeUndefined();
    expect(c.stats().owners).toBe(0);
    c.put(first, 0, page(1));
    expect(c.stats().owners).toBe(1);
    expect(c.owner("a")).toBe(first);
    // A reader that keeps what it takes leaves nothing behind.
    expect(c.take(first, 0)?.[0]).toBe(1);
    expect(c.stats()).toMatchObject({ owners: 0, pages: 0 });
    expect(c.hasOwner("a")).toBe(false);
    // Another object for the key, kept by its put: a put through the first object lands
    // beside its page, where a lookup by key finds both.
    const second = c.owner("a");
    expect(second).not.toBe(first);
    c.put(second, 1, page(2));
    c.put(first, 2, page(3));
    expect(c.stats()).toMatchObject({ owners: 1, pages: 2 });
    expect(c.get(c.owner("a"), 2)?.[0]).toBe(3);
    // Replacing an owner's only page (slabs free the old frame first) keeps the owner.
    const b = c.owner("b");
    c.drop(second);
    c.put(b, 0, page(4));
    c.put(b, 0, page(5, 100));
    expect(c.stats()).toMatchObject({ owners: 1, pages: 1 });
    expect(c.get(c.owner("b"), 0)?.length).toBe(100);
    // Evicting an owner's last page forgets it too.
    c.put(c.owner("c"), 0, page(6));
    c.put(c.owner("c"), 1, page(7));
    expect(c.stats().evictions).toBeGreaterThan(0);
    expect(c.hasOwner("b")).toBe(false);
  });

  it("dropKeyed drops the pages of the owners whose keys start with the prefix, and only those", () => {
    const c = new PageCache({ budgetBytes: 1 << 20 });
    for (const key of ["1:5", "1:6", "12:5", "2:1"]) c.put(c.owner(key), 0, page(1, 100));
    c.dropKeyed("1:");
    expect(c.stats()).toMatchObject({ owners: 2, pages: 2 });
    expect(c.hasOwner("12:5") && c.hasOwner("2:1")).toBe(true);
  });

  it("dropKeyed of owners holding every page empties the cache whole: its slabs go to the recycler, and owner objects kept by callers fill and read again", () => {
    for (const slabs of [true, false]) {
      const c = new PageCache({ budgetBytes: 4 << 20, slabs });
      const kept = c.owner("1:5");
      for (let i = 0; i < 100; i++) c.put(kept, i, page(i, i % 7 ? 4096 : 1000));
      c.put(c.owner("1:6"), 3, page(9, 300));
      const recycledBefore = recycledSlabBytes();
      const slabBytes = c.stats().slabBytes;
      expect(slabBytes > 0).toBe(slabs);
      c.dropKeyed("1:");
      expect(c.stats()).toMatchObject({ owners: 0, pages: 0, bytes: 0, slabBytes: 0 });
      expect(recycledSlabBytes() - recycledBefore).toBe(slabBytes);
      expect(c.has(kept, 3) || c.get(kept, 3) !== undefined).toBe(false);
      // The owner object the caller kept works as a new one.
      c.put(kept, 3, page(42, 2000));
      c.put(kept, 4, page(43));
      expect(c.get(kept, 3)).toEqual(page(42, 2000));
      expect(c.get(kept, 4)).toEqual(page(43));
      expect(c.stats()).toMatchObject({ owners: 1, pages: 2, bytes: 2000 + 4096 });
      releaseRecycledSlabs();
    }
  });

  it("keeps unkeyed owners apart, counts them while they hold pages, and leaves them to drop(), not dropKeyed()", () => {
    const c = new PageCache({ budgetBytes: 1 << 20 });
    expect(() => c.owner("")).toThrow(RangeError);
    const x = c.unkeyedOwner({ tag: "x" });
    const y = c.unkeyedOwner({ tag: "y" });
    expect(x.tag).toBe("x");
    expect(x).not.toBe(y);
    c.put(x, 0, page(1, 100));
    c.put(y, 0, page(2, 100));
    c.put(c.owner("1:5"), 0, page(3, 100));
    expect(c.stats()).toMatchObject({ owners: 3, pages: 3 });
    expect(c.get(x, 0)?.[0]).toBe(1);
    expect(c.get(y, 0)?.[0]).toBe(2);
    // A prefix matching every key reaches the keyed owner only.
    c.dropKeyed("");
    expect(c.stats()).toMatchObject({ owners: 2, pages: 2 });
    expect(c.take(x, 0)?.[0]).toBe(1);
    expect(c.stats()).toMatchObject({ owners: 1, pages: 1 });
    c.put(x, 5, page(4, 100));
    c.drop(y);
    expect(c.stats()).toMatchObject({ owners: 1, pages: 1 });
    expect(c.get(x, 5)?.[0]).toBe(4);
  });

  it("replacing a page adjusts the byte count", () => {
    const c = new PageCache({ budgetBytes: 1 << 20 });
    const a = c.owner("a");
    c.put(a, 0, page(1, 100));
    c.put(a, 0, page(2, 300));
    expect(c.stats()).toMatchObject({ pages: 1, bytes: 300 });
  });

  it("keeps pages put as views of one fill as views while the whole fill is cached, and copies them out once part of it has gone", () => {
    const c = new PageCache({ budgetBytes: 1 << 20, slabs: false });
    const a = c.owner("a");
    const fill = new Uint8Array(3 * 4096).map((_, i) => i >> 12);
    for (let i = 0; i < 3; i++) c.put(a, i, fill.subarray(i * 4096, (i + 1) * 4096));
    // Every page of the fill is cached: reading one copies nothing.
    expect(c.get(a, 1)!.buffer).toBe(fill.buffer);
    // A page taken (handed to a caller that keeps it) leaves the fill partly dead...
    expect(c.take(a, 0)!.buffer).toBe(fill.buffer);
    // ...so the pages still cached get their own bytes when next used, equal to before.
    const two = c.get(a, 2)!;
    expect(two.buffer).not.toBe(fill.buffer);
    expect(two.byteLength).toBe(two.buffer.byteLength);
    expect([...new Set(two)]).toEqual([2]);
    expect(c.get(a, 1)!.buffer).not.toBe(fill.buffer);
    expect(c.stats().bytes).toBe(2 * 4096);
  });

  it("agrees with a plain LRU model over random puts, gets, takes and drops (slots are reused)", () => {
    const budget = 40 * (100 + PAGE_BOOKKEEPING_BYTES);
    const c = new PageCache({ budgetBytes: budget, slabs: false });
    // Three keyed owners and one unkeyed (as a ShareRegistry's), which is kept only by
    // the test, so its page count must still show in stats().owners.
    const makeOwner = (o: number) => (o < 3 ? c.owner(["a", "b", "c"][o]!) : c.unkeyedOwner({}));
    const owners = [0, 1, 2, 3].map(makeOwner);
    // The model: keys "owner/index" in least- to most-recently-used order, with sizes.
    let model = new Map<string, number>();
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
    const bytes = () => [...model.values()].reduce((a, b) => a + b, 0);
    for (let step = 0; step < 5000; step++) {
      const o = rand(4);
      const owner = owners[o]!;
      const index = rand(30);
      const key = `${o}/${index}`;
      const op = rand(10);
      if (op < 5) {
        const size = 1 + rand(200);
        c.put(owner, index, page(index, size));
        model.delete(key);
        model.set(key, size);
        while (bytes() + model.size * PAGE_BOOKKEEPING_BYTES > budget) model.delete(model.keys().next().value!);
      } else if (op < 8) {
        const got = c.get(owner, index);
        expect(got?.length).toBe(model.get(key));
        if (got) {
          expect(got[0]).toBe(index);
          const size = model.get(key)!;
          model.delete(key);
          model.set(key, size);
        }
      } else if (op < 9) {
        expect(c.take(owner, index)?.length).toBe(model.get(key));
        model.delete(key);
      } else if (rand(20) === 0) {
        c.drop(owner);
        owners[o] = makeOwner(o);
        model = new Map([...model].filter(([k]) => !k.startsWith(`${o}/`)));
      }
      expect(c.stats().bytes).toBe(bytes());
      expect(c.stats().pages).toBe(model.size);
      expect(c.stats().owners).toBe(new Set([...model.keys()].map((k) => k.split("/")[0])).size);
    }
  });

  it("counts each page's bookkeeping against the budget: tiny pages cannot pile up without bound", () => {
    const c = new PageCache({ budgetBytes: 1 << 16, slabs: false });
    const a = c.owner("a");
    for (let i = 0; i < 100_000; i++) c.put(a, i, page(1, 1));
    expect(c.stats().pages).toBe(Math.floor((1 << 16) / (1 + PAGE_BOOKKEEPING_BYTES)));
  });

  it("with slabs, keeps every page's bytes exact and evicts least recently used first, within the budget counted in slabs", () => {
    const budget = 1 << 17;
    const c = new PageCache({ budgetBytes: budget });
    const owners = ["a", "b"].map((k) => c.owner(k));
    // A page's bytes: a pattern from its key and version, so a frame given to another page
    // while this one is still cached shows up as wrong bytes.
    const bytesOf = (o: number, index: number, version: number, size: number) =>
      new Uint8Array(size).map((_, i) => (o * 131 + index * 31 + version * 7 + i) & 255);
    // Keys in least- to most-recently-used order, with what each holds.
    const model = new Map<string, { version: number; size: number }>();
    let seed = 11;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
    for (let step = 0; step < 6000; step++) {
      const o = rand(2);
      const index = rand(80);
      const key = `${o}/${index}`;
      const op = rand(10);
      if (op < 5) {
        // Full pages and short ones of every frame size, empty included.
        const size = rand(3) === 0 ? 4096 : rand(4097);
        c.put(owners[o]!, index, bytesOf(o, index, step, size));
        model.delete(key);
        model.set(key, { version: step, size });
      } else if (op < 8 || op === 9) {
        const got = op === 9 ? c.take(owners[o]!, index) : c.get(owners[o]!, index);
        const want = model.get(key);
        expect(got === undefined).toBe(want === undefined);
        if (got && want) {
          expect(got).toEqual(bytesOf(o, index, want.version, want.size));
          model.delete(key);
          if (op !== 9) model.set(key, want);
        }
      } else {
        c.drop(owners[o]!);
        owners[o] = c.owner(["a", "b"][o]!);
        for (const k of [...model.keys()]) if (k.startsWith(`${o}/`)) model.delete(k);
      }
      // Evicted pages leave the model from its least recently used end: what is cached
      // is always its most recently used part.
      const keys = [...model.keys()];
      const cachedFrom = keys.findIndex((k) => c.has(owners[Number(k[0])]!, Number(k.slice(2))));
      const cached = cachedFrom < 0 ? [] : keys.slice(cachedFrom);
      expect(cached.every((k) => c.has(owners[Number(k[0])]!, Number(k.slice(2))))).toBe(true);
      for (const k of keys.slice(0, Math.max(0, cachedFrom))) model.delete(k);
      const stats = c.stats();
      expect(stats.pages).toBe(model.size);
      expect(stats.bytes).toBe([...model.values()].reduce((n, v) => n + v.size, 0));
      expect(stats.slabBytes + stats.pages * PAGE_BOOKKEEPING_BYTES).toBeLessThanOrEqual(budget);
    }
  });

  it("with slabs, gives emptied slabs back and stores a short page in little more than its length", () => {
    const c = new PageCache({ budgetBytes: 64 << 20 });
    const a = c.owner("a");
    // 1,000 file tails of 100 bytes, packed 16-byte aligned: 146 to a 16 KiB slab.
    for (let i = 0; i < 1000; i++) c.put(a, i, page(i & 255, 100));
    const tailSlabs = Math.ceil(1000 / Math.floor((16 * 1024) / 112)) * 16 * 1024;
    expect(c.stats().slabBytes).toBe(tailSlabs);
    // Full pages fill the large slabs.
    const b = c.owner("b");
    for (let i = 0; i < 40; i++) c.put(b, i, page(i));
    expect(c.stats().slabBytes).toBe(tailSlabs + 2 * 128 * 1024);
    c.drop(b);
    for (let i = 0; i < 1000; i++) expect(c.get(a, i)).toEqual(page(i & 255, 100));
    c.drop(a);
    expect(c.stats()).toMatchObject({ pages: 0, bytes: 0, slabBytes: 0 });
  });

  it("with slabs, packs short pages of any length, takes back the room of the latest one, and lets a tail slab go when its last page does", () => {
    const c = new PageCache({ budgetBytes: 64 << 20 });
    const a = c.owner("a");
    const sizes = [1, 15, 16, 17, 0, 4095, 3000, 2049, 100, 7];
    sizes.forEach((n, i) => c.put(a, i, page(i + 1, n)));
    // One 16 KiB tail slab holds them all (16 + 16 + 16 + 32 + 16 + 4096 + 3008 + 2064 + 112 + 16 bytes).
    expect(c.stats().slabBytes).toBe(16 * 1024);
    sizes.forEach((n, i) => expect(c.get(a, i)).toEqual(page(i + 1, n)));
    // Taking the latest page gives its room to the next one: no second slab.
    for (let round = 0; round < 100; round++) {
      c.put(a, 99, page(round, 4000));
      expect(c.take(a, 99)).toEqual(page(round, 4000));
    }
    expect(c.stats().slabBytes).toBe(16 * 1024);
    // Fill past the slab: a second one. The first stays while any page of it lives, and
    // goes with its last.
    for (let i = 10; i < 14; i++) c.put(a, i, page(i, 4000));
    expect(c.stats().slabBytes).toBe(2 * 16 * 1024);
    for (let i = 0; i < 10; i++) expect(c.take(a, i)).toEqual(page(i + 1, sizes[i]!));
    expect(c.stats().slabBytes).toBe(2 * 16 * 1024);
    for (let i = 10; i < 14; i++) expect(c.take(a, i)).toEqual(page(i, 4000));
    expect(c.stats()).toMatchObject({ pages: 0, slabBytes: 0 });
    c.put(a, 0, page(9, 10));
    expect(c.stats().slabBytes).toBe(16 * 1024);
    expect(c.get(a, 0)).toEqual(page(9, 10));
  });

  it("with slabs, a short page fills the end of an earlier tail slab that a longer one did not fit", () => {
    const c = new PageCache({ budgetBytes: 64 << 20 });
    const a = c.owner("a");
    for (let i = 0; i < 4; i++) c.put(a, i, page(i, 4000)); // 16,000 of 16,384 bytes
    c.put(a, 4, page(4, 4000));
    expect(c.stats().slabBytes).toBe(2 * 16 * 1024);
    c.put(a, 5, page(5, 300));
    expect(c.stats().slabBytes).toBe(2 * 16 * 1024);
    // The second slab held page 4 alone: it goes with it.
    expect(c.take(a, 4)).toEqual(page(4, 4000));
    expect(c.stats().slabBytes).toBe(16 * 1024);
    for (let i = 0; i < 4; i++) expect(c.get(a, i)).toEqual(page(i, 4000));
    expect(c.get(a, 5)).toEqual(page(5, 300));
  });

  it("with slabs, a cache emptied by takes fills its next pages into the slab it emptied, not a fresh one", () => {
    const c = new PageCache({ budgetBytes: 64 << 20 });
    const a = c.owner("a");
    c.put(a, 0, page(1));
    const first = c.take(a, 0)!.buffer;
    expect(c.stats().slabBytes).toBe(0);
    c.put(a, 1, page(2));
    const again = c.get(a, 1)!;
    expect(again.buffer).toBe(first);
    expect(again).toEqual(page(2));
  });

  it("rejects a negative budget", () => {
    expect(() => new PageCache({ budgetBytes: -1 })).toThrow(RangeError);
  });
});
