import { beforeAll, describe, expect, it } from "vitest";
import { committedVectors, firstDiff, frameDamagedAtTheEnd, fuzzDecoder, rleFrame, hasTool, outcome, prng, runTool, samples } from "./codec.test-helper.js";
import { decodeZstd, zstdPrefixReady, zstdReady } from "./index.js";

const HAVE_ZSTD = hasTool("zstd");

// decodeZstd uses the WebAssembly decoder once it is ready; fzstd before that and for
// frames without a content size (the -nosize vectors and stdin-made frames cover it).
beforeAll(async () => {
  await zstdReady();
  await zstdPrefixReady();
});

/** One zstd frame of `data`, with its content size in the header unless `sized` is false. */
function encode(data: Uint8Array, level: readonly string[], sized = true): Uint8Array {
  return runTool("zstd", ["--no-check", ...level, "-c", ...(sized ? [`--stream-size=${data.length}`] : [])], data);
}

describe("decodeZstd: committed vectors (zstd CLI)", () => {
  const vectors = committedVectors("zst");
  it("has vectors, sized and unsized", () => {
    expect(vectors.length).toBeGreaterThanOrEqual(4);
    expect(vectors.some((v) => v.encoded[4]! >>> 6 === 0 && !(v.encoded[4]! & 0x20))).toBe(true);
  });
  for (const v of vectors) {
    it(`${v.name}: exact output and prefixes`, () => {
      const out = new Uint8Array(v.data.length);
      decodeZstd(v.encoded, out, false);
      expect(firstDiff(out, v.data)).toBe(-1);
      for (const k of [0, 1, v.data.length >> 1, v.data.length - 1]) {
        const prefix = new Uint8Array(k);
        decodeZstd(v.encoded, prefix, true);
        expect(firstDiff(prefix, v.data.subarray(0, k))).toBe(-1);
      }
    });
  }
});

describe("decodeZstd: bytes after the frame", () => {
  // mkfs.erofs 1.9.3 (zstd without fitblk) leaves some frames at the start of their
  // pcluster with zeros after them; the kernel's stream decoder stops at the frame's end.
  const r = prng(5);
  const garbage = Uint8Array.from({ length: 300 }, () => r() & 0xff);
  for (const v of committedVectors("zst")) {
    it(`${v.name}: followed by zeros, or by other bytes, still decodes whole and in part`, () => {
      for (const tail of [new Uint8Array(4096 - (v.encoded.length % 4096)), garbage]) {
        const input = new Uint8Array(v.encoded.length + tail.length);
        input.set(v.encoded);
        input.set(tail, v.encoded.length);
        const out = new Uint8Array(v.data.length);
        decodeZstd(input, out, false);
        expect(firstDiff(out, v.data)).toBe(-1);
        const prefix = new Uint8Array(v.data.length >> 1);
        decodeZstd(input, prefix, true);
        expect(firstDiff(prefix, v.data.subarray(0, prefix.length))).toBe(-1);
      }
    });
  }

  it.skipIf(!HAVE_ZSTD)("a frame with a content checksum, followed by zeros (the checksum is part of the frame)", () => {
    const data = samples().find((s) => s.name === "mixed")!.data;
    const frame = runTool("zstd", ["--check", "-3", "-c", `--stream-size=${data.length}`], data);
    expect(frame[4]! & 4).toBe(4);
    const input = new Uint8Array(frame.length + 100);
    input.set(frame);
    const out = new Uint8Array(data.length);
    decodeZstd(input, out, false);
    expect(firstDiff(out, data)).toBe(-1);
  });

  it("a frame cut short is still corrupt (the walk over its blocks runs off the end)", async () => {
    const v = committedVectors("zst").find((x) => x.name === "text")!;
    const cut = v.encoded.subarray(0, v.encoded.length - 40);
    expect(await outcome(() => decodeZstd(cut, new Uint8Array(v.data.length), false))).toBe("EFSCORRUPTED");
  });
});

describe.skipIf(!HAVE_ZSTD)("decodeZstd: round trip through the zstd CLI", () => {
  for (const { name, data } of samples()) {
    it(`${name} (${data.length} bytes): levels 1 and 19 (and --ultra -22 for far repeats), with and without content size`, () => {
      const levels = [["-1"], ["-19"], ...(name === "far repeats" ? [["--ultra", "-22"]] : [])];
      for (const level of levels) {
        for (const sized of [true, false]) {
          const frame = encode(data, level, sized);
          const out = new Uint8Array(data.length);
          decodeZstd(frame, out, false);
          expect(firstDiff(out, data), `${level} sized ${sized}`).toBe(-1);
        }
      }
    });
  }

  it("partial: any prefix, nothing written past the output; without partial a short output is corrupt", async () => {
    const r = prng(11);
    const data = samples().find((s) => s.name === "mixed")!.data;
    for (const sized of [true, false]) {
      const frame = encode(data, ["-3"], sized);
      for (let t = 0; t < 15; t++) {
        const k = r() % data.length;
        const backing = new Uint8Array(k + 16).fill(0xee);
        decodeZstd(frame, backing.subarray(0, k), true);
        expect(firstDiff(backing.subarray(0, k), data.subarray(0, k))).toBe(-1);
        expect(backing.subarray(k).every((b) => b === 0xee)).toBe(true);
        backing.fill(0xee);
        expect(await outcome(() => decodeZstd(frame, backing.subarray(0, k), false))).toBe("EFSCORRUPTED");
        expect(backing.every((b) => b === 0xee)).toBe(true);
      }
      expect(await outcome(() => decodeZstd(frame, new Uint8Array(data.length + 1), true))).toBe("EFSCORRUPTED");
    }
  });
});

