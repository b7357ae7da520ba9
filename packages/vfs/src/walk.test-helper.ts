import { createHash } from "node:crypto";
import type { ErofsFs, Inode } from "./index.js";
import { compareEntry, nameBytes, type CompareOptions, type ManifestEntry, type Observed } from "@erofs-ts/testkit";

const decoder = new TextDecoder("utf-8", { fatal: false });

/** What the vfs reports for one inode, in the manifest's terms (content hashed unless told not to). */
export async function observe(fs: ErofsFs, inode: Inode, withContent: boolean): Promise<Observed> {
  const s = fs.stat(inode);
  const o: Observed = {
    type: s.type,
    perm: s.perm,
    uid: s.uid,
    gid: s.gid,
    size: s.size,
    mtime_ns: s.mtimeNs,
    nlink: s.nlink,
    ino: s.ino,
  };
  if (s.type === "chardev" || s.type === "blockdev") o.rdev = [s.rdevMajor, s.rdevMinor];
  if (s.type === "symlink") o.target = await fs.readlink(inode);
  if (s.type === "dir") o.children = (await fs.readdir(inode)).map((e) => e.name);
  if (s.type === "file" && withContent) {
    const h = createHash("sha256");
    for await (const c of fs.readChunks(inode)) h.update(c);
    o.sha256 = h.digest("hex");
  }
  const xattrs = new Map<string, Uint8Array>();
  // As the manifests' getfattr -d: a listed name whose getxattr fails ENODATA (user.* of
  // a symlink) is left out.
  for (const name of await fs.listxattr(inode)) {
    const value = await fs.findxattr(inode, name);
    if (value) xattrs.set(decoder.decode(name), value);
  }
  o.xattrs = xattrs;
  return o;
}

/** Every manifest entry that the vfs reports differently: "path: field diffs" lines. */
export async function manifestDiffs(
  fs: ErofsFs,
  entries: readonly ManifestEntry[],
  options: CompareOptions = {},
  judge?: (entry: ManifestEntry, got: Observed, diffs: string[]) => string[],
): Promise<string[]> {
  const failures: string[] = [];
  for (const entry of entries) {
    let diffs: string[];
    try {
      const got = await observe(fs, await fs.lookup(nameBytes(entry.path)), true);
      diffs = compareEntry(entry, got, options);
      if (judge) diffs = judge(entry, got, diffs);
    } catch (e) {
      diffs = [String(e)];
    }
    if (diffs.length) failures.push(`${JSON.stringify(entry.path)}: ${diffs.join("; ")}`);
  }
  return failures;
}

/**
 * Every entry under the root, depth-first in readdir order, with its path (the names'
 * bytes as latin1, `/`-joined, no leading `/`): the readdir and iget of each, as `ls -R`
 * or a path walk reads them.
 */
export async function eachEntry(fs: ErofsFs, visit: (path: string, inode: Inode) => void): Promise<void> {
  const walk = async (dir: Inode, prefix: string): Promise<void> => {
    for (const e of await fs.readdir(dir)) {
      const inode = await fs.iget(e.nid);
      const path = `${prefix}${Buffer.from(e.name).toString("latin1")}`;
      visit(path, inode);
      if (inode.kind === "dir") await walk(inode, `${path}/`);
    }
  };
  await walk(await fs.root(), "");
}
