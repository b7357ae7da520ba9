import { DIRENT_SIZE } from "./dirent.js";
import { corrupted } from "./errors.js";

/** What a name lookup found: the dirent's nid and file type. */
export interface FoundDirent {
  readonly nid: bigint;
  readonly fileType: number;
}

/**
 * Looks `name` up in a directory of `blockCount` blocks the way the kernel's erofs_namei
 * does, so that a damaged directory answers exactly as it does on a kernel mount, not only
 * a sorted one: a binary search over blocks by their first names, then over the chosen
 * block's other dirents. Each comparison skips the bytes that the names bounding the search
 * already matched (min of the two prefixes): in a directory whose names are out of order,
 * that can find a name that differs in those bytes, or miss one that is there, and the
 * kernel's answer is what counts. Nothing else is checked: a nameoff is taken modulo the
 * block size, and a name runs to the next dirent's nameoff (the block's end for the last)
 * or its first NUL. Only a block whose first nameoff makes no dirent is corruption.
 *
 * `readBlock(i)` gives block i, `blockSize` bytes, zero past the directory's end (as the
 * page cache holds it). Returns null when the name is not there.
 */
export async function lookupDirent(
  name: Uint8Array,
  blockCount: number,
  blockSize: number,
  readBlock: (index: number) => Promise<Uint8Array>,
  where: string,
): Promise<FoundDirent | null> {
  const probe = { matched: 0 };
  let head = 0;
  let back = blockCount - 1;
  let startPrefix = 0;
  let endPrefix = 0;
  let candidate: { block: Uint8Array; dirents: number } | null = null;
  while (head <= back) {
    const mid = head + ((back - head) >> 1);
    const block = await readBlock(mid);
    const dirents = Math.floor(nameoffAt(block, 0, blockSize) / DIRENT_SIZE);
    if (dirents === 0) throw corrupted(`directory block ${mid} holds no dirent`, where);
    probe.matched = Math.min(startPrefix, endPrefix);
    const end = dirents === 1 ? blockSize : nameoffAt(block, 1, blockSize);
    const order = compareStoredName(name, block, nameoffAt(block, 0, blockSize), end, probe);
    if (order === 0) return direntAt(block, 0);
    if (order > 0) {
      head = mid + 1;
      startPrefix = probe.matched;
      candidate = { block, dirents };
    } else {
      back = mid - 1;
      endPrefix = probe.matched;
    }
  }
  return candidate && lookupInBlock(name, candidate.block, candidate.dirents, blockSize, probe);
}

/** The search within the block chosen, from its second dirent (the first was compared). */
function lookupInBlock(name: Uint8Array, block: Uint8Array, dirents: number, blockSize: number, probe: { matched: number }): FoundDirent | null {
  let head = 1;
  let back = dirents - 1;
  let startPrefix = 0;
  let endPrefix = 0;
  while (head <= back) {
    const mid = head + ((back - head) >> 1);
    probe.matched = Math.min(startPrefix, endPrefix);
    const end = mid >= dirents - 1 ? blockSize : nameoffAt(block, mid + 1, blockSize);
    const order = compareStoredName(name, block, nameoffAt(block, mid, blockSize), end, probe);
    if (order === 0) return direntAt(block, mid);
    if (order > 0) {
      head = mid + 1;
      startPrefix = probe.matched;
    } else {
      back = mid - 1;
      endPrefix = probe.matched;
    }
  }
  return null;
}

/** Dirent i's nameoff, reduced modulo the block size as the kernel reads it. */
function nameoffAt(block: Uint8Array, i: number, blockSize: number): number {
  const at = i * DIRENT_SIZE + 8;
  return (block[at]! | (block[at + 1]! << 8)) & (blockSize - 1);
}

function direntAt(block: Uint8Array, i: number): FoundDirent {
  const view = new DataView(block.buffer, block.byteOffset + i * DIRENT_SIZE, DIRENT_SIZE);
  return { nid: view.getBigUint64(0, true), fileType: view.getUint8(10) };
}

/**
 * Orders `name` against the stored name at [start, end) of `block` (ending early at a
 * NUL), starting at byte `probe.matched`: 1 if `name` sorts after it, -1 before, 0 equal.
 * `probe.matched` becomes the number of leading bytes compared equal. `name` holds no NUL:
 * past its end it reads as one, as the kernel's NUL-terminated dentry name does.
 */
function compareStoredName(name: Uint8Array, block: Uint8Array, start: number, end: number, probe: { matched: number }): number {
  let i = probe.matched;
  for (; start + i < end && block[start + i] !== 0; i++) {
    const q = i < name.length ? name[i]! : 0;
    const d = block[start + i]!;
    if (q !== d) {
      probe.matched = i;
      return q > d ? 1 : -1;
    }
  }
  probe.matched = i;
  return i >= name.length ? 0 : 1;
}
