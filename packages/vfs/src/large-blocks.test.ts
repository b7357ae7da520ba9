import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "@erofs-ts/testkit";
import { mount } from "./index.js";

/**
 * Blocks larger than a 4 KiB page (fixtures/make-large-blocks.sh): mkfs.erofs makes them
 * for systems with 16 KiB or 64 KiB pages, whose kernels mount them; this machine's kernel
 * refuses them (a block may not exceed its page), so there is no kernel manifest here and
 * the files are rebuilt as that script writes them.
 */
const fixtures = join(repoRoot(), "fixtures");

/** The files of the images' tree, as fixtures/make-large-blocks.sh writes them. */
function expectedTree(): Map<string, Buffer> {
  const lines = Array.from({ length: 30000 }, (_, i) => `line ${i + 1}\n`).join("");
  const random = Buffer.alloc(90001);
  let x = 1;
  for (let i = 0; i < random.length; i++) {
    // x * 1103515245 + 12345 mod 2^31, in 32-bit arithmetic (the product exceeds 2^53).
    x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff;
    random[i] = (x >> 16) & 255;
  }
  return new Map([
    ["lines.txt", Buffer.from(lines)],
    ["random.bin", random],
    ["small.txt", Buffer.from("a tail only\n".repeat(3))],
    ["dir/nested.txt", Buffer.from("nested\n".repeat(2500))],
  ]);
}

describe("images with blocks larger than a page", () => {
  for (const [image, blockSize] of [
    ["large-blocks-16k-lzma.erofs", 16384],
    ["large-blocks-64k-lz4hc.erofs", 65536],
  ] as const) {
    it(`fixtures/${image}: every file's bytes, read whole and in reads that straddle pages and blocks`, async () => {
      const fs = await mount(join(fixtures, image));
      try {
        expect(fs.superblock.blockSize).toBe(blockSize);
        expect(fs.statfs().bsize).toBe(blockSize);
        const names = (await fs.readdir(await fs.root())).map((e) => Buffer.from(e.name).toString()).sort();
        expect(names).toEqual(["dir", "lines.txt", "random.bin", "small.txt"]);
        for (const [path, want] of expectedTree()) {
          const inode = await fs.lookup(path);
          expect(fs.stat(inode).size).toBe(want.length);
          expect(Buffer.from(await fs.read(inode, 0, want.length)).equals(want)).toBe(true);
          // 5,000-byte reads from an odd offset, each checked on its own.
          for (let at = 1234; at < want.length; at += 5000) {
            const got = Buffer.from(await fs.read(inode, at, 5000));
            expect(got.equals(want.subarray(at, at + 5000))).toBe(true);
          }
        }
      } finally {
        await fs.unmount();
      }
    });
  }
});
