import { describe, expect, it } from "vitest";
import { COMPAT, COMPRESSION, ErofsError, INCOMPAT, crc32c, parseSuperblock } from "./index.js";
import { buildSuperblock } from "./test-image.test-helper.js";

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (ErofsError.isInstance(e)) return e.code;
    throw e;
  }
  return undefined;
}

describe("crc32c", () => {
  it("matches the Castagnoli check value", () => {
    // CRC-32C of "123456789" is 0xe3069283 (with the usual final inversion).
    expect((crc32c(0xffffffff, new TextEncoder().encode("123456789")) ^ 0xffffffff) >>> 0).toBe(0xe3069283);
  });
});

/** A superblock with compression configs: one record, for `alg`, holding `record`. */
function configured(alg: number, record: number[], blkszbits = 12): Uint8Array {
  const img = buildSuperblock({ incompat: INCOMPAT.COMPR_CFGS, blkszbits });
  const dv = new DataView(img.buffer);
  dv.setUint16(1024 + 84, 1 << alg, true);
  // The configs follow the 128-byte superblock: a 2-byte length, then the record.
  dv.setUint16(1024 + 128, record.length, true);
  img.set(record, 1024 + 130);
  return img;
}

const le16 = (v: number) => [v & 0xff, v >> 8];
const le32 = (v: number) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >>> 24];
/** z_erofs_deflate_cfgs (6 bytes). */
const deflateConfigured = (windowBits: number, length = 6) => configured(COMPRESSION.DEFLATE, [windowBits, 0, 0, 0, 0, 0].slice(0, length));
/** z_erofs_lz4_cfgs (14 bytes): max_distance, max_pclusterblks, reserved. */
const lz4Configured = (blocks: number, blkszbits = 12, length = 14) =>
  configured(COMPRESSION.LZ4, [...le16(65535), ...le16(blocks), ...new Array<number>(10).fill(0)].slice(0, length), blkszbits);
/** z_erofs_lzma_cfgs (14 bytes): dict_size, format, reserved. */
const lzmaConfigured = (dictSize: number, format = 0, length = 14) =>
  configured(COMPRESSION.LZMA, [...le32(dictSize), ...le16(format), ...new Array<number>(8).fill(0)].slice(0, length));
/** z_erofs_zstd_cfgs (6 bytes): format, windowlog - 10, reserved. */
const zstdConfigured = (windowLog: number, format = 0, length = 6) => configured(COMPRESSION.ZSTD, [format, windowLog - 10, 0, 0, 0, 0].slice(0, length));

