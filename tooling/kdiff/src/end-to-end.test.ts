import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ScratchDir } from "@erofs-ts/testkit";
import { compareWalks } from "./compare.js";
import { EROFS_CLI, extractUnavailable, walkExtract } from "./extract-walk.js";
import { fuseUnavailable, walkFuse } from "./fuse-walk.js";
import { walkKernel } from "./kernel-walk.js";
import { materialise } from "./materialise.js";
import { planMkfs } from "./options.js";
import { planTree } from "./tree.js";
import { walkVfs } from "./vfs-walk.js";
import type { WalkEntry, WalkResult } from "./walk.js";

const MKFS = process.env.MKFS_DEBIAN ?? "/usr/bin/mkfs.erofs";
/**
 * A seed whose 1.5 image is chunked, with its data on an extra device, and whose tree has
 * every kind of entry, xattrs of every namespace and a wide directory: checked to walk
 * equal on Linux 6.18.
 */
const SEED = Number(process.env.KDIFF_TEST_SEED ?? 20035);

function whyNot(): string | null {
  if (process.getuid?.() !== 0) return "not root";
  if (!existsSync(MKFS)) return `${MKFS} is absent (apt-get install erofs-utils)`;
  if (!/\terofs$/m.test(readFileSync("/proc/filesystems", "utf8"))) return "the kernel has no erofs";
  if (!existsSync("/usr/bin/python3")) return "no /usr/bin/python3";
  return null;
}
const skip = whyNot();
if (skip) console.log(`kdiff end-to-end: skipped: ${skip}`);

const work = new ScratchDir("erofs-kdiff-test-");
afterAll(work.remove);

const noFuse = skip ?? fuseUnavailable();
if (!skip && noFuse) console.log(`kdiff end-to-end through erofs-fuse: skipped: ${noFuse}`);
const noExtract = skip ?? extractUnavailable();
if (!skip && noExtract) console.log(`kdiff end-to-end through erofs-cli extract: skipped: ${noExtract}`);

describe.skipIf(skip !== null)("one seed through Debian's mkfs.erofs 1.5, the kernel, the vfs, erofs-fuse and erofs-cli extract", () => {
  it(`seed ${SEED}: the kernel's walk, the vfs's, an erofs-fuse mount's and an extraction's are equal, and the mounts are gone after`, async () => {
    const tree = join(work.path, "tree");
    materialise(planTree(SEED), tree);
    const plan = planMkfs(SEED, "debian", { hints: join(work.path, "hints"), blob: join(work.path, "blob"), store: join(work.path, "store") });
    const image = join(work.path, "image.erofs");
    const made = spawnSync(MKFS, [...plan.args, image, tree], { encoding: "utf8" });
    expect(made.status, made.stderr).toBe(0);
    const device = plan.blob ? join(work.path, "blob") : null;

    const kernel = walkKernel(image, device);
    const vfs = await walkVfs(image, device);
    expect(kernel.mountError).toBeUndefined();
    expect(compareWalks(kernel, vfs)).toEqual([]);
    if (!noFuse) {
      const fuse = walkFuse(image, device);
      expect(fuse.mountError).toBeUndefined();
      expect(compareWalks(kernel, fuse, "fuse")).toEqual([]);
      expect(readFileSync("/proc/mounts", "utf8")).not.toContain("erofs-kdiff-fuse-");
    }
    if (!noExtract) {
      const extracted = walkExtract(image, device, join(work.path, "extract"));
      expect(extracted.stderr).toEqual([]);
      expect(compareWalks(kernel, extracted, "extract")).toEqual([]);
      // Everything came out: hard links, devices and trusted.* xattrs (restored as root).
      expect(extracted.entries.length).toBe(kernel.entries.length);
      expect(extracted.entries.some((e) => e.type === "file" && e.nlink! > 1)).toBe(true);
      expect(extracted.entries.some((e) => e.type === "chardev" || e.type === "blockdev")).toBe(true);
      expect(extracted.entries.some((e) => Array.isArray(e.xattrs) && e.xattrs.some(([name]) => Buffer.from(name, "base64").toString().startsWith("trusted.")))).toBe(true);
    }

    // The walk saw what the seed is for, not an empty image.
    const types = new Set(kernel.entries.map((e) => e.type));
    expect(types.size).toBeGreaterThanOrEqual(5);
    expect(kernel.entries.some((e) => Array.isArray(e.xattrs) && e.xattrs.length > 0)).toBe(true);
    expect(kernel.entries.some((e) => Array.isArray(e.ranges) && e.ranges.length === 3)).toBe(true);
    expect(readFileSync("/proc/mounts", "utf8")).not.toContain("erofs-kdiff-mnt-");
    expect(spawnSync("losetup", ["-j", image], { encoding: "utf8" }).stdout).toBe("");
  });
});

