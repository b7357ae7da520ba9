import type { DirectoryEntry, ErofsFs, Inode } from "@erofs-ts/vfs";
import { joinPath } from "../format/names.js";

export interface WalkEntry {
  /** Path relative to the image root (raw bytes; empty for the root). */
  readonly path: Uint8Array;
  readonly name: Uint8Array;
  readonly inode: Inode;
  readonly depth: number;
}

/** Told of each part of the tree a walk could not read: an entry's inode, or the rest of a listing. */
export type WalkErrorHandler = (path: Uint8Array, error: unknown) => void;

/**
 * Depth-first walk in readdir order, parents before children. Each directory is read as
 * it is walked (fs.entries), so memory holds a part of a listing per level, not whole
 * listings: an image may claim directories of millions of entries. Directories are
 * tracked by nid so a corrupt image whose dirents form a cycle is walked once, not
 * forever (a directory reached again is yielded, not entered).
 *
 * A corrupt inode or directory block costs only what it holds, as on a kernel mount: an
 * entry whose inode cannot be read, or the rest of a listing past a bad block, goes to
 * `onError` and the walk goes on with the others.
 */
export async function* walk(fs: ErofsFs, start: Inode, startPath: Uint8Array, onError: WalkErrorHandler): AsyncGenerator<WalkEntry> {
  const root: WalkEntry = { path: startPath, name: startPath, inode: start, depth: 0 };
  yield root;
  if (start.kind !== "dir") return;
  const seen = new Set<bigint>([start.nid]);
  const open: Array<{ dir: WalkEntry; children: AsyncIterator<DirectoryEntry> }> = [{ dir: root, children: fs.entries(start)[Symbol.asyncIterator]() }];
  while (open.length) {
    const { dir, children } = open[open.length - 1]!;
    let next: IteratorResult<DirectoryEntry>;
    try {
      next = await children.next();
    } catch (error) {
      onError(dir.path, error);
      open.pop();
      continue;
    }
    if (next.done) {
      open.pop();
      continue;
    }
    const c = next.value;
    const path = joinPath(dir.path, c.name);
    let inode: Inode;
    try {
      inode = await fs.iget(c.nid);
    } catch (error) {
      onError(path, error);
      continue;
    }
    const e: WalkEntry = { path, name: c.name, inode, depth: dir.depth + 1 };
    yield e;
    if (inode.kind === "dir" && !seen.has(inode.nid)) {
      seen.add(inode.nid);
      open.push({ dir: e, children: fs.entries(inode)[Symbol.asyncIterator]() });
    }
  }
}
