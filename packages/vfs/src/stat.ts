import { blockCount, blockCountBig, isCompressedLayout, type FileKind, type Inode, type Superblock } from "@erofs-ts/format";

/** What stat(2) reports for an inode, as the kernel fills it. */
export interface Stat {
  readonly ino: bigint;
  readonly nid: bigint;
  readonly type: FileKind;
  /** Full st_mode (type bits and permissions). */
  readonly mode: number;
  /** mode & 0o7777. */
  readonly perm: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  /** st_size: exact below 2^53, the nearest number beyond (see sizeBig). */
  readonly size: number;
  /** st_size exactly (up to 2^63 - 1, as the kernel takes i_size). */
  readonly sizeBig: bigint;
  /** 512-byte units, as i_blocks: exact below 2^53, the nearest number beyond (see blocksBig). */
  readonly blocks: number;
  /** i_blocks exactly (past 2^53 only for an i_size of 2^62 or more). */
  readonly blocksBig: bigint;
  readonly blockSize: number;
  /** Seconds of the mtime: exact within ±2^53, the nearest number beyond (see mtimeSecBig). */
  readonly mtimeSec: number;
  /** Seconds of the mtime exactly (any 64-bit value, as the kernel takes it). */
  readonly mtimeSecBig: bigint;
  readonly mtimeNsec: number;
  /** mtime in nanoseconds since the epoch (negative before 1970). */
  readonly mtimeNs: bigint;
  readonly rdevMajor: number;
  readonly rdevMinor: number;
  readonly compressed: boolean;
}

export function statOf(inode: Inode, sb: Superblock): Stat {
  const compressed = isCompressedLayout(inode.datalayout);
  // i_blocks: compressed inodes count their stored blocks (0 when all of the data sits
  // inline or in the packed inode), others their rounded-up size.
  const sectors = sb.blockSize / 512;
  let blocks: number;
  let blocksBig: bigint;
  if (compressed) {
    // As Linux 6.18 counts them: the low 32 bits of the stored count, turned into 512-byte
    // units in 32-bit arithmetic, so a count of 2^32 units or more wraps (later kernels
    // add the 48-bit layout's high bits and count in 64 bits). In integer operators, not
    // `% 2 ** 32`: that gave a floating-point value, and the stat objects' class changed
    // at the first compressed inode (format's words.ts).
    blocks = Math.imul(inode.compressedBlocks >>> 0, sectors) >>> 0;
    blocksBig = BigInt(blocks);
  } else {
    blocks = blockCount(inode, sb.blockSize) * sectors;
    // A number is exact while below 2^53; past it (i_size of 2^62 and more) the product
    // is taken in bigints.
    blocksBig = Number.isSafeInteger(blocks) ? BigInt(blocks) : blockCountBig(inode, sb.blockSize) * BigInt(sectors);
  }
  return {
    ino: inode.ino,
    nid: inode.nid,
    type: inode.kind,
    mode: inode.mode,
    perm: inode.mode & 0o7777,
    nlink: inode.nlink,
    uid: inode.uid,
    gid: inode.gid,
    size: inode.size,
    sizeBig: inode.sizeBig,
    blocks,
    blocksBig,
    blockSize: sb.blockSize,
    mtimeSec: inode.mtimeSec,
    mtimeSecBig: inode.mtimeSecBig,
    mtimeNsec: inode.mtimeNsec,
    mtimeNs: inode.mtimeSecBig * 1_000_000_000n + BigInt(inode.mtimeNsec),
    rdevMajor: inode.rdevMajor,
    rdevMinor: inode.rdevMinor,
    compressed,
  };
}

/** statfs(2) of an EROFS mount (erofs_statfs): nothing free, unlimited inode slots. */
export interface StatFs {
  readonly bsize: number;
  readonly blocks: number;
  readonly bfree: number;
  readonly bavail: number;
  /** ULLONG_MAX, as the kernel reports. */
  readonly files: bigint;
  readonly ffree: bigint;
  readonly namemax: number;
}
