import { describe, expect, it } from "vitest";
import { ErofsError, lookupDirent, parseDirBlock, parseDirBlockPrefix } from "./index.js";

function dirBlock(names: string[], size = 4096): Uint8Array {
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  let nameoff = names.length * 12;
  names.forEach((n, i) => {
    dv.setBigUint64(i * 12, BigInt(100 + i), true);
    dv.setUint16(i * 12 + 8, nameoff, true);
    b[i * 12 + 10] = 1;
    const bytes = new TextEncoder().encode(n);
    b.set(bytes, nameoff);
    nameoff += bytes.length;
  });
  return b;
}

describe("parseDirBlock", () => {
  it("reads names bounded by the next nameoff and the last by NUL", () => {
    const e = parseDirBlock(dirBlock([".", "..", "abc", "z"]), 4096, "t");
    expect(e.map((x) => new TextDecoder().decode(x.name))).toEqual([".", "..", "abc", "z"]);
    expect(e.map((x) => x.nid)).toEqual([100n, 101n, 102n, 103n]);
  });

  it("bounds the last name by the used size", () => {
    const b = dirBlock(["a", "bcd"]);
    const used = 24 + 1 + 2; // cut the last name after "bc"
    expect(new TextDecoder().decode(parseDirBlock(b, used, "t")[1]!.name)).toBe("bc");
  });

  it("rejects corrupt first nameoffs and decreasing offsets", () => {
    const code = (b: Uint8Array, used = 4096) => {
      try {
        parseDirBlock(b, used, "t");
      } catch (e) {
        return ErofsError.isInstance(e) ? e.code : "other";
      }
      return "none";
    };
    const b = dirBlock(["a", "b"]);
    new DataView(b.buffer).setUint16(8, 5, true);
    expect(code(b)).toBe("EFSCORRUPTED");
    const c = dirBlock(["a", "b"]);
    new DataView(c.buffer).setUint16(20, 10, true); // second name before the first
    expect(code(c)).toBe("EFSCORRUPTED");
    expect(code(new Uint8Array(4096))).toBe("EFSCORRUPTED");
    const d = dirBlock(["a"]);
    new DataView(d.buffer).setUint16(8, 4090, true);
    expect(code(d, 4096)).toBe("EFSCORRUPTED");
  });
});

describe("parseDirBlockPrefix (a block as the kernel's readdir hands it out)", () => {
  const names = (b: Uint8Array) => parseDirBlockPrefix(b, 4096, "t").entries.map((x) => new TextDecoder().decode(x.name));

  it("gives the dirents before the first bad one, and why it is bad", () => {
    const b = dirBlock(["a", "bb", "ccc", "dddd"]);
    // The fourth dirent's nameoff below the third's: the third name's length is negative.
    const dv = new DataView(b.buffer);
    dv.setUint16(3 * 12 + 8, dv.getUint16(2 * 12 + 8, true) - 1, true);
    expect(names(b)).toEqual(["a", "bb"]);
    expect(parseDirBlockPrefix(b, 4096, "t").failure?.code).toBe("EFSCORRUPTED");
    expect(() => parseDirBlock(b, 4096, "t")).toThrow(/bogus dirent 2/);
  });

  it("gives none when the first nameoff, which sizes the block, is bad, and all with no failure when none is", () => {
    const b = dirBlock(["a", "b"]);
    new DataView(b.buffer).setUint16(8, 5, true);
    expect(parseDirBlockPrefix(b, 4096, "t")).toMatchObject({ entries: [], failure: { code: "EFSCORRUPTED" } });
    expect(parseDirBlockPrefix(dirBlock(["a", "b"]), 4096, "t").failure).toBeNull();
    expect(names(dirBlock(["a", "b"]))).toEqual(["a", "b"]);
  });
});

describe("lookupDirent (the kernel's lookup; directories out of order are checked against a kernel mount in vfs's dir-lookup.test.ts)", () => {
  // Three blocks of sorted names, as mkfs writes them; nids 100 + the index in the block.
  const blocks = [dirBlock([".", "..", "alpha", "beta"]), dirBlock(["delta", "epsilon", "eta"]), dirBlock(["gamma", "zeta"])];
  const read = async (i: number) => blocks[i]!;
  const find = (name: string) => lookupDirent(new TextEncoder().encode(name), blocks.length, 4096, read, "t");

  it("finds every name of a sorted directory, in any block and at any place in it", async () => {
    const names = [[".", "..", "alpha", "beta"], ["delta", "epsilon", "eta"], ["gamma", "zeta"]];
    for (const block of names) for (const [i, name] of block.entries()) expect(await find(name)).toEqual({ nid: BigInt(100 + i), fileType: 1 });
  });

  it("answers null for names that are not there: between, before and after the stored ones, and their prefixes", async () => {
    for (const name of ["", "-", "alph", "alphab", "c", "e", "eps", "zeta2", "zz", "\u00ff"]) expect(await find(name)).toBeNull();
  });

  it("a block visited whose first nameoff makes no dirent is corruption; an empty directory reads nothing", async () => {
    const broken = [blocks[0]!, new Uint8Array(4096), blocks[2]!];
    await expect(lookupDirent(new TextEncoder().encode("delta"), 3, 4096, async (i) => broken[i]!, "t")).rejects.toSatisfy((e: unknown) => ErofsError.isInstance(e) && e.code === "EFSCORRUPTED");
    expect(await lookupDirent(new TextEncoder().encode("a"), 0, 4096, () => Promise.reject(new Error("read")), "t")).toBeNull();
  });
});
