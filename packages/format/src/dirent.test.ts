import { describe, expect, it } from "vitest";
import { ErofsError, parseDirBlock } from "./index.js";

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