const MKFS_UPSTREAM = process.env.MKFS_UPSTREAM ?? "/work/peer/erofs-utils/mkfs/mkfs.erofs";
const noUpstream = noExtract ?? (existsSync(MKFS_UPSTREAM) ? null : `${MKFS_UPSTREAM} is absent (set MKFS_UPSTREAM)`);
if (!noExtract && noUpstream) console.log(`kdiff end-to-end, a tar's symlinks through erofs-cli extract: skipped: ${noUpstream}`);

/** Makes `image` from what `python` writes into a fresh directory (its argv[1]) with `mkfs`, then walks it with the kernel and through an extraction. */
function kernelAndExtract(name: string, python: string, mkfs: (dir: string, image: string) => string[]): { image: string; kernel: WalkResult; extracted: WalkResult } {
  const dir = join(work.path, name);
  mkdirSync(dir);
  const made = spawnSync("/usr/bin/python3", ["-c", python, dir], { encoding: "utf8" });
  expect(made.status, made.stderr).toBe(0);
  const image = join(work.path, `${name}.erofs`);
  const [bin, ...args] = mkfs(dir, image);
  const built = spawnSync(bin!, args, { encoding: "utf8" });
  expect(built.status, built.stderr).toBe(0);
  return { image, kernel: walkKernel(image, null), extracted: walkExtract(image, null, join(work.path, `${name}-extract`)) };
}
const named = (w: WalkResult, path: string): WalkEntry => w.entries.find((e) => e.path === Buffer.from(path).toString("base64"))!;

