import { ErofsError, type Inode } from "@erofs-ts/format";

const SLASH = 0x2f;
/** Symlinks followed during one lookup before ELOOP, as Linux's MAXSYMLINKS. */
export const MAX_SYMLINKS = 40;
export const PATH_MAX = 4096;

const DOT = Uint8Array.of(0x2e);

/**
 * Splits a path into its non-empty components (raw bytes; `.` and `..` kept). A trailing
 * slash after a name becomes a final `.`: as in the kernel's walk, `name/` must be a
 * directory (a symlink there is followed first), and `file/` is ENOTDIR.
 */
export function splitPath(path: Uint8Array): Uint8Array[] {
  if (path.length > PATH_MAX) throw new ErofsError("ENAMETOOLONG", "path too long");
  const parts: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i === path.length || path[i] === SLASH) {
      if (i > start) parts.push(path.subarray(start, i));
      start = i + 1;
    }
  }
  if (parts.length && path[path.length - 1] === SLASH) parts.push(DOT);
  return parts;
}

export function toPathBytes(path: string | Uint8Array): Uint8Array {
  return typeof path === "string" ? new TextEncoder().encode(path) : path;
}

export function isDot(name: Uint8Array): boolean {
  return name.length === 1 && name[0] === 0x2e;
}

export function isDotDot(name: Uint8Array): boolean {
  return name.length === 2 && name[0] === 0x2e && name[1] === 0x2e;
}

/** Hooks the resolver needs from the filesystem. */
export interface PathWalker {
  root(): Promise<Inode>;
  child(dir: Inode, name: Uint8Array): Promise<Inode>;
  readlink(link: Inode): Promise<Uint8Array>;
}

/**
 * Resolves a path from the root. Intermediate symlinks are always followed, the last
 * one only with `follow`; absolute targets restart at the image root, never the host's.
 */
export async function resolvePath(walker: PathWalker, path: Uint8Array, follow: boolean): Promise<Inode> {
  const root = await walker.root();
  const stack: Inode[] = [root];
  let pending = splitPath(path).reverse();
  let links = 0;
  while (pending.length) {
    const name = pending.pop()!;
    const dir = stack[stack.length - 1]!;
    // "." and ".." too are names looked up in a directory: "file/.." is ENOTDIR.
    if (dir.kind !== "dir") throw new ErofsError("ENOTDIR", "not a directory", printable(path));
    if (isDot(name)) continue;
    if (isDotDot(name)) {
      if (stack.length > 1) stack.pop();
      continue;
    }
    const next = await walker.child(dir, name);
    if (next.kind === "symlink" && (pending.length > 0 || follow)) {
      if (++links > MAX_SYMLINKS) throw new ErofsError("ELOOP", "too many levels of symbolic links", printable(path));
      const target = await walker.readlink(next);
      if (target[0] === SLASH) stack.length = 1;
      pending = pending.concat(splitPath(target).reverse());
      continue;
    }
    // A directory has one name. A corrupt image may name one of the directories on this
    // path again below it; the kernel's VFS refuses that lookup (ELOOP), as it would loop.
    if (next.kind === "dir" && stack.some((d) => d.nid === next.nid)) {
      throw new ErofsError("ELOOP", "a directory named again below itself", printable(path));
    }
    stack.push(next);
  }
  return stack[stack.length - 1]!;
}

/** A path for messages: UTF-8 where valid, with invalid bytes replaced. */
export function printable(path: Uint8Array): string {
  return new TextDecoder().decode(path);
}
