import {
  CHUNK_FORMAT,
  DATALAYOUT,
  DATALAYOUT_MAX,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
} from "./constants.js";
import { corrupted, unsupported } from "./errors.js";
import { nidToIno } from "./nid.js";
import { ByteReader } from "./reader.js";
import type { Superblock } from "./superblock.js";
import { joinWords } from "./words.js";

export const INODE_COMPACT_SIZE = 32;
export const INODE_EXTENDED_SIZE = 64;
/** i_format bits this reader knows (version, datalayout, nlink-1 / dot-omitted). */
const I_FORMAT_ALL = 0x1f;
const I_NLINK_1_OR_DOT_OMITTED = 1 << 4;
/** All-ones start block marks a flat file with no data blocks (a hole file). */
const NULL_ADDR_32 = 0xffff_ffff;

export type FileKind = "file" | "dir" | "symlink" | "chardev" | "blockdev" | "fifo" | "socket";

/**
 * An inode as read from struct erofs_inode_compact (32 bytes) or erofs_inode_extended
 * (64 bytes). Times and sizes are decoded as the kernel shows them.
 */
export interface Inode {
  readonly nid: bigint;
  /** The kernel's st_ino for this nid. */
  readonly ino: bigint;
  readonly extended: boolean;
  /** 32 or 64. */
  readonly inodeSize: number;
  readonly datalayout: number;
  readonly xattrIcount: number;
  /** Bytes of inline xattr body after the inode (0 when icount is 0). */
  readonly xattrSize: number;
  readonly mode: number;
  readonly kind: FileKind;
  readonly nlink: number;
  /** i_size: exact below 2^53, the nearest number beyond (see sizeBig). */
  readonly size: number;
  /**
   * i_size exactly: up to 2^63 - 1, as the kernel takes it. Data is read at offsets
   * below 2^53 only (numbers); what lies past that is not addressed.
   */
  readonly sizeBig: bigint;
  readonly uid: number;
  readonly gid: number;
  /** i_mtime's seconds: exact within ±2^53, the nearest number beyond (see mtimeSecBig). */
  readonly mtimeSec: number;
  /** i_mtime's seconds exactly: any 64-bit value, as the kernel takes it. */
  readonly mtimeSecBig: bigint;
  /** i_mtime_nsec as stored (not checked below 10^9, as the kernel does not). */
  readonly mtimeNsec: number;
  readonly rdevMajor: number;
  readonly rdevMinor: number;
  /** Start block of flat data (null for a hole file), or compressed block count, by layout. */
  readonly startBlock: number | null;
  readonly compressedBlocks: number;
  readonly chunkFormat: number;
  readonly chunkBits: number;
  /** Directory without a stored "." entry. */
  readonly dotOmitted: boolean;
  /** Byte offset of the first byte after inode + xattr body (inline data, maps, chunk indexes). */
  readonly payloadOffset: number;
}

/**
 * Where an error names the inode ("nid N"). Call it when throwing, not ahead of time: a
 * BigInt turned into text for every extent mapped or pcluster decoded was a string each
 * on the read path.
 */
export function nidWhere(inode: Pick<Inode, "nid">): string {
  return `nid ${inode.nid}`;
}

export function isCompressedLayout(datalayout: number): boolean {
  return datalayout === DATALAYOUT.COMPRESSED_FULL || datalayout === DATALAYOUT.COMPRESSED_COMPACT;
}

/**
 * ceil(i_size / blockSize), exact below 2^53 blocks: from sizeBig, as rounding i_size
 * first could move a size past 2^53 across a block boundary.
 */
export function blockCount(inode: Pick<Inode, "size" | "sizeBig">, blockSize: number): number {
  if (inode.size <= Number.MAX_SAFE_INTEGER) return Math.ceil(inode.size / blockSize);
  return Number(blockCountBig(inode, blockSize));
}

/** ceil(i_size / blockSize) exactly, at any i_size. */
export function blockCountBig(inode: Pick<Inode, "sizeBig">, blockSize: number): bigint {
  const bs = BigInt(blockSize);
  return (inode.sizeBig + bs - 1n) / bs;
}

export function xattrIbodySize(icount: number): number {
  return icount === 0 ? 0 : 12 + 4 * (icount - 1);
}

export function kindOfMode(mode: number): FileKind | null {
  switch (mode & S_IFMT) {
    case S_IFREG: return "file";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "symlink";
    case S_IFCHR: return "chardev";
    case S_IFBLK: return "blockdev";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "socket";
    default: return null;
  }
}

/** How many bytes to read at an inode's location so parseInode can finish. */
export function inodeHeaderSize(firstBytes: Uint8Array): number {
  return firstBytes.length >= 2 && firstBytes[0]! & 1 ? INODE_EXTENDED_SIZE : INODE_COMPACT_SIZE;
}

/**
 * Decodes the on-disk inode at `location` from `bytes` (which start at that location and
 * hold at least the inode's 32 or 64 bytes).
 */
