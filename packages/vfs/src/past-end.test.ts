import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KernelMount, repoRoot, ScratchDir } from "@erofs-ts/testkit";
import { filePaths, kernelAnswers, kernelList, ourAnswers, ourList } from "./file-answers.test-helper.js";
import { mount } from "./index.js";

/**
 * An image cut short: the kernel reads its metadata through the block device's page
 * cache, which holds zeros past the device's end, so inodes, xattrs and inline data there
 * read as zeros rather than fail; the vfs reads them so too, and fsck reports the cut.
 */
const work = new ScratchDir("vfs-past-end-");
afterAll(work.remove);

describe("metadata past the end of the image", () => {
  const image = join(repoRoot(), "fixtures/xattrs.erofs");
  // Cut inside the inode table, a little past a 512-byte sector's start: the bytes after
  // the last whole sector are not on the kernel's loop device either.
  const cut = (bytes: Buffer) => bytes.subarray(0, Math.floor(bytes.length * 0.7) + 93);

  it.skipIf(process.getuid?.() !== 0)("fixtures/xattrs cut to 70%: each file's content and xattr names as on a kernel mount", async () => {
    const fs = await mount(image);
    const paths = await filePaths(fs, await fs.root());
    await fs.unmount();
    const damaged = join(work.path, "cut.erofs");
    writeFileSync(damaged, cut(readFileSync(image)));

    const theirs = kernelAnswers(damaged, paths);
    expect(await ourAnswers(damaged, paths)).toEqual(theirs);
    const k = KernelMount.tryMount(damaged)!;
    try {
      for (const path of paths.map((p) => p.toString())) expect(`${path}: ${await ourList(damaged, path)}`).toBe(`${path}: ${kernelList(join(k.dir, path))}`);
    } finally {
      k.unmount();
    }
    // Some inodes past the cut read as zeros, which the kernel refuses (mode 0): not all pass.
    expect(theirs.filter((line) => / [0-9a-f]{64}$/.test(line)).length).toBeLessThan(paths.length);
  });

  it("cut inside the superblock's block: the checksum sums zeros past the cut, as the kernel's does, and the image mounts and reads as on a kernel mount", async () => {
    const original = readFileSync(join(repoRoot(), "fixtures/demo.erofs"));
    // The cut keeps 2048 bytes as whole sectors (and 93 the loop device drops); the
    // superblock's block is zero after them, so the stored checksum still holds.
    const cutAt = 2048 + 93;
    expect(original.subarray(2048, 4096).every((b) => b === 0)).toBe(true);
    const damaged = join(work.path, "cut-superblock.erofs");
    writeFileSync(damaged, original.subarray(0, cutAt));
    const fs = await mount(damaged);
    const paths = await filePaths(fs, await fs.root());
    expect(fs.metadataReadsPastEnd).toBeGreaterThan(0);
    await fs.unmount();
    expect(paths.length).toBeGreaterThan(0);
    if (process.getuid?.() !== 0) return;
    expect(await ourAnswers(damaged, paths)).toEqual(kernelAnswers(damaged, paths));
  });

  it("erofs-cli fsck counts the reads past the end as an error", () => {
    const damaged = join(work.path, "cut-fsck.erofs");
    writeFileSync(damaged, cut(readFileSync(image)));
    const cli = join(repoRoot(), "apps/cli/dist/main.js");
    const r = spawnSync(process.execPath, [cli, "fsck", damaged], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/erofs-cli: \/: \d+ metadata reads past the end of the image \(read as zeros\)/);
  });
});
