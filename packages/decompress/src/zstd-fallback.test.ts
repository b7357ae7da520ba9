import { ErofsError } from "@erofs-ts/format";
import { describe, expect, it, vi } from "vitest";
import { committedVectors, firstDiff, fuzzDecoder, rleFrame, outcome } from "./codec.test-helper.js";
import { decodeZstd, zstdPrefixReady, zstdReady } from "./index.js";

// A runtime without WebAssembly: zstddec never loads, so every sized frame goes through
// fzstd (into a buffer of its own, copied into the caller's view), and frames without a
// content size are refused.
// Both builds of zstddec fail to load. vi.mock is hoisted above every other statement,
// so the stand-in is made by vi.hoisted.
const { noWebAssembly } = vi.hoisted(() => ({
  noWebAssembly: () => ({
    ZSTDDecoder: class {
      init(): Promise<void> {
        return Promise.reject(new Error("no WebAssembly"));
      }
      decode(): Uint8Array {
        throw new Error("not loaded");
      }
    },
  }),
}));
vi.mock("zstddec", noWebAssembly);
vi.mock("zstddec/stream", noWebAssembly);
// And no zstd in node:zlib (Node 20), which would take every frame these tests give.
vi.mock("./zstd-native.js", () => ({ hasNativeZstd: () => false, decodeZstdNative: () => false }));

describe("decodeZstd without WebAssembly (fzstd)", () => {
  it("zstdReady and zstdPrefixReady report the fallback", async () => {
    expect(await zstdReady()).toBe(false);
    expect(await zstdPrefixReady()).toBe(false);
  });

  for (const v of committedVectors("zst").filter((x) => !x.name.endsWith("-nosize"))) {
    it(`${v.name}: exact output into a view, prefixes, guard bytes untouched`, async () => {
      const backing = new Uint8Array(v.data.length + 64).fill(0xee);
      const out = backing.subarray(16, 16 + v.data.length);
      decodeZstd(v.encoded, out, false);
      expect(firstDiff(out, v.data)).toBe(-1);
      expect(backing.subarray(0, 16).every((b) => b === 0xee)).toBe(true);
      expect(backing.subarray(16 + v.data.length).every((b) => b === 0xee)).toBe(true);
      for (const k of [0, 1, v.data.length >> 1]) {
        const prefix = new Uint8Array(k);
        decodeZstd(v.encoded, prefix, true);
        expect(firstDiff(prefix, v.data.subarray(0, k))).toBe(-1);
        expect(await outcome(() => decodeZstd(v.encoded, new Uint8Array(k), false))).toBe("EFSCORRUPTED");
      }
      expect(await outcome(() => decodeZstd(v.encoded, new Uint8Array(v.data.length + 1), false))).toBe("EFSCORRUPTED");
    });
  }

  it("frames without a content size are refused (EOPNOTSUPP) at once, whatever window they claim", async () => {
    for (const v of committedVectors("zst").filter((x) => x.name.endsWith("-nosize"))) {
      expect(await outcome(() => decodeZstd(v.encoded, new Uint8Array(v.data.length), false))).toBe("EOPNOTSUPP");
    }
    const t = performance.now();
    expect(await outcome(() => decodeZstd(rleFrame(200, 128 << 10), new Uint8Array(4096), true))).toBe("EOPNOTSUPP");
    expect(performance.now() - t).toBeLessThan(100);
  });

  it("seeded mutations and garbage give EFSCORRUPTED or a result, nothing else, never past the output", async () => {
    const streams = committedVectors("zst")
      .filter((v) => !v.name.endsWith("-nosize"))
      .map((v) => ({ bytes: v.encoded, size: v.data.length }));
    // A mutation that drops the content size is refused as unsupported here: let it pass.
    const decode = (i: Uint8Array, o: Uint8Array, p: boolean) => {
      try {
        decodeZstd(i, o, p);
      } catch (e) {
        if (!(ErofsError.isInstance(e) && e.code === "EOPNOTSUPP")) throw e;
      }
    };
    const { rejected } = await fuzzDecoder(streams, decode, 3000, 0xf257);
    expect(rejected).toBeGreaterThan(1000);
  });
});