describe("decodeZstd: a prefix is streamed", () => {
  it("a prefix decodes from the blocks it needs, as the kernel's stream decoder reads it: damage in a later block fails only a read that reaches it", async () => {
    const { frame, good } = frameDamagedAtTheEnd();
    for (const k of [1, 999, 1000, 1500, 1999]) {
      const out = new Uint8Array(k);
      expect(await outcome(() => decodeZstd(frame, out, true)), `prefix of ${k}`).toBe("ok");
      expect(firstDiff(out, good.subarray(0, k)), `prefix of ${k}`).toBe(-1);
    }
    // A prefix ending with a block: having handed that block over whole, the decoder reads
    // the next block's header if it has the bytes (the kernel's has them when the header
    // lies in the same input page), and that header is the damage.
    expect(await outcome(() => decodeZstd(frame, new Uint8Array(2000), true))).toBe("EFSCORRUPTED");
    expect(await outcome(() => decodeZstd(frame, new Uint8Array(2001), true))).toBe("EFSCORRUPTED");
    expect(await outcome(() => decodeZstd(frame, new Uint8Array(3000), false))).toBe("EFSCORRUPTED");
    // And the decoder is sound for the next frame after one left part way or failed.
    const v = committedVectors("zst").find((x) => !x.name.endsWith("-nosize"))!;
    const out = new Uint8Array(v.data.length);
    decodeZstd(v.encoded, out, false);
    expect(firstDiff(out, v.data)).toBe(-1);
  });
});

describe("decodeZstd: corrupt input", () => {
  it("rejects a bad magic, a truncated header and a declared size above the pcluster limit", async () => {
    expect(await outcome(() => decodeZstd(new Uint8Array(16), new Uint8Array(4), false))).toBe("EFSCORRUPTED");
    expect(await outcome(() => decodeZstd(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd), new Uint8Array(4), false))).toBe("EFSCORRUPTED");
    // FHD 0xa0: single segment, 4-byte content size = 64 MiB; nothing follows.
    const huge = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0xa0, 0, 0, 0, 4, 0, 0, 0);
    expect(await outcome(() => decodeZstd(huge, new Uint8Array(4096), true))).toBe("EFSCORRUPTED");
  });

  it("a frame without a size and a 1 GiB window decodes in bounded time and memory", async () => {
    const small = rleFrame(10, 1000);
    const expected = new Uint8Array(10000).map((_, i) => 0x41 + Math.floor(i / 1000));
    const all = new Uint8Array(10000);
    decodeZstd(small, all, false);
    expect(firstDiff(all, expected)).toBe(-1);
    const head = new Uint8Array(2500);
    decodeZstd(small, head, true);
    expect(firstDiff(head, expected.subarray(0, 2500))).toBe(-1);
    expect(await outcome(() => decodeZstd(small, new Uint8Array(9999), false))).toBe("EFSCORRUPTED");
    expect(await outcome(() => decodeZstd(small, new Uint8Array(10001), true))).toBe("EFSCORRUPTED");
    // 200 blocks of 128 KiB: 25 MiB, more than any pcluster decodes to.
    const big = rleFrame(200, 128 << 10);
    const t = performance.now();
    expect(await outcome(() => decodeZstd(big, new Uint8Array(4096), false))).toBe("EFSCORRUPTED");
    const r = await outcome(() => decodeZstd(big, new Uint8Array(4096), true));
    expect(["ok", "EFSCORRUPTED"]).toContain(r);
    expect(performance.now() - t).toBeLessThan(2000);
  });

  it("truncated frames are rejected", async () => {
    for (const v of committedVectors("zst")) {
      for (const keep of [0, 5, 8, v.encoded.length >> 1, v.encoded.length - 1]) {
        expect(await outcome(() => decodeZstd(v.encoded.subarray(0, keep), new Uint8Array(v.data.length), false)), `${v.name} ${keep}`).toBe("EFSCORRUPTED");
      }
    }
  });

  it("seeded mutations and garbage give EFSCORRUPTED or a result, nothing else, never past the output", async () => {
    const streams = committedVectors("zst").map((v) => ({ bytes: v.encoded, size: v.data.length }));
    const { rejected } = await fuzzDecoder(streams, (i, o, p) => decodeZstd(i, o, p), 3000, 0x25b5);
    expect(rejected).toBeGreaterThan(1000);
  });
});