export function parseInode(bytes: Uint8Array, sb: Superblock, nid: bigint, location: number): Inode {
  const where = `inode ${nid}`;
  const r = new ByteReader(bytes, where);
  const ifmt = r.u16(0);
  if (ifmt & ~I_FORMAT_ALL) throw unsupported(`unknown i_format 0x${ifmt.toString(16)}`, where);
  const datalayout = (ifmt >> 1) & 0x7;
  if (datalayout >= DATALAYOUT_MAX) throw unsupported(`unknown data layout ${datalayout}`, where);
  const extended = (ifmt & 1) === 1;
  const xattrIcount = r.u16(2);
  const mode = r.u16(4);
  const kind = kindOfMode(mode);
  if (kind === null) throw corrupted(`bogus i_mode 0o${mode.toString(8)}`, where);

  let nlink: number, sizeBig: bigint, uid: number, gid: number, mtimeSecBig: bigint, mtimeNsec: number;
  let startHi = 0;
  let addrBits32 = true;
  const iu = r.u32(16); // i_u sits at byte 16 in both inode forms
  if (extended) {
    r.check(0, INODE_EXTENDED_SIZE);
    sizeBig = r.u64(8);
    // i_size is a signed loff_t in the kernel, which refuses negative ones.
    if (sizeBig >= 1n << 63n) throw corrupted("negative i_size", where);
    uid = r.u32(24);
    gid = r.u32(28);
    mtimeSecBig = r.i64(32);
    mtimeNsec = r.u32(40);
    nlink = r.u32(44);
    startHi = r.u16(6);
    addrBits32 = false;
  } else {
    r.check(0, INODE_COMPACT_SIZE);
    sizeBig = BigInt(r.u32(8));
    uid = r.u16(24);
    gid = r.u16(26);
    // The epoch is 64 bits too: the sum wraps as the kernel's s64 arithmetic does.
    mtimeSecBig = BigInt.asIntN(64, sb.epoch + BigInt(r.u32(12)));
    mtimeNsec = sb.fixedNsec;
    if (kind !== "dir" && ifmt & I_NLINK_1_OR_DOT_OMITTED) {
      // Compact non-directories with the nlink-1 bit reuse i_nb as the start block's high bits.
      nlink = 1;
      startHi = r.u16(6);
      addrBits32 = false;
    } else {
      nlink = r.u16(6);
    }
  }

  let startBlock: number | null = null;
  let rdevMajor = 0;
  let rdevMinor = 0;
  let compressedBlocks = 0;
  let chunkFormat = 0;
  let chunkBits = 0;
  if (kind === "chardev" || kind === "blockdev") {
    // new_decode_dev: 12-bit major in bits 8..19, minor split around it.
    rdevMajor = (iu & 0xfff00) >>> 8;
    rdevMinor = (iu & 0xff) | ((iu >>> 12) & 0xfff00);
  } else if (kind === "file" || kind === "dir" || kind === "symlink") {
    if (isCompressedLayout(datalayout)) {
      compressedBlocks = joinWords(iu, startHi);
    } else if (datalayout === DATALAYOUT.CHUNK_BASED) {
      chunkFormat = iu & 0xffff;
      if (chunkFormat & ~CHUNK_FORMAT.ALL) throw unsupported(`unknown chunk format 0x${chunkFormat.toString(16)}`, where);
      chunkBits = sb.blockSizeBits + (chunkFormat & CHUNK_FORMAT.BLKBITS_MASK);
    } else {
      const isNull = addrBits32 ? iu === NULL_ADDR_32 : iu === NULL_ADDR_32 && startHi === 0xffff;
      startBlock = datalayout === DATALAYOUT.FLAT_PLAIN && isNull ? null : joinWords(iu, startHi);
    }
  }

  const inodeSize = extended ? INODE_EXTENDED_SIZE : INODE_COMPACT_SIZE;
  const xattrSize = xattrIbodySize(xattrIcount);
  const inode = {
    nid,
    ino: nidToIno(nid, sb),
    extended,
    inodeSize,
    datalayout,
    xattrIcount,
    xattrSize,
    mode,
    kind,
    nlink,
    size: Number(sizeBig),
    sizeBig,
    uid,
    gid,
    mtimeSec: Number(mtimeSecBig),
    mtimeSecBig,
    mtimeNsec,
    rdevMajor,
    rdevMinor,
    startBlock: null as number | null,
    compressedBlocks,
    chunkFormat,
    chunkBits,
    dotOmitted: kind === "dir" && (ifmt & I_NLINK_1_OR_DOT_OMITTED) !== 0,
    payloadOffset: location + inodeSize + xattrSize,
  };
  // Stored after the literal, which holds null: V8 then keeps the field tagged from the
  // process's first inode on. Most images' root directory is an inline file whose null
  // block address is 2^32 - 1, not a small integer; filled from the literal, the field
  // became a floating-point one, and every offset computed from a block address after it
  // a floating-point box, which spread the same to the extents and reads (words.ts).
  inode.startBlock = startBlock;
  return inode;
}
