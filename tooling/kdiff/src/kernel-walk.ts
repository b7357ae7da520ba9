import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, lstatSync, mkdtempSync, opendirSync, openSync, readSync, readlinkSync, rmdirSync, type BigIntStats } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileTypeOfMode } from "@erofs-ts/testkit";
import { hold } from "./cleanup.js";
import { probeHost } from "./host-probe.js";
import { b64, errnoName, readRanges, shortHash, type WalkEntry, type WalkResult } from "./walk.js";

/**
 * Mounts `image` with the kernel's erofs (read-only; `device` as an extra device, the
 * kernel's `device=`) and walks it. The image and the device each get a loop device of
 * their own (`losetup -f --show`): the kernel takes an extra device only as a block
 * device, and a second mount of one block device would get the first's superblock. The
 * mount and the loops are undone in finally blocks, and by cleanup.ts on a signal.
 */
export function walkKernel(image: string, device: string | null): WalkResult {
  const dir = mkdtempSync(join(tmpdir(), "erofs-kdiff-mnt-"));
  const undoDir = hold(() => rmdirSync(dir));
  const undoLoops: (() => void)[] = [];
  const attach = (file: string): string => {
    // stderr kept: losetup warns about a blob under 512 bytes, which the kernel takes anyway.
    const loop = execFileSync("losetup", ["-f", "--show", "-r", file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
    undoLoops.push(hold(() => execFileSync("losetup", ["-d", loop], { stdio: "ignore" })));
    return loop;
  };
  try {
    const options = ["ro"];
    if (device) options.push(`device=${attach(device)}`);
    const loop = attach(image);
    try {
      execFileSync("mount", ["-t", "erofs", "-o", options.join(","), loop, dir], { stdio: "pipe" });
    } catch (e) {
      return { mountError: String((e as { stderr?: Buffer }).stderr ?? e).trim(), entries: [] };
    }
    const undoMount = hold(() => execFileSync("umount", [dir], { stdio: "ignore" }));
    try {
      return walkMounted(dir, { fiemap: true });
    } finally {
      undoMount();
    }
  } finally {
    for (const undo of undoLoops.reverse()) undo();
    undoDir();
  }
}

/**
 * The walk itself, of a filesystem mounted at `root` (the kernel's erofs, or an erofs-fuse
 * mount). With `fiemap`, regular files' and directories' extents too (FUSE has no FIEMAP).
 */
export function walkMounted(root: string, { fiemap = false } = {}): WalkResult {
  const entries: WalkEntry[] = [];
  const absPaths: Buffer[] = [];
  const files: [Buffer, WalkEntry][] = [];
  const buf = Buffer.allocUnsafe(1 << 20);
  const visit = (rel: Buffer) => {
    const abs = rel.length ? Buffer.concat([Buffer.from(`${root}/`), rel]) : Buffer.from(root);
    let st: BigIntStats;
    try {
      st = lstatSync(abs, { bigint: true });
    } catch (e) {
      entries.push({ path: b64(rel), lookupError: errnoName(e) });
      return;
    }
    const mode = Number(st.mode);
    const type = fileTypeOfMode(mode);
    const e: WalkEntry = {
      path: b64(rel),
      type,
      perm: mode & 0o7777,
      uid: Number(st.uid),
      gid: Number(st.gid),
      size: String(st.size),
      mtimeNs: String(st.mtimeNs),
      nlink: Number(st.nlink),
      ino: String(st.ino),
      blocks: String(st.blocks),
    };
    entries.push(e);
    absPaths.push(abs);
    if (type === "chardev" || type === "blockdev") e.rdev = splitDev(st.rdev);
    if (type === "symlink") {
      try {
        e.target = b64(readlinkSync(abs, { encoding: "buffer" }));
      } catch (x) {
        e.target = errnoName(x);
      }
    }
    if (type === "file") readFile(abs, rel, Number(st.size), e, buf);
    if (fiemap && (type === "file" || type === "dir")) files.push([abs, e]);
    if (type === "dir") {
      const names = listDirectory(abs);
      e.children = typeof names === "string" ? names : names.map(b64);
      if (typeof names !== "string") for (const n of names) visit(rel.length ? Buffer.concat([rel, Buffer.from("/"), n]) : n);
    }
  };
  visit(Buffer.alloc(0));
  const probe = probeHost(root, absPaths, files.map(([abs]) => abs));
  let i = 0;
  for (const e of entries) if (!e.lookupError) e.xattrs = probe.xattrs[i++]!;
  files.forEach(([, e], j) => (e.extents = probe.extents[j]!));
  const s = probe.statvfs;
  return { statfs: { bsize: s.bsize, blocks: String(s.blocks), files: s.files, ffree: s.ffree, namemax: s.namemax }, entries };
}

/** The names in getdents(2) order (opendir reads it; readdirSync would sort), or the errno name. */
function listDirectory(abs: Buffer): Buffer[] | string {
  const names: Buffer[] = [];
  let d;
  try {
    d = opendirSync(abs as unknown as string, { encoding: "buffer" as BufferEncoding });
  } catch (e) {
    return errnoName(e);
  }
  try {
    for (let ent; (ent = d.readSync()); ) names.push(ent.name as unknown as Buffer);
  } catch (e) {
    return errnoName(e);
  } finally {
    d.closeSync();
  }
  return names;
}

/** Three positional reads, then the whole file's sha256. */
function readFile(abs: Buffer, rel: Buffer, size: number, e: WalkEntry, buf: Buffer): void {
  let fd: number;
  try {
    fd = openSync(abs, "r");
  } catch (x) {
    if (size > 0) e.ranges = errnoName(x);
    e.sha256 = errnoName(x);
    return;
  }
  try {
    if (size > 0) {
      e.ranges = readRanges(rel, size).map(([offset, length]) => {
        try {
          const n = readSync(fd, buf, 0, length, offset);
          return [offset, length, shortHash(buf.subarray(0, n))];
        } catch (x) {
          return [offset, length, errnoName(x)];
        }
      });
    }
    try {
      const h = createHash("sha256");
      for (let pos = 0, n; (n = readSync(fd, buf, 0, buf.length, pos)) > 0; pos += n) h.update(buf.subarray(0, n));
      e.sha256 = h.digest("hex");
    } catch (x) {
      e.sha256 = errnoName(x);
    }
  } finally {
    closeSync(fd);
  }
}

/** glibc's dev_t: major in bits 8..19 and 32..43, minor in bits 0..7 and 20..31. */
function splitDev(rdev: bigint): [number, number] {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return [major, minor];
}
