import xxhash from "xxhash-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { XATTR_FILTER_BITS, XATTR_FILTER_SEED, filterExcludes, loadXattrHasher, splitName, type Hash32 } from "./index.js";

/** xxh32 written from the algorithm's description, to check the WebAssembly one against. */
function xxh32(input: Uint8Array, seed: number): number {
  const P1 = 2654435761;
  const P2 = 2246822519;
  const P3 = 3266489917;
  const P4 = 668265263;
  const P5 = 374761393;
  const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;
  const mul = (a: number, b: number) => Math.imul(a, b) >>> 0;
  const word = (i: number) => (input[i]! | (input[i + 1]! << 8) | (input[i + 2]! << 16) | (input[i + 3]! << 24)) >>> 0;
  let p = 0;
  let h: number;
  if (input.length >= 16) {
    const v = [(seed + P1 + P2) >>> 0, (seed + P2) >>> 0, seed >>> 0, (seed - P1) >>> 0];
    for (; p + 16 <= input.length; p += 16) {
      for (let k = 0; k < 4; k++) v[k] = mul(rotl((v[k]! + mul(word(p + 4 * k), P2)) >>> 0, 13), P1);
    }
    h = (rotl(v[0]!, 1) + rotl(v[1]!, 7) + rotl(v[2]!, 12) + rotl(v[3]!, 18)) >>> 0;
  } else {
    h = (seed + P5) >>> 0;
  }
  h = (h + input.length) >>> 0;
  for (; p + 4 <= input.length; p += 4) h = mul(rotl((h + mul(word(p), P3)) >>> 0, 17), P4);
  for (; p < input.length; p++) h = mul(rotl((h + mul(input[p]!, P5)) >>> 0, 11), P1);
  h = mul(h ^ (h >>> 15), P2);
  h = mul(h ^ (h >>> 13), P3);
  return (h ^ (h >>> 16)) >>> 0;
}

const enc = (s: string) => new TextEncoder().encode(s);

/** The filter mkfs.erofs writes: bit (xxh32(suffix, SEED + index) mod 32) cleared for each name present. */
function expectedFilter(names: readonly string[]): number {
  let bits = 0;
  for (const n of names) {
    const s = splitName(enc(n));
    if (!s) throw new Error(`no handler for ${n}`);
    bits |= 1 << (xxh32(s.suffix, (0x25bbe08f + s.index) >>> 0) & 31);
  }
  return ~bits >>> 0;
}

let hash32: Hash32;
beforeAll(async () => {
  hash32 = await loadXattrHasher();
});

describe("xxh32", () => {
  it("the reference implementation gives the published values", () => {
    expect(xxh32(new Uint8Array(0), 0)).toBe(0x02cc5d05);
    expect(xxh32(enc("a"), 0)).toBe(0x550d7456);
    expect(xxh32(enc("abc"), 0)).toBe(0x32d153ff);
  });

  it("loadXattrHasher agrees with it and with xxhash-wasm's h32 on lengths 0..100 and high seeds", async () => {
    const { h32Raw } = await xxhash();
    let x = 1;
    for (let len = 0; len <= 100; len++) {
      const b = new Uint8Array(len).map(() => (x = (x * 1103515245 + 12345) >>> 0) >>> 24);
      for (const seed of [0, 1, XATTR_FILTER_SEED, XATTR_FILTER_SEED + 6, 0x80000001, 0xffffffff]) {
        const want = xxh32(b, seed);
        expect(hash32(b, seed), `len ${len} seed ${seed}`).toBe(want);
        expect(h32Raw(b, seed)).toBe(want);
      }
    }
  });
});

describe("loadXattrHasher", () => {
  it("holds the event loop with a timer while xxhash-wasm instantiates (holdingEventLoop: a Node 20 hang otherwise)", async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    const loading = loadXattrHasher();
    expect(timers()).toBe(before + 1);
    const h = await loading;
    expect(timers()).toBe(before);
    expect(h(enc("abc"), 0)).toBe(xxh32(enc("abc"), 0));
  });
});

describe("filterExcludes", () => {
  it("uses seed 0x25bbe08f + namespace index and 32 bits", () => {
    expect(XATTR_FILTER_SEED).toBe(0x25bbe08f);
    expect(XATTR_FILTER_BITS).toBe(32);
    for (const [index, name] of [
      [1, "common"],
      [6, "selinux"],
      [4, "overlay.opaque"],
      [2, ""],
    ] as const) {
      const bit = xxh32(enc(name), XATTR_FILTER_SEED + index) & 31;
      expect(filterExcludes(1 << bit, index, enc(name), hash32)).toBe(true);
      expect(filterExcludes(~(1 << bit) >>> 0, index, enc(name), hash32)).toBe(false);
      expect(filterExcludes(0, index, enc(name), hash32)).toBe(false);
    }
  });

  it("a set bit excludes; present names are never excluded; the index is part of the hash", () => {
    const present = ["user.a", "user.b", "security.selinux"];
    const filter = expectedFilter(present);
    for (const n of present) {
      const s = splitName(enc(n))!;
      expect(filterExcludes(filter, s.index, s.suffix, hash32)).toBe(false);
    }
    let excluded = 0;
    for (let i = 0; i < 200; i++) {
      const s = splitName(enc(`user.absent${i}`))!;
      const bit = xxh32(s.suffix, XATTR_FILTER_SEED + s.index) & 31;
      const ex = filterExcludes(filter, s.index, s.suffix, hash32);
      expect(ex).toBe(((filter >>> bit) & 1) === 1);
      if (ex) excluded++;
    }
    expect(excluded).toBeGreaterThan(100);
    // Same name, other namespaces: different seeds, so (almost always) other bits.
    const bits = new Set([1, 4, 6].map((i) => xxh32(enc("samename"), XATTR_FILTER_SEED + i) & 31));
    expect(bits.size).toBeGreaterThan(1);
  });

  // Filters read from the corpus (mkfs.erofs 1.9.3 -Exattr-name-filter, images
  // xattrs-filter and xattrs-prefix, where the user.com.example.very.long.prefix. names
  // use a long prefix: the hash covers the infix too, seeded by the base index).
  for (const [path, filter, names] of [
    ["/", 0xfffffffd, ["user.root_attr"]],
    ["acl_dir", 0xbfdfffff, ["system.posix_acl_access", "system.posix_acl_default"]],
    [
      "file00",
      0xff6e87bf,
      [
        "security.selinux",
        "trusted.overlay.opaque",
        "user.big",
        "user.com.example.very.long.prefix.name.one",
        "user.com.example.very.long.prefix.name.two",
        "user.common",
        "user.common2",
        "user.empty",
        "user.unique.0",
      ],
    ],
    ["file01", 0xffefddbf, ["trusted.overlay.opaque", "user.common", "user.common2", "user.unique.1"]],
  ] as const) {
    it(`matches the filter mkfs.erofs wrote for ${path}`, () => {
      expect(expectedFilter(names)).toBe(filter);
      for (const n of names) {
        const s = splitName(enc(n))!;
        expect(filterExcludes(filter, s.index, s.suffix, hash32)).toBe(false);
      }
    });
  }
});
