import { describe, expect, it } from "vitest";
import { committedVectors, firstDiff, fuzzDecoder, hasTool, lz4FrameBlocks, outcome, prng, runTool, samples } from "./codec.test-helper.js";
import { decodeLz4 } from "./index.js";

const HAVE_LZ4 = hasTool("lz4");

/** Raw LZ4 blocks of `data` cut every `blockSize` bytes by the lz4 CLI, with each block's decoded bytes. */
function lz4Blocks(data: Uint8Array, args: string[], blockSize: number): { bytes: Uint8Array; data: Uint8Array }[] {
  const blocks = lz4FrameBlocks(runTool("lz4", [...args, "--no-frame-crc", "-BI", "-c"], data));
  return blocks
    .map((b, i) => ({ b, data: data.subarray(i * blockSize, Math.min(data.length, (i + 1) * blockSize)) }))
    .filter(({ b }) => !b.stored)
    .map(({ b, data }) => ({ bytes: b.bytes, data }));
}

/** A literals-only block (what an encoder emits for incompressible data). */
function literalBlock(data: Uint8Array): Uint8Array {
  const ext: number[] = [];
  if (data.length >= 15) {
    let rest = data.length - 15;
    while (rest >= 255) {
      ext.push(255);
      rest -= 255;
    }
    ext.push(rest);
  }
  const out = new Uint8Array(1 + ext.length + data.length);
  out[0] = Math.min(data.length, 15) << 4;
  out.set(ext, 1);
  out.set(data, 1 + ext.length);
  return out;
}

describe("decodeLz4: committed vectors (lz4 CLI)", () => {
  const vectors = committedVectors("lz4");
  it("has vectors", () => expect(vectors.length).toBeGreaterThanOrEqual(3));
  for (const v of vectors) {
    it(`${v.name}: exact output and every prefix length class`, () => {
      const out = new Uint8Array(v.data.length);
      decodeLz4(v.encoded, out, false);
      expect(firstDiff(out, v.data)).toBe(-1);
      for (const k of [0, 1, 17, v.data.length >> 1, v.data.length - 1]) {
        const prefix = new Uint8Array(k);
        decodeLz4(v.encoded, prefix, true);
        expect(firstDiff(prefix, v.data.subarray(0, k))).toBe(-1);
      }
    });
  }
});

describe.skipIf(!HAVE_LZ4)("decodeLz4: round trip through the lz4 CLI", () => {
  for (const { name, data } of samples()) {
    it(`${name} (${data.length} bytes): 4 KiB and 64 KiB blocks, fast and HC`, () => {
      let decoded = 0;
      for (const [args, bs] of [
        [["-1", "-B4096"], 4096],
        [["-12", "-B4096"], 4096],
        [["-1", "-B4"], 65536],
        [["-12", "-B4"], 65536],
      ] as const) {
        for (const blk of lz4Blocks(data, [...args], bs)) {
          const out = new Uint8Array(blk.data.length);
          decodeLz4(blk.bytes, out, false);
          expect(firstDiff(out, blk.data)).toBe(-1);
          decoded++;
        }
      }
      // Incompressible data is stored raw by the CLI: nothing to decode there.
      if (name !== "random" && name !== "one byte" && name !== "empty") expect(decoded).toBeGreaterThan(0);
    });
  }

  it("partial: decodes any prefix of a block, and only with `partial`", () => {
    const r = prng(42);
    for (const { name, data } of samples()) {
      for (const blk of lz4Blocks(data, ["-9", "-B4"], 65536)) {
        for (let t = 0; t < 20; t++) {
          const k = r() % (blk.data.length + 1);
          const backing = new Uint8Array(k + 16).fill(0xee);
          const out = backing.subarray(0, k);
          decodeLz4(blk.bytes, out, true);
          expect(firstDiff(out, blk.data.subarray(0, k)), `${name} prefix ${k}`).toBe(-1);
          expect(backing.subarray(k).every((b) => b === 0xee)).toBe(true);
          if (k < blk.data.length) {
            backing.fill(0xee, k);
            expect(() => decodeLz4(blk.bytes, backing.subarray(0, k), false)).toThrow(/lz4/);
            expect(backing.subarray(k).every((b) => b === 0xee)).toBe(true);
          }
        }
      }
    }
  });
});

