import { describe, expect, it } from "vitest";
import xxhash from "xxhash-wasm";
import { PageCache, ShareRegistry, encodeShareKey, type ShareKey } from "./index.js";

const enc = new TextEncoder();
const key = (fp: string, domain: string, size = 100): ShareKey => ({ fingerprint: enc.encode(fp), domain: enc.encode(domain), size });

describe("encodeShareKey", () => {
  it("separates fingerprint and domain unambiguously (unlike plain concatenation)", () => {
    expect(encodeShareKey(key("ab", "c"))).not.toEqual(encodeShareKey(key("a", "bc")));
    expect(encodeShareKey(key("abc", ""))).not.toEqual(encodeShareKey(key("ab", "c")));
  });
  it("includes the size", () => {
    expect(encodeShareKey(key("a", "d", 1))).not.toEqual(encodeShareKey(key("a", "d", 2)));
    // Above 4 GiB too: sizes equal in their low 32 bits stay apart.
    expect(encodeShareKey(key("a", "d", 2 ** 32 + 1))).not.toEqual(encodeShareKey(key("a", "d", 1)));
    // Little-endian 64-bit, as a DataView writes it.
    const size = 2 ** 40 + 0x1234_5678;
    const bytes = encodeShareKey(key("a", "d", size));
    expect(new DataView(bytes.buffer).getBigUint64(bytes.length - 8, true)).toBe(BigInt(size));
  });
});

describe("ShareRegistry", () => {
  it("holds the event loop with a timer while its hash's WebAssembly instantiates (holdingEventLoop: a Node 20 hang otherwise)", async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    const creating = ShareRegistry.create(new PageCache({ budgetBytes: 1 << 20 }));
    expect(timers()).toBe(before + 1);
    const reg = await creating;
    expect(timers()).toBe(before);
    expect(reg.join(key("fp", "dom"))).toBe(reg.join(key("fp", "dom")));
  });

  it("puts members with equal keys on one shared inode, others apart", async () => {
    const cache = new PageCache({ budgetBytes: 1 << 20 });
    const reg = await ShareRegistry.create(cache);
    const sa = reg.join(key("fp", "dom"));
    const sb = reg.join(key("fp", "dom"));
    const sc = reg.join(key("fp", "other"));
    const sd = reg.join(key("f", "pdom"));
    const se = reg.join(key("fp", "dom", 101));
    expect(sb).toBe(sa);
    expect(sa.members).toBe(2);
    for (const other of [sc, sd, se]) expect(other).not.toBe(sa);
    expect(reg.sharedInodes).toBe(4);
  });

  it("keeps keys whose hashes collide apart, joining and leaving each", async () => {
    // Two fingerprints whose keys have equal xxh32 hashes, found by
    // search (among 2^18 keys a birthday collision is all but certain).
    const { h32Raw } = await xxhash();
    const fingerprint = (i: number) => `fingerprint-${i}`;
    const seen = new Map<number, number>();
    let pair: [number, number] | undefined;
    for (let i = 0; i < 1 << 18 && !pair; i++) {
      const h = h32Raw(encodeShareKey(key(fingerprint(i), "dom")), 0);
      const before = seen.get(h);
      if (before === undefined) seen.set(h, i);
      else pair = [before, i];
    }
    expect(pair).toBeDefined();
    const cache = new PageCache({ budgetBytes: 1 << 20 });
    const reg = await ShareRegistry.create(cache);
    const [x, y] = pair!.map((i) => key(fingerprint(i), "dom"));
    const sx = reg.join(x!);
    const sy = reg.join(y!);
    expect(sy).not.toBe(sx);
    expect(reg.join(y!)).toBe(sy);
    expect(reg.join(x!)).toBe(sx);
    expect(reg.sharedInodes).toBe(2);
    cache.put(reg.ownerOf(sx), 0, new Uint8Array([1]));
    cache.put(reg.ownerOf(sy), 0, new Uint8Array([2]));
    reg.leave(sx);
    reg.leave(sx);
    expect(reg.sharedInodes).toBe(1);
    // The one left in the bucket is still found, with its page, and a new one for x is
    // made, without the page its predecessor held.
    expect(reg.join(y!)).toBe(sy);
    expect(cache.get(reg.ownerOf(sy), 0)).toEqual(new Uint8Array([2]));
    const again = reg.join(x!);
    expect(again).not.toBe(sx);
    expect(reg.ownerOf(again)).not.toBe(reg.ownerOf(sx));
    expect(cache.has(reg.ownerOf(again), 0)).toBe(false);
    expect(reg.sharedInodes).toBe(2);
  });

  it("keeps pages while any member remains and frees them with the last", async () => {
    const cache = new PageCache({ budgetBytes: 1 << 20 });
    const reg = await ShareRegistry.create(cache);
    const s = reg.join(key("fp", ""));
    expect(reg.join(key("fp", ""))).toBe(s);
    cache.put(reg.ownerOf(s), 0, new Uint8Array(4096), 1);
    reg.leave(s);
    expect(cache.get(reg.ownerOf(s), 0, 2)).toBeDefined();
    expect(cache.stats().sharedBytesServed).toBe(4096);
    reg.leave(s);
    expect(cache.stats()).toMatchObject({ pages: 0, bytes: 0 });
    expect(reg.sharedInodes).toBe(0);
  });

  it("never exposes the fingerprint or domain in cache keys", async () => {
    const cache = new PageCache({ budgetBytes: 1 << 20 });
    const reg = await ShareRegistry.create(cache);
    const s = reg.join(key("secret-fp", "secret-domain"));
    expect(reg.ownerOf(s).key).not.toMatch(/secret/);
    expect(JSON.stringify(cache.stats())).not.toMatch(/secret/);
  });
});
