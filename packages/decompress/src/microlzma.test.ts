import { describe, expect, it } from "vitest";
import { committedVectors, firstDiff, fuzzDecoder, hasTool, lzmaProps, outcome, prng, runTool, samples, toMicroLzma } from "./codec.test-helper.js";
import { decodeMicroLzma } from "./index.js";

const HAVE_XZ = hasTool("xz");

/** MicroLZMA of `data` made by xz's raw LZMA1 encoder. */
function encode(data: Uint8Array, lc = 3, lp = 0, pb = 2, extra = "preset=6"): Uint8Array {
  const raw = runTool("xz", ["--format=raw", `--lzma1=${extra},lc=${lc},lp=${lp},pb=${pb}`, "-c"], data);
  return toMicroLzma(raw, lc, lp, pb);
}

describe("decodeMicroLzma: committed vectors (xz CLI)", () => {
  const vectors = committedVectors("mlzma");
  it("has vectors, one with other properties", () => {
    expect(vectors.length).toBeGreaterThanOrEqual(3);
    expect(vectors.some((v) => v.encoded[0] === (~lzmaProps(0, 2, 0) & 0xff))).toBe(true);
  });
  for (const v of vectors) {
    it(`${v.name}: whole output and prefixes; refused as an exact size, the stream going on to xz's end marker`, async () => {
      const out = new Uint8Array(v.data.length);
      decodeMicroLzma(v.encoded, out, 0, true);
      expect(firstDiff(out, v.data)).toBe(-1);
      expect(await outcome(() => decodeMicroLzma(v.encoded, new Uint8Array(v.data.length), 0, false))).toBe("EFSCORRUPTED");
      for (const k of [0, 1, 100, v.data.length >> 1, v.data.length - 1]) {
        const prefix = new Uint8Array(k);
        decodeMicroLzma(v.encoded, prefix, 0, true);
        expect(firstDiff(prefix, v.data.subarray(0, k))).toBe(-1);
      }
    });
  }
});

