import type { DirectoryEntry, ErofsFs, Inode } from "@erofs-ts/vfs";
import { joinPath } from "../format/names.js";

export interface WalkEntry {
  /** Path relative to the image root (raw bytes; empty for the root). */
  readonly path: Uint8Array;
  readonly name: Uint8Array;
  readonly inode: Inode;
  readonly depth: number;
}

/**
 * Depth-first walk in readdir order, parents before children. Each directory is read as
 * it is walked (fs.entries), so memory holds a part of a listing per level, not whole
 * listings: an image may claim directories of millions of entries. Directories are
 * tracked by nid so a corrupt image whose dirents form a cycle is walked once, not
 * forever (a directory reached again is yielded, not entered).
 */
export async function* walk(fs: ErofsFs, start: Inode, startPath: Uint8Array): AsyncGenerator<WalkEntry> {
  const root: WalkEntry = { path: startPath, name: startPath, inode: start, depth: 0 };
  yield root;
  if (start.kind !== "dir") return;
  const seen = new Set<bigint>([start.nid]);
  const open: Array<{ dir: WalkEntry; children: AsyncIterator<DirectoryEntry> }> = [{ dir: root, children: fs.entries(start)[Symbol.asyncIterator]() }];
  while (open.length) {
    const { dir, children } = open[open.length - 1]!;
    const next = await children.next();
    if (next.done) {
      open.pop();
      continue;
    }
    const c = next.value;
    const e: WalkEntry = { path: joinPath(dir.path, c.name), name: c.name, inode: await fs.iget(c.nid), depth: dir.depth + 1 };
    yield e;
    if (e.inode.kind === "dir" && !seen.has(e.inode.nid)) {
      seen.add(e.inode.nid);
      open.push({ dir: e, children: fs.entries(e.inode)[Symbol.asyncIterator]() });
    }
  }
}
