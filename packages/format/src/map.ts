import { CHUNK_FORMAT, DATALAYOUT } from "./constants.js";
import { corrupted } from "./errors.js";
import { blockCount, type Inode } from "./inode.js";
import { ByteReader } from "./reader.js";
import type { Superblock } from "./superblock.js";
import { joinWords, pow2 } from "./words.js";

/**
 * One extent of an uncompressed file: `length` logical bytes from `logical` are either a
 * hole (zeros), on a device at `physical`, or inline in the metadata right after the inode.
 */
export interface FlatExtent {
  readonly logical: number;
  readonly length: number;
  readonly kind: "hole" | "mapped" | "inline";
  /** Byte offset on device `deviceId` (mapped), or in the inode's metadata space (inline). */
  readonly physical: number;
  readonly deviceId: number;
}

/** Maps a logical offset of a FLAT_PLAIN / FLAT_INLINE inode (erofs_map_blocks, flat part). */
export function mapFlat(inode: Inode, sb: Superblock, logical: number): FlatExtent {
  const where = `inode ${inode.nid}`;
  const inline = inode.datalayout === DATALAYOUT.FLAT_INLINE;
  if (!inline && inode.startBlock === null) {
    return { logical, length: inode.size - logical, kind: "hole", physical: 0, deviceId: 0 };
  }
  const blocks = blockCount(inode, sb.blockSize);
  const tailStart = (blocks - (inline ? 1 : 0)) * sb.blockSize;
  if (logical < tailStart) {
    return {
      logical,
      length: tailStart - logical,
      kind: "mapped",
      physical: inode.startBlock! * sb.blockSize + logical,
      deviceId: 0,
    };
  }
  const offsetInBlock = logical % sb.blockSize;
  const physical = inode.payloadOffset + offsetInBlock;
  const length = inode.size - logical;
  // Tail-packed data must stay inside the inode's metadata block.
  if ((physical % sb.blockSize) + length > sb.blockSize) {
    throw corrupted(`inline data crosses a block boundary`, where);
  }
  return { logical, length, kind: "inline", physical, deviceId: 0 };
}

/** Bytes per chunk table entry: 8 for chunk indexes, 4 for a plain block map. */
export function chunkEntrySize(inode: Inode): number {
  return inode.chunkFormat & CHUNK_FORMAT.INDEXES ? 8 : 4;
}

/** Where the entry for chunk `chunkIndex` sits (in the inode's metadata space). */
export function chunkEntryOffset(inode: Inode, chunkIndex: number): number {
  const unit = chunkEntrySize(inode);
  const tableStart = Math.ceil(inode.payloadOffset / unit) * unit;
  return tableStart + unit * chunkIndex;
}

/** Decodes a chunk entry (struct erofs_inode_chunk_index, or one le32 of a block map). */
export function mapChunk(inode: Inode, sb: Superblock, logical: number, entry: Uint8Array, deviceMask: number): FlatExtent {
  const r = new ByteReader(entry, `chunk table of inode ${inode.nid}`);
  const chunkSize = pow2(inode.chunkBits);
  const chunkStart = Math.floor(logical / chunkSize) * chunkSize;
  const roundedRest = Math.ceil((inode.size - chunkStart) / sb.blockSize) * sb.blockSize;
  const chunkLength = Math.min(chunkSize, roundedRest);
  const skip = logical - chunkStart;
  const length = Math.min(chunkLength, inode.size - chunkStart) - skip;
  if (inode.chunkFormat & CHUNK_FORMAT.INDEXES) {
    const hi = r.u16(0);
    const lo = r.u32(4);
    const is48 = (inode.chunkFormat & CHUNK_FORMAT.BIT48) !== 0;
    const isNull = lo === 0xffff_ffff && (!is48 || hi === 0xffff);
    if (isNull) return { logical, length, kind: "hole", physical: 0, deviceId: 0 };
    const start = joinWords(lo, is48 ? hi : 0);
    return { logical, length, kind: "mapped", physical: start * sb.blockSize + skip, deviceId: r.u16(2) & deviceMask };
  }
  const start = r.u32(0);
  if (start === 0xffff_ffff) return { logical, length, kind: "hole", physical: 0, deviceId: 0 };
  return { logical, length, kind: "mapped", physical: start * sb.blockSize + skip, deviceId: 0 };
}
