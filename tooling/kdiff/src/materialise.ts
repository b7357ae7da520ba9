import { spawnSync } from "node:child_process";
import { closeSync, ftruncateSync, linkSync, mkdirSync, openSync, symlinkSync, writeSync } from "node:fs";
import { pathBytes, type BytePath, type TreeNode, type TreePlan } from "./tree.js";

/**
 * Writes a plan under `root` (which must not exist). Node creates directories, files,
 * symlinks and hard links; what Node has no call for (mknod, mkfifo, setxattr, utimes with
 * nanoseconds: its utimes takes a double of seconds, 240 ns apart at today's dates) is done
 * by one Python run over the whole list. Returns how many xattrs the host refused (ext4
 * keeps one block of them per inode): the same ones on every run of the seed.
 */
export function materialise(plan: TreePlan, root: string): { refusedXattrs: number } {
  mkdirSync(root);
  const abs = (p: BytePath): Buffer => (p ? Buffer.concat([Buffer.from(`${root}/`), pathBytes(p)]) : Buffer.from(root));
  const special: [string, string, number, number][] = [];
  for (const n of plan.nodes) {
    if (!n.path) continue;
    switch (n.kind) {
      case "dir":
        mkdirSync(abs(n.path));
        break;
      case "file":
        writeSparse(abs(n.path), n);
        break;
      case "symlink":
        symlinkSync(pathBytes(n.target!), abs(n.path));
        break;
      case "hardlink":
        linkSync(abs(n.target!), abs(n.path));
        break;
      default:
        special.push([b64(n.path), n.kind, n.rdev?.[0] ?? 0, n.rdev?.[1] ?? 0]);
    }
  }
  const xattrs = plan.nodes.flatMap((n) => n.xattrs.map(([name, value]) => [b64(n.path), b64(name), Buffer.from(value).toString("base64")]));
  // Deepest first, so that creating and changing children is done before a directory's
  // mtime is set; the same order every run, so the last of a hard link's settings wins.
  const meta = plan.nodes
    .filter((n) => n.meta)
    .sort((a, b) => depthOf(b.path) - depthOf(a.path) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((n) => [b64(n.path), n.meta!.mode, n.meta!.uid, n.meta!.gid, String(n.meta!.mtimeNs)]);
  const r = spawnSync("/usr/bin/python3", ["-c", APPLY_SCRIPT, root], {
    input: JSON.stringify({ special, xattrs, meta }),
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`writing the tree's metadata failed: ${r.stderr || r.error}`);
  return { refusedXattrs: Number(r.stdout.trim()) };
}

function writeSparse(path: Buffer, node: TreeNode): void {
  const { bytes, holes } = node.file!;
  const fd = openSync(path, "w");
  try {
    let at = 0;
    for (const [start, end] of [...holes, [bytes.length, bytes.length] as const]) {
      if (start > at) writeSync(fd, bytes, at, start - at, at);
      at = end;
    }
    ftruncateSync(fd, bytes.length);
  } finally {
    closeSync(fd);
  }
}

const b64 = (p: BytePath): string => pathBytes(p).toString("base64");
const depthOf = (p: BytePath): number => (p ? p.split("/").length : 0);

/** Special files, xattrs, then owner, mode and ns times; prints the count of refused xattrs. */
const APPLY_SCRIPT = `
import base64, json, os, stat, sys
root = os.fsencode(sys.argv[1])
plan = json.load(sys.stdin)
def at(p):
    rel = base64.b64decode(p)
    return os.path.join(root, rel) if rel else root
KINDS = {"fifo": stat.S_IFIFO | 0o644, "chardev": stat.S_IFCHR | 0o644, "blockdev": stat.S_IFBLK | 0o600}
for p, kind, major, minor in plan["special"]:
    os.mknod(at(p), KINDS[kind], os.makedev(major, minor))
refused = 0
for p, name, value in plan["xattrs"]:
    try:
        os.setxattr(at(p), base64.b64decode(name), base64.b64decode(value), follow_symlinks=False)
    except OSError:
        refused += 1
for p, mode, uid, gid, ns in plan["meta"]:
    path = at(p)
    # chown before chmod: chown clears setuid and setgid bits.
    if uid is not None:
        os.lchown(path, uid, gid)
    if mode is not None:
        os.chmod(path, mode)
    os.utime(path, ns=(int(ns), int(ns)), follow_symlinks=False)
print(refused)
`;