describe.skipIf(noExtract !== null)("erofs-cli extract against the kernel: what a host tree cannot hold, and failures", () => {
  it("sockets: the kernel shows them, extract skips each with one warning, and the walks compare equal", () => {
    const python = `import os, socket, sys
root = sys.argv[1]
os.mkdir(root + '/d')
for p in ('/sock', '/d/sock'): socket.socket(socket.AF_UNIX).bind(root + p)
open(root + '/f', 'w').write('x')`;
    const { kernel, extracted } = kernelAndExtract("sockets", python, (dir, image) => [MKFS, image, dir]);
    expect(kernel.entries.filter((e) => e.type === "socket").map((e) => Buffer.from(e.path, "base64").toString())).toEqual(expect.arrayContaining(["sock", "d/sock"]));
    expect(extracted.entries.some((e) => e.type === "socket")).toBe(false);
    expect(extracted.stderr!.sort()).toEqual(["erofs-cli: d/sock: warning: socket skipped", "erofs-cli: sock: warning: socket skipped"]);
    expect(compareWalks(kernel, extracted, "extract")).toEqual([]);
  });

  it("an extraction that fails is a difference, by its exit status and its stderr", () => {
    const { kernel } = kernelAndExtract("plain", "import sys\nopen(sys.argv[1] + '/f', 'w').write('x')", (dir, image) => [MKFS, image, dir]);
    // A DEST that cannot be made: /proc takes no new directory.
    const failed = walkExtract(join(work.path, "plain.erofs"), null, "/proc/erofs-kdiff-test-dest");
    expect(failed.exitStatus).toBe(1);
    expect(compareWalks(kernel, failed, "extract").map((d) => d.field)).toEqual(expect.arrayContaining(["exit status", "stderr", "entry"]));
    // An image neither can read (no EROFS superblock) is agreement: the CLI names the image, as the kernel's mount fails.
    const zeros = join(work.path, "zeros.erofs");
    writeFileSync(zeros, Buffer.alloc(8192));
    const unreadable = walkExtract(zeros, null, join(work.path, "zeros-extract"));
    expect(unreadable.mountError).toMatch(/^erofs-cli: .*zeros\.erofs: /);
    expect(compareWalks(walkKernel(zeros, null), unreadable, "extract")).toEqual([]);
  });

  it("an inode the kernel refuses (mode 0): extract reports it once, exits 1, and what it wrote compares equal", () => {
    const python = "import os, sys\nos.makedirs(sys.argv[1] + '/d/sub')\nopen(sys.argv[1] + '/d/f', 'w').write('x')";
    const { image } = kernelAndExtract("mode0", python, (dir, img) => [MKFS, img, dir]);
    // The inode's i_mode (bytes 4-5 of a compact or an extended inode, after i_format and
    // i_xattr_icount) zeroed. The inodes share block 0 with the superblock, whose checksum
    // covers the block: the sb_csum feature (bit 0 of feature_compat, superblock byte 8)
    // is cleared so that the mount goes ahead and meets the inode.
    const cli = (...args: string[]) => JSON.parse(spawnSync(process.execPath, [EROFS_CLI, ...args, "--json"], { encoding: "utf8" }).stdout);
    const { blockSize, metaBlkaddr } = cli("info", image);
    const { nid } = cli("stat", image, "d/sub");
    const bytes = readFileSync(image);
    bytes.writeUInt16LE(0, metaBlkaddr * blockSize + nid * 32 + 4);
    bytes.writeUInt32LE(bytes.readUInt32LE(1024 + 8) & ~1, 1024 + 8);
    writeFileSync(image, bytes);
    const kernel = walkKernel(image, null);
    const extracted = walkExtract(image, null, join(work.path, "mode0-broken"));
    expect(named(kernel, "d/sub").lookupError).toBe("EUCLEAN");
    expect(named(kernel, "d").nlink).toBe(3);
    expect(named(extracted, "d/sub")).toBeUndefined();
    expect(extracted.stderr).toHaveLength(1);
    expect(extracted.exitStatus).toBe(1);
    expect(compareWalks(kernel, extracted, "extract")).toEqual([]);
  });

  it.skipIf(noUpstream !== null)("a tar's 0644 symlink and user.* on a symlink and a fifo: the kernel lists them unreadable, the host has neither, and the walks compare equal", () => {
    const python = `import io, sys, tarfile
t = tarfile.open(sys.argv[1] + '/t.tar', 'w', format=tarfile.PAX_FORMAT)
def add(name, type, data=b'', **kw):
    i = tarfile.TarInfo(name); i.type = type; i.mtime = 1700000000; i.size = len(data)
    for k, v in kw.items(): setattr(i, k, v)
    t.addfile(i, io.BytesIO(data) if data else None)
add('link', tarfile.SYMTYPE, linkname='file', mode=0o644, pax_headers={'SCHILY.xattr.user.onlink': 'v1', 'SCHILY.xattr.trusted.t': 'v2'})
add('fifo', tarfile.FIFOTYPE, mode=0o640, pax_headers={'SCHILY.xattr.user.onfifo': 'v3'})
add('file', tarfile.REGTYPE, b'abc', mode=0o600, pax_headers={'SCHILY.xattr.user.onfile': 'v4'})
t.close()`;
    const { kernel, extracted } = kernelAndExtract("tar", python, (dir, image) => [MKFS_UPSTREAM, "--tar=f", image, join(dir, "t.tar")]);
    const user = (s: string) => Buffer.from(s).toString("base64");
    expect(named(kernel, "link").perm).toBe(0o644);
    expect(named(kernel, "link").xattrs).toContainEqual([user("user.onlink"), "ENODATA"]);
    expect(named(kernel, "fifo").xattrs).toEqual([[user("user.onfifo"), "ENODATA"]]);
    expect(named(extracted, "link").perm).toBe(0o777);
    expect(extracted.stderr).toEqual([]);
    expect(compareWalks(kernel, extracted, "extract")).toEqual([]);
  });
});
