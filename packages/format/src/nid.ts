import { EROFS_ISLOT_BITS, INCOMPAT, NID_MASK, NID_METABOX_BIT } from "./constants.js";
import type { Superblock } from "./superblock.js";

/** True when the nid's bit 63 puts the inode inside the metabox inode's data. */
export function nidInMetabox(nid: bigint): boolean {
  return nid >> NID_METABOX_BIT !== 0n;
}

/**
 * The inode number the kernel reports for a nid (erofs_nid_to_ino64): the nid itself,
 * except on an image with a metabox, where the metabox bit moves from bit 63 down to bit
 * 31 and the high half shifts up one, so ordinary nids below 2^31 keep their value.
 */
export function nidToIno(nid: bigint, sb: Superblock): bigint {
  if (!(sb.featureIncompat & INCOMPAT.METABOX)) return nid;
  const high = (nid << 1n) & 0xffff_ffff_0000_0000n;
  const low = nid & 0x7fff_ffffn;
  return high | low | ((nid >> NID_METABOX_BIT) << 31n);
}

/** Where an inode lives: a byte offset on the primary device, or inside the metabox data. */
export interface InodeLocation {
  readonly inMetabox: boolean;
  readonly offset: number;
}

/**
 * Where the inode of `nid` sits. As the kernel's erofs_iloc, in 64-bit arithmetic: a nid
 * whose slot offset overflows wraps around (a flipped high bit can land on a real inode).
 */
export function inodeLocation(sb: Superblock, nid: bigint): InodeLocation {
  const inMetabox = nidInMetabox(nid);
  const slot = BigInt.asUintN(64, (nid & NID_MASK) << BigInt(EROFS_ISLOT_BITS));
  const base = inMetabox ? 0n : BigInt(sb.metaBlkaddr) << BigInt(sb.blockSizeBits);
  const offset = BigInt.asUintN(64, base + slot);
  return { inMetabox, offset: offset > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(offset) };
}
