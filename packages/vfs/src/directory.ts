import { DIRENT_SIZE, compareNames, corrupted, isCompressedLayout, parseDirBlock, type DirEntry, type Inode } from "@erofs-ts/format";
import type { MountContext } from "./context.js";
import { readData } from "./data-path.js";
import { lruGet, lruSet } from "./lru.js";

/** Directories larger than this are treated as corrupt (about 40 million entries). */
const MAX_DIR_SIZE = 1 << 30;

function blockCount(ctx: MountContext, dir: Inode): number {
  if (dir.size > MAX_DIR_SIZE) throw corrupted(`directory size ${dir.size} is implausible`, `nid ${dir.nid}`);
  // An uncompressed directory's blocks are stored blocks: it cannot be larger than all the
  // devices together (mkfs never aliases a directory's blocks). Checked up front, so a
  // corrupt i_size costs one comparison, not a read and parse of every block up to it.
  if (!isCompressedLayout(dir.datalayout)) {
    let storage = ctx.primary.size;
    for (const d of ctx.extra) storage += d.size;
    if (dir.size > storage) throw corrupted(`directory size ${dir.size} exceeds the ${storage} bytes of its devices`, `nid ${dir.nid}`);
  }
  return Math.ceil(dir.size / ctx.sb.blockSize);
}

/**
 * Parsed directory blocks kept per mount, most recently used last. A lookup's binary
 * search parses a few blocks, and the next lookup in the same directory (a walk, `ls -l`)
 * parses the same ones again; the parse, not the read, is what costs. The image never
 * changes, so a kept block is always right. About 128 × (block + its entries) of memory.
 */
const PARSED_BLOCKS_KEPT = 128;

/** The dirents of directory block `index`, in on-disk (sorted) order. */
export async function readDirBlock(ctx: MountContext, dir: Inode, index: number): Promise<DirEntry[]> {
  const key = `${dir.nid}:${index}`;
  const hit = lruGet(ctx.dirBlocks, key);
  if (hit) return hit;
  const bs = ctx.sb.blockSize;
  const used = Math.min(bs, dir.size - index * bs);
  const block = await readData(ctx, dir, index * bs, used);
  const entries = parseDirBlock(block, used, `directory nid ${dir.nid} block ${index}`);
  lruSet(ctx.dirBlocks, key, entries, PARSED_BLOCKS_KEPT);
  return entries;
}

/** A dirent of a listing read in parts, with the position of the one after it. */
export interface PositionedDirEntry {
  readonly entry: DirEntry;
  readonly next: number;
}

/**
 * Dirents from byte position `from` on, at most `max`, `.` and `..` included when
 * stored, in kernel readdir order. A position counts as the kernel's erofs readdir counts
 * it: dirent j of block b is at b × block size + j × 12, and past a block's last dirent
 * comes the next block's start, or the directory's size past the last block (getdents'
 * d_off shows them). So a listing resumes anywhere and reads only the blocks it lists
 * from: any directory, however large, is listed in bounded memory.
 */
export async function readDirEntriesFrom(ctx: MountContext, dir: Inode, from: number, max: number): Promise<PositionedDirEntry[]> {
  const bs = ctx.sb.blockSize;
  const n = blockCount(ctx, dir);
  const out: PositionedDirEntry[] = [];
  // A position inside a dirent (never handed out, but a caller may seek anywhere) resumes at the next one.
  let first = Math.ceil((from % bs) / DIRENT_SIZE);
  for (let b = Math.floor(from / bs); b < n && out.length < max; b++, first = 0) {
    const entries = await readDirBlock(ctx, dir, b);
    for (let j = first; j < entries.length && out.length < max; j++) {
      out.push({ entry: entries[j]!, next: j + 1 < entries.length ? b * bs + (j + 1) * DIRENT_SIZE : Math.min((b + 1) * bs, dir.size) });
    }
  }
  return out;
}

/** The position just past a directory's stored dirents: its size, as the kernel counts. */
export function dirEndPosition(ctx: MountContext, dir: Inode): number {
  blockCount(ctx, dir); // the size checks
  return dir.size;
}

/**
 * Finds `name` in a directory: binary search over blocks by their first and last names,
 * then within the block, as the dirents of each block and the blocks are sorted.
 */
export async function findDirEntry(ctx: MountContext, dir: Inode, name: Uint8Array): Promise<DirEntry | null> {
  let lo = 0;
  let hi = blockCount(ctx, dir) - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const entries = await readDirBlock(ctx, dir, mid);
    if (compareNames(name, entries[0]!.name) < 0) {
      hi = mid - 1;
      continue;
    }
    if (compareNames(name, entries[entries.length - 1]!.name) > 0) {
      lo = mid + 1;
      continue;
    }
    let a = 0;
    let b = entries.length - 1;
    while (a <= b) {
      const m = (a + b) >>> 1;
      const c = compareNames(name, entries[m]!.name);
      if (c === 0) return entries[m]!;
      if (c < 0) b = m - 1;
      else a = m + 1;
    }
    return null;
  }
  return null;
}
