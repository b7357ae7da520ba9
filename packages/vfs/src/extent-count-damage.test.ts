import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { headerOffset, loadZInfo } from "@erofs-ts/format";
import { repoRoot, ScratchDir, sha256Hex } from "@erofs-ts/testkit";
import { filePaths, kernelAnswersInOrder, ourAnswersInOrder, withSize } from "./file-answers.test-helper.js";
import { mount } from "./index.js";

/**
 * The 48-bit layout's encoded extents with a damaged count. A file whose count reads 0 has
 * no record at or below any byte: the kernel maps it a byte at a time from each page's
 * end, each byte a hole, and reads zeros. Mapped so here too, a fuzz mutant's 88 KB file
 * (742467) took ~2 s and a large file would not end; the vfs takes such a run of holes as
 * one part.
 */
const work = new ScratchDir("vfs-extent-count-");

/** Calls of format's mapCompressed, the vfs's one way to map a byte of an encoded-extents file. */
const maps = vi.hoisted(() => ({ count: 0 }));
vi.mock("@erofs-ts/format", async (importOriginal) => {
  const format = await importOriginal<typeof import("@erofs-ts/format")>();
  const mapCompressed: typeof format.mapCompressed = (...args) => {
    maps.count++;
    return format.mapCompressed(...args);
  };
  return { ...format, mapCompressed };
});
afterAll(work.remove);

describe.skipIf(process.getuid?.() !== 0)("fixtures/bit48-extents-lz4hc with text.txt's extent count zeroed, against the kernel", () => {
  it("text.txt reads as zeros, the other files as they were, as on a kernel mount; grown to 8 MiB it reads so too, mapped a page at a time, not a byte", async () => {
    const original = join(repoRoot(), "fixtures/bit48-extents-lz4hc.erofs");
    const bytes = readFileSync(original);
    const fs = await mount(original);
    const text = await fs.lookup("text.txt");
    const paths = await filePaths(fs, await fs.root());
    // Premise: 16-byte records (a count in the header, searched as the kernel searches it).
    const read = async (offset: number, length: number) => bytes.subarray(offset, offset + length);
    const z = await loadZInfo(text, fs.superblock, read);
    expect([z.encodedExtents, z.extents, (z.advise >> 1) & 3]).toEqual([true, 5, 2]);
    await fs.unmount();

    const zeroed = Buffer.from(bytes);
    zeroed.writeUInt32LE(0, headerOffset(text)); // h_extents_lo
    for (const size of [text.size, 8 << 20]) {
      const damaged = join(work.path, `text-extents-0-${size}.erofs`);
      writeFileSync(damaged, withSize(zeroed, text, size));
      const kernel = kernelAnswersInOrder(damaged, paths);
      expect(kernel).toContain(`text.txt ${sha256Hex([new Uint8Array(size)])}`);
      maps.count = 0;
      expect(await ourAnswersInOrder(damaged, paths)).toEqual(kernel);
      // The other files take a few hundred maps; text.txt one a page (two where a page's
      // first map is a record's), where a byte at a time took one a byte.
      expect(maps.count).toBeLessThan(1000 + 2 * Math.ceil(size / 4096));
    }
  });
});
