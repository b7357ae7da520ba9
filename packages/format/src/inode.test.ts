import { describe, expect, it } from "vitest";
import { ErofsError, INCOMPAT, blockCount, nidToIno, parseInode, parseSuperblock } from "./index.js";
import { buildSuperblock, compactInode } from "./test-image.test-helper.js";

const sb = parseSuperblock(buildSuperblock({}));

/** An extended regular file (mode 0600, one link) with these fields. */
function extended(f: { size?: bigint; mtime?: bigint; mtimeNsec?: number }): Uint8Array {
  const b = new Uint8Array(64);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, 1, true);
  dv.setUint16(4, 0o100600, true);
  dv.setBigUint64(8, f.size ?? 0n, true);
  dv.setBigInt64(32, f.mtime ?? 0n, true);
  dv.setUint32(40, f.mtimeNsec ?? 0, true);
  dv.setUint32(44, 1, true);
  return b;
}

describe("parseInode", () => {
  it("decodes a compact regular file", () => {
    const ino = parseInode(compactInode({ ifmt: 2 << 1, mode: 0o100644, nb: 3, size: 5000, iu: 7, uid: 1000, gid: 100, icount: 2 }), sb, 40n, 1280);
    expect(ino).toMatchObject({ kind: "file", nlink: 3, size: 5000, uid: 1000, gid: 100, startBlock: 7, xattrSize: 16, extended: false });
    expect(ino.payloadOffset).toBe(1280 + 32 + 16);
  });

  it("decodes device numbers the way new_decode_dev does", () => {
    // major 259, minor 70000: minor low byte in bits 0-7, major in 8-19, minor high in 20-31.
    const dev = (70000 & 0xff) | (259 << 8) | ((70000 & ~0xff) << 12);
    const ino = parseInode(compactInode({ mode: 0o060600, iu: dev >>> 0 }), sb, 1n, 0);
    expect([ino.rdevMajor, ino.rdevMinor]).toEqual([259, 70000]);
  });

  it("treats the nlink-1 bit of non-directories as nlink 1", () => {
    const ino = parseInode(compactInode({ ifmt: 1 << 4, mode: 0o100644, nb: 9, iu: 5 }), sb, 1n, 0);
    expect(ino.nlink).toBe(1);
    expect(ino.startBlock).toBe(9 * 2 ** 32 + 5);
  });

  it("marks dot-omitted directories", () => {
    expect(parseInode(compactInode({ ifmt: 1 << 4, mode: 0o040755, nb: 2 }), sb, 1n, 0).dotOmitted).toBe(true);
  });

  it("reads extended inode times as signed (before 1970)", () => {
    const ino = parseInode(extended({ mtime: -86400n, mtimeNsec: 5 }), sb, 2n, 0);
    expect([ino.mtimeSec, ino.mtimeSecBig, ino.mtimeNsec]).toEqual([-86400, -86400n, 5]);
  });

  it("takes any 64-bit i_mtime, as the kernel does: exact as a bigint, the nearest number beside it", () => {
    for (const sec of [2n ** 62n + 5n, -(2n ** 63n), 2n ** 53n + 1n]) {
      const ino = parseInode(extended({ mtime: sec }), sb, 2n, 0);
      expect([ino.mtimeSecBig, ino.mtimeSec]).toEqual([sec, Number(sec)]);
    }
    // Compact inodes add the superblock's epoch (64 bits) and wrap as the kernel's sum does.
    const late = buildSuperblock({});
    new DataView(late.buffer).setBigInt64(1024 + 24, 2n ** 63n - 10n, true);
    const ino = parseInode(compactInode({ mode: 0o100644, mtime: 20 }), parseSuperblock(late), 1n, 0);
    expect(ino.mtimeSecBig).toBe(-(2n ** 63n) + 10n);
  });

  it("takes any i_size below 2^63 exactly (sizeBig), the nearest number beside it, and refuses a negative one", () => {
    for (const size of [2n ** 53n - 1n, 2n ** 53n + 5n, 2n ** 60n + 4097n, 2n ** 63n - 1n]) {
      const ino = parseInode(extended({ size }), sb, 2n, 0);
      expect([ino.sizeBig, ino.size]).toEqual([size, Number(size)]);
      // Rounded first, 2^53 + 4097 would count one block short of the kernel's round_up.
      expect(BigInt(blockCount(ino, 4096))).toBe((size + 4095n) / 4096n);
    }
    expect(blockCount(parseInode(extended({ size: 2n ** 53n + 1n }), sb, 2n, 0), 4096)).toBe(2 ** 41 + 1);
    expect(() => parseInode(extended({ size: 2n ** 63n }), sb, 2n, 0)).toThrow(/negative i_size/);
    expect(parseInode(compactInode({ mode: 0o100644, size: 0xffff_ffff }), sb, 1n, 0).sizeBig).toBe(0xffff_ffffn);
  });

  it("rejects a bogus mode and unknown i_format bits", () => {
    const code = (b: Uint8Array) => {
      try {
        parseInode(b, sb, 1n, 0);
      } catch (e) {
        return ErofsError.isInstance(e) ? e.code : "other";
      }
      return "none";
    };
    expect(code(compactInode({ mode: 0o170000 }))).toBe("EFSCORRUPTED");
    expect(code(compactInode({ ifmt: 0x20, mode: 0o100644 }))).toBe("EOPNOTSUPP");
    expect(code(compactInode({ ifmt: 5 << 1, mode: 0o100644 }))).toBe("EOPNOTSUPP");
    expect(code(new Uint8Array([1, 0, 0, 0]))).toBe("EFSCORRUPTED");
  });
});

describe("nidToIno", () => {
  it("on an image with a metabox: keeps small nids and folds the metabox bit to bit 31", () => {
    const withMetabox = { ...sb, featureIncompat: sb.featureIncompat | INCOMPAT.METABOX };
    expect(nidToIno(36n, withMetabox)).toBe(36n);
    expect(nidToIno(1n << 63n, withMetabox)).toBe(1n << 31n);
    expect(nidToIno((1n << 63n) | 5n, withMetabox)).toBe((1n << 31n) | 5n);
    expect(nidToIno(1n << 32n, withMetabox)).toBe(1n << 33n);
  });

  it("without a metabox: the nid itself, as the kernel reports it", () => {
    expect(sb.featureIncompat & INCOMPAT.METABOX).toBe(0);
    expect(nidToIno(1n << 32n, sb)).toBe(1n << 32n);
    expect(nidToIno((1n << 59n) | 44n, sb)).toBe((1n << 59n) | 44n);
  });
});
