import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { inodeLocation } from "@erofs-ts/format";
import { repoRoot, resealSuperblock } from "@erofs-ts/testkit";
import { ErofsError, mount } from "./index.js";

/**
 * iget parses an inode whose metadata block is cached without a suspension (metadata.ts,
 * igetInMemory). Damaged bytes there must still fail as a read of them fails: a rejected
 * promise with the parser's typed error, every time (nothing cached), never a throw.
 */
describe("iget of an inode in a cached block", () => {
  it("answers a sound inode as a fresh mount does, and rejects a damaged one with its error, every time", async () => {
    const image = readFileSync(join(repoRoot(), "fixtures/demo.erofs"));
    const fs = await mount(image);
    const root = await fs.root();
    const entries = await fs.readdir(root);
    const hello = entries.find((e) => Buffer.from(e.name).toString() === "hello.txt")!;
    const sound = await fs.iget(hello.nid);
    await fs.unmount();

    // Unknown i_format bits in hello.txt's inode, which lies in the root's block: the
    // block is cached (the root was read at mount) when iget parses it.
    const { offset } = inodeLocation(fs.superblock, hello.nid);
    expect(Math.floor(offset / fs.superblock.blockSize)).toBe(Math.floor(inodeLocation(fs.superblock, root.nid).offset / fs.superblock.blockSize));
    const damaged = Buffer.from(image);
    damaged[offset + 1]! |= 0x80;
    // The demo's inodes share the superblock's block, which its checksum covers.
    const broken = await mount(resealSuperblock(damaged));
    try {
      await broken.root();
      const failures: string[] = [];
      for (let i = 0; i < 2; i++) {
        let call: Promise<unknown> | undefined;
        expect(() => (call = broken.iget(hello.nid))).not.toThrow();
        const e = await call!.then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(ErofsError.isInstance(e)).toBe(true);
        failures.push(`${(e as ErofsError).code}: ${(e as ErofsError).message}`);
      }
      expect(failures[0]).toMatch(/^EOPNOTSUPP: unknown i_format/);
      expect(failures[1]).toBe(failures[0]);
      // Its neighbours read as before.
      const again = await broken.iget(entries.find((e) => e.nid !== hello.nid)!.nid);
      expect(again.nid).not.toBe(hello.nid);
    } finally {
      await broken.unmount();
    }
    expect(sound.size).toBe(readFileSync(join(repoRoot(), "fixtures/demo-src/hello.txt")).length);
  });
});
