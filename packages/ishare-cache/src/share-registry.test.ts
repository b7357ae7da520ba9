import { describe, expect, it } from "vitest";
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
  });
});

describe("ShareRegistry", () => {
  it("puts members with equal keys on one shared inode, others apart", async () => {
    const cache = new PageCache({ budgetBytes: 1 << 20 });
    const reg = await ShareRegistry.create(cache);
    const a = { mountId: 1 };
    const b = { mountId: 2 };
    const c = { mountId: 3 };
    const d = { mountId: 4 };
    const sa = reg.join(key("fp", "dom"), a);
    const sb = reg.join(key("fp", "dom"), b);
    const sc = reg.join(key("fp", "other"), c);
    const sd = reg.join(key("f", "pdom"), d);
    expect(sb).toBe(sa);
    expect(sc).not.toBe(sa);
    expect(sd).not.toBe(sa);
    expect(reg.sharedInodes).toBe(3);
  });

  it("keeps pages while any member remains and frees them with the last", async () => {
    const cache = new PageCache({ budgetBytes: 1 << 20 });
    const reg = await ShareRegistry.create(cache);
    const a = { mountId: 1 };
    const b = { mountId: 2 };
    const s = reg.join(key("fp", ""), a);
    reg.join(key("fp", ""), b);
    cache.put(reg.ownerOf(s), 0, new Uint8Array(4096), a.mountId);
    reg.leave(a);
    expect(cache.get(reg.ownerOf(s), 0, b.mountId)).toBeDefined();
    expect(cache.stats().sharedBytesServed).toBe(4096);
    reg.leave(b);
    expect(cache.stats()).toMatchObject({ pages: 0, bytes: 0 });
    expect(reg.sharedInodes).toBe(0);
  });

  it("never exposes the fingerprint or domain in cache keys", async () => {
    const cache = new PageCache({ budgetBytes: 1 << 20 });
    const reg = await ShareRegistry.create(cache);
    const s = reg.join(key("secret-fp", "secret-domain"), { mountId: 1 });
    expect(s.key).not.toMatch(/secret/);
    expect(JSON.stringify(cache.stats())).not.toMatch(/secret/);
  });
});
