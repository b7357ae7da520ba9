import type { WalkEntry, WalkResult } from "./walk.js";

/**
 * What a tree written by erofs-cli extract can hold of an image, as views of the two walks
 * that compareWalks then holds field by field. Only what the host filesystem (ext4 here)
 * cannot hold is left out or reshaped, each case checked against a kernel mount; the rest
 * (type, mode, owner, file size, mtime in ns, file nlink, rdev, target, xattr names and
 * values, content, the names in each directory) is compared as for the other readers.
 */
export function extractedView(walk: WalkResult): WalkResult {
  // statfs describes the host filesystem, not the image.
  const { statfs: _host, ...rest } = walk;
  return { ...rest, entries: sortedByPath(walk.entries.map(hostsOwnFieldsDropped)) };
}

/** The kernel's walk as an extraction of it can show it: extractedView, less what extract cannot write. */
export function kernelAsExtractable(kernel: WalkResult): WalkResult {
  const sockets = new Set(kernel.entries.filter((e) => e.type === "socket").map((e) => e.path));
  const entries = kernel.entries
    // extract skips sockets (a socket file is no socket without its process), with a warning.
    .filter((e) => !sockets.has(e.path))
    .map((e) => {
      const view: WalkEntry = { ...e };
      if (Array.isArray(e.children)) view.children = e.children.filter((c) => !sockets.has(childPath(e.path, c)));
      // Linux has no lchmod: every symlink on the host is 0777, whatever mode the image (a tar's header) gives it.
      if (e.type === "symlink") view.perm = 0o777;
      // user.* of anything but a file or a directory: the kernel lists it but will not read it
      // (ENODATA, as for any caller), so extract has no value to copy, and the host would
      // refuse to set one.
      if (Array.isArray(e.xattrs) && e.type !== "file" && e.type !== "dir") view.xattrs = e.xattrs.filter(([name, value]) => !(isUserXattr(name) && value === "ENODATA"));
      return view;
    });
  return extractedView({ ...kernel, entries });
}

/** The one warning a faithful extraction prints: a socket it skipped. */
const SOCKET_WARNING = /^erofs-cli: .+: warning: socket skipped$/;

/**
 * What is wrong with erofs-cli extract's stderr: any line but a socket warning, or a
 * socket warning count other than the kernel's sockets'. Null when it is as expected.
 */
export function stderrMisfit(kernel: WalkResult, extracted: WalkResult): { expected: string; stderr: string[] } | null {
  const sockets = kernel.entries.filter((e) => e.type === "socket").length;
  const lines = extracted.stderr ?? [];
  if (lines.every((l) => SOCKET_WARNING.test(l)) && lines.length === sockets) return null;
  return { expected: `${sockets} socket warning(s)`, stderr: lines.slice(0, 5) };
}

function hostsOwnFieldsDropped(e: WalkEntry): WalkEntry {
  // The host's inode numbers and allocation, not the image's.
  const { ino: _ino, blocks: _blocks, ...view } = e;
  // A directory's size is its format's (ext4 blocks, erofs dirents).
  if (e.type === "dir") delete view.size;
  // getdents order is the host's (ext4's name hashes): the set of names is compared.
  if (Array.isArray(e.children)) view.children = [...e.children].sort();
  // listxattr order is the host's too (ext4 keeps in-inode names apart from its xattr block).
  if (Array.isArray(e.xattrs)) view.xattrs = [...e.xattrs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return view;
}

// The pre-order walk follows each directory's listing order, which is the host's.
const sortedByPath = (entries: WalkEntry[]): WalkEntry[] => [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

/** An entry's path (base64) from its directory's path and a child name (both base64). */
function childPath(dir: string, name: string): string {
  const d = Buffer.from(dir, "base64");
  const n = Buffer.from(name, "base64");
  return (d.length ? Buffer.concat([d, Buffer.from("/"), n]) : n).toString("base64");
}

const isUserXattr = (nameB64: string): boolean => Buffer.from(nameB64, "base64").toString("latin1").startsWith("user.");