describe.skipIf(!HAVE_XZ)("decodeMicroLzma: round trip through xz --format=raw --lzma1", () => {
  for (const { name, data } of samples()) {
    it(`${name} (${data.length} bytes)`, () => {
      for (const extra of ["preset=0", "preset=6", "preset=9e,nice=273"]) {
        const out = new Uint8Array(data.length);
        // xz's raw LZMA1 streams end with an end marker after the data: decoded as a
        // prefix, since an exact size wants the stream to end there.
        decodeMicroLzma(encode(data, 3, 0, 2, extra), out, 64 << 10, true);
        expect(firstDiff(out, data), extra).toBe(-1);
      }
    });
  }

  it("every lc/lp/pb the first byte can carry (lc + lp <= 4)", () => {
    const data = samples().find((s) => s.name === "mixed")!.data.subarray(0, 12000);
    for (const [lc, lp, pb] of [
      [0, 0, 0],
      [4, 0, 0],
      [0, 4, 4],
      [1, 3, 1],
      [2, 2, 3],
      [3, 1, 4],
      [3, 0, 2],
    ] as const) {
      const stream = encode(data, lc, lp, pb);
      expect(stream[0]).toBe(~lzmaProps(lc, lp, pb) & 0xff);
      const out = new Uint8Array(data.length);
      decodeMicroLzma(stream, out, 0, true);
      expect(firstDiff(out, data), `lc=${lc} lp=${lp} pb=${pb}`).toBe(-1);
    }
  });

  it("partial: any prefix, nothing written past the output", () => {
    const r = prng(5);
    for (const { name, data } of samples()) {
      if (data.length < 2) continue;
      const stream = encode(data);
      for (let t = 0; t < 10; t++) {
        const k = r() % data.length;
        const backing = new Uint8Array(k + 16).fill(0xee);
        decodeMicroLzma(stream, backing.subarray(0, k), 0, true);
        expect(firstDiff(backing.subarray(0, k), data.subarray(0, k)), `${name} prefix ${k}`).toBe(-1);
        expect(backing.subarray(k).every((b) => b === 0xee)).toBe(true);
        // Without `partial` a short output either stops at a symbol boundary with the right
        // bytes or is rejected (a match running past the end): never wrong bytes.
        backing.fill(0xee);
        const o = (() => {
          try {
            decodeMicroLzma(stream, backing.subarray(0, k), 0, false);
            return "ok";
          } catch (e) {
            return (e as { code?: string }).code;
          }
        })();
        if (o === "ok") expect(firstDiff(backing.subarray(0, k), data.subarray(0, k))).toBe(-1);
        else expect(o).toBe("EFSCORRUPTED");
        expect(backing.subarray(k).every((b) => b === 0xee)).toBe(true);
      }
    }
  });

  it("an output longer than the data meets xz's end marker: corrupt", async () => {
    const data = samples().find((s) => s.name === "text")!.data;
    const stream = encode(data);
    expect(await outcome(() => decodeMicroLzma(stream, new Uint8Array(data.length + 1), 0, false))).toBe("EFSCORRUPTED");
    expect(await outcome(() => decodeMicroLzma(stream, new Uint8Array(data.length + 1000), 0, true))).toBe("EFSCORRUPTED");
  });

  it("matches farther back than the dictionary size are corrupt", async () => {
    // 20000 random bytes repeated once: the repeat is one match at distance 20000.
    const r = prng(6);
    const half = new Uint8Array(20000).map(() => r() & 0xff);
    const data = new Uint8Array(40000);
    data.set(half);
    data.set(half, 20000);
    const stream = encode(data, 3, 0, 2, "preset=6,dict=64KiB");
    expect(stream.length).toBeLessThan(21000);
    const out = new Uint8Array(data.length);
    decodeMicroLzma(stream, out, 64 << 10, true);
    expect(firstDiff(out, data)).toBe(-1);
    expect(await outcome(() => decodeMicroLzma(stream, new Uint8Array(data.length), 16 << 10, true))).toBe("EFSCORRUPTED");
    // 0 means "not configured": the EROFS maximum (8 MiB) applies.
    expect(await outcome(() => decodeMicroLzma(stream, new Uint8Array(data.length), 0, true))).toBe("ok");
  });
});

describe("decodeMicroLzma: corrupt input", () => {
  it("rejects headers: too short, bad properties, lc + lp above 4, bad range coder start", async () => {
    const at = async (bytes: number[]) => outcome(() => decodeMicroLzma(Uint8Array.from(bytes), new Uint8Array(10), 0, false));
    expect(await at([])).toBe("EFSCORRUPTED");
    expect(await at([~lzmaProps(3, 0, 2) & 0xff, 0, 0, 0])).toBe("EFSCORRUPTED");
    expect(await at([~225 & 0xff, 0, 0, 0, 0, 0])).toBe("EFSCORRUPTED"); // props 225 ≥ 9 * 5 * 5
    expect(await at([~lzmaProps(4, 1, 0) & 0xff, 0, 0, 0, 0, 0])).toBe("EFSCORRUPTED");
    expect(await at([~lzmaProps(3, 0, 2) & 0xff, 0xff, 0xff, 0xff, 0xff, 0])).toBe("EFSCORRUPTED");
  });

  it("truncated streams are rejected", async () => {
    for (const v of committedVectors("mlzma")) {
      for (const keep of [0, 3, 5, 6, v.encoded.length >> 2, v.encoded.length >> 1]) {
        expect(await outcome(() => decodeMicroLzma(v.encoded.subarray(0, keep), new Uint8Array(v.data.length), 0, false)), `${v.name} ${keep}`).toBe(
          "EFSCORRUPTED",
        );
      }
    }
  });

  it("seeded mutations and garbage give EFSCORRUPTED or a result, nothing else, never past the output", async () => {
    const streams = committedVectors("mlzma").map((v) => ({ bytes: v.encoded, size: v.data.length }));
    const { rejected } = await fuzzDecoder(streams, (i, o, p) => decodeMicroLzma(i, o, 1 << 16, p), 3000, 0x4d4c);
    expect(rejected).toBeGreaterThan(1000);
  });
});
