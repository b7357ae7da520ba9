import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inflateRawSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { COMPRESSION } from "@erofs-ts/format";
import { CORPUS_ABSENT, ensureCorpus, KernelMount, ScratchDir } from "@erofs-ts/testkit";
import { compressedFile } from "./file-answers.test-helper.js";
import { mount } from "./index.js";

/**
 * The kernel's DEFLATE decoder takes a stream that ends in the last page of the output it
 * was asked for, leaving the rest of that page stale; the pages before it read as they
 * should. Found by the kernel-differential run (real-image mutant 530011): a damaged
 * packed-inode pcluster ending one byte short failed 29 files here, which a kernel mount
 * reads whole (bar that one byte, in one of them).
 */
const corpus = ensureCorpus();
if (!corpus) console.log(CORPUS_ABSENT);
const work = new ScratchDir("vfs-deflate-short-");
afterAll(work.remove);

describe.skipIf(!corpus || process.getuid?.() !== 0)("a DEFLATE stream ending short of its extent", () => {
  it("corpus/libdeflate with a bit flipped in log.txt's first pcluster (fuzz mutant 521393): its stream now ends 2 bytes short, in the extent's last page, and the file reads as on a kernel mount, those 2 bytes as zeros, counted for fsck", async () => {
    const image = join(corpus!, "libdeflate.erofs");
    const bytes = readFileSync(image);
    const { file, map } = await compressedFile(bytes, "log.txt");
    const first = await map(0);
    expect([first.kind, first.algorithm, first.logical]).toEqual(["encoded", COMPRESSION.DEFLATE, 0]);
    // The mutant's flip: bit 6 of byte 0x375c, inside that pcluster's stream.
    const at = 0x375c;
    expect(at).toBeGreaterThanOrEqual(first.physical);
    expect(at).toBeLessThan(first.physical + first.physicalLength);
    const damagedBytes = Buffer.from(bytes);
    damagedBytes[at] = damagedBytes[at]! ^ 0x40;
    const damaged = join(work.path, "log-flipped.erofs");
    writeFileSync(damaged, damagedBytes);
    // What zlib makes of the damaged stream (leading zeros are the pcluster's padding):
    // whole, and 2 bytes short of the extent, ending in its last page.
    const pcluster = damagedBytes.subarray(first.physical, first.physical + first.physicalLength);
    const zlibs = inflateRawSync(pcluster.subarray(pcluster.findIndex((b) => b !== 0)));
    expect(zlibs.length).toBe(first.length - 2);
    expect(Math.floor((first.length - 1) / 4096)).toBe(Math.floor((first.length - 3) / 4096));

    const theirs = kernelFile(damaged, "log.txt");
    expect(theirs.length).toBe(file.size);
    const mine = await mount(damaged);
    try {
      const ours = Buffer.from(await mine.read(await mine.lookup("log.txt"), 0, file.size));
      // Every byte but the 2 equals the kernel's; the pcluster's bytes are zlib's.
      expect(ours.subarray(0, zlibs.length).equals(zlibs)).toBe(true);
      expect(ours.subarray(0, zlibs.length).equals(theirs.subarray(0, zlibs.length))).toBe(true);
      expect(ours.subarray(first.length).equals(theirs.subarray(first.length))).toBe(true);
      // The 2 the stream does not give: stale on the kernel, zeros here.
      expect([...ours.subarray(zlibs.length, first.length)]).toEqual([0, 0]);
      expect(mine.shortStreams).toBe(1);
    } finally {
      await mine.unmount();
    }
    const pristine = await mount(image);
    try {
      await pristine.read(await pristine.lookup("log.txt"), 0, file.size);
      expect(pristine.shortStreams).toBe(0);
    } finally {
      await pristine.unmount();
    }
  });
});

/** A file read whole through a kernel mount of `image`. */
function kernelFile(image: string, path: string): Buffer {
  const k = KernelMount.tryMount(image)!;
  try {
    return readFileSync(join(k.dir, path));
  } finally {
    k.unmount();
  }
}
