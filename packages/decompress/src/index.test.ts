import { deflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { committedVectors, firstDiff, outcome } from "./codec.test-helper.js";
import {
  Z_EROFS_COMPRESSION_DEFLATE,
  Z_EROFS_COMPRESSION_LZ4,
  Z_EROFS_COMPRESSION_LZMA,
  Z_EROFS_COMPRESSION_ZSTD,
  createDecompressor,
  stripZeroPadding,
} from "./index.js";

/** A pcluster as mkfs.erofs lays it out with 0padding: the stream at the end of whole blocks. */
function padded(stream: Uint8Array, blockSize = 4096): Uint8Array {
  const size = Math.ceil(stream.length / blockSize) * blockSize;
  const p = new Uint8Array(size);
  p.set(stream, size - stream.length);
  return p;
}

function vector(ext: string, name = "text") {
  const v = committedVectors(ext).find((x) => x.name === name);
  if (!v) throw new Error(`no ${name}.${ext} vector`);
  return v;
}

describe("stripZeroPadding", () => {
  it("drops the zero bytes in front of the stream", () => {
    const s = stripZeroPadding(Uint8Array.of(0, 0, 0, 7, 0, 9), 4096, "lz4");
    expect([...s]).toEqual([7, 0, 9]);
    expect([...stripZeroPadding(Uint8Array.of(1, 2), 4096, "lz4")]).toEqual([1, 2]);
  });

  it("looks only within the first block: a first block of zeros is corruption", async () => {
    const big = new Uint8Array(8192);
    big[5000] = 1;
    expect(await outcome(() => stripZeroPadding(big, 4096, "lz4"))).toBe("EFSCORRUPTED");
    expect(stripZeroPadding(big, 8192, "lz4").length).toBe(3192);
    expect(await outcome(() => stripZeroPadding(new Uint8Array(100), 4096, "lzma"))).toBe("EFSCORRUPTED");
    expect(await outcome(() => stripZeroPadding(new Uint8Array(0), 4096, "lzma"))).toBe("EFSCORRUPTED");
  });

  it("names the codec in the error", () => {
    expect(() => stripZeroPadding(new Uint8Array(4), 4096, "zstd")).toThrow(/zstd/);
  });
});

describe("createDecompressor", () => {
  it("lz4 with 0padding: 1 KiB, 4 KiB and multi-block (big) pclusters", async () => {
    const v = vector("lz4");
    for (const bs of [1024, 4096]) {
      const out = new Uint8Array(v.data.length);
      await createDecompressor(Z_EROFS_COMPRESSION_LZ4, { blockSize: bs }).decode(padded(v.encoded, bs), out, false);
      expect(firstDiff(out, v.data)).toBe(-1);
    }
    const prefix = new Uint8Array(1000);
    await createDecompressor(Z_EROFS_COMPRESSION_LZ4).decode(padded(v.encoded), prefix, true);
    expect(firstDiff(prefix, v.data.subarray(0, 1000))).toBe(-1);
  });

  it("lz4 without 0padding (pre-5.4 images): the stream comes first and may be followed by anything", async () => {
    const v = vector("lz4");
    const pcluster = new Uint8Array(Math.ceil(v.encoded.length / 4096) * 4096);
    pcluster.set(v.encoded);
    const out = new Uint8Array(v.data.length);
    await createDecompressor(Z_EROFS_COMPRESSION_LZ4, { zeroPadding: false }).decode(pcluster, out, false);
    expect(firstDiff(out, v.data)).toBe(-1);
    // Read as 0padding, the trailing zeros become sequences with offset 0: corrupt.
    expect(await outcome(() => createDecompressor(Z_EROFS_COMPRESSION_LZ4).decode(pcluster, new Uint8Array(v.data.length), false))).toBe("EFSCORRUPTED");
  });

  it("lzma takes the dictionary size from the superblock's config", async () => {
    const v = vector("mlzma");
    const lzma = createDecompressor(Z_EROFS_COMPRESSION_LZMA, { lzmaDictSize: 1 << 16 });
    expect(lzma.name).toBe("lzma");
    const out = new Uint8Array(v.data.length);
    // Partial: xz's end marker follows the data (an exact size wants the stream to end there).
    await lzma.decode(padded(v.encoded), out, true);
    expect(firstDiff(out, v.data)).toBe(-1);
  });

  it("deflate reads references 30000 bytes back, as the kernel's 32 KiB inflate window does", async () => {
    const v = vector("deflate");
    const out = new Uint8Array(v.data.length);
    await createDecompressor(Z_EROFS_COMPRESSION_DEFLATE).decode(padded(v.encoded), out, false);
    expect(firstDiff(out, v.data)).toBe(-1);
    const far = new Uint8Array(40000);
    far.set(v.data.subarray(0, 3000));
    far.set(v.data.subarray(0, 3000), 30000);
    const back = new Uint8Array(far.length);
    await createDecompressor(Z_EROFS_COMPRESSION_DEFLATE).decode(padded(deflateRawSync(far, { windowBits: 15 })), back, false);
    expect(firstDiff(back, far)).toBe(-1);
  });

  it("zstd (the first decode may wait for the WebAssembly decoder)", async () => {
    const zstd = createDecompressor(Z_EROFS_COMPRESSION_ZSTD);
    for (const name of ["text", "text-nosize"]) {
      const v = vector("zst", name);
      const out = new Uint8Array(v.data.length);
      await zstd.decode(padded(v.encoded), out, false);
      expect(firstDiff(out, v.data)).toBe(-1);
    }
  });

  it("every codec rejects a pcluster of only padding as corrupt", async () => {
    for (const alg of [Z_EROFS_COMPRESSION_LZ4, Z_EROFS_COMPRESSION_LZMA, Z_EROFS_COMPRESSION_DEFLATE, Z_EROFS_COMPRESSION_ZSTD]) {
      expect(await outcome(() => createDecompressor(alg).decode(new Uint8Array(4096), new Uint8Array(100), false)), `algorithm ${alg}`).toBe("EFSCORRUPTED");
    }
  });

  it("an unknown algorithm is EOPNOTSUPP", async () => {
    expect(await outcome(() => createDecompressor(4))).toBe("EOPNOTSUPP");
    expect(createDecompressor(Z_EROFS_COMPRESSION_LZ4).name).toBe("lz4");
    expect(createDecompressor(Z_EROFS_COMPRESSION_DEFLATE).algorithm).toBe(2);
  });
});
