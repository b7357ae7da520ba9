import { COMPRESSION_MAX } from "./constants.js";
import type { Inode } from "./inode.js";

/** z_erofs_map_header.h_advise bits (EXTENTS shares bit 0: it is read on full layouts only). */
export const ADVISE = {
  COMPACTED_2B: 0x0001,
  EXTENTS: 0x0001,
  BIG_PCLUSTER_1: 0x0002,
  BIG_PCLUSTER_2: 0x0004,
  INLINE_PCLUSTER: 0x0008,
  INTERLACED_PCLUSTER: 0x0010,
  FRAGMENT_PCLUSTER: 0x0020,
} as const;

export const LCLUSTER = { PLAIN: 0, HEAD1: 1, NONHEAD: 2, HEAD2: 3 } as const;
/** Runtime "algorithms" for stored-uncompressed pclusters, after the real ones (0..3). */
export const ALG_SHIFTED = COMPRESSION_MAX;
export const ALG_INTERLACED = COMPRESSION_MAX + 1;

/** Largest pcluster, stored and decoded (the kernel's Z_EROFS_PCLUSTER_MAX_SIZE / _DSIZE). */
export const PCLUSTER_MAX_SIZE = 1 << 20;
export const PCLUSTER_MAX_DSIZE = 12 << 20;

/** Where struct z_erofs_map_header sits: after the inode and its xattrs, 8-byte aligned. */
export function headerOffset(inode: Inode): number {
  return Math.ceil(inode.payloadOffset / 8) * 8;
}
