import { compareNames, corrupted, isCompressedLayout, parseDirBlock, type DirEntry, type Inode } from "@erofs-ts/format";
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

/** Every dirent of a directory, `.` and `..` included when stored, in kernel readdir order. */
export async function readDirEntries(ctx: MountContext, dir: Inode): Promise<DirEntry[]> {
  const n = blockCount(ctx, dir);
  const all: DirEntry[] = [];
  for (let i = 0; i < n; i++) {
    for (const e of await readDirBlock(ctx, dir, i)) all.push(e);
  }
  return all;
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