describe("parseSuperblock", () => {
  it("checks each algorithm's config record as the kernel does at mount (EINVAL), and keeps what it holds", () => {
    const cfg = (img: Uint8Array) => parseSuperblock(img).compression;
    expect(cfg(lzmaConfigured(4096)).lzmaDictSize).toBe(4096);
    expect(cfg(lzmaConfigured(8 << 20)).lzmaDictSize).toBe(8 << 20);
    expect(cfg(zstdConfigured(20)).zstdWindowLog).toBe(20);
    expect(cfg(zstdConfigured(10)).zstdWindowLog).toBe(10);
    for (const bad of [
      lzmaConfigured(4095), // dictionary below 4 KiB
      lzmaConfigured((8 << 20) + 1), // above Z_EROFS_LZMA_MAX_DICT_SIZE
      lzmaConfigured(65536, 1), // unknown format
      lzmaConfigured(65536, 0, 13), // record shorter than the struct
      zstdConfigured(21), // a window beyond the largest pcluster
      zstdConfigured(20, 1),
      zstdConfigured(20, 0, 5),
      deflateConfigured(15, 5),
      lz4Configured(1, 12, 13),
    ]) {
      expect(codeOf(() => parseSuperblock(bad))).toBe("EINVAL");
    }
    // A record length of 0 means 65536 bytes (as the kernel reads it): a valid zstd
    // structure at its start mounts.
    const long = zstdConfigured(20);
    new DataView(long.buffer).setUint16(1024 + 128, 0, true);
    expect(cfg(long).zstdWindowLog).toBe(20);
  });

  it("refuses lz4 pclusters beyond 1 MiB in 4 KiB blocks with EINVAL, as Linux 6.18 does for every block size", () => {
    for (const bits of [10, 11, 12]) {
      expect(parseSuperblock(lz4Configured(256, bits)).compression.lz4MaxPclusterBlocks).toBe(256);
      expect(codeOf(() => parseSuperblock(lz4Configured(257, bits)))).toBe("EINVAL");
    }
    // 0 is the kernel's reserved case (one block): accepted.
    expect(parseSuperblock(lz4Configured(0, 12)).compression.lz4MaxPclusterBlocks).toBe(0);
  });

  it("takes deflate's window bits from the configs, and refuses more than 15 as the kernel does", () => {
    expect(parseSuperblock(deflateConfigured(12)).compression.deflateWindowBits).toBe(12);
    expect(parseSuperblock(deflateConfigured(15)).compression.deflateWindowBits).toBe(15);
    expect(codeOf(() => parseSuperblock(deflateConfigured(16)))).toBe("EOPNOTSUPP");
  });

  it("reads block size and root nid", () => {
    const sb = parseSuperblock(buildSuperblock({ blkszbits: 10, rootNid: 99 }));
    expect(sb.blockSize).toBe(1024);
    expect(sb.rootNid).toBe(99n);
  });

  it("rejects a wrong magic with EINVAL", () => {
    expect(codeOf(() => parseSuperblock(buildSuperblock({ magic: 0x12345678 })))).toBe("EINVAL");
  });

  it("rejects a truncated image", () => {
    expect(codeOf(() => parseSuperblock(new Uint8Array(1100)))).toBe("EINVAL");
  });

  it.each([8, 17, 0, 255])("rejects block size bits %i", (bits) => {
    expect(codeOf(() => parseSuperblock(buildSuperblock({ blkszbits: bits })))).toBe("EINVAL");
  });

  it("refuses unknown incompat features with EINVAL, as the kernel's mount", () => {
    expect(codeOf(() => parseSuperblock(buildSuperblock({ incompat: 0x200 })))).toBe("EINVAL");
    expect(codeOf(() => parseSuperblock(buildSuperblock({ incompat: 0x80000000 })))).toBe("EINVAL");
    // The top bit is named as the unsigned value it is.
    expect(() => parseSuperblock(buildSuperblock({ incompat: 0x80000000 }))).toThrow(/features 0x80000000/);
  });

  it("refuses a directory block size other than the block size (dirblkbits) with EINVAL", () => {
    expect(codeOf(() => parseSuperblock(buildSuperblock({ dirblkbits: 1 })))).toBe("EINVAL");
  });

  it("verifies the checksum when the compat bit says so, refusing a wrong one with EBADMSG", () => {
    expect(() => parseSuperblock(buildSuperblock({ compat: COMPAT.SB_CHKSUM, checksum: "valid" }))).not.toThrow();
    expect(codeOf(() => parseSuperblock(buildSuperblock({ compat: COMPAT.SB_CHKSUM, checksum: 1234 })))).toBe("EBADMSG");
    // Without the bit a wrong checksum is ignored, as by the kernel.
    expect(() => parseSuperblock(buildSuperblock({ checksum: 1234 }))).not.toThrow();
  });

  it("checks in the kernel's order: the directory block size before the checksum, the checksum before the features", () => {
    const badSum = { compat: COMPAT.SB_CHKSUM, checksum: 1234 } as const;
    expect(codeOf(() => parseSuperblock(buildSuperblock({ ...badSum, dirblkbits: 1 })))).toBe("EINVAL");
    expect(codeOf(() => parseSuperblock(buildSuperblock({ ...badSum, incompat: 0x80000000 })))).toBe("EBADMSG");
    expect(codeOf(() => parseSuperblock(buildSuperblock({ ...badSum, extslots: 255 })))).toBe("EBADMSG");
  });

  it("takes a superblock of up to 3 KiB (the rest of its 4 KiB page) whatever the block size, and no larger", () => {
    // 128 + 184 * 16 = 3072 bytes: the largest the kernel reads.
    for (const blkszbits of [9, 10, 12]) {
      expect(() => parseSuperblock(buildSuperblock({ blkszbits, extslots: 184 }))).not.toThrow();
      expect(codeOf(() => parseSuperblock(buildSuperblock({ blkszbits, extslots: 185 })))).toBe("EINVAL");
    }
  });

  it("leaves a Node Buffer it is given as it was, and keeps no view into it (Buffer's slice is a view)", () => {
    const uuid = Array.from({ length: 16 }, (_, i) => i + 1);
    const image = Buffer.from(buildSuperblock({ compat: COMPAT.SB_CHKSUM }));
    image.set(uuid, 1024 + 48);
    // Summed while the checksum field is still zero, as the kernel sums it.
    image.writeUInt32LE(crc32c(0xffffffff, image.subarray(1024, 4096)), 1024 + 4);
    const before = Buffer.from(image);
    const sb = parseSuperblock(image);
    expect(image.equals(before)).toBe(true);
    image.fill(0xee, 1024 + 48, 1024 + 64);
    expect([...sb.uuid]).toEqual(uuid);
  });

  it("rejects an ishare prefix id beyond the prefix table", () => {
    const img = buildSuperblock({ compat: COMPAT.ISHARE_XATTRS, ishareId: 2, prefixCount: 2 });
    expect(codeOf(() => parseSuperblock(img))).toBe("EFSCORRUPTED");
    expect(parseSuperblock(buildSuperblock({ compat: COMPAT.ISHARE_XATTRS, ishareId: 1, prefixCount: 2 })).ishareXattrPrefixId).toBe(1);
  });

  it("rejects a metabox image without the extended superblock", () => {
    expect(codeOf(() => parseSuperblock(buildSuperblock({ incompat: 0x100 })))).toBe("EFSCORRUPTED");
  });
});

describe("an image shorter than a superblock", () => {
  it("is refused with EINVAL, the superblock named once, as the place", () => {
    const whole = buildSuperblock({});
    for (const length of [0, 1024, 1024 + 127]) {
      let error: unknown;
      try {
        parseSuperblock(whole.subarray(0, length));
      } catch (e) {
        error = e;
      }
      expect(ErofsError.isInstance(error)).toBe(true);
      const e = error as ErofsError;
      expect([e.code, e.reason, e.where]).toEqual(["EINVAL", "too short for an EROFS image", "superblock"]);
    }
    // One byte more is a whole superblock: it parses.
    expect(parseSuperblock(whole.subarray(0, 1024 + 128)).blockSize).toBe(4096);
  });
});

