import { describe, expect, it, vi } from "vitest";
import { firstDiff, frameDamagedAtTheEnd, outcome } from "./codec.test-helper.js";
import { Z_EROFS_COMPRESSION_ZSTD, createDecompressor, decodeZstd } from "./index.js";

// About the WebAssembly builds: node:zlib's zstd (zstd-native.ts, Node 22.15+) is hidden, as in Node 20.
vi.mock("./zstd-native.js", () => ({ hasNativeZstd: () => false, decodeZstdNative: () => false }));

// A file of its own: vitest gives each test file a fresh module registry, so neither
// zstddec build has loaded when these run.
describe("the streaming zstd build loads at the first prefix a decompressor is asked for", () => {
  const { frame, good } = frameDamagedAtTheEnd();
  const zstd = createDecompressor(Z_EROFS_COMPRESSION_ZSTD, { blockSize: 4096 });

  it("before it has loaded, a prefix called for directly is decoded from the whole frame, and the damage after it fails the decode", async () => {
    expect(await outcome(() => decodeZstd(frame, new Uint8Array(1500), true))).toBe("EFSCORRUPTED");
  });

  it("the decompressor's first prefix waits for the streaming build and is streamed; later ones are at once", async () => {
    const first = new Uint8Array(1500);
    const pending = zstd.decode(frame, first, true);
    expect(pending).toBeInstanceOf(Promise);
    await pending;
    expect(firstDiff(first, good.subarray(0, 1500))).toBe(-1);
    const next = new Uint8Array(1200);
    expect(zstd.decode(frame, next, true)).toBeUndefined();
    expect(firstDiff(next, good.subarray(0, 1200))).toBe(-1);
    expect(await outcome(() => zstd.decode(frame, new Uint8Array(3000), false))).toBe("EFSCORRUPTED");
  });
});
