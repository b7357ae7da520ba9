import { isCompressedLayout, type FileKind, type Inode, type Superblock } from "@erofs-ts/format";

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
  readonly size: number;
  /** 512-byte units, as i_blocks. */
  readonly blocks: number;
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
  const blocks = compressed
    ? inode.compressedBlocks * (sb.blockSize / 512)
    : Math.ceil(inode.size / sb.blockSize) * (sb.blockSize / 512);
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
    blocks,
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
