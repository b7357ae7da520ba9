import type { ErofsFs, Inode } from "@erofs-ts/vfs";
import { joinPath } from "../format/names.js";

export interface WalkEntry {
  /** Path relative to the image root (raw bytes; empty for the root). */
  readonly path: Uint8Array;
  readonly name: Uint8Array;
  readonly inode: Inode;
  readonly depth: number;
}

/**
 * Depth-first walk in readdir order, parents before children. Directories are tracked
 * by nid so a corrupt image whose dirents form a cycle is walked once, not forever.
 */
export async function* walk(fs: ErofsFs, start: Inode, startPath: Uint8Array): AsyncGenerator<WalkEntry> {
  const seen = new Set<bigint>();
  const stack: WalkEntry[] = [{ path: startPath, name: startPath, inode: start, depth: 0 }];
  while (stack.length) {
    const e = stack.pop()!;
    yield e;
    if (e.inode.kind !== "dir" || seen.has(e.inode.nid)) continue;
    seen.add(e.inode.nid);
    const children = await fs.readdir(e.inode);
    for (let i = children.length - 1; i >= 0; i--) {
      const c = children[i]!;
      stack.push({ path: joinPath(e.path, c.name), name: c.name, inode: await fs.iget(c.nid), depth: e.depth + 1 });
    }
  }
}
