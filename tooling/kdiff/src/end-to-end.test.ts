import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compareWalks } from "./compare.js";
import { fuseUnavailable, walkFuse } from "./fuse-walk.js";
import { walkKernel } from "./kernel-walk.js";
import { materialise } from "./materialise.js";
import { planMkfs } from "./options.js";
import { planTree } from "./tree.js";
import { walkVfs } from "./vfs-walk.js";

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

const work = mkdtempSync(join(tmpdir(), "erofs-kdiff-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const noFuse = skip ?? fuseUnavailable();
if (!skip && noFuse) console.log(`kdiff end-to-end through erofs-fuse: skipped: ${noFuse}`);

describe.skipIf(skip !== null)("one seed through Debian's mkfs.erofs 1.5, the kernel, the vfs and erofs-fuse", () => {
  it(`seed ${SEED}: the kernel's walk, the vfs's and an erofs-fuse mount's are equal, and the mounts are gone after`, async () => {
    const tree = join(work, "tree");
    materialise(planTree(SEED), tree);
    const plan = planMkfs(SEED, "debian", { hints: join(work, "hints"), blob: join(work, "blob") });
    const image = join(work, "image.erofs");
    const made = spawnSync(MKFS, [...plan.args, image, tree], { encoding: "utf8" });
    expect(made.status, made.stderr).toBe(0);
    const device = plan.blob ? join(work, "blob") : null;

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

    // The walk saw what the seed is for, not an empty image.
    const types = new Set(kernel.entries.map((e) => e.type));
    expect(types.size).toBeGreaterThanOrEqual(5);
    expect(kernel.entries.some((e) => Array.isArray(e.xattrs) && e.xattrs.length > 0)).toBe(true);
    expect(kernel.entries.some((e) => Array.isArray(e.ranges) && e.ranges.length === 3)).toBe(true);
    expect(readFileSync("/proc/mounts", "utf8")).not.toContain("erofs-kdiff-mnt-");
    expect(spawnSync("losetup", ["-j", image], { encoding: "utf8" }).stdout).toBe("");
  });
});
