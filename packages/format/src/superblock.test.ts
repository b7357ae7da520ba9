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

/** A superblock with compression configs: only deflate's, holding `windowBits`. */
function deflateConfigured(windowBits: number): Uint8Array {
  const img = buildSuperblock({ incompat: INCOMPAT.COMPR_CFGS });
  const dv = new DataView(img.buffer);
  dv.setUint16(1024 + 84, 1 << COMPRESSION.DEFLATE, true);
  // The configs follow the 128-byte superblock: a 2-byte length, then z_erofs_deflate_cfgs.
  dv.setUint16(1024 + 128, 6, true);
  img[1024 + 130] = windowBits;
  return img;
}

/** A superblock with compression configs: only lz4's, allowing pclusters of `blocks` blocks. */
function lz4Configured(blocks: number, blkszbits: number): Uint8Array {
  const img = buildSuperblock({ incompat: INCOMPAT.COMPR_CFGS, blkszbits });
  const dv = new DataView(img.buffer);
  dv.setUint16(1024 + 84, 1 << COMPRESSION.LZ4, true);
  // z_erofs_lz4_cfgs: max_distance, max_pclusterblks, reserved (14 bytes).
  dv.setUint16(1024 + 128, 14, true);
  dv.setUint16(1024 + 130, 65535, true);
  dv.setUint16(1024 + 132, blocks, true);
  return img;
}

describe("parseSuperblock", () => {
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

  it("refuses unknown incompat features", () => {
    expect(codeOf(() => parseSuperblock(buildSuperblock({ incompat: 0x200 })))).toBe("EOPNOTSUPP");
    expect(codeOf(() => parseSuperblock(buildSuperblock({ incompat: 0x80000000 })))).toBe("EOPNOTSUPP");
  });

  it("verifies the checksum when the compat bit says so", () => {
    expect(() => parseSuperblock(buildSuperblock({ compat: COMPAT.SB_CHKSUM, checksum: "valid" }))).not.toThrow();
    expect(codeOf(() => parseSuperblock(buildSuperblock({ compat: COMPAT.SB_CHKSUM, checksum: 1234 })))).toBe("EFSCORRUPTED");
    // Without the bit a wrong checksum is ignored, as by the kernel.
    expect(() => parseSuperblock(buildSuperblock({ checksum: 1234 }))).not.toThrow();
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