describe("decodeLz4: hand-built blocks", () => {
  it("empty block (one zero token) decodes to nothing", () => {
    decodeLz4(Uint8Array.of(0x00), new Uint8Array(0), false);
  });

  it("one literal byte", () => {
    const out = new Uint8Array(1);
    decodeLz4(Uint8Array.of(0x10, 0x61), out, false);
    expect(out).toEqual(Uint8Array.of(0x61));
  });

  it("long literal runs (length bytes of 255) with no matches", () => {
    const r = prng(3);
    for (const n of [14, 15, 16, 269, 270, 271, 70000]) {
      const data = new Uint8Array(n).map(() => r() & 0xff);
      const out = new Uint8Array(n);
      decodeLz4(literalBlock(data), out, false);
      expect(firstDiff(out, data)).toBe(-1);
    }
  });

  it("overlapping copies: offset 3 repeats a period, offset 1 repeats a byte", () => {
    // "abc", match(offset 3, length 4 + 15 + 10), match(offset 1, length 4 + 15 + 1), "vwxyz"
    const block = Uint8Array.of(0x3f, 0x61, 0x62, 0x63, 0x03, 0x00, 10, 0x0f, 0x01, 0x00, 1, 0x50, 0x76, 0x77, 0x78, 0x79, 0x7a);
    const expected = [..."abc"];
    for (let i = 0; i < 29; i++) expected.push(expected[expected.length - 3]!);
    for (let i = 0; i < 20; i++) expected.push(expected[expected.length - 1]!);
    expected.push(..."vwxyz");
    const out = new Uint8Array(expected.length);
    decodeLz4(block, out, false);
    expect(new TextDecoder().decode(out)).toBe(expected.join(""));
    expect(expected.join("")).toMatch(/^(abc){10}ab{21}vwxyz$/);
  });

  it("a block whose stream ends early, or runs long, is corrupt without `partial`", async () => {
    const block = literalBlock(new TextEncoder().encode("hello world"));
    expect(await outcome(() => decodeLz4(block, new Uint8Array(12), false))).toBe("EFSCORRUPTED");
    expect(await outcome(() => decodeLz4(block, new Uint8Array(10), false))).toBe("EFSCORRUPTED");
    expect(await outcome(() => decodeLz4(block, new Uint8Array(10), true))).toBe("ok");
  });

  it("rejects offsets of zero and before the start of the output", async () => {
    expect(await outcome(() => decodeLz4(Uint8Array.of(0x10, 0x61, 0x00, 0x00, 0x00), new Uint8Array(5), false))).toBe("EFSCORRUPTED");
    expect(await outcome(() => decodeLz4(Uint8Array.of(0x10, 0x61, 0x02, 0x00, 0x00), new Uint8Array(5), false))).toBe("EFSCORRUPTED");
    expect(await outcome(() => decodeLz4(new Uint8Array(0), new Uint8Array(1), false))).toBe("EFSCORRUPTED");
  });
});

describe("decodeLz4: corrupt input", () => {
  it("truncated blocks are always rejected without `partial`", async () => {
    for (const v of committedVectors("lz4")) {
      for (let cut = 0; cut < v.encoded.length; cut += Math.max(1, v.encoded.length >> 6)) {
        expect(await outcome(() => decodeLz4(v.encoded.subarray(0, cut), new Uint8Array(v.data.length), false))).toBe("EFSCORRUPTED");
      }
      expect(await outcome(() => decodeLz4(v.encoded.subarray(0, v.encoded.length - 1), new Uint8Array(v.data.length), false))).toBe("EFSCORRUPTED");
    }
  });

  it("seeded mutations and garbage give EFSCORRUPTED or a result, nothing else, never past the output", async () => {
    const streams = committedVectors("lz4").map((v) => ({ bytes: v.encoded, size: v.data.length }));
    const { rejected } = await fuzzDecoder(streams, decodeLz4, 5000, 0x1234);
    expect(rejected).toBeGreaterThan(2000);
  });
});
